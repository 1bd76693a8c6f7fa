// Start-up shared by the service binaries: load and validate a service's configuration,
// report every problem as `config error: <field>: <rule>`, start logging, and the
// `config check` command. A service's configuration type provides the same four things:
// a loader, validate(), render_redacted() and log_config().
#pragma once

#include "config/config.hpp"

#include <optional>
#include <string>
#include <vector>

namespace permiso::app {

/// Exit codes of a service binary (documented in the README).
constexpr int kExitStartup = 1;  // a dependency could not be opened (storage, keys, port)
constexpr int kExitConfig = 2;   // the configuration is invalid

/// One `config error: <field>: <rule>` line per problem on stderr.
void print_problems(const std::vector<config::ConfigProblem>& problems);

/// Creates the data directory, readable by the owner only (keys and SQLite files live there).
void ensure_private_dir(const std::string& path);

/// Loads `Config` with `load` from the process environment, sets its version, and validates
/// it; prints every problem and returns nullopt when there is one.
template <class Config, class Load>
std::optional<Config> load_valid_config(Load load, const std::string& version) {
  auto loaded = load(config::process_env());
  if (!loaded) {
    print_problems(loaded.error());
    return std::nullopt;
  }
  Config cfg = std::move(*loaded);
  cfg.version = version;
  if (const auto problems = validate(cfg); !problems.empty()) {
    print_problems(problems);
    return std::nullopt;
  }
  return cfg;
}

/// Starts logging as the configuration says; false (after saying why) when it cannot.
bool start_logging(const log::LogConfig& config);

/// The output of `config check`: the rendered configuration on stdout, problems on stderr.
void print_checked(const std::string& rendered, const std::vector<config::ConfigProblem>& problems);

/// `<binary> config check`: prints the effective configuration with secrets redacted and
/// every problem; 0 when valid, kExitConfig otherwise.
template <class Config, class Load>
int config_check(Load load, const std::string& version) {
  auto loaded = load(config::process_env());
  if (!loaded) {
    print_problems(loaded.error());
    return kExitConfig;
  }
  loaded->version = version;
  const auto problems = validate(*loaded);
  print_checked(render_redacted(*loaded), problems);
  return problems.empty() ? 0 : kExitConfig;
}

}  // namespace permiso::app
