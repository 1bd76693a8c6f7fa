// The simulator's price rules for a trade request (see order_rules.hpp).
#include "trading/sim/order_rules.hpp"

#include <algorithm>
#include <cmath>

namespace permiso::trading::sim {

bool finite_request(const TradeRequest& r) {
  return std::isfinite(r.volume) && std::isfinite(r.price) && std::isfinite(r.sl) && std::isfinite(r.tp);
}

bool is_buy(OrderType t) {
  return t == OrderType::Buy || t == OrderType::BuyLimit || t == OrderType::BuyStop;
}

bool far_enough(double distance_price, const SymbolInfo& s) {
  const double points = distance_price / s.point;
  return points >= static_cast<double>(std::max(s.stops_level, 1)) - kEps;
}

bool pending_price_ok(OrderType type, double price, const Tick& tick, const SymbolInfo& s) {
  switch (type) {
    case OrderType::BuyLimit:
      return far_enough(tick.ask - price, s);
    case OrderType::SellLimit:
      return far_enough(price - tick.bid, s);
    case OrderType::BuyStop:
      return far_enough(price - tick.ask, s);
    case OrderType::SellStop:
      return far_enough(tick.bid - price, s);
    default:
      return false;
  }
}

bool stops_ok(bool buy, double ref, double sl, double tp, const SymbolInfo& s) {
  if (sl < 0 || tp < 0) return false;
  if (buy) {
    if (sl != 0 && !far_enough(ref - sl, s)) return false;
    if (tp != 0 && !far_enough(tp - ref, s)) return false;
  } else {
    if (sl != 0 && !far_enough(sl - ref, s)) return false;
    if (tp != 0 && !far_enough(ref - tp, s)) return false;
  }
  return true;
}

}  // namespace permiso::trading::sim
