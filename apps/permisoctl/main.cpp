// permisoctl: the operator's command line for permiso-auth, on libpermiso-client. Each
// command is one API call (or two), rendered as a table or as the server's JSON; failures
// say what to do and exit with the documented codes (support.hpp, `permisoctl --help`).
// main() builds the command line from the command groups (commands.hpp) and runs the one
// parsed.
#include "commands.hpp"
#include "ctl.hpp"

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

namespace {

using namespace permisoctl;

void add_global_options(CLI::App& app, Global& g) {
  app.add_option(
      "--url", g.url,
      "permiso-auth base URL (env PERMISO_URL; else the saved login's; else " + std::string(kDefaultUrl) + ")");
  app.add_option("-o,--output", g.output, "table (default) or json")->check(CLI::IsMember({"table", "json"}));
  app.add_option("--timeout", g.timeout_s, "seconds per HTTP call (default 10)")->check(CLI::Range(1, 300));
}

/// Every command's --help ends with the exit codes.
void add_footers(CLI::App& app) {
  for (auto* sub : app.get_subcommands({})) {
    sub->footer(kExitCodes);
    for (auto* s2 : sub->get_subcommands({})) s2->footer(kExitCodes);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"permisoctl: manage a Permiso authorization server (clients, users, roles, keys, audit)"};
  app.footer(kExitCodes);
  app.require_subcommand(1);
  Global g;
  add_global_options(app, g);
  std::vector<std::unique_ptr<CommandGroup>> groups;
  for (auto* make :
       {session_commands, client_commands, user_commands, catalog_commands, token_commands, admin_commands}) {
    groups.push_back(make(app));
  }
  add_footers(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    (void)app.exit(e);
    return kUsage;
  }
  Ctl ctl(g);
  for (auto& group : groups) {
    if (auto rc = group->run(ctl)) return *rc;
  }
  return kOk;
}
