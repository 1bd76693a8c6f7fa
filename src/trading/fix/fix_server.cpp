// See fix_server.hpp. The broker's listeners run on its quote thread (holding its step lock):
// they only queue, and a thread of ours hands the events to the Counterparty, whose sends may
// block on a slow peer's socket (QuickFIX writes synchronously). A stuck FIX client so never
// stalls the simulator's quotes, stops and stop-outs.
#include "trading/fix/fix_server.hpp"

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <set>
#include <stdexcept>
#include <utility>
#include <variant>

namespace permiso::trading::fix {
namespace {

/// Events kept while the delivery thread is behind: at the simulator's pace (about 30 symbols
/// every 250 ms) ten thousand are over a minute of ticks. Past it the oldest tick goes (a newer
/// quote supersedes it), else the oldest event (the connector re-reads what it missed).
constexpr std::size_t kMaxQueuedEvents = 10'000;

struct TickEvent {
  std::string symbol;
  Tick tick;
};
using Event = std::variant<TickEvent, Changes>;

CounterpartyOptions counterparty_options(const FixServerOptions& o) {
  CounterpartyOptions c;
  c.multi_account = o.multi_account;
  c.username = o.username;
  c.password = o.password;
  c.remembered_answers = o.remembered_answers;
  c.tags = o.tags;
  c.quote_comp_id = o.quote_comp_id;
  c.unsupported = o.unsupported;
  return c;
}

/// The engine's options, once validate() found nothing: the dictionary is written beside the
/// message store, so a deployment has no dictionary path to get right.
EngineOptions engine_options(const FixServerOptions& o) {
  if (auto problems = o.validate(); !problems.empty()) {
    std::string text = "FIX server options:";
    for (const auto& problem : problems) text += " " + problem + ";";
    throw std::invalid_argument(text);
  }
  EngineOptions e;
  e.role = EngineOptions::Role::Acceptor;
  for (const auto& client : o.client_comp_ids) {
    e.sessions.push_back({o.comp_id, client});
    if (!o.quote_comp_id.empty()) e.sessions.push_back({o.quote_comp_id, client});
  }
  e.port = o.port;
  e.store_dir = o.store_dir;
  e.heartbeat_seconds = o.heartbeat_seconds;
  e.tls = !o.cert_file.empty();
  e.cert_file = o.cert_file;
  e.key_file = o.key_file;
  std::error_code error;
  std::filesystem::create_directories(o.store_dir, error);
  if (error) throw std::runtime_error("cannot create the FIX store directory " + o.store_dir + ": " + error.message());
  e.dictionary_path = (std::filesystem::path(o.store_dir) / "FIX44-permiso.xml").string();
  if (!write_dictionary(e.dictionary_path, dictionary_numbers(o.tags))) {
    throw std::runtime_error("cannot write the FIX dictionary to " + e.dictionary_path);
  }
  return e;
}

}  // namespace

std::vector<std::string> FixServerOptions::validate() const {
  std::vector<std::string> problems;
  if (port < 1 || port > 65535) problems.push_back("port: " + std::to_string(port) + " is not a TCP port (1-65535)");
  if (comp_id.empty()) problems.emplace_back("comp_id: empty");
  if (client_comp_ids.empty()) problems.emplace_back("client_comp_ids: none (at least one initiator to accept)");
  std::set<std::string> seen;
  for (const auto& client : client_comp_ids) {
    if (client.empty()) problems.emplace_back("client_comp_ids: an empty comp id");
    if (client == comp_id) problems.push_back("client_comp_ids: " + client + " is our own comp id");
    if (!seen.insert(client).second) problems.push_back("client_comp_ids: " + client + " given twice");
  }
  if (!quote_comp_id.empty() && (quote_comp_id == comp_id || seen.contains(quote_comp_id))) {
    problems.push_back("quote_comp_id: " + quote_comp_id +
                       " is already the trading session's or an initiator's comp id");
  }
  if (username.empty()) problems.emplace_back("username: empty");
  if (password.empty()) problems.emplace_back("password: empty (every logon would be refused)");
  if (store_dir.empty()) problems.emplace_back("store_dir: empty (sequence numbers must outlive a restart)");
  if (cert_file.empty() != key_file.empty()) problems.emplace_back("cert_file/key_file: TLS needs both");
  if (heartbeat_seconds < 1) problems.emplace_back("heartbeat_seconds: must be positive");
  if (remembered_answers < 1) problems.emplace_back("remembered_answers: must be positive");
  if (auto numbered = fixtags::make_tag_map(fixtags::renumbering(tags)); !numbered) {
    for (const auto& p : numbered.error()) problems.push_back("tags: " + p.field + " " + p.rule);
  }
  return problems;
}

// ---- events: from the broker's thread to the delivery thread ----

class FixEventQueue {
 public:
  void push(Event event) {
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      events_.push_back(std::move(event));
      if (events_.size() > kMaxQueuedEvents) drop_oldest();
    }
    ready_.notify_one();
  }
  /// Waits for events (or stop) and takes them all.
  std::deque<Event> take(const std::stop_token& stop) {
    std::unique_lock lock(mu_);
    ready_.wait(lock, stop, [&] { return !events_.empty(); });
    return std::exchange(events_, {});
  }
  /// The server is gone: the listeners the broker still holds stop queueing.
  void close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    events_.clear();
  }

 private:
  void drop_oldest() {
    for (auto it = events_.begin(); it != events_.end(); ++it) {
      if (std::holds_alternative<TickEvent>(*it)) {
        events_.erase(it);
        return;
      }
    }
    events_.pop_front();
  }

  std::mutex mu_;
  std::condition_variable_any ready_;
  std::deque<Event> events_;
  bool closed_ = false;
};

// ---- the server ----

FixServer::FixServer(Broker& broker, FixServerOptions options)
    : events_(std::make_shared<FixEventQueue>()),
      counterparty_(broker, counterparty_options(options),
                    [this](const std::string& session, const Message& message) {
                      return engine_ && engine_->send(session, message.text());
                    }),
      engine_(std::make_unique<SessionEngine>(engine_options(options), counterparty_)) {
  broker.set_tick_listener([events = events_](std::string_view symbol, const Tick& tick) {
    events->push(TickEvent{std::string(symbol), tick});
  });
  broker.set_change_listener([events = events_](const Changes& changes) {
    if (!changes.empty()) events->push(changes);
  });
}

FixServer::~FixServer() {
  stop();
  events_->close();
}

void FixServer::start() {
  if (started_) return;
  started_ = true;
  engine_->start();
  delivery_ = std::jthread([this](const std::stop_token& stop) { deliver_events(stop); });
}

void FixServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (delivery_.joinable()) {
    delivery_.request_stop();
    delivery_.join();
  }
  engine_->stop();
}

void FixServer::deliver_events(const std::stop_token& stop) {
  while (!stop.stop_requested()) {
    for (auto& event : events_->take(stop)) {
      if (stop.stop_requested()) return;
      if (auto* tick = std::get_if<TickEvent>(&event)) {
        counterparty_.on_tick(tick->symbol, tick->tick);
      } else {
        counterparty_.on_changes(std::get<Changes>(event));
      }
    }
  }
}

}  // namespace permiso::trading::fix
