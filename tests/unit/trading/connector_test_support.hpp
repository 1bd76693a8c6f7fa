// What the connectors' tests (terminal bridge, FIX) share: a market that does not slip, a
// market order, a poll with a deadline, and a recorder of what a connector delivers.
#pragma once

#include "trading/model.hpp"
#include "trading/sim/simulated_broker.hpp"

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace permiso::trading::testing {

/// Polls `condition` until it holds or `limit` passes.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

/// The simulator, seeded, without slippage, at a fixed start time.
inline sim::SimOptions quiet_market() {
  sim::SimOptions o;
  o.seed = 7;
  o.slippage_points = 0;
  o.start_time_msc = 1'700'000'000'000;
  return o;
}

/// quiet_market() where GBPUSD fills at most 0.3 lots per order and quote (partial fills);
/// EURUSD, every other test's symbol, stays unlimited.
inline sim::SimOptions thin_gbpusd_market() {
  sim::SimOptions o = quiet_market();
  o.max_fill_lots = {{"GBPUSD", 0.3}};
  return o;
}

/// A market order of GBPUSD, filled as `filling`.
inline TradeRequest gbpusd(OrderType type, double volume, Filling filling) {
  TradeRequest r;
  r.action = TradeAction::Deal;
  r.symbol = "GBPUSD";
  r.volume = volume;
  r.type = type;
  r.type_filling = filling;
  r.deviation = 1000;
  return r;
}

/// A market order on EURUSD (closing `position` when given).
inline TradeRequest market(OrderType type, double volume, Ticket position = 0) {
  TradeRequest r;
  r.action = TradeAction::Deal;
  r.symbol = "EURUSD";
  r.volume = volume;
  r.type = type;
  r.deviation = 1000;
  r.position = position;
  return r;
}

/// Collects what a connector delivers to the gateway's change listener.
struct Delivered {
  std::mutex mu;
  std::vector<Changes> changes;
  void record(const Changes& c) {
    std::lock_guard lock(mu);
    changes.push_back(c);
  }
  /// The last row of the position delivered.
  std::optional<Position> position(Ticket ticket) {
    std::lock_guard lock(mu);
    std::optional<Position> last;
    for (const auto& c : changes) {
      for (const auto& p : c.positions) {
        if (p.ticket == ticket) last = p;
      }
    }
    return last;
  }
};

}  // namespace permiso::trading::testing
