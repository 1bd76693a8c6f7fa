// See audit_export.hpp.
#include "auth/audit_export.hpp"

#include "auth/render.hpp"

#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace permiso::auth {
namespace {

int open_append(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
}

/// Writes all of `text`, retrying short writes and interruptions.
bool write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const auto n = ::write(fd, text.data(), text.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<AuditExport>, boost::system::error_code> AuditExport::open(std::string_view target) {
  if (target == "stdout") return std::unique_ptr<AuditExport>(new AuditExport(STDOUT_FILENO, ""));
  std::string path(target);
  const int fd = open_append(path);
  if (fd < 0) return boost::system::error_code(errno, boost::system::generic_category());
  return std::unique_ptr<AuditExport>(new AuditExport(fd, std::move(path)));
}

AuditExport::~AuditExport() {
  if (!path_.empty() && fd_ >= 0) ::close(fd_);
}

std::string AuditExport::json_line(const storage::AuditEvent& e) {
  // The admin API's rendering, so a SIEM and GET /admin/audit see the same fields; the id is
  // storage's and not known here.
  auto line = render_audit_event(e);
  line.erase("id");
  line["type"] = "audit";
  line["ts"] = e.ts;
  std::string out = boost::json::serialize(line);
  out += '\n';
  return out;
}

void AuditExport::reopen_if_rotated() {
  struct stat at_path {};
  struct stat open_file {};
  if (::stat(path_.c_str(), &at_path) == 0 && ::fstat(fd_, &open_file) == 0 && at_path.st_ino == open_file.st_ino &&
      at_path.st_dev == open_file.st_dev) {
    return;
  }
  const int fd = open_append(path_);
  if (fd < 0) {
    spdlog::warn("audit export: cannot reopen {}: {}", path_, std::strerror(errno));
    return;  // keep writing to the old file rather than nowhere
  }
  ::close(fd_);
  fd_ = fd;
}

void AuditExport::write(const std::vector<storage::AuditEvent>& events) {
  std::string lines;
  for (const auto& e : events) lines += json_line(e);
  std::lock_guard lock(mutex_);
  if (!path_.empty()) reopen_if_rotated();
  // A file takes the batch in one write; standard output, which the log shares, takes a line
  // per write so a log line never lands inside an event.
  if (!path_.empty()) {
    if (!write_all(fd_, lines)) spdlog::warn("audit export: writing {} failed: {}", path_, std::strerror(errno));
    return;
  }
  std::string_view rest(lines);
  while (!rest.empty()) {
    const auto end = rest.find('\n') + 1;
    if (!write_all(fd_, rest.substr(0, end))) {
      spdlog::warn("audit export: writing to standard output failed: {}", std::strerror(errno));
      return;
    }
    rest.remove_prefix(end);
  }
}

}  // namespace permiso::auth
