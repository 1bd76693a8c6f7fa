// See services.hpp.
#include "auth/services.hpp"

namespace permiso::auth {

AuthServices::AuthServices(const AuthDeps& d)
    : deps(d),
      tokens(d.settings, d.keys, d.revocations, d.clients, d.clock),
      clients(d.clients, d.client_secrets, d.storage, d.audit, d.clock),
      sessions(d.settings, d.storage, d.revocations, d.clock, d.notify),
      grants(d.settings, d.storage, d.passwords, d.limiter, d.audit, tokens, sessions, d.clock),
      revocation(d.storage, tokens, sessions, d.audit, d.clock) {}

}  // namespace permiso::auth
