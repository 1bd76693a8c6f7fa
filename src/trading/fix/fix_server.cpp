// See fix_server.hpp.
#include "trading/fix/fix_server.hpp"

#include <filesystem>
#include <stdexcept>

namespace permiso::trading::fix {
namespace {

CounterpartyOptions counterparty_options(const FixServerOptions& o) {
  CounterpartyOptions c;
  c.multi_account = o.multi_account;
  c.username = o.username;
  c.password = o.password;
  c.tags = o.tags;
  return c;
}

EngineOptions engine_options(const FixServerOptions& o) {
  if (o.password.empty()) throw std::runtime_error("the FIX server needs a password");
  if (o.store_dir.empty()) throw std::runtime_error("the FIX server needs a store directory");
  if (o.client_comp_ids.empty()) throw std::runtime_error("the FIX server needs at least one client comp id");
  EngineOptions e;
  e.role = EngineOptions::Role::Acceptor;
  for (const auto& client : o.client_comp_ids) e.sessions.push_back({o.comp_id, client});
  e.port = o.port;
  e.store_dir = o.store_dir;
  e.heartbeat_seconds = o.heartbeat_seconds;
  e.tls = !o.cert_file.empty() || !o.key_file.empty();
  e.cert_file = o.cert_file;
  e.key_file = o.key_file;
  std::filesystem::create_directories(o.store_dir);
  e.dictionary_path = (std::filesystem::path(o.store_dir) / "FIX44-permiso.xml").string();
  if (!write_dictionary(e.dictionary_path, o.tags.position_id)) {
    throw std::runtime_error("cannot write the FIX dictionary to " + e.dictionary_path);
  }
  return e;
}

}  // namespace

FixServer::FixServer(Broker& broker, FixServerOptions options)
    : counterparty_(broker, counterparty_options(options),
                    [this](const std::string& session, const Message& message) {
                      return engine_ && engine_->send(session, message.text());
                    }),
      engine_(std::make_unique<SessionEngine>(engine_options(options), counterparty_)) {}

FixServer::~FixServer() {
  stop();
}

void FixServer::start() {
  engine_->start();
}

void FixServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  engine_->stop();
}

}  // namespace permiso::trading::fix
