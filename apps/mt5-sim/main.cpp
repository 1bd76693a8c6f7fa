// mt5-sim: the simulated MT5 broker as a counterparty, over the PermisoBridge protocol
// (docs/brokers.md), exactly as the Expert Advisor serves a real terminal, and/or as a FIX 4.4
// acceptor (docs/fix.md), as a broker's FIX gateway does. The composition root: options →
// simulated broker → the bridge and the FIX server over it, run until SIGINT or SIGTERM.
#include "broker_share.hpp"
#include "common/clock.hpp"
#include "fixtags/tag_map.hpp"
#include "trading/fix/fix_server.hpp"
#include "trading/sim/simulated_broker.hpp"
#include "trading/terminal/bridge_server.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <pthread.h>

#ifndef PERMISO_VERSION
#define PERMISO_VERSION "0.0.0"
#endif

namespace {

using namespace permiso::trading;
namespace fixtags = permiso::fixtags;

constexpr int kExitBind = 1;     // a server could not start (an endpoint could not be bound)
constexpr int kExitOptions = 2;  // the command line is invalid

struct Options {
  std::string command_url = "tcp://127.0.0.1:5555";
  std::string event_url = "tcp://127.0.0.1:5556";
  std::uint64_t seed = 1;
  int tick_ms = 250;
  std::string accounts = "multi";
  bool no_bridge = false;  // FIX only
  int fix_port = 0;        // 0: no FIX
  std::string fix_comp_id = "MT5SIM";
  std::vector<std::string> fix_client_comp_ids{"PERMISO"};
  std::string fix_quote_comp_id;
  std::string fix_username = "permiso";
  std::string fix_store_dir;
  std::string fix_tls_cert;
  std::string fix_tls_key;
  std::vector<std::string> max_fill_lots;  // "SYMBOL=LOTS" or "LOTS" (every symbol)
  std::vector<std::string> fix_tags;       // Name=Number lists, joined
  std::vector<std::string> fix_without;    // RequestForPositions, CollateralInquiry
  int server_utc_offset_s = 0;             // the trade server's zone: its clock minus UTC
};

/// The trade server's clock: UTC moved by the server's zone, as a real MT5 trade server keeps
/// its times (often GMT+2 or GMT+3). The simulator stamps its rows with it and the bridge turns
/// them back into UTC on the wire, as the Expert Advisor does, so tests see a terminal that is
/// not on UTC.
class TradeServerClock final : public permiso::Clock {
 public:
  explicit TradeServerClock(std::int64_t offset_s) : offset_s_(offset_s) {}
  [[nodiscard]] std::int64_t now_seconds() const override { return utc_.now_seconds() + offset_s_; }
  [[nodiscard]] std::int64_t now_ms() const override { return utc_.now_ms() + offset_s_ * 1000; }

