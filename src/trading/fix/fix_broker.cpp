// See fix_broker.hpp.
#include "trading/fix/fix_broker.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <stdexcept>

namespace permiso::trading::fix {
namespace {

constexpr TimeMs kDay = 86'400'000;
/// How far before the oldest unexplained row the re-read looks for deals: the counterparty's
/// clock and ours differ, and a deal may be booked a little after the time it carries.
constexpr TimeMs kDealOverlap = 60'000;
/// Orders whose answer was lost, kept to be asked about after a logon: beyond this many the
/// oldest is forgotten (the periodic re-read still finds what it did).
constexpr std::size_t kInFlightLimit = 10'000;

SendOutcome refusal(Retcode retcode, std::string comment) {
  SendOutcome out;
  out.result.retcode = retcode;
  out.result.comment = std::move(comment);
  return out;
}

/// `later`'s rows appended to `earlier`'s; a row in both keeps the later version.
template <class Row>
void append_newer(std::vector<Row>& into, const std::vector<Row>& later, auto key) {
  for (const auto& row : later) {
    std::erase_if(into, [&](const Row& r) { return key(r) == key(row); });
    into.push_back(row);
  }
}

Changes merged(Changes earlier, const Changes& later) {
  append_newer(earlier.positions, later.positions, [](const Position& p) { return p.ticket; });
  append_newer(earlier.orders, later.orders, [](const Order& o) { return o.ticket; });
  append_newer(earlier.deals, later.deals, [](const Deal& d) { return d.ticket; });
  append_newer(earlier.accounts, later.accounts, [](const AccountInfo& a) { return a.login; });
  earlier.sequence = std::max(earlier.sequence, later.sequence);
  return earlier;
}

/// The key an answer is filed under: the id of the request it answers.
struct Filing {
  std::string key;
  bool last = true;
};

std::optional<Filing> filing_of(const Message& m, const TagMap& tags) {
  const auto type = m.type();
  if (type == msg::kExecutionReport) {
    auto e = execution_from_fix(m, tags);
    if (!e) return std::nullopt;
    if (!e->mass_status_id.empty()) return Filing{e->mass_status_id, e->last_report};
    if (e->cl_ord_id.empty()) return std::nullopt;
    // An IOC order filled in part: its rest's cancel (ExecType 4) follows, and is awaited too.
    const bool rest_follows =
        e->exec_type == 'F' && e->order.volume_current > 0 && e->order.type_filling == Filling::Ioc;
    return Filing{e->cl_ord_id, !rest_follows};
  }
  if (type == msg::kOrderCancelReject || type == msg::kPositionModifyReport) {
    auto r = request_refusal_from_fix(m, tags);
    return r ? std::optional(Filing{r->cl_ord_id, true}) : std::nullopt;
  }
  if (type == msg::kPositionsAck || type == msg::kTradeCaptureAck) {
    auto a = reports_ack_from_fix(m);
    return a ? std::optional(Filing{a->id, a->total == 0}) : std::nullopt;
  }
  if (type == msg::kPositionReport) {
    auto r = position_report_from_fix(m, tags);
    return r ? std::optional(Filing{r->id, r->last}) : std::nullopt;
  }
  if (type == msg::kTradeCaptureReport) {
    auto t = trade_capture_from_fix(m, tags);
    return t ? std::optional(Filing{t->id, t->last}) : std::nullopt;
  }
  if (type == msg::kCollateralReport) {
    auto r = collateral_report_from_fix(m, tags);
    return r ? std::optional(Filing{r->id, true}) : std::nullopt;
  }
  if (type == msg::kSecurityList) {
    auto l = security_list_from_fix(m, tags);
    return l ? std::optional(Filing{l->id, true}) : std::nullopt;
  }
  if (type == msg::kAccountOpenReport) {
    auto r = account_open_report_from_fix(m, tags);
    return r ? std::optional(Filing{r->id, true}) : std::nullopt;
  }
  return std::nullopt;
}

EngineOptions engine_options(const FixOptions& o) {
  EngineOptions e;
  e.role = EngineOptions::Role::Initiator;
  e.sessions.push_back({o.sender_comp_id, o.target_comp_id});
  if (!o.quote_target_comp_id.empty()) e.sessions.push_back({o.sender_comp_id, o.quote_target_comp_id});
  e.host = o.host;
  e.port = o.port;
  e.store_dir = o.store_dir;
  e.heartbeat_seconds = o.heartbeat_seconds;
  e.reconnect_seconds = o.reconnect_seconds;
  e.username = o.username;
  e.password = o.password;
  e.tls = o.tls;
  e.ca_file = o.ca_file;
  return e;
}

/// Where the dictionary goes: next to the store, or in the temp dir when the store is in memory.
std::string dictionary_path(const FixOptions& o) {
  namespace fs = std::filesystem;
  const fs::path dir =
      o.store_dir.empty() ? fs::temp_directory_path() / ("permiso-fix-" + o.sender_comp_id) : fs::path(o.store_dir);
  fs::create_directories(dir);
  return (dir / "FIX44-permiso.xml").string();
}

/// The position an order's In deal opens (with the order's stops, magic and comment), or adds to.
Position opened_by_order(const std::optional<Position>& before, const Execution& e) {
  Position p = opened_position(before, *e.deal);
  if (before && !before->closed) return p;
  p.sl = e.order.sl;
  p.tp = e.order.tp;
  p.magic = e.order.magic;
  p.comment = e.order.comment;
  return p;
}

}  // namespace

FixBroker::FixBroker(FixOptions options)
    : options_(std::move(options)),
      clock_(options_.clock ? options_.clock : std::make_shared<SystemClock>()),
      trade_session_(session_name({options_.sender_comp_id, options_.target_comp_id})),
      quote_session_(options_.quote_target_comp_id.empty()
                         ? trade_session_
                         : session_name({options_.sender_comp_id, options_.quote_target_comp_id})),
      mirror_(options_.recent_deals_per_account),
      id_prefix_(std::to_string(clock_->now_ms())) {
  // Two fields on one number would make every message ambiguous: refused before any is sent.
  if (auto numbered = fixtags::make_tag_map(fixtags::renumbering(options_.tags)); !numbered) {
    const auto& p = numbered.error().front();
    throw std::runtime_error("FIX tags: " + p.field + " " + p.rule);
  }
  auto engine = engine_options(options_);
  engine.dictionary_path = dictionary_path(options_);
  if (!write_dictionary(engine.dictionary_path, dictionary_numbers(options_.tags))) {
    throw std::runtime_error("cannot write the FIX dictionary to " + engine.dictionary_path);
  }
  engine_ = std::make_unique<SessionEngine>(std::move(engine), static_cast<SessionHandler&>(*this));
  own_positions_ = options_.ledger_positions;
  own_collateral_ = options_.ledger_collateral;
}

FixBroker::~FixBroker() {
  stop();
}

void FixBroker::start() {
  if (thread_.joinable()) return;
  engine_->start();
  thread_ = std::jthread([this](const std::stop_token& stop) { run(stop); });
}

void FixBroker::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
  engine_->stop();
}

