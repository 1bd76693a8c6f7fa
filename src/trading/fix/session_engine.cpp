// SessionEngine over Debian's QuickFIX 1.15.1: settings built from EngineOptions, callbacks
// forwarded to a SessionHandler, logs and the message store with passwords masked. The one file
// that includes QuickFIX, compiled as C++14 (see session_engine.hpp).
#include "trading/fix/session_engine.hpp"

#include <quickfix/Application.h>
#include <quickfix/DataDictionary.h>
#include <quickfix/FileStore.h>
#include <quickfix/Log.h>
#include <quickfix/Message.h>
#include <quickfix/MessageStore.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/ThreadedSSLSocketAcceptor.h>
#include <quickfix/ThreadedSSLSocketInitiator.h>
#include <quickfix/ThreadedSocketAcceptor.h>
#include <quickfix/ThreadedSocketInitiator.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <utility>

namespace permiso {
namespace trading {
namespace fix {
namespace {

constexpr char kSoh = '\x01';
constexpr const char* kBeginString = "FIX.4.4";

// ---- passwords ----

bool is_password_field(const std::string& text, std::size_t start) {
  return text.compare(start, 4, "554=") == 0 || text.compare(start, 4, "925=") == 0;
}

// ---- logs: every line to the handler, masked ----

class HandlerLog final : public FIX::Log {
 public:
  HandlerLog(SessionHandler& handler, std::string session) : handler_(handler), session_(std::move(session)) {}

  void clear() override {}
  void backup() override {}
  void onIncoming(const std::string& text) override { emit("incoming ", text); }
  void onOutgoing(const std::string& text) override { emit("outgoing ", text); }
  void onEvent(const std::string& text) override { emit("event ", text); }

 private:
  // QuickFIX calls a log from inside its session logic: nothing may escape.
  void emit(const char* kind, const std::string& text) noexcept {
    try {
      handler_.on_log(session_, kind + mask_passwords(text));
    } catch (...) {
    }
  }

  SessionHandler& handler_;
  std::string session_;
};

class HandlerLogFactory final : public FIX::LogFactory {
 public:
  explicit HandlerLogFactory(SessionHandler& handler) : handler_(handler) {}

  FIX::Log* create() override { return new HandlerLog(handler_, ""); }
  FIX::Log* create(const FIX::SessionID& id) override { return new HandlerLog(handler_, id.toString()); }
  void destroy(FIX::Log* log) override { delete log; }

 private:
  SessionHandler& handler_;
};

// ---- the message store: QuickFIX keeps every sent message for resend, the Logon too ----

// Stores what it is given with 554 and 925 masked, so the Logon's password never reaches the
// store's files. Nothing is lost: a resend replaces session-level messages (Logon included) by
// a gap fill and never sends them again.
class MaskingStore final : public FIX::MessageStore {
 public:
  MaskingStore(FIX::MessageStoreFactory& factory, FIX::MessageStore* store) : factory_(factory), store_(store) {}
  ~MaskingStore() override { factory_.destroy(store_); }
  MaskingStore(const MaskingStore&) = delete;
  MaskingStore& operator=(const MaskingStore&) = delete;

  bool set(int num, const std::string& text) throw(FIX::IOException) override {
    return store_->set(num, mask_passwords(text));
  }
  void get(int begin, int end, std::vector<std::string>& out) const throw(FIX::IOException) override {
    store_->get(begin, end, out);
  }
  int getNextSenderMsgSeqNum() const throw(FIX::IOException) override { return store_->getNextSenderMsgSeqNum(); }
  int getNextTargetMsgSeqNum() const throw(FIX::IOException) override { return store_->getNextTargetMsgSeqNum(); }
  void setNextSenderMsgSeqNum(int num) throw(FIX::IOException) override { store_->setNextSenderMsgSeqNum(num); }
  void setNextTargetMsgSeqNum(int num) throw(FIX::IOException) override { store_->setNextTargetMsgSeqNum(num); }
  void incrNextSenderMsgSeqNum() throw(FIX::IOException) override { store_->incrNextSenderMsgSeqNum(); }
  void incrNextTargetMsgSeqNum() throw(FIX::IOException) override { store_->incrNextTargetMsgSeqNum(); }
  FIX::UtcTimeStamp getCreationTime() const throw(FIX::IOException) override { return store_->getCreationTime(); }
  void reset() throw(FIX::IOException) override { store_->reset(); }
  void refresh() throw(FIX::IOException) override { store_->refresh(); }

