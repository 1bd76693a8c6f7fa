#include "trading/fix/message.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

namespace permiso::trading::fix {

namespace {

template <class T>
std::optional<T> parse_number(std::string_view text) {
  T value{};
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

std::optional<double> parse_decimal(std::string_view text) {
  // FIX decimals are plain: digits, one optional point, an optional leading minus.
  if (text.empty() || text.find_first_not_of("-.0123456789") != std::string_view::npos) return std::nullopt;
  auto value = parse_number<double>(text);
  if (!value || !std::isfinite(*value)) return std::nullopt;
  return value;
}

std::optional<Field> parse_field(std::string_view item) {
  const auto eq = item.find('=');
  if (eq == std::string_view::npos || eq + 1 == item.size()) return std::nullopt;
  auto tag = parse_number<int>(item.substr(0, eq));
  if (!tag || *tag <= 0) return std::nullopt;
  return Field{*tag, std::string(item.substr(eq + 1))};
}

bool in(std::initializer_list<int> tags, int tag) {
  return std::find(tags.begin(), tags.end(), tag) != tags.end();
}

}  // namespace

std::optional<Message> Message::parse(std::string_view text) {
  Message message;
  while (!text.empty()) {
    const auto soh = text.find(kSoh);
    if (soh == std::string_view::npos) return std::nullopt;
    auto field = parse_field(text.substr(0, soh));
    if (!field) return std::nullopt;
    message.fields_.push_back(std::move(*field));
    text.remove_prefix(soh + 1);
  }
  return message;
}

Message& Message::add(int tag, std::string_view value) {
  fields_.push_back({tag, std::string(value)});
  return *this;
}

Message& Message::add(int tag, std::int64_t value) {
  return add(tag, std::string_view(std::to_string(value)));
}

Message& Message::add(int tag, std::uint64_t value) {
  return add(tag, std::string_view(std::to_string(value)));
}

Message& Message::add_decimal(int tag, double value, int digits) {
  std::array<char, 64> buffer{};
  const auto [end, ec] =
      std::to_chars(buffer.data(), buffer.data() + buffer.size(), value, std::chars_format::fixed, digits);
  std::string text(buffer.data(), ec == std::errc() ? end : buffer.data());
  if (text.find('.') != std::string::npos) {
    while (text.back() == '0') text.pop_back();
    if (text.back() == '.') text.pop_back();
  }
  if (text.empty() || text == "-0") text = "0";
  return add(tag, std::string_view(text));
}

Message& Message::set(int tag, std::string_view value) {
  for (auto& field : fields_) {
    if (field.tag == tag) {
      field.value = std::string(value);
      return *this;
    }
  }
  return add(tag, value);
}

Message& Message::add_group(int count_tag, const std::vector<Message>& entries) {
  add(count_tag, static_cast<std::uint64_t>(entries.size()));
  for (const auto& entry : entries) fields_.insert(fields_.end(), entry.fields_.begin(), entry.fields_.end());
  return *this;
}

std::string_view Message::type() const {
  return get(35).value_or(std::string_view());
}

std::optional<std::string_view> Message::get(int tag) const {
  for (const auto& field : fields_) {
    if (field.tag == tag) return std::string_view(field.value);
  }
  return std::nullopt;
}

std::optional<std::vector<Message>> Message::group(int count_tag, std::initializer_list<int> members) const {
  const auto counter = std::find_if(fields_.begin(), fields_.end(), [&](const Field& f) { return f.tag == count_tag; });
  if (counter == fields_.end()) return std::vector<Message>{};
  auto count = parse_number<std::size_t>(counter->value);
  if (!count || members.size() == 0) return std::nullopt;
  const int delimiter = *members.begin();
  std::vector<Message> entries;
  for (auto it = counter + 1; it != fields_.end() && in(members, it->tag); ++it) {
    if (it->tag == delimiter) entries.emplace_back();
    if (entries.empty()) return std::nullopt;  // an entry must start with the delimiter
    entries.back().fields_.push_back(*it);
  }
  if (entries.size() != *count) return std::nullopt;
  return entries;
}

std::string Message::text() const {
  std::string out;
  for (const auto& field : fields_) {
    out += std::to_string(field.tag);
    out += '=';
    out += field.value;
    out += kSoh;
  }
  return out;
}

// ---- FieldReader ----

std::optional<std::string_view> FieldReader::required(int tag) {
  auto value = message_.get(tag);
  if (!value) ok_ = false;
  return value;
}

std::string FieldReader::text(int tag) {
  auto value = required(tag);
  return value ? std::string(*value) : std::string();
}

double FieldReader::decimal(int tag) {
  auto value = required(tag);
  if (!value) return 0;
  auto number = parse_decimal(*value);
  if (!number) ok_ = false;
  return number.value_or(0);
}

std::int64_t FieldReader::integer(int tag) {
  auto value = required(tag);
  if (!value) return 0;
  auto number = parse_number<std::int64_t>(*value);
  if (!number) ok_ = false;
  return number.value_or(0);
}

std::uint64_t FieldReader::unsigned_integer(int tag) {
  auto value = required(tag);
  if (!value) return 0;
  auto number = parse_number<std::uint64_t>(*value);
  if (!number) ok_ = false;
  return number.value_or(0);
}

char FieldReader::character(int tag) {
  auto value = required(tag);
  if (!value) return '\0';
  if (value->size() != 1) ok_ = false;
  return value->size() == 1 ? value->front() : '\0';
}

bool FieldReader::boolean(int tag) {
  const char c = character(tag);
  if (ok_ && c != 'Y' && c != 'N') ok_ = false;
  return c == 'Y';
}

std::string FieldReader::text_or(int tag, std::string_view fallback) {
  return message_.has(tag) ? text(tag) : std::string(fallback);
}
double FieldReader::decimal_or(int tag, double fallback) {
  return message_.has(tag) ? decimal(tag) : fallback;
}
std::int64_t FieldReader::integer_or(int tag, std::int64_t fallback) {
  return message_.has(tag) ? integer(tag) : fallback;
}
std::uint64_t FieldReader::unsigned_or(int tag, std::uint64_t fallback) {
  return message_.has(tag) ? unsigned_integer(tag) : fallback;
}
char FieldReader::character_or(int tag, char fallback) {
  return message_.has(tag) ? character(tag) : fallback;
}
bool FieldReader::boolean_or(int tag, bool fallback) {
  return message_.has(tag) ? boolean(tag) : fallback;
}

// ---- times ----

namespace {

using std::chrono::days;
using std::chrono::milliseconds;
using std::chrono::sys_days;

struct Civil {
  std::chrono::year_month_day date;
  std::int64_t ms_of_day = 0;
};

Civil civil(std::int64_t unix_ms) {
  const auto day = std::chrono::floor<days>(std::chrono::sys_time<milliseconds>(milliseconds(unix_ms)));
  const auto ms = unix_ms - std::chrono::duration_cast<milliseconds>(day.time_since_epoch()).count();
  return {std::chrono::year_month_day(day), ms};
}

std::string format_date(const std::chrono::year_month_day& d) {
  std::array<char, 16> buffer{};
  std::snprintf(buffer.data(), buffer.size(), "%04d%02u%02u", static_cast<int>(d.year()),
                static_cast<unsigned>(d.month()), static_cast<unsigned>(d.day()));
  return buffer.data();
}

std::string format_time(std::int64_t ms_of_day) {
  std::array<char, 16> buffer{};
  std::snprintf(buffer.data(), buffer.size(), "%02d:%02d:%02d.%03d", static_cast<int>(ms_of_day / 3'600'000),
                static_cast<int>(ms_of_day / 60'000 % 60), static_cast<int>(ms_of_day / 1000 % 60),
                static_cast<int>(ms_of_day % 1000));
  return buffer.data();
}

std::optional<int> digits_at(std::string_view text, std::size_t pos, std::size_t count) {
  if (pos + count > text.size()) return std::nullopt;
  const auto digits = text.substr(pos, count);
  if (digits.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  return parse_number<int>(text.substr(pos, count));
}

}  // namespace

std::string utc_date(std::int64_t unix_ms) {
  return format_date(civil(unix_ms).date);
}

std::string utc_time(std::int64_t unix_ms) {
  return format_time(civil(unix_ms).ms_of_day);
}

std::string utc_timestamp(std::int64_t unix_ms) {
  const auto c = civil(unix_ms);
  return format_date(c.date) + "-" + format_time(c.ms_of_day);
}

std::optional<std::int64_t> parse_utc_timestamp(std::string_view text) {
  // YYYYMMDD-HH:MM:SS with an optional .sss (FIX 4.4 allows both).
  if ((text.size() != 17 && text.size() != 21) || text[8] != '-' || text[11] != ':' || text[14] != ':') {
    return std::nullopt;
  }
  auto y = digits_at(text, 0, 4), mo = digits_at(text, 4, 2), d = digits_at(text, 6, 2);
  auto h = digits_at(text, 9, 2), mi = digits_at(text, 12, 2), s = digits_at(text, 15, 2);
  std::optional<int> ms = 0;
  if (text.size() == 21) ms = text[17] == '.' ? digits_at(text, 18, 3) : std::nullopt;
  if (!y || !mo || !d || !h || !mi || !s || !ms || *h > 23 || *mi > 59 || *s > 60) return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year(*y), std::chrono::month(static_cast<unsigned>(*mo)),
                                         std::chrono::day(static_cast<unsigned>(*d))};
  if (!date.ok()) return std::nullopt;
  const auto day_ms = std::chrono::duration_cast<milliseconds>(sys_days(date).time_since_epoch()).count();
  return day_ms + ((*h * 60LL + *mi) * 60 + *s) * 1000 + *ms;
}

}  // namespace permiso::trading::fix