bool FixBroker::wait_until_connected(std::chrono::milliseconds limit) {
  std::unique_lock lock(state_mu_);
  return state_cv_.wait_for(lock, limit, [this] { return trade_logged_on_ && symbols_read_; });
}

bool FixBroker::connected() const {
  std::lock_guard lock(state_mu_);
  return trade_logged_on_ && symbols_read_;
}

void FixBroker::drop_connection() {
  engine_->disconnect(trade_session_);
}

// ---------------------------------------------------------------- QuickFIX's threads

void FixBroker::on_logon(const std::string& session) {
  spdlog::info("fix: {} logged on", session);
  std::lock_guard lock(state_mu_);
  if (session == trade_session_) trade_logged_on_ = true;
  if (session == quote_session_) quote_logged_on_ = true;
  logon_work_due_ = true;
  state_cv_.notify_all();
}

void FixBroker::on_logout(const std::string& session) {
  spdlog::warn("fix: {} logged out", session);
  std::lock_guard lock(state_mu_);
  if (session == trade_session_) trade_logged_on_ = false;
  if (session == quote_session_) quote_logged_on_ = false;
}

void FixBroker::on_log(const std::string& session, const std::string& line) {
  // The engine masks the password before it gets here; messages are logged at debug only, with
  // '|' for SOH as FIX logs are usually read.
  std::string readable = line;
  std::replace(readable.begin(), readable.end(), kSoh, '|');
  spdlog::debug("fix {}: {}", session, readable);
  // QuickFIX refuses a message that breaks the dictionary before we see it (a session Reject
  // goes back, the answer it carried times out): a warning, naming the usual cause.
  if (line.starts_with("event Message ") && line.find(" Rejected: ") != std::string::npos) {
    spdlog::warn("fix {}: {} (does the counterparty number our custom fields as MT5_FIX_TAGS says?)", session,
                 readable.substr(6));
  }
}

void FixBroker::on_message(const std::string& session, const std::string& text) {
  (void)session;
  auto message = Message::parse(text);
  if (!message) {
    spdlog::warn("fix: unreadable message dropped");
    return;
  }
  if (message->type() == msg::kMarketDataSnapshot) return on_quote(*message);
  if (message->type() == msg::kBusinessReject) return on_business_reject(*message);
  if (message->type() == msg::kMarketDataReject) {
    spdlog::warn("fix: the counterparty refused a quote subscription: {}",
                 message->get(58).value_or("no reason given"));
    return;
  }
  auto filing = filing_of(*message, options_.tags);
  if (filing && file_answer(filing->key, *message, filing->last)) return;
  // Unfiled and unreadable (a broker's own ExecutionReport is unfiled but reads): most often
  // custom fields numbered otherwise than MT5_FIX_TAGS says, which nothing else would show.
  if (!filing && (message->type() != msg::kExecutionReport || !execution_from_fix(*message, options_.tags))) {
    spdlog::warn(
        "fix: a {} the mapping cannot read was dropped (a field missing or malformed: does the "
        "counterparty number our custom fields as MT5_FIX_TAGS says?)",
        message->type());
  }
  on_unsolicited(*message);
}

void FixBroker::on_business_reject(const Message& message) {
  auto refusal = business_reject_from_fix(message);
  if (!refusal) {
    spdlog::warn("fix: an unreadable BusinessMessageReject was dropped");
    return;
  }
  if (refusal->reason == BusinessRejectReason::UnsupportedMessageType) {
    use_ledger_for(refusal->ref_msg_type);
  } else {
    spdlog::warn("fix: the counterparty refused a request ({}): {}", refusal->ref_msg_type,
                 refusal->text.empty() ? "no reason given" : refusal->text);
  }
  if (!refusal->ref_id.empty()) file_answer(refusal->ref_id, message, true);
}

void FixBroker::use_ledger_for(std::string_view msg_type) {
  if (msg_type == msg::kRequestForPositions) {
    if (!own_positions_.exchange(true)) {
      spdlog::warn(
          "fix: the counterparty does not support RequestForPositions: open positions now come from mt5-api's "
          "own ledger (the ExecutionReports and TradeCaptureReports; docs/brokers.md)");
    }
  } else if (msg_type == msg::kCollateralInquiry) {
    if (!own_collateral_.exchange(true)) {
      spdlog::warn(
          "fix: the counterparty does not support CollateralInquiry: balance, equity and margin now come from "
          "mt5-api's own ledger (the deals and the quotes; docs/brokers.md)");
    }
  } else {
    spdlog::warn("fix: the counterparty does not support {} messages", msg_type);
  }
}

