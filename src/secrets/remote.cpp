// See remote.hpp.
#include "secrets/remote.hpp"

#include "http/client.hpp"
#include "secrets/sigv4.hpp"

#include <boost/json.hpp>

#include <chrono>
#include <ctime>
#include <mutex>
#include <thread>

namespace permiso::secrets {
namespace {

namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;

constexpr int kAttempts = 3;
constexpr auto kMaxRetryAfter = std::chrono::seconds(5);

struct Connection {
  std::unique_ptr<http::Client> client;
  std::chrono::milliseconds timeout{5000};
};

Result<Connection, SecretError> connect(const EnvLookup& env, std::string_view ca_variable) {
  http::ClientOptions options;
  options.max_body_bytes = 1024 * 1024;
  options.ca_file = env("SECRETS_CA_FILE").value_or(env(ca_variable).value_or(""));
  Connection c;
  try {
    c.client = std::make_unique<http::Client>(options);
  } catch (const std::exception&) {
    return SecretError{"SECRETS_CA_FILE", "cannot load the trust anchors in " + options.ca_file};
  }
  if (auto t = env("SECRETS_TIMEOUT_MS"); t && !t->empty()) {
    try {
      c.timeout = std::chrono::milliseconds(std::stoi(*t));
    } catch (const std::exception&) {
      return SecretError{"SECRETS_TIMEOUT_MS", "must be a number of milliseconds"};
    }
  }
  return c;
}

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

/// "2026-12-05T17:00:00Z" (or with fractions) as Unix seconds; 0 when unreadable.
std::int64_t parse_utc(std::string_view text) {
  std::tm tm{};
  const std::string s(text.substr(0, 19));
  if (strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) return 0;
  return static_cast<std::int64_t>(timegm(&tm));
}

/// "https://host[:port]/path" → "host[:port]".
std::string authority_of(std::string_view url) {
  const auto start = url.find("://");
  if (start == std::string_view::npos) return {};
  const auto rest = url.substr(start + 3);
  return std::string(rest.substr(0, rest.find('/')));
}

std::optional<std::string> json_string(const json::value& v, std::string_view key) {
  if (const auto* o = v.if_object()) {
    if (const auto* s = o->if_contains(key); s != nullptr && s->is_string()) return std::string(s->as_string());
  }
  return std::nullopt;
}

json::value parse_or_null(std::string_view text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  return ec ? json::value() : v;
}

/// Waits before another attempt: the server's Retry-After (capped), else 200 ms, 400 ms, …
void back_off(int attempt, const http::ClientResponse* response) {
  auto wait = std::chrono::milliseconds(200 << attempt);
  if (response != nullptr) {
    if (auto after = response->header("retry-after")) {
      try {
        wait =
            std::min<std::chrono::milliseconds>(std::chrono::seconds(std::stoi(std::string(*after))), kMaxRetryAfter);
      } catch (const std::exception&) {
      }
    }
  }
  std::this_thread::sleep_for(wait);
}

// ---- AWS ----

/// AWS credentials: static from the environment, or the container endpoint's, cached until
/// five minutes before they expire.
class AwsCredentials {
 public:
  AwsCredentials(const EnvLookup& env, http::Client& client, std::chrono::milliseconds timeout)
      : client_(client), timeout_(timeout) {
    static_.access_key_id = env("AWS_ACCESS_KEY_ID").value_or("");
    static_.secret_access_key = env("AWS_SECRET_ACCESS_KEY").value_or("");
    static_.session_token = env("AWS_SESSION_TOKEN").value_or("");
    if (auto full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI"); full && !full->empty()) {
      endpoint_ = *full;
    } else if (auto relative = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"); relative && !relative->empty()) {
      endpoint_ = "http://169.254.170.2" + *relative;
    }
    authorization_ = env("AWS_CONTAINER_AUTHORIZATION_TOKEN").value_or("");
  }

  [[nodiscard]] bool configured() const {
    return (!static_.access_key_id.empty() && !static_.secret_access_key.empty()) || !endpoint_.empty();
  }

