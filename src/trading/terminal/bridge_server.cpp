// See bridge_server.hpp. Three parts: the event queue the broker's threads fill, the command
// handlers (request arguments → Broker call → reply fields), and the serving thread that owns
// both sockets, since ZeroMQ sockets must not be shared between threads.
#include "trading/terminal/bridge_server.hpp"

#include "common/secret_compare.hpp"
#include "trading/terminal/protocol.hpp"

#include <boost/json/serialize.hpp>

#include <array>
#include <deque>
#include <stdexcept>
#include <utility>
#include <variant>

namespace permiso::trading::terminal {

namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

/// How long the serving thread waits for a command before it publishes queued events: both
/// the worst added latency of an event and the slack of a heartbeat.
constexpr auto kPollInterval = 10ms;
/// Events kept while nothing publishes them (paused, or before start()). Ticks at the
/// simulator's pace fill this in minutes; the connector re-reads anything older anyway.
constexpr std::size_t kMaxQueuedEvents = 10'000;
/// The largest command accepted: an order_send is well under 1 KiB; a larger frame is not a
/// command, and ZeroMQ drops the peer that sends it rather than buffering it.
constexpr std::int64_t kMaxRequestBytes = 1 << 20;

/// Adds `delta_ms` to every non-zero integer `*_msc` member, at any depth: the one place the
/// stand-in moves times between its trade server's clock and the protocol's UTC, as the EA's
/// UtcMsc and ServerMsc do. 0 stays 0: it means "not set" (a pending order's time_done_msc).
void shift_times(json::value& v, std::int64_t delta_ms) {
  if (delta_ms == 0) return;
  if (auto* array = v.if_array()) {
    for (auto& item : *array) shift_times(item, delta_ms);
    return;
  }
  auto* object = v.if_object();
  if (!object) return;
  for (auto& [key, member] : *object) {
    if (key.ends_with("_msc") && member.is_int64() && member.get_int64() != 0) {
      member = member.get_int64() + delta_ms;
    } else {
      shift_times(member, delta_ms);
    }
  }
}

/// An event frame whose times are UTC, from a body on the trade server's clock.
std::string utc_event_frame(EventTopic topic, json::object body, std::int64_t offset_ms) {
  json::value v(std::move(body));
  shift_times(v, -offset_ms);
  return event_frame(topic, v.get_object());
}

std::int64_t offset_ms_of(const BridgeServerOptions& o) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(o.server_utc_offset).count();
}

}  // namespace

// ---- events: from the broker's threads to the serving thread ----

/// Frames waiting for the serving thread. Never blocks the broker beyond a short lock: past
/// the bound the oldest tick goes (a newer quote supersedes it), or else the oldest frame.
class EventQueue {
 public:
  void push(std::string frame, bool is_tick) {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    entries_.push_back({std::move(frame), is_tick});
    if (entries_.size() > kMaxQueuedEvents) drop_oldest();
  }
  std::deque<std::string> take_all() {
    std::deque<Entry> taken;
    {
      std::lock_guard lock(mutex_);
      taken.swap(entries_);
    }
    std::deque<std::string> frames;
    for (auto& entry : taken) frames.push_back(std::move(entry.frame));
    return frames;
  }
  /// The server is gone: the listeners the broker still holds stop queueing.
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    entries_.clear();
  }

 private:
  struct Entry {
    std::string frame;
    bool is_tick = false;
  };
  void drop_oldest() {
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->is_tick) {
        entries_.erase(it);
        return;
      }
    }
    entries_.pop_front();
  }

  std::mutex mutex_;
  std::deque<Entry> entries_;
  bool closed_ = false;
};

// ---- commands: arguments → Broker → reply fields ----

