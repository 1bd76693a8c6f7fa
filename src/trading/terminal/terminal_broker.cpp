// See terminal_broker.hpp.
#include "trading/terminal/terminal_broker.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace permiso::trading::terminal {
namespace {

namespace json = boost::json;

constexpr TimeMs kDay = 86'400'000;
/// How far before the last re-read the next one looks for deals: the terminal's clock and
/// ours differ, and a deal may be booked a little after the time it carries.
constexpr TimeMs kDealOverlap = 60'000;
/// Events read per turn of the link thread, so a flood of ticks cannot starve the re-reads.
constexpr int kEventsPerTurn = 1000;
/// The link thread's own commands yield to orders.
constexpr auto kBackground = CommandLink::Priority::Background;

SendOutcome refusal(Retcode retcode, std::string comment) {
  SendOutcome out;
  out.result.retcode = retcode;
  out.result.comment = std::move(comment);
  return out;
}

/// How an error reply reads as MT5's return code.
Retcode retcode_of(const std::optional<ErrorCode>& error) {
  if (!error) return Retcode::Error;
  switch (*error) {
    case ErrorCode::Unavailable:
      return Retcode::Connection;
    case ErrorCode::BadRequest:
    case ErrorCode::NotFound:
      return Retcode::Invalid;
    case ErrorCode::Unauthorized:
    case ErrorCode::UnknownCommand:
      return Retcode::Reject;
  }
  return Retcode::Error;
}

/// Whether every bar opens on a UTC boundary of its timeframe. A trade server in another zone
/// opens H4 and D1 bars at its own midnight: drawn beside the gateway's UTC bars they would
/// overlap, so such a timeframe is not backfilled.
bool aligned_to_utc(const std::vector<Bar>& bars, Timeframe tf) {
  const TimeMs length = timeframe_ms(tf);
  return std::all_of(bars.begin(), bars.end(), [length](const Bar& b) { return b.time_msc % length == 0; });
}

template <class Decode>
auto decode_field(const json::object& body, std::string_view key, Decode decode) -> decltype(decode(json::value{})) {
  const auto* v = body.if_contains(key);
  if (!v) return std::nullopt;
  return decode(*v);
}

}  // namespace

TerminalBroker::TerminalBroker(TerminalOptions options)
    : options_(std::move(options)),
      clock_(options_.clock ? options_.clock : std::make_shared<SystemClock>()),
      link_(context_, options_.command_url, options_.token, options_.timeout),
      mirror_(options_.recent_deals_per_account) {}

TerminalBroker::~TerminalBroker() {
  stop();
}

void TerminalBroker::start() {
  if (thread_.joinable()) return;
  thread_ = std::jthread([this](const std::stop_token& stop) { run(stop); });
}

void TerminalBroker::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
}

bool TerminalBroker::wait_until_connected(std::chrono::milliseconds limit) {
  std::unique_lock lock(hello_mu_);
  return connected_cv_.wait_for(lock, limit, [this] { return link_up_.load() && hello_.has_value(); });
}

bool TerminalBroker::connected() const {
  return link_up_.load() && trade_server_up_.load();
}

// ---------------------------------------------------------------- the link thread

void TerminalBroker::run(const std::stop_token& stop) {
  zmq::socket_t events(context_, zmq::socket_type::sub);
  events.set(zmq::sockopt::linger, 0);
  for (const auto topic : {EventTopic::Tick, EventTopic::Trade, EventTopic::Heartbeat}) {
    events.set(zmq::sockopt::subscribe, std::string(to_string(topic)) + " ");
  }
  events.connect(options_.event_url);
  auto next_round = std::chrono::steady_clock::now();
  while (!stop.stop_requested()) {
    zmq::pollitem_t item{events.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(50));  // short: stop() waits for it
    zmq::message_t frame;
    for (int n = 0; n < kEventsPerTurn && events.recv(frame, zmq::recv_flags::dontwait); ++n) {
      on_event(frame.to_string_view());
    }
    if (std::chrono::steady_clock::now() < next_round && !resync_wanted_.exchange(false)) continue;
    next_round = std::chrono::steady_clock::now() + options_.refresh_interval;
    // Re-reads wait for the gateway's listener: what they find is delivered once, and the
    // gateway seeds the mirror (restore) before it listens.
    if (!handshake() || !listening()) continue;
    refresh_all(stop);
  }
}

bool TerminalBroker::refresh_all(const std::stop_token& stop) {
  for (const Login login : mirror_.logins()) {
    if (stop.stop_requested() || !refresh_account(login)) return false;
  }
  return true;
}

bool TerminalBroker::reconcile_now() {
  return handshake() && refresh_all({});
}