  Result<sigv4::Credentials, SecretError> current() {
    if (!static_.access_key_id.empty()) return static_;
    std::lock_guard lock(mutex_);
    if (!cached_.access_key_id.empty() && now_seconds() < expires_at_ - 300) return cached_;
    http::ClientRequest request{"GET", endpoint_, {}, {}, timeout_};
    if (!authorization_.empty()) request.headers.emplace_back("Authorization", authorization_);
    auto response = client_.fetch(request);
    if (!response || response->status != 200) {
      return SecretError{"AWS_CONTAINER_CREDENTIALS_FULL_URI",
                         "the container credentials endpoint did not answer with credentials (" +
                             (response ? std::to_string(response->status) : std::string(to_string(response.error()))) +
                             ")"};
    }
    const auto body = parse_or_null(response->body);
    auto key = json_string(body, "AccessKeyId");
    auto secret = json_string(body, "SecretAccessKey");
    if (!key || !secret) return SecretError{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "credentials without keys"};
    cached_ = {std::move(*key), std::move(*secret), json_string(body, "Token").value_or("")};
    expires_at_ = parse_utc(json_string(body, "Expiration").value_or(""));
    return cached_;
  }

 private:
  http::Client& client_;
  std::chrono::milliseconds timeout_;
  sigv4::Credentials static_;
  std::string endpoint_;
  std::string authorization_;
  std::mutex mutex_;
  sigv4::Credentials cached_;
  std::int64_t expires_at_ = 0;
};

class AwsSecrets final : public SecretProvider {
 public:
  AwsSecrets(EnvLookup env, Connection connection, std::string region, std::string endpoint, std::string prefix)
      : env_(std::move(env)),
        connection_(std::move(connection)),
        credentials_(env_, *connection_.client, connection_.timeout),
        region_(std::move(region)),
        endpoint_(std::move(endpoint)),
        prefix_(std::move(prefix)) {}

  [[nodiscard]] bool has_credentials() const { return credentials_.configured(); }
  [[nodiscard]] std::string_view kind() const override { return "aws"; }

  [[nodiscard]] SecretValue get(std::string_view name) const override {
    const std::string body = json::serialize(json::object{{"SecretId", prefix_ + std::string(name)}});
    for (int attempt = 0;; ++attempt) {
      auto request = signed_request(body);
      if (!request) return request.error();
      auto response = connection_.client->fetch(*request);
      const bool last = attempt + 1 == kAttempts;
      if (!response) {
        if (last)
          return SecretError{std::string(name), "AWS Secrets Manager: " + std::string(to_string(response.error()))};
        back_off(attempt, nullptr);
        continue;
      }
      if (response->status == 200) return secret_string(name, response->body);
      const auto type = error_type(response->body);
      if (type == "ResourceNotFoundException") return env_(name);
      const bool retryable = type == "ThrottlingException" || response->status >= 500;
      if (!retryable || last) {
        return SecretError{std::string(name), "AWS Secrets Manager answered " + std::to_string(response->status) +
                                                  (type.empty() ? "" : " " + type)};
      }
      back_off(attempt, &*response);
    }
  }

 private:
  /// A fresh signature per attempt: SigV4 signatures carry the time.
  Result<http::ClientRequest, SecretError> signed_request(const std::string& body) const {
    auto creds = credentials_.current();
    if (!creds) return creds.error();
    sigv4::Request r{"POST",
                     "/",
                     "",
                     {{"Host", authority_of(endpoint_)},
                      {"X-Amz-Date", sigv4::amz_date(now_seconds())},
                      {"X-Amz-Target", "secretsmanager.GetSecretValue"},
                      {"Content-Type", "application/x-amz-json-1.1"}},
                     body};
    if (!creds->session_token.empty()) r.headers.emplace_back("X-Amz-Security-Token", creds->session_token);
    const auto authorization = sigv4::authorization(r, *creds, region_, "secretsmanager");
    r.headers.emplace_back("Authorization", authorization);
    return http::ClientRequest{"POST", endpoint_ + "/", std::move(r.headers), body, connection_.timeout};
  }

  static std::string error_type(std::string_view body) {
    auto type = json_string(parse_or_null(body), "__type").value_or("");
    if (const auto hash = type.rfind('#'); hash != std::string::npos) type.erase(0, hash + 1);
    return type;
  }

