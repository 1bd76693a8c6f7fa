// The MT5 vocabulary's names: retcodes as MT5 spells them, order types round-tripping.
#include "trading/model.hpp"

#include <gtest/gtest.h>

namespace permiso::trading {
namespace {

TEST(TradingModel, RetcodesUseMt5Names) {
  EXPECT_EQ(to_string(Retcode::Done), "TRADE_RETCODE_DONE");
  EXPECT_EQ(to_string(Retcode::NoMoney), "TRADE_RETCODE_NO_MONEY");
  EXPECT_EQ(to_string(Retcode::InvalidStops), "TRADE_RETCODE_INVALID_STOPS");
  EXPECT_EQ(to_string(Retcode::PositionClosed), "TRADE_RETCODE_POSITION_CLOSED");
  EXPECT_EQ(static_cast<int>(Retcode::NoMoney), 10019);
  EXPECT_TRUE(is_success(Retcode::Placed));
  EXPECT_FALSE(is_success(Retcode::Requote));
}

TEST(TradingModel, OrderTypesRoundTrip) {
  for (auto t : {OrderType::Buy, OrderType::Sell, OrderType::BuyLimit, OrderType::SellLimit, OrderType::BuyStop,
                 OrderType::SellStop}) {
    EXPECT_EQ(order_type_from_string(to_string(t)), t);
  }
  EXPECT_EQ(to_string(OrderType::SellStop), "sell_stop");
  EXPECT_FALSE(order_type_from_string("BUY").has_value());
  EXPECT_FALSE(order_type_from_string("").has_value());
}

TEST(TradingModel, OtherNames) {
  EXPECT_EQ(to_string(DealReason::StopOut), "stop_out");
  EXPECT_EQ(to_string(OrderState::Canceled), "canceled");
  EXPECT_EQ(to_string(Filling::Ioc), "ioc");
  EXPECT_EQ(to_string(TradeAction::SlTp), "sltp");
  EXPECT_EQ(to_string(PositionType::Sell), "sell");
  EXPECT_EQ(to_string(DealType::Balance), "balance");
  EXPECT_EQ(to_string(DealEntry::Out), "out");
}

}  // namespace
}  // namespace permiso::trading
