// The simulator's instruments: MT5 symbol specifications as retail MT5 brokers publish them,
// plus the parameters of each quote model (starting price, typical spread, volatility).
#pragma once

#include "trading/model.hpp"

#include <string>
#include <vector>

namespace permiso::trading::sim {

struct InstrumentSpec {
  SymbolInfo info;
  double start_mid = 0;      // the mid price the model starts from
  double spread_points = 0;  // typical spread, in points; each tick's spread varies around it
  double volatility = 0;     // annualised σ of the geometric Brownian motion (0.07 = 7 %)
  /// A cross rate derived from two legs so triangular arbitrage never appears:
  /// mid = leg_a × leg_b (legs_multiply) or leg_a / leg_b. Empty legs: its own process.
  std::string leg_a;
  std::string leg_b;
  bool legs_multiply = false;
};

/// EURUSD, GBPUSD, USDJPY, USDCHF, AUDUSD, USDCAD, EURGBP, EURJPY, XAUUSD, XAGUSD, US500,
/// US30, BTCUSD, ETHUSD. Forex pairs: 100,000 units per lot, margin in the base currency
/// (SYMBOL_CALC_MODE_FOREX). Metals, indices and crypto: CFD leverage mode with margin in
/// USD; XAUUSD 100 oz, XAGUSD 5,000 oz, US500/US30 cash CFDs at 1 USD per index point per lot
/// (the common retail MT5 contract, not the CME 50 USD multiplier), BTCUSD/ETHUSD 1 coin.
std::vector<InstrumentSpec> default_instruments();

}  // namespace permiso::trading::sim
