// revoke, introspect and decode: one token each, given as an argument or on stdin ("-").
#include "commands.hpp"

#include <iostream>

namespace permisoctl {
namespace {

class TokenCommands final : public CommandGroup {
 public:
  explicit TokenCommands(CLI::App& app) {
    revoke_ = app.add_subcommand("revoke", "Revoke an access or refresh token");
    introspect_ = app.add_subcommand("introspect", "Ask the server whether a token is active (RFC 7662)");
    decode_ = app.add_subcommand("decode", "Decode a JWT locally: header, claims, expiry (signature NOT verified)");
    for (auto* c : {revoke_, introspect_, decode_}) {
      c->add_option("token", token_, "the token, or - to read it from stdin")->required();
    }
  }

  std::optional<int> run(Ctl& ctl) override {
    if (decode_->parsed()) return decode(ctl);
    if (!revoke_->parsed() && !introspect_->parsed()) return std::nullopt;
    auto t = token_argument(token_);
    if (!t || t->empty()) return fail(kUsage, "error: no token given");
    const std::string body = json::serialize(json::object{{"token", *t}});
    return revoke_->parsed() ? revoke(ctl, body) : introspect(ctl, body);
  }

 private:
  static int revoke(Ctl& ctl, const std::string& body) {
    return ctl.show("POST", "/api/v1/auth/revoke", body, [](const json::value&) {
      return std::string("Revoked (the server answers the same for unknown tokens)\n");
    });
  }

  static int introspect(Ctl& ctl, const std::string& body) {
    return ctl.show("POST", "/api/v1/auth/introspect", body, [](const json::value& out) {
      std::string s = object_fields(out);
      if (const auto* e = out.get_object().if_contains("exp"); e && e->is_int64()) {
        s += "expires: " + relative_time(e->get_int64(), now_s()) + "\n";
      }
      return s;
    });
  }

  /// Reads the token locally; no server call, no saved session.
  int decode(const Ctl& ctl) const {
    auto t = token_argument(token_);
    if (!t) return fail(kUsage, "error: no token on stdin");
    auto d = decode_jwt(*t);
    if (!d) return fail(kConflict, "error: not a JWT (expected three base64url parts separated by dots)");
    if (ctl.json_out()) {
      std::cout << pretty(json::object{{"header", d->header}, {"claims", d->claims}, {"verified", false}});
      return kOk;
    }
    std::cout << "Header:\n" << pretty(d->header) << "Claims:\n" << pretty(d->claims);
    const auto& c = d->claims.get_object();
    const auto now = now_s();
    for (const auto* name : {"iat", "nbf", "exp"}) {
      if (const auto* v = c.if_contains(name); v && v->is_int64()) {
        std::cout << name << ": " << relative_time(v->get_int64(), now);
        if (std::string_view(name) == "exp" && v->get_int64() <= now) std::cout << " (expired)";
        std::cout << "\n";
      }
    }
    std::cout << "Signature: NOT verified (decode only reads the token; `permisoctl introspect` asks the server)\n";
    return kOk;
  }

  CLI::App* revoke_ = nullptr;
  CLI::App* introspect_ = nullptr;
  CLI::App* decode_ = nullptr;
  std::string token_;
};

}  // namespace

std::unique_ptr<CommandGroup> token_commands(CLI::App& app) {
  return std::make_unique<TokenCommands>(app);
}

}  // namespace permisoctl