bool TerminalBroker::handshake() {
  auto hello = answered(link_.call("hello", {}, kBackground));
  if (!hello || !hello->ok) return false;
  const auto* terminal = hello->body.if_contains("terminal");
  const auto* login = terminal && terminal->is_object() ? terminal->get_object().if_contains("login") : nullptr;
  if (!login || !login->is_int64() || login->get_int64() < 0) {
    report("hello answered without a login: is this a PermisoBridge?");
    return false;
  }
  const auto& t = terminal->get_object();
  Hello h;
  h.login = static_cast<Login>(login->get_int64());
  h.multi_account = t.if_contains("accounts") && t.at("accounts") == "multi";
  h.trade_server_connected = t.if_contains("connected") && t.at("connected") == true;
  if (const auto* offset = t.if_contains("server_utc_offset_s"); offset && offset->is_int64()) {
    h.server_utc_offset_s = offset->get_int64();
  }
  if (options_.expected_login && *options_.expected_login != h.login) {
    report(fmt::format("logged in to account {}, but MT5_LOGIN is {}: refusing it", h.login, *options_.expected_login));
    return false;
  }
  const bool first = !link_up_.load();
  if (first) {
    auto symbols = answered(link_.call("symbols", {}, kBackground));
    auto list = symbols && symbols->ok ? symbol_rows(symbols->body, "symbols") : std::nullopt;
    if (!list) return false;
    for (const auto& s : *list) {
      auto tick = answered(link_.call("tick", {{"symbol", s.name}}, kBackground));
      if (auto t2 = tick && tick->ok ? decode_field(tick->body, "tick", tick_from_json) : std::nullopt) {
        mirror_.set_tick(s.name, *t2);
      }
    }
    mirror_.set_symbols(std::move(*list));
  }
  trade_server_up_ = h.trade_server_connected;
  {
    std::lock_guard lock(hello_mu_);
    log_clock(h, hello_);
    hello_ = h;
    link_up_ = true;
    last_problem_.clear();
  }
  connected_cv_.notify_all();
  if (first)
    spdlog::info("mt5 terminal: connected (account {}, {} account mode)", h.login,
                 h.multi_account ? "multi" : "single");
  return true;
}

// Once, and at every change (a daylight-saving switch of the trade server's zone): the offset
// explains the terminal's own logs, whose times are the server's.
void TerminalBroker::log_clock(const Hello& now, const std::optional<Hello>& before) const {
  if (before && before->server_utc_offset_s == now.server_utc_offset_s) return;
  if (!now.server_utc_offset_s) {
    spdlog::warn(
        "mt5 terminal: the EA does not report its trade server's UTC offset: an EA older than "
        "server_utc_offset_s may send trade server times, not UTC (update PermisoBridge.mq5)");
    return;
  }
  spdlog::info("mt5 terminal: trade server clock at UTC{:+} s; the EA sends UTC times", *now.server_utc_offset_s);
}

std::optional<std::int64_t> TerminalBroker::server_utc_offset_s() const {
  std::lock_guard lock(hello_mu_);
  return hello_ ? hello_->server_utc_offset_s : std::nullopt;
}

std::size_t TerminalBroker::backfill(BarBuilder& bars) {
  std::size_t loaded = 0;
  if (options_.backfill_bars == 0) return loaded;
  for (const auto& symbol : symbols_get()) {
    for (const auto tf : kTimeframes) {
      const auto added = backfill_one(bars, symbol.name, tf);
      if (!added) return loaded;
      loaded += *added;
    }
  }
  return loaded;
}

std::optional<std::size_t> TerminalBroker::backfill_one(BarBuilder& bars, const std::string& symbol, Timeframe tf) {
  const auto count = std::min<std::size_t>(options_.backfill_bars, kMaxRatesPerCommand);
  auto reply =
      answered(link_.call("rates", {{"symbol", symbol}, {"timeframe", to_string(tf)}, {"count", count}}, kBackground));
  if (!reply) return std::nullopt;  // the terminal went quiet: charts start from live ticks
  if (!reply->ok && reply->error == ErrorCode::UnknownCommand) {
    spdlog::warn("mt5 terminal: the EA has no rates command (older than this gateway): charts start at connect");
    return std::nullopt;
  }
  auto rows = reply->ok ? bar_rows(reply->body, "rates") : std::nullopt;
  if (!rows) return 0;  // not in Market Watch any more, or a malformed answer: this one only
  if (!aligned_to_utc(*rows, tf)) {
    spdlog::debug("mt5 terminal: {} {} history is aligned to the trade server's zone, not UTC: not loaded", symbol,
                  to_string(tf));
    return 0;
  }
  bars.load_history(symbol, tf, *rows);
  return rows->size();
}

