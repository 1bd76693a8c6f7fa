// Body readers. Every decoder is strict: an ambiguous input is an error, never a guess.
#include "http/body.hpp"

#include "common/ascii.hpp"

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>

#include <array>
#include <cstdint>
#include <set>

namespace permiso::http {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string, BodyError> decode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return BodyError::MalformedEncoding;
      int hi = hex_value(in[i + 1]);
      int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return BodyError::MalformedEncoding;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool iequals_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (ascii_lower(s[i]) != ascii_lower(prefix[i])) {
      return false;
    }
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// The media type of a Content-Type value, lower-cased, without parameters.
std::string media_type(std::string_view content_type) {
  auto semi = content_type.find(';');
  auto t = trim(content_type.substr(0, semi));
  std::string out(t);
  lower_ascii_in_place(out);
  return out;
}

/// boost::json::parse keeps the last of duplicated keys silently; this SAX pass sees them all,
/// so a JSON body cannot smuggle a second value for an OAuth parameter either.
class TopLevelKeys {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);
  using ec_t = boost::system::error_code;
  using sv = boost::json::string_view;

  bool duplicate = false;

  bool on_document_begin(ec_t&) { return true; }
  bool on_document_end(ec_t&) { return true; }
  bool on_object_begin(ec_t&) {
    ++depth_;
    return true;
  }
  bool on_object_end(std::size_t, ec_t&) {
    --depth_;
    return true;
  }
  bool on_array_begin(ec_t&) {
    ++depth_;
    return true;
  }
  bool on_array_end(std::size_t, ec_t&) {
    --depth_;
    return true;
  }
  bool on_key_part(sv s, std::size_t, ec_t&) {
    if (depth_ == 1) key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(sv s, std::size_t, ec_t&) {
    if (depth_ == 1) {
      key_.append(s.data(), s.size());
      if (!keys_.insert(std::move(key_)).second) duplicate = true;
      key_.clear();
    }
    return true;
  }
  bool on_string_part(sv, std::size_t, ec_t&) { return true; }
  bool on_string(sv, std::size_t, ec_t&) { return true; }
  bool on_number_part(sv, ec_t&) { return true; }
  bool on_int64(std::int64_t, sv, ec_t&) { return true; }
  bool on_uint64(std::uint64_t, sv, ec_t&) { return true; }
  bool on_double(double, sv, ec_t&) { return true; }
  bool on_bool(bool, ec_t&) { return true; }
  bool on_null(ec_t&) { return true; }
  bool on_comment_part(sv, ec_t&) { return true; }
  bool on_comment(sv, ec_t&) { return true; }

 private:
  int depth_ = 0;
  std::string key_;
  std::set<std::string, std::less<>> keys_;
};

bool has_duplicate_top_level_keys(std::string_view body) {
  boost::json::parse_options opts;
  opts.max_depth = 32;
  boost::json::basic_parser<TopLevelKeys> parser(opts);
  boost::system::error_code ec;
  parser.write_some(false, body.data(), body.size(), ec);
  return !ec && parser.handler().duplicate;
}

/// Valid UTF-8, and without control bytes unless `controls` allows them.
bool utf8_text(std::string_view p, bool controls) {
  std::size_t i = 0;
  while (i < p.size()) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (!controls && (c < 0x20 || c == 0x7F)) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1FU;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0FU;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07U;
    } else {
      return false;
    }
    if (i + len > p.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(p[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3FU);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

/// A decoded path handlers can echo into JSON and logs: valid UTF-8 without control bytes.
bool clean_path(std::string_view p) {
  return utf8_text(p, false);
}

}  // namespace

std::string_view to_string(BodyError e) {
  switch (e) {
    case BodyError::MalformedEncoding:
      return "malformed_encoding";
    case BodyError::TooManyFields:
      return "too_many_fields";
    case BodyError::FieldTooLarge:
      return "field_too_large";
    case BodyError::InvalidJson:
      return "invalid_json";
    case BodyError::NotAnObject:
      return "not_an_object";
    case BodyError::InvalidValue:
      return "invalid_value";
    case BodyError::DuplicateParameter:
      return "duplicate_parameter";
    case BodyError::UnsupportedMediaType:
      return "unsupported_media_type";
    case BodyError::MissingCredentials:
      return "missing_credentials";
    case BodyError::MalformedCredentials:
      return "malformed_credentials";
  }
  return "unknown";
}

std::string_view describe(BodyError e) {
  switch (e) {
    case BodyError::MalformedEncoding:
      return "The request contains a malformed percent-encoding, or text that is not UTF-8.";
    case BodyError::TooManyFields:
      return "The request has too many form fields.";
    case BodyError::FieldTooLarge:
      return "A form field is too large.";
    case BodyError::InvalidJson:
      return "The request body is not valid JSON.";
    case BodyError::NotAnObject:
      return "The request body must be a JSON object.";
    case BodyError::InvalidValue:
      return "A parameter must be a string, number or boolean.";
    case BodyError::DuplicateParameter:
      return "A parameter was included more than once.";
    case BodyError::UnsupportedMediaType:
      return "The body must be application/x-www-form-urlencoded or application/json.";
    case BodyError::MissingCredentials:
      return "No Basic credentials were supplied.";
    case BodyError::MalformedCredentials:
      return "The Basic credentials are malformed.";
  }
  return "Invalid request body.";
}

Result<std::string, BodyError> form_decode(std::string_view in) {
  return decode(in, true);
}
Result<std::string, BodyError> percent_decode(std::string_view in) {
  return decode(in, false);
}

Result<FormFields, BodyError> parse_form(std::string_view body, FormLimits limits) {
  FormFields out;
  while (!body.empty()) {
    auto amp = body.find('&');
    auto pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    if (pair.empty()) continue;
    if (out.size() >= limits.max_fields) return BodyError::TooManyFields;
    auto eq = pair.find('=');
    auto raw_name = pair.substr(0, eq);
    auto raw_value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    // Encoded text is never shorter than its decoding: reject before allocating.
    if (raw_name.size() > 3 * limits.max_field_bytes || raw_value.size() > 3 * limits.max_field_bytes) {
      return BodyError::FieldTooLarge;
    }
    auto name = form_decode(raw_name);
    if (!name) return name.error();
    auto value = form_decode(raw_value);
    if (!value) return value.error();
    // Form data is UTF-8 (RFC 6749 appendix B): other bytes never reach storage or a log.
    if (!utf8_text(*name, true) || !utf8_text(*value, true)) return BodyError::MalformedEncoding;
    if (name->size() > limits.max_field_bytes || value->size() > limits.max_field_bytes) {
      return BodyError::FieldTooLarge;
    }
    out.emplace_back(std::move(*name), std::move(*value));
  }
  return out;
}

Result<boost::json::object, BodyError> parse_json_object(std::string_view body) {
  boost::system::error_code ec;
  boost::json::parse_options opts;
  opts.max_depth = 32;  // bounded recursion for hostile nesting
  auto v = boost::json::parse(body, ec, {}, opts);
  if (ec) return BodyError::InvalidJson;
  if (!v.is_object()) return BodyError::NotAnObject;
  return std::move(v.as_object());
}

std::string param_or_empty(const ParamMap& params, std::string_view name) {
  const auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

Result<ParamMap, BodyError> read_oauth_params(const Request& req, FormLimits limits) {
  ParamMap out;
  auto ct = media_type(req.header("content-type").value_or(""));
  if (req.body.empty() && ct.empty()) return out;
  if (ct == "application/json") {
    auto obj = parse_json_object(req.body);
    if (!obj) return obj.error();
    if (obj->size() > limits.max_fields) return BodyError::TooManyFields;
    if (has_duplicate_top_level_keys(req.body)) return BodyError::DuplicateParameter;
    for (const auto& [k, v] : *obj) {
      std::string value;
      if (v.is_string()) {
        value = std::string(v.as_string());
      } else if (v.is_null()) {
        continue;
      } else if (v.is_number() || v.is_bool()) {
        value = boost::json::serialize(v);
      } else {
        return BodyError::InvalidValue;
      }
      if (!out.emplace(std::string(k), std::move(value)).second) return BodyError::DuplicateParameter;
    }
    return out;
  }
  if (ct.empty() || ct == "application/x-www-form-urlencoded") {
    auto fields = parse_form(req.body, limits);
    if (!fields) return fields.error();
    for (auto& [k, v] : *fields) {
      if (!out.emplace(std::move(k), std::move(v)).second) return BodyError::DuplicateParameter;
    }
    return out;
  }
  return BodyError::UnsupportedMediaType;
}

std::optional<std::string> base64_decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(in.size() / 4 * 3);
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  for (std::size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    std::array<int, 4> v{};
    int pad = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      char c = in[i + j];
      if (c == '=') {
        // Padding only at the very end, and only in the last two positions.
        if (!last || j < 2) return std::nullopt;
        ++pad;
        v[j] = 0;
      } else {
        if (pad > 0) return std::nullopt;
        v[j] = value(c);
        if (v[j] < 0) return std::nullopt;
      }
    }
    const unsigned n = (static_cast<unsigned>(v[0]) << 18) | (static_cast<unsigned>(v[1]) << 12) |
                       (static_cast<unsigned>(v[2]) << 6) | static_cast<unsigned>(v[3]);
    out.push_back(static_cast<char>((n >> 16) & 0xFF));
    if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xFF));
    if (pad < 1) out.push_back(static_cast<char>(n & 0xFF));
    // Non-canonical encodings (stray bits under the padding) are refused.
    if (pad == 1 && (n & 0xFF) != 0) return std::nullopt;
    if (pad == 2 && (n & 0xFFFF) != 0) return std::nullopt;
  }
  return out;
}

