// OHLC bars (MqlRates) built from the quote stream, per symbol and timeframe, bid-based with
// tick volume, as MT5 charts draw them. Bounded: the newest `max_bars` per symbol/timeframe.
// Thread-safe: one thread feeds ticks while HTTP threads read rates(); a per-symbol lock is
// held only to copy bars, never across a callback.
#pragma once

#include "trading/model.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::trading {

/// ENUM_TIMEFRAMES, the ones the chart offers; the value is the bar's length in minutes.
enum class Timeframe : int { M1 = 1, M5 = 5, M15 = 15, M30 = 30, H1 = 60, H4 = 240, D1 = 1440 };
inline constexpr std::array<Timeframe, 7> kTimeframes = {Timeframe::M1, Timeframe::M5, Timeframe::M15, Timeframe::M30,
                                                         Timeframe::H1, Timeframe::H4, Timeframe::D1};
std::string_view to_string(Timeframe tf);                            // "M1", "M5", …, "D1"
std::optional<Timeframe> timeframe_from_string(std::string_view s);  // exact MT5 names
constexpr TimeMs timeframe_ms(Timeframe tf) {
  return static_cast<TimeMs>(tf) * 60'000;
}

/// MqlRates without real_volume/spread: one bar, opened at time_msc (aligned to the timeframe
/// in UTC: D1 bars open at 00:00 UTC).
struct Bar {
  TimeMs time_msc = 0;
  double open = 0;
  double high = 0;
  double low = 0;
  double close = 0;
  std::uint64_t tick_volume = 0;
  friend bool operator==(const Bar&, const Bar&) = default;
};

class BarBuilder {
 public:
  static constexpr std::size_t kDefaultMaxBars = 5000;
  explicit BarBuilder(std::size_t max_bars = kDefaultMaxBars);

  /// Adds a tick to every timeframe of the symbol. Ticks older than a timeframe's newest bar
  /// are ignored there (so history fed first and live ticks after never reorder); a tick with
  /// a non-finite or non-positive bid is ignored.
  void on_tick(std::string_view symbol, const Tick& tick);

  /// Chart history from elsewhere (a terminal's CopyRates), oldest first. Only bars older than
  /// the timeframe's oldest bar go in, before it: bars built here from live ticks win, and
  /// loading the same history twice adds nothing. The max_bars bound holds (the oldest go).
  void load_history(std::string_view symbol, Timeframe tf, const std::vector<Bar>& history);

  /// copy_rates_from_pos: up to `count` bars ending `start_pos` bars before the newest
  /// (0: the current, still forming bar), oldest first / newest last. Unknown symbol: empty.
  [[nodiscard]] std::vector<Bar> rates(std::string_view symbol, Timeframe tf, std::size_t count,
                                       std::size_t start_pos = 0) const;
  /// How many bars the symbol has in this timeframe.
  [[nodiscard]] std::size_t size(std::string_view symbol, Timeframe tf) const;
  [[nodiscard]] std::vector<std::string> symbols() const;
  [[nodiscard]] std::size_t max_bars() const { return max_bars_; }

 private:
  struct SymbolBars {
    mutable std::mutex mutex;
    std::array<std::deque<Bar>, kTimeframes.size()> series;
  };
  [[nodiscard]] SymbolBars* find(std::string_view symbol) const;
  SymbolBars& find_or_add(std::string_view symbol);

  std::size_t max_bars_;
  mutable std::shared_mutex mutex_;  // guards the map only; bars are guarded per symbol
  std::map<std::string, std::unique_ptr<SymbolBars>, std::less<>> symbols_;
};

}  // namespace permiso::trading
