// See log.hpp. Both formats use our own spdlog formatter so that control characters in a
// message can never start a forged line, and JSON lines are always one valid object.
#include "log/log.hpp"

#include <spdlog/formatter.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <optional>

namespace permiso::log {
namespace {

// Identifies access-log records to the formatter by address: no caller-supplied text can
// produce this pointer, so a message cannot pose as pre-rendered JSON.
constexpr char kAccessMarker[] = "permiso-access-log";

std::string_view level_name(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace:
      return "TRACE";
    case spdlog::level::debug:
      return "DEBUG";
    case spdlog::level::info:
      return "INFO";
    case spdlog::level::warn:
      return "WARNING";
    case spdlog::level::err:
      return "ERROR";
    case spdlog::level::critical:
      return "CRITICAL";
    default:
      return "OFF";
  }
}

std::optional<spdlog::level::level_enum> parse_level(std::string_view text) {
  std::string up(text);
  std::transform(up.begin(), up.end(), up.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (up == "DEBUG") return spdlog::level::debug;
  if (up == "INFO") return spdlog::level::info;
  if (up == "WARNING") return spdlog::level::warn;
  if (up == "ERROR") return spdlog::level::err;
  if (up == "CRITICAL") return spdlog::level::critical;
  return std::nullopt;
}

void append(spdlog::memory_buf_t& dest, std::string_view s) {
  dest.append(s.data(), s.data() + s.size());
}

// 2026-11-24T08:49:30.123Z
void append_timestamp(spdlog::memory_buf_t& dest, spdlog::log_clock::time_point tp) {
  const auto since = tp.time_since_epoch();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(since - secs).count();
  const std::time_t t = secs.count();
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  append(dest, std::string_view(buf, n));
  const char frac[] = {'.', static_cast<char>('0' + ms / 100), static_cast<char>('0' + ms / 10 % 10),
                       static_cast<char>('0' + ms % 10), 'Z'};
  append(dest, std::string_view(frac, sizeof frac));
}

bool is_access(const spdlog::details::log_msg& m) {
  return m.source.filename == kAccessMarker;
}

/// For an access record (see write_access): its JSON object or its text line; empty otherwise.
std::string_view access_half(const spdlog::details::log_msg& m, bool json) {
  if (!is_access(m)) return {};
  const std::string_view payload(m.payload.data(), m.payload.size());
  const auto nul = payload.rfind('\0');
  if (nul == std::string_view::npos) return {};
  return json ? payload.substr(nul + 1) : payload.substr(0, nul);
}

class JsonFormatter final : public spdlog::formatter {
 public:
  explicit JsonFormatter(std::string service) : service_(json_quote(service)) {}
  void format(const spdlog::details::log_msg& m, spdlog::memory_buf_t& dest) override {
    append(dest, R"({"ts":")");
    append_timestamp(dest, m.time);
    append(dest, R"(","level":")");
    append(dest, level_name(m.level));
    append(dest, R"(","service":)");
    append(dest, service_);
    append(dest, R"(,"logger":)");
    append(dest, json_quote(std::string_view(m.logger_name.data(), m.logger_name.size())));
    const std::string_view payload(m.payload.data(), m.payload.size());
    if (const auto json = access_half(m, true); !json.empty()) {
      append(dest, ",");
      append(dest, json.substr(1));  // the access object's members, and its closing brace
    } else {
      append(dest, R"(,"msg":)");
      append(dest, json_quote(payload));
      append(dest, "}");
    }
    append(dest, "\n");
  }
  [[nodiscard]] std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>(*this);
  }

 private:
  std::string service_;  // already quoted
};

/// Control characters (newlines included) appear as \n, \t or \xNN: one record, one line.
void append_escaped_text(spdlog::memory_buf_t& dest, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n')
      append(dest, "\\n");
    else if (c == '\r')
      append(dest, "\\r");
    else if (c == '\t')
      append(dest, "\\t");
    else if (u < 0x20 || u == 0x7f) {
      const char esc[] = {'\\', 'x', kHex[u >> 4], kHex[u & 0xf]};
      append(dest, std::string_view(esc, sizeof esc));
    } else {
      dest.push_back(c);
    }
  }
}

class TextFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& m, spdlog::memory_buf_t& dest) override {
    append_timestamp(dest, m.time);
    dest.push_back(' ');
    const auto level = level_name(m.level);
    append(dest, level);
    for (auto i = level.size(); i < 8; ++i) dest.push_back(' ');
    const std::string_view payload(m.payload.data(), m.payload.size());
    const auto text = access_half(m, false);
    append_escaped_text(dest, is_access(m) ? text : payload);
    dest.push_back('\n');
  }
  [[nodiscard]] std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<TextFormatter>(*this);
  }
};

/// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one (overlong forms,
/// surrogates and code points above U+10FFFF are invalid).
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t len = 0;
  std::uint32_t cp = 0;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    len = 2;
    cp = b0 & 0x1fU;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    len = 3;
    cp = b0 & 0x0fU;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    len = 4;
    cp = b0 & 0x07U;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xc0U) != 0x80U) return 0;
    cp = (cp << 6U) | (b & 0x3fU);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    return 0;
  }
  return len;
}