namespace {

/// A command's answer: the reply's fields, or the error it is refused with.
struct Answer {
  json::object fields;
  std::optional<ErrorCode> error;
  std::string message;
};

Answer refuse(ErrorCode code, std::string message) {
  return {{}, code, std::move(message)};
}

/// What a handler works with; `single_login` is only touched on the serving thread.
struct Context {
  Broker& broker;
  const BridgeServerOptions& options;
  std::optional<Login>& single_login;
  const BarBuilder& history;
};

/// The account a command's `login` names, or its refusal: bad_request without a login,
/// not_found for one the broker does not have (a terminal answers only its own).
std::variant<AccountInfo, Answer> named_account(const Context& ctx, const json::object& args) {
  FieldReader in(args);
  Login login = 0;
  in.read("login", login);
  if (!in.ok()) return refuse(ErrorCode::BadRequest, "login must be a non-negative integer");
  auto account = ctx.broker.account_info(login);
  if (!account) return refuse(ErrorCode::NotFound, "no such account");
  return *account;
}

/// The `symbol` argument, or nullopt (bad_request) when missing or not a string.
std::optional<std::string> symbol_argument(const json::object& args) {
  FieldReader in(args);
  std::string symbol;
  in.read("symbol", symbol);
  return in.ok() ? std::optional(std::move(symbol)) : std::nullopt;
}

Answer hello(Context& ctx, const json::object& /*args*/) {
  TerminalInfo t;
  t.login = ctx.options.multi_account ? 0 : ctx.single_login.value_or(0);
  t.server = ctx.options.server;
  t.company = "Permiso";
  t.name = ctx.options.terminal_name;
  t.build = 0;  // not a MetaTrader build
  t.connected = ctx.broker.connected();
  t.trade_allowed = t.connected;
  t.multi_account = ctx.options.multi_account;
  t.server_utc_offset_s = ctx.options.server_utc_offset.count();
  return {{{"terminal", to_json(t)}}, {}, {}};
}

/// A single-account terminal cannot open accounts: it answers the one it is logged in to.
Answer existing_single_account(const Context& ctx) {
  auto account = ctx.broker.account_info(*ctx.single_login);
  if (!account) return refuse(ErrorCode::Unavailable, "the terminal's account is gone");
  Changes changes;
  changes.accounts.push_back(*account);
  return {{{"account", to_json(*account)}, {"changes", to_json(changes)}}, {}, {}};
}

Answer account_open(Context& ctx, const json::object& args) {
  FieldReader in(args);
  std::string name;
  std::string currency;
  int leverage = 0;
  double deposit = 0;
  in.read("name", name);
  in.read("currency", currency);
  in.read("leverage", leverage);
  in.read("deposit", deposit);
  if (!in.ok()) return refuse(ErrorCode::BadRequest, "account_open needs name, currency, leverage and deposit");
  if (!ctx.options.multi_account && ctx.single_login) return existing_single_account(ctx);
  SendOutcome out = ctx.broker.open_account(name, currency, leverage, deposit);
  if (out.changes.accounts.empty()) return refuse(ErrorCode::BadRequest, out.result.comment);
  const AccountInfo& account = out.changes.accounts.front();
  if (!ctx.options.multi_account) ctx.single_login = account.login;
  return {{{"account", to_json(account)}, {"changes", to_json(out.changes)}}, {}, {}};
}

Answer account_info(Context& ctx, const json::object& args) {
  auto account = named_account(ctx, args);
  if (auto* refusal = std::get_if<Answer>(&account)) return std::move(*refusal);
  return {{{"account", to_json(std::get<AccountInfo>(account))}}, {}, {}};
}

Answer symbols(Context& ctx, const json::object& /*args*/) {
  return {{{"symbols", to_json_array(ctx.broker.symbols_get())}}, {}, {}};
}

Answer symbol(Context& ctx, const json::object& args) {
  auto name = symbol_argument(args);
  if (!name) return refuse(ErrorCode::BadRequest, "symbol must be a string");
  auto info = ctx.broker.symbol_info(*name);
  if (!info) return refuse(ErrorCode::NotFound, "no such symbol");
  return {{{"symbol", to_json(*info)}}, {}, {}};
}

Answer tick(Context& ctx, const json::object& args) {
  auto name = symbol_argument(args);
  if (!name) return refuse(ErrorCode::BadRequest, "symbol must be a string");
  auto quote = ctx.broker.symbol_info_tick(*name);
  if (!quote) return refuse(ErrorCode::NotFound, "no such symbol");
  return {{{"tick", to_json(*quote)}}, {}, {}};
}

Answer order_send(Context& ctx, const json::object& args) {
  auto account = named_account(ctx, args);
  if (auto* refusal = std::get_if<Answer>(&account)) return std::move(*refusal);
  auto request = request_from_json(args);
  if (!request) return refuse(ErrorCode::BadRequest, "order_send needs every MqlTradeRequest field");
  SendOutcome out = ctx.broker.order_send(std::get<AccountInfo>(account).login, *request);
  return {{{"result", to_json(out.result)}, {"changes", to_json(out.changes)}}, {}, {}};
}

/// positions and orders: the account's open rows, of one symbol or ("") all.
template <class Rows>
Answer open_rows(Context& ctx, const json::object& args, std::string_view field, Rows rows_of) {
  auto account = named_account(ctx, args);
  if (auto* refusal = std::get_if<Answer>(&account)) return std::move(*refusal);
  auto name = symbol_argument(args);
  if (!name) return refuse(ErrorCode::BadRequest, "symbol must be a string (\"\": all)");
  return {{{field, to_json_array(rows_of(std::get<AccountInfo>(account).login, *name))}}, {}, {}};
}

Answer positions(Context& ctx, const json::object& args) {
  return open_rows(ctx, args, "positions",
                   [&](Login login, const std::string& s) { return ctx.broker.positions_get(login, s); });
}

Answer orders(Context& ctx, const json::object& args) {
  return open_rows(ctx, args, "orders",
                   [&](Login login, const std::string& s) { return ctx.broker.orders_get(login, s); });
}

Answer history_deals(Context& ctx, const json::object& args) {
  auto account = named_account(ctx, args);
  if (auto* refusal = std::get_if<Answer>(&account)) return std::move(*refusal);
  FieldReader in(args);
  TimeMs from_msc = 0;
  TimeMs to_msc = 0;
  in.read("from_msc", from_msc);
  in.read("to_msc", to_msc);
  if (!in.ok()) return refuse(ErrorCode::BadRequest, "from_msc and to_msc must be integers");
  const Login login = std::get<AccountInfo>(account).login;
  return {{{"deals", to_json_array(ctx.broker.history_deals_get(login, from_msc, to_msc))}}, {}, {}};
}

/// CopyRates(symbol, timeframe, 0, count): the newest `count` bars, oldest first.
Answer rates(Context& ctx, const json::object& args) {
  FieldReader in(args);
  std::string name;
  std::string timeframe;
  int count = 0;
  in.read("symbol", name);
  in.read("timeframe", timeframe);
  in.read("count", count);
  const auto tf = timeframe_from_string(timeframe);
  if (!in.ok() || !tf || count < 1 || count > kMaxRatesPerCommand) {
    return refuse(ErrorCode::BadRequest, "rates needs symbol, timeframe (M1..D1) and count (1..1000)");
  }
  if (!ctx.broker.symbol_info(name)) return refuse(ErrorCode::NotFound, "no such symbol");
  return {{{"rates", to_json_array(ctx.history.rates(name, *tf, static_cast<std::size_t>(count)))}}, {}, {}};
}

using Handler = Answer (*)(Context&, const json::object&);
constexpr std::array<std::pair<std::string_view, Handler>, 11> kCommands = {{
    {"hello", hello},
    {"account_open", account_open},
    {"account_info", account_info},
    {"symbols", symbols},
    {"symbol", symbol},
    {"tick", tick},
    {"order_send", order_send},
    {"positions", positions},
    {"orders", orders},
    {"history_deals", history_deals},
    {"rates", rates},
}};

Handler handler_of(std::string_view cmd) {
  for (const auto& [name, handler] : kCommands) {
    if (name == cmd) return handler;
  }
  return nullptr;
}

json::object reply_of(std::uint64_t id, Answer answer) {
  if (answer.error) return error_reply(id, *answer.error, answer.message);
  json::object reply = ok_reply(id);
  for (auto& [key, value] : answer.fields) reply[key] = std::move(value);
  return reply;
}

void bind_or_throw(zmq::socket_t& socket, const std::string& endpoint) {
  try {
    socket.bind(endpoint);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error("cannot bind " + endpoint + ": " + e.what());
  }
}

}  // namespace

