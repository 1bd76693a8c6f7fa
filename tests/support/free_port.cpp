// See free_port.hpp.
#include "free_port.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <set>
#include <stdexcept>

namespace permiso::test {
namespace {

int any_free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("could not find a free port");
  }
  const int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

}  // namespace

int free_port() {
  // The kernel may hand a just-closed port out again: two servers of one test must not be
  // given the same one.
  static std::mutex mutex;
  static std::set<int> handed_out;
  for (;;) {
    const int port = any_free_port();
    const std::scoped_lock lock(mutex);
    if (handed_out.insert(port).second) return port;
  }
}

}  // namespace permiso::test