 private:
  FIX::MessageStoreFactory& factory_;
  FIX::MessageStore* store_;
};

class MaskingStoreFactory final : public FIX::MessageStoreFactory {
 public:
  explicit MaskingStoreFactory(const std::string& store_dir) {
    if (store_dir.empty()) {
      stores_.reset(new FIX::MemoryStoreFactory());
    } else {
      stores_.reset(new FIX::FileStoreFactory(store_dir));
    }
  }

  FIX::MessageStore* create(const FIX::SessionID& id) override {
    return new MaskingStore(*stores_, stores_->create(id));
  }
  void destroy(FIX::MessageStore* store) override { delete store; }

 private:
  std::unique_ptr<FIX::MessageStoreFactory> stores_;
};

// ---- the application: QuickFIX's callbacks to the handler ----

bool is_logon(const FIX::Message& message) {
  return message.getHeader().isSetField(FIX::FIELD::MsgType) &&
         message.getHeader().getField(FIX::FIELD::MsgType) == FIX::MsgType_Logon;
}

std::string field_or_empty(const FIX::FieldMap& fields, int tag) {
  return fields.isSetField(tag) ? fields.getField(tag) : std::string();
}

class EngineApplication final : public FIX::Application {
 public:
  EngineApplication(const EngineOptions& options, SessionHandler& handler) : options_(options), handler_(handler) {}

  bool logged_on(const std::string& session) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return logged_on_.count(session) > 0;
  }

  void onCreate(const FIX::SessionID&) override {}
  void onLogon(const FIX::SessionID& id) override;
  void onLogout(const FIX::SessionID& id) override;
  void toAdmin(FIX::Message& message, const FIX::SessionID& id) override;
  void toApp(FIX::Message&, const FIX::SessionID&) throw(FIX::DoNotSend) override {}
  void fromAdmin(const FIX::Message& message,
                 const FIX::SessionID& id) throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
                                                 FIX::RejectLogon) override;
  void fromApp(const FIX::Message& message,
               const FIX::SessionID& id) throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
                                               FIX::UnsupportedMessageType) override;

 private:
  bool accept_logon(const FIX::Message& logon, const std::string& session, std::string& reason);
  // QuickFIX's callbacks must not throw (but RejectLogon): a handler's exception is logged.
  template <class Call>
  void call_handler(const std::string& session, const char* callback, Call call) noexcept;
  void log_event(const std::string& session, const std::string& text) noexcept;

  const EngineOptions& options_;
  SessionHandler& handler_;
  mutable std::mutex mutex_;
  std::set<std::string> logged_on_;
};

template <class Call>
void EngineApplication::call_handler(const std::string& session, const char* callback, Call call) noexcept {
  try {
    call();
  } catch (const std::exception& e) {
    log_event(session, std::string(callback) + " threw: " + e.what());
  } catch (...) {
    log_event(session, std::string(callback) + " threw");
  }
}

void EngineApplication::log_event(const std::string& session, const std::string& text) noexcept {
  try {
    handler_.on_log(session, "event " + mask_passwords(text));
  } catch (...) {
  }
}

void EngineApplication::onLogon(const FIX::SessionID& id) {
  const std::string session = id.toString();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    logged_on_.insert(session);
  }
  call_handler(session, "on_logon", [&] { handler_.on_logon(session); });
}

// QuickFIX also calls onLogout when a connection drops before the logon completed (a refused
// logon, say): the handler hears of a logout only after a logon.
void EngineApplication::onLogout(const FIX::SessionID& id) {
  const std::string session = id.toString();
  bool was_logged_on = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    was_logged_on = logged_on_.erase(session) > 0;
  }
  if (was_logged_on) call_handler(session, "on_logout", [&] { handler_.on_logout(session); });
}

void EngineApplication::toAdmin(FIX::Message& message, const FIX::SessionID& id) {
  if (options_.role != EngineOptions::Role::Initiator) return;
  try {
    if (!is_logon(message)) return;
    if (!options_.username.empty()) message.setField(FIX::Username(options_.username));
    if (!options_.password.empty()) message.setField(FIX::Password(options_.password));
  } catch (const std::exception& e) {
    log_event(id.toString(), std::string("could not add the credentials to the Logon: ") + e.what());
  }
}

