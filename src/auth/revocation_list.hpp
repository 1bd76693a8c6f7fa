// permiso-auth's revocation set is the resource library's (one implementation for the
// authorization server and every resource server).
#pragma once

#include "resource/revocation_list.hpp"

namespace permiso::auth {
using RevocationList = resource::RevocationList;
}  // namespace permiso::auth
