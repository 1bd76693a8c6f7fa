// Serves any Broker over the PermisoBridge protocol (docs/brokers.md), exactly as the Expert
// Advisor does inside a MetaTrader 5 terminal: commands on a REP socket, tick, trade and
// heartbeat events on a PUB socket. mt5-sim runs it over the simulated broker, and the
// terminal connector's tests run against it message for message.
#pragma once

#include "common/clock.hpp"
#include "trading/bars.hpp"
#include "trading/broker.hpp"
#include "trading/model.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <zmq.hpp>

namespace permiso::trading::terminal {

struct BridgeServerOptions {
  std::string command_endpoint = "tcp://127.0.0.1:5555";  // "tcp://127.0.0.1:*" binds a free port
  std::string event_endpoint = "tcp://127.0.0.1:5556";
  std::string token;          // empty: commands need no token; else compared in constant time
  bool multi_account = true;  // hello's "accounts": "multi" (mt5-sim opens demo accounts) or "single"
  std::string terminal_name = "mt5-sim";
  std::string server = "Permiso-Demo";  // hello's trade server name
  std::chrono::milliseconds heartbeat{1000};
  /// The trade server's clock minus UTC, as a real terminal's TimeTradeServer() - TimeGMT():
  /// the broker's times are taken as that clock's. Every time on the wire is UTC, as the EA
  /// sends it: replies and events are shifted back by it, request times forward (hello
  /// reports it as server_utc_offset_s). 0: a trade server on UTC.
  std::chrono::seconds server_utc_offset{0};
  /// The trade server's clock (the heartbeat's time_msc, before the shift). Null: the system clock.
  std::shared_ptr<const Clock> clock;
};

class EventQueue;  // bridge_server.cpp: frames from the broker's threads to the serving thread

class BridgeServer {
 public:
  /// Binds both sockets (throws std::runtime_error naming the endpoint on failure) and sets the
  /// broker's tick and change listeners.
  BridgeServer(Broker& broker, BridgeServerOptions options);
  ~BridgeServer();  // stop()
  BridgeServer(const BridgeServer&) = delete;
  BridgeServer& operator=(const BridgeServer&) = delete;

  void start();                                        // the serving thread; idempotent
  void stop();                                         // joins; idempotent
  [[nodiscard]] std::string command_endpoint() const;  // as bound, e.g. "tcp://127.0.0.1:40123"
  [[nodiscard]] std::string event_endpoint() const;
  /// Tests: a hung terminal. While paused no command is read (requests time out) and no
  /// heartbeat or event is published (events queue up, bounded, until it resumes).
  void set_paused(bool paused);
  [[nodiscard]] std::uint64_t commands_served() const;
  /// The chart history `rates` answers from, as a terminal keeps it: built from the broker's
  /// ticks once constructed; seed it with older bars before start() (mt5-sim: the simulator's
  /// backfill).
  [[nodiscard]] BarBuilder& history() { return *history_; }

 private:
  using SteadyTime = std::chrono::steady_clock::time_point;

  void serve();  // the serving thread: the only one touching the sockets after construction
  void serve_one_command();
  void publish_queued_events();
  void publish_heartbeat_if_due(SteadyTime now);
  void publish(const std::string& frame);
  /// The reply to one request frame (docs/brokers.md, "Commands").
  [[nodiscard]] std::string answer(std::string_view request);

  Broker& broker_;
  const BridgeServerOptions options_;
  std::shared_ptr<const Clock> clock_;
  zmq::context_t context_;
  zmq::socket_t commands_;
  zmq::socket_t events_;
  std::string bound_command_endpoint_;
  std::string bound_event_endpoint_;
  /// Shared with the listeners the broker holds, which may outlive this server.
  std::shared_ptr<EventQueue> queue_;
  std::shared_ptr<BarBuilder> history_;  // shared with the tick listener, as queue_
  std::optional<Login> single_login_;    // single mode: the terminal's account once opened (serving thread)
  SteadyTime next_heartbeat_{};

  std::atomic<bool> paused_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> served_{0};
  std::mutex thread_mutex_;  // start/stop
  std::thread thread_;
};

}  // namespace permiso::trading::terminal