void EngineApplication::fromAdmin(const FIX::Message& message,
                                  const FIX::SessionID& id) throw(FIX::FieldNotFound, FIX::IncorrectDataFormat,
                                                                  FIX::IncorrectTagValue, FIX::RejectLogon) {
  if (options_.role != EngineOptions::Role::Acceptor || !is_logon(message)) return;
  std::string reason;
  if (!accept_logon(message, id.toString(), reason)) throw FIX::RejectLogon(reason.empty() ? "logon refused" : reason);
}

bool EngineApplication::accept_logon(const FIX::Message& logon, const std::string& session, std::string& reason) {
  bool accepted = false;
  reason = "logon check failed";
  call_handler(session, "accept_logon", [&] {
    accepted = handler_.accept_logon(session, field_or_empty(logon, FIX::FIELD::Username),
                                     field_or_empty(logon, FIX::FIELD::Password), reason);
  });
  return accepted;
}

void EngineApplication::fromApp(const FIX::Message& message,
                                const FIX::SessionID& id) throw(FIX::FieldNotFound, FIX::IncorrectDataFormat,
                                                                FIX::IncorrectTagValue, FIX::UnsupportedMessageType) {
  const std::string session = id.toString();
  call_handler(session, "on_message", [&] { handler_.on_message(session, message.toString()); });
}

// ---- settings ----

void add_tls_settings(const EngineOptions& options, FIX::Dictionary& settings) {
  // TLS 1.2 and up: QuickFIX 1.15.1 knows no flag for TLS 1.3, which so stays on.
  settings.setString(FIX::SSL_PROTOCOL, "TLSv1_2");
  settings.setString(FIX::SSL_CIPHER_SUITE, "HIGH:!aNULL:!eNULL:!MD5:!RC4");
  if (options.role == EngineOptions::Role::Initiator) {
    settings.setString(FIX::CERT_AUTH_FILE, options.ca_file);
    if (!options.cert_file.empty()) {
      settings.setString(FIX::CLIENT_CERT_FILE, options.cert_file);
      settings.setString(FIX::CLIENT_CERT_KEY_FILE, options.key_file);
    }
    return;
  }
  settings.setString(FIX::SERVER_CERT_FILE, options.cert_file);
  settings.setString(FIX::SERVER_CERT_KEY_FILE, options.key_file);
  if (!options.ca_file.empty()) {
    settings.setString(FIX::CERT_AUTH_FILE, options.ca_file);
    settings.setInt(FIX::VERIFY_LEVEL, FIX::SSL_CLIENT_VERIFY_REQUIRE);
  }
}

// QuickFIX reads ReconnectInterval and every SSL setting from the defaults only, never from a
// session's own dictionary: all our settings are defaults, and the sessions add their comp ids.
FIX::Dictionary default_settings(const EngineOptions& options) {
  const bool initiator = options.role == EngineOptions::Role::Initiator;
  FIX::Dictionary settings;
  settings.setString(FIX::CONNECTION_TYPE, initiator ? "initiator" : "acceptor");
  settings.setString(FIX::BEGINSTRING, kBeginString);
  // Always in session. QuickFIX has no session without an end: StartTime = EndTime alone makes a
  // session day that ends (logout, sequence numbers back to 1) at 00:00 UTC, in the middle of
  // the FX trading day. A week from Sunday 00:00 UTC to the next ends it when markets are shut.
  settings.setString(FIX::START_DAY, "sunday");
  settings.setString(FIX::END_DAY, "sunday");
  settings.setString(FIX::START_TIME, "00:00:00");
  settings.setString(FIX::END_TIME, "00:00:00");
  settings.setInt(FIX::HEARTBTINT, options.heartbeat_seconds);
  settings.setInt(FIX::LOGON_TIMEOUT, options.logon_timeout_seconds);
  if (initiator) {
    settings.setString(FIX::SOCKET_CONNECT_HOST, options.host);
    settings.setInt(FIX::SOCKET_CONNECT_PORT, options.port);
    settings.setInt(FIX::RECONNECT_INTERVAL, options.reconnect_seconds);
  } else {
    settings.setInt(FIX::SOCKET_ACCEPT_PORT, options.port);
    settings.setBool(FIX::SOCKET_REUSE_ADDRESS, true);
  }
  // Orders are small messages answered at once: Nagle's algorithm would hold each for the
  // peer's delayed ACK (40 ms on Linux).
  settings.setBool(FIX::SOCKET_NODELAY, true);
  settings.setBool(FIX::USE_DATA_DICTIONARY, true);
  settings.setString(FIX::DATA_DICTIONARY, options.dictionary_path);
  // The acceptor (mt5-sim) holds its peers to our dictionary. The initiator talks to real
  // brokers, whose reports carry fields of their own: it lets unknown fields through, and the
  // mapping reads (and checks) only the fields it knows.
  settings.setBool(FIX::VALIDATE_USER_DEFINED_FIELDS, !initiator);
  settings.setBool(FIX::ALLOW_UNKNOWN_MSG_FIELDS, initiator);
  settings.setBool(FIX::RESET_ON_LOGON, options.reset_on_logon);
  settings.setBool(FIX::RESET_ON_LOGOUT, options.reset_on_logon);
  settings.setBool(FIX::RESET_ON_DISCONNECT, options.reset_on_logon);
  if (!options.store_dir.empty()) settings.setString(FIX::FILE_STORE_PATH, options.store_dir);
  if (options.tls) add_tls_settings(options, settings);
  return settings;
}

