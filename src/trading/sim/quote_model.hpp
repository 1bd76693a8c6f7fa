// The simulator's price process: each primary instrument's mid follows a geometric Brownian
// motion with its own seeded random stream, a cross is derived from its legs, and the spread
// varies log-normally around its typical value. Deterministic for a seed and a sequence of
// steps. Not thread-safe: the broker steps it under its step mutex.
#pragma once

#include "trading/bars.hpp"
#include "trading/model.hpp"
#include "trading/sim/market.hpp"
#include "trading/sim/random.hpp"

#include <cstdint>
#include <vector>

namespace permiso::trading::sim {

/// Every instrument's quote at one moment, by instrument index.
struct Quotes {
  std::vector<Tick> ticks;
};

class QuoteModel {
 public:
  /// Mids start at each instrument's start_mid (a cross at its legs'). `market` must outlive
  /// the model.
  QuoteModel(const Market& market, std::uint64_t seed, double volatility_scale);

  /// Every instrument's quote at its current mid and typical spread, stamped `t`.
  [[nodiscard]] std::vector<Tick> quotes_at(TimeMs t) const;
  /// Moves every mid over `dt_ms`, draws every spread, and writes each quote, stamped `t`,
  /// into `ticks` (by instrument index).
  void step(TimeMs dt_ms, TimeMs t, std::vector<Tick>& ticks);
  /// A quote set by hand: the instrument's process continues from this mid.
  void set_mid(int sym, double mid) { states_[static_cast<std::size_t>(sym)].mid = mid; }
  [[nodiscard]] std::vector<double> mids() const;

  /// Synthetic history ending at `end_mids` at `t_end`: one tick per `step_ms` over the last
  /// `span_ms`, from paths drawn backwards with the same process (its own seeded streams, so
  /// the live quotes do not change).
  void backfill(BarBuilder& bars, const std::vector<double>& end_mids, TimeMs t_end, TimeMs span_ms,
                TimeMs step_ms) const;

 private:
  struct State {
    double mid = 0;
    Rng rng;
  };

  [[nodiscard]] double sigma(const Market::Instrument& in) const;
  [[nodiscard]] double cross_mid(const Market::Instrument& in) const;

  const Market& market_;
  std::uint64_t seed_;
  double volatility_scale_;
  std::vector<State> states_;  // by instrument index
};

}  // namespace permiso::trading::sim