  static SecretValue secret_string(std::string_view name, std::string_view body) {
    if (auto value = json_string(parse_or_null(body), "SecretString")) return std::optional<std::string>(*value);
    return SecretError{std::string(name), "AWS Secrets Manager returned no SecretString (binary secrets are not read)"};
  }

  EnvLookup env_;
  Connection connection_;
  mutable AwsCredentials credentials_;
  std::string region_;
  std::string endpoint_;
  std::string prefix_;
};

// ---- Azure ----

class AzureSecrets final : public SecretProvider {
 public:
  struct Settings {
    std::string vault_url;
    std::string token_url;
    std::string client_id;
    std::string client_secret;
    std::string prefix;
  };

  AzureSecrets(EnvLookup env, Connection connection, Settings settings)
      : env_(std::move(env)), connection_(std::move(connection)), settings_(std::move(settings)) {}

  [[nodiscard]] std::string_view kind() const override { return "azure"; }

  [[nodiscard]] SecretValue get(std::string_view name) const override {
    const std::string url = settings_.vault_url + "/secrets/" + vault_name(name) + "?api-version=7.4";
    bool renewed = false;
    for (int attempt = 0;; ++attempt) {
      auto token = access_token(false);
      if (!token) return token.error();
      auto response =
          connection_.client->fetch({"GET", url, {{"Authorization", "Bearer " + *token}}, {}, connection_.timeout});
      const bool last = attempt + 1 == kAttempts;
      if (!response) {
        if (last) return SecretError{std::string(name), "Azure Key Vault: " + std::string(to_string(response.error()))};
        back_off(attempt, nullptr);
        continue;
      }
      if (response->status == 200) {
        if (auto value = json_string(parse_or_null(response->body), "value")) return std::optional<std::string>(*value);
        return SecretError{std::string(name), "Azure Key Vault answered without a value"};
      }
      if (response->status == 404) return env_(name);
      if (response->status == 401 && !renewed) {  // the token was revoked or expired early
        renewed = true;
        if (auto fresh = access_token(true); !fresh) return fresh.error();
        continue;
      }
      const bool retryable = response->status == 429 || response->status >= 500;
      if (!retryable || last) {
        return SecretError{std::string(name), "Azure Key Vault answered " + std::to_string(response->status) + " " +
                                                  error_code(response->body)};
      }
      back_off(attempt, &*response);
    }
  }

 private:
  std::string vault_name(std::string_view name) const {
    std::string out = settings_.prefix + std::string(name);
    for (auto& ch : out) {
      if (ch == '_') ch = '-';
    }
    return out;
  }

  static std::string error_code(std::string_view body) {
    const auto v = parse_or_null(body);
    if (const auto* o = v.if_object()) {
      if (const auto* e = o->if_contains("error")) return json_string(*e, "code").value_or("");
    }
    return {};
  }

  /// Microsoft Entra client credentials, cached until a minute before they expire.
  Result<std::string, SecretError> access_token(bool renew) const {
    std::lock_guard lock(mutex_);
    if (!renew && !token_.empty() && SteadyClock::now() < token_expires_)
      return Result<std::string, SecretError>(boost::system::in_place_value, token_);
    const std::string form = "grant_type=client_credentials&client_id=" + http::form_encode(settings_.client_id) +
                             "&client_secret=" + http::form_encode(settings_.client_secret) +
                             "&scope=" + http::form_encode("https://vault.azure.net/.default");
    for (int attempt = 0;; ++attempt) {
      auto response = connection_.client->fetch({"POST",
                                                 settings_.token_url,
                                                 {{"Content-Type", "application/x-www-form-urlencoded"}},
                                                 form,
                                                 connection_.timeout});
      const bool retryable = !response || response->status == 429 || response->status >= 500;
      if (retryable && attempt + 1 < kAttempts) {
        back_off(attempt, response ? &*response : nullptr);
        continue;
      }
      if (!response || response->status != 200) {
        return SecretError{
            "AZURE_CLIENT_SECRET",
            "Microsoft Entra refused the client credentials (" +
                (response ? std::to_string(response->status) : std::string(to_string(response.error()))) + ")"};
      }
      const auto body = parse_or_null(response->body);
      auto token = json_string(body, "access_token");
      if (!token) return SecretError{"AZURE_CLIENT_SECRET", "Microsoft Entra answered without an access token"};
      std::int64_t lifetime = 300;
      if (const auto* o = body.if_object()) {
        if (const auto* e = o->if_contains("expires_in"); e != nullptr && e->is_int64()) lifetime = e->as_int64();
      }
      token_ = std::move(*token);
      token_expires_ = SteadyClock::now() + std::chrono::seconds(std::max<std::int64_t>(lifetime - 60, 1));
      return Result<std::string, SecretError>(boost::system::in_place_value, token_);
    }
  }