FIX::SessionID session_id(const SessionIdentity& identity) {
  return FIX::SessionID(kBeginString, identity.sender_comp_id, identity.target_comp_id);
}

FIX::SessionSettings session_settings(const EngineOptions& options) {
  FIX::SessionSettings settings;
  settings.set(default_settings(options));
  for (const auto& identity : options.sessions) settings.set(session_id(identity), FIX::Dictionary());
  return settings;
}

// ---- options ----

bool readable(const std::string& path) {
  return std::ifstream(path).good();
}

void require(bool condition, const std::string& problem) {
  if (!condition) throw std::runtime_error("FIX session engine: " + problem);
}

/// Whether `file` holds an RSA private key: QuickFIX 1.15.1 reads no other kind (an EC key
/// fails later with "Unable to configure client certificate", which names neither the file nor
/// the reason).
bool holds_rsa_key(const std::string& file) {
  std::FILE* f = std::fopen(file.c_str(), "r");
  if (f == nullptr) return false;
  EVP_PKEY* key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  const bool rsa = key != nullptr && EVP_PKEY_base_id(key) == EVP_PKEY_RSA;
  EVP_PKEY_free(key);
  return rsa;
}

void validate_tls(const EngineOptions& options) {
  if (options.role == EngineOptions::Role::Initiator) {
    // Without a CA file QuickFIX verifies nothing: TLS without it would trust any certificate.
    require(!options.ca_file.empty(), "TLS needs a CA file to verify the counterparty's certificate");
    require(options.cert_file.empty() == options.key_file.empty(), "a client certificate needs its key file");
  } else {
    require(!options.cert_file.empty() && !options.key_file.empty(), "a TLS acceptor needs a certificate and key file");
  }
  for (const std::string* file : {&options.ca_file, &options.cert_file, &options.key_file}) {
    require(file->empty() || readable(*file), "cannot read " + *file);
  }
  require(options.key_file.empty() || holds_rsa_key(options.key_file),
          options.key_file + " holds no RSA private key (QuickFIX 1.15.1 reads RSA keys only)");
}

void validate_sessions(const EngineOptions& options) {
  require(!options.sessions.empty(), "no session configured");
  std::set<std::string> names;
  for (const auto& identity : options.sessions) {
    require(!identity.sender_comp_id.empty() && !identity.target_comp_id.empty(),
            "a session needs a SenderCompID and a TargetCompID");
    require(names.insert(session_name(identity)).second, "session " + session_name(identity) + " configured twice");
  }
}

