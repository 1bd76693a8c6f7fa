// The FIX session layer: QuickFIX (Debian's libquickfix-dev) behind a small interface. Logon,
// heartbeats, sequence numbers, resend and gap fill, the message store and TLS are QuickFIX's;
// messages cross this boundary as FIX text, which fix/message.hpp reads and writes.
//
// Debian's QuickFIX 1.15.1 headers use dynamic exception specifications and std::auto_ptr,
// which C++17 removed: session_engine.cpp is the one file that includes them and is compiled as
// C++14, so this header must stay C++14 (no nested namespace definitions, no [[nodiscard]],
// which clang refuses there, no std::string_view) and name no QuickFIX type.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace permiso {
namespace trading {
namespace fix {

/// What the engine tells its owner. Called from QuickFIX's threads (one per session): an
/// implementation must be thread-safe and must not block for long.
class SessionHandler {
 public:
  virtual ~SessionHandler() = default;
  /// `session` is QuickFIX's name of the session: "FIX.4.4:SENDER->TARGET".
  virtual void on_logon(const std::string& session) = 0;
  /// A logged-on session logged out or lost its connection (only ever after on_logon; from the
  /// thread that called SessionEngine::disconnect when that dropped it).
  virtual void on_logout(const std::string& session) = 0;
  /// An application message, as its whole FIX text (SOH-separated, header and trailer in).
  virtual void on_message(const std::string& session, const std::string& text) = 0;
  /// Acceptor: a Logon's Username (553) and Password (554) (empty when absent). False refuses
  /// the logon: the Logout's Text (58) says "Rejected Logon Attempt: " and `reason`. An
  /// exception refuses it too.
  virtual bool accept_logon(const std::string& session, const std::string& username, const std::string& password,
                            std::string& reason) {
    (void)session, (void)username, (void)password, (void)reason;
    return true;
  }
  /// Every line QuickFIX logs, with Password (554) and NewPassword (925) masked: "incoming "
  /// or "outgoing " and the message's FIX text, or "event " and what happened. `session` is
  /// empty for the engine's own events. Nothing else records a password: the message store
  /// keeps sent Logons masked too.
  virtual void on_log(const std::string& session, const std::string& line) { (void)session, (void)line; }
};

struct SessionIdentity {
  std::string sender_comp_id;
  std::string target_comp_id;
};

struct EngineOptions {
  enum class Role { Initiator, Acceptor };
  Role role = Role::Initiator;
  /// Initiator: every session it opens (the trade session, and a quote session if any).
  /// Acceptor: every session it accepts (SenderCompID is the acceptor's own).
  std::vector<SessionIdentity> sessions;
  std::string host = "127.0.0.1";  // initiator: the counterparty; acceptor: unused
  int port = 0;                    // initiator: the counterparty's; acceptor: to listen on
  /// QuickFIX's file store (sequence numbers, sent messages for resend); empty: in memory. The
  /// session is one week long: at Sunday 00:00 UTC it ends and the sequence numbers restart.
  std::string store_dir;
  /// The data dictionary file (config/fix/FIX44-permiso.xml written out by write_dictionary).
  std::string dictionary_path;
  int heartbeat_seconds = 30;
  int reconnect_seconds = 5;  // initiator
  int logon_timeout_seconds = 10;
  /// Initiator: sent in every Logon (553, 554).
  std::string username;
  std::string password;
  /// Start every logon from sequence number 1 (ResetSeqNumFlag); false keeps the store's.
  bool reset_on_logon = false;
  /// TLS. Initiator: ca_file (required) verifies the counterparty's certificate chain; QuickFIX
  /// 1.15.1 trusts the system's CAs as well and checks no host name. cert_file and key_file,
  /// when set, are a client certificate. Acceptor: cert_file and key_file are its certificate
  /// (and ca_file, when set, makes a client certificate signed by it mandatory).
  bool tls = false;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};

/// One QuickFIX initiator or acceptor. Construction validates the options, loads the dictionary
/// and opens the stores, and throws std::runtime_error with a readable message; start()
/// connects or listens (threads of its own; throws std::runtime_error when it cannot, e.g. a
/// port in use); stop() logs out (waiting up to 10 s for the counterparty's Logout) and joins.
/// An engine starts once: start() after stop() throws std::logic_error. Thread-safe, and the
/// handler's callbacks may call send().
class SessionEngine {
 public:
  SessionEngine(EngineOptions options, SessionHandler& handler);
  ~SessionEngine();  // stop()
  SessionEngine(const SessionEngine&) = delete;
  SessionEngine& operator=(const SessionEngine&) = delete;

  void start();
  void stop();
  /// Sends an application message: `body` is MsgType (35) and the body fields as FIX text
  /// ("35=D\x01" "11=…\x01" …); the engine adds the header (comp ids, sequence number, sending
  /// time) and trailer. False when the session is not logged on or the text does not parse
  /// against the dictionary, or sets a field the engine sets (8, 9, 10, 34, 49, 52, 56), or is
  /// a session-level message (`error` says why, when given).
  bool send(const std::string& session, const std::string& body, std::string* error = nullptr);
  bool logged_on(const std::string& session) const;
  /// Drops the session's connection without a Logout (tests: a network failure). The initiator
  /// reconnects after reconnect_seconds.
  void disconnect(const std::string& session);
  /// The session names, in EngineOptions::sessions order.
  std::vector<std::string> sessions() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// QuickFIX's name of a session: "FIX.4.4:SENDER->TARGET".
std::string session_name(const SessionIdentity& identity);
/// Writes the compiled-in data dictionary to `path` (replacing it), each field named in
/// `numbers` (name, number) given that number: brokers number our custom fields differently,
/// and messages name their fields, so a number is defined once. False on an I/O error, or when
/// the dictionary defines no field by one of the names.
bool write_dictionary(const std::string& path, const std::vector<std::pair<std::string, int>>& numbers = {});
/// The compiled-in data dictionary (config/fix/FIX44-permiso.xml).
const std::string& dictionary_text();
/// `text` with the values of Password (554) and NewPassword (925) replaced by "***".
std::string mask_passwords(const std::string& text);

}  // namespace fix
}  // namespace trading
}  // namespace permiso
