// A Broker served as a FIX 4.4 acceptor on a TCP port (mt5-sim --fix-port): the session engine
// in the acceptor role, carrying the Counterparty's messages.
#pragma once

#include "trading/broker.hpp"
#include "trading/fix/counterparty.hpp"
#include "trading/fix/session_engine.hpp"

#include <memory>
#include <string>
#include <vector>

namespace permiso::trading::fix {

struct FixServerOptions {
  int port = 0;
  std::string comp_id = "MT5SIM";                       // our SenderCompID
  std::vector<std::string> client_comp_ids{"PERMISO"};  // the initiators accepted
  std::string username = "permiso";
  std::string password;   // required
  std::string store_dir;  // sequence numbers and sent messages; the dictionary is written here
  std::string cert_file;  // TLS when both are set
  std::string key_file;
  bool multi_account = true;
  int heartbeat_seconds = 30;
  TagMap tags;
};

class FixServer {
 public:
  /// Validates the options and writes the dictionary (throws std::runtime_error). The
  /// broker's listeners are not taken: the composition root forwards them (on_tick,
  /// on_changes), as it may serve the broker over other protocols too.
  FixServer(Broker& broker, FixServerOptions options);
  ~FixServer();  // stop()
  FixServer(const FixServer&) = delete;
  FixServer& operator=(const FixServer&) = delete;

  void start();  // listens
  void stop();   // logs every session out; idempotent
  [[nodiscard]] Counterparty& counterparty() { return counterparty_; }

 private:
  Counterparty counterparty_;
  std::unique_ptr<SessionEngine> engine_;
  bool stopped_ = false;
};

}  // namespace permiso::trading::fix