void validate(const EngineOptions& options) {
  validate_sessions(options);
  require(options.port > 0 && options.port < 65536, "port " + std::to_string(options.port) + " is not a TCP port");
  require(options.role == EngineOptions::Role::Acceptor || !options.host.empty(), "no host to connect to");
  require(options.heartbeat_seconds > 0, "the heartbeat interval must be positive");
  require(options.reconnect_seconds > 0, "the reconnect interval must be positive");
  require(options.logon_timeout_seconds > 0, "the logon timeout must be positive");
  require(!options.dictionary_path.empty(), "no data dictionary path (write_dictionary() writes ours)");
  require(readable(options.dictionary_path), "cannot read the data dictionary " + options.dictionary_path);
  if (options.tls) validate_tls(options);
}

// ---- send(): the body, framed and checked against the dictionary ----

// Tags the engine sets on every message it sends.
bool engine_sets(int tag) {
  static const std::set<int> kTags = {8, 9, 10, 34, 49, 52, 56};
  return kTags.count(tag) > 0;
}

// "" when `body` is MsgType and fields, each SOH-terminated, of an application message.
std::string body_problem(const std::string& body) {
  if (body.compare(0, 3, "35=") != 0) return "the body must start with MsgType (35)";
  if (body.back() != kSoh) return "the body must end with SOH";
  for (std::size_t start = 0; start < body.size(); start = body.find(kSoh, start) + 1) {
    const std::size_t equals = body.find('=', start);
    if (equals == std::string::npos || equals > body.find(kSoh, start)) return "a field without '='";
    const std::string tag = body.substr(start, equals - start);
    if (tag.empty() || tag.size() > 9 || tag.find_first_not_of("0123456789") != std::string::npos) {
      return "a bad tag: '" + tag + "'";
    }
    if (engine_sets(std::stoi(tag))) return "tag " + tag + " is the engine's to set";
  }
  const std::string type = body.substr(3, body.find(kSoh) - 3);
  if (FIX::Message::isAdminMsgType(FIX::MsgType(type))) return "35=" + type + " is QuickFIX's to send";
  return "";
}

std::string checksum(const std::string& text) {
  unsigned sum = 0;
  for (const char c : text) sum += static_cast<unsigned char>(c);
  char digits[4];
  std::snprintf(digits, sizeof digits, "%03u", sum % 256);
  return digits;
}

std::string framed(const std::string& body) {
  std::string text = std::string("8=") + kBeginString + kSoh + "9=" + std::to_string(body.size()) + kSoh + body;
  return text + "10=" + checksum(text) + kSoh;
}

template <class E>
std::string with_tag(const E& e) {
  return std::string(e.what()) + " (tag " + std::to_string(e.field) + ")";
}

// Validates the whole message, header included: the header gets what the session will set.
std::string dictionary_problem(const FIX::DataDictionary& dictionary, FIX::Message& message, const FIX::SessionID& id) {
  FIX::Header& header = message.getHeader();
  header.setField(id.getSenderCompID());
  header.setField(id.getTargetCompID());
  header.setField(FIX::MsgSeqNum(1));
  header.setField(FIX::SendingTime(FIX::UtcTimeStamp()));
  try {
    dictionary.validate(message);
    return "";
  } catch (const FIX::RequiredTagMissing& e) {
    return with_tag(e);
  } catch (const FIX::InvalidTagNumber& e) {
    return with_tag(e);
  } catch (const FIX::TagNotDefinedForMessage& e) {
    return with_tag(e);
  } catch (const FIX::NoTagValue& e) {
    return with_tag(e);
  } catch (const FIX::IncorrectTagValue& e) {
    return with_tag(e);
  } catch (const FIX::IncorrectDataFormat& e) {
    return with_tag(e);
  } catch (const FIX::RepeatingGroupCountMismatch& e) {
    return with_tag(e);
  } catch (const FIX::RepeatedTag& e) {
    return with_tag(e);
  } catch (const FIX::TagOutOfOrder& e) {
    return with_tag(e);
  } catch (const FIX::Exception& e) {
    return e.what();
  }
}

// ---- the initiator or acceptor ----

class Connector {
 public:
  virtual ~Connector() = default;
  virtual void start() = 0;
  virtual void stop() = 0;
  virtual FIX::Session* session(const FIX::SessionID& id) const = 0;
};

template <class QuickFixConnector>
class ConnectorOf final : public Connector {
 public:
  ConnectorOf(FIX::Application& application, FIX::MessageStoreFactory& stores, const FIX::SessionSettings& settings,
              FIX::LogFactory& logs)
      : connector_(application, stores, settings, logs) {}

