// See market.hpp.
#include "trading/sim/market.hpp"

#include <algorithm>
#include <cmath>

namespace permiso::trading::sim {

double Market::Instrument::round_price(double price) const {
  return std::round(price * pow10) / pow10;
}

bool Market::Instrument::volume_ok(double volume) const {
  const auto& s = spec.info;
  if (!(volume > 0) || !std::isfinite(volume)) return false;
  if (volume < s.volume_min * (1 - 1e-9) || volume > s.volume_max * (1 + 1e-9)) return false;
  const double k = volume / s.volume_step;
  return std::abs(k - std::round(k)) < kEps;
}

double Market::Instrument::normalize_volume(double volume) const {
  return std::round(volume * volume_pow10) / volume_pow10;
}

Market::Market(const std::vector<InstrumentSpec>& specs) {
  usd_ = add_currency("USD");
  for (const auto& spec : specs) {
    if (!symbol_index_.contains(spec.info.name)) add_instrument(spec);
  }
  link_legs();
  build_routes();
}

int Market::add_currency(const std::string& currency) {
  const int id = currency_id(currency);
  if (id >= 0) return id;
  currencies_.push_back(currency);
  return static_cast<int>(currencies_.size() - 1);
}

void Market::add_instrument(const InstrumentSpec& spec) {
  Instrument in;
  in.spec = spec;
  in.base_ccy = add_currency(spec.info.currency_base);
  in.profit_ccy = add_currency(spec.info.currency_profit);
  in.margin_ccy = add_currency(spec.info.currency_margin);
  in.pow10 = std::pow(10.0, spec.info.digits);
  const double volume_decimals = std::max(0.0, std::round(-std::log10(spec.info.volume_step)));
  in.volume_pow10 = std::pow(10.0, volume_decimals);
  symbol_index_.emplace(spec.info.name, static_cast<int>(instruments_.size()));
  instruments_.push_back(std::move(in));
}

/// A cross's legs must be primary instruments; otherwise it moves on its own.
void Market::link_legs() {
  for (auto& in : instruments_) {
    if (in.spec.leg_a.empty()) continue;
    in.leg_a = find_symbol(in.spec.leg_a);
    in.leg_b = find_symbol(in.spec.leg_b);
    if (in.leg_a < 0 || in.leg_b < 0 || instruments_[static_cast<std::size_t>(in.leg_a)].leg_a >= 0 ||
        instruments_[static_cast<std::size_t>(in.leg_b)].leg_a >= 0) {
      in.leg_a = in.leg_b = -1;
    }
  }
}

std::optional<Market::Leg> Market::direct(int from, int to) const {
  for (std::size_t i = 0; i < instruments_.size(); ++i) {
    const auto& in = instruments_[i];
    if (in.base_ccy == in.profit_ccy) continue;
    if (in.base_ccy == from && in.profit_ccy == to) return Leg{static_cast<int>(i), false};
    if (in.base_ccy == to && in.profit_ccy == from) return Leg{static_cast<int>(i), true};
  }
  return std::nullopt;
}

/// Every pair of currencies: directly when an instrument quotes the pair, else through USD.
void Market::build_routes() {
  const std::size_t n = currencies_.size();
  routes_.assign(n * n, Route{});
  for (std::size_t f = 0; f < n; ++f) {
    for (std::size_t t = 0; t < n; ++t) {
      Route& r = routes_[f * n + t];
      const int fi = static_cast<int>(f), ti = static_cast<int>(t);
      if (f == t) {
        r.ok = true;
      } else if (auto d = direct(fi, ti)) {
        r = Route{true, *d, Leg{}};
      } else if (auto a = direct(fi, usd_), b = direct(usd_, ti); a && b) {
        r = Route{true, *a, *b};
      }
    }
  }
}

int Market::find_symbol(std::string_view symbol) const {
  auto it = symbol_index_.find(symbol);
  return it == symbol_index_.end() ? -1 : it->second;
}

int Market::currency_id(std::string_view currency) const {
  for (std::size_t i = 0; i < currencies_.size(); ++i) {
    if (currencies_[i] == currency) return static_cast<int>(i);
  }
  return -1;
}

const Market::Route& Market::route(int from, int to) const {
  return routes_[static_cast<std::size_t>(from) * currencies_.size() + static_cast<std::size_t>(to)];
}

bool Market::convertible(int from, int to) const {
  return route(from, to).ok;
}

double Market::rate(int from, int to, const std::vector<Tick>& ticks) const {
  if (from == to) return 1.0;
  const Route& r = route(from, to);
  auto leg = [&ticks](const Leg& l) {
    if (l.sym < 0) return 1.0;
    const Tick& t = ticks[static_cast<std::size_t>(l.sym)];
    return l.inverse ? 1.0 / t.ask : t.bid;
  };
  return r.ok ? leg(r.a) * leg(r.b) : 0.0;
}

double Market::margin_of(int sym, double volume, double price, int leverage) const {
  const auto& s = instruments_[static_cast<std::size_t>(sym)].spec.info;
  const double lev = std::max(1, leverage);
  if (s.margin_mode == MarginMode::CfdLeverage) return volume * s.contract_size * price / lev;
  return volume * s.contract_size / lev;
}

}  // namespace permiso::trading::sim
