// See free_port.hpp.
#include "free_port.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>

namespace permiso::test {
namespace {

/// The first port of the kernel's ephemeral range, from which it picks outgoing connections'
/// local ports (32768 when it cannot be read).
int ephemeral_low() {
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 0;
  if (!(range >> low) || low <= 1024) return 32768;
  return low;
}

bool bindable(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

int free_port() {
  // Below the ephemeral range, as scripts/lib/free-port: a port from bind(0) lies inside it,
  // and a client socket of a test running beside this one could take it as its local port
  // between this choice and the server's bind (CI: "Address already in use"). Two servers of
  // one test are never given the same port.
  static std::mutex mutex;
  static std::set<int> handed_out;
  static std::mt19937 pick{std::random_device{}()};
  const int low = ephemeral_low();
  std::uniform_int_distribution<int> in_range(std::max(1025, low - 12000), low - 1);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const std::scoped_lock lock(mutex);
    const int port = in_range(pick);
    if (!handed_out.contains(port) && bindable(port)) {
      handed_out.insert(port);
      return port;
    }
  }
  throw std::runtime_error("could not find a free port below the ephemeral range");
}

}  // namespace permiso::test
