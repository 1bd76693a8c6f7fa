// Any Broker served over FIX 4.4 messages (docs/fix.md), as a broker's FIX gateway serves its
// matching engine: mt5-sim runs it over the simulated broker, and the FIX connector's tests run
// against it. Independent of sockets: messages arrive as text through SessionHandler and leave
// through a Send function, so the session engine (FixServer) or a test can carry them.
#pragma once

#include "trading/broker.hpp"
#include "trading/fix/mapping.hpp"
#include "trading/fix/message.hpp"
#include "trading/fix/session_engine.hpp"

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace permiso::trading::fix {

struct CounterpartyOptions {
  /// true: AccountOpenRequest opens a demo account per request; false: one account, opened by
  /// the first request and answered to every later one (a real broker's session is one account;
  /// BridgeServer's single mode does the same with account_open).
  bool multi_account = true;
  std::string username;  // the Logon's Username (553)
  std::string password;  // the Logon's Password (554); compared in constant time; empty refuses every logon
  /// Answers kept per account by ClOrdID, so a request sent again (a resend, a retry, another
  /// replica's copy of it) is answered again, never executed twice; a refused new order is not kept. An answer is ~0.5
  /// KiB of FIX text: 100,000 are ~50 MiB for a busy account.
  std::size_t remembered_answers = 100'000;
  TagMap tags;
  /// Our SenderCompID on market-data sessions, for brokers that split quotes from trading
  /// (the connector's MT5_FIX_QUOTE_TARGET_COMP_ID): such a session is served MarketDataRequest
  /// only, and hears no ExecutionReports. Empty: none.
  std::string quote_comp_id;
  /// Requests answered by a BusinessMessageReject (unsupported message type), by MsgType: plays
  /// a broker without them ("AN" RequestForPositions, "BB" CollateralInquiry, ...; mt5-sim
  /// --fix-without), for the connector's ledger.
  std::set<std::string, std::less<>> unsupported;
};

/// The answers given to orders (D, G, F, U3), by account and ClOrdID, the oldest forgotten first
/// past the bound. An answer is one message, or several (an IOC order filled in part: the fill,
/// then the rest's cancel), kept in the order they were sent. Thread-safe: a ClOrdID being executed by one thread makes
/// another that asks for it wait for its answer, so a request is executed once however often it arrives.
class AnswerBook {
 public:
  explicit AnswerBook(std::size_t per_account) : per_account_(per_account) {}

  /// The answer already given to (login, cl_ord_id), waiting while another thread executes it;
  /// nullopt: the caller now executes the request and must settle() or abandon() it.
  using Answer = std::vector<std::string>;  // the messages' FIX texts, in order
  std::optional<Answer> claim(Login login, const std::string& cl_ord_id);
  void settle(Login login, const std::string& cl_ord_id, Answer answer);
  /// The execution failed before any answer: the ClOrdID is free again (a retry executes).
  void abandon(Login login, const std::string& cl_ord_id);
  /// The answer given to (login, cl_ord_id), waiting while it is being executed; nullopt when
  /// the request never arrived (or was forgotten).
  [[nodiscard]] std::optional<Answer> find(Login login, const std::string& cl_ord_id);

 private:
  struct Ledger {
    std::unordered_map<std::string, std::optional<Answer>> answers;  // nullopt: being executed
    std::deque<std::string> arrival;                                 // oldest first, for the bound
  };

  const std::size_t per_account_;
  std::mutex mu_;
  std::condition_variable settled_;
  std::map<Login, Ledger> ledgers_;
};

class Counterparty final : public SessionHandler {
 public:
  using Send = std::function<bool(const std::string& session, const Message& message)>;

  Counterparty(Broker& broker, CounterpartyOptions options, Send send);

  // ---- SessionHandler (the session engine's threads, one per session) ----
  bool accept_logon(const std::string& session, const std::string& username, const std::string& password,
                    std::string& reason) override;
  void on_logon(const std::string& session) override;
  void on_logout(const std::string& session) override;
  /// Never throws: a message that cannot be served is answered by a BusinessMessageReject.
  void on_message(const std::string& session, const std::string& text) override;
  void on_log(const std::string& session, const std::string& line) override;

  // ---- what the broker does (its listeners, through FixServer's delivery thread) ----
  /// Sends the tick to every subscription that has the symbol (never an older tick after a newer).
  void on_tick(std::string_view symbol, const Tick& tick);
  /// Reports what the broker did on its own (a stop hit, an order triggered, rejected or
  /// expired, a stop-out) to every logged-on session: one ExecutionReport per deal, and one per
  /// order that made no deal.
  void on_changes(const Changes& changes);

  /// The sessions logged on now, by QuickFIX name ("FIX.4.4:SENDER->TARGET").
  [[nodiscard]] std::set<std::string> logged_on() const;

 private:
  void dispatch(const std::string& session, const Message& message);
  /// A market-data session (CounterpartyOptions::quote_comp_id is its SenderCompID).
  [[nodiscard]] bool is_quote_session(const std::string& session) const;
  // One handler per message of docs/fix.md.
  void serve_order(const std::string& session, const Message& message);             // D, G, F, U3
  void serve_order_status(const std::string& session, const Message& message);      // H
  void serve_mass_status(const std::string& session, const AccountQuery& query);    // AF
  void serve_positions(const std::string& session, const AccountQuery& query);      // AN
  void serve_collateral(const std::string& session, const AccountQuery& query);     // BB
  void serve_trades(const std::string& session, const AccountQuery& query);         // AD
  void serve_security_list(const std::string& session, const AccountQuery& query);  // x
  void serve_quotes(const std::string& session, const Message& message);            // V
  void serve_account_open(const std::string& session, const Message& message);      // U1
  /// An order's answer, and whether the broker refused a new order (D): nothing happened, so its
  /// ClOrdID is free again and a retry after the refusal is executed, as the embedded simulator
  /// does. A refused replace, cancel or stops change stays the answer to its ClOrdID.
  struct Answered {
    std::vector<Message> messages;  // one, or an IOC's fill then its rest's cancel
    bool refused = false;
  };
  [[nodiscard]] Answered execute(const OrderRequest& request);
  /// A BusinessMessageReject; `ref_id` is the refused request's id, when it was readable.
  void reject(const std::string& session, const Message& message, std::string_view text,
              BusinessRejectReason reason = BusinessRejectReason::Other, std::string_view ref_id = {});

  Broker& broker_;
  const CounterpartyOptions options_;
  const std::string quote_session_prefix_;  // empty: no market-data session
  Send send_;
  AnswerBook answers_;

  /// A session's quote subscription (V): its symbols, and the newest tick time sent of each.
  struct Subscription {
    std::map<std::string, TimeMs, std::less<>> last_sent;
    /// Whether a tick of `symbol` at `time` is to be sent: a symbol of the subscription, and not
    /// older than one sent already (a V's snapshot may overtake a tick still queued), which
    /// would take the connector's quote back in time.
    bool note_sent(std::string_view symbol, TimeMs time) {
      auto it = last_sent.find(symbol);
      if (it == last_sent.end() || time < it->second) return false;
      it->second = time;
      return true;
    }
  };
  /// Subscription::note_sent for one subscription, under the lock; false when it is gone.
  bool note_sent(const std::string& session, const std::string& id, std::string_view symbol, TimeMs time);
  mutable std::mutex mu_;           // sessions_ and subscriptions_; never held across a Broker call or a send
  std::set<std::string> sessions_;  // logged on
  std::map<std::string, std::map<std::string, Subscription>> subscriptions_;  // session → MDReqID → …

  std::mutex account_mu_;  // single-account mode: two first requests open one account
  std::optional<Login> single_login_;
};

}  // namespace permiso::trading::fix
