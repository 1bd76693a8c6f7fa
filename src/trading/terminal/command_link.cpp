// See command_link.hpp.
#include "trading/terminal/command_link.hpp"

#include <boost/json/serialize.hpp>

#include <thread>

namespace permiso::trading::terminal {

CommandLink::CommandLink(zmq::context_t& context, std::string endpoint, std::string token,
                         std::chrono::milliseconds timeout)
    : context_(context), endpoint_(std::move(endpoint)), token_(std::move(token)), timeout_(timeout) {
  std::lock_guard lock(link_);
  reconnect();
}

void CommandLink::reconnect() {
  socket_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::req);
  // Unsent commands die with the socket: an order must never reach the terminal after its
  // caller was told it was not sent (or timed out).
  socket_->set(zmq::sockopt::linger, 0);
  // Queue nothing for a terminal that is not there: a send then fails at once, so "not sent"
  // is known for certain rather than guessed from a missing reply.
  socket_->set(zmq::sockopt::immediate, 1);
  socket_->connect(endpoint_);
}

namespace {

/// Waits until `socket` has `events` (ZMQ_POLLIN or ZMQ_POLLOUT) or the deadline passes.
bool wait_for(zmq::socket_t& socket, short events, std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  zmq::pollitem_t item{socket.handle(), 0, events, 0};
  return zmq::poll(&item, 1, left) > 0;
}

}  // namespace

Exchange CommandLink::call(std::string_view cmd, const boost::json::object& args, Priority priority) {
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  std::unique_lock lock(link_, std::defer_lock);
  if (priority == Priority::Order) {
    ++orders_waiting_;
    const bool got = lock.try_lock_until(deadline);
    --orders_waiting_;
    if (!got) return {};
  } else {
    // std::timed_mutex is not fair: without this a re-read of many accounts would take the
    // link back command after command while orders wait.
    while (orders_waiting_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    if (!lock.try_lock_until(deadline)) return {};
  }
  const std::uint64_t id = next_id_++;
  auto message = command(id, cmd, token_);
  for (const auto& [key, value] : args) message[key] = value;
  const std::string text = boost::json::serialize(message);
  // Writable means a terminal is connected (ZMQ_IMMEDIATE): until then nothing is sent.
  if (!wait_for(*socket_, ZMQ_POLLOUT, deadline) || !socket_->send(zmq::buffer(text), zmq::send_flags::dontwait)) {
    return {Exchange::Status::NotSent, std::nullopt};
  }
  while (wait_for(*socket_, ZMQ_POLLIN, deadline)) {
    zmq::message_t frame;
    if (!socket_->recv(frame, zmq::recv_flags::dontwait)) continue;
    auto reply = parse_reply(frame.to_string_view());
    if (!reply || reply->id != id) break;  // REQ pairs one reply per request: anything else is a broken peer
    return {Exchange::Status::Answered, std::move(reply)};
  }
  reconnect();
  return {Exchange::Status::Lost, std::nullopt};
}

}  // namespace permiso::trading::terminal