bool TerminalBroker::refresh_account(Login login) {
  {
    std::lock_guard lock(hello_mu_);
    if (hello_ && !hello_->multi_account && hello_->login != login) return true;  // not this terminal's
  }
  AccountSnapshot snap;
  snap.generation = mirror_.generation();  // what an order answered meanwhile is newer
  const json::object who{{"login", login}};
  auto account = answered(link_.call("account_info", who, kBackground));
  if (!account) return false;
  if (!account->ok) return true;  // not_found: an account this terminal does not serve
  snap.now_msc = now_ms();
  const json::object of_account{{"login", login}, {"symbol", ""}};
  auto positions = answered(link_.call("positions", of_account, kBackground));
  auto orders = answered(link_.call("orders", of_account, kBackground));
  if (!positions || !orders) return false;
  auto a = decode_field(account->body, "account", account_from_json);
  auto p = positions->ok ? position_rows(positions->body, "positions") : std::nullopt;
  auto o = orders->ok ? order_rows(orders->body, "orders") : std::nullopt;
  if (!a || !p || !o) return true;  // unreadable: try again next round
  // Deals only when rows went or appeared unannounced (a position closed while the link was
  // down finds its Out deal there): a busy account's history is large, and every command
  // waits behind this one.
  if (auto since = mirror_.oldest_unexplained(login, *p, *o)) {
    auto deals = answered(link_.call(
        "history_deals", {{"login", login}, {"from_msc", *since - kDealOverlap}, {"to_msc", snap.now_msc + kDay}},
        kBackground));
    if (!deals) return false;
    auto d = deals->ok ? deal_rows(deals->body, "deals") : std::nullopt;
    if (!d) return true;
    snap.deals = std::move(*d);
  }
  snap.account = std::move(*a);
  snap.open_positions = std::move(*p);
  snap.pending_orders = std::move(*o);
  deliver(mirror_.reconcile(snap));
  return true;
}

void TerminalBroker::on_event(std::string_view frame) {
  auto event = parse_event(frame);
  if (!event) return;
  switch (event->topic) {
    case EventTopic::Tick: {
      const auto* symbol = event->body.if_contains("symbol");
      auto tick = decode_field(event->body, "tick", tick_from_json);
      if (!symbol || !symbol->is_string() || !tick) return;
      const std::string_view name = symbol->get_string();
      mirror_.set_tick(name, *tick);
      std::lock_guard lock(listener_mu_);
      if (on_tick_) on_tick_(name, *tick);
      return;
    }
    case EventTopic::Trade:
      if (auto changes = decode_field(event->body, "changes", changes_from_json))
        deliver(mirror_.apply(std::move(*changes)));
      return;
    case EventTopic::Heartbeat:
      if (const auto* c = event->body.if_contains("connected"); c && c->is_bool()) trade_server_up_ = c->get_bool();
      return;
  }
}

void TerminalBroker::deliver(const Changes& changes) {
  if (changes.empty()) return;
  std::lock_guard lock(listener_mu_);
  if (on_change_) on_change_(changes);
}

void TerminalBroker::report(const std::string& problem) {
  {
    std::lock_guard lock(hello_mu_);
    if (problem == last_problem_) return;  // once per problem, not once per round
    last_problem_ = problem;
  }
  spdlog::error("mt5 terminal: {}", problem);
}

void TerminalBroker::link_lost() {
  if (link_up_.exchange(false))
    spdlog::warn("mt5 terminal: no answer within {} ms: disconnected", options_.timeout.count());
}

std::optional<Reply> TerminalBroker::answered(const Exchange& exchange) {
  if (exchange.status == Exchange::Status::Busy) return std::nullopt;  // orders kept it: not a loss
  if (exchange.status != Exchange::Status::Answered) {
    link_lost();
    return std::nullopt;
  }
  const Reply& reply = *exchange.reply;
  if (!reply.ok && reply.error == ErrorCode::Unauthorized) {
    report("the bridge refused our token (MT5_TERMINAL_TOKEN)");
  }
  if (!reply.ok && reply.error == ErrorCode::Unavailable) trade_server_up_ = false;
  return reply;
}

// ---------------------------------------------------------------- Broker