// ---- the server ----

BridgeServer::BridgeServer(Broker& broker, BridgeServerOptions options)
    : broker_(broker),
      options_(std::move(options)),
      clock_(options_.clock ? options_.clock : std::make_shared<SystemClock>()),
      context_(1),
      commands_(context_, zmq::socket_type::rep),
      events_(context_, zmq::socket_type::pub),
      queue_(std::make_shared<EventQueue>()),
      history_(std::make_shared<BarBuilder>()) {
  // Closing never waits for undelivered messages: a stopped terminal's replies are moot.
  commands_.set(zmq::sockopt::linger, 0);
  events_.set(zmq::sockopt::linger, 0);
  commands_.set(zmq::sockopt::rcvtimeo, static_cast<int>(kPollInterval.count()));
  commands_.set(zmq::sockopt::maxmsgsize, kMaxRequestBytes);
  bind_or_throw(commands_, options_.command_endpoint);
  bind_or_throw(events_, options_.event_endpoint);
  bound_command_endpoint_ = commands_.get(zmq::sockopt::last_endpoint);
  bound_event_endpoint_ = events_.get(zmq::sockopt::last_endpoint);

  // The listeners run on the broker's threads: they only format and queue (never touch a socket).
  const std::int64_t offset_ms = offset_ms_of(options_);
  broker_.set_tick_listener([queue = queue_, history = history_, offset_ms](std::string_view symbol, const Tick& t) {
    history->on_tick(symbol, t);  // on the trade server's clock, as a terminal's charts
    queue->push(utc_event_frame(EventTopic::Tick, {{"symbol", symbol}, {"tick", to_json(t)}}, offset_ms), true);
  });
  broker_.set_change_listener([queue = queue_, offset_ms](const Changes& changes) {
    if (changes.empty()) return;
    queue->push(utc_event_frame(EventTopic::Trade, {{"changes", to_json(changes)}}, offset_ms), false);
  });
}

