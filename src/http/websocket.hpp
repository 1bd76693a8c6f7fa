// WebSocket (RFC 6455) endpoints on the same server and port: a handler inspects the upgrade
// request (authentication happens here), then either refuses with an ordinary Response or
// accepts and receives a peer it may push text frames to from any thread. Each peer's send
// queue is bounded: a slow consumer is disconnected, never allowed to grow memory.
#pragma once

#include "http/http.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

namespace permiso::http {

/// One open WebSocket connection, as its handler sees it. Thread-safe; outlives the
/// connection harmlessly (calls after close do nothing and return false).
class WebSocketPeer {
 public:
  virtual ~WebSocketPeer() = default;
  /// Queues a text frame. False when the connection is closed, or when the queue is over
  /// its bound: then the peer is closed with 1008 "slow consumer" and the frame dropped
  /// (so is everything still queued). The frame being written counts against the bytes.
  virtual bool send(std::string text) = 0;
  /// send() for a frame rendered once and sent to many peers (a fan-out): the queue keeps a
  /// reference, not a copy, so N peers behind by the same frames hold them once. The bounds
  /// count the frame's bytes against each peer as send() does. The default copies.
  virtual bool send_shared(std::shared_ptr<const std::string> text) { return send(std::string(*text)); }
  /// Sends a close frame with this code and reason, then ends the connection.
  virtual void close(std::uint16_t code, std::string reason) = 0;
  [[nodiscard]] virtual bool is_open() const = 0;
  /// Whether send() closed this peer for falling behind (1008 "slow consumer").
  [[nodiscard]] virtual bool cut_as_slow_consumer() const = 0;
  /// Request id of the upgrade request (for logs).
  [[nodiscard]] virtual const std::string& request_id() const = 0;
};

/// The handler's side of an accepted connection. Called on the connection's I/O thread:
/// must be cheap and never block. Only text messages arrive: a binary one closes with 1003,
/// invalid UTF-8 with 1007, one over max_message_bytes with 1009.
struct WebSocketCallbacks {
  std::function<void(std::string_view text)> on_message;  // a complete text message
  std::function<void()> on_close;                         // once, however it ended
};

struct WebSocketAccept {
  /// Called once the handshake is complete, with the peer to push to.
  std::function<WebSocketCallbacks(std::shared_ptr<WebSocketPeer>)> on_open;
  /// The subprotocol selected from the client's Sec-WebSocket-Protocol list, echoed in the
  /// 101 answer (browsers fail a handshake that offered protocols and got none back).
  /// Empty: none selected. Must be one the client offered.
  std::string subprotocol{};
};

/// Runs on the I/O thread for each upgrade request: return a Response (401, 403, …) to
/// refuse, or a WebSocketAccept to complete the handshake.
using WebSocketHandler = std::function<std::variant<Response, WebSocketAccept>(Request&)>;

struct WebSocketLimits {
  std::size_t max_message_bytes = 64 * 1024;  // larger incoming messages close with 1009
  std::size_t max_queued_messages = 1024;     // outgoing frames waiting per peer
  std::size_t max_queued_bytes = 4 * 1024 * 1024;
  /// No frame from the client for this long (a ping is sent halfway through): closed.
  std::chrono::milliseconds idle_timeout{60'000};
};

}  // namespace permiso::http