void FixBroker::on_quote(const Message& message) {
  auto quote = quote_snapshot_from_fix(message);
  if (!quote) return;
  mirror_.set_tick(quote->symbol, quote->tick);
  std::lock_guard lock(listener_mu_);
  if (on_tick_) on_tick_(quote->symbol, quote->tick);
}

/// What the broker did on its own (a stop hit, an order triggered, a stop-out) goes to the link
/// thread, which applies it as an order's answer (this thread must stay free to receive the
/// answers that takes). A late answer asks for a listing of its account; anything else late
/// (the rest of a listing that timed out) for a listing of every account.
void FixBroker::on_unsolicited(const Message& message) {
  auto e = message.type() == msg::kExecutionReport ? execution_from_fix(message, options_.tags) : std::nullopt;
  if (!e) {
    resync_wanted_ = true;
    return;
  }
  std::lock_guard lock(state_mu_);
  if (!e->cl_ord_id.empty()) {
    in_flight_.erase(e->cl_ord_id);  // settled: the answer came, late
    full_read_wanted_.insert(e->order.login);
  } else if (e->mass_status_id.empty() && e->exec_type != 'I') {
    broker_events_.push_back(std::move(*e));
  } else {
    resync_wanted_ = true;
  }
  link_work_due_ = true;
  state_cv_.notify_all();
}

bool FixBroker::file_answer(const std::string& key, Message message, bool last) {
  std::lock_guard lock(waiters_mu_);
  auto [first, end] = waiters_.equal_range(key);
  auto it = std::find_if(first, end, [](const auto& entry) { return !entry.second.done; });
  if (it == end) return false;
  it->second.messages.push_back(std::move(message));
  if (last) {
    it->second.done = true;
    waiters_cv_.notify_all();
  }
  return true;
}

std::optional<std::vector<Message>> FixBroker::call(const std::string& session, const std::string& key,
                                                    const Message& request, bool* not_sent) {
  Waiters::iterator waiter;
  {
    std::lock_guard lock(waiters_mu_);
    waiter = waiters_.emplace(key, Waiter{});  // after any waiter with this key: answered after it
  }
  std::string error;
  const bool sent = engine_->send(session, request.text(), &error);
  std::unique_lock lock(waiters_mu_);
  const bool answered = sent && waiters_cv_.wait_for(lock, options_.timeout, [&] { return waiter->second.done; });
  auto node = waiters_.extract(waiter);
  if (!sent) spdlog::warn("fix: {} not sent: {}", request.type(), error);
  if (not_sent != nullptr) *not_sent = !sent;
  if (!answered) return std::nullopt;
  return std::move(node.mapped().messages);
}

std::string FixBroker::next_id(char prefix) {
  return std::string(1, prefix) + id_prefix_ + "-" + std::to_string(++next_id_);
}

// ---------------------------------------------------------------- the link thread

void FixBroker::run(const std::stop_token& stop) {
  auto next_round = std::chrono::steady_clock::now();
  while (!stop.stop_requested()) {
    wait_and_log_on();
    // Reads and events wait for the gateway's listener: what they find is delivered once, and
    // the gateway seeds the mirror (restore) before it listens. An event dropped meanwhile is
    // found by the listing that follows the logon or the listener.
    apply_broker_events();
    if (!connected() || !listening()) continue;
    const auto now = std::chrono::steady_clock::now();
    if (resync_wanted_.exchange(false)) {
      next_round = now + options_.refresh_interval;
      if (!refresh_all()) resync_wanted_ = true;
      continue;
    }
    if (!list_accounts_asked_for()) resync_wanted_ = true;
    if (now < next_round) continue;
    next_round = now + options_.refresh_interval;
    if (!read_round()) resync_wanted_ = true;
  }
}

void FixBroker::wait_and_log_on() {
  bool logon_work = false;
  {
    std::unique_lock lock(state_mu_);
    state_cv_.wait_for(lock, std::chrono::milliseconds(50), [&] { return logon_work_due_ || link_work_due_; });
    link_work_due_ = false;
    logon_work = std::exchange(logon_work_due_, false) && trade_logged_on_;
  }
  if (logon_work && !after_logon()) {
    std::lock_guard lock(state_mu_);
    logon_work_due_ = true;  // try again next turn
  }
}

bool FixBroker::after_logon() {
  if (!read_symbols()) return false;
  subscribe_quotes();
  settle_in_flight();
  resync_wanted_ = true;
  return true;
}

bool FixBroker::read_symbols() {
  const auto id = next_id('S');
  auto answers =
      call(trade_session_, id, to_fix(AccountQuery{msg::kSecurityListRequest, id, 0, 0, 0, 0}, options_.tags));
  auto list = answers ? security_list_from_fix(answers->front(), options_.tags) : std::nullopt;
  if (!list) {
    spdlog::warn("fix: the counterparty did not list its instruments");
    return false;
  }
  mirror_.set_symbols(list->symbols);
  std::lock_guard lock(state_mu_);
  symbols_read_ = true;
  state_cv_.notify_all();
  return true;
}

void FixBroker::subscribe_quotes() {
  QuoteSubscription subscription{next_id('Q'), {}};
  for (const auto& s : mirror_.symbols()) subscription.symbols.push_back(s.name);
  std::string error;
  if (!engine_->send(quote_session_, to_fix(subscription).text(), &error)) {
    spdlog::warn("fix: quotes not subscribed: {}", error);
  }
}

