// The permission model (scopes, roles) and the administrators' commands: signing keys
// (admin:system) and the audit trail (admin:audit).
#include "commands.hpp"

namespace permisoctl {
namespace {

class CatalogCommands final : public CommandGroup {
 public:
  explicit CatalogCommands(CLI::App& app) {
    scopes_ = app.add_subcommand("scopes", "List scopes");
    roles_ = app.add_subcommand("roles", "List roles and their scopes");
  }

  std::optional<int> run(Ctl& ctl) override {
    if (scopes_->parsed()) {
      return list(ctl, "/api/v1/roles/scopes", "scopes",
                  {{"ID", "id"}, {"SCOPE", "name"}, {"DESCRIPTION", "description"}});
    }
    if (roles_->parsed())
      return list(ctl, "/api/v1/roles", "roles", {{"ID", "id"}, {"ROLE", "name"}, {"SCOPES", "scopes"}});
    return std::nullopt;
  }

 private:
  static int list(Ctl& ctl, const std::string& path, std::string_view key,
                  const std::vector<std::pair<std::string, std::string>>& columns) {
    return ctl.show("GET", path, "", [&](const json::value& answer) { return table(list_of(answer, key), columns); });
  }

  CLI::App* scopes_ = nullptr;
  CLI::App* roles_ = nullptr;
};

class AdminCommands final : public CommandGroup {
 public:
  explicit AdminCommands(CLI::App& app) {
    auto* keys = app.add_subcommand("keys", "Signing keys (admin:system)");
    keys->require_subcommand(1);
    keys_list_ = keys->add_subcommand("list", "List signing keys");
    keys_rotate_ = keys->add_subcommand("rotate", "Create a new signing key (published before it signs)");
    audit_ = app.add_subcommand("audit", "Query the audit trail (admin:audit)");
    audit_->add_option("--actor", actor_, "who acted (user name or client id)");
    audit_->add_option("--action", action_, "e.g. auth.login, client.create, token.issue");
    audit_->add_option("--outcome", outcome_, "success, failure or denied");
    audit_->add_option("--since", since_, "from (ISO 8601 UTC, e.g. 2026-01-31T12:00:00Z, or Unix seconds)");
    audit_->add_option("--until", until_, "to (same forms as --since)");
    audit_->add_option("--limit", limit_, "at most this many events (1-1000)")->check(CLI::Range(1, 1000));
  }

  std::optional<int> run(Ctl& ctl) override {
    if (keys_list_->parsed()) return list_keys(ctl);
    if (keys_rotate_->parsed()) return rotate_keys(ctl);
    if (audit_->parsed()) return audit(ctl);
    return std::nullopt;
  }

 private:
  static int list_keys(Ctl& ctl) {
    return ctl.show("GET", "/api/v1/admin/keys", "", [](const json::value& out) {
      return table(list_of(out, "keys"), {{"KID", "kid"},
                                          {"ALG", "alg"},
                                          {"STATE", "state"},
                                          {"SIGNING", "signing"},
                                          {"CREATED", "created_at"},
                                          {"ACTIVATES", "activate_at"},
                                          {"RETIRES", "retire_after"}});
    });
  }

  static int rotate_keys(Ctl& ctl) {
    return ctl.show("POST", "/api/v1/admin/keys/rotate", "", [](const json::value& out) {
      const auto* k = out.get_object().if_contains("key");
      return "New signing key (published now, signs from its activate_at):\n" +
             (k != nullptr && k->is_object() ? fields(k->get_object()) : pretty(out));
    });
  }

  int audit(Ctl& ctl) const {
    std::string q = "?limit=" + std::to_string(limit_);
    for (const auto& [name, value] :
         {std::pair{"actor", &actor_}, std::pair{"action", &action_}, std::pair{"outcome", &outcome_},
          std::pair{"since", &since_}, std::pair{"until", &until_}}) {
      if (!value->empty()) q += std::string("&") + name + "=" + url_encode(*value);
    }
    return ctl.show("GET", "/api/v1/admin/audit" + q, "", [](const json::value& out) {
      return table(list_of(out, "events"), {{"TIME", "timestamp"},
                                            {"ACTOR", "actor"},
                                            {"ACTION", "action"},
                                            {"TARGET", "target"},
                                            {"OUTCOME", "outcome"},
                                            {"IP", "ip"}});
    });
  }

  CLI::App* keys_list_ = nullptr;
  CLI::App* keys_rotate_ = nullptr;
  CLI::App* audit_ = nullptr;
  std::string actor_;
  std::string action_;
  std::string since_;
  std::string until_;
  std::string outcome_;
  int limit_ = 50;
};

}  // namespace

std::unique_ptr<CommandGroup> catalog_commands(CLI::App& app) {
  return std::make_unique<CatalogCommands>(app);
}

std::unique_ptr<CommandGroup> admin_commands(CLI::App& app) {
  return std::make_unique<AdminCommands>(app);
}

}  // namespace permisoctl
