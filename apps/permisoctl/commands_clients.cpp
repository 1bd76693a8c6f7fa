// clients create|list|show|update|rotate-secret|delete: service clients (admin:clients).
#include "commands.hpp"

namespace permisoctl {
namespace {

constexpr const char* kListHint = "see `permisoctl clients list`";

class ClientCommands final : public CommandGroup {
 public:
  explicit ClientCommands(CLI::App& app) {
    auto* clients = app.add_subcommand("clients", "Service clients (admin:clients)");
    clients->require_subcommand(1);
    create_ = clients->add_subcommand("create", "Register a client; prints its secret once");
    list_ = clients->add_subcommand("list", "List clients");
    show_ = clients->add_subcommand("show", "Show one client");
    update_ = clients->add_subcommand("update", "Change a client's fields or scopes");
    rotate_ = clients->add_subcommand("rotate-secret", "Issue a new secret; prints it once");
    delete_ = clients->add_subcommand("delete", "Delete a client (its tokens stop working)");
    add_create_options();
    list_->add_option("--page", page_, "page (from 1)");
    list_->add_option("--per-page", per_page_, "items per page");
    for (auto* c : {show_, update_, rotate_, delete_}) c->add_option("client_id", id_, "client id")->required();
    add_update_options();
    rotate_->add_option("--grace", grace_, "seconds the old secret keeps working (0-86400)");
  }

  std::optional<int> run(Ctl& ctl) override {
    if (create_->parsed()) return create(ctl);
    if (list_->parsed()) return list(ctl);
    if (show_->parsed()) return show(ctl);
    if (update_->parsed()) return update(ctl);
    if (rotate_->parsed()) return rotate(ctl);
    if (delete_->parsed()) return remove(ctl);
    return std::nullopt;
  }

 private:
  void add_create_options() {
    create_->add_option("--name", name_, "display name")->required();
    create_->add_option("--id", id_, "client id (generated when absent)");
    create_->add_option("--description", description_, "description");
    create_->add_option("-s,--scope", scopes_, "scope to grant (repeatable)");
    create_->add_option("--lifetime", lifetime_, "access-token lifetime in seconds (300-86400)");
    create_->add_option("--trusted", trusted_, "true or false");
    create_->add_option("--rate-limit-per-minute", per_minute_, "token requests per minute");
  }

  void add_update_options() {
    update_->add_option("--name", name_, "display name");
    update_->add_option("--description", description_, "description");
    update_->add_option("-s,--scope", scopes_, "replace the scopes (repeatable)");
    update_->add_option("--lifetime", lifetime_, "access-token lifetime in seconds (300-86400)");
    update_->add_option("--trusted", trusted_, "true or false");
    update_->add_option("--active", active_, "true or false");
    update_->add_option("--rate-limit-per-minute", per_minute_, "token requests per minute");
  }

  [[nodiscard]] std::string path() const { return "/api/v1/service-clients/" + url_encode(id_); }

  /// The optional fields create and update share.
  void add_settings(json::object& body) const {
    if (lifetime_) body["access_token_lifetime"] = *lifetime_;
    if (trusted_) body["is_trusted"] = *trusted_;
    if (active_) body["is_active"] = *active_;
    if (per_minute_) body["rate_limit_per_minute"] = *per_minute_;
  }

  int create(Ctl& ctl) const {
    json::object body{{"name", name_}, {"scope_ids", json::value_from(scopes_)}};
    if (!id_.empty()) body["client_id"] = id_;
    if (!description_.empty()) body["description"] = description_;
    add_settings(body);
    return ctl.show("POST", "/api/v1/service-clients", json::serialize(body), client_with_secret);
  }

  int list(Ctl& ctl) const {
    const auto query = "?page=" + std::to_string(page_) + "&per_page=" + std::to_string(per_page_);
    return ctl.show("GET", "/api/v1/service-clients" + query, "",
                    [](const json::value& answer) { return table(list_of(answer, "clients"), kClientColumns); });
  }

  int show(Ctl& ctl) const { return ctl.show("GET", path(), "", object_fields, kListHint); }

  int update(Ctl& ctl) const {
    json::object body;
    if (!name_.empty()) body["name"] = name_;
    if (!description_.empty()) body["description"] = description_;
    if (!scopes_.empty()) body["scope_ids"] = json::value_from(scopes_);
    add_settings(body);
    if (body.empty()) {
      return fail(kUsage,
                  "error: nothing to update: give at least one of --name, --description, "
                  "--scope, --lifetime, --trusted, --active, --rate-limit-per-minute");
    }
    return ctl.show("PUT", path(), json::serialize(body), object_fields, kListHint);
  }

  int rotate(Ctl& ctl) const {
    const std::string body = grace_ ? json::serialize(json::object{{"grace_period_seconds", *grace_}}) : "";
    return ctl.show("POST", path() + "/rotate-secret", body, client_with_secret, kListHint);
  }

  int remove(Ctl& ctl) const {
    return ctl.show(
        "DELETE", path(), "", [&](const json::value&) { return "Deleted client " + id_ + "\n"; }, kListHint);
  }

  CLI::App* create_ = nullptr;
  CLI::App* list_ = nullptr;
  CLI::App* show_ = nullptr;
  CLI::App* update_ = nullptr;
  CLI::App* rotate_ = nullptr;
  CLI::App* delete_ = nullptr;
  std::string id_;
  std::string name_;
  std::string description_;
  std::vector<std::string> scopes_;
  std::optional<int> lifetime_;
  std::optional<int> per_minute_;
  std::optional<int> grace_;
  std::optional<bool> trusted_;
  std::optional<bool> active_;
  int page_ = 1;
  int per_page_ = 20;
};

}  // namespace

std::unique_ptr<CommandGroup> client_commands(CLI::App& app) {
  return std::make_unique<ClientCommands>(app);
}

}  // namespace permisoctl
