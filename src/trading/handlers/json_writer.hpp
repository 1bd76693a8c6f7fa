// An append-only JSON text writer for mt5-api's answers. Boost.JSON (used for parsing
// requests) prints doubles in exponent form (1.08512 → "1.08512E0"); prices and money are
// written here in plain decimal with the instrument's digits, and the hot GET /trades path
// builds its array straight into one string without a DOM.
#pragma once

#include "trading/model.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace permiso::trading::handlers {

/// "2026-12-01T15:22:58.123Z" (ISO 8601 UTC with milliseconds). Lock-free (no gmtime_r,
/// whose glibc implementation takes the time-zone lock).
std::string iso8601_ms(TimeMs t);
void append_iso8601_ms(std::string& out, TimeMs t);

/// Builds one JSON value. Commas are inserted automatically; the caller pairs begin/end.
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  /// A member name (inside an object); the next value call writes its value. Names are
  /// literals of the renderers (plain ASCII, nothing to escape).
  JsonWriter& key(std::string_view k);

  JsonWriter& string(std::string_view s);
  JsonWriter& integer(std::int64_t v);
  JsonWriter& unsigned_integer(std::uint64_t v);
  JsonWriter& boolean(bool v);
  JsonWriter& null();
  /// A decimal with at most `digits` fraction digits, trailing zeros trimmed ("1.0851",
  /// "10000"); a non-finite value is written as null (JSON has no NaN).
  JsonWriter& number(double v, int digits);
  /// The shortest text that reads back as the same double, never in exponent form for
  /// everyday magnitudes.
  JsonWriter& number(double v);
  JsonWriter& time(TimeMs t);
  /// Pre-rendered JSON (e.g. a nested object).
  JsonWriter& raw(std::string_view json);

  // key + value in one call
  JsonWriter& member(std::string_view k, std::string_view v) { return key(k).string(v); }
  JsonWriter& member(std::string_view k, const char* v) { return key(k).string(v); }
  JsonWriter& member(std::string_view k, std::int64_t v) { return key(k).integer(v); }
  JsonWriter& member(std::string_view k, int v) { return key(k).integer(v); }
  JsonWriter& member(std::string_view k, std::uint64_t v) { return key(k).unsigned_integer(v); }
  JsonWriter& member(std::string_view k, bool v) { return key(k).boolean(v); }
  JsonWriter& member(std::string_view k, double v, int digits) { return key(k).number(v, digits); }
  JsonWriter& member_time(std::string_view k, TimeMs t) { return key(k).time(t); }
  /// A number, or null when absent.
  JsonWriter& member(std::string_view k, const std::optional<double>& v, int digits);

 private:
  void separate();
  std::string& out_;
  bool need_comma_ = false;
};

/// `s` as a JSON string literal (quotes included), appended: control characters as \uXXXX.
/// Bytes ≥ 0x80 are copied as they are (values here come from our own model or were
/// validated as printable ASCII on input).
void append_json_string(std::string& out, std::string_view s);

}  // namespace permiso::trading::handlers
