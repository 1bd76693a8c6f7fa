// See services.hpp.
#include "auth/services.hpp"

namespace permiso::auth {

AuthServices::AuthServices(const AuthDeps& d)
    : deps(d),
      tokens(d.settings, d.keys, d.revocations, d.clients, d.clock),
      clients(d.clients, d.client_secrets, d.storage, d.audit, d.clock),
      sessions(d.settings, d.storage, d.revocations, d.audit, d.clock, d.notify),
      grants(d.settings, d.storage, d.passwords, d.limiter, d.audit, tokens, sessions, counters, d.clock),
      authorization(d.settings, d.storage, d.clock),
      revocation(d.storage, tokens, sessions, d.audit, d.clock),
      roles(d.storage, d.clients, d.audit, d.notify),
      users(d.storage, d.passwords, sessions, d.audit, d.clock),
      client_admin(d.storage, d.clients, d.client_secrets, d.audit, d.clock, d.notify),
      admin(d.settings, d.storage, d.keys, tokens, d.revocations, d.audit, d.clock) {}

}  // namespace permiso::auth
