// See counterparty.hpp. One handler per message of docs/fix.md: decode, call the broker,
// encode the answer. Nothing leaves on_message as an exception.
#include "trading/fix/counterparty.hpp"

#include "common/secret_compare.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>

namespace permiso::trading::fix {
namespace {

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

/// The order's row of the outcome, or what the request said when the broker made none.
Order order_of(const OrderRequest& request, const SendOutcome& outcome) {
  if (const auto* order = with_ticket(outcome.changes.orders, outcome.result.order)) return *order;
  Order o;
  o.ticket = outcome.result.order;
  o.login = request.login;
  o.symbol = request.request.symbol;
  o.type = request.request.type;
  o.state = is_success(outcome.result.retcode) ? OrderState::Filled : OrderState::Rejected;
  o.volume_initial = request.request.volume;
  o.price_open = request.request.price;
  o.comment = request.request.comment;
  return o;
}

Execution execution_of(const OrderRequest& request, const SendOutcome& outcome) {
  Execution e;
  e.cl_ord_id = request.cl_ord_id;
  e.orig_cl_ord_id = request.orig_cl_ord_id;
  e.result = outcome.result;
  e.order = order_of(request, outcome);
  if (const auto* deal = with_ticket(outcome.changes.deals, outcome.result.deal)) e.deal = *deal;
  e.closing = e.deal && e.deal->entry == DealEntry::Out;
  if (e.result.position == 0) e.result.position = e.order.position_id;
  e.exec_type = is_success(e.result.retcode) ? exec_type_of(request.request.action, e.deal.has_value()) : '8';
  return e;
}

/// An ExecutionReport for what the broker did on its own: a deal (a stop hit, an order
/// triggered, a stop-out) with the order that made it.
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
  }
  e.deal = deal;
  e.closing = deal.entry == DealEntry::Out;
  return e;
}

