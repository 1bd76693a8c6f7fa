// The HTTP request path up to a handler: raw bytes through Beast's request parser with the
// server's header and body limits, then what our server does with a parsed message: the
// target split into a clean path and query, the router's match with captures, and the
// readers handlers call (OAuth parameters, Basic and Bearer credentials, cookies, the public
// base URL from forwarded headers).
#include "http/body.hpp"
#include "http/http.hpp"

// GCC 12 reports boost::optional inside Beast's parser as maybe-uninitialized once put() is
// inlined into a plain function (a known false positive; the server's coroutine is spared).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <cctype>
#include <cstdint>
#include <memory>
#include <string_view>

namespace {

using namespace permiso::http;
namespace bhttp = boost::beast::http;

const Router& router() {
  static const Router r = [] {
    Router out;
    const auto ok = [](Request&, Reply reply) { reply(Response{}); };
    for (const char* pattern : {"/api/v1/auth/token", "/api/v1/auth/authorize", "/api/v1/users/{id}",
                                "/api/v1/users/{id}/sessions", "/api/v1/service-clients/{client_id}/rotate-secret",
                                "/api/v1/trades/{ticket}", "/api/v1/market/{symbol}/rates", "/.well-known/jwks.json"}) {
      out.add("GET", pattern, ok);
      out.add("POST", pattern, ok);
    }
    return out;
  }();
  return r;
}

Request from_message(const bhttp::request<bhttp::string_body>& msg) {
  Request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  for (const auto& f : msg) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    req.headers.emplace_back(std::move(name), std::string(f.value()));
  }
  req.body = msg.body();
  req.via_trusted_proxy = true;  // the forwarded headers are read too
  return req;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto parser = std::make_unique<bhttp::request_parser<bhttp::string_body>>();
  parser->header_limit(8 * 1024);
  parser->body_limit(64 * 1024);
  parser->eager(true);
  boost::beast::error_code ec;
  parser->put(boost::asio::buffer(data, size), ec);
  if (ec || !parser->is_done()) return 0;
  Request req = from_message(parser->get());
  if (!parse_target(req)) return 0;
  (void)router().match(req);
  (void)read_oauth_params(req);
  (void)parse_basic_auth(req);
  (void)bearer_token(req);
  (void)cookie(req, "__Secure-permiso_csrf");
  (void)public_base_url(req);
  return 0;
}
