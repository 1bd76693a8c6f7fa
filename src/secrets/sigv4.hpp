// AWS Signature Version 4 (the signing every AWS API takes): the canonical request, the
// string to sign and the Authorization header, for the Secrets Manager provider. Checked
// against AWS's published SigV4 test suite (tests/unit/secrets/sigv4_test.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace permiso::secrets::sigv4 {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // temporary credentials only: sent as X-Amz-Security-Token
};

struct Request {
  std::string method;
  std::string path;                                          // as sent, not yet encoded: "/", "/example space/"
  std::string query;                                         // "a=b&c=d", names and values not yet encoded
  std::vector<std::pair<std::string, std::string>> headers;  // must include Host and X-Amz-Date
  std::string body;
};

/// 20150830T123600Z for a Unix time.
std::string amz_date(std::int64_t unix_seconds);

/// The canonical request (path normalised and encoded as for every service but S3, query
/// sorted, header names lower-cased and sorted, values trimmed, repeated names joined).
std::string canonical_request(const Request& request);

/// The Authorization header value: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…
/// Every header of `request` is signed; its X-Amz-Date gives the time.
std::string authorization(const Request& request, const Credentials& credentials, std::string_view region,
                          std::string_view service);

}  // namespace permiso::secrets::sigv4