  void start() override { connector_.start(); }
  void stop() override { connector_.stop(); }
  FIX::Session* session(const FIX::SessionID& id) const override { return connector_.getSession(id); }

 private:
  QuickFixConnector connector_;
};

template <class Plain, class Tls, class... Args>
std::unique_ptr<Connector> connector_for(bool tls, Args&... args) {
  if (tls) return std::unique_ptr<Connector>(new ConnectorOf<Tls>(args...));
  return std::unique_ptr<Connector>(new ConnectorOf<Plain>(args...));
}

std::unique_ptr<Connector> make_connector(const EngineOptions& options, FIX::Application& application,
                                          FIX::MessageStoreFactory& stores, const FIX::SessionSettings& settings,
                                          FIX::LogFactory& logs) {
  if (options.role == EngineOptions::Role::Initiator) {
    return connector_for<FIX::ThreadedSocketInitiator, FIX::ThreadedSSLSocketInitiator>(options.tls, application,
                                                                                        stores, settings, logs);
  }
  return connector_for<FIX::ThreadedSocketAcceptor, FIX::ThreadedSSLSocketAcceptor>(options.tls, application, stores,
                                                                                    settings, logs);
}

}  // namespace

// ---- SessionEngine ----

struct SessionEngine::Impl {
  Impl(EngineOptions engine_options, SessionHandler& session_handler);

  bool send(const std::string& session, const std::string& body, std::string& error);
  const FIX::SessionID* find(const std::string& session) const;
  bool running_session(const std::string& session, std::string& error) const;

  EngineOptions options;
  SessionHandler& handler;
  std::map<std::string, FIX::SessionID> ids;  // by session_name()
  std::mutex dictionary_mutex;                // FIX::DataDictionary caches lazily: one parse at a time
  FIX::DataDictionary dictionary;
  EngineApplication application;
  HandlerLogFactory logs;
  MaskingStoreFactory stores;
  std::unique_ptr<Connector> connector;  // last: it goes first, its sessions use the members above

  std::mutex lifecycle_mutex;
  bool started = false;
  bool stopped = false;
  std::atomic<bool> running{false};
};

namespace {

const EngineOptions& validated(const EngineOptions& options) {
  validate(options);
  return options;
}

}  // namespace

SessionEngine::Impl::Impl(EngineOptions engine_options, SessionHandler& session_handler)
    : options(validated(engine_options)),
      handler(session_handler),
      application(options, handler),
      logs(handler),
      stores(options.store_dir) {
  for (const auto& identity : options.sessions) ids.emplace(session_name(identity), session_id(identity));
  try {
    dictionary.readFromURL(options.dictionary_path);
    connector = make_connector(options, application, stores, session_settings(options), logs);
  } catch (const FIX::Exception& e) {
    throw std::runtime_error(std::string("FIX session engine: ") + e.what());
  }
}

const FIX::SessionID* SessionEngine::Impl::find(const std::string& session) const {
  const auto it = ids.find(session);
  return it == ids.end() ? nullptr : &it->second;
}

bool SessionEngine::Impl::running_session(const std::string& session, std::string& error) const {
  if (!running) {
    error = "the engine is not running";
  } else if (!application.logged_on(session)) {
    error = session + " is not logged on";
  }
  return error.empty();
}

bool SessionEngine::Impl::send(const std::string& session, const std::string& body, std::string& error) {
  const FIX::SessionID* id = find(session);
  if (id == nullptr) {
    error = "no session " + session;
    return false;
  }
  error = body_problem(body);
  if (!error.empty()) return false;
  FIX::Message message;
  try {
    std::lock_guard<std::mutex> lock(dictionary_mutex);
    message.setString(framed(body), false, &dictionary, &dictionary);
    error = dictionary_problem(dictionary, message, *id);
  } catch (const FIX::Exception& e) {
    error = e.what();
  }
  if (!error.empty() || !running_session(session, error)) return false;
  try {
    FIX::Session* quickfix_session = connector->session(*id);
    if (quickfix_session != nullptr && quickfix_session->send(message)) return true;
    error = "QuickFIX did not send the message (see the log)";
  } catch (const FIX::Exception& e) {
    error = e.what();
  }
  return false;
}

