// Compiled by install_test.sh with nothing but `pkg-config --cflags --libs permiso-client`.
#include <permiso/auth_client.hpp>

#include <iostream>

int main() {
  permiso::AuthClientOptions o;
  o.auth_url = "http://127.0.0.1:1";
  o.client_id = "consumer";
  o.client_secret = "secret";
  o.retry.max_attempts = 1;
  permiso::AuthClient client(o);
  auto t = client.service_token({"trade:read", "account:read"});
  // Nothing listens on port 1: the typed error proves the library ran end to end.
  if (t || t.error().code != permiso::AuthClientErrc::Unavailable) return 1;
  std::cout << "pkg-config consumer: " << permiso::AuthClient::scope_key({"trade:read", "account:read"}) << " → "
            << permiso::to_string(t.error().code) << "\n";
  return 0;
}
