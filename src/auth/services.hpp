// The authorization server's domain, assembled: every service built from the components in
// AuthDeps, each given only what it needs. The one place that knows how the services
// depend on each other; handlers and the maintenance loop take what they use from here.
#pragma once

#include "auth/admin.hpp"
#include "auth/authorization.hpp"
#include "auth/client_authenticator.hpp"
#include "auth/clients.hpp"
#include "auth/context.hpp"
#include "auth/counters.hpp"
#include "auth/grants.hpp"
#include "auth/roles.hpp"
#include "auth/sessions.hpp"
#include "auth/token_revocation.hpp"
#include "auth/token_service.hpp"
#include "auth/users.hpp"

namespace permiso::auth {

struct AuthServices {
  /// `deps` must outlive the services.
  explicit AuthServices(const AuthDeps& deps);
  AuthServices(const AuthServices&) = delete;
  AuthServices& operator=(const AuthServices&) = delete;

  const AuthDeps& deps;
  AuthCounters counters;  // read by the composition root at each /metrics scrape
  TokenService tokens;
  ClientAuthenticator clients;
  SessionService sessions;
  Grants grants;
  AuthorizationService authorization;
  TokenRevocation revocation;
  RoleService roles;
  UserService users;
  ClientService client_admin;
  AdminService admin;
};

}  // namespace permiso::auth
