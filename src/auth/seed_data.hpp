// The scopes and roles seeded at first start (contract: "Default scopes seeded at first start").
#pragma once

#include <array>
#include <string_view>

namespace permiso::auth {

struct SeedScope {
  std::string_view name;
  std::string_view description;
};

inline constexpr std::array<SeedScope, 11> kDefaultScopes{{
    {"trade:read", "Read trades, positions, orders and deal history"},
    {"trade:open", "Open trades"},
    {"trade:close", "Close trades"},
    {"trade:modify", "Modify stop loss and take profit of trades"},
    {"account:read", "Read trading account information"},
    {"account:balance", "Read trading account balance"},
    {"market:data", "Read quotes, symbols and bars"},
    {"admin:users", "Manage users and their roles"},
    {"admin:clients", "Manage service clients"},
    {"admin:system", "Manage roles, scopes, signing keys and system settings"},
    {"admin:audit", "Read the audit trail"},
}};

struct SeedRole {
  std::string_view name;
  std::string_view description;
  std::array<std::string_view, 11> scopes;  // unused slots are empty
};

inline constexpr std::array<SeedRole, 4> kDefaultRoles{{
    {"admin",
     "Administrators: every scope",
     {"trade:read", "trade:open", "trade:close", "trade:modify", "account:read", "account:balance", "market:data",
      "admin:users", "admin:clients", "admin:system", "admin:audit"}},
    {"trader",
     "Traders: trade and read their accounts and the market",
     {"trade:read", "trade:open", "trade:close", "trade:modify", "account:read", "account:balance", "market:data"}},
    {"user",
     "Registered users: read-only access to their accounts and the market",
     {"trade:read", "account:read", "market:data"}},
    {"service", "Services: read trades, accounts and market data", {"trade:read", "account:read", "market:data"}},
}};

/// The role given to self-registered users.
inline constexpr std::string_view kDefaultUserRole = "user";
inline constexpr std::string_view kAdminRole = "admin";

}  // namespace permiso::auth