/// Asks about every order whose answer was lost: the answer (or its absence: the order never
/// arrived) settles it, and the re-read that follows brings whatever it did.
void FixBroker::settle_in_flight() {
  std::map<std::string, InFlight> asking;
  {
    std::lock_guard lock(state_mu_);
    asking = in_flight_;
  }
  for (const auto& [cl_ord_id, order] : asking) {
    if (order.awaited) continue;  // its own call is waiting: the answer goes there
    auto answers =
        call(trade_session_, cl_ord_id, to_fix(OrderStatusRequest{cl_ord_id, order.login, order.symbol, order.type}));
    if (!answers) continue;  // asked again after the next logon
    std::lock_guard lock(state_mu_);
    in_flight_.erase(cl_ord_id);
  }
}

bool FixBroker::refresh_all() {
  std::set<Login> logins;
  {
    std::lock_guard lock(state_mu_);
    logins = served_logins_;
  }
  // Noted as listed at times spread over the interval, so their next listings come one or a
  // few per round rather than all in one (each still within the interval of this one).
  std::int64_t i = 0;
  for (const Login login : logins) {
    const auto backdate = options_.full_read_interval * i++ / static_cast<std::int64_t>(logins.size());
    if (!list_account(login, backdate)) return false;
  }
  return true;
}

bool FixBroker::list_account(Login login, std::chrono::milliseconds backdate) {
  const auto started = std::chrono::steady_clock::now();
  auto changes = refresh_account(login);
  if (!changes) return false;
  {
    std::lock_guard lock(state_mu_);
    auto& last = last_full_read_[login];
    last = std::max(last, started - backdate);
  }
  deliver(*changes);
  return true;
}

bool FixBroker::read_round() {
  std::set<Login> logins;
  {
    std::lock_guard lock(state_mu_);
    logins = served_logins_;
  }
  for (const Login login : logins) {
    if (!reread_collateral(login)) return false;
  }
  {
    std::lock_guard lock(state_mu_);
    full_read_wanted_.insert(full_read_again_.begin(), full_read_again_.end());
    full_read_again_.clear();
  }
  if (!list_accounts_asked_for()) return false;
  const auto overdue = overdue_accounts();
  return std::all_of(overdue.begin(), overdue.end(), [this](Login login) { return list_account(login); });
}

bool FixBroker::reread_collateral(Login login) {
  const auto generation = mirror_.generation();  // what an order answered meanwhile is newer
  auto report = read_collateral(login);
  if (!report) return false;
  if (report->account) deliver(mirror_.reconcile_account(*report->account, generation));
  return true;
}

/// The accounts whose listing is due, the longest unlisted first, as many as spread every
/// account's listing over the interval: the listing after a logon makes every account due in the
/// same round, and taking them a few at a time staggers them from then on.
std::vector<Login> FixBroker::overdue_accounts() {
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::pair<std::chrono::steady_clock::time_point, Login>> due;
  std::size_t accounts = 0;
  {
    std::lock_guard lock(state_mu_);
    accounts = served_logins_.size();
    for (const Login login : served_logins_) {
      // An account not listed by this schedule yet was listed when it was opened or attached,
      // or by the listing after the logon: its turn is one interval from now.
      const auto last = last_full_read_.try_emplace(login, now).first->second;
      if (now - last >= options_.full_read_interval) due.emplace_back(last, login);
    }
  }
  const auto round = std::max(options_.refresh_interval, std::chrono::milliseconds(1));
  const auto rounds = std::max<std::int64_t>(1, options_.full_read_interval / round);
  const auto per_round = (accounts + static_cast<std::size_t>(rounds) - 1) / static_cast<std::size_t>(rounds);
  std::sort(due.begin(), due.end());
  due.resize(std::min(due.size(), per_round));
  std::vector<Login> out;
  for (const auto& [last, login] : due) out.push_back(login);
  return out;
}

bool FixBroker::list_accounts_asked_for() {
  std::set<Login> asked;
  {
    std::lock_guard lock(state_mu_);
    asked.swap(full_read_wanted_);
  }
  for (const Login login : asked) {
    if (serves(login) && !list_account(login)) return false;
  }
  return true;
}

void FixBroker::ask_full_read(Login login) {
  std::lock_guard lock(state_mu_);
  full_read_wanted_.insert(login);
  full_read_again_.insert(login);
}

bool FixBroker::serves(Login login) const {
  std::lock_guard lock(state_mu_);
  return served_logins_.contains(login);
}

void FixBroker::apply_broker_events() {
  std::vector<Execution> events;
  {
    std::lock_guard lock(state_mu_);
    events.swap(broker_events_);
  }
  if (!connected() || !listening()) return;  // the listing after the logon or the listener finds them
  for (const auto& e : events) apply_broker_event(e);
}

/// A fill is applied as an order's answer is (the deal, the order, the position it leaves, the
/// collateral); an order changed without a deal (expired, cancelled, rejected when it
/// triggered) is its row. A close of a position the mirror does not hold is listed instead, and
/// so is a close that leaves the position open: the broker's stops and stop-outs close whole
/// positions, so the mirror's volume was behind (an order's answer not applied yet).
void FixBroker::apply_broker_event(const Execution& e) {
  const Login login = e.deal ? e.deal->login : e.order.login;
  if (!serves(login)) return;  // the counterparty tells every session of every account
  if (!e.deal) {
    Changes rows;
    if (e.result.order != 0) rows.orders.push_back(e.order);
    deliver(mirror_.apply(std::move(rows)));
    return;
  }
  const auto before = mirror_.position(login, e.deal->position_id);
  if (e.closing && (!before || before->closed)) return ask_full_read(login);
  deliver(settle_execution(login, e).changes);
  if (auto after = mirror_.position(login, e.deal->position_id); e.closing && after && !after->closed) {
    ask_full_read(login);
  }
}

