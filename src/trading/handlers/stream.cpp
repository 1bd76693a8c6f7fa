// See stream.hpp.
#include "trading/handlers/stream.hpp"

#include <boost/json.hpp>

#include <algorithm>

namespace permiso::trading::handlers {

StreamHub::StreamHub(const Instruments& instruments, std::size_t max_symbols)
    : instruments_(instruments), max_symbols_(max_symbols) {}

StreamHub::Handle StreamHub::add(std::shared_ptr<http::WebSocketPeer> peer, std::int64_t expires_at, bool quotes,
                                 bool trades, std::function<bool()> revoked) {
  auto h = std::make_shared<Subscription>();
  h->peer = std::move(peer);
  h->expires_at = expires_at;
  h->revoked = std::move(revoked);
  h->quotes = quotes;
  h->trades = trades;
  {
    std::unique_lock lock(mutex_);
    all_.insert(h);
  }
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.member("type", "welcome");
  w.member("quotes", quotes);
  w.member("trades", trades);
  w.member_time("expires_at", expires_at * 1000);
  w.key("available_symbols").begin_array();
  if (quotes) {
    for (const auto& s : instruments_.all()) w.string(s.name);
  }
  w.end_array();
  w.end_object();
  send(h, std::move(out));
  return h;
}

void StreamHub::set_login(const Handle& h, Login login) {
  if (!h->trades || login == 0) return;
  std::unique_lock lock(mutex_);
  if (all_.count(h) == 0) return;  // closed meanwhile
  h->login.store(login, std::memory_order_release);
  by_login_.emplace(login, h);
}

void StreamHub::remove(const Handle& h) {
  std::unique_lock lock(mutex_);
  const bool first = all_.erase(h) > 0;  // on_close and sweep() may both remove it: count it once
  {
    std::lock_guard symbols_lock(h->mutex);
    for (const auto& s : h->symbols) {
      auto it = by_symbol_.find(s);
      if (it == by_symbol_.end()) continue;
      it->second.erase(h);
      if (it->second.empty()) by_symbol_.erase(it);
    }
    h->symbols.clear();
  }
  const Login login = h->login.load(std::memory_order_acquire);
  for (auto [it, end] = by_login_.equal_range(login); it != end;) {
    it = it->second == h ? by_login_.erase(it) : std::next(it);
  }
  lock.unlock();
  if (first && h->peer->cut_as_slow_consumer()) slow_consumers_.fetch_add(1, std::memory_order_relaxed);
}

void StreamHub::send(const Handle& h, std::string text) {
  if (h->peer->send(std::move(text))) {
    sent_.fetch_add(1, std::memory_order_relaxed);
  } else {
    dropped_.fetch_add(1, std::memory_order_relaxed);
  }
}

void StreamHub::send_to_all(const std::vector<Handle>& targets, std::string text) {
  const auto frame = std::make_shared<const std::string>(std::move(text));
  for (const auto& h : targets) {
    if (h->peer->send_shared(frame)) {
      sent_.fetch_add(1, std::memory_order_relaxed);
    } else {
      dropped_.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

void StreamHub::send_error(const Handle& h, std::string_view error, std::string_view description) {
  std::string out;
  JsonWriter w(out);
  w.begin_object().member("type", "error").member("error", error).member("error_description", description);
  w.end_object();
  send(h, std::move(out));
}

void StreamHub::subscribe(const Handle& h, const std::vector<std::string>& symbols, bool add) {
  std::vector<std::string> now;
  {
    std::unique_lock lock(mutex_);
    if (all_.count(h) == 0) return;
    std::lock_guard symbols_lock(h->mutex);
    for (const auto& s : symbols) {
      if (add) {
        if (h->symbols.size() >= max_symbols_) break;
        if (h->symbols.insert(s).second) by_symbol_[s].insert(h);
      } else if (h->symbols.erase(s) > 0) {
        auto it = by_symbol_.find(s);
        if (it != by_symbol_.end()) {
          it->second.erase(h);
          if (it->second.empty()) by_symbol_.erase(it);
        }
      }
    }
    now.assign(h->symbols.begin(), h->symbols.end());
  }
  std::string out;
  JsonWriter w(out);
  w.begin_object().member("type", add ? "subscribed" : "unsubscribed");
  w.key("symbols").begin_array();
  for (const auto& s : now) w.string(s);
  w.end_array().end_object();
  send(h, std::move(out));
}

void StreamHub::on_message(const Handle& h, std::string_view text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) {
    send_error(h, "invalid_message",
               "messages are JSON objects such as {\"action\":\"subscribe\",\"symbols\":[\"EURUSD\"]}");
    return;
  }
  const auto& o = v.get_object();
  const auto* action = o.if_contains("action");
  if (action == nullptr) action = o.if_contains("type");
  if (action == nullptr || !action->is_string()) {
    send_error(h, "invalid_message", "action: must be subscribe, unsubscribe or ping");
    return;
  }
  const std::string_view a = action->get_string();
  if (a == "ping") {
    send(h, R"({"type":"pong"})");
    return;
  }
  if (a != "subscribe" && a != "unsubscribe") {
    send_error(h, "invalid_message", "action: must be subscribe, unsubscribe or ping");
    return;
  }
  if (!h->quotes) {
    send_error(h, "insufficient_scope", "quotes need the market:data scope");
    return;
  }
  const auto* list = o.if_contains("symbols");
  if (list == nullptr) list = o.if_contains("symbol");
  std::vector<std::string> symbols;
  auto take = [&](const boost::json::value& item) -> bool {
    if (!item.is_string()) return false;
    std::string s(item.get_string());
    if (s.size() > 32) return false;
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    if (instruments_.find(s) == nullptr) return false;
    symbols.push_back(std::move(s));
    return true;
  };
  bool ok = list != nullptr;
  if (ok && list->is_array()) {
    if (list->get_array().size() > max_symbols_) ok = false;
    for (const auto& item : list->get_array()) ok = ok && take(item);
  } else if (ok) {
    ok = take(*list);
  }
  if (!ok) {
    send_error(h, "invalid_symbol", "symbols: a list of known symbols (GET /api/v1/symbols)");
    return;
  }
  subscribe(h, symbols, a == "subscribe");
}

void StreamHub::on_tick(std::string_view symbol, const Tick& tick) {
  std::vector<Handle> targets;
  {
    std::shared_lock lock(mutex_);
    auto it = by_symbol_.find(symbol);
    if (it == by_symbol_.end()) return;  // nobody listens: no rendering either
    targets.assign(it->second.begin(), it->second.end());
  }
  std::string out;
  out.reserve(200);
  JsonWriter w(out);
  w.begin_object().member("type", "quote").key("quote");
  write_quote(w, symbol, tick, instruments_.digits(symbol));
  w.end_object();
  send_to_all(targets, std::move(out));
}

std::vector<StreamHub::Handle> StreamHub::by_login(Login login) const {
  std::vector<Handle> out;
  std::shared_lock lock(mutex_);
  for (auto [it, end] = by_login_.equal_range(login); it != end; ++it) out.push_back(it->second);
  return out;
}

void StreamHub::on_changes(const Changes& changes) {
  {
    std::shared_lock lock(mutex_);
    if (by_login_.empty()) return;
  }
  for (const auto& p : changes.positions) {
    const auto targets = by_login(p.login);
    if (targets.empty()) continue;
    std::string out;
    JsonWriter w(out);
    const char* event = p.closed                                                      ? "closed"
                        : (p.time_update_msc == 0 || p.time_update_msc == p.time_msc) ? "opened"
                                                                                      : "updated";
    w.begin_object().member("type", "trade").member("event", event).key("trade");
    write_trade(w, p, instruments_.digits(p.symbol));
    w.end_object();
    send_to_all(targets, std::move(out));
  }
  for (const auto& o : changes.orders) {
    const auto targets = by_login(o.login);
    if (targets.empty()) continue;
    std::string out;
    JsonWriter w(out);
    w.begin_object().member("type", "order").key("order");
    write_order(w, o, instruments_.digits(o.symbol));
    w.end_object();
    send_to_all(targets, std::move(out));
  }
  for (const auto& d : changes.deals) {
    const auto targets = by_login(d.login);
    if (targets.empty()) continue;
    std::string out;
    JsonWriter w(out);
    w.begin_object().member("type", "deal").key("deal");
    write_deal(w, d, d.symbol.empty() ? kMoneyDigits : instruments_.digits(d.symbol));
    w.end_object();
    send_to_all(targets, std::move(out));
  }
  for (const auto& a : changes.accounts) {
    const auto targets = by_login(a.login);
    if (targets.empty()) continue;
    std::string out = R"({"type":"account","account":)" + render_account(a) + "}";
    send_to_all(targets, std::move(out));
  }
}

void StreamHub::sweep(std::int64_t now) {
  std::vector<Handle> all;
  {
    std::shared_lock lock(mutex_);
    all.assign(all_.begin(), all_.end());
  }
  for (const auto& h : all) {
    if (!h->peer->is_open()) {
      remove(h);  // on_close may not have run yet; removing twice is harmless
    } else if (now >= h->expires_at) {
      h->peer->close(1008, "token expired");
    } else if (h->revoked && h->revoked()) {
      h->peer->close(1008, "token revoked");
    }
  }
}

void StreamHub::close_all() {
  std::vector<Handle> all;
  {
    std::shared_lock lock(mutex_);
    all.assign(all_.begin(), all_.end());
  }
  for (const auto& h : all) h->peer->close(1001, "server shutting down");
}

std::size_t StreamHub::connections() const {
  std::shared_lock lock(mutex_);
  return all_.size();
}

StreamSweeper::StreamSweeper(StreamHub& hub, const Clock& clock, std::chrono::milliseconds interval)
    : hub_(hub), clock_(clock), interval_(interval) {
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      wake_.wait_for(lock, interval_, [this] { return stopping_ || poked_; });
      if (stopping_) break;
      poked_ = false;
      lock.unlock();
      hub_.sweep(clock_.now_seconds());
      lock.lock();
    }
  });
}

StreamSweeper::~StreamSweeper() {
  stop();
}

void StreamSweeper::poke() {
  {
    std::lock_guard lock(mutex_);
    poked_ = true;
  }
  wake_.notify_one();
}

void StreamSweeper::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

}  // namespace permiso::trading::handlers
