// Any Broker served over FIX 4.4 messages (docs/fix.md), as a broker's FIX gateway serves its
// matching engine: mt5-sim runs it over the simulated broker, and the FIX connector's tests run
// against it. Independent of sockets: messages arrive as text through SessionHandler and leave
// through a Send function, so the session engine (FixServer) or a test can carry them.
#pragma once

#include "trading/broker.hpp"
#include "trading/fix/mapping.hpp"
#include "trading/fix/message.hpp"
#include "trading/fix/session_engine.hpp"

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

namespace permiso::trading::fix {

struct CounterpartyOptions {
  /// true: AccountOpenRequest opens a demo account per request; false: one account, opened by
  /// the first request and answered to every later one (as a real broker's session is).
  bool multi_account = true;
  std::string username;  // the Logon's Username (553)
  std::string password;  // the Logon's Password (554); compared in constant time
  /// Answers kept by ClOrdID, so a request sent again is answered again, never executed twice.
  std::size_t remembered_answers = 100'000;
  TagMap tags;
};

class Counterparty final : public SessionHandler {
 public:
  using Send = std::function<bool(const std::string& session, const Message& message)>;

  Counterparty(Broker& broker, CounterpartyOptions options, Send send);

  // ---- SessionHandler (the session engine's threads) ----
  bool accept_logon(const std::string& session, const std::string& username, const std::string& password,
                    std::string& reason) override;
  void on_logon(const std::string& session) override;
  void on_logout(const std::string& session) override;
  void on_message(const std::string& session, const std::string& text) override;
  void on_log(const std::string& session, const std::string& line) override;

  // ---- what the broker does (its listeners, from the composition root) ----
  /// Sends the tick to every session subscribed to the symbol.
  void on_tick(std::string_view symbol, const Tick& tick);
  /// Reports what the broker did on its own (a stop hit, an order triggered or expired) to
  /// every logged-on session: one ExecutionReport per deal, or per order when none.
  void on_changes(const Changes& changes);

 private:
  void dispatch(const std::string& session, const Message& message);
  void serve_order(const std::string& session, const Message& message);
  [[nodiscard]] Message execute(const OrderRequest& request);
  void serve_order_status(const std::string& session, const Message& message);
  void serve_query(const std::string& session, const AccountQuery& query);
  void serve_mass_status(const std::string& session, const AccountQuery& query);
  void serve_positions(const std::string& session, const AccountQuery& query);
  void serve_collateral(const std::string& session, const AccountQuery& query);
  void serve_trades(const std::string& session, const AccountQuery& query);
  void serve_security_list(const std::string& session, const AccountQuery& query);
  void serve_quotes(const std::string& session, const Message& message);
  void serve_account_open(const std::string& session, const Message& message);
  void reject(const std::string& session, const Message& message, std::string_view text);

  /// The answer already given to `cl_ord_id`, if any; else marks it as being answered.
  std::optional<Message> begin_answer(const std::string& cl_ord_id, bool& in_progress);
  void remember_answer(const std::string& cl_ord_id, const Message& answer);
  [[nodiscard]] std::set<std::string> logged_on() const;

  Broker& broker_;
  const CounterpartyOptions options_;
  Send send_;

  mutable std::mutex mu_;
  std::set<std::string> sessions_;  // logged on
  /// Per session: the quote subscription's MDReqID and symbols.
  struct Subscription {
    std::string id;
    std::set<std::string, std::less<>> symbols;
  };
  std::map<std::string, Subscription> subscriptions_;
  std::map<std::string, std::optional<Message>> answers_;  // by ClOrdID; nullopt: being answered
  std::deque<std::string> answer_order_;                   // oldest first, for the bound
  std::mutex account_mu_;                                  // single-account mode's first open
  std::optional<Login> single_login_;
};

}  // namespace permiso::trading::fix
