// The gateway's own ledger (trading/fix/ledger.hpp): positions replayed from deals, MT5's margin
// formulas, the floating figures, and a balance that counts each deal once.
#include "trading/fix/ledger.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace permiso::trading::fix {
namespace {

constexpr Login kLogin = 7;

Deal trade_deal(Ticket ticket, Ticket position, DealType type, DealEntry entry, double volume, double price,
                double profit = 0) {
  Deal d;
  d.ticket = ticket;
  d.login = kLogin;
  d.position_id = position;
  d.symbol = "EURUSD";
  d.type = type;
  d.entry = entry;
  d.volume = volume;
  d.price = price;
  d.profit = profit;
  d.time_msc = static_cast<TimeMs>(ticket) * 1000;
  return d;
}

Deal deposit(Ticket ticket, double amount) {
  Deal d;
  d.ticket = ticket;
  d.login = kLogin;
  d.type = DealType::Balance;
  d.profit = amount;
  d.time_msc = static_cast<TimeMs>(ticket) * 1000;
  return d;
}

TEST(LedgerReplay, AnInDealOpensAndASecondAddsAtTheWeightedPrice) {
  const auto open = replay_deals({}, {trade_deal(1, 100, DealType::Buy, DealEntry::In, 1.0, 1.1000),
                                      trade_deal(2, 100, DealType::Buy, DealEntry::In, 3.0, 1.1200)});
  ASSERT_EQ(open.size(), 1U);
  EXPECT_EQ(open[0].ticket, 100U);
  EXPECT_EQ(open[0].type, PositionType::Buy);
  EXPECT_DOUBLE_EQ(open[0].volume, 4.0);
  EXPECT_NEAR(open[0].price_open, 1.1150, 1e-12);
  EXPECT_EQ(open[0].time_msc, 1000);
  EXPECT_EQ(open[0].time_update_msc, 2000);
}

TEST(LedgerReplay, OutDealsReduceThenCloseAndASellOpensASell) {
  std::vector<Position> open = replay_deals({}, {trade_deal(1, 100, DealType::Buy, DealEntry::In, 1.0, 1.1)});
  open = replay_deals(open, {trade_deal(2, 100, DealType::Sell, DealEntry::Out, 0.4, 1.2, 40),
                             trade_deal(3, 200, DealType::Sell, DealEntry::In, 0.5, 1.2)});
  ASSERT_EQ(open.size(), 2U);
  EXPECT_NEAR(open[0].volume, 0.6, 1e-12);
  EXPECT_EQ(open[1].ticket, 200U);
  EXPECT_EQ(open[1].type, PositionType::Sell);
  open = replay_deals(open, {trade_deal(4, 100, DealType::Sell, DealEntry::Out, 0.6, 1.2, 60)});
  ASSERT_EQ(open.size(), 1U);
  EXPECT_EQ(open[0].ticket, 200U);
}

TEST(LedgerReplay, ACloseOfAPositionNeverSeenAndBalanceDealsLeaveThePositionsAlone) {
  const auto open =
      replay_deals({}, {trade_deal(5, 300, DealType::Sell, DealEntry::Out, 1.0, 1.1, 12), deposit(6, 1000)});
  EXPECT_TRUE(open.empty());
}

TEST(LedgerReplay, AReducedPositionClosesWithTheProfitRealised) {
  const auto opened = opened_position(std::nullopt, trade_deal(1, 100, DealType::Buy, DealEntry::In, 1.0, 1.1));
  const auto closed = reduced_position(opened, trade_deal(2, 100, DealType::Sell, DealEntry::Out, 1.0, 1.2, 25), 25);
  EXPECT_TRUE(closed.closed);
  EXPECT_DOUBLE_EQ(closed.profit, 25);
  EXPECT_DOUBLE_EQ(closed.volume, 1.0);
  EXPECT_EQ(closed.close_price, 1.2);
  EXPECT_EQ(closed.close_time_msc, 2000);
}

TEST(LedgerMargin, FollowsEachCalculationMode) {
  SymbolInfo s;
  s.contract_size = 100'000;
  Position p;
  p.volume = 0.5;
  p.price_open = 1.2;
  s.margin_mode = MarginMode::Forex;  // lots × contract / leverage, in the margin (base) currency
  EXPECT_DOUBLE_EQ(*position_margin(s, p, 100), 500);
  s.margin_mode = MarginMode::ForexNoLeverage;
  EXPECT_DOUBLE_EQ(*position_margin(s, p, 100), 50'000);
  s.margin_mode = MarginMode::Cfd;  // lots × contract × price
  EXPECT_DOUBLE_EQ(*position_margin(s, p, 100), 60'000);
  s.margin_mode = MarginMode::CfdLeverage;  // and over the leverage
  EXPECT_DOUBLE_EQ(*position_margin(s, p, 100), 600);
  EXPECT_DOUBLE_EQ(*position_margin(s, p, 0), 60'000) << "a leverage of 0 is taken as 1";
  s.margin_mode = MarginMode::ExchangeFutures;  // the exchange's initial margin: not carried over FIX
  EXPECT_FALSE(position_margin(s, p, 100));
}

TEST(LedgerAccount, TheFloatingFiguresFollowTheBalanceProfitAndMargin) {
  AccountInfo a;
  a.balance = 10'000;
  a.credit = 100;
  const auto with = with_floating(a, -12.345, 250.004);
  EXPECT_DOUBLE_EQ(with.profit, -12.35);
  EXPECT_DOUBLE_EQ(with.equity, 10'087.65);
  EXPECT_DOUBLE_EQ(with.margin, 250);
  EXPECT_DOUBLE_EQ(with.margin_free, 9'837.65);
  EXPECT_DOUBLE_EQ(with.margin_level, 4'035.06);
  EXPECT_DOUBLE_EQ(with_floating(a, 0, 0).margin_level, 0) << "no margin used: no level";
}

TEST(LedgerBalance, CountsEachDealOnceHoweverOftenItIsSeen) {
  BalanceBook book;
  EXPECT_FALSE(book.count(kLogin, {deposit(1, 100)})) << "an account never seeded";
  book.seed(kLogin, 0, {});
  EXPECT_EQ(book.count(kLogin, {deposit(1, 10'000)}), 10'000);
  auto close = trade_deal(3, 100, DealType::Sell, DealEntry::Out, 1, 1.2, 25.5);
  close.commission = -3;
  close.swap = -0.5;
  EXPECT_EQ(book.count(kLogin, {close, deposit(1, 10'000)}), 10'022);
  EXPECT_EQ(book.count(kLogin, {close}), 10'022) << "seen already";
  // Out of ticket order (a listing's deal found after a later order's answer): still counted.
  EXPECT_EQ(book.count(kLogin, {trade_deal(2, 101, DealType::Sell, DealEntry::Out, 1, 1.2, -2)}), 10'020);
  auto other = deposit(4, 5);
  other.login = kLogin + 1;
  EXPECT_EQ(book.count(kLogin, {other}), 10'020) << "another account's deal";
  EXPECT_EQ(book.newest_time(kLogin), 3000);
}

TEST(LedgerBalance, ASeededBalanceHoldsItsDealsAndEveryOlderOne) {
  BalanceBook book;
  book.seed(kLogin, 500, {deposit(10, 400), deposit(11, 100)});
  EXPECT_EQ(book.count(kLogin, {deposit(9, 1'000), deposit(11, 100), deposit(12, 7)}), 507);
  EXPECT_EQ(book.balance(kLogin), 507);
}

TEST(LedgerBalance, RemembersABoundedWindowOfTickets) {
  BalanceBook book;
  book.seed(kLogin, 0, {});
  std::vector<Deal> many;
  for (Ticket t = 1; t <= BalanceBook::kRemembered + 10; ++t) many.push_back(deposit(t, 1));
  EXPECT_EQ(book.count(kLogin, many), static_cast<double>(BalanceBook::kRemembered + 10));
  EXPECT_EQ(book.count(kLogin, {deposit(3, 1)}), static_cast<double>(BalanceBook::kRemembered + 10))
      << "a ticket below the window counts as seen";
}

}  // namespace
}  // namespace permiso::trading::fix