SessionEngine::SessionEngine(EngineOptions options, SessionHandler& handler)
    : impl_(new Impl(std::move(options), handler)) {}

SessionEngine::~SessionEngine() {
  stop();
}

void SessionEngine::start() {
  std::lock_guard<std::mutex> lock(impl_->lifecycle_mutex);
  if (impl_->stopped) throw std::logic_error("FIX session engine: an engine starts once");
  if (impl_->started) return;
  try {
    impl_->connector->start();
  } catch (const FIX::Exception& e) {
    throw std::runtime_error(std::string("FIX session engine: ") + e.what());
  }
  impl_->started = true;
  impl_->running = true;
}

void SessionEngine::stop() {
  {
    std::lock_guard<std::mutex> lock(impl_->lifecycle_mutex);
    if (!impl_->started || impl_->stopped) return;
    impl_->stopped = true;
    impl_->running = false;
  }
  // Not under the lock: stopping joins QuickFIX's threads, whose callbacks may be in send().
  impl_->connector->stop();
}

bool SessionEngine::send(const std::string& session, const std::string& body, std::string* error) {
  std::string problem;
  const bool sent = impl_->send(session, body, problem);
  if (error != nullptr) *error = problem;
  return sent;
}

bool SessionEngine::logged_on(const std::string& session) const {
  return impl_->running && impl_->application.logged_on(session);
}

void SessionEngine::disconnect(const std::string& session) {
  const FIX::SessionID* id = impl_->find(session);
  if (id == nullptr || !impl_->running) return;
  FIX::Session* quickfix_session = impl_->connector->session(*id);
  if (quickfix_session != nullptr) quickfix_session->disconnect();
}

std::vector<std::string> SessionEngine::sessions() const {
  std::vector<std::string> names;
  for (const auto& identity : impl_->options.sessions) names.push_back(session_name(identity));
  return names;
}

std::string session_name(const SessionIdentity& identity) {
  return std::string(kBeginString) + ":" + identity.sender_comp_id + "->" + identity.target_comp_id;
}

namespace {

/// `text` with the number of every field definition (<field number="N" name="X") whose name
/// `numbers` holds replaced; `missing` counts the names no definition had.
std::string renumbered(const std::string& text, const std::vector<std::pair<std::string, int>>& numbers,
                       std::size_t& missing) {
  static const std::string kOpen = "<field number=\"";
  static const std::string kName = "\" name=\"";
  std::string out;
  out.reserve(text.size());
  std::size_t found = 0;
  std::size_t from = 0;
  for (std::size_t at = text.find(kOpen); at != std::string::npos; at = text.find(kOpen, at + 1)) {
    const std::size_t number_at = at + kOpen.size();
    const std::size_t name_at = text.find(kName, number_at);
    if (name_at == std::string::npos) break;
    const std::size_t name_end = text.find('"', name_at + kName.size());
    if (name_end == std::string::npos) break;
    const std::string name = text.substr(name_at + kName.size(), name_end - name_at - kName.size());
    for (const auto& field : numbers) {
      if (field.first != name) continue;
      out.append(text, from, number_at - from).append(std::to_string(field.second));
      from = name_at;
      ++found;
      break;
    }
  }
  out.append(text, from, std::string::npos);
  missing = numbers.size() - found;
  return out;
}

}  // namespace

bool write_dictionary(const std::string& path, const std::vector<std::pair<std::string, int>>& numbers) {
  std::size_t missing = 0;
  const std::string text = renumbered(dictionary_text(), numbers, missing);
  if (missing != 0) return false;
  // Written aside and renamed: a process reading the file never sees half of it.
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) return false;
  }
  return std::rename(temporary.c_str(), path.c_str()) == 0;
}

std::string mask_passwords(const std::string& text) {
  std::string masked;
  masked.reserve(text.size());
  std::size_t start = 0;
  for (;;) {
    const std::size_t soh = text.find(kSoh, start);
    const std::size_t end = soh == std::string::npos ? text.size() : soh;
    if (is_password_field(text, start)) {
      masked.append(text, start, 4).append("***");
    } else {
      masked.append(text, start, end - start);
    }
    if (soh == std::string::npos) return masked;
    masked += kSoh;
    start = soh + 1;
  }
}

}  // namespace fix
}  // namespace trading
}  // namespace permiso
