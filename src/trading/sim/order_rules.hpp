// The simulator's price rules for a trade request: how far a pending order's price and an
// SL/TP must stand from the market (the stops level), and the side of an order type.
#pragma once

#include "trading/model.hpp"
#include "trading/sim/market.hpp"

namespace permiso::trading::sim {

/// Every number of the request is finite (no NaN or infinity reaches the arithmetic).
bool finite_request(const TradeRequest& r);

/// A buy or a buy pending order.
bool is_buy(OrderType t);

/// `distance_price` keeps at least the stops level, and at least one point (so a stop never
/// sits on the price).
bool far_enough(double distance_price, const SymbolInfo& s);

/// A pending order's price stands far enough on its side of the market: limits below the ask
/// (buy) or above the bid (sell), stops beyond them.
bool pending_price_ok(OrderType type, double price, const Tick& tick, const SymbolInfo& s);

/// SL/TP of a buy (`buy`) or sell measured from `ref` (the closing price side, or a pending
/// order's price). 0 means none.
bool stops_ok(bool buy, double ref, double sl, double tp, const SymbolInfo& s);

}  // namespace permiso::trading::sim
