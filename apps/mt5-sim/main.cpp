// mt5-sim: the simulated MT5 broker as a counterparty, over the PermisoBridge protocol
// (docs/brokers.md), exactly as the Expert Advisor serves a real terminal. The composition
// root: options → simulated broker → bridge server, run until SIGINT or SIGTERM.
#include "trading/sim/simulated_broker.hpp"
#include "trading/terminal/bridge_server.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>

#include <pthread.h>

#ifndef PERMISO_VERSION
#define PERMISO_VERSION "0.0.0"
#endif

namespace {

using namespace permiso::trading;

constexpr int kExitBind = 1;     // an endpoint could not be bound
constexpr int kExitOptions = 2;  // the command line is invalid

struct Options {
  std::string command_url = "tcp://127.0.0.1:5555";
  std::string event_url = "tcp://127.0.0.1:5556";
  std::uint64_t seed = 1;
  int tick_ms = 250;
  std::string accounts = "multi";
};

void add_options(CLI::App& app, Options& o) {
  app.add_option("--command-url", o.command_url, "the command socket (REP) to bind")->capture_default_str();
  app.add_option("--event-url", o.event_url, "the event socket (PUB) to bind")->capture_default_str();
  app.add_option("--seed", o.seed, "the quote model's seed: the same seed and calls give the same quotes and fills")
      ->capture_default_str();
  app.add_option("--tick-ms", o.tick_ms, "milliseconds between quote steps")
      ->check(CLI::Range(1, 60'000))
      ->capture_default_str();
  app.add_option("--accounts", o.accounts,
                 "multi: account_open opens demo accounts; single: one account, as a real terminal")
      ->check(CLI::IsMember({"multi", "single"}))
      ->capture_default_str();
  app.footer(
      "The token commands must carry comes from MT5_TERMINAL_TOKEN only (never the command line, where\n"
      "other local users can read it). Exit codes: 0 stopped by SIGINT/SIGTERM, 1 an endpoint could\n"
      "not be bound, 2 invalid options.");
}

/// The shared secret, from the environment only; empty when unset (commands then need none).
std::string token_from_environment() {
  const char* token = std::getenv("MT5_TERMINAL_TOKEN");
  return token == nullptr ? std::string() : std::string(token);
}

/// Blocks SIGINT and SIGTERM in this thread and every thread started after it, so only
/// wait_for_stop_signal() takes them: shutdown then runs as ordinary code, not in a handler.
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  return set;
}

int wait_for_stop_signal(const sigset_t& set) {
  int signal = 0;
  sigwait(&set, &signal);
  return signal;
}

terminal::BridgeServerOptions server_options(const Options& o) {
  terminal::BridgeServerOptions s;
  s.command_endpoint = o.command_url;
  s.event_endpoint = o.event_url;
  s.token = token_from_environment();
  s.multi_account = o.accounts == "multi";
  s.terminal_name = "mt5-sim";
  return s;
}

int run(const sigset_t& stop_signals, const Options& o) {
  sim::SimOptions sim_options;
  sim_options.seed = o.seed;
  sim::SimulatedBroker broker(sim_options);
  const auto bridge_options = server_options(o);
  std::optional<terminal::BridgeServer> server;
  try {
    server.emplace(broker, bridge_options);
  } catch (const std::runtime_error& e) {
    spdlog::error("mt5-sim: {}", e.what());
    return kExitBind;
  }
  if (bridge_options.token.empty()) spdlog::warn("MT5_TERMINAL_TOKEN is not set: commands need no token");
  server->start();
  broker.start(std::chrono::milliseconds(o.tick_ms));
  spdlog::info("mt5-sim listening: commands {}, events {}", server->command_endpoint(), server->event_endpoint());

  const int signal = wait_for_stop_signal(stop_signals);
  spdlog::info("mt5-sim: received {}, stopping", signal == SIGINT ? "SIGINT" : "SIGTERM");
  broker.stop();
  server->stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const sigset_t stop_signals = block_stop_signals();  // before any thread exists
  CLI::App app{
      "mt5-sim: the simulated MT5 broker as a counterparty, over the PermisoBridge protocol (FIX comes later)"};
  app.set_version_flag("--version", PERMISO_VERSION);
  Options options;
  add_options(app, options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    (void)app.exit(e);
    return kExitOptions;
  }
  return run(stop_signals, options);
}
