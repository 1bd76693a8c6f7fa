// See json_writer.hpp.
#include "trading/handlers/json_writer.hpp"

#include "log/log.hpp"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>

namespace permiso::trading::handlers {

namespace {

/// Days since 1970-01-01 → civil date (H. Hinnant's algorithm, proleptic Gregorian).
void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
}

void put2(std::string& out, unsigned v) {
  out.push_back(static_cast<char>('0' + v / 10));
  out.push_back(static_cast<char>('0' + v % 10));
}

}  // namespace

void append_iso8601_ms(std::string& out, TimeMs t) {
  std::int64_t days = t / 86'400'000;
  std::int64_t rem = t % 86'400'000;
  if (rem < 0) {
    rem += 86'400'000;
    --days;
  }
  std::int64_t y = 0;
  unsigned m = 0;
  unsigned d = 0;
  civil_from_days(days, y, m, d);
  if (y < 0 || y > 9999) y = y < 0 ? 0 : 9999;  // ISO 8601 basic range; never reached for real times
  const auto yy = static_cast<unsigned>(y);
  out.push_back(static_cast<char>('0' + yy / 1000));
  out.push_back(static_cast<char>('0' + yy / 100 % 10));
  put2(out, yy % 100);
  out.push_back('-');
  put2(out, m);
  out.push_back('-');
  put2(out, d);
  out.push_back('T');
  const auto ms = static_cast<unsigned>(rem % 1000);
  const auto secs = static_cast<unsigned>(rem / 1000);
  put2(out, secs / 3600);
  out.push_back(':');
  put2(out, secs / 60 % 60);
  out.push_back(':');
  put2(out, secs % 60);
  out.push_back('.');
  out.push_back(static_cast<char>('0' + ms / 100));
  put2(out, ms % 100);
  out.push_back('Z');
}

std::string iso8601_ms(TimeMs t) {
  std::string out;
  out.reserve(24);
  append_iso8601_ms(out, t);
  return out;
}

void append_json_string(std::string& out, std::string_view s) {
  bool plain = true;
  for (const char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    if (u < 0x20 || u >= 0x7f || ch == '"' || ch == '\\') {
      plain = false;
      break;
    }
  }
  if (plain) {
    out.push_back('"');
    out.append(s);
    out.push_back('"');
  } else {
    out += log::json_quote(s);  // escapes and replaces invalid UTF-8: always valid JSON
  }
}

void JsonWriter::separate() {
  if (need_comma_) out_.push_back(',');
  need_comma_ = true;
}

JsonWriter& JsonWriter::begin_object() {
  separate();
  out_.push_back('{');
  need_comma_ = false;
  return *this;
}

JsonWriter& JsonWriter::end_object() {
  out_.push_back('}');
  need_comma_ = true;
  return *this;
}

JsonWriter& JsonWriter::begin_array() {
  separate();
  out_.push_back('[');
  need_comma_ = false;
  return *this;
}

JsonWriter& JsonWriter::end_array() {
  out_.push_back(']');
  need_comma_ = true;
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view k) {
  separate();
  // Member names are the renderers' own literals (checked in debug builds): no escaping pass.
  assert(std::all_of(k.begin(), k.end(), [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; }));
  out_.push_back('"');
  out_.append(k);
  out_ += "\":";
  need_comma_ = false;
  return *this;
}

JsonWriter& JsonWriter::string(std::string_view s) {
  separate();
  append_json_string(out_, s);
  return *this;
}

JsonWriter& JsonWriter::integer(std::int64_t v) {
  separate();
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out_.append(buf, r.ptr);
  return *this;
}

JsonWriter& JsonWriter::unsigned_integer(std::uint64_t v) {
  separate();
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out_.append(buf, r.ptr);
  return *this;
}

JsonWriter& JsonWriter::boolean(bool v) {
  separate();
  out_ += v ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::null() {
  separate();
  out_ += "null";
  return *this;
}

JsonWriter& JsonWriter::number(double v, int digits) {
  if (!std::isfinite(v)) return null();
  separate();
  if (digits < 0) digits = 0;
  if (digits > 10) digits = 10;
  if (std::fabs(v) >= 1e15) {  // fixed notation would print noise digits; never a real price
    char buf[40];
    const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 0);
    out_.append(buf, r.ptr);
    return *this;
  }
  char buf[48];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, digits);
  std::string_view text(buf, static_cast<std::size_t>(r.ptr - buf));
  if (text.find('.') != std::string_view::npos) {
    while (text.back() == '0') text.remove_suffix(1);
    if (text.back() == '.') text.remove_suffix(1);
  }
  if (text == "-0") text = "0";
  out_.append(text);
  return *this;
}

JsonWriter& JsonWriter::number(double v) {
  if (!std::isfinite(v)) return null();
  separate();
  char buf[48];
  const bool everyday = v == 0 || (std::fabs(v) >= 1e-6 && std::fabs(v) < 1e15);
  const auto r = everyday ? std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed)
                          : std::to_chars(buf, buf + sizeof buf, v);
  out_.append(buf, r.ptr);
  return *this;
}

JsonWriter& JsonWriter::time(TimeMs t) {
  separate();
  out_.push_back('"');
  append_iso8601_ms(out_, t);
  out_.push_back('"');
  return *this;
}

JsonWriter& JsonWriter::raw(std::string_view json) {
  separate();
  out_.append(json);
  return *this;
}

JsonWriter& JsonWriter::member(std::string_view k, const std::optional<double>& v, int digits) {
  key(k);
  return v ? number(*v, digits) : null();
}

}  // namespace permiso::trading::handlers