SendOutcome TerminalBroker::open_account(std::string_view name, std::string_view currency, int leverage,
                                         double deposit) {
  if (!connected()) return refusal(Retcode::Connection, "the terminal is not connected");
  bool single = false;
  {
    std::lock_guard lock(hello_mu_);
    single = hello_ && !hello_->multi_account;
    if (single && (single_account_bound_ || restored_logins_.contains(hello_->login))) {
      return refusal(Retcode::Reject, "the terminal's account belongs to another principal");
    }
    if (single) single_account_bound_ = true;  // reserved: a second principal racing in is refused
  }
  auto release = [&](SendOutcome out) {
    std::lock_guard lock(hello_mu_);
    if (single) single_account_bound_ = false;
    return out;
  };
  const json::object args{{"name", name}, {"currency", currency}, {"leverage", leverage}, {"deposit", deposit}};
  const auto exchange = link_.call("account_open", args);
  auto reply = answered(exchange);
  if (!reply) return release(refusal(Retcode::Connection, "no answer from the terminal"));
  if (!reply->ok) return release(refusal(retcode_of(reply->error), reply->message));
  auto changes = decode_field(reply->body, "changes", changes_from_json);
  if (!changes || changes->accounts.empty())
    return release(refusal(Retcode::Error, "unreadable answer from the terminal"));
  if (single) {
    std::lock_guard lock(hello_mu_);
    if (hello_) hello_->login = changes->accounts.front().login;  // the account the terminal trades
  }
  SendOutcome out;
  out.result.retcode = Retcode::Done;
  out.changes = mirror_.apply(std::move(*changes));
  return out;
}

void TerminalBroker::restore(const BrokerState& state) {
  mirror_.seed(state);
  std::lock_guard lock(hello_mu_);
  restored_logins_.clear();
  for (const auto& a : state.accounts) restored_logins_.insert(a.login);
}

SendOutcome TerminalBroker::order_send(Login login, const TradeRequest& request) {
  if (!connected()) return refusal(Retcode::Connection, "the terminal is not connected");
  {
    std::lock_guard lock(hello_mu_);
    if (hello_ && !hello_->multi_account && hello_->login != login) {
      return refusal(Retcode::Reject, "the terminal is logged in to another account");
    }
  }
  json::object args{{"login", login}};
  add_request_fields(args, request);
  const auto exchange = link_.call("order_send", args);
  if (exchange.status == Exchange::Status::Busy) return refusal(Retcode::Connection, "the terminal is busy");
  if (exchange.status == Exchange::Status::NotSent) {
    link_lost();
    return refusal(Retcode::Connection, "the terminal did not take the order");
  }
  // From here the terminal may have acted: an unknown outcome is a timeout, settled by the
  // re-read that follows (the order's rows reach the gateway as changes).
  auto reply = answered(exchange);
  resync_wanted_ = !reply.has_value();
  if (!reply) return refusal(Retcode::Timeout, "no answer from the terminal: the outcome is not known yet");
  if (!reply->ok) return refusal(retcode_of(reply->error), reply->message);
  auto result = decode_field(reply->body, "result", trade_result_from_json);
  auto changes = decode_field(reply->body, "changes", changes_from_json);
  if (!result || !changes) {
    resync_wanted_ = true;
    return refusal(Retcode::Timeout, "unreadable answer from the terminal: the outcome is not known yet");
  }
  return {std::move(*result), mirror_.apply(std::move(*changes))};
}

std::optional<AccountInfo> TerminalBroker::account_info(Login login) const {
  return mirror_.account(login);
}
std::vector<SymbolInfo> TerminalBroker::symbols_get() const {
  return mirror_.symbols();
}
std::optional<SymbolInfo> TerminalBroker::symbol_info(std::string_view symbol) const {
  return mirror_.symbol(symbol);
}
std::optional<Tick> TerminalBroker::symbol_info_tick(std::string_view symbol) const {
  return mirror_.tick(symbol);
}
std::vector<Position> TerminalBroker::positions_get(Login login, std::string_view symbol) const {
  return mirror_.positions(login, symbol);
}
std::optional<Position> TerminalBroker::position_get(Login login, Ticket ticket) const {
  return mirror_.open_position(login, ticket);
}
std::vector<Position> TerminalBroker::positions_page(Login login, std::string_view symbol, std::optional<Ticket> below,
                                                     std::size_t limit) const {
  return mirror_.positions_page(login, symbol, below, limit);
}
std::size_t TerminalBroker::positions_total(Login login) const {
  return mirror_.positions_total(login);
}
std::vector<Order> TerminalBroker::orders_get(Login login, std::string_view symbol) const {
  return mirror_.orders(login, symbol);
}
std::vector<Deal> TerminalBroker::history_deals_get(Login login, TimeMs from_msc, TimeMs to_msc) const {
  return mirror_.deals(login, from_msc, to_msc);
}

void TerminalBroker::set_change_listener(ChangeListener listener) {
  std::lock_guard lock(listener_mu_);
  on_change_ = std::move(listener);
  if (on_change_) resync_wanted_ = true;  // what changed while nobody listened
}

bool TerminalBroker::listening() const {
  std::lock_guard lock(listener_mu_);
  return static_cast<bool>(on_change_);
}

void TerminalBroker::set_tick_listener(TickListener listener) {
  std::lock_guard lock(listener_mu_);
  on_tick_ = std::move(listener);
}

}  // namespace permiso::trading::terminal
