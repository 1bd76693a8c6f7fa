// mt5-api's FIX 4.4 connector (MT5_BROKER=fix; docs/fix.md). QuickFIX keeps the session
// (logon, heartbeats, sequence numbers, resend); this class maps the Broker interface onto the
// messages: an order is a NewOrderSingle answered by an ExecutionReport, and the mirror answers
// the gateway's reads without a round trip. The mirror's positions follow the ExecutionReports:
// the answers to our orders, and the unsolicited ones for what the broker did on its own (a stop
// hit, an order triggered, a stop-out). Each served account's collateral is re-read once a
// second (one message whatever the account holds); the whole account (positions, pending
// orders, and the deals that explain what went) is listed on every logon, and otherwise once
// per full_read_interval, one account per round, to repair what no report told (a trade through
// another replica, a report lost). ClOrdID is the idempotency key: an order whose answer was
// lost is asked about (OrderStatusRequest) after the next logon, never sent again under a new id.
// A counterparty without RequestForPositions or CollateralInquiry is served from the gateway's
// own ledger (ledger.hpp): positions from the deals, the account from the deals and the quotes.
#pragma once

#include "common/clock.hpp"
#include "trading/broker.hpp"
#include "trading/fix/ledger.hpp"
#include "trading/fix/mapping.hpp"
#include "trading/fix/message.hpp"
#include "trading/fix/session_engine.hpp"
#include "trading/mirror.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace permiso::trading::fix {

struct FixOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string sender_comp_id = "PERMISO";
  std::string target_comp_id = "MT5SIM";
  /// A second session for market data (brokers that split quotes from trading); empty: quotes
  /// come over the trade session.
  std::string quote_target_comp_id;
  std::string username;
  std::string password;  // never logged
  /// The account the session must serve (MT5_LOGIN): a counterparty answering for another one
  /// is refused.
  std::optional<Login> expected_login;
  std::string store_dir;  // QuickFIX's file store and the dictionary; empty: in memory
  bool tls = false;
  std::string ca_file;
  int heartbeat_seconds = 30;
  int reconnect_seconds = 1;
  /// One request's limit: an order unanswered for longer is reported as Retcode::Timeout (its
  /// outcome is settled after the next logon).
  std::chrono::milliseconds timeout{5000};
  /// How often every served account's collateral is re-read (CollateralInquiry).
  std::chrono::milliseconds refresh_interval{1000};
  /// How often each served account is listed whole (RequestForPositions, OrderMassStatusRequest,
  /// and trade captures when a row went): the bound for what no ExecutionReport tells. The
  /// accounts' listings are spread over the interval's rounds, the longest unlisted first. A
  /// listing is O(the account's positions) on the session's one ordered stream, so every order
  /// sent meanwhile waits behind it: it is kept off the per-second read.
  std::chrono::milliseconds full_read_interval{30000};
  std::size_t recent_deals_per_account = 1000;
  TagMap tags;
  /// Keep the accounts' open positions, or their collateral, in the gateway's own ledger from the
  /// start (MT5_FIX_LEDGER), for a counterparty that never answers RequestForPositions or
  /// CollateralInquiry. One that refuses them as unsupported (a BusinessMessageReject) is
  /// switched to the ledger when it does, whatever these say.
  bool ledger_positions = false;
  bool ledger_collateral = false;
  /// The ledger's currency and leverage for an account no CollateralReport ever described (the
  /// gateway opens accounts with these).
  std::string ledger_currency = "USD";
  int ledger_leverage = 100;
  std::shared_ptr<const Clock> clock;  // null: the system clock
};

class FixBroker final : public Broker, private SessionHandler {
 public:
  /// Validates the options (throws std::runtime_error); start() connects.
  explicit FixBroker(FixOptions options);
  ~FixBroker() override;  // stop()
  FixBroker(const FixBroker&) = delete;
  FixBroker& operator=(const FixBroker&) = delete;

  void start();  // the session and the link thread; idempotent
  void stop();   // logs out and joins; idempotent
  /// Waits until the trade session is logged on and the instruments are read. False when
  /// `limit` passed first.
  bool wait_until_connected(std::chrono::milliseconds limit);
  /// Lists every served account whole now, on the caller's thread, and delivers what changed.
  /// False when the counterparty did not answer.
  bool reconcile_now();
  /// Tests: drops the trade session's connection (QuickFIX reconnects).
  void drop_connection();
  /// Whether the open positions (the collateral) come from the gateway's own ledger.
  [[nodiscard]] bool keeps_own_positions() const { return own_positions_; }
  [[nodiscard]] bool keeps_own_collateral() const { return own_collateral_; }

