// The FIX session layer over QuickFIX: a real initiator and acceptor on loopback, with memory or
// file stores in a temporary directory. Every wait has a deadline and a condition.
#include "trading/fix/session_engine.hpp"

#include "free_port.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

// Debian's QuickFIX 1.15.1 leaks what its SSL set-up reads, once per start: loadSSLCert never
// frees the certificate and key it hands to the SSL_CTX, nor loadCAInfo the CA list it copies.
// Every such object is OpenSSL's (allocated in libcrypto), and nothing else in this binary
// allocates OpenSSL objects; LeakSanitizer's default fast unwinder stops inside libcrypto, so
// the library, not QuickFIX's functions, is what a suppression can name.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libcrypto.so\n";
}

namespace permiso::trading::fix {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr auto kDeadline = 10s;
constexpr char kClient[] = "FIX.4.4:CLIENT->BROKER";
constexpr char kBroker[] = "FIX.4.4:BROKER->CLIENT";
constexpr char kUser[] = "trader";
constexpr char kPassword[] = "s3cret-Pa55";

/// FIX text written with '|' for SOH.
std::string soh(std::string text) {
  for (char& c : text) {
    if (c == '|') c = '\x01';
  }
  return text;
}

using Fields = std::vector<std::pair<int, std::string>>;

Fields fields_of(const std::string& text) {
  Fields fields;
  std::istringstream in(text);
  for (std::string field; std::getline(in, field, '\x01');) {
    const auto equals = field.find('=');
    fields.emplace_back(std::stoi(field.substr(0, equals)), field.substr(equals + 1));
  }
  return fields;
}

std::string field(const std::string& text, int tag) {
  for (const auto& [t, value] : fields_of(text)) {
    if (t == tag) return value;
  }
  return "";
}

int seq_num(const std::string& text) {
  return std::stoi(field(text, 34));
}

/// Records every callback; waits on a condition with a deadline.
class RecordingHandler : public SessionHandler {
 public:
  void on_logon(const std::string& session) override {
    record([&] { logons_.push_back(session); });
  }
  void on_logout(const std::string& session) override {
    record([&] { logouts_.push_back(session); });
  }
  void on_message(const std::string& session, const std::string& text) override {
    record([&] { messages_.push_back(text); });
    if (reply_) reply_(session, text);
    if (throw_on_message_) throw std::runtime_error("handler failure");
  }
  bool accept_logon(const std::string&, const std::string& username, const std::string& password,
                    std::string& reason) override {
    record([&] { attempts_.emplace_back(username, password); });
    if (username == kUser && password == kPassword) return true;
    reason = "wrong username or password";
    return false;
  }
  void on_log(const std::string& session, const std::string& line) override {
    record([&] { log_.push_back(session + " " + line); });
  }

  /// Waits until `condition` (read under the handler's lock) holds; false after kDeadline.
  bool wait_for(const std::function<bool()>& condition) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kDeadline, condition);
  }
  template <class T>
  T read(const std::function<T()>& get) {
    const std::scoped_lock lock(mutex_);
    return get();
  }
  std::size_t logons() {
    return read<std::size_t>([&] { return logons_.size(); });
  }
  std::size_t logouts() {
    return read<std::size_t>([&] { return logouts_.size(); });
  }
  std::vector<std::string> messages() {
    return read<std::vector<std::string>>([&] { return messages_; });
  }
  std::vector<std::string> log() {
    return read<std::vector<std::string>>([&] { return log_; });
  }
  std::vector<std::pair<std::string, std::string>> attempts() {
    return read<std::vector<std::pair<std::string, std::string>>>([&] { return attempts_; });
  }
  bool wait_logons(std::size_t n) {
    return wait_for([&] { return logons_.size() >= n; });
  }
  bool wait_logouts(std::size_t n) {
    return wait_for([&] { return logouts_.size() >= n; });
  }
  bool wait_messages(std::size_t n) {
    return wait_for([&] { return messages_.size() >= n; });
  }
  bool wait_log(const std::string& needle) {
    return wait_for([&] {
      for (const auto& line : log_) {
        if (line.find(needle) != std::string::npos) return true;
      }
      return false;
    });
  }

  // Set before the engine starts.
  std::function<void(const std::string&, const std::string&)> reply_;
  bool throw_on_message_ = false;

 private:
  template <class F>
  void record(F&& change) {
    {
      const std::scoped_lock lock(mutex_);
      change();
    }
    changed_.notify_all();
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> logons_, logouts_, messages_, log_;
  std::vector<std::pair<std::string, std::string>> attempts_;
};

class FixSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "fix-session-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    dictionary_ = (dir_ / "FIX44-permiso.xml").string();
    ASSERT_TRUE(write_dictionary(dictionary_));
  }
  void TearDown() override {
    stop_all();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  // The initiator goes first: the acceptor still answers its Logout.
  void stop_all() {
    initiator_.reset();
    acceptor_.reset();
  }

  EngineOptions acceptor_options(bool file_store) {
    EngineOptions options;
    options.role = EngineOptions::Role::Acceptor;
    options.sessions = {{"BROKER", "CLIENT"}};
    options.dictionary_path = dictionary_;
    if (file_store) options.store_dir = (dir_ / "broker-store").string();
    return options;
  }
  EngineOptions initiator_options(bool file_store, std::string password = kPassword) {
    EngineOptions options;
    options.sessions = {{"CLIENT", "BROKER"}};
    options.dictionary_path = dictionary_;
    options.username = kUser;
    options.password = std::move(password);
    options.reconnect_seconds = 1;
    if (file_store) options.store_dir = (dir_ / "client-store").string();
    return options;
  }

  /// Starts the acceptor on a free port: another process may take a port between our probe
  /// and the bind, so a few ports are tried.
  void start_acceptor(EngineOptions options) {
    for (int attempt = 0;; ++attempt) {
      options.port = port_ != 0 ? port_ : test::free_port();
      acceptor_ = std::make_unique<SessionEngine>(options, broker_);
      try {
        acceptor_->start();
        port_ = options.port;
        return;
      } catch (const std::runtime_error&) {
        acceptor_.reset();
        if (port_ != 0 || attempt == 4) throw;
      }
    }
  }
  void start_initiator(EngineOptions options) {
    options.port = port_;
    initiator_ = std::make_unique<SessionEngine>(options, client_);
    initiator_->start();
  }
  /// Both sides logged on (the acceptor's on_logon comes first, but nothing relies on it).
  void connect(bool file_store = false) {
    start_acceptor(acceptor_options(file_store));
    start_initiator(initiator_options(file_store));
    ASSERT_TRUE(client_.wait_logons(1));
    ASSERT_TRUE(broker_.wait_logons(1));
  }

  /// The incoming and outgoing message lines of a handler's log, of one MsgType.
  static std::vector<std::string> logged(RecordingHandler& handler, const std::string& direction,
                                         const std::string& type) {
    std::vector<std::string> lines;
    for (const auto& line : handler.log()) {
      const auto at = line.find(" " + direction + " ");
      if (at != std::string::npos && line.find("\x01"
                                               "35=" +
                                               type + "\x01") != std::string::npos) {
        lines.push_back(line.substr(at + direction.size() + 2));
      }
    }
    return lines;
  }

  fs::path dir_;
  std::string dictionary_;
  int port_ = 0;
  RecordingHandler client_;
  RecordingHandler broker_;
  std::unique_ptr<SessionEngine> acceptor_;
  std::unique_ptr<SessionEngine> initiator_;
};

const std::string kNewOrder =
    soh("35=D|11=ord-1|1=1001|55=EURUSD|54=1|38=0.10|40=2|44=1.08500|59=1|60=20240102-10:11:12.345|77=O|20001=555|"
        "20004=1.08000|20005=1.09500|20002=42|20003=10|58=from EA|");

TEST_F(FixSessionTest, LogonSucceedsWithTheRightUsernameAndPassword) {
  connect();
  EXPECT_TRUE(initiator_->logged_on(kClient));
  EXPECT_TRUE(acceptor_->logged_on(kBroker));
  EXPECT_EQ(initiator_->sessions(), std::vector<std::string>{kClient});
  const auto attempts = broker_.attempts();
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].first, kUser);
  EXPECT_EQ(attempts[0].second, kPassword);
}

