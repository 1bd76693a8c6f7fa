// The audit trail as JSON lines, for a SIEM: every event the audit writer has stored is also
// written, one JSON object per line, to standard output or to an append-only file. A file
// moved away by log rotation is noticed and a fresh one opened at the same path.
#pragma once

#include "common/result.hpp"
#include "storage/storage.hpp"

#include <boost/system/error_code.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::auth {

class AuditExport {
 public:
  /// `target`: "stdout", or the path of a file (created 0600, appended to); the error is why
  /// the file cannot be opened.
  static Result<std::unique_ptr<AuditExport>, boost::system::error_code> open(std::string_view target);
  ~AuditExport();
  AuditExport(const AuditExport&) = delete;
  AuditExport& operator=(const AuditExport&) = delete;
  AuditExport(AuditExport&&) = delete;
  AuditExport& operator=(AuditExport&&) = delete;

  /// Writes each event as one line; a failed write is logged (without the event) and skipped.
  void write(const std::vector<storage::AuditEvent>& events);

  /// One event as a single-line JSON object: the admin API's fields (`timestamp` in ISO 8601,
  /// `details` as an object) without the storage id, plus "type":"audit" and the Unix `ts`.
  static std::string json_line(const storage::AuditEvent& event);

 private:
  AuditExport(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  void reopen_if_rotated();

  std::mutex mutex_;
  int fd_;
  std::string path_;  // empty for stdout
};

}  // namespace permiso::auth