  EnvLookup env_;
  Connection connection_;
  Settings settings_;
  mutable std::mutex mutex_;
  mutable std::string token_;
  mutable SteadyClock::time_point token_expires_{};
};

std::string without_trailing_slash(std::string url) {
  while (url.ends_with('/')) url.pop_back();
  return url;
}

}  // namespace

Result<std::unique_ptr<SecretProvider>, SecretError> make_aws_provider(const EnvLookup& env) {
  const auto region = env("AWS_REGION").value_or(env("AWS_DEFAULT_REGION").value_or(""));
  if (region.empty()) return SecretError{"AWS_REGION", "SECRETS_PROVIDER=aws needs the region"};
  auto endpoint = env("AWS_ENDPOINT_URL_SECRETS_MANAGER").value_or(env("AWS_ENDPOINT_URL").value_or(""));
  if (endpoint.empty()) endpoint = "https://secretsmanager." + region + ".amazonaws.com";
  if (!endpoint.starts_with("https://") && !endpoint.starts_with("http://")) {
    return SecretError{"AWS_ENDPOINT_URL", "must be an http:// or https:// URL"};
  }
  auto connection = connect(env, "AWS_CA_BUNDLE");
  if (!connection) return connection.error();
  auto provider = std::make_unique<AwsSecrets>(env, std::move(*connection), region, without_trailing_slash(endpoint),
                                               env("SECRETS_PREFIX").value_or(""));
  if (!provider->has_credentials()) {
    return SecretError{"AWS_ACCESS_KEY_ID",
                       "SECRETS_PROVIDER=aws needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a container "
                       "credentials endpoint"};
  }
  return std::unique_ptr<SecretProvider>(std::move(provider));
}

Result<std::unique_ptr<SecretProvider>, SecretError> make_azure_provider(const EnvLookup& env) {
  AzureSecrets::Settings s;
  s.vault_url = without_trailing_slash(env("AZURE_KEY_VAULT_URL").value_or(""));
  const auto tenant = env("AZURE_TENANT_ID").value_or("");
  s.client_id = env("AZURE_CLIENT_ID").value_or("");
  s.client_secret = env("AZURE_CLIENT_SECRET").value_or("");
  s.prefix = env("SECRETS_PREFIX").value_or("");
  for (const auto& [field, value] :
       {std::pair{"AZURE_KEY_VAULT_URL", &s.vault_url}, std::pair{"AZURE_CLIENT_ID", &s.client_id},
        std::pair{"AZURE_CLIENT_SECRET", &s.client_secret}}) {
    if (value->empty()) return SecretError{field, "SECRETS_PROVIDER=azure needs it"};
  }
  if (tenant.empty()) return SecretError{"AZURE_TENANT_ID", "SECRETS_PROVIDER=azure needs it"};
  if (!s.vault_url.starts_with("https://") && !s.vault_url.starts_with("http://")) {
    return SecretError{"AZURE_KEY_VAULT_URL", "must be an https:// URL"};
  }
  const auto authority =
      without_trailing_slash(env("AZURE_AUTHORITY_HOST").value_or("https://login.microsoftonline.com"));
  s.token_url = authority + "/" + tenant + "/oauth2/v2.0/token";
  auto connection = connect(env, "SECRETS_CA_FILE");
  if (!connection) return connection.error();
  return std::unique_ptr<SecretProvider>(std::make_unique<AzureSecrets>(env, std::move(*connection), std::move(s)));
}

}  // namespace permiso::secrets