std::optional<Changes> FixBroker::refresh_account(Login login) {
  AccountSnapshot snap;
  snap.generation = mirror_.generation();  // what an order answered meanwhile is newer
  snap.now_msc = now_ms();
  auto report = read_collateral(login);
  if (!report) return std::nullopt;
  if (!report->account) return Changes{};  // an account the counterparty does not serve
  snap.account = *report->account;
  const auto orders_id = next_id('M');
  auto orders =
      call(trade_session_, orders_id,
           to_fix(AccountQuery{msg::kOrderMassStatusRequest, orders_id, login, 0, 0, snap.now_msc}, options_.tags));
  if (!orders) return std::nullopt;
  for (const auto& m : *orders) {
    if (auto e = execution_from_fix(m, options_.tags); e && !e->no_order()) snap.pending_orders.push_back(e->order);
  }
  if (!list_positions(login, snap)) return std::nullopt;
  if (own_collateral_) {  // the balance after the deals just read, the margin of the positions listed
    auto account = ledger_account(login, snap.deals, snap.open_positions);
    if (!account) return Changes{};
    snap.account = *account;
  }
  forget_finished_orders(login, snap.pending_orders);
  return mirror_.reconcile(snap);
}

bool FixBroker::list_positions(Login login, AccountSnapshot& snap) {
  if (!own_positions_) {
    const auto id = next_id('P');
    auto positions =
        call(trade_session_, id,
             to_fix(AccountQuery{msg::kRequestForPositions, id, login, 0, 0, snap.now_msc}, options_.tags));
    if (!positions) return false;
    if (!own_positions_) {  // answered, not refused as unsupported
      for (const auto& m : *positions) {
        if (auto r = position_report_from_fix(m, options_.tags)) snap.open_positions.push_back(r->position);
      }
      if (auto since = mirror_.oldest_unexplained(login, snap.open_positions, snap.pending_orders)) {
        auto deals = read_deals(login, *since - kDealOverlap, snap.now_msc + kDay);
        if (!deals) return false;
        snap.deals = std::move(*deals);
      }
      return true;
    }
  }
  return replay_positions(login, snap);
}

bool FixBroker::replay_positions(Login login, AccountSnapshot& snap) {
  TimeMs from = 0;
  {
    std::lock_guard lock(state_mu_);
    if (auto it = ledger_read_from_.find(login); it != ledger_read_from_.end()) from = it->second;
  }
  if (from == 0) {  // first replay: from the newest deal the mirror holds (a restart), or the account's first
    const auto known = mirror_.deals(login, 0, std::numeric_limits<TimeMs>::max());
    if (!known.empty()) from = std::max<TimeMs>(known.back().time_msc - kDealOverlap, 0);
  }
  auto deals = read_deals(login, from, snap.now_msc + kDay);
  if (!deals) return false;
  std::vector<Deal> unseen;
  for (const auto& d : *deals) {
    if (!mirror_.has_deal(login, d.ticket)) unseen.push_back(d);
  }
  snap.open_positions = replay_deals(mirror_.positions(login, {}), unseen);
  // The next read starts from the counterparty's own times, not our clock: the two may differ.
  TimeMs newest = from;
  for (const auto& d : *deals) newest = std::max(newest, d.time_msc - kDealOverlap);
  snap.deals = std::move(*deals);
  std::lock_guard lock(state_mu_);
  ledger_read_from_[login] = std::max<TimeMs>(newest, 1);
  return true;
}

std::optional<AccountInfo> FixBroker::ledger_account(Login login, const std::vector<Deal>& deals,
                                                     std::vector<Position> open) {
  auto account = mirror_.account(login);
  if (!balances_.has(login)) {
    // The last figures the counterparty or the store gave hold every deal the mirror has; an
    // account never described starts from nothing, and its deposit is a deal.
    if (account) {
      balances_.seed(login, account->balance, mirror_.deals(login, 0, std::numeric_limits<TimeMs>::max()));
    } else {
      balances_.seed(login, 0, {});
    }
  }
  if (!account) {
    if (options_.expected_login && *options_.expected_login != login) return std::nullopt;
    account = AccountInfo{};
    account->login = login;
    account->currency = options_.ledger_currency;
    account->leverage = options_.ledger_leverage;
    account->demo = !options_.expected_login;
  }
  balances_.count(login, deals);
  const auto since = balances_.newest_time(login).value_or(0);
  account->balance = balances_
                         .count(login, mirror_.deals(login, std::max<TimeMs>(since - kDealOverlap, 0),
                                                     std::numeric_limits<TimeMs>::max()))
                         .value_or(account->balance);
  const auto [profit, margin] = floating(*account, open);
  return with_floating(std::move(*account), profit, margin);
}

std::pair<double, double> FixBroker::floating(const AccountInfo& account, std::vector<Position>& open) const {
  // One look-up per symbol, as mark_to_market does: an account holds many positions of few symbols.
  struct SymbolTerms {
    std::optional<MarketMark> mark;
    std::optional<SymbolInfo> info;
    std::optional<double> margin_rate;  // margin currency → account currency
  };
  std::map<std::string, SymbolTerms, std::less<>> terms;
  double profit = 0;
  double margin = 0;
  for (auto& p : open) {
    auto [it, first] = terms.try_emplace(p.symbol);
    if (first) {
      it->second.mark = market_mark(p.symbol, account.currency);
      it->second.info = mirror_.symbol(p.symbol);
      if (it->second.info) it->second.margin_rate = conversion_rate(it->second.info->currency_margin, account.currency);
    }
    const auto& t = it->second;
    if (t.mark) apply_mark(*t.mark, p);
    profit += p.profit;
    if (!t.info || !t.margin_rate) continue;
    if (const auto own = position_margin(*t.info, p, account.leverage)) margin += *own * *t.margin_rate;
  }
  return {profit, margin};
}

bool FixBroker::reconcile_now() {
  return connected() && refresh_all();
}