 private:
  permiso::SystemClock utc_;
  std::int64_t offset_s_;
};

/// --max-fill-lots values as the simulator's liquidity (SimOptions::max_fill_lots, "*" for a
/// bare LOTS); nullopt, with the problem logged, when one is not SYMBOL=LOTS or LOTS > 0.
std::optional<std::map<std::string, double, std::less<>>> max_fill_lots(const std::vector<std::string>& given) {
  std::map<std::string, double, std::less<>> out;
  for (const auto& value : given) {
    const auto eq = value.find('=');
    const std::string symbol = eq == std::string::npos ? "*" : value.substr(0, eq);
    const std::string lots_text = eq == std::string::npos ? value : value.substr(eq + 1);
    std::size_t used = 0;
    double lots = 0;
    try {
      lots = std::stod(lots_text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (symbol.empty() || used == 0 || used != lots_text.size() || !std::isfinite(lots) || !(lots > 0)) {
      spdlog::error("mt5-sim: --max-fill-lots {}: expected SYMBOL=LOTS or LOTS, with LOTS > 0", value);
      return std::nullopt;
    }
    out[symbol] = lots;
  }
  return out;
}

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
  // UTC-12 to UTC+14: the zones there are.
  app.add_option("--server-utc-offset-s", o.server_utc_offset_s,
                 "the trade server's clock minus UTC, in seconds (7200: GMT+2), as a real terminal's "
                 "TimeTradeServer() - TimeGMT(); the bridge still sends UTC, as the Expert Advisor does")
      ->check(CLI::Range(-12 * 3600, 14 * 3600))
      ->capture_default_str();
  app.add_flag("--no-bridge", o.no_bridge, "do not serve the PermisoBridge protocol (FIX only: needs --fix-port)");
  app.add_option("--fix-port", o.fix_port,
                 "also serve FIX 4.4 on this TCP port, on every interface (QuickFIX binds no address); 0: no FIX")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  app.add_option("--fix-comp-id", o.fix_comp_id, "our SenderCompID")->capture_default_str();
  app.add_option("--fix-client-comp-id", o.fix_client_comp_ids, "an initiator's SenderCompID to accept (repeatable)")
      ->capture_default_str();
  app.add_option("--fix-quote-comp-id", o.fix_quote_comp_id,
                 "also accept a market-data session under this SenderCompID of ours (quotes only, as brokers "
                 "that split quotes from trading)");
  app.add_option("--fix-username", o.fix_username, "the Username (553) logons must carry")->capture_default_str();
  app.add_option("--fix-store-dir", o.fix_store_dir,
                 "the FIX message store, kept across restarts so sequence numbers resume (required with --fix-port)");
  app.add_option("--fix-tls-cert", o.fix_tls_cert, "a PEM certificate: FIX over TLS")->check(CLI::ExistingFile);
  app.add_option("--fix-tls-key", o.fix_tls_key, "its PEM private key")->check(CLI::ExistingFile);
  app.add_option("--max-fill-lots", o.max_fill_lots,
                 "liquidity: the most lots one order fills at one quote, as SYMBOL=LOTS, or LOTS for every symbol "
                 "not named (repeatable; default unlimited). A larger order: FOK refused, IOC filled in part, RETURN "
                 "filled in part and the rest at later quotes");
  app.add_option("--fix-tags", o.fix_tags,
                 "our custom FIX fields numbered as a broker numbers them: Name=Number,... as mt5-api's "
                 "MT5_FIX_TAGS (repeatable; unnamed fields keep the dictionary's numbers)");
  app.add_option("--fix-without", o.fix_without,
                 "play a broker without these requests: each is answered by a BusinessMessageReject "
                 "(unsupported message type), and mt5-api keeps its own ledger instead (repeatable)")
      ->check(CLI::IsMember({"RequestForPositions", "CollateralInquiry"}));
  app.footer(
      "The bridge and the FIX acceptor may run at once, over the same simulated broker (with --accounts\n"
      "single, each opens its own one account, as two terminals logged in to two accounts).\n"
      "Secrets come from the environment only (never the command line, where other local users can\n"
      "read them): MT5_TERMINAL_TOKEN, the token bridge commands must carry; MT5_FIX_PASSWORD, the\n"
      "password FIX logons must carry (required with --fix-port). Exit codes: 0 stopped by\n"
      "SIGINT/SIGTERM, 1 a server could not start (e.g. a port taken), 2 invalid options.");
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
  s.server_utc_offset = std::chrono::seconds(o.server_utc_offset_s);
  return s;
}

/// --fix-tags as one Name=Number list.
std::string fix_tag_list(const Options& o) {
  std::string list;
  for (const auto& item : o.fix_tags) list += (list.empty() ? "" : ",") + item;
  return list;
}

/// What is wrong with --fix-tags, each in its words; empty when the map is valid.
std::vector<std::string> fix_tag_problems(const Options& o) {
  auto numbers = fixtags::parse_tag_numbers(fix_tag_list(o));
  if (!numbers) return {"--fix-tags: " + numbers.error()};
  std::vector<std::string> problems;
  if (auto map = fixtags::make_tag_map(*numbers); !map) {
    for (const auto& p : map.error()) problems.push_back("--fix-tags: " + p.field + " " + p.rule);
  }
  return problems;
}

fix::FixServerOptions fix_options(const Options& o) {
  fix::FixServerOptions f;
  f.port = o.fix_port;
  f.comp_id = o.fix_comp_id;
  f.client_comp_ids = o.fix_client_comp_ids;
  f.quote_comp_id = o.fix_quote_comp_id;
  f.username = o.fix_username;
  f.password = secret_from_environment("MT5_FIX_PASSWORD");
  f.store_dir = o.fix_store_dir;
  f.cert_file = o.fix_tls_cert;
  f.key_file = o.fix_tls_key;
  f.multi_account = o.accounts == "multi";
  for (const auto& name : o.fix_without) {
    f.unsupported.insert(
        std::string(name == "RequestForPositions" ? fix::msg::kRequestForPositions : fix::msg::kCollateralInquiry));
  }
  if (auto numbers = fixtags::parse_tag_numbers(fix_tag_list(o))) {
    if (auto map = fixtags::make_tag_map(*numbers)) f.tags = *map;  // else fix_tag_problems says why
  }
  return f;
}

/// The FIX server's problems in the words of the command line (FixServerOptions names its fields).
std::string as_given(const std::string& problem) {
  static const std::pair<std::string_view, std::string_view> kNames[] = {
      {"port:", "--fix-port:"},
      {"comp_id:", "--fix-comp-id:"},
      {"client_comp_ids:", "--fix-client-comp-id:"},
      {"quote_comp_id:", "--fix-quote-comp-id:"},
      {"username:", "--fix-username:"},
      {"store_dir:", "--fix-store-dir:"},
      {"cert_file/key_file:", "--fix-tls-cert/--fix-tls-key:"},
  };
  if (problem.starts_with("password:")) {
    return "MT5_FIX_PASSWORD: not set in the environment (required with --fix-port)";
  }
  for (const auto& [field, option] : kNames) {
    if (problem.starts_with(field)) return std::string(option) + problem.substr(field.size());
  }
  return problem;
}

/// Logs every problem the command line alone cannot catch; true when there is none.
bool servers_configured(const Options& o, const std::optional<fix::FixServerOptions>& fix) {
  std::vector<std::string> problems;
  if (o.no_bridge && !fix) problems.emplace_back("--no-bridge: nothing left to serve without --fix-port");
  // FIX times are UTC by the standard: a FIX acceptor has no trade-server zone to model.
  if (o.server_utc_offset_s != 0 && fix)
    problems.emplace_back("--server-utc-offset-s: not with --fix-port (FIX is UTC)");
  if (fix) {
    for (const auto& problem : fix->validate()) problems.push_back(as_given(problem));
    for (auto& problem : fix_tag_problems(o)) problems.push_back(std::move(problem));
  }
  for (const auto& problem : problems) spdlog::error("mt5-sim: {}", problem);
  return problems.empty();
}

int run(const sigset_t& stop_signals, const Options& o) {
  const auto server_clock = std::make_shared<TradeServerClock>(o.server_utc_offset_s);
  auto bridge_options = server_options(o);
  bridge_options.clock = server_clock;
  std::optional<fix::FixServerOptions> fix_server_options;
  if (o.fix_port > 0) fix_server_options = fix_options(o);
  if (!servers_configured(o, fix_server_options)) return kExitOptions;

  sim::SimOptions sim_options;
  sim_options.seed = o.seed;
  sim_options.clock = server_clock;
  auto liquidity = max_fill_lots(o.max_fill_lots);
  if (!liquidity) return kExitOptions;
  sim_options.max_fill_lots = std::move(*liquidity);
  sim::SimulatedBroker broker(sim_options);
  // Each server sets the broker's listeners as its own: the share gives each a seat.
  const bool serve_bridge = !o.no_bridge;
  permiso::mt5_sim_app::BrokerShare share(broker, (serve_bridge ? 1U : 0U) + (fix_server_options ? 1U : 0U));
  std::optional<terminal::BridgeServer> bridge;
  std::optional<fix::FixServer> fix;
  try {
    if (serve_bridge) bridge.emplace(share.seat(0), bridge_options);
    if (fix_server_options) fix.emplace(share.seat(serve_bridge ? 1 : 0), *fix_server_options);
    if (fix) fix->start();
  } catch (const std::exception& e) {
    spdlog::error("mt5-sim: {}", e.what());
    return kExitBind;
  }
  if (bridge) {
    broker.backfill(bridge->history());  // a terminal's charts have history before it is asked
    if (bridge_options.token.empty()) spdlog::warn("MT5_TERMINAL_TOKEN is not set: commands need no token");
    bridge->start();
    spdlog::info("mt5-sim listening: commands {}, events {}, trade server at UTC{:+} s", bridge->command_endpoint(),
                 bridge->event_endpoint(), o.server_utc_offset_s);
  }
  if (fix) {
    const auto renumbered = fixtags::describe(fix_server_options->tags);
    spdlog::info("mt5-sim listening: FIX 4.4 on port {} as {}{}", o.fix_port, o.fix_comp_id,
                 renumbered.empty() ? "" : ", custom fields renumbered " + renumbered);
  }
  broker.start(std::chrono::milliseconds(o.tick_ms));

  const int signal = wait_for_stop_signal(stop_signals);
  spdlog::info("mt5-sim: received {}, stopping", signal == SIGINT ? "SIGINT" : "SIGTERM");
  broker.stop();
  if (fix) fix->stop();
  if (bridge) bridge->stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const sigset_t stop_signals = block_stop_signals();  // before any thread exists
  CLI::App app{"mt5-sim: the simulated MT5 broker as a counterparty, over the PermisoBridge protocol and/or FIX 4.4"};
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