/// An order that ended without a deal (expired, cancelled by the broker).
Execution unsolicited_end(const Order& order) {
  Execution e;
  e.exec_type = order.state == OrderState::Expired ? 'C' : '4';
  e.result.retcode = Retcode::Done;
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

Counterparty::Counterparty(Broker& broker, CounterpartyOptions options, Send send)
    : broker_(broker), options_(std::move(options)), send_(std::move(send)) {}

// ---------------------------------------------------------------- sessions

bool Counterparty::accept_logon(const std::string& session, const std::string& username, const std::string& password,
                                std::string& reason) {
  // Both compared, whatever the first says: the answer's timing tells nothing.
  const bool user = secret_matches(options_.username, username);
  const bool secret = secret_matches(options_.password, password);
  if (user && secret) return true;
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
}

std::set<std::string> Counterparty::logged_on() const {
  std::lock_guard lock(mu_);
  return sessions_;
}

// ---------------------------------------------------------------- messages

void Counterparty::on_message(const std::string& session, const std::string& text) {
  auto message = Message::parse(text);
  if (!message) {
    send_(session, business_reject("0", "?", "unreadable message"));
    return;
  }
  try {
    dispatch(session, *message);
  } catch (const std::exception& e) {
    spdlog::error("fix: {} {} failed: {}", session, message->type(), e.what());
    reject(session, *message, "the request failed");
  }
}

void Counterparty::dispatch(const std::string& session, const Message& m) {
  const auto type = m.type();
  if (type == msg::kNewOrderSingle || type == msg::kOrderCancelReplace || type == msg::kOrderCancelRequest ||
      type == msg::kPositionModifyRequest) {
    return serve_order(session, m);
  }
  if (type == msg::kOrderStatusRequest) return serve_order_status(session, m);
  if (type == msg::kMarketDataRequest) return serve_quotes(session, m);
  if (type == msg::kAccountOpenRequest) return serve_account_open(session, m);
  if (auto query = account_query_from_fix(m)) return serve_query(session, *query);
  reject(session, m,
         type == msg::kOrderMassStatusRequest || type == msg::kRequestForPositions || type == msg::kCollateralInquiry ||
                 type == msg::kTradeCaptureRequest || type == msg::kSecurityListRequest
             ? "a required field is missing or malformed"
             : "unsupported message type");
}

void Counterparty::reject(const std::string& session, const Message& message, std::string_view text) {
  send_(session, business_reject(message.get(34).value_or("0"), message.type().empty() ? "?" : message.type(), text));
}

// ---- orders: D, G, F, U3 ----

void Counterparty::serve_order(const std::string& session, const Message& message) {
  auto request = order_request_from_fix(message, options_.tags);
  if (!request) return reject(session, message, "a required field is missing or malformed");
  bool in_progress = false;
  if (auto earlier = begin_answer(request->cl_ord_id, in_progress)) {
    send_(session, *earlier);  // the same ClOrdID again: the first answer, not a second order
    return;
  }
  if (in_progress) return;  // a resend of an order being executed: its answer is on the way
  const Message answer = execute(*request);
  remember_answer(request->cl_ord_id, answer);
  send_(session, answer);
}

Message Counterparty::execute(const OrderRequest& request) {
  const auto action = request.request.action;
  if (action == TradeAction::CloseBy) {
    SendOutcome refused;
    refused.result.retcode = Retcode::Invalid;
    refused.result.comment = "close-by is not available over FIX";
    return to_fix(execution_of(request, refused), options_.tags);
  }
  const SendOutcome outcome = broker_.order_send(request.login, request.request);
  const bool ok = is_success(outcome.result.retcode);
  if (action == TradeAction::SlTp) {
    RequestRefusal report{
        msg::kPositionModifyReport, request.cl_ord_id,     "", 0, request.login, request.request.position, '1',
        outcome.result.retcode,     outcome.result.comment};
    return to_fix(report, options_.tags);
  }
  if (!ok && (action == TradeAction::Modify || action == TradeAction::Remove)) {
    RequestRefusal refused{msg::kOrderCancelReject,
                           request.cl_ord_id,
                           request.orig_cl_ord_id,
                           request.request.order,
                           request.login,
                           0,
                           action == TradeAction::Modify ? '2' : '1',
                           outcome.result.retcode,
                           outcome.result.comment};
    return to_fix(refused, options_.tags);
  }
  return to_fix(execution_of(request, outcome), options_.tags);
}

std::optional<Message> Counterparty::begin_answer(const std::string& cl_ord_id, bool& in_progress) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = answers_.try_emplace(cl_ord_id, std::nullopt);
  in_progress = !inserted && !it->second.has_value();
  if (!inserted) return it->second;
  answer_order_.push_back(cl_ord_id);
  while (answer_order_.size() > options_.remembered_answers) {
    answers_.erase(answer_order_.front());
    answer_order_.pop_front();
  }
  return std::nullopt;
}

void Counterparty::remember_answer(const std::string& cl_ord_id, const Message& answer) {
  std::lock_guard lock(mu_);
  if (auto it = answers_.find(cl_ord_id); it != answers_.end()) it->second = answer;
}

// ---- H: an order's status by ClOrdID ----

void Counterparty::serve_order_status(const std::string& session, const Message& message) {
  auto request = order_status_request_from_fix(message);
  if (!request) return reject(session, message, "a required field is missing or malformed");
  std::optional<Message> answered;
  {
    std::lock_guard lock(mu_);
    if (auto it = answers_.find(request->cl_ord_id); it != answers_.end()) answered = it->second;
  }
  if (answered && answered->type() == msg::kExecutionReport) {
    if (auto e = execution_from_fix(*answered, options_.tags)) {
      e->exec_type = 'I';
      send_(session, to_fix(*e, options_.tags));
      return;
    }
  }
  if (answered) {  // a 9 or a U4: the answer itself
    send_(session, *answered);
    return;
  }
  Execution unknown;  // never arrived (or still executing): OrdStatus 8, OrdRejReason 5
  unknown.cl_ord_id = request->cl_ord_id;
  unknown.exec_type = '8';
  unknown.result.retcode = Retcode::InvalidOrder;
  unknown.result.comment = "unknown order";
  unknown.order.login = request->login;
  unknown.order.symbol = request->symbol;
  unknown.order.type = request->type;
  unknown.order.state = OrderState::Rejected;
  send_(session, to_fix(unknown, options_.tags));
}

// ---- the re-read's queries: AF, AN, BB, AD, x ----

