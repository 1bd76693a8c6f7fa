// The live stream behind GET /api/v1/stream (WebSocket): quotes of the symbols a connection
// subscribed to (scope market:data) and the events of its own account only (trade:read:
// positions, orders, deals, the account). Each connection keeps its principal and is closed
// when the token expires or is revoked. Slow consumers are the transport's
// business: WebSocketPeer::send drops a peer whose queue is full, never growing memory; the
// hub counts them when they leave (mt5_stream_dropped_total).
//
// Messages from the client: {"action":"subscribe","symbols":["EURUSD",…]},
// {"action":"unsubscribe","symbols":[…]}, {"action":"ping"}; GET /api/v1/stream?symbols=A,B subscribes at
// once. To the client: {"type":"welcome","quotes","trades","expires_at","available_symbols"},
// {"type":"quote","quote":{…}}, {"type":"trade","event":"opened|updated|closed","trade":{…}},
// {"type":"order","order":{…}}, {"type":"deal","deal":{…}}, {"type":"account","account":{…}},
// {"type":"subscribed"|"unsubscribed","symbols":[…]}, {"type":"pong"}, {"type":"error",…}.
#pragma once

#include "common/clock.hpp"
#include "http/websocket.hpp"
#include "trading/handlers/render.hpp"
#include "trading/model.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace permiso::trading::handlers {

class StreamHub {
 public:
  /// One connection as the hub knows it.
  struct Subscription {
    std::shared_ptr<http::WebSocketPeer> peer;
    std::int64_t expires_at = 0;    // the token's exp (Unix seconds)
    std::function<bool()> revoked;  // whether the token has been revoked since (sweep())
    bool quotes = false;            // market:data
    bool trades = false;            // trade:read
    std::atomic<Login> login{0};    // the caller's account, once known (0: none yet)
    std::mutex mutex;               // guards symbols
    std::set<std::string, std::less<>> symbols;
  };
  using Handle = std::shared_ptr<Subscription>;

  /// At most `max_symbols` subscriptions per connection.
  explicit StreamHub(const Instruments& instruments, std::size_t max_symbols = 64);

  /// Registers an accepted connection; sends the welcome message.
  Handle add(std::shared_ptr<http::WebSocketPeer> peer, std::int64_t expires_at, bool quotes, bool trades,
             std::function<bool()> revoked);
  /// The caller's account login is known: its events start flowing.
  void set_login(const Handle& h, Login login);
  /// The connection ended (on_close).
  void remove(const Handle& h);
  /// A client message (on the connection's I/O thread): cheap, never blocks.
  void on_message(const Handle& h, std::string_view text);

  /// From the broker's tick listener: one rendering, sent to each subscriber of the symbol.
  void on_tick(std::string_view symbol, const Tick& tick);
  /// Committed changes: each row goes to the connections of its own account only.
  void on_changes(const Changes& changes);

  /// Closes connections whose token has expired by `now` (1008 "token expired") or has been
  /// revoked (1008 "token revoked"), and forgets closed ones. Call about once a second and
  /// when revocations arrive.
  void sweep(std::int64_t now);
  /// Closes every connection (1001 going away), for shutdown.
  void close_all();

  [[nodiscard]] std::size_t connections() const;
  [[nodiscard]] std::uint64_t messages_sent() const { return sent_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t messages_dropped() const { return dropped_.load(std::memory_order_relaxed); }
  /// Connections the transport cut for falling behind, counted once each as they leave the hub.
  [[nodiscard]] std::uint64_t slow_consumers_dropped() const { return slow_consumers_.load(std::memory_order_relaxed); }

 private:
  void send(const Handle& h, std::string text);
  /// One frame to many connections, shared rather than copied per connection (see
  /// WebSocketPeer::send_shared): a quote to its 1,000 subscribers is one allocation.
  void send_to_all(const std::vector<Handle>& targets, std::string text);
  void subscribe(const Handle& h, const std::vector<std::string>& symbols, bool add);
  void send_error(const Handle& h, std::string_view error, std::string_view description);
  std::vector<Handle> by_login(Login login) const;

  const Instruments& instruments_;
  std::size_t max_symbols_;
  mutable std::shared_mutex mutex_;  // guards the three indexes; never held while sending
  std::set<Handle> all_;
  std::map<std::string, std::set<Handle>, std::less<>> by_symbol_;
  std::multimap<Login, Handle> by_login_;
  std::atomic<std::uint64_t> sent_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> slow_consumers_{0};
};

/// Calls hub.sweep(clock.now_seconds()) every `interval` on its own thread, and at once on
/// poke() (e.g. when revocations arrive). Stops in the destructor.
class StreamSweeper {
 public:
  StreamSweeper(StreamHub& hub, const Clock& clock, std::chrono::milliseconds interval = std::chrono::seconds(1));
  ~StreamSweeper();
  StreamSweeper(const StreamSweeper&) = delete;
  StreamSweeper& operator=(const StreamSweeper&) = delete;
  void poke();
  void stop();

 private:
  StreamHub& hub_;
  const Clock& clock_;
  std::chrono::milliseconds interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool poked_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace permiso::trading::handlers
