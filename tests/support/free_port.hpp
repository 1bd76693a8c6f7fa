// A TCP port on 127.0.0.1 that was free a moment ago, for a server a test starts: chosen below
// the kernel's ephemeral range, where no outgoing connection takes its local port.
#pragma once

namespace permiso::test {

/// Throws std::runtime_error when no socket can be bound.
int free_port();

}  // namespace permiso::test
