// Names of the MT5 enums: retcodes as MT5 spells them (TRADE_RETCODE_*), the rest as the
// gateway's JSON uses them (lower snake case).
#include "trading/model.hpp"

namespace permiso::trading {

Refusal refusal_of(Retcode r) {
  switch (r) {
    case Retcode::NoMoney:
      return Refusal::InsufficientMargin;
    case Retcode::InvalidVolume:
    case Retcode::InvalidCloseVolume:
      return Refusal::InvalidVolume;
    case Retcode::LimitVolume:
      return Refusal::VolumeLimit;
    case Retcode::InvalidPrice:
      return Refusal::InvalidPrice;
    case Retcode::Requote:
    case Retcode::PriceChanged:
    case Retcode::PriceOff:
      return Refusal::PriceChanged;
    case Retcode::InvalidStops:
      return Refusal::InvalidStops;
    case Retcode::InvalidFill:
      return Refusal::InvalidFilling;
    case Retcode::InvalidExpiration:
    case Retcode::InvalidOrder:
    case Retcode::Invalid:
      return Refusal::InvalidOrder;
    case Retcode::LimitOrders:
    case Retcode::LimitPositions:
      return Refusal::LimitReached;
    case Retcode::MarketClosed:
      return Refusal::MarketClosed;
    case Retcode::TradeDisabled:
      return Refusal::TradeDisabled;
    case Retcode::PositionClosed:
      return Refusal::PositionClosed;
    case Retcode::Locked:
    case Retcode::Frozen:
    case Retcode::OrderChanged:
    case Retcode::CloseOrderExist:
      return Refusal::StateConflict;
    case Retcode::TooManyRequests:
      return Refusal::RateLimited;
    case Retcode::Connection:
      return Refusal::Unreachable;
    case Retcode::Timeout:
      return Refusal::TimedOut;
    case Retcode::NoChanges:
      return Refusal::NoChanges;
    case Retcode::Reject:
    case Retcode::Cancel:
    case Retcode::Error:
    case Retcode::OnlyReal:
    case Retcode::Placed:
    case Retcode::Done:
    case Retcode::DonePartial:
      break;
  }
  return Refusal::Rejected;
}

std::string_view to_string(Retcode r) {
  switch (r) {
    case Retcode::Requote:
      return "TRADE_RETCODE_REQUOTE";
    case Retcode::Reject:
      return "TRADE_RETCODE_REJECT";
    case Retcode::Cancel:
      return "TRADE_RETCODE_CANCEL";
    case Retcode::Placed:
      return "TRADE_RETCODE_PLACED";
    case Retcode::Done:
      return "TRADE_RETCODE_DONE";
    case Retcode::DonePartial:
      return "TRADE_RETCODE_DONE_PARTIAL";
    case Retcode::Error:
      return "TRADE_RETCODE_ERROR";
    case Retcode::Timeout:
      return "TRADE_RETCODE_TIMEOUT";
    case Retcode::Invalid:
      return "TRADE_RETCODE_INVALID";
    case Retcode::InvalidVolume:
      return "TRADE_RETCODE_INVALID_VOLUME";
    case Retcode::InvalidPrice:
      return "TRADE_RETCODE_INVALID_PRICE";
    case Retcode::InvalidStops:
      return "TRADE_RETCODE_INVALID_STOPS";
    case Retcode::TradeDisabled:
      return "TRADE_RETCODE_TRADE_DISABLED";
    case Retcode::MarketClosed:
      return "TRADE_RETCODE_MARKET_CLOSED";
    case Retcode::NoMoney:
      return "TRADE_RETCODE_NO_MONEY";
    case Retcode::PriceChanged:
      return "TRADE_RETCODE_PRICE_CHANGED";
    case Retcode::PriceOff:
      return "TRADE_RETCODE_PRICE_OFF";
    case Retcode::InvalidExpiration:
      return "TRADE_RETCODE_INVALID_EXPIRATION";
    case Retcode::OrderChanged:
      return "TRADE_RETCODE_ORDER_CHANGED";
    case Retcode::TooManyRequests:
      return "TRADE_RETCODE_TOO_MANY_REQUESTS";
    case Retcode::NoChanges:
      return "TRADE_RETCODE_NO_CHANGES";
    case Retcode::Locked:
      return "TRADE_RETCODE_LOCKED";
    case Retcode::Frozen:
      return "TRADE_RETCODE_FROZEN";
    case Retcode::InvalidFill:
      return "TRADE_RETCODE_INVALID_FILL";
    case Retcode::Connection:
      return "TRADE_RETCODE_CONNECTION";
    case Retcode::OnlyReal:
      return "TRADE_RETCODE_ONLY_REAL";
    case Retcode::LimitOrders:
      return "TRADE_RETCODE_LIMIT_ORDERS";
    case Retcode::LimitVolume:
      return "TRADE_RETCODE_LIMIT_VOLUME";
    case Retcode::InvalidOrder:
      return "TRADE_RETCODE_INVALID_ORDER";
    case Retcode::PositionClosed:
      return "TRADE_RETCODE_POSITION_CLOSED";
    case Retcode::InvalidCloseVolume:
      return "TRADE_RETCODE_INVALID_CLOSE_VOLUME";
    case Retcode::CloseOrderExist:
      return "TRADE_RETCODE_CLOSE_ORDER_EXIST";
    case Retcode::LimitPositions:
      return "TRADE_RETCODE_LIMIT_POSITIONS";
  }
  return "TRADE_RETCODE_UNKNOWN";
}

std::string_view to_string(OrderType t) {
  switch (t) {
    case OrderType::Buy:
      return "buy";
    case OrderType::Sell:
      return "sell";
    case OrderType::BuyLimit:
      return "buy_limit";
    case OrderType::SellLimit:
      return "sell_limit";
    case OrderType::BuyStop:
      return "buy_stop";
    case OrderType::SellStop:
      return "sell_stop";
  }
  return "unknown";
}

std::optional<OrderType> order_type_from_string(std::string_view s) {
  for (auto t : {OrderType::Buy, OrderType::Sell, OrderType::BuyLimit, OrderType::SellLimit, OrderType::BuyStop,
                 OrderType::SellStop}) {
    if (to_string(t) == s) return t;
  }
  return std::nullopt;
}

std::string_view to_string(OrderState s) {
  switch (s) {
    case OrderState::Started:
      return "started";
    case OrderState::Placed:
      return "placed";
    case OrderState::Canceled:
      return "canceled";
    case OrderState::Partial:
      return "partial";
    case OrderState::Filled:
      return "filled";
    case OrderState::Rejected:
      return "rejected";
    case OrderState::Expired:
      return "expired";
  }
  return "unknown";
}

std::string_view to_string(DealReason r) {
  switch (r) {
    case DealReason::Client:
      return "client";
    case DealReason::Mobile:
      return "mobile";
    case DealReason::Web:
      return "web";
    case DealReason::Expert:
      return "expert";
    case DealReason::Sl:
      return "sl";
    case DealReason::Tp:
      return "tp";
    case DealReason::StopOut:
      return "stop_out";
  }
  return "unknown";
}

std::string_view to_string(Filling f) {
  switch (f) {
    case Filling::Fok:
      return "fok";
    case Filling::Ioc:
      return "ioc";
    case Filling::Return:
      return "return";
  }
  return "unknown";
}

std::string_view to_string(TradeAction a) {
  switch (a) {
    case TradeAction::Deal:
      return "deal";
    case TradeAction::Pending:
      return "pending";
    case TradeAction::SlTp:
      return "sltp";
    case TradeAction::Modify:
      return "modify";
    case TradeAction::Remove:
      return "remove";
    case TradeAction::CloseBy:
      return "close_by";
  }
  return "unknown";
}

std::string_view to_string(PositionType t) {
  return t == PositionType::Buy ? "buy" : "sell";
}

std::string_view to_string(DealType t) {
  switch (t) {
    case DealType::Buy:
      return "buy";
    case DealType::Sell:
      return "sell";
    case DealType::Balance:
      return "balance";
  }
  return "unknown";
}

std::string_view to_string(DealEntry e) {
  return e == DealEntry::In ? "in" : "out";
}

std::string_view to_string(MarginMode m) {
  switch (m) {
    case MarginMode::Forex:
      return "forex";
    case MarginMode::Futures:
      return "futures";
    case MarginMode::Cfd:
      return "cfd";
    case MarginMode::CfdIndex:
      return "cfd_index";
    case MarginMode::CfdLeverage:
      return "cfd_leverage";
    case MarginMode::ForexNoLeverage:
      return "forex_no_leverage";
    case MarginMode::ExchangeStocks:
      return "exchange_stocks";
    case MarginMode::ExchangeFutures:
      return "exchange_futures";
    case MarginMode::ExchangeFuturesForts:
      return "exchange_futures_forts";
    case MarginMode::ExchangeBonds:
      return "exchange_bonds";
    case MarginMode::ExchangeStocksMoex:
      return "exchange_stocks_moex";
    case MarginMode::ExchangeBondsMoex:
      return "exchange_bonds_moex";
    case MarginMode::Collateral:
      return "collateral";
  }
  return "forex";
}

bool is_margin_mode(int value) {
  return (value >= 0 && value <= 5) || (value >= 32 && value <= 34) || (value >= 37 && value <= 39) || value == 64;
}

}  // namespace permiso::trading