void Counterparty::serve_query(const std::string& session, const AccountQuery& query) {
  if (query.type == msg::kOrderMassStatusRequest) return serve_mass_status(session, query);
  if (query.type == msg::kRequestForPositions) return serve_positions(session, query);
  if (query.type == msg::kCollateralInquiry) return serve_collateral(session, query);
  if (query.type == msg::kTradeCaptureRequest) return serve_trades(session, query);
  serve_security_list(session, query);
}

void Counterparty::serve_mass_status(const std::string& session, const AccountQuery& query) {
  const auto orders = broker_.orders_get(query.login);
  if (orders.empty()) {
    Execution none;
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
  send_(session, to_fix(CollateralReport{query.id, query.login, account, account ? "" : "unknown account"}));
}

void Counterparty::serve_trades(const std::string& session, const AccountQuery& query) {
  const auto deals = broker_.history_deals_get(query.login, query.from_msc, query.to_msc);
  send_(session, to_fix(ReportsAck{msg::kTradeCaptureAck, query.id, query.login, deals.size()}));
  for (std::size_t i = 0; i < deals.size(); ++i) {
    send_(session, to_fix(TradeCapture{query.id, deals.size(), i + 1 == deals.size(), deals[i]}, options_.tags));
  }
}

void Counterparty::serve_security_list(const std::string& session, const AccountQuery& query) {
  send_(session, to_fix(SecurityList{query.id, broker_.symbols_get()}));
}

// ---- quotes: V, then W per tick ----

void Counterparty::serve_quotes(const std::string& session, const Message& message) {
  auto request = quote_subscription_from_fix(message);
  if (!request) return reject(session, message, "a required field is missing or malformed");
  for (const auto& symbol : request->symbols) {
    if (!broker_.symbol_info(symbol)) {
      send_(session, market_data_reject(request->id, "unknown symbol " + symbol));
      return;
    }
  }
  {
    std::lock_guard lock(mu_);
    auto& subscription = subscriptions_[session];
    subscription.id = request->id;
    subscription.symbols = {request->symbols.begin(), request->symbols.end()};
  }
  for (const auto& symbol : request->symbols) {
    if (auto tick = broker_.symbol_info_tick(symbol)) send_(session, to_fix(QuoteSnapshot{request->id, symbol, *tick}));
  }
}

void Counterparty::on_tick(std::string_view symbol, const Tick& tick) {
  std::vector<std::pair<std::string, std::string>> receivers;  // session, MDReqID
  {
    std::lock_guard lock(mu_);
    for (const auto& [session, subscription] : subscriptions_) {
      if (subscription.symbols.contains(symbol)) receivers.emplace_back(session, subscription.id);
    }
  }
  for (const auto& [session, id] : receivers) send_(session, to_fix(QuoteSnapshot{id, std::string(symbol), tick}));
}

// ---- what the broker did on its own ----

void Counterparty::on_changes(const Changes& changes) {
  std::vector<Message> reports;
  for (const auto& deal : changes.deals) {
    if (deal.type != DealType::Balance) reports.push_back(to_fix(unsolicited_fill(deal, changes), options_.tags));
  }
  if (reports.empty()) {
    for (const auto& order : changes.orders) reports.push_back(to_fix(unsolicited_end(order), options_.tags));
  }
  if (reports.empty()) return;
  for (const auto& session : logged_on()) {
    for (const auto& report : reports) send_(session, report);
  }
}

// ---- U1: a demo account ----

void Counterparty::serve_account_open(const std::string& session, const Message& message) {
  auto request = account_open_request_from_fix(message);
  if (!request) return reject(session, message, "a required field is missing or malformed");
  std::lock_guard lock(account_mu_);  // single mode: two first requests open one account
  if (!options_.multi_account && single_login_) {
    send_(session, to_fix(AccountOpenReport{request->id, *single_login_, Retcode::Done, ""}));
    return;
  }
  const SendOutcome out = broker_.open_account(request->name, request->currency, request->leverage, request->deposit);
  if (out.changes.accounts.empty()) {
    const auto retcode = is_success(out.result.retcode) ? Retcode::Reject : out.result.retcode;
    send_(session, to_fix(AccountOpenReport{request->id, 0, retcode, out.result.comment}));
    return;
  }
  const Login login = out.changes.accounts.front().login;
  if (!options_.multi_account) single_login_ = login;
  send_(session, to_fix(AccountOpenReport{request->id, login, Retcode::Done, ""}));
}

}  // namespace permiso::trading::fix
