// Process logging: spdlog configured for text or JSON lines (one object per line, every value
// escaped so a hostile header cannot forge or break a line), and the HTTP access-log entry.
#pragma once

#include "common/result.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace spdlog {
class logger;
namespace sinks {
class sink;
}  // namespace sinks
}  // namespace spdlog

namespace permiso::log {

enum class Format { Text, Json };

struct LogConfig {
  std::string level = "INFO";   // DEBUG, INFO, WARNING, ERROR or CRITICAL (any case)
  std::string format = "text";  // text or json
  std::string service = "permiso-auth";
};

enum class LogError { BadLevel, BadFormat };
std::string_view to_string(LogError e);
PERMISO_RESULT_ERROR(LogError)

/// A logger writing to `sinks` (stdout when empty) in the configured level and format. In JSON
/// format every message, whatever the caller passed, becomes the escaped "msg" value of
/// {"ts","level","service","logger","msg"}.
Result<std::shared_ptr<spdlog::logger>, LogError> make_logger(
    const LogConfig& config, std::string name, std::vector<std::shared_ptr<spdlog::sinks::sink>> sinks = {});

/// Start-up: installs make_logger(config, "permiso") as spdlog's default logger, so plain
/// spdlog::info(...) calls follow the configured format.
Result<void, LogError> init(const LogConfig& config);

/// One served request. `path` is cut at '?' when formatted: query strings may carry secrets.
struct AccessLogEntry {
  std::string_view method;
  std::string_view path;
  std::string_view route;  // router pattern; optional
  int status = 0;
  std::chrono::microseconds duration{0};
  std::size_t bytes = 0;
  std::string_view request_id;
  std::string_view remote_ip;
  std::string_view user_agent;
  std::string_view trace_id;        // W3C trace id (32 hex); optional
  std::string_view span_id;         // this request's span (16 hex); optional
  std::string_view parent_span_id;  // the caller's span (16 hex); empty when the trace started here
};

/// {"type":"access","method":…,"path":…,"route":…,"status":…,"duration_ms":…,"bytes":…,
///  "request_id":…,"trace_id":…,"span_id":…,"parent_span_id":…,"remote_ip":…,"user_agent":…}
/// (members only, without the outer braces' surrounding log envelope; the trace members only
/// when set).
std::string format_access_json(const AccessLogEntry& e);
/// `GET /path 200 1.25ms 123B ip=… rid=… trace=… ua="…"` with control characters escaped.
std::string format_access_text(const AccessLogEntry& e);
/// The brief's name for the pair above: the JSON object or the text line.
std::string format_access_log(const AccessLogEntry& e, bool json);
using AccessFields = AccessLogEntry;
/// Writes the entry at info level through `logger`: in JSON format the access fields are
/// members of the line's object (not a string inside "msg").
void write_access(spdlog::logger& logger, const AccessLogEntry& e);

/// `s` as a JSON string literal (with quotes): control characters as \uXXXX, invalid UTF-8
/// replaced by U+FFFD, so the result is always valid JSON.
std::string json_quote(std::string_view s);

}  // namespace permiso::log
