// The simulator's market (instruments, rounding, conversion routes) and its injected clock.
#include "trading/sim/market.hpp"
#include "trading/sim/simulated_broker.hpp"

#include <gtest/gtest.h>

namespace permiso::trading::sim {
namespace {

/// Quotes of EURUSD, USDCHF and USDJPY; every other instrument unquoted.
std::vector<Tick> some_ticks(const Market& m) {
  std::vector<Tick> ticks(m.instruments().size());
  auto set = [&](std::string_view symbol, double bid, double ask) {
    ticks[static_cast<std::size_t>(m.find_symbol(symbol))] = Tick{0, bid, ask, 0};
  };
  set("EURUSD", 1.0999, 1.1001);
  set("USDCHF", 0.8999, 0.9001);
  set("USDJPY", 149.99, 150.01);
  return ticks;
}

TEST(SimMarketTest, ConvertsDirectlyInverselyAndThroughUsd) {
  const Market m(default_instruments());
  const int usd = m.currency_id("USD"), eur = m.currency_id("EUR"), chf = m.currency_id("CHF"),
            jpy = m.currency_id("JPY");
  ASSERT_GE(std::min({usd, eur, chf, jpy}), 0);
  const auto ticks = some_ticks(m);
  EXPECT_DOUBLE_EQ(m.rate(eur, usd, ticks), 1.0999);        // × bid of EURUSD
  EXPECT_DOUBLE_EQ(m.rate(usd, eur, ticks), 1.0 / 1.1001);  // ÷ ask of EURUSD
  EXPECT_TRUE(m.convertible(chf, jpy));                     // no CHFJPY: CHF → USD → JPY
  EXPECT_DOUBLE_EQ(m.rate(chf, jpy, ticks), (1.0 / 0.9001) * 149.99);
  EXPECT_EQ(m.rate(usd, usd, ticks), 1.0);
  EXPECT_EQ(m.currency_id("NZD"), -1);
}

TEST(SimMarketTest, RoundsPricesAndChecksVolumesToTheInstrumentsSteps) {
  const Market m(default_instruments());
  const auto& eurusd = m.instruments()[static_cast<std::size_t>(m.find_symbol("EURUSD"))];
  EXPECT_DOUBLE_EQ(eurusd.round_price(1.0850049), 1.08500);
  EXPECT_TRUE(eurusd.volume_ok(0.01));
  EXPECT_TRUE(eurusd.volume_ok(1.23));
  EXPECT_FALSE(eurusd.volume_ok(0.015));  // not a multiple of the 0.01 step
  EXPECT_FALSE(eurusd.volume_ok(0));
  EXPECT_DOUBLE_EQ(eurusd.normalize_volume(0.30000000004), 0.3);
  EXPECT_EQ(m.find_symbol("NOPE"), -1);
}

TEST(SimMarketTest, ACrossMovesWithItsLegsOnlyWhenTheLegsArePrimary) {
  const Market m(default_instruments());
  const auto& eurjpy = m.instruments()[static_cast<std::size_t>(m.find_symbol("EURJPY"))];
  EXPECT_EQ(eurjpy.leg_a, m.find_symbol("EURUSD"));
  EXPECT_EQ(eurjpy.leg_b, m.find_symbol("USDJPY"));
  const auto& eurusd = m.instruments()[static_cast<std::size_t>(m.find_symbol("EURUSD"))];
  EXPECT_EQ(eurusd.leg_a, -1);
}

TEST(SimMarketTest, ForexMarginIsLotsTimesContractOverLeverage) {
  const Market m(default_instruments());
  EXPECT_DOUBLE_EQ(m.margin_of(m.find_symbol("EURUSD"), 0.5, 1.1, 100), 0.5 * 100000 / 100);
}

TEST(SimClockTest, WithoutAStartTimeTheSimulationStartsAtTheInjectedClock) {
  SimOptions options;
  options.clock = std::make_shared<ManualClock>(1'900'000'000);
  const SimulatedBroker broker(options);
  EXPECT_EQ(broker.now(), 1'900'000'000'000);
  EXPECT_EQ(broker.symbol_info_tick("EURUSD")->time_msc, 1'900'000'000'000);
}

}  // namespace
}  // namespace permiso::trading::sim
