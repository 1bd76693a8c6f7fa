// A service process's lifecycle: stop signals taken on one thread of their own, the server run
// until one arrives, and stop steps tied to scopes (RAII), so a start-up that fails half-way
// stops what it started without a line of undo code.
#pragma once

#include "http/server.hpp"

#include <csignal>
#include <functional>
#include <string>
#include <string_view>

namespace permiso::app {

/// Blocks SIGINT and SIGTERM in the calling thread and so in every thread it creates later
/// (build it first in main), and ignores SIGPIPE. Stop signals are then only ever taken by
/// serve_until_stopped(), on a plain thread: no async-signal restrictions on what the
/// shutdown path may do.
class StopSignals {
 public:
  StopSignals();
  [[nodiscard]] const sigset_t& set() const { return set_; }

 private:
  sigset_t set_{};
};

/// Runs a stop step when the scope ends, for a component whose destructor does not take it
/// (or not at the moment it is needed). A composition root declares its components in
/// start order: leaving the scope, normally or when start-up fails half-way, stops exactly
/// what was started, newest first; a guard declared after a component runs before it stops.
class AtScopeExit {
 public:
  explicit AtScopeExit(std::function<void()> action) : action_(std::move(action)) {}
  ~AtScopeExit() {
    if (action_) action_();
  }
  AtScopeExit(const AtScopeExit&) = delete;
  AtScopeExit& operator=(const AtScopeExit&) = delete;

 private:
  std::function<void()> action_;
};

/// Runs `server` on this thread until SIGINT or SIGTERM (or until the server stops by
/// itself). On a signal `on_signal` runs first (e.g. end long-polls and streams so the
/// drain does not wait them out), then the server drains within its grace period.
void serve_until_stopped(const StopSignals& signals, http::Server& server, std::function<void()> on_signal = {});

}  // namespace permiso::app
