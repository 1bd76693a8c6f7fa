// See command_line.hpp.
#include "app/command_line.hpp"

#include "app/secrets_command.hpp"

#include <CLI/CLI.hpp>

#include <iostream>
#include <optional>

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
  auto* migrate_cmd = app.add_subcommand("migrate", "Apply the pending schema migrations to the configured database");
  bool dry_run = false;
  migrate_cmd->add_flag("--dry-run", dry_run,
                        "Print the schema version and each pending migration's SQL; change nothing");
  auto* secrets_cmd = app.add_subcommand("secrets", "Tools for SECRETS_PROVIDER=encrypted");
  auto* keygen_cmd = secrets_cmd->add_subcommand("generate-key", "Print a new Fernet key for ENCRYPTION_KEY");
  auto* encrypt_cmd = secrets_cmd->add_subcommand(
      "encrypt", "Encrypt the value on stdin with ENCRYPTION_KEY, for a NAME_ENCRYPTED variable");
  std::optional<std::string> name;
  encrypt_cmd->add_option("--name", name, "Print NAME_ENCRYPTED=<token> rather than the token alone");
  secrets_cmd->require_subcommand(1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (check_cmd->parsed()) return commands.config_check();
  if (migrate_cmd->parsed()) return commands.migrate(dry_run);
  if (keygen_cmd->parsed()) return secrets_generate_key(std::cout);
  if (encrypt_cmd->parsed()) return secrets_encrypt(std::cin, std::cout, std::cerr, name);
  return commands.serve();
}

}  // namespace permiso::app
