// OHLC bar builder: see bars.hpp.
#include "trading/bars.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace permiso::trading {

std::string_view to_string(Timeframe tf) {
  switch (tf) {
    case Timeframe::M1:
      return "M1";
    case Timeframe::M5:
      return "M5";
    case Timeframe::M15:
      return "M15";
    case Timeframe::M30:
      return "M30";
    case Timeframe::H1:
      return "H1";
    case Timeframe::H4:
      return "H4";
    case Timeframe::D1:
      return "D1";
  }
  return "unknown";
}

std::optional<Timeframe> timeframe_from_string(std::string_view s) {
  for (auto tf : kTimeframes) {
    if (to_string(tf) == s) return tf;
  }
  return std::nullopt;
}

BarBuilder::BarBuilder(std::size_t max_bars) : max_bars_(std::max<std::size_t>(max_bars, 1)) {}

BarBuilder::SymbolBars* BarBuilder::find(std::string_view symbol) const {
  std::shared_lock lock(mutex_);
  auto it = symbols_.find(symbol);
  return it == symbols_.end() ? nullptr : it->second.get();
}

BarBuilder::SymbolBars& BarBuilder::find_or_add(std::string_view symbol) {
  // Entries are never erased, so the reference stays valid after the map lock is released.
  if (auto* bars = find(symbol)) return *bars;
  std::unique_lock lock(mutex_);
  auto& slot = symbols_[std::string(symbol)];
  if (!slot) slot = std::make_unique<SymbolBars>();
  return *slot;
}

void BarBuilder::on_tick(std::string_view symbol, const Tick& tick) {
  if (!std::isfinite(tick.bid) || tick.bid <= 0) return;
  auto* bars = &find_or_add(symbol);
  std::lock_guard lock(bars->mutex);
  for (std::size_t i = 0; i < kTimeframes.size(); ++i) {
    const TimeMs len = timeframe_ms(kTimeframes[i]);
    // floor division, so times before 1970 still align
    const TimeMs q = tick.time_msc / len - ((tick.time_msc % len) < 0 ? 1 : 0);
    const TimeMs open_time = q * len;
    auto& series = bars->series[i];
    if (!series.empty() && series.back().time_msc > open_time) continue;  // older than the newest bar
    if (!series.empty() && series.back().time_msc == open_time) {
      Bar& b = series.back();
      b.high = std::max(b.high, tick.bid);
      b.low = std::min(b.low, tick.bid);
      b.close = tick.bid;
      ++b.tick_volume;
      continue;
    }
    series.push_back(Bar{open_time, tick.bid, tick.bid, tick.bid, tick.bid, 1});
    if (series.size() > max_bars_) series.pop_front();
  }
}

static std::size_t index_of(Timeframe tf) {
  for (std::size_t i = 0; i < kTimeframes.size(); ++i) {
    if (kTimeframes[i] == tf) return i;
  }
  return 0;
}

void BarBuilder::load_history(std::string_view symbol, Timeframe tf, const std::vector<Bar>& history) {
  if (history.empty()) return;
  auto& bars = find_or_add(symbol);
  std::lock_guard lock(bars.mutex);
  auto& series = bars.series[index_of(tf)];
  const TimeMs oldest = series.empty() ? std::numeric_limits<TimeMs>::max() : series.front().time_msc;
  std::vector<Bar> older;
  for (const auto& bar : history) {
    const bool in_order = older.empty() || bar.time_msc > older.back().time_msc;
    if (bar.time_msc < oldest && in_order) older.push_back(bar);
  }
  series.insert(series.begin(), older.begin(), older.end());
  while (series.size() > max_bars_) series.pop_front();
}

std::vector<Bar> BarBuilder::rates(std::string_view symbol, Timeframe tf, std::size_t count,
                                   std::size_t start_pos) const {
  std::vector<Bar> out;
  const auto* bars = find(symbol);
  if (bars == nullptr || count == 0) return out;
  std::lock_guard lock(bars->mutex);
  const auto& series = bars->series[index_of(tf)];
  if (start_pos >= series.size()) return out;
  const std::size_t end = series.size() - start_pos;  // one past the newest bar returned
  const std::size_t n = std::min(count, end);
  out.assign(series.begin() + static_cast<std::ptrdiff_t>(end - n), series.begin() + static_cast<std::ptrdiff_t>(end));
  return out;
}

std::size_t BarBuilder::size(std::string_view symbol, Timeframe tf) const {
  const auto* bars = find(symbol);
  if (bars == nullptr) return 0;
  std::lock_guard lock(bars->mutex);
  return bars->series[index_of(tf)].size();
}

std::vector<std::string> BarBuilder::symbols() const {
  std::shared_lock lock(mutex_);
  std::vector<std::string> out;
  out.reserve(symbols_.size());
  for (const auto& [name, _] : symbols_) out.push_back(name);
  return out;
}

}  // namespace permiso::trading
