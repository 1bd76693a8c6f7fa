// mt5-api's connector to a MetaTrader 5 terminal running the PermisoBridge Expert Advisor
// (MT5_BROKER=terminal; docs/brokers.md). Commands go over a CommandLink, one at a time and
// each bounded by a timeout; ticks, trade events and heartbeats arrive on a subscription. The
// connector's own thread keeps the link: it says hello until the terminal answers, re-reads
// every account it serves once a second (the mirror then answers the gateway's reads), and
// delivers what changed on the terminal's side to the gateway's change listener.
#pragma once

#include "common/clock.hpp"
#include "trading/bars.hpp"
#include "trading/broker.hpp"
#include "trading/mirror.hpp"
#include "trading/terminal/command_link.hpp"

#include <zmq.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

namespace permiso::trading::terminal {

struct TerminalOptions {
  std::string command_url = "tcp://127.0.0.1:5555";
  std::string event_url = "tcp://127.0.0.1:5556";
  std::string token;  // MT5_TERMINAL_TOKEN; never logged
  /// One command's limit; a terminal silent for longer counts as gone.
  std::chrono::milliseconds timeout{5000};
  /// The account the terminal must be logged in to (MT5_LOGIN); another one is refused.
  std::optional<Login> expected_login;
  /// How often the link is checked and every served account re-read.
  std::chrono::milliseconds refresh_interval{1000};
  std::size_t recent_deals_per_account = 1000;
  /// Chart history read at connect (backfill()): the newest bars of every symbol in every
  /// timeframe, at most kMaxRatesPerCommand. 500 is M1's last 8 hours, D1's last two years;
  /// 0: none (charts start at connect).
  std::size_t backfill_bars = 500;
  std::shared_ptr<const Clock> clock;  // null: the system clock
};

class TerminalBroker final : public Broker {
 public:
  explicit TerminalBroker(TerminalOptions options);
  ~TerminalBroker() override;  // stop()
  TerminalBroker(const TerminalBroker&) = delete;
  TerminalBroker& operator=(const TerminalBroker&) = delete;

  /// Starts the link thread (idempotent); stop() joins it (idempotent).
  void start();
  void stop();
  /// Waits until the terminal has answered hello and listed its symbols (start-up: the
  /// gateway's instruments come from there). False when `limit` passed first.
  bool wait_until_connected(std::chrono::milliseconds limit);
  /// Re-reads every account now, on the caller's thread, and delivers what changed: the
  /// gateway calls it once it listens, so it serves nothing older than the terminal's state
  /// (an order the terminal executed while the gateway was down included). False when the
  /// terminal did not answer.
  bool reconcile_now();
  /// The terminal's trade server clock minus UTC, in seconds, as its last hello reported it
  /// (the times it sends are UTC already); nullopt before a hello, or from an EA too old to say.
  [[nodiscard]] std::optional<std::int64_t> server_utc_offset_s() const;
  /// Loads the terminal's chart history (the `rates` command, backfill_bars a timeframe) into
  /// `bars`, on the caller's thread: the gateway calls it once connected, before live ticks
  /// feed the same bars. Returns the bars loaded; stops early if the terminal stops answering
  /// or is an EA without `rates`.
  std::size_t backfill(BarBuilder& bars);

  // ---- Broker ----
  [[nodiscard]] std::string_view name() const override { return "terminal"; }
  [[nodiscard]] bool connected() const override;
  /// A terminal is one account: it is bound to the first principal, and refused to others.
  SendOutcome open_account(std::string_view name, std::string_view currency, int leverage, double deposit) override;
  /// Seeds the mirror with the persisted rows: the next re-read reports what the terminal
  /// changed meanwhile (positions closed, orders filled) as changes to persist.
  void restore(const BrokerState& state) override;
  [[nodiscard]] std::optional<AccountInfo> account_info(Login login) const override;
  [[nodiscard]] std::vector<SymbolInfo> symbols_get() const override;
  [[nodiscard]] std::optional<SymbolInfo> symbol_info(std::string_view symbol) const override;
  [[nodiscard]] std::optional<Tick> symbol_info_tick(std::string_view symbol) const override;
  SendOutcome order_send(Login login, const TradeRequest& request) override;
  [[nodiscard]] std::vector<Position> positions_get(Login login, std::string_view symbol = {}) const override;
  [[nodiscard]] std::optional<Position> position_get(Login login, Ticket ticket) const override;
  [[nodiscard]] std::vector<Position> positions_page(Login login, std::string_view symbol, std::optional<Ticket> below,
                                                     std::size_t limit) const override;
  [[nodiscard]] std::size_t positions_total(Login login) const override;
  [[nodiscard]] std::vector<Order> orders_get(Login login, std::string_view symbol = {}) const override;
  [[nodiscard]] std::vector<Deal> history_deals_get(Login login, TimeMs from_msc, TimeMs to_msc) const override;
  void set_change_listener(ChangeListener listener) override;
  void set_tick_listener(TickListener listener) override;

 private:
  struct Hello {
    Login login = 0;
    bool multi_account = false;
    bool trade_server_connected = false;
    std::optional<std::int64_t> server_utc_offset_s;
  };
  void run(const std::stop_token& stop);
  bool handshake();
  void log_clock(const Hello& now, const std::optional<Hello>& before) const;
  /// One symbol's history in one timeframe; nullopt when the backfill must stop.
  std::optional<std::size_t> backfill_one(BarBuilder& bars, const std::string& symbol, Timeframe tf);
  bool refresh_account(Login login);
  bool refresh_all(const std::stop_token& stop);
  void on_event(std::string_view frame);
  void deliver(const Changes& changes);
  void link_lost();
  void report(const std::string& problem);  // logs a problem once, until the link is up again
  [[nodiscard]] bool listening() const;
  /// The exchange's reply when it is an OK answer, else nullopt (and the link's state updated).
  std::optional<Reply> answered(const Exchange& exchange);
  [[nodiscard]] TimeMs now_ms() const { return clock_->now_ms(); }

  const TerminalOptions options_;
  std::shared_ptr<const Clock> clock_;
  zmq::context_t context_;
  CommandLink link_;
  Mirror mirror_;
  ChangeListener on_change_;
  TickListener on_tick_;

  std::atomic<bool> link_up_{false};          // the terminal answered its last command in time
  std::atomic<bool> trade_server_up_{false};  // the terminal's own connection to its server
  std::atomic<bool> resync_wanted_{false};
  mutable std::mutex hello_mu_;
  std::optional<Hello> hello_;
  std::set<Login> restored_logins_;
  std::string last_problem_;
  bool single_account_bound_ = false;
  std::condition_variable connected_cv_;
  mutable std::mutex
      listener_mu_;  // listeners are called under it: after set_*_listener returns, the old one is never called
  std::jthread thread_;
};

}  // namespace permiso::trading::terminal
