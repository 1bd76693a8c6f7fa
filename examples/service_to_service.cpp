// A service calling mt5-api with libpermiso-client: one AuthClient per process, a token per
// scope set fetched and renewed by the library, and failures handled by kind.
//
//   export PERMISO_URL=http://127.0.0.1:8000 MT5_API_URL=http://127.0.0.1:8001
//   export PERMISO_CLIENT_ID=reporting-service PERMISO_CLIENT_SECRET=...
//   ./service_to_service
//
// Optional: PERMISO_REDIS_URL shares the token with the other workers of the fleet;
// PERMISO_CA_FILE trusts a private CA for https:// URLs (make run's front door: var/tls/ca.pem).
// Exit codes: 0 ok, 1 usage, 2 authentication/authorization, 5 unavailable or unexpected.
#include <permiso/auth_client.hpp>

#include <cstdlib>
#include <iostream>
#include <string>

namespace {

std::string env(const char* name, const char* fallback = "") {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

int report(const permiso::AuthClientError& e) {
  std::cerr << "error (" << permiso::to_string(e.code) << "): " << e.message << "\n";
  switch (e.code) {
    case permiso::AuthClientErrc::InsufficientScope:
      std::cerr << "grant this client the missing scope(s) with `permisoctl clients update <id> --scope ...`\n";
      return 2;
    case permiso::AuthClientErrc::Authentication:
    case permiso::AuthClientErrc::Forbidden:
    case permiso::AuthClientErrc::InvalidScope:
      return 2;
    case permiso::AuthClientErrc::InvalidArgument:
      return 1;
    default:
      return 5;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) {
    std::cout << "usage: " << argv[0]
              << "\n  env: PERMISO_URL, MT5_API_URL, PERMISO_CLIENT_ID, "
                 "PERMISO_CLIENT_SECRET, PERMISO_REDIS_URL and PERMISO_CA_FILE (optional)\n";
    return std::string(argv[1]) == "--help" ? 0 : 1;
  }
  permiso::AuthClientOptions options;
  options.auth_url = env("PERMISO_URL", "http://127.0.0.1:8000");
  options.client_id = env("PERMISO_CLIENT_ID");
  options.client_secret = env("PERMISO_CLIENT_SECRET");
  options.redis_url = env("PERMISO_REDIS_URL");
  options.ca_file = env("PERMISO_CA_FILE");
  if (options.client_id.empty() || options.client_secret.empty()) {
    std::cerr << "set PERMISO_CLIENT_ID and PERMISO_CLIENT_SECRET (the secret `permisoctl clients create` printed)\n";
    return 1;
  }
  const std::string api = env("MT5_API_URL", "http://127.0.0.1:8001");
  permiso::AuthClient auth(options);

  // Each call names the scopes it needs; the library keeps one cached token per scope set.
  auto account = auth.request("GET", api + "/api/v1/account", {"account:read"});
  if (!account) return report(account.error());
  std::cout << "GET /api/v1/account -> " << account->status << "\n" << account->body << "\n";

  auto trades = auth.request("GET", api + "/api/v1/trades?status=all&limit=5", {"trade:read"});
  if (!trades) return report(trades.error());
  std::cout << "GET /api/v1/trades -> " << trades->status << "\n" << trades->body << "\n";

  return account->status == 200 && trades->status == 200 ? 0 : 5;
}