TEST_F(FixSessionTest, LogonWithAWrongPasswordIsRefusedWithItsReason) {
  start_acceptor(acceptor_options(false));
  start_initiator(initiator_options(false, "not-the-password"));
  // The reason travels in the Logout's Text and reaches both logs.
  ASSERT_TRUE(client_.wait_log("58=Rejected Logon Attempt: wrong username or password"));
  ASSERT_TRUE(broker_.wait_log("wrong username or password"));
  EXPECT_GE(broker_.attempts().size(), 1u);
  EXPECT_EQ(broker_.attempts()[0].second, "not-the-password");
  EXPECT_EQ(client_.logons(), 0u);
  EXPECT_EQ(broker_.logons(), 0u);
  EXPECT_EQ(client_.logouts(), 0u);  // on_logout only ever follows on_logon
  EXPECT_FALSE(initiator_->logged_on(kClient));
  EXPECT_FALSE(acceptor_->logged_on(kBroker));
}

TEST_F(FixSessionTest, ANewOrderSingleArrivesWithItsFieldsIntact) {
  connect();
  std::string error;
  ASSERT_TRUE(initiator_->send(kClient, kNewOrder, &error)) << error;
  ASSERT_TRUE(broker_.wait_messages(1));
  const std::string received = broker_.messages()[0];
  EXPECT_EQ(field(received, 8), "FIX.4.4");
  EXPECT_EQ(field(received, 49), "CLIENT");
  EXPECT_EQ(field(received, 56), "BROKER");
  for (const auto& [tag, value] : fields_of(kNewOrder)) EXPECT_EQ(field(received, tag), value) << "tag " << tag;
}

TEST_F(FixSessionTest, ASecurityListArrivesWithBothGroupEntries) {
  // The acceptor answers the request from inside its callback, as mt5-sim does.
  const std::string list =
      soh("35=y|320=req-1|322=resp-1|560=0|393=2|893=Y|146=2|"
          "55=EURUSD|107=Euro vs US Dollar|15=USD|231=100000|562=0.01|20054=100|20055=0.01|20050=5|20051=0.00001|"
          "20052=EUR|20053=EUR|20056=10|20057=0|20058=Y|"
          "55=XAUUSD|107=Gold|15=USD|231=100|562=0.01|20054=50|20055=0.01|20050=2|20051=0.01|20052=XAU|20053=USD|"
          "20056=20|20057=2|20058=N|");
  std::string reply_error;
  broker_.reply_ = [&](const std::string& session, const std::string&) {
    if (!acceptor_->send(session, list, &reply_error)) ADD_FAILURE() << reply_error;
  };
  connect();
  ASSERT_TRUE(initiator_->send(kClient, soh("35=x|320=req-1|559=4|")));
  ASSERT_TRUE(client_.wait_messages(1));
  const Fields received = fields_of(client_.messages()[0]);

  // Each entry starts at Symbol (55): compare the entries field by field, in any order.
  std::vector<std::map<int, std::string>> sent;
  for (const auto& [tag, value] : fields_of(list)) {
    if (tag == 55) sent.emplace_back();
    if (!sent.empty()) sent.back()[tag] = value;
  }
  std::vector<std::map<int, std::string>> entries;
  bool in_group = false;
  for (const auto& [tag, value] : received) {
    if (tag == 146) {
      EXPECT_EQ(value, "2");
      in_group = true;
      continue;
    }
    in_group = in_group && sent[0].count(tag) > 0;  // the group ends at the first non-member
    if (in_group && tag == 55) entries.emplace_back();
    if (in_group) entries.back()[tag] = value;
  }
  EXPECT_EQ(entries, sent);
  EXPECT_EQ(field(client_.messages()[0], 320), "req-1");
}

