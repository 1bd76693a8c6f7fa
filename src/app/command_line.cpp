// See command_line.hpp.
#include "app/command_line.hpp"

#include <CLI/CLI.hpp>

namespace permiso::app {

int run_command_line(int argc, const char* const* argv, const CommandLine& commands) {
  CLI::App app{commands.description};
  app.set_version_flag("--version", commands.version);
  app.require_subcommand(0, 1);
  app.add_subcommand("serve", commands.serve_help);
  auto* config_cmd = app.add_subcommand("config", "Configuration tools");
  auto* check_cmd =
      config_cmd->add_subcommand("check", "Validate and print the effective configuration, secrets redacted");
  config_cmd->require_subcommand(1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return check_cmd->parsed() ? commands.config_check() : commands.serve();
}

}  // namespace permiso::app
