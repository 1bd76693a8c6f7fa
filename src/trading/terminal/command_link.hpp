// The connector's command channel to the terminal: one ZeroMQ REQ socket, one command at a
// time, each bounded by a deadline. REQ is strict (send, then receive), so a reply that never
// comes would wedge the socket: the link closes it and connects a new one (ZeroMQ's "lazy
// pirate" pattern), and the caller learns whether the command may have reached the terminal.
#pragma once

#include "trading/terminal/protocol.hpp"

#include <zmq.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace permiso::trading::terminal {

struct Exchange {
  enum class Status {
    Answered,  // `reply` holds the terminal's answer (which may be an error reply)
    Busy,      // other commands held the link for the whole deadline: not sent
    NotSent,   // no terminal connected (or the send failed): the terminal never saw the command
    Lost,      // sent, but no valid answer in time: the terminal may or may not have acted
  } status = Status::Busy;
  std::optional<Reply> reply;
};

class CommandLink {
 public:
  CommandLink(zmq::context_t& context, std::string endpoint, std::string token, std::chrono::milliseconds timeout);
  CommandLink(const CommandLink&) = delete;
  CommandLink& operator=(const CommandLink&) = delete;

  /// Who is asking: an order (a client waits for it) goes before the connector's own
  /// re-reads, which only ever wait behind the one command in flight.
  enum class Priority { Order, Background };
  /// Sends `cmd` with `args` (fields added to the command object) and waits for its reply.
  /// Thread-safe; callers queue for the link no longer than the timeout.
  Exchange call(std::string_view cmd, const boost::json::object& args = {}, Priority priority = Priority::Order);

 private:
  void reconnect();  // with link_ held

  zmq::context_t& context_;
  const std::string endpoint_;
  const std::string token_;  // sent in every command; never logged
  const std::chrono::milliseconds timeout_;
  std::timed_mutex link_;
  std::atomic<int> orders_waiting_{0};  // Priority::Order callers queued for link_
  std::unique_ptr<zmq::socket_t> socket_;
  std::uint64_t next_id_ = 1;
};

}  // namespace permiso::trading::terminal