TEST_F(FixSessionTest, SendFailsWhenTheSessionIsNotLoggedOn) {
  auto options = initiator_options(false);
  options.port = test::free_port();  // nobody listens there
  initiator_ = std::make_unique<SessionEngine>(options, client_);
  std::string error;
  EXPECT_FALSE(initiator_->send(kClient, kNewOrder, &error));
  EXPECT_EQ(error, "the engine is not running");
  initiator_->start();
  EXPECT_FALSE(initiator_->send(kClient, kNewOrder, &error));
  EXPECT_EQ(error, std::string(kClient) + " is not logged on");
  EXPECT_FALSE(initiator_->send("FIX.4.4:NOBODY->BROKER", kNewOrder, &error));
  EXPECT_EQ(error, "no session FIX.4.4:NOBODY->BROKER");
  EXPECT_FALSE(initiator_->logged_on(kClient));
}

// Both ends use the same dictionary: send() refuses what breaks it, and nothing goes out.
TEST_F(FixSessionTest, SendRefusesABodyTheDictionaryForbids) {
  connect();
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"35=D|1=1001|55=EURUSD|54=1|38=0.1|40=1|60=20240102-10:11:12|", "Required tag missing (tag 11)"},
      {"35=D|11=a|55=EURUSD|54=1|38=0.1|40=1|60=20240102-10:11:12|20999=1|", "Invalid tag number (tag 20999)"},
      {"35=D|11=a|55=EURUSD|54=1|38=0.1|40=1|60=20240102-10:11:12|320=x|",
       "Tag not defined for this message type (tag 320)"},
      {"35=D|11=a|55=EURUSD|54=Z|38=0.1|40=1|60=20240102-10:11:12|",
       "Value is incorrect (out of range) for this tag (tag 54)"},
      {"35=D|11=a|55=EURUSD|54=1|38=lots|40=1|60=20240102-10:11:12|", "Incorrect data format for value: lots (tag 38)"},
      {"35=y|320=r|322=s|560=0|146=2|55=EURUSD|", "Repeating group count mismatch (tag 146)"},
      {"35=ZZ|11=a|", "Invalid Message Type"},
      {"35=D|11=a|34=7|", "tag 34 is the engine's to set"},
      {"35=0|", "35=0 is QuickFIX's to send"},
      {"11=a|35=D|", "the body must start with MsgType (35)"},
      {"35=D|11=a", "the body must end with SOH"},
  };
  for (const auto& [body, reason] : refused) {
    std::string error;
    EXPECT_FALSE(initiator_->send(kClient, soh(body), &error)) << body;
    EXPECT_EQ(error, reason) << body;
  }
  // The first message the acceptor gets is the valid one sent after them all.
  ASSERT_TRUE(initiator_->send(kClient, kNewOrder));
  ASSERT_TRUE(broker_.wait_messages(1));
  EXPECT_EQ(field(broker_.messages()[0], 11), "ord-1");
  EXPECT_EQ(broker_.messages().size(), 1u);
}

TEST_F(FixSessionTest, DisconnectReconnectsAndTheSequenceNumbersGoOn) {
  connect(true);
  ASSERT_TRUE(initiator_->send(kClient, kNewOrder));
  ASSERT_TRUE(broker_.wait_messages(1));
  const int first = seq_num(broker_.messages()[0]);

  initiator_->disconnect(kClient);
  ASSERT_TRUE(client_.wait_logouts(1));
  ASSERT_TRUE(broker_.wait_logouts(1));
  ASSERT_TRUE(client_.wait_logons(2));  // reconnect_seconds later
  ASSERT_TRUE(broker_.wait_logons(2));

  const auto logons = logged(client_, "outgoing", "A");
  ASSERT_EQ(logons.size(), 2u);
  EXPECT_EQ(seq_num(logons[0]), 1);
  EXPECT_GT(seq_num(logons[1]), first);
  EXPECT_EQ(field(logons[1], 141), "");  // no ResetSeqNumFlag
  ASSERT_TRUE(initiator_->send(kClient, kNewOrder));
  ASSERT_TRUE(broker_.wait_messages(2));
  EXPECT_GT(seq_num(broker_.messages()[1]), seq_num(logons[1]));
}