BridgeServer::~BridgeServer() {
  stop();
  queue_->close();
}

void BridgeServer::start() {
  std::lock_guard lock(thread_mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { serve(); });
}

void BridgeServer::stop() {
  std::lock_guard lock(thread_mutex_);
  if (!thread_.joinable()) return;
  stopping_ = true;
  thread_.join();
}

std::string BridgeServer::command_endpoint() const {
  return bound_command_endpoint_;
}
std::string BridgeServer::event_endpoint() const {
  return bound_event_endpoint_;
}
void BridgeServer::set_paused(bool paused) {
  paused_ = paused;
}
std::uint64_t BridgeServer::commands_served() const {
  return served_.load();
}

void BridgeServer::serve() {
  next_heartbeat_ = std::chrono::steady_clock::now();
  while (!stopping_) {
    if (paused_) {
      std::this_thread::sleep_for(kPollInterval);
      continue;
    }
    try {
      serve_one_command();  // waits up to kPollInterval for one
      publish_queued_events();
      publish_heartbeat_if_due(std::chrono::steady_clock::now());
    } catch (const zmq::error_t&) {
      // A socket error ends nothing but this round: the terminal keeps serving, as the EA does.
    }
  }
}

void BridgeServer::serve_one_command() {
  zmq::message_t request;
  if (!commands_.recv(request)) return;  // no command this period
  bool multipart = false;
  while (commands_.get(zmq::sockopt::rcvmore)) {  // a command is one frame: drain the rest
    zmq::message_t part;
    (void)commands_.recv(part);
    multipart = true;
  }
  // Paused while this command was on its way: it hangs as in a stuck terminal, and is carried
  // out on resuming (its sender has given up by then: ZeroMQ drops the late reply).
  while (paused_ && !stopping_) std::this_thread::sleep_for(kPollInterval);
  const std::string reply = multipart ? json::serialize(error_reply(0, ErrorCode::BadRequest, "a command is one frame"))
                                      : answer(request.to_string_view());
  commands_.send(zmq::buffer(reply), zmq::send_flags::none);
  served_.fetch_add(1);
}

std::string BridgeServer::answer(std::string_view request) {
  auto command = parse_command(request);
  // id 0: a request whose own id cannot be read is answered all the same (REP must reply).
  if (!command) {
    return json::serialize(
        error_reply(0, ErrorCode::BadRequest, "not a version 1 command: a JSON object with v, an integer id and cmd"));
  }
  if (!options_.token.empty() && !secret_matches(options_.token, command->token)) {
    return json::serialize(error_reply(command->id, ErrorCode::Unauthorized, "wrong or missing token"));
  }
  const Handler handler = handler_of(command->cmd);
  if (handler == nullptr) {
    return json::serialize(error_reply(command->id, ErrorCode::UnknownCommand, "unknown command"));
  }
  Context ctx{broker_, options_, single_login_, *history_};
  const std::int64_t offset_ms = offset_ms_of(options_);
  json::value args(std::move(command->body));
  shift_times(args, offset_ms);  // a request's UTC times, on the trade server's clock
  try {
    json::value reply(reply_of(command->id, handler(ctx, args.get_object())));
    shift_times(reply, -offset_ms);
    return json::serialize(reply);
  } catch (const std::exception& e) {
    // A broker that throws is a terminal that cannot answer: the connector sees unavailable.
    return json::serialize(error_reply(command->id, ErrorCode::Unavailable, e.what()));
  }
}

void BridgeServer::publish_queued_events() {
  for (const auto& frame : queue_->take_all()) publish(frame);
}

void BridgeServer::publish_heartbeat_if_due(SteadyTime now) {
  if (now < next_heartbeat_) return;
  next_heartbeat_ = now + options_.heartbeat;
  publish(utc_event_frame(EventTopic::Heartbeat, {{"time_msc", clock_->now_ms()}, {"connected", broker_.connected()}},
                          offset_ms_of(options_)));
}

void BridgeServer::publish(const std::string& frame) {
  // PUB never blocks: a slow or absent subscriber loses frames (docs/brokers.md: events are
  // not trusted to arrive).
  (void)events_.send(zmq::buffer(frame), zmq::send_flags::dontwait);
}

}  // namespace permiso::trading::terminal
