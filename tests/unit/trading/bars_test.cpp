// OHLC bars from a known tick sequence: bid-based OHLC, tick volume, timeframe alignment,
// newest-last rates with start_pos, bounded history, late ticks ignored, history loaded
// beneath live bars.
#include "trading/bars.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <thread>
#include <vector>

namespace permiso::trading {
namespace {

Tick tick(TimeMs t, double bid) {
  return Tick{t, bid, bid + 0.0001, 0};
}

TEST(BarBuilder, TimeframeNames) {
  EXPECT_EQ(to_string(Timeframe::H4), "H4");
  EXPECT_EQ(timeframe_from_string("M15"), Timeframe::M15);
  EXPECT_FALSE(timeframe_from_string("m1").has_value());
  EXPECT_FALSE(timeframe_from_string("W1").has_value());
  EXPECT_EQ(timeframe_ms(Timeframe::D1), 86'400'000);
}

TEST(BarBuilder, OhlcAndTickVolumeFromKnownTicks) {
  BarBuilder b;
  const TimeMs m = 1'700'000'040'000 - (1'700'000'040'000 % 300'000);  // a 5-minute boundary
  // minute 0: 1.1000, 1.1010, 1.0990, 1.1005 ; minute 1: 1.1020, 1.1015 ; minute 3: 1.1030
  b.on_tick("EURUSD", tick(m + 0, 1.1000));
  b.on_tick("EURUSD", tick(m + 10'000, 1.1010));
  b.on_tick("EURUSD", tick(m + 20'000, 1.0990));
  b.on_tick("EURUSD", tick(m + 59'999, 1.1005));
  b.on_tick("EURUSD", tick(m + 60'000, 1.1020));
  b.on_tick("EURUSD", tick(m + 90'000, 1.1015));
  b.on_tick("EURUSD", tick(m + 180'500, 1.1030));

  auto m1 = b.rates("EURUSD", Timeframe::M1, 10);
  ASSERT_EQ(m1.size(), 3u);  // no bar for the minute without ticks
  EXPECT_EQ(m1[0], (Bar{m, 1.1000, 1.1010, 1.0990, 1.1005, 4}));
  EXPECT_EQ(m1[1], (Bar{m + 60'000, 1.1020, 1.1020, 1.1015, 1.1015, 2}));
  EXPECT_EQ(m1[2], (Bar{m + 180'000, 1.1030, 1.1030, 1.1030, 1.1030, 1}));

  auto m5 = b.rates("EURUSD", Timeframe::M5, 10);
  ASSERT_EQ(m5.size(), 1u);
  EXPECT_EQ(m5[0], (Bar{m, 1.1000, 1.1030, 1.0990, 1.1030, 7}));

  // newest last; count and start_pos as copy_rates_from_pos
  auto last2 = b.rates("EURUSD", Timeframe::M1, 2);
  ASSERT_EQ(last2.size(), 2u);
  EXPECT_EQ(last2[1].time_msc, m + 180'000);
  auto from1 = b.rates("EURUSD", Timeframe::M1, 1, 1);
  ASSERT_EQ(from1.size(), 1u);
  EXPECT_EQ(from1[0].time_msc, m + 60'000);
  EXPECT_TRUE(b.rates("EURUSD", Timeframe::M1, 5, 3).empty());
  EXPECT_TRUE(b.rates("GBPUSD", Timeframe::M1, 5).empty());
  EXPECT_TRUE(b.rates("EURUSD", Timeframe::M1, 0).empty());
}

TEST(BarBuilder, DailyBarsOpenAtMidnightUtc) {
  BarBuilder b;
  const TimeMs day = 19'675LL * 86'400'000;  // 2023-11-14 00:00 UTC
  b.on_tick("XAUUSD", tick(day + 23 * 3'600'000LL, 2000.0));
  b.on_tick("XAUUSD", tick(day + 86'400'000 + 1, 2001.0));
  auto d1 = b.rates("XAUUSD", Timeframe::D1, 5);
  ASSERT_EQ(d1.size(), 2u);
  EXPECT_EQ(d1[0].time_msc, day);
  EXPECT_EQ(d1[1].time_msc, day + 86'400'000);
  auto h4 = b.rates("XAUUSD", Timeframe::H4, 5);
  ASSERT_EQ(h4.size(), 2u);
  EXPECT_EQ(h4[0].time_msc, day + 20 * 3'600'000LL);
}

TEST(BarBuilder, LateAndInvalidTicksAreIgnored) {
  BarBuilder b;
  b.on_tick("EURUSD", tick(120'000, 1.2));
  b.on_tick("EURUSD", tick(60'000, 9.9));  // older than the newest M1 bar
  b.on_tick("EURUSD", tick(130'000, -1));
  b.on_tick("EURUSD", Tick{140'000, std::numeric_limits<double>::quiet_NaN(), 1, 0});
  auto m1 = b.rates("EURUSD", Timeframe::M1, 10);
  ASSERT_EQ(m1.size(), 1u);
  EXPECT_EQ(m1[0], (Bar{120'000, 1.2, 1.2, 1.2, 1.2, 1}));
}

TEST(BarBuilder, HistoryIsBounded) {
  BarBuilder b(3);
  for (int i = 0; i < 10; ++i) b.on_tick("US500", tick(i * 60'000LL, 5000.0 + i));
  EXPECT_EQ(b.size("US500", Timeframe::M1), 3u);
  auto m1 = b.rates("US500", Timeframe::M1, 100);
  ASSERT_EQ(m1.size(), 3u);
  EXPECT_EQ(m1.front().open, 5007.0);
  EXPECT_EQ(m1.back().open, 5009.0);
  EXPECT_EQ(b.symbols(), std::vector<std::string>{"US500"});
}

TEST(BarBuilder, LoadedHistoryGoesBeneathLiveBarsWhichWin) {
  BarBuilder b;
  const TimeMs m = 1'700'000'040'000 - (1'700'000'040'000 % 60'000);
  b.on_tick("EURUSD", tick(m + 120'000, 1.2000));  // the live bar of minute 2
  const std::vector<Bar> history = {Bar{m, 1.1, 1.3, 1.0, 1.2, 7}, Bar{m + 60'000, 1.2, 1.2, 1.1, 1.1, 3},
                                    Bar{m + 120'000, 9.9, 9.9, 9.9, 9.9, 99}};  // minute 2 again
  b.load_history("EURUSD", Timeframe::M1, history);
  auto m1 = b.rates("EURUSD", Timeframe::M1, 10);
  ASSERT_EQ(m1.size(), 3u);
  EXPECT_EQ(m1[0], history[0]);
  EXPECT_EQ(m1[1], history[1]);
  EXPECT_EQ(m1[2], (Bar{m + 120'000, 1.2000, 1.2000, 1.2000, 1.2000, 1}));  // the live bar, not history's
  // Loading it again adds nothing; other timeframes are untouched by an M1 load.
  b.load_history("EURUSD", Timeframe::M1, history);
  EXPECT_EQ(b.size("EURUSD", Timeframe::M1), 3u);
  EXPECT_EQ(b.size("EURUSD", Timeframe::M5), 1u);
  // Ticks after the history extend its newest bar.
  b.on_tick("EURUSD", tick(m + 130'000, 1.2100));
  EXPECT_EQ(b.rates("EURUSD", Timeframe::M1, 1).at(0).high, 1.2100);
}

TEST(BarBuilder, LoadedHistoryKeepsTheBoundAndTheOrder) {
  BarBuilder b(3);
  std::vector<Bar> history;
  for (TimeMs i = 0; i < 5; ++i) history.push_back(Bar{i * 60'000, 1, 1, 1, 1, 1});
  history.push_back(Bar{60'000, 2, 2, 2, 2, 2});  // out of order: skipped
  b.load_history("GBPUSD", Timeframe::M1, history);
  auto m1 = b.rates("GBPUSD", Timeframe::M1, 10);
  ASSERT_EQ(m1.size(), 3u);  // the newest three
  EXPECT_EQ(m1.front().time_msc, 2 * 60'000);
  EXPECT_EQ(m1.back().time_msc, 4 * 60'000);
}

TEST(BarBuilder, ConcurrentFeedAndReads) {
  BarBuilder b(100);
  std::thread feeder([&] {
    for (int i = 0; i < 20'000; ++i) b.on_tick(i % 2 ? "EURUSD" : "GBPUSD", tick(i * 1'000LL, 1.0 + i * 1e-6));
  });
  std::size_t seen = 0;
  for (int i = 0; i < 2'000; ++i) {
    for (const Bar& bar : b.rates("EURUSD", Timeframe::M1, 50)) {
      ASSERT_LE(bar.low, bar.high);
      ++seen;
    }
  }
  feeder.join();
  EXPECT_EQ(b.size("EURUSD", Timeframe::M1), 100u);
  EXPECT_EQ(b.rates("EURUSD", Timeframe::M1, 1).back().tick_volume, 10u);  // the last 20 s of ticks, every other one
  (void)seen;
}

}  // namespace
}  // namespace permiso::trading