TEST_F(FixSessionTest, ARestartResumesTheSequenceNumbersFromTheFileStore) {
  connect(true);
  ASSERT_TRUE(initiator_->send(kClient, kNewOrder));
  ASSERT_TRUE(broker_.wait_messages(1));
  const int sent = seq_num(broker_.messages()[0]);
  stop_all();

  RecordingHandler client_after;
  RecordingHandler broker_after;
  auto acceptor_opts = acceptor_options(true);
  acceptor_opts.port = port_;
  SessionEngine acceptor(acceptor_opts, broker_after);
  acceptor.start();
  auto initiator_opts = initiator_options(true);
  initiator_opts.port = port_;
  SessionEngine initiator(initiator_opts, client_after);
  initiator.start();
  ASSERT_TRUE(client_after.wait_logons(1));
  ASSERT_TRUE(broker_after.wait_logons(1));
  const auto logons = logged(client_after, "outgoing", "A");
  ASSERT_EQ(logons.size(), 1u);
  EXPECT_GT(seq_num(logons[0]), sent);
  ASSERT_TRUE(initiator.send(kClient, kNewOrder));
  ASSERT_TRUE(broker_after.wait_messages(1));
  EXPECT_GT(seq_num(broker_after.messages()[0]), seq_num(logons[0]));
  initiator.stop();
}

/// Rewrites a file store's next expected incoming sequence number (QuickFIX's "S : T" file).
void rewind_target(const fs::path& store, const std::string& session_file, int target) {
  const fs::path seqnums = store / (session_file + ".seqnums");
  int sender = 0;
  {
    std::ifstream in(seqnums);
    char colon = 0;
    int old_target = 0;
    ASSERT_TRUE(in >> sender >> colon >> old_target) << seqnums;
    ASSERT_GT(old_target, target);
  }
  std::ofstream(seqnums, std::ios::trunc) << sender << " : " << target;
}

// The initiator "lost" two messages: at the next logon it asks for them again, and the acceptor
// resends them from its file store with PossDupFlag (43) and OrigSendingTime (122).
TEST_F(FixSessionTest, AGapIsFilledByResendingTheStoredMessagesAsPossibleDuplicates) {
  connect(true);
  const std::string snapshot = soh("35=W|262=q1|55=EURUSD|268=2|269=0|270=1.1|269=1|270=1.2|");
  ASSERT_TRUE(acceptor_->send(kBroker, snapshot));
  ASSERT_TRUE(acceptor_->send(kBroker, soh("35=W|262=q2|55=EURUSD|268=1|269=0|270=1.3|")));
  ASSERT_TRUE(client_.wait_messages(2));
  const int lost_from = seq_num(client_.messages()[0]);
  stop_all();
  rewind_target(dir_ / "client-store", "FIX.4.4-CLIENT-BROKER", lost_from);

  RecordingHandler client_after;
  RecordingHandler broker_after;
  auto acceptor_opts = acceptor_options(true);
  acceptor_opts.port = port_;
  SessionEngine acceptor(acceptor_opts, broker_after);
  acceptor.start();
  auto initiator_opts = initiator_options(true);
  initiator_opts.port = port_;
  SessionEngine initiator(initiator_opts, client_after);
  initiator.start();
  ASSERT_TRUE(client_after.wait_messages(2));
  const auto resent = client_after.messages();
  EXPECT_EQ(field(resent[0], 262), "q1");
  EXPECT_EQ(field(resent[1], 262), "q2");
  for (const auto& message : resent) {
    EXPECT_EQ(field(message, 43), "Y");
    EXPECT_NE(field(message, 122), "");
  }
  EXPECT_EQ(seq_num(resent[0]), lost_from);
  EXPECT_EQ(logged(client_after, "outgoing", "2").size(), 1u);  // one ResendRequest
  initiator.stop();
}

TEST_F(FixSessionTest, NoLogLineAndNoStoreFileHoldsThePassword) {
  connect(true);
  ASSERT_TRUE(initiator_->send(kClient, kNewOrder));
  ASSERT_TRUE(broker_.wait_messages(1));
  stop_all();

  std::size_t masked = 0;
  for (auto* handler : {&client_, &broker_}) {
    for (const auto& line : handler->log()) {
      EXPECT_EQ(line.find(kPassword), std::string::npos) << line;
      if (line.find("\x01"
                    "554=") != std::string::npos) {
        EXPECT_NE(line.find("\x01"
                            "554=***\x01"),
                  std::string::npos)
            << line;
        ++masked;
      }
    }
  }
  EXPECT_EQ(masked, 2u);  // the Logon, out of the client and into the broker
  for (const auto& entry : fs::recursive_directory_iterator(dir_)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(content.find(kPassword), std::string::npos) << entry.path();
  }
}