Result<BasicCredentials, BodyError> parse_basic_auth(std::string_view authorization) {
  authorization = trim(authorization);
  if (!iequals_prefix(authorization, "basic ")) return BodyError::MissingCredentials;
  auto encoded = trim(authorization.substr(6));
  auto decoded = base64_decode(encoded);
  if (!decoded) return BodyError::MalformedCredentials;
  auto colon = decoded->find(':');
  if (colon == std::string::npos) return BodyError::MalformedCredentials;
  auto id = form_decode(std::string_view(*decoded).substr(0, colon));
  if (!id) return id.error();
  auto secret = form_decode(std::string_view(*decoded).substr(colon + 1));
  if (!secret) return secret.error();
  if (id->empty()) return BodyError::MalformedCredentials;
  return BasicCredentials{std::move(*id), std::move(*secret)};
}

Result<BasicCredentials, BodyError> parse_basic_auth(const Request& req) {
  auto h = req.header("authorization");
  if (!h) return BodyError::MissingCredentials;
  return parse_basic_auth(*h);
}

std::optional<std::string_view> bearer_token(const Request& req) {
  auto h = req.header("authorization");
  if (!h) return std::nullopt;
  auto v = trim(*h);
  if (!iequals_prefix(v, "bearer ")) return std::nullopt;
  auto token = trim(v.substr(7));
  if (token.empty() || token.find(' ') != std::string_view::npos) return std::nullopt;
  return token;
}

bool parse_target(Request& req) {
  std::string_view target = req.target;
  auto q = target.find('?');
  auto raw_path = target.substr(0, q);
  auto path = percent_decode(raw_path);
  // An encoded '/' would change how the router splits segments: refuse it.
  if (raw_path.empty() || raw_path.front() != '/' || !path || !clean_path(*path) ||
      raw_path.find("%2F") != std::string_view::npos || raw_path.find("%2f") != std::string_view::npos) {
    return false;
  }
  req.path = std::move(*path);
  if (q == std::string_view::npos) return true;
  FormLimits limits;
  limits.max_fields = 256;
  auto query = parse_form(target.substr(q + 1), limits);
  if (!query) return false;
  req.query = std::move(*query);
  return true;
}

}  // namespace permiso::http
