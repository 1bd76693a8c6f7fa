// Default instrument specifications: see instruments.hpp. Prices are representative
// starting levels, spreads typical retail ECN-plus-markup spreads, volatilities long-run
// annualised figures.
#include "trading/sim/instruments.hpp"

#include <cmath>

namespace permiso::trading::sim {
namespace {

struct Row {
  const char* name;
  const char* description;
  const char* base;
  const char* profit;
  const char* margin;
  int digits;
  double contract_size;
  double volume_min;
  double volume_max;
  double volume_step;
  int stops_level;
  MarginMode mode;
  double start_mid;
  double spread_points;
  double volatility;
  const char* leg_a;
  const char* leg_b;
  bool legs_multiply;
};

constexpr Row kRows[] = {
    {"EURUSD", "Euro vs US Dollar", "EUR", "USD", "EUR", 5, 100000, 0.01, 100, 0.01, 10, MarginMode::Forex, 1.08500, 8,
     0.07, "", "", false},
    {"GBPUSD", "Great Britain Pound vs US Dollar", "GBP", "USD", "GBP", 5, 100000, 0.01, 100, 0.01, 10,
     MarginMode::Forex, 1.27000, 12, 0.08, "", "", false},
    {"USDJPY", "US Dollar vs Japanese Yen", "USD", "JPY", "USD", 3, 100000, 0.01, 100, 0.01, 10, MarginMode::Forex,
     150.000, 10, 0.09, "", "", false},
    {"USDCHF", "US Dollar vs Swiss Franc", "USD", "CHF", "USD", 5, 100000, 0.01, 100, 0.01, 10, MarginMode::Forex,
     0.88000, 14, 0.07, "", "", false},
    {"AUDUSD", "Australian Dollar vs US Dollar", "AUD", "USD", "AUD", 5, 100000, 0.01, 100, 0.01, 10, MarginMode::Forex,
     0.66000, 10, 0.10, "", "", false},
    {"USDCAD", "US Dollar vs Canadian Dollar", "USD", "CAD", "USD", 5, 100000, 0.01, 100, 0.01, 10, MarginMode::Forex,
     1.36000, 15, 0.06, "", "", false},
    {"EURGBP", "Euro vs Great Britain Pound", "EUR", "GBP", "EUR", 5, 100000, 0.01, 100, 0.01, 10, MarginMode::Forex,
     0.85433, 14, 0.06, "EURUSD", "GBPUSD", false},
    {"EURJPY", "Euro vs Japanese Yen", "EUR", "JPY", "EUR", 3, 100000, 0.01, 100, 0.01, 10, MarginMode::Forex, 162.750,
     18, 0.09, "EURUSD", "USDJPY", true},
    {"XAUUSD", "Gold vs US Dollar", "XAU", "USD", "USD", 2, 100, 0.01, 50, 0.01, 20, MarginMode::CfdLeverage, 2350.00,
     25, 0.15, "", "", false},
    {"XAGUSD", "Silver vs US Dollar", "XAG", "USD", "USD", 3, 5000, 0.01, 50, 0.01, 20, MarginMode::CfdLeverage, 28.000,
     25, 0.28, "", "", false},
    {"US500", "US 500 Cash Index", "USD", "USD", "USD", 2, 1, 0.1, 100, 0.1, 50, MarginMode::CfdLeverage, 5200.00, 50,
     0.18, "", "", false},
    {"US30", "Wall Street 30 Cash Index", "USD", "USD", "USD", 2, 1, 0.1, 100, 0.1, 100, MarginMode::CfdLeverage,
     39000.00, 200, 0.16, "", "", false},
    {"BTCUSD", "Bitcoin vs US Dollar", "BTC", "USD", "USD", 2, 1, 0.01, 20, 0.01, 1000, MarginMode::CfdLeverage,
     65000.00, 2500, 0.60, "", "", false},
    {"ETHUSD", "Ethereum vs US Dollar", "ETH", "USD", "USD", 2, 1, 0.1, 100, 0.1, 100, MarginMode::CfdLeverage, 3500.00,
     250, 0.75, "", "", false},
};

}  // namespace

std::vector<InstrumentSpec> default_instruments() {
  std::vector<InstrumentSpec> out;
  out.reserve(std::size(kRows));
  for (const Row& r : kRows) {
    InstrumentSpec s;
    s.info.name = r.name;
    s.info.description = r.description;
    s.info.currency_base = r.base;
    s.info.currency_profit = r.profit;
    s.info.currency_margin = r.margin;
    s.info.digits = r.digits;
    s.info.point = std::pow(10.0, -r.digits);
    s.info.contract_size = r.contract_size;
    s.info.volume_min = r.volume_min;
    s.info.volume_max = r.volume_max;
    s.info.volume_step = r.volume_step;
    s.info.stops_level = r.stops_level;
    s.info.margin_mode = r.mode;
    s.info.trade_allowed = true;
    s.start_mid = r.start_mid;
    s.spread_points = r.spread_points;
    s.volatility = r.volatility;
    s.leg_a = r.leg_a;
    s.leg_b = r.leg_b;
    s.legs_multiply = r.legs_multiply;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace permiso::trading::sim