TEST_F(FixSessionTest, AHandlerThatThrowsDoesNotBreakTheSession) {
  broker_.throw_on_message_ = true;
  connect();
  ASSERT_TRUE(initiator_->send(kClient, kNewOrder));
  ASSERT_TRUE(broker_.wait_log("on_message threw: handler failure"));
  ASSERT_TRUE(initiator_->send(kClient, kNewOrder));
  ASSERT_TRUE(broker_.wait_messages(2));
  EXPECT_TRUE(acceptor_->logged_on(kBroker));
}

/// A CA with the broker's certificate, and a second CA that vouches for nothing here, made with
/// the openssl tool in `dir`. False when the tool is missing or fails.
bool make_certificates(const fs::path& dir) {
  const std::string commands =
      "(cd '" + dir.string() +
      "' && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=permiso-test-ca"
      " && openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr -subj /CN=localhost"
      " && openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out broker.pem -days 2"
      " && openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other-ca.pem -days 2 -subj /CN=other"
      ") >/dev/null 2>&1";
  return std::system(commands.c_str()) == 0;
}

TEST_F(FixSessionTest, OverTlsTheInitiatorLogsOnToABrokerItsCaFileVouchesFor) {
  if (!make_certificates(dir_)) GTEST_SKIP() << "no openssl tool to make test certificates";
  auto acceptor = acceptor_options(false);
  acceptor.tls = true;
  acceptor.cert_file = (dir_ / "broker.pem").string();
  acceptor.key_file = (dir_ / "broker.key").string();
  start_acceptor(acceptor);
  auto initiator = initiator_options(false);
  initiator.tls = true;
  initiator.ca_file = (dir_ / "ca.pem").string();
  start_initiator(initiator);
  ASSERT_TRUE(client_.wait_logons(1));
  ASSERT_TRUE(initiator_->send(kClient, kNewOrder));
  ASSERT_TRUE(broker_.wait_messages(1));
  EXPECT_EQ(field(broker_.messages()[0], 11), "ord-1");
}

TEST_F(FixSessionTest, OverTlsTheInitiatorRefusesABrokerItsCaFileDoesNotVouchFor) {
  if (!make_certificates(dir_)) GTEST_SKIP() << "no openssl tool to make test certificates";
  auto acceptor = acceptor_options(false);
  acceptor.tls = true;
  acceptor.cert_file = (dir_ / "broker.pem").string();
  acceptor.key_file = (dir_ / "broker.key").string();
  start_acceptor(acceptor);
  auto initiator = initiator_options(false);
  initiator.tls = true;
  initiator.ca_file = (dir_ / "other-ca.pem").string();
  start_initiator(initiator);
  ASSERT_TRUE(client_.wait_log("SSL_connect failed"));
  EXPECT_EQ(client_.logons(), 0u);
  EXPECT_TRUE(broker_.attempts().empty());  // no Logon, so no password, went out
}

TEST_F(FixSessionTest, AKeyQuickFixCannotReadIsRefusedByName) {
  // QuickFIX 1.15.1 reads RSA private keys only; an EC key would fail at start with a message
  // naming neither the file nor the reason.
  const std::string commands = "(cd '" + dir_.string() +
                               "' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
                               " -keyout ec.key -out ec.pem -days 2 -subj /CN=localhost) >/dev/null 2>&1";
  if (std::system(commands.c_str()) != 0) GTEST_SKIP() << "no openssl tool to make test certificates";
  auto acceptor = acceptor_options(false);
  acceptor.tls = true;
  acceptor.cert_file = (dir_ / "ec.pem").string();
  acceptor.key_file = (dir_ / "ec.key").string();
  acceptor.port = test::free_port();  // not listened on: the options are refused first
  try {
    SessionEngine engine(acceptor, broker_);
    FAIL() << "an EC key was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("ec.key holds no RSA private key"), std::string::npos) << e.what();
  }
}