void FixBroker::deliver(const Changes& changes) {
  if (changes.empty()) return;
  std::lock_guard lock(listener_mu_);
  if (on_change_) on_change_(changes);
}

// ---------------------------------------------------------------- Broker

SendOutcome FixBroker::open_account(std::string_view name, std::string_view currency, int leverage, double deposit) {
  if (!connected()) return refusal(Retcode::Connection, "the FIX session is not logged on");
  Changes history;
  Login login = 0;
  if (options_.expected_login) {
    login = *options_.expected_login;  // a real broker's session is one account: MT5_LOGIN
    std::lock_guard lock(state_mu_);
    if (!served_logins_.insert(login).second) {
      return refusal(Retcode::Reject, "the FIX session's account belongs to another principal");
    }
  } else {
    auto opened = open_demo_account(
        AccountOpenRequest{next_id('A'), std::string(name), std::string(currency), leverage, deposit});
    if (!opened.login) return opened.refused;
    login = *opened.login;
    history = std::move(opened.history);
  }
  // The deposit first: a ledger's balance is its deals.
  Changes opened = mirror_.apply(std::move(history));
  auto found = refresh_account(login);
  auto account = mirror_.account(login);
  if (!found || !account) {
    std::lock_guard lock(state_mu_);
    served_logins_.erase(login);
    return refusal(Retcode::Reject, "the counterparty does not serve account " + std::to_string(login));
  }
  SendOutcome out;
  out.result.retcode = Retcode::Done;
  out.changes = merged(std::move(opened), *found);
  if (out.changes.accounts.empty()) out.changes.accounts.push_back(*account);
  return out;
}

FixBroker::OpenedAccount FixBroker::open_demo_account(const AccountOpenRequest& request) {
  OpenedAccount out;
  auto answers = call(trade_session_, request.id, to_fix(request, options_.tags));
  auto report = answers ? account_open_report_from_fix(answers->front(), options_.tags) : std::nullopt;
  if (!report) {
    out.refused = refusal(Retcode::Connection, "no answer from the counterparty");
    return out;
  }
  if (report->login == 0) {
    out.refused = refusal(report->retcode, report->text);
    return out;
  }
  out.login = report->login;
  {
    std::lock_guard lock(state_mu_);
    served_logins_.insert(report->login);
  }
  // Its history so far: a demo account's deposit is a balance deal.
  out.history.deals = read_deals(report->login, 0, now_ms() + kDay).value_or(std::vector<Deal>{});
  return out;
}

void FixBroker::forget_finished_orders(Login login, const std::vector<Order>& pending) {
  std::lock_guard lock(state_mu_);
  std::erase_if(cl_ord_ids_, [&](const auto& entry) {
    const auto& [ticket, sent] = entry;
    return sent.login == login &&
           std::none_of(pending.begin(), pending.end(), [&](const Order& o) { return o.ticket == ticket; });
  });
}

void FixBroker::restore(const BrokerState& state) {
  mirror_.seed(state);
  std::lock_guard lock(state_mu_);
  for (const auto& a : state.accounts) served_logins_.insert(a.login);
}

bool FixBroker::attach_account(Login login) {
  if (!connected()) return false;
  if (options_.expected_login && *options_.expected_login != login) return false;
  {
    std::lock_guard lock(state_mu_);
    if (served_logins_.count(login) != 0) return true;
  }
  auto changes = refresh_account(login);
  if (!changes || !mirror_.account(login)) return false;  // unanswered, or not an account it serves
  {
    std::lock_guard lock(state_mu_);
    served_logins_.insert(login);
  }
  // What the other replica did is in storage already; delivering it again is harmless (the
  // store's upserts are state-after) and covers a replica that died before its commit.
  deliver(*changes);
  return true;
}

SendOutcome FixBroker::order_send(Login login, const TradeRequest& request) {
  if (!connected()) return refusal(Retcode::Connection, "the FIX session is not logged on");
  if (request.action == TradeAction::CloseBy) return refusal(Retcode::Invalid, "close-by is not available over FIX");
  // An idempotent order's ClOrdID comes from its key: a retry, or its copy on another replica,
  // reaches the counterparty as the same order and is answered with the first one's report.
  const bool keyed = !request.broker_order_id.empty() &&
                     (request.action == TradeAction::Deal || request.action == TradeAction::Pending);
  OrderRequest order{keyed ? request.broker_order_id : next_id('O'), "", login, request, now_ms()};
  if (request.action == TradeAction::Modify || request.action == TradeAction::Remove) {
    const auto pending = mirror_.orders(login, {});
    auto it = std::find_if(pending.begin(), pending.end(), [&](const Order& o) { return o.ticket == request.order; });
    if (it == pending.end()) return refusal(Retcode::InvalidOrder, "no such pending order");
    order.request.symbol = it->symbol;
    order.request.type = it->type;
    order.request.volume = it->volume_current;
    order.orig_cl_ord_id = cl_ord_id_of(it->ticket);
  }
  if (request.action == TradeAction::SlTp && order.request.symbol.empty()) {
    for (const auto& p : mirror_.positions(login, {})) {
      if (p.ticket == request.position) order.request.symbol = p.symbol;
    }
  }
  return send_order(login, order);
}

std::string FixBroker::cl_ord_id_of(Ticket order) const {
  std::lock_guard lock(state_mu_);
  auto it = cl_ord_ids_.find(order);
  return it != cl_ord_ids_.end() ? it->second.cl_ord_id : std::to_string(order);
}

