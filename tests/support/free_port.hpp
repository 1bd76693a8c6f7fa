// A TCP port on 127.0.0.1 that was free a moment ago, for a server a test starts (the kernel
// picks it: bind to port 0, read it back, release it).
#pragma once

namespace permiso::test {

/// Throws std::runtime_error when no socket can be bound.
int free_port();

}  // namespace permiso::test