TEST_F(FixSessionTest, WriteDictionaryWritesTheCompiledInText) {
  const std::string path = (dir_ / "written.xml").string();
  ASSERT_TRUE(write_dictionary(path));
  std::ifstream in(path, std::ios::binary);
  const std::string written((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(written, dictionary_text());
  EXPECT_NE(written.find("<fix type=\"FIX\" major=\"4\" minor=\"4\""), std::string::npos);
  EXPECT_FALSE(write_dictionary((dir_ / "no-such-dir" / "x.xml").string()));
}

TEST_F(FixSessionTest, WriteDictionaryNumbersPositionIdAsTheBrokerDoes) {
  const std::string path = (dir_ / "vendor.xml").string();
  ASSERT_TRUE(write_dictionary(path, {{"PositionID", 7001}}));
  std::ifstream in(path, std::ios::binary);
  const std::string written((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(written.find("number=\"7001\" name=\"PositionID\""), std::string::npos);
  EXPECT_EQ(written.find("number=\"20001\""), std::string::npos);
}

TEST_F(FixSessionTest, WriteDictionaryRenumbersEveryNamedFieldAtOnce) {
  const std::string path = (dir_ / "broker.xml").string();
  // A swap: each field takes the other's number, which a field-by-field rewrite would garble.
  ASSERT_TRUE(write_dictionary(path, {{"Magic", 20003}, {"Deviation", 20002}, {"Balance", 30030}}));
  std::ifstream in(path, std::ios::binary);
  const std::string written((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(written.find("<field number=\"20003\" name=\"Magic\""), std::string::npos);
  EXPECT_NE(written.find("<field number=\"20002\" name=\"Deviation\""), std::string::npos);
  EXPECT_NE(written.find("<field number=\"30030\" name=\"Balance\""), std::string::npos);
  EXPECT_EQ(written.find("number=\"20030\""), std::string::npos);
  EXPECT_NE(written.find("<field number=\"20001\" name=\"PositionID\""), std::string::npos);  // not named: kept
  // Messages name their fields: only the definitions change (here to numbers of one length).
  EXPECT_EQ(written.size(), dictionary_text().size());
  EXPECT_FALSE(write_dictionary(path, {{"NoSuchField", 7001}}));
}

TEST_F(FixSessionTest, ConstructionRefusesOptionsItCannotRun) {
  auto no_sessions = initiator_options(false);
  no_sessions.port = 9;
  no_sessions.sessions.clear();
  EXPECT_THROW(SessionEngine engine(no_sessions, client_), std::runtime_error);
  auto tls_without_ca = initiator_options(false);
  tls_without_ca.port = 9;
  tls_without_ca.tls = true;
  EXPECT_THROW(SessionEngine engine(tls_without_ca, client_), std::runtime_error);
  auto no_dictionary = initiator_options(false);
  no_dictionary.port = 9;
  no_dictionary.dictionary_path = (dir_ / "missing.xml").string();
  EXPECT_THROW(SessionEngine engine(no_dictionary, client_), std::runtime_error);
}

TEST(MaskPasswords, MasksPasswordAndNewPasswordWhereverTheyStand) {
  EXPECT_EQ(mask_passwords(soh("554=abc|8=FIX.4.4|")), soh("554=***|8=FIX.4.4|"));
  EXPECT_EQ(mask_passwords(soh("35=A|554=abc|925=new|98=0|")), soh("35=A|554=***|925=***|98=0|"));
  EXPECT_EQ(mask_passwords(soh("35=A|925=new|")), soh("35=A|925=***|"));
  EXPECT_EQ(mask_passwords(soh("35=A|554=abc")), soh("35=A|554=***"));
  EXPECT_EQ(mask_passwords("554="), "554=***");
}

TEST(MaskPasswords, LeavesOtherTextAlone) {
  for (const std::string& text :
       {std::string(), soh("35=A|553=user|98=0|"), soh("1554=x|5540=y|58=554=z|"), std::string("event Connecting")}) {
    EXPECT_EQ(mask_passwords(text), text);
  }
}

}  // namespace
}  // namespace permiso::trading::fix
