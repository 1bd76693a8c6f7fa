// See secrets_command.hpp.
#include "app/secrets_command.hpp"

#include "app/startup.hpp"
#include "secrets/fernet.hpp"

#include <openssl/crypto.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <iterator>

namespace permiso::app {
namespace {

/// Turns terminal echo off while a secret is typed, and back on afterwards.
class NoEcho {
 public:
  NoEcho() {
    if (::isatty(STDIN_FILENO) == 0 || ::tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios quiet = saved_;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    active_ = ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
  }
  NoEcho(const NoEcho&) = delete;
  NoEcho& operator=(const NoEcho&) = delete;
  ~NoEcho() {
    if (active_) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
  }

 private:
  termios saved_{};
  bool active_ = false;
};

bool valid_name(const std::string& name) {
  if (name.empty()) return false;
  for (const char ch : name) {
    if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_')) return false;
  }
  return true;
}

}  // namespace

int secrets_generate_key(std::ostream& out) {
  out << secrets::FernetKey::generate().encoded() << "\n";
  return 0;
}

int secrets_encrypt(std::istream& in, std::ostream& out, std::ostream& err, const std::optional<std::string>& name) {
  if (name && !valid_name(*name)) {
    err << "secrets encrypt: --name must be an environment variable name (A-Z, 0-9, _)\n";
    return kExitConfig;
  }
  const char* text = std::getenv("ENCRYPTION_KEY");
  if (text == nullptr || *text == '\0') {
    err << "secrets encrypt: set ENCRYPTION_KEY (make one with `secrets generate-key`)\n";
    return kExitConfig;
  }
  auto key = secrets::FernetKey::parse(text);
  if (!key) {
    err << "secrets encrypt: ENCRYPTION_KEY: " << secrets::to_string(key.error()) << "\n";
    return kExitConfig;
  }
  std::string value;
  {
    const NoEcho quiet;
    value.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  if (value.ends_with("\r\n")) {
    value.resize(value.size() - 2);
  } else if (value.ends_with('\n')) {
    value.pop_back();
  }
  const auto now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const auto token = key->encrypt(value, now);
  OPENSSL_cleanse(value.data(), value.size());
  if (name) out << *name << "_ENCRYPTED=";
  out << token << "\n";
  return 0;
}

}  // namespace permiso::app
