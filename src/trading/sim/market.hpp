// The simulator's market: its instruments (specs, currencies, the legs a cross is derived
// from, price and volume rounding, margin) and the conversion route between every pair of
// currencies. Built once from the instrument table and immutable after, so every thread
// reads it without a lock. The arithmetic is documented in simulated_broker.hpp.
#pragma once

#include "trading/model.hpp"
#include "trading/sim/instruments.hpp"

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::trading::sim {

/// Tolerance, in points or volume steps, of every price and volume comparison.
inline constexpr double kEps = 1e-6;

class Market {
 public:
  struct Instrument {
    InstrumentSpec spec;
    int base_ccy = 0, profit_ccy = 0, margin_ccy = 0;
    int leg_a = -1, leg_b = -1;  // a cross derived from two primary instruments; else -1
    double pow10 = 1;            // 10^digits
    double volume_pow10 = 1;     // 10^(decimals of volume_step)

    /// To the instrument's digits.
    [[nodiscard]] double round_price(double price) const;
    /// Within [volume_min, volume_max] and a multiple of volume_step.
    [[nodiscard]] bool volume_ok(double volume) const;
    /// To the decimals of volume_step.
    [[nodiscard]] double normalize_volume(double volume) const;
  };

  /// Instruments named twice keep the first; a cross whose legs are not primary instruments
  /// moves on its own.
  explicit Market(const std::vector<InstrumentSpec>& specs);

  [[nodiscard]] const std::vector<Instrument>& instruments() const { return instruments_; }
  /// The instrument's index, or -1.
  [[nodiscard]] int find_symbol(std::string_view symbol) const;
  /// The currency's id, or -1 when no instrument quotes it.
  [[nodiscard]] int currency_id(std::string_view currency) const;
  /// Whether an amount in `from` can be converted to `to` (directly or through USD).
  [[nodiscard]] bool convertible(int from, int to) const;
  /// The rate from → to at `ticks` (by instrument index); 0 when not convertible.
  [[nodiscard]] double rate(int from, int to, const std::vector<Tick>& ticks) const;
  /// Margin of `volume` lots of instrument `sym` at `price`, in its margin currency.
  [[nodiscard]] double margin_of(int sym, double volume, double price, int leverage) const;

 private:
  struct Leg {
    int sym = -1;          // -1: identity
    bool inverse = false;  // ÷ ask instead of × bid
  };
  struct Route {
    bool ok = false;
    Leg a, b;
  };

  int add_currency(const std::string& currency);
  void add_instrument(const InstrumentSpec& spec);
  void link_legs();
  void build_routes();
  [[nodiscard]] std::optional<Leg> direct(int from, int to) const;
  [[nodiscard]] const Route& route(int from, int to) const;

  std::vector<Instrument> instruments_;
  std::map<std::string, int, std::less<>> symbol_index_;
  std::vector<std::string> currencies_;
  std::vector<Route> routes_;  // currencies_.size()², from * n + to
  int usd_ = -1;
};

}  // namespace permiso::trading::sim