SendOutcome FixBroker::send_order(Login login, const OrderRequest& order) {
  const bool new_order = order.request.action == TradeAction::Deal || order.request.action == TradeAction::Pending;
  if (new_order) {
    std::lock_guard lock(state_mu_);
    if (in_flight_.size() >= kInFlightLimit) in_flight_.erase(in_flight_.begin());
    in_flight_[order.cl_ord_id] = {login, order.request.symbol, order.request.type};
  }
  bool not_sent = false;
  auto answers = call(trade_session_, order.cl_ord_id, to_fix(order, options_.tags), &not_sent);
  if (not_sent) {
    std::lock_guard lock(state_mu_);
    in_flight_.erase(order.cl_ord_id);
    return refusal(Retcode::Connection, "the order could not be sent to the counterparty");
  }
  if (!answers) {
    // Sent or not, the outcome is unknown until the counterparty says: the re-read and the
    // status request after the next logon settle it.
    {
      std::lock_guard lock(state_mu_);
      if (auto it = in_flight_.find(order.cl_ord_id); it != in_flight_.end()) it->second.awaited = false;
    }
    resync_wanted_ = true;
    return refusal(Retcode::Timeout, "no answer from the counterparty: the outcome is not known yet");
  }
  {
    std::lock_guard lock(state_mu_);
    in_flight_.erase(order.cl_ord_id);
  }
  const Message& answer = answers->front();
  if (answer.type() == msg::kExecutionReport) {
    auto execution = execution_from_fix(answer, options_.tags);
    if (execution) {
      SendOutcome out = settle_execution(login, *execution);
      if (answers->size() > 1) settle_order_row(answers->back(), out);
      return out;
    }
  } else if (auto refused = request_refusal_from_fix(answer, options_.tags)) {
    return settle_refusal(*refused, order.request);
  }
  resync_wanted_ = true;
  return refusal(Retcode::Timeout, "unreadable answer from the counterparty: the outcome is not known yet");
}

SendOutcome FixBroker::settle_execution(Login login, const Execution& execution) {
  SendOutcome out;
  out.result = execution.result;
  if (!is_success(execution.result.retcode)) return out;
  if (execution.exec_type == '0') {
    std::lock_guard lock(state_mu_);
    cl_ord_ids_[execution.result.order] = {login, execution.cl_ord_id};
  }
  // The rows the report tells, and the position the fill leaves: no listing of the account on
  // the order's path (that would grow with its positions); the periodic re-read checks them.
  // A deal a listing brought first is in the position it listed already: not applied twice.
  const bool known = execution.deal && mirror_.has_deal(login, execution.deal->ticket);
  Changes rows;
  if (execution.result.order != 0) rows.orders.push_back(execution.order);
  if (execution.deal) rows.deals.push_back(*execution.deal);
  out.changes = mirror_.apply(std::move(rows));
  if (!execution.deal) return out;
  Changes position;
  if (!known) {
    if (auto row = position_after_fill(login, execution)) position.positions.push_back(*row);
  }
  // The position before the account: the ledger's margin is the positions'.
  const bool positioned = known || !position.positions.empty();
  out.changes = merged(std::move(out.changes), mirror_.apply(std::move(position)));
  Changes account;
  if (auto row = read_account(login)) account.accounts.push_back(*row);
  if (!positioned || account.accounts.empty()) resync_wanted_ = true;
  out.changes = merged(std::move(out.changes), mirror_.apply(std::move(account)));
  include_own_rows(login, execution.result.position, out.changes);
  return out;
}

/// A later report of the same order (an IOC's rest cancelled): the order's row as it ended.
void FixBroker::settle_order_row(const Message& report, SendOutcome& out) {
  auto e = execution_from_fix(report, options_.tags);
  if (!e || e->result.order == 0) return;
  Changes rows;
  rows.orders.push_back(e->order);
  out.changes = merged(std::move(out.changes), mirror_.apply(std::move(rows)));
}

std::optional<Position> FixBroker::position_after_fill(Login login, const Execution& execution) const {
  const Deal& deal = *execution.deal;
  auto before = mirror_.position(login, deal.position_id);
  if (execution.closing) {
    if (!before || before->closed) return std::nullopt;  // not known here: the re-read brings it
    return reduced_position(*before, deal, realised_profit(login, *before));
  }
  Position opened = opened_by_order(before, execution);
  mark_to_market(login, opened);
  return opened;
}

void FixBroker::mark_to_market(Login login, Position& p) const {
  const auto account = mirror_.account(login);
  if (!account) return;
  if (auto mark = market_mark(p.symbol, account->currency)) apply_mark(*mark, p);
}

void FixBroker::mark_to_market(Login login, std::vector<Position>& rows) const {
  const auto account = mirror_.account(login);
  if (!account) return;
  std::map<std::string, std::optional<MarketMark>, std::less<>> marks;  // one look-up per symbol
  for (auto& p : rows) {
    auto [it, first] = marks.try_emplace(p.symbol);
    if (first) it->second = market_mark(p.symbol, account->currency);
    if (it->second) apply_mark(*it->second, p);
  }
}

std::optional<FixBroker::MarketMark> FixBroker::market_mark(const std::string& symbol,
                                                            const std::string& account_currency) const {
  const auto info = mirror_.symbol(symbol);
  const auto tick = mirror_.tick(symbol);
  if (!info || !tick) return std::nullopt;  // the next listing brings the broker's figures
  return MarketMark{info->contract_size, *tick, conversion_rate(info->currency_profit, account_currency)};
}

void FixBroker::apply_mark(const MarketMark& mark, Position& p) {
  const bool buy = p.type == PositionType::Buy;
  p.price_current = buy ? mark.tick.bid : mark.tick.ask;  // a position closes at the other side
  const double in_profit_currency =
      (p.price_current - p.price_open) * p.volume * mark.contract_size * (buy ? 1.0 : -1.0);
  if (mark.rate) p.profit = std::round(in_profit_currency * *mark.rate * 100.0) / 100.0;
}

