// The command line both services share: `serve` (the default), `config check` (validate and
// print the effective configuration, secrets redacted), `migrate [--dry-run]` (show or apply
// the pending schema migrations), `secrets generate-key|encrypt` (for the encrypted secrets
// provider) and `--version`.
#pragma once

#include <functional>
#include <string>

namespace permiso::app {

struct CommandLine {
  std::string description;  // the first line of --help
  std::string serve_help;   // "Run the server (the default)"
  std::string version;
  std::function<int()> serve;
  std::function<int()> config_check;
  std::function<int(bool dry_run)> migrate;
};

/// Parses the arguments and runs the chosen command; the process's exit code (CLI11's for
/// --help, --version and usage errors).
int run_command_line(int argc, const char* const* argv, const CommandLine& commands);

}  // namespace permiso::app
