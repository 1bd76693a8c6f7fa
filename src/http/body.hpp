// Request body and credential readers: form-urlencoded, JSON objects, OAuth parameters
// (form or JSON, RFC 6749 §3.1), HTTP Basic client credentials (§2.3.1) and Bearer tokens.
#pragma once

#include "common/result.hpp"
#include "http/http.hpp"

#include <boost/json/object.hpp>

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace permiso::http {

enum class BodyError {
  MalformedEncoding,     // bad percent escape in form data or credentials
  TooManyFields,         // more form fields than FormLimits::max_fields
  FieldTooLarge,         // a name or value over FormLimits::max_field_bytes
  InvalidJson,           // not JSON at all
  NotAnObject,           // JSON, but not an object at the top level
  InvalidValue,          // a JSON OAuth parameter that is an array or object
  DuplicateParameter,    // a parameter given twice (RFC 6749 §3.1)
  UnsupportedMediaType,  // neither form nor JSON
  MissingCredentials,    // no Authorization header or another scheme
  MalformedCredentials,  // bad base64, no ':' separator
};

[[nodiscard]] std::string_view to_string(BodyError e);
/// A sentence for `error_description`.
[[nodiscard]] std::string_view describe(BodyError e);
PERMISO_RESULT_ERROR(BodyError)

struct FormLimits {
  std::size_t max_fields = 64;
  std::size_t max_field_bytes = 8 * 1024;  // per decoded name or value
};

using FormFields = std::vector<std::pair<std::string, std::string>>;
using ParamMap = std::map<std::string, std::string, std::less<>>;

/// Decodes one form component: '+' is a space, "%XY" a byte; a malformed escape fails.
[[nodiscard]] Result<std::string, BodyError> form_decode(std::string_view in);
/// Decodes percent escapes only ('+' stays '+'), as in URL paths.
[[nodiscard]] Result<std::string, BodyError> percent_decode(std::string_view in);

/// application/x-www-form-urlencoded, fields in order. Empty pairs ("a=1&&b=2") are skipped;
/// a field without '=' has an empty value.
[[nodiscard]] Result<FormFields, BodyError> parse_form(std::string_view body, FormLimits limits = {});

/// A JSON document whose top level is an object.
[[nodiscard]] Result<boost::json::object, BodyError> parse_json_object(std::string_view body);

/// OAuth endpoint parameters from a form (default when the Content-Type is absent) or a JSON
/// body, flattened to strings (numbers and booleans as their JSON text, null dropped).
/// A parameter sent twice (also a repeated JSON key) is `duplicate_parameter`.
/// The value of `name`, or "" when absent.
[[nodiscard]] std::string param_or_empty(const ParamMap& params, std::string_view name);

[[nodiscard]] Result<ParamMap, BodyError> read_oauth_params(const Request& req, FormLimits limits = {});

struct BasicCredentials {
  std::string client_id;
  std::string client_secret;
};

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
/// `missing_credentials` when there is no Basic header at all.
[[nodiscard]] Result<BasicCredentials, BodyError> parse_basic_auth(const Request& req);
[[nodiscard]] Result<BasicCredentials, BodyError> parse_basic_auth(std::string_view authorization);

/// Fills req.path (percent-decoded) and req.query from req.target. False for a target the
/// server answers 400: no leading '/', a malformed escape, an encoded '/', a path that is not
/// valid UTF-8 or holds control bytes, or a malformed or oversized query.
[[nodiscard]] bool parse_target(Request& req);

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive); nullopt otherwise.
[[nodiscard]] std::optional<std::string_view> bearer_token(const Request& req);

/// Strict base64 (standard alphabet, padding required); nullopt on any deviation.
[[nodiscard]] std::optional<std::string> base64_decode(std::string_view in);

}  // namespace permiso::http
