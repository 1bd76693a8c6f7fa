// users create|list|show|disable|roles: user accounts (admin:users).
#include "commands.hpp"

#include <cstdlib>

namespace permisoctl {
namespace {

constexpr const char* kListHint = "see `permisoctl users list`";

class UserCommands final : public CommandGroup {
 public:
  explicit UserCommands(CLI::App& app) {
    auto* users = app.add_subcommand("users", "Users (admin:users)");
    users->require_subcommand(1);
    create_ = users->add_subcommand("create", "Create a user (password from stdin or PERMISO_PASSWORD)");
    list_ = users->add_subcommand("list", "List users");
    show_ = users->add_subcommand("show", "Show one user");
    disable_ = users->add_subcommand("disable", "Disable a user (ends their sessions)");
    roles_ = users->add_subcommand("roles", "Show a user's roles, or replace them with --role");
    create_->add_option("--username", name_, "user name")->required();
    create_->add_option("--email", email_, "e-mail address")->required();
    create_->add_flag("--password-stdin", password_stdin_, "read the password from stdin (else PERMISO_PASSWORD)");
    create_->add_option("-r,--role", role_names_, "role (repeatable; default: user)");
    list_->add_option("--search", search_, "substring of name or e-mail");
    list_->add_option("--active", active_, "true or false");
    list_->add_option("--page", page_, "page (from 1)");
    list_->add_option("--per-page", per_page_, "items per page");
    for (auto* c : {show_, disable_, roles_}) c->add_option("user_id", id_, "numeric user id")->required();
    roles_->add_option("-r,--role", role_names_, "replace the roles (repeatable)");
  }

  std::optional<int> run(Ctl& ctl) override {
    if (create_->parsed()) return create(ctl);
    if (list_->parsed()) return list(ctl);
    if (show_->parsed()) return show(ctl);
    if (disable_->parsed()) return disable(ctl);
    if (roles_->parsed()) return roles(ctl);
    return std::nullopt;
  }

 private:
  [[nodiscard]] std::string path() const { return "/api/v1/users/" + url_encode(id_); }

  int create(Ctl& ctl) const {
    std::optional<std::string> pw;
    if (password_stdin_) {
      pw = read_stdin_line();
    } else if (const char* env = std::getenv("PERMISO_PASSWORD"); env != nullptr) {
      pw = std::string(env);
    }
    if (!pw || pw->empty()) return fail(kUsage, "error: no password: use --password-stdin or PERMISO_PASSWORD");
    json::object body{{"username", name_}, {"email", email_}, {"password", *pw}};
    if (!role_names_.empty()) body["role_ids"] = json::value_from(role_names_);
    return ctl.show("POST", "/api/v1/users", json::serialize(body), object_fields);
  }

  int list(Ctl& ctl) const {
    std::string q = "?page=" + std::to_string(page_) + "&per_page=" + std::to_string(per_page_);
    if (!search_.empty()) q += "&search=" + url_encode(search_);
    if (active_) q += std::string("&is_active=") + (*active_ ? "true" : "false");
    return ctl.show("GET", "/api/v1/users" + q, "",
                    [&](const json::value& answer) { return table(list_of(answer, "users"), kUserColumns); });
  }

  int show(Ctl& ctl) const { return ctl.show("GET", path(), "", object_fields, kListHint); }

  int disable(Ctl& ctl) const {
    return ctl.show(
        "PUT", path(), "{\"is_active\":false}",
        [&](const json::value&) { return "Disabled user " + id_ + " (their sessions ended)\n"; }, kListHint);
  }

  /// Shows the user's roles, or replaces them when --role is given.
  int roles(Ctl& ctl) const {
    json::value out;
    const int rc = role_names_.empty() ? ctl.call("GET", path(), "", out, kListHint)
                                       : ctl.call("PUT", path() + "/roles",
                                                  "{\"role_ids\":" + join_list(role_names_) + "}", out, kListHint);
    if (rc != kOk) return rc;
    const json::value roles = out.is_object() && out.get_object().contains("roles") ? out.at("roles") : json::array{};
    ctl.print(roles, [&] {
      return table(list_of(roles, "roles"), {{"ID", "id"}, {"ROLE", "name"}, {"DESCRIPTION", "description"}});
    });
    return rc;
  }

  CLI::App* create_ = nullptr;
  CLI::App* list_ = nullptr;
  CLI::App* show_ = nullptr;
  CLI::App* disable_ = nullptr;
  CLI::App* roles_ = nullptr;
  std::string id_;
  std::string name_;
  std::string email_;
  std::string search_;
  std::vector<std::string> role_names_;
  bool password_stdin_ = false;
  std::optional<bool> active_;
  int page_ = 1;
  int per_page_ = 20;
};

}  // namespace

std::unique_ptr<CommandGroup> user_commands(CLI::App& app) {
  return std::make_unique<UserCommands>(app);
}

}  // namespace permisoctl