  // ---- Broker ----
  [[nodiscard]] std::string_view name() const override { return "fix"; }
  [[nodiscard]] bool connected() const override;
  SendOutcome open_account(std::string_view name, std::string_view currency, int leverage, double deposit) override;
  void restore(const BrokerState& state) override;
  /// Reads the account (collateral, positions, orders, deals) and adds it to the re-read.
  bool attach_account(Login login) override;
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
  /// The answers to one request, gathered until the last one arrived.
  struct Waiter {
    std::vector<Message> messages;
    bool done = false;
  };
  /// An order sent and not yet settled: asked about after a reconnect, once its own call has
  /// given up waiting (while it waits, its answer may still come, resent after the logon).
  struct InFlight {
    Login login = 0;
    std::string symbol;
    OrderType type = OrderType::Buy;
    bool awaited = true;  // order_send is still waiting for the answer
  };

  // SessionHandler (QuickFIX's threads)
  void on_logon(const std::string& session) override;
  void on_logout(const std::string& session) override;
  void on_message(const std::string& session, const std::string& text) override;
  void on_log(const std::string& session, const std::string& line) override;

  /// Sends `request` and waits for the answers filed under `key` (the request's id), up to the
  /// timeout. nullopt: not sent, or not answered in time.
  /// `not_sent`, when given, tells "never left" (the session is down, or the dictionary refused
  /// the message) from "sent and unanswered".
  std::optional<std::vector<Message>> call(const std::string& session, const std::string& key, const Message& request,
                                           bool* not_sent = nullptr);
  /// Files an answer under its request's key; true when the message was an answer awaited.
  bool file_answer(const std::string& key, Message message, bool last);
  void on_quote(const Message& message);
  /// A request refused: one refused as unsupported switches its part to the ledger; the refusal
  /// answers the request it names (BusinessRejectRefID), which would otherwise time out.
  void on_business_reject(const Message& message);
  void use_ledger_for(std::string_view msg_type);
  void on_unsolicited(const Message& message);

  void run(const std::stop_token& stop);
  /// Waits a little for a logon or a broker event, and does a logon's work when one happened.
  void wait_and_log_on();
  bool after_logon();
  bool read_symbols();
  void subscribe_quotes();
  void settle_in_flight();
  /// Lists every served account whole (logon, the listener set, an answer lost).
  bool refresh_all();
  /// Lists one account whole; the changes found, or nullopt when the counterparty did not answer.
  std::optional<Changes> refresh_account(Login login);
  /// The snapshot's open positions, and the deals that explain what went: listed by the
  /// counterparty (RequestForPositions), or replayed by the ledger. False when unanswered.
  bool list_positions(Login login, AccountSnapshot& snap);
  /// The ledger's positions: the mirror's, after the deals it does not hold yet (another
  /// replica's trades, the broker's closes), read since the last replay.
  bool replay_positions(Login login, AccountSnapshot& snap);
  /// The ledger's account: its balance after `deals` and every deal the mirror holds, its
  /// floating figures from `open` at the latest quotes. nullopt for an account it cannot serve.
  std::optional<AccountInfo> ledger_account(Login login, const std::vector<Deal>& deals, std::vector<Position> open);
  /// Profit and margin of the open positions in the account's currency (`open` is marked).
  [[nodiscard]] std::pair<double, double> floating(const AccountInfo& account, std::vector<Position>& open) const;
  /// refresh_account, delivered, and the time noted for the schedule (`backdate` earlier).
  bool list_account(Login login, std::chrono::milliseconds backdate = {});
  /// Every account's collateral, then the listings due.
  bool read_round();
  /// The accounts an event asked to be listed at once.
  bool list_accounts_asked_for();
  [[nodiscard]] std::vector<Login> overdue_accounts();
  /// One CollateralInquiry, delivered when the account changed.
  bool reread_collateral(Login login);
  /// The reports of what the broker did on its own, applied as our orders' answers are.
  void apply_broker_events();
  void apply_broker_event(const Execution& execution);
  /// Lists the account now and again at the next round: a report about a position the mirror
  /// does not hold yet may be overtaken by the order's answer that opens it.
  void ask_full_read(Login login);
  [[nodiscard]] bool serves(Login login) const;
  void deliver(const Changes& changes);
  [[nodiscard]] bool listening() const;
  [[nodiscard]] std::string next_id(char prefix);
  [[nodiscard]] TimeMs now_ms() const { return clock_->now_ms(); }