std::optional<double> FixBroker::conversion_rate(const std::string& from, const std::string& to) const {
  if (from == to) return 1.0;
  if (auto direct = mirror_.tick(from + to); direct && direct->bid > 0) return direct->bid;
  if (auto inverse = mirror_.tick(to + from); inverse && inverse->ask > 0) return 1.0 / inverse->ask;
  return std::nullopt;
}

double FixBroker::realised_profit(Login login, const Position& position) const {
  double realised = 0;
  for (const auto& d : mirror_.deals(login, position.time_msc, std::numeric_limits<TimeMs>::max())) {
    if (d.position_id == position.ticket && d.entry == DealEntry::Out) realised += d.profit;
  }
  return realised;
}

std::optional<AccountInfo> FixBroker::read_account(Login login) {
  auto report = read_collateral(login);
  if (!report) return std::nullopt;
  return report->account;
}

std::optional<CollateralReport> FixBroker::read_collateral(Login login) {
  const auto id = next_id('B');
  if (!own_collateral_) {
    auto answers = call(trade_session_, id,
                        to_fix(AccountQuery{msg::kCollateralInquiry, id, login, 0, 0, now_ms()}, options_.tags));
    if (!answers) return std::nullopt;
    if (!own_collateral_) return collateral_report_from_fix(answers->front(), options_.tags);
  }
  // The ledger's: no round trip.
  return CollateralReport{id, login, ledger_account(login, {}, mirror_.positions(login, {})), ""};
}

std::optional<std::vector<Deal>> FixBroker::read_deals(Login login, TimeMs from_msc, TimeMs to_msc) {
  const auto id = next_id('T');
  auto answers =
      call(trade_session_, id,
           to_fix(AccountQuery{msg::kTradeCaptureRequest, id, login, from_msc, to_msc, now_ms()}, options_.tags));
  if (!answers) return std::nullopt;
  std::vector<Deal> deals;
  for (const auto& m : *answers) {
    if (auto t = trade_capture_from_fix(m, options_.tags)) deals.push_back(t->deal);
  }
  return deals;
}

/// A re-read running for another order may have found this order's position first and
/// reported it there: the answer carries the rows anyway (upserts: a row twice is harmless).
void FixBroker::include_own_rows(Login login, Ticket position, Changes& changes) const {
  const bool listed = std::any_of(changes.positions.begin(), changes.positions.end(),
                                  [&](const Position& p) { return p.ticket == position; });
  if (position != 0 && !listed) {
    if (auto row = mirror_.position(login, position)) changes.positions.push_back(*row);
  }
  if (changes.accounts.empty()) {
    if (auto account = mirror_.account(login)) changes.accounts.push_back(*account);
  }
}

SendOutcome FixBroker::settle_refusal(const RequestRefusal& refusal_report, const TradeRequest& request) {
  SendOutcome out;
  out.result.retcode = refusal_report.retcode;
  out.result.comment = refusal_report.text;
  out.result.position = refusal_report.position;
  out.result.order = refusal_report.order;
  if (!is_success(refusal_report.retcode) || refusal_report.login == 0) return out;
  // U4: the position's stops changed, nothing else.
  auto position = mirror_.position(refusal_report.login, refusal_report.position);
  if (!position || position->closed) {
    resync_wanted_ = true;
    return out;
  }
  position->sl = request.sl;
  position->tp = request.tp;
  position->time_update_msc = now_ms();
  Changes rows;
  rows.positions.push_back(*position);
  out.changes = mirror_.apply(std::move(rows));
  include_own_rows(refusal_report.login, refusal_report.position, out.changes);
  return out;
}

std::optional<AccountInfo> FixBroker::account_info(Login login) const {
  return mirror_.account(login);
}
std::vector<SymbolInfo> FixBroker::symbols_get() const {
  return mirror_.symbols();
}
std::optional<SymbolInfo> FixBroker::symbol_info(std::string_view symbol) const {
  return mirror_.symbol(symbol);
}
std::optional<Tick> FixBroker::symbol_info_tick(std::string_view symbol) const {
  return mirror_.tick(symbol);
}
/// Marked to the latest quotes: the broker's own figures come with the account's listing, every
/// full_read_interval, and the quotes many times a second.
std::vector<Position> FixBroker::positions_get(Login login, std::string_view symbol) const {
  auto rows = mirror_.positions(login, symbol);
  mark_to_market(login, rows);
  return rows;
}
std::optional<Position> FixBroker::position_get(Login login, Ticket ticket) const {
  auto row = mirror_.open_position(login, ticket);
  if (row) mark_to_market(login, *row);
  return row;
}
std::vector<Position> FixBroker::positions_page(Login login, std::string_view symbol, std::optional<Ticket> below,
                                                std::size_t limit) const {
  auto rows = mirror_.positions_page(login, symbol, below, limit);
  mark_to_market(login, rows);
  return rows;
}
std::size_t FixBroker::positions_total(Login login) const {
  return mirror_.positions_total(login);
}
std::vector<Order> FixBroker::orders_get(Login login, std::string_view symbol) const {
  return mirror_.orders(login, symbol);
}
std::vector<Deal> FixBroker::history_deals_get(Login login, TimeMs from_msc, TimeMs to_msc) const {
  return mirror_.deals(login, from_msc, to_msc);
}

void FixBroker::set_change_listener(ChangeListener listener) {
  std::lock_guard lock(listener_mu_);
  on_change_ = std::move(listener);
  if (on_change_) resync_wanted_ = true;  // what changed while nobody listened
}

bool FixBroker::listening() const {
  std::lock_guard lock(listener_mu_);
  return static_cast<bool>(on_change_);
}

void FixBroker::set_tick_listener(TickListener listener) {
  std::lock_guard lock(listener_mu_);
  on_tick_ = std::move(listener);
}

}  // namespace permiso::trading::fix
