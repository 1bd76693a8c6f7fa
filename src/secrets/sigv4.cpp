// See sigv4.hpp.
#include "secrets/sigv4.hpp"

#include "http/client.hpp"
#include "jose/crypto.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>

namespace permiso::secrets::sigv4 {
namespace {

/// RFC 3986 dot segments removed and empty segments dropped; a trailing slash kept.
std::string normalized_path(std::string_view path) {
  std::vector<std::string_view> segments;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    const auto end = std::min(path.find('/', pos), path.size());
    const auto segment = path.substr(pos, end - pos);
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!segment.empty() && segment != ".") {
      segments.push_back(segment);
    }
    pos = end + 1;
  }
  std::string out;
  for (const auto segment : segments) out += "/" + http::form_encode(segment);
  const bool trailing = path.size() > 1 && path.ends_with('/');
  if (out.empty() || trailing) out += "/";
  return out;
}

std::string canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  std::size_t pos = 0;
  while (pos < query.size()) {
    const auto end = std::min(query.find('&', pos), query.size());
    const auto item = query.substr(pos, end - pos);
    if (!item.empty()) {
      const auto eq = item.find('=');
      params.emplace_back(http::form_encode(item.substr(0, eq)),
                          eq == std::string_view::npos ? "" : http::form_encode(item.substr(eq + 1)));
    }
    pos = end + 1;
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) out += (out.empty() ? "" : "&") + name + "=" + value;
  return out;
}

/// Leading and trailing spaces dropped, runs of spaces made one.
std::string trimmed(std::string_view value) {
  std::string out;
  for (const char ch : value) {
    if (ch == ' ' || ch == '\t') {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else {
      out.push_back(ch);
    }
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

/// Lower-cased names in order, each with its values joined by commas.
std::map<std::string, std::string> canonical_headers(const Request& request) {
  std::map<std::string, std::string> headers;
  for (const auto& [name, value] : request.headers) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    auto& joined = headers[lower];
    joined += (joined.empty() ? "" : ",") + trimmed(value);
  }
  return headers;
}

std::string signed_header_names(const std::map<std::string, std::string>& headers) {
  std::string out;
  for (const auto& [name, value] : headers) out += (out.empty() ? "" : ";") + name;
  return out;
}

}  // namespace

std::string amz_date(std::int64_t unix_seconds) {
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[20];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string canonical_request(const Request& request) {
  const auto headers = canonical_headers(request);
  std::string out =
      request.method + "\n" + normalized_path(request.path) + "\n" + canonical_query(request.query) + "\n";
  for (const auto& [name, value] : headers) out += name + ":" + value + "\n";
  out += "\n" + signed_header_names(headers) + "\n" + jose::hex(jose::sha256(request.body));
  return out;
}

std::string authorization(const Request& request, const Credentials& credentials, std::string_view region,
                          std::string_view service) {
  const auto headers = canonical_headers(request);
  const auto it = headers.find("x-amz-date");
  const std::string date_time = it == headers.end() ? std::string() : it->second;
  const std::string date = date_time.substr(0, 8);
  const std::string scope = date + "/" + std::string(region) + "/" + std::string(service) + "/aws4_request";
  const std::string to_sign =
      "AWS4-HMAC-SHA256\n" + date_time + "\n" + scope + "\n" + jose::hex(jose::sha256(canonical_request(request)));
  auto key = jose::hmac_sha256("AWS4" + credentials.secret_access_key, date);
  key = jose::hmac_sha256(key, region);
  key = jose::hmac_sha256(key, service);
  key = jose::hmac_sha256(key, "aws4_request");
  return "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id + "/" + scope +
         ", SignedHeaders=" + signed_header_names(headers) +
         ", Signature=" + jose::hex(jose::hmac_sha256(key, to_sign));
}

}  // namespace permiso::secrets::sigv4