void append_duration_ms(std::string& out, std::chrono::microseconds d) {
  const auto us = std::max<std::int64_t>(0, d.count());
  out += std::to_string(us / 1000);
  out += '.';
  const auto frac = us % 1000;
  out += static_cast<char>('0' + frac / 100);
  out += static_cast<char>('0' + frac / 10 % 10);
  out += static_cast<char>('0' + frac % 10);
}

std::string_view without_query(std::string_view path) {
  return path.substr(0, path.find_first_of("?#"));
}

}  // namespace

std::string_view to_string(LogError e) {
  switch (e) {
    case LogError::BadLevel:
      return "log level must be DEBUG, INFO, WARNING, ERROR or CRITICAL";
    case LogError::BadFormat:
      return "log format must be text or json";
  }
  return "unknown log error";
}

std::string json_quote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (std::size_t i = 0; i < s.size();) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (u < 0x80) {
      switch (u) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        default:
          if (u < 0x20 || u == 0x7f) {
            out += "\\u00";
            out.push_back(kHex[u >> 4]);
            out.push_back(kHex[u & 0xf]);
          } else {
            out.push_back(static_cast<char>(u));
          }
      }
      ++i;
      continue;
    }
    const auto len = utf8_sequence(s, i);
    if (len == 0) {
      out += "\\ufffd";
      ++i;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
  out.push_back('"');
  return out;
}

std::string format_access_json(const AccessLogEntry& e) {
  std::string out = R"({"type":"access","method":)";
  out += json_quote(e.method);
  out += R"(,"path":)";
  out += json_quote(without_query(e.path));
  if (!e.route.empty()) {
    out += R"(,"route":)";
    out += json_quote(e.route);
  }
  out += R"(,"status":)";
  out += std::to_string(e.status);
  out += R"(,"duration_ms":)";
  append_duration_ms(out, e.duration);
  out += R"(,"bytes":)";
  out += std::to_string(e.bytes);
  out += R"(,"request_id":)";
  out += json_quote(e.request_id);
  const auto member = [&out](std::string_view name, std::string_view value) {
    if (value.empty()) return;
    out += ",\"";
    out += name;
    out += "\":";
    out += json_quote(value);
  };
  member("trace_id", e.trace_id);
  member("span_id", e.span_id);
  member("parent_span_id", e.parent_span_id);
  out += R"(,"remote_ip":)";
  out += json_quote(e.remote_ip);
  out += R"(,"user_agent":)";
  out += json_quote(e.user_agent);
  out += "}";
  return out;
}

std::string format_access_text(const AccessLogEntry& e) {
  std::string out;
  out += e.method;
  out += ' ';
  out += without_query(e.path);
  out += ' ';
  out += std::to_string(e.status);
  out += ' ';
  append_duration_ms(out, e.duration);
  out += "ms ";
  out += std::to_string(e.bytes);
  out += "B ip=";
  out += e.remote_ip;
  out += " rid=";
  out += e.request_id;
  if (!e.trace_id.empty()) {
    out += " trace=";
    out += e.trace_id;
  }
  out += " ua=";
  out += json_quote(e.user_agent);  // quoted: a user agent may contain spaces
  return out;                       // the text formatter escapes any remaining control characters
}

std::string format_access_log(const AccessLogEntry& e, bool json) {
  return json ? format_access_json(e) : format_access_text(e);
}

void write_access(spdlog::logger& logger, const AccessLogEntry& e) {
  if (!logger.should_log(spdlog::level::info)) return;
  // Both renderings travel in one record, split at the last NUL (the JSON half never holds
  // a raw NUL); each sink's formatter takes its half.
  std::string record = format_access_text(e);
  record.push_back('\0');
  record += format_access_json(e);
  logger.log(spdlog::source_loc{kAccessMarker, 0, nullptr}, spdlog::level::info, record);
}

Result<std::shared_ptr<spdlog::logger>, LogError> make_logger(const LogConfig& config, std::string name,
                                                              std::vector<std::shared_ptr<spdlog::sinks::sink>> sinks) {
  const auto level = parse_level(config.level);
  if (!level) return LogError::BadLevel;
  if (config.format != "text" && config.format != "json") return LogError::BadFormat;
  if (sinks.empty()) sinks.push_back(std::make_shared<spdlog::sinks::stdout_sink_mt>());
  auto logger = std::make_shared<spdlog::logger>(std::move(name), sinks.begin(), sinks.end());
  if (config.format == "json") {
    logger->set_formatter(std::make_unique<JsonFormatter>(config.service));
  } else {
    logger->set_formatter(std::make_unique<TextFormatter>());
  }
  logger->set_level(*level);
  logger->flush_on(spdlog::level::info);
  return logger;
}

Result<void, LogError> init(const LogConfig& config) {
  auto logger = make_logger(config, "permiso");
  if (!logger) return logger.error();
  spdlog::set_default_logger(*logger);
  return {};
}

}  // namespace permiso::log
