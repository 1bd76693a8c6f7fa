// See counterparty.hpp. One handler per message of docs/fix.md: decode, call the broker,
// encode the answer. Nothing leaves on_message as an exception.
#include "trading/fix/counterparty.hpp"

#include "common/secret_compare.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <limits>
#include <utility>
#include <vector>

namespace permiso::trading::fix {
namespace {

constexpr std::string_view kMalformed = "a required field is missing or malformed";

template <class Row>
const Row* with_ticket(const std::vector<Row>& rows, Ticket ticket) {
  auto it = std::find_if(rows.begin(), rows.end(), [&](const Row& r) { return r.ticket == ticket; });
  return it != rows.end() ? &*it : nullptr;
}

/// ExecType of a request's success (docs/fix.md, the ExecType table).
char exec_type_of(TradeAction action, bool dealt) {
  if (dealt) return 'F';
  switch (action) {
    case TradeAction::Modify:
      return '5';
    case TradeAction::Remove:
      return '4';
    default:
      return '0';  // a pending order placed
  }
}

/// The order's row of the outcome, or what the request said when the broker made none (a
/// refusal, or a request that touches no order).
Order order_of(const OrderRequest& request, const SendOutcome& outcome) {
  if (const auto* order = with_ticket(outcome.changes.orders, outcome.result.order)) return *order;
  Order o;
  o.ticket = outcome.result.order;
  o.login = request.login;
  o.symbol = request.request.symbol;
  o.type = request.request.type;
  o.state = is_success(outcome.result.retcode) ? OrderState::Filled : OrderState::Rejected;
  o.type_filling = request.request.type_filling;
  o.volume_initial = request.request.volume;
  o.price_open = request.request.price;
  o.sl = request.request.sl;
  o.tp = request.request.tp;
  o.magic = request.request.magic;
  o.comment = request.request.comment;
  o.position_id = request.request.position;
  return o;
}

/// The ExecutionReport answering a D, G or F: the result, the order's row, and the deal when
/// the request made one.
Execution execution_of(const OrderRequest& request, const SendOutcome& outcome) {
  Execution e;
  e.cl_ord_id = request.cl_ord_id;
  e.orig_cl_ord_id = request.orig_cl_ord_id;
  e.result = outcome.result;
  e.order = order_of(request, outcome);
  if (const auto* deal = with_ticket(outcome.changes.deals, outcome.result.deal)) e.deal = *deal;
  e.closing = e.deal && e.deal->entry == DealEntry::Out;
  if (e.result.position == 0) e.result.position = e.deal ? e.deal->position_id : e.order.position_id;
  e.exec_type = is_success(e.result.retcode) ? exec_type_of(request.request.action, e.deal.has_value()) : '8';
  return e;
}

/// The report that follows an IOC order's partial fill (FIX 4.4, ExecutionReport for an IOC
/// order: what cannot be filled at once is canceled): ExecType 4, OrdStatus 4, CumQty the
/// filled volume, LeavesQty 0, answering the same ClOrdID with the same Mt5Retcode
/// (DONE_PARTIAL). nullopt for any other outcome.
std::optional<Execution> cancelled_rest(const Execution& fill) {
  if (fill.exec_type != 'F' || fill.order.state != OrderState::Canceled || fill.order.volume_current <= 0) {
    return std::nullopt;
  }
  Execution rest = fill;
  rest.exec_type = '4';
  rest.deal.reset();
  return rest;
}

/// An ExecutionReport for a deal the broker made on its own (a stop hit, an order triggered, a
/// stop-out), with the order that made it.
Execution unsolicited_fill(const Deal& deal, const Changes& changes) {
  Execution e;
  e.exec_type = 'F';
  e.result.retcode = Retcode::Done;
  e.result.deal = deal.ticket;
  e.result.order = deal.order;
  e.result.position = deal.position_id;
  e.result.volume = deal.volume;
  e.result.price = deal.price;
  if (const auto* order = with_ticket(changes.orders, deal.order)) {
    e.order = *order;
  } else {
    e.order.ticket = deal.order;
    e.order.login = deal.login;
    e.order.symbol = deal.symbol;
    e.order.type = deal.type == DealType::Sell ? OrderType::Sell : OrderType::Buy;
    e.order.state = OrderState::Filled;
    e.order.volume_initial = deal.volume;
    e.order.position_id = deal.position_id;
  }
  e.deal = deal;
  e.closing = deal.entry == DealEntry::Out;
  return e;
}

/// An ExecutionReport for an order the broker changed without a deal: expired, rejected when it
/// triggered (not enough money), cancelled. nullopt for a state that needs a deal to report.
std::optional<Execution> unsolicited_order(const Order& order) {
  Execution e;
  switch (order.state) {
    case OrderState::Expired:
      e.exec_type = 'C';
      e.result.retcode = Retcode::Done;
      break;
    case OrderState::Canceled:
      e.exec_type = '4';
      e.result.retcode = Retcode::Done;
      break;
    case OrderState::Rejected:
      e.exec_type = '8';
      e.result.retcode = Retcode::Reject;
      e.result.comment = order.comment;  // the broker's words ("Not enough money")
      break;
    case OrderState::Started:
    case OrderState::Placed:
      e.exec_type = '0';
      e.result.retcode = Retcode::Placed;
      break;
    case OrderState::Partial:
    case OrderState::Filled:
      return std::nullopt;  // reported with its deal
  }
  e.result.order = order.ticket;
  e.result.position = order.position_id;
  e.order = order;
  return e;
}

std::string one_line(const std::string& line) {
  std::string readable = line;
  std::replace(readable.begin(), readable.end(), kSoh, '|');
  return readable;
}

}  // namespace

// ---------------------------------------------------------------- the answer book

std::optional<AnswerBook::Answer> AnswerBook::claim(Login login, const std::string& cl_ord_id) {
  std::unique_lock lock(mu_);
  for (;;) {
    Ledger& ledger = ledgers_[login];
    auto [it, inserted] = ledger.answers.try_emplace(cl_ord_id, std::nullopt);
    if (inserted) {
      ledger.arrival.push_back(cl_ord_id);
      // Past the bound the oldest goes, even one still executing (its answer is then not
      // kept): that takes the bound's worth of newer requests of one account meanwhile.
      while (ledger.arrival.size() > per_account_) {
        ledger.answers.erase(ledger.arrival.front());
        ledger.arrival.pop_front();
      }
      return std::nullopt;
    }
    if (it->second) return it->second;
    settled_.wait(lock);  // another session's thread executes it: its answer is ours too
  }
}

void AnswerBook::settle(Login login, const std::string& cl_ord_id, Answer answer) {
  {
    std::lock_guard lock(mu_);
    auto& answers = ledgers_[login].answers;
    if (auto it = answers.find(cl_ord_id); it != answers.end()) it->second = std::move(answer);
  }
  settled_.notify_all();
}

void AnswerBook::abandon(Login login, const std::string& cl_ord_id) {
  {
    std::lock_guard lock(mu_);
    Ledger& ledger = ledgers_[login];
    if (auto it = ledger.answers.find(cl_ord_id); it != ledger.answers.end() && !it->second) {
      ledger.answers.erase(it);
      std::erase(ledger.arrival, cl_ord_id);
    }
  }
  settled_.notify_all();
}

std::optional<AnswerBook::Answer> AnswerBook::find(Login login, const std::string& cl_ord_id) {
  std::unique_lock lock(mu_);
  for (;;) {
    auto ledger = ledgers_.find(login);
    if (ledger == ledgers_.end()) return std::nullopt;
    auto it = ledger->second.answers.find(cl_ord_id);
    if (it == ledger->second.answers.end()) return std::nullopt;
    if (it->second) return it->second;
    settled_.wait(lock);
  }
}

// ---------------------------------------------------------------- sessions

Counterparty::Counterparty(Broker& broker, CounterpartyOptions options, Send send)
    : broker_(broker),
      options_(std::move(options)),
      quote_session_prefix_(options_.quote_comp_id.empty() ? "" : session_name({options_.quote_comp_id, ""})),
      send_(std::move(send)),
      answers_(std::max<std::size_t>(options_.remembered_answers, 1)) {}

bool Counterparty::accept_logon(const std::string& session, const std::string& username, const std::string& password,
                                std::string& reason) {
  // Both compared, whatever the first says: the answer's timing tells nothing, and the reason
  // does not say which was wrong.
  const bool user = secret_matches(options_.username, username);
  const bool secret = secret_matches(options_.password, password);
  if (user && secret && !options_.password.empty()) return true;
  spdlog::warn("fix: {} refused: unknown username or wrong password", session);
  reason = "unknown username or wrong password";
  return false;
}

void Counterparty::on_logon(const std::string& session) {
  spdlog::info("fix: {} logged on", session);
  std::lock_guard lock(mu_);
  sessions_.insert(session);
}

void Counterparty::on_logout(const std::string& session) {
  spdlog::info("fix: {} logged out", session);
  std::lock_guard lock(mu_);
  sessions_.erase(session);
  subscriptions_.erase(session);
}

void Counterparty::on_log(const std::string& session, const std::string& line) {
  spdlog::debug("fix {}: {}", session, one_line(line));  // the engine masked the password
  // A message QuickFIX refused against the dictionary never reaches us: worth a warning.
  if (line.starts_with("event Message ") && line.find(" Rejected: ") != std::string::npos) {
    spdlog::warn("fix {}: {} (does the initiator number our custom fields as we do?)", session, line.substr(6));
  }
}

std::set<std::string> Counterparty::logged_on() const {
  std::lock_guard lock(mu_);
  return sessions_;
}

// ---------------------------------------------------------------- messages

void Counterparty::on_message(const std::string& session, const std::string& text) {
  auto message = Message::parse(text);
  if (!message) {
    send_(session, to_fix(BusinessReject{"0", "?", BusinessRejectReason::Other, "", "unreadable message"}));
    return;
  }
  try {
    dispatch(session, *message);
  } catch (const std::exception& e) {
    spdlog::error("fix: {} {} failed: {}", session, message->type(), e.what());
    reject(session, *message, "the request failed");
  } catch (...) {
    spdlog::error("fix: {} {} failed", session, message->type());
    reject(session, *message, "the request failed");
  }
}

bool Counterparty::is_quote_session(const std::string& session) const {
  return !quote_session_prefix_.empty() && session.starts_with(quote_session_prefix_);
}

void Counterparty::dispatch(const std::string& session, const Message& m) {
  const auto type = m.type();
  if (is_quote_session(session) && type != msg::kMarketDataRequest) {
    return reject(session, m, "market data only on this session: trade on the trading session",
                  BusinessRejectReason::UnsupportedMessageType);
  }
  if (type == msg::kNewOrderSingle || type == msg::kOrderCancelReplace || type == msg::kOrderCancelRequest ||
      type == msg::kPositionModifyRequest) {
    return serve_order(session, m);
  }
  if (type == msg::kOrderStatusRequest) return serve_order_status(session, m);
  if (type == msg::kMarketDataRequest) return serve_quotes(session, m);
  if (type == msg::kAccountOpenRequest) return serve_account_open(session, m);
  const bool query = type == msg::kOrderMassStatusRequest || type == msg::kRequestForPositions ||
                     type == msg::kCollateralInquiry || type == msg::kTradeCaptureRequest ||
                     type == msg::kSecurityListRequest;
  if (!query) return reject(session, m, "unsupported message type", BusinessRejectReason::UnsupportedMessageType);
  auto q = account_query_from_fix(m, options_.tags);
  if (!q) return reject(session, m, kMalformed);
  if (options_.unsupported.contains(type)) {  // a broker without this request
    return reject(session, m, "unsupported message type", BusinessRejectReason::UnsupportedMessageType, q->id);
  }
  if (type == msg::kOrderMassStatusRequest) return serve_mass_status(session, *q);
  if (type == msg::kRequestForPositions) return serve_positions(session, *q);
  if (type == msg::kCollateralInquiry) return serve_collateral(session, *q);
  if (type == msg::kTradeCaptureRequest) return serve_trades(session, *q);
  serve_security_list(session, *q);
}

void Counterparty::reject(const std::string& session, const Message& message, std::string_view text,
                          BusinessRejectReason reason, std::string_view ref_id) {
  BusinessReject r;
  r.ref_seq_num = message.get(34).value_or("0");
  r.ref_msg_type = message.type().empty() ? "?" : message.type();
  r.reason = reason;
  r.ref_id = ref_id;
  r.text = text;
  send_(session, to_fix(r));
}

// ---- orders: D, G, F, U3 ----

void Counterparty::serve_order(const std::string& session, const Message& message) {
  auto request = order_request_from_fix(message, options_.tags);
  if (!request) return reject(session, message, kMalformed);
  if (auto earlier = answers_.claim(request->login, request->cl_ord_id)) {
    // The same ClOrdID again (a resend, a retry after a timeout): the first answer, not a second order.
    for (const auto& text : *earlier) {
      if (auto answer = Message::parse(text)) send_(session, *answer);
    }
    return;
  }
  std::optional<Answered> answer;
  try {
    answer = execute(*request);  // not under any lock of ours: the broker may take its time
  } catch (...) {
    answers_.abandon(request->login, request->cl_ord_id);
    throw;
  }
  if (answer->refused) {
    answers_.abandon(request->login, request->cl_ord_id);
  } else {
    AnswerBook::Answer texts;
    for (const auto& m : answer->messages) texts.push_back(m.text());
    answers_.settle(request->login, request->cl_ord_id, std::move(texts));
  }
  for (const auto& m : answer->messages) send_(session, m);
}

Counterparty::Answered Counterparty::execute(const OrderRequest& request) {
  // CloseBy has no FIX message: order_request_from_fix never yields it (the connector refuses it).
  const auto action = request.request.action;
  const SendOutcome outcome = broker_.order_send(request.login, request.request);
  if (action == TradeAction::SlTp) {  // U4, whatever the outcome: Mt5Retcode says which
    RequestRefusal report{
        msg::kPositionModifyReport, request.cl_ord_id,     "", 0, request.login, request.request.position, '1',
        outcome.result.retcode,     outcome.result.comment};
    return {{to_fix(report, options_.tags)}, false};
  }
  if (!is_success(outcome.result.retcode) && (action == TradeAction::Modify || action == TradeAction::Remove)) {
    RequestRefusal refused{msg::kOrderCancelReject,
                           request.cl_ord_id,
                           request.orig_cl_ord_id,
                           request.request.order,
                           request.login,
                           0,
                           action == TradeAction::Modify ? '2' : '1',
                           outcome.result.retcode,
                           outcome.result.comment};
    return {{to_fix(refused, options_.tags)}, false};
  }
  const Execution execution = execution_of(request, outcome);
  Answered answered{{to_fix(execution, options_.tags)}, !is_success(outcome.result.retcode)};
  if (auto rest = cancelled_rest(execution)) answered.messages.push_back(to_fix(*rest, options_.tags));
  return answered;
}

// ---- H: an order's status by ClOrdID ----

void Counterparty::serve_order_status(const std::string& session, const Message& message) {
  auto request = order_status_request_from_fix(message);
  if (!request) return reject(session, message, kMalformed);
  auto answered = answers_.find(request->login, request->cl_ord_id);
  // The last message says where the order ended (an IOC's: its rest cancelled).
  auto earlier = answered && !answered->empty() ? Message::parse(answered->back()) : std::nullopt;
  if (earlier && earlier->type() == msg::kExecutionReport) {
    if (auto e = execution_from_fix(*earlier, options_.tags)) {
      e->exec_type = 'I';  // the answer given, as a status
      send_(session, to_fix(*e, options_.tags));
      return;
    }
  }
  if (earlier) {  // a 9 or a U4: the answer itself says what became of the request
    send_(session, *earlier);
    return;
  }
  // Never arrived (or long forgotten): ExecType I, OrdStatus 8, OrdRejReason 5 (unknown order).
  Execution unknown;
  unknown.cl_ord_id = request->cl_ord_id;
  unknown.exec_type = 'I';
  unknown.result.retcode = Retcode::InvalidOrder;
  unknown.result.comment = "unknown order";
  unknown.order.login = request->login;
  unknown.order.symbol = request->symbol;
  unknown.order.type = request->type;
  unknown.order.state = OrderState::Rejected;
  send_(session, to_fix(unknown, options_.tags));
}

// ---- the connector's re-read: AF, AN, BB, AD, x ----

void Counterparty::serve_mass_status(const std::string& session, const AccountQuery& query) {
  const auto orders = broker_.orders_get(query.login);
  if (orders.empty()) {
    Execution none;  // OrderID NONE, TotNumReports 0, LastRptRequested Y
    none.exec_type = 'I';
    none.result.retcode = Retcode::Done;
    none.mass_status_id = query.id;
    send_(session, to_fix(none, options_.tags));
    return;
  }
  for (std::size_t i = 0; i < orders.size(); ++i) {
    Execution e;
    e.exec_type = 'I';
    e.result.retcode = Retcode::Done;
    e.result.order = orders[i].ticket;
    e.result.position = orders[i].position_id;
    e.order = orders[i];
    e.mass_status_id = query.id;
    e.total_reports = orders.size();
    e.last_report = i + 1 == orders.size();
    send_(session, to_fix(e, options_.tags));
  }
}

void Counterparty::serve_positions(const std::string& session, const AccountQuery& query) {
  const auto positions = broker_.positions_get(query.login);
  send_(session, to_fix(ReportsAck{msg::kPositionsAck, query.id, query.login, positions.size()}));
  for (std::size_t i = 0; i < positions.size(); ++i) {
    PositionReport report{query.id, positions.size(), i + 1 == positions.size(), positions[i], query.now_msc};
    send_(session, to_fix(report, options_.tags));
  }
}

void Counterparty::serve_collateral(const std::string& session, const AccountQuery& query) {
  auto account = broker_.account_info(query.login);
  send_(session,
        to_fix(CollateralReport{query.id, query.login, account, account ? "" : "unknown account"}, options_.tags));
}

void Counterparty::serve_trades(const std::string& session, const AccountQuery& query) {
  const auto deals = broker_.history_deals_get(query.login, query.from_msc, query.to_msc);  // oldest first
  send_(session, to_fix(ReportsAck{msg::kTradeCaptureAck, query.id, query.login, deals.size()}));
  for (std::size_t i = 0; i < deals.size(); ++i) {
    send_(session, to_fix(TradeCapture{query.id, deals.size(), i + 1 == deals.size(), deals[i]}, options_.tags));
  }
}

void Counterparty::serve_security_list(const std::string& session, const AccountQuery& query) {
  send_(session, to_fix(SecurityList{query.id, broker_.symbols_get()}, options_.tags));
}

// ---- quotes: V, then W per tick ----

void Counterparty::serve_quotes(const std::string& session, const Message& message) {
  auto request = quote_subscription_from_fix(message);
  if (!request) return reject(session, message, kMalformed);
  for (const auto& symbol : request->symbols) {
    if (!broker_.symbol_info(symbol)) {  // the whole request is refused, as FIX has one answer per MDReqID
      send_(session, market_data_reject(request->id, "unknown symbol " + symbol));
      return;
    }
  }
  {
    // Subscribed before the snapshots are read: a tick arriving meanwhile is sent, not lost.
    std::lock_guard lock(mu_);
    if (!sessions_.contains(session)) return;  // logged out while this was on its way
    Subscription subscription;
    for (const auto& symbol : request->symbols) subscription.last_sent[symbol] = std::numeric_limits<TimeMs>::min();
    subscriptions_[session][request->id] = std::move(subscription);  // the same MDReqID again replaces it
  }
  for (const auto& symbol : request->symbols) {
    auto tick = broker_.symbol_info_tick(symbol);
    if (tick && note_sent(session, request->id, symbol, tick->time_msc)) {
      send_(session, to_fix(QuoteSnapshot{request->id, symbol, *tick}));
    }
  }
}

bool Counterparty::note_sent(const std::string& session, const std::string& id, std::string_view symbol, TimeMs time) {
  std::lock_guard lock(mu_);
  auto by_id = subscriptions_.find(session);
  if (by_id == subscriptions_.end()) return false;
  auto subscription = by_id->second.find(id);
  return subscription != by_id->second.end() && subscription->second.note_sent(symbol, time);
}

void Counterparty::on_tick(std::string_view symbol, const Tick& tick) {
  std::vector<std::pair<std::string, std::string>> receivers;  // session, MDReqID
  {
    std::lock_guard lock(mu_);
    for (auto& [session, by_id] : subscriptions_) {
      for (auto& [id, subscription] : by_id) {
        if (subscription.note_sent(symbol, tick.time_msc)) receivers.emplace_back(session, id);
      }
    }
  }
  for (const auto& [session, id] : receivers) send_(session, to_fix(QuoteSnapshot{id, std::string(symbol), tick}));
}

// ---- what the broker did on its own ----

void Counterparty::on_changes(const Changes& changes) {
  std::vector<Message> reports;
  std::set<Ticket> dealt;  // orders reported with their deal
  for (const auto& deal : changes.deals) {
    if (deal.type == DealType::Balance) continue;
    reports.push_back(to_fix(unsolicited_fill(deal, changes), options_.tags));
    dealt.insert(deal.order);
  }
  for (const auto& order : changes.orders) {
    // An order that dealt is reported with its deal, and an IOC's cancelled rest after it.
    if (dealt.contains(order.ticket) && order.state != OrderState::Canceled) continue;
    if (auto e = unsolicited_order(order)) reports.push_back(to_fix(*e, options_.tags));
  }
  if (reports.empty()) return;
  for (const auto& session : logged_on()) {
    if (is_quote_session(session)) continue;
    for (const auto& report : reports) send_(session, report);
  }
}

// ---- U1: a demo account ----

void Counterparty::serve_account_open(const std::string& session, const Message& message) {
  auto request = account_open_request_from_fix(message, options_.tags);
  if (!request) return reject(session, message, kMalformed);
  std::lock_guard lock(account_mu_);  // single mode: two first requests open one account
  if (!options_.multi_account && single_login_) {
    // One account, as a real broker's session is: every later request is answered with it.
    send_(session, to_fix(AccountOpenReport{request->id, *single_login_, Retcode::Done, ""}, options_.tags));
    return;
  }
  const SendOutcome out = broker_.open_account(request->name, request->currency, request->leverage, request->deposit);
  if (out.changes.accounts.empty()) {
    const auto retcode = is_success(out.result.retcode) ? Retcode::Reject : out.result.retcode;
    send_(session, to_fix(AccountOpenReport{request->id, 0, retcode, out.result.comment}, options_.tags));
    return;
  }
  const Login login = out.changes.accounts.front().login;
  if (!options_.multi_account) single_login_ = login;
  send_(session, to_fix(AccountOpenReport{request->id, login, Retcode::Done, ""}, options_.tags));
}

}  // namespace permiso::trading::fix