  struct OpenedAccount {
    std::optional<Login> login;  // nullopt: refused
    SendOutcome refused;
    Changes history;  // the account's deals so far
  };
  /// U1 → U2 (mt5-sim in multi-account mode), then the new account's deals.
  OpenedAccount open_demo_account(const AccountOpenRequest& request);
  /// Forgets the ClOrdIDs of pending orders no longer pending.
  void forget_finished_orders(Login login, const std::vector<Order>& pending);
  SendOutcome send_order(Login login, const OrderRequest& order);
  SendOutcome settle_execution(Login login, const Execution& execution);
  void settle_order_row(const Message& report, SendOutcome& out);
  SendOutcome settle_refusal(const RequestRefusal& refusal, const TradeRequest& request);
  [[nodiscard]] std::optional<Position> position_after_fill(Login login, const Execution& execution) const;
  [[nodiscard]] double realised_profit(Login login, const Position& position) const;
  /// The position's current price and floating profit from the quotes the mirror holds (the
  /// ExecutionReport gives neither; the next listing brings the broker's own figures).
  void mark_to_market(Login login, Position& position) const;
  void mark_to_market(Login login, std::vector<Position>& rows) const;
  /// What marking a position of one symbol takes; nullopt without the symbol or a quote.
  struct MarketMark {
    double contract_size = 0;
    Tick tick;
    std::optional<double> rate;  // profit currency → account currency; nullopt: none quoted
  };
  [[nodiscard]] std::optional<MarketMark> market_mark(const std::string& symbol,
                                                      const std::string& account_currency) const;
  static void apply_mark(const MarketMark& mark, Position& position);
  /// Account currency per unit of `from`, from a quoted pair; nullopt when none is quoted.
  [[nodiscard]] std::optional<double> conversion_rate(const std::string& from, const std::string& to) const;
  /// One CollateralInquiry: the account as the counterparty has it now.
  std::optional<AccountInfo> read_account(Login login);
  /// The CollateralReport itself (its account is nullopt for one the counterparty does not
  /// serve); nullopt when unanswered.
  std::optional<CollateralReport> read_collateral(Login login);
  /// The account's deals with from_msc <= time < to_msc (TradeCaptureReports); nullopt when
  /// unanswered.
  std::optional<std::vector<Deal>> read_deals(Login login, TimeMs from_msc, TimeMs to_msc);
  void include_own_rows(Login login, Ticket position, Changes& changes) const;
  [[nodiscard]] std::string cl_ord_id_of(Ticket order) const;

  const FixOptions options_;
  std::shared_ptr<const Clock> clock_;
  std::string trade_session_;
  std::string quote_session_;
  Mirror mirror_;
  std::unique_ptr<SessionEngine> engine_;

  mutable std::mutex waiters_mu_;
  std::condition_variable waiters_cv_;
  /// By the key the answers carry. Two calls may share a key (an order's status request sent
  /// while the order awaits its answer, a keyed order's retry): the answers go to them in the
  /// order they were sent, as the counterparty answers in that order.
  using Waiters = std::multimap<std::string, Waiter, std::less<>>;
  Waiters waiters_;

  mutable std::mutex state_mu_;
  std::condition_variable state_cv_;
  bool trade_logged_on_ = false;
  bool quote_logged_on_ = false;
  bool symbols_read_ = false;
  bool logon_work_due_ = false;                // a logon happened: re-subscribe, settle, re-read
  bool link_work_due_ = false;                 // a broker event or a listing asked for
  std::map<std::string, InFlight> in_flight_;  // by ClOrdID
  struct SentOrder {
    Login login = 0;
    std::string cl_ord_id;
  };
  std::map<Ticket, SentOrder> cl_ord_ids_;  // pending order ticket → its ClOrdID
  std::set<Login> served_logins_;           // every account opened or restored
  std::atomic<bool> resync_wanted_{false};  // list every account at the next turn
  std::vector<Execution> broker_events_;    // unsolicited reports, for the link thread
  std::set<Login> full_read_wanted_;        // accounts to list at the next turn
  std::set<Login> full_read_again_;         // and at the next round after it
  std::map<Login, std::chrono::steady_clock::time_point> last_full_read_;
  std::map<Login, TimeMs> ledger_read_from_;  // where the ledger's next deal read starts
  std::atomic<bool> own_positions_;
  std::atomic<bool> own_collateral_;
  BalanceBook balances_;
  std::atomic<std::uint64_t> next_id_{0};
  std::string id_prefix_;  // distinguishes this process's ids from an earlier one's

  mutable std::mutex listener_mu_;
  ChangeListener on_change_;
  TickListener on_tick_;
  std::jthread thread_;
};

}  // namespace permiso::trading::fix
