// mt5-sim: the simulated MT5 broker as a counterparty, over the PermisoBridge protocol
// (docs/brokers.md), exactly as the Expert Advisor serves a real terminal, or as a FIX 4.4
// acceptor (docs/fix.md), as a broker's FIX gateway does. The composition root: options →
// simulated broker → bridge or FIX server, run until SIGINT or SIGTERM.
#include "trading/fix/fix_server.hpp"
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
#include <vector>

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
  int fix_port = 0;  // 0: the PermisoBridge protocol; else FIX 4.4 on this port instead
  std::string fix_comp_id = "MT5SIM";
  std::vector<std::string> fix_client_comp_ids{"PERMISO"};
  std::string fix_username = "permiso";
  std::string fix_store_dir;
  std::string fix_tls_cert;
  std::string fix_tls_key;
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
  app.add_option("--fix-port", o.fix_port, "serve FIX 4.4 on this loopback port instead of the bridge (0: the bridge)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  app.add_option("--fix-comp-id", o.fix_comp_id, "our SenderCompID")->capture_default_str();
  app.add_option("--fix-client-comp-id", o.fix_client_comp_ids, "an initiator's SenderCompID to accept (repeatable)")
      ->capture_default_str();
  app.add_option("--fix-username", o.fix_username, "the Username (553) logons must carry")->capture_default_str();
  app.add_option("--fix-store-dir", o.fix_store_dir, "the FIX message store (required with --fix-port)");
  app.add_option("--fix-tls-cert", o.fix_tls_cert, "a PEM certificate: FIX over TLS")->check(CLI::ExistingFile);
  app.add_option("--fix-tls-key", o.fix_tls_key, "its PEM private key")->check(CLI::ExistingFile);
  app.footer(
      "Secrets come from the environment only (never the command line, where other local users can\n"
      "read them): MT5_TERMINAL_TOKEN, the token bridge commands must carry; MT5_FIX_PASSWORD, the\n"
      "password FIX logons must carry (required with --fix-port). Exit codes: 0 stopped by\n"
      "SIGINT/SIGTERM, 1 an endpoint could not be bound, 2 invalid options.");
}

/// A secret from the environment only; empty when unset.
std::string secret_from_environment(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
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
  s.token = secret_from_environment("MT5_TERMINAL_TOKEN");
  s.multi_account = o.accounts == "multi";
  s.terminal_name = "mt5-sim";
  return s;
}

fix::FixServerOptions fix_options(const Options& o) {
  fix::FixServerOptions f;
  f.port = o.fix_port;
  f.comp_id = o.fix_comp_id;
  f.client_comp_ids = o.fix_client_comp_ids;
  f.username = o.fix_username;
  f.password = secret_from_environment("MT5_FIX_PASSWORD");
  f.store_dir = o.fix_store_dir;
  f.cert_file = o.fix_tls_cert;
  f.key_file = o.fix_tls_key;
  f.multi_account = o.accounts == "multi";
  return f;
}

/// The broker as a FIX 4.4 acceptor until a stop signal.
int run_fix(const sigset_t& stop_signals, const Options& o, sim::SimulatedBroker& broker) {
  const auto options = fix_options(o);
  if (options.password.empty() || options.store_dir.empty()) {
    spdlog::error("mt5-sim: --fix-port needs MT5_FIX_PASSWORD in the environment and --fix-store-dir");
    return kExitOptions;
  }
  std::optional<fix::FixServer> server;
  try {
    server.emplace(broker, options);
    broker.set_tick_listener([&server](std::string_view s, const Tick& t) { server->counterparty().on_tick(s, t); });
    broker.set_change_listener([&server](const Changes& c) { server->counterparty().on_changes(c); });
    server->start();
  } catch (const std::exception& e) {
    spdlog::error("mt5-sim: FIX: {}", e.what());
    return kExitBind;
  }
  broker.start(std::chrono::milliseconds(o.tick_ms));
  spdlog::info("mt5-sim listening: FIX 4.4 on port {} as {}", o.fix_port, o.fix_comp_id);
  const int signal = wait_for_stop_signal(stop_signals);
  spdlog::info("mt5-sim: received {}, stopping", signal == SIGINT ? "SIGINT" : "SIGTERM");
  broker.stop();
  broker.set_tick_listener(nullptr);
  broker.set_change_listener(nullptr);
  server->stop();
  return 0;
}

int run(const sigset_t& stop_signals, const Options& o) {
  sim::SimOptions sim_options;
  sim_options.seed = o.seed;
  sim::SimulatedBroker broker(sim_options);
  if (o.fix_port > 0) return run_fix(stop_signals, o, broker);
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
  CLI::App app{"mt5-sim: the simulated MT5 broker as a counterparty, over the PermisoBridge protocol or FIX 4.4"};
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
