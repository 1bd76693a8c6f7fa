// A Broker served as a FIX 4.4 acceptor on a TCP port (mt5-sim --fix-port): the session engine
// in the acceptor role carrying the Counterparty's messages, as BridgeServer carries the same
// broker over the PermisoBridge protocol.
#pragma once

#include "trading/broker.hpp"
#include "trading/fix/counterparty.hpp"
#include "trading/fix/session_engine.hpp"

#include <cstddef>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace permiso::trading::fix {

struct FixServerOptions {
  /// The TCP port to listen on. QuickFIX 1.15.1 listens on every interface (it has no bind
  /// address): the password (and TLS) guard it, not the address.
  int port = 0;
  std::string comp_id = "MT5SIM";                       // our SenderCompID
  std::vector<std::string> client_comp_ids{"PERMISO"};  // the initiators' SenderCompIDs accepted
  /// Also accept each initiator's market-data session under this SenderCompID of ours
  /// (brokers that split quotes from trading); empty: one session per initiator.
  std::string quote_comp_id;
  std::string username = "permiso";
  std::string password;   // required
  std::string store_dir;  // sequence numbers and sent messages; the dictionary is written here
  std::string cert_file;  // TLS with both set
  std::string key_file;
  bool multi_account = true;
  int heartbeat_seconds = 30;
  std::size_t remembered_answers = 100'000;  // per account (CounterpartyOptions)
  TagMap tags;
  /// Requests refused as unsupported, by MsgType (CounterpartyOptions::unsupported).
  std::set<std::string, std::less<>> unsupported;

  /// Every problem, each naming its field; empty when the options can serve.
  [[nodiscard]] std::vector<std::string> validate() const;
};

class FixEventQueue;  // fix_server.cpp: the broker's events, from its thread to the delivery thread

class FixServer {
 public:
  /// Validates the options (std::invalid_argument listing every problem), writes the
  /// dictionary into the store directory and opens the session stores (std::runtime_error),
  /// and sets the broker's tick and change listeners. Serving one broker with another server
  /// too (BridgeServer) needs each to have its own listeners: see mt5-sim's BrokerShare.
  FixServer(Broker& broker, FixServerOptions options);
  ~FixServer();  // stop()
  FixServer(const FixServer&) = delete;
  FixServer& operator=(const FixServer&) = delete;

  /// Listens (std::runtime_error when it cannot, e.g. the port is taken) and starts delivering
  /// the broker's events.
  void start();
  void stop();  // logs every session out and joins; idempotent
  [[nodiscard]] Counterparty& counterparty() { return counterparty_; }

 private:
  void deliver_events(const std::stop_token& stop);

  /// Shared with the listeners the broker holds, which may outlive this server.
  std::shared_ptr<FixEventQueue> events_;
  Counterparty counterparty_;
  std::unique_ptr<SessionEngine> engine_;
  std::jthread delivery_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace permiso::trading::fix
