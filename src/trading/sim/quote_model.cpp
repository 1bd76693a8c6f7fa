// See quote_model.hpp.
#include "trading/sim/quote_model.hpp"

#include <algorithm>
#include <cmath>

namespace permiso::trading::sim {
namespace {

constexpr double kMsPerYear = 365.25 * 86'400'000.0;

/// The quote around `mid` with a spread of `spread_points`, rounded to the instrument.
Tick quote(const Market::Instrument& in, double mid, double spread_points, TimeMs t) {
  const double spread = spread_points * in.spec.info.point;
  Tick tick;
  tick.time_msc = t;
  tick.bid = in.round_price(mid - spread / 2);
  tick.ask = in.round_price(tick.bid + spread);
  return tick;
}

double typical_spread(const Market::Instrument& in) {
  return std::max(1.0, std::round(in.spec.spread_points));
}

}  // namespace

QuoteModel::QuoteModel(const Market& market, std::uint64_t seed, double volatility_scale)
    : market_(market), seed_(seed), volatility_scale_(volatility_scale) {
  const auto& instruments = market_.instruments();
  states_.resize(instruments.size());
  for (std::size_t i = 0; i < instruments.size(); ++i) {
    states_[i].rng = Rng(seed_ ^ Rng::hash(instruments[i].spec.info.name));
    states_[i].mid = instruments[i].spec.start_mid;
  }
  for (std::size_t i = 0; i < instruments.size(); ++i) {
    if (instruments[i].leg_a >= 0) states_[i].mid = cross_mid(instruments[i]);
  }
}

double QuoteModel::sigma(const Market::Instrument& in) const {
  return in.spec.volatility * volatility_scale_;
}

double QuoteModel::cross_mid(const Market::Instrument& in) const {
  const double a = states_[static_cast<std::size_t>(in.leg_a)].mid;
  const double b = states_[static_cast<std::size_t>(in.leg_b)].mid;
  return in.spec.legs_multiply ? a * b : a / b;
}

std::vector<Tick> QuoteModel::quotes_at(TimeMs t) const {
  const auto& instruments = market_.instruments();
  std::vector<Tick> ticks(instruments.size());
  for (std::size_t i = 0; i < instruments.size(); ++i) {
    ticks[i] = quote(instruments[i], states_[i].mid, typical_spread(instruments[i]), t);
  }
  return ticks;
}

void QuoteModel::step(TimeMs dt_ms, TimeMs t, std::vector<Tick>& ticks) {
  const auto& instruments = market_.instruments();
  const double dt = static_cast<double>(dt_ms) / kMsPerYear;
  for (std::size_t i = 0; i < instruments.size(); ++i) {
    if (instruments[i].leg_a >= 0) continue;
    const double s = sigma(instruments[i]);
    State& m = states_[i];
    m.mid *= std::exp(-0.5 * s * s * dt + s * std::sqrt(dt) * m.rng.normal());
  }
  for (std::size_t i = 0; i < instruments.size(); ++i) {
    const auto& in = instruments[i];
    State& m = states_[i];
    if (in.leg_a >= 0) m.mid = cross_mid(in);
    // the spread varies log-normally around its typical value, within [½, 3×]
    const double typical = std::max(1.0, in.spec.spread_points);
    const double points = std::clamp(std::round(typical * std::exp(0.25 * m.rng.normal())),
                                     std::max(1.0, std::round(typical / 2)), typical * 3);
    ticks[i] = quote(in, m.mid, points, t);
  }
}

std::vector<double> QuoteModel::mids() const {
  std::vector<double> out;
  out.reserve(states_.size());
  for (const auto& s : states_) out.push_back(s.mid);
  return out;
}

void QuoteModel::backfill(BarBuilder& bars, const std::vector<double>& end_mids, TimeMs t_end, TimeMs span_ms,
                          TimeMs step_ms) const {
  if (span_ms <= 0 || step_ms <= 0) return;
  const auto& instruments = market_.instruments();
  const std::size_t n = static_cast<std::size_t>(std::min<TimeMs>(span_ms / step_ms, 2'000'000)) + 1;
  const double dt = static_cast<double>(step_ms) / kMsPerYear;
  std::vector<std::vector<double>> mids(instruments.size());
  for (std::size_t i = 0; i < instruments.size(); ++i) {  // primary paths, drawn backwards
    const auto& in = instruments[i];
    if (in.leg_a >= 0) continue;
    Rng rng(seed_ ^ Rng::hash(in.spec.info.name) ^ 0xbac0f111ULL);
    const double s = sigma(in);
    auto& path = mids[i];
    path.resize(n);
    path[n - 1] = end_mids[i];
    for (std::size_t k = n - 1; k > 0; --k) path[k - 1] = path[k] * std::exp(-s * std::sqrt(dt) * rng.normal());
  }
  for (std::size_t i = 0; i < instruments.size(); ++i) {  // crosses from their legs
    const auto& in = instruments[i];
    if (in.leg_a < 0) continue;
    const auto& a = mids[static_cast<std::size_t>(in.leg_a)];
    const auto& b = mids[static_cast<std::size_t>(in.leg_b)];
    auto& path = mids[i];
    path.resize(n);
    for (std::size_t k = 0; k < n; ++k) path[k] = in.spec.legs_multiply ? a[k] * b[k] : a[k] / b[k];
  }
  for (std::size_t i = 0; i < instruments.size(); ++i) {
    const auto& in = instruments[i];
    for (std::size_t k = 0; k < n; ++k) {
      const TimeMs t = t_end - static_cast<TimeMs>(n - 1 - k) * step_ms;
      bars.on_tick(in.spec.info.name, quote(in, mids[i][k], typical_spread(in), t));
    }
  }
}

}  // namespace permiso::trading::sim
