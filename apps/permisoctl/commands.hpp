// permisoctl's command groups, one per part of the API. Each registers its subcommands and
// their options on the app when made (in the order `permisoctl --help` lists them) and runs
// the one that was parsed.
#pragma once

#include "ctl.hpp"

#include <CLI/CLI.hpp>

#include <memory>

namespace permisoctl {

/// login, logout, token: they need no saved session.
std::unique_ptr<CommandGroup> session_commands(CLI::App& app);
/// clients create|list|show|update|rotate-secret|delete (admin:clients).
std::unique_ptr<CommandGroup> client_commands(CLI::App& app);
/// users create|list|show|disable|roles (admin:users).
std::unique_ptr<CommandGroup> user_commands(CLI::App& app);
/// scopes, roles: the permission model.
std::unique_ptr<CommandGroup> catalog_commands(CLI::App& app);
/// revoke, introspect, decode: one token each.
std::unique_ptr<CommandGroup> token_commands(CLI::App& app);
/// keys list|rotate (admin:system), audit (admin:audit).
std::unique_ptr<CommandGroup> admin_commands(CLI::App& app);

}  // namespace permisoctl
