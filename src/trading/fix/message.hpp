// A FIX message as ordered tag=value fields: built by the mapping, parsed from the text the
// session engine delivers. Plain values, no I/O. Parsing checks the framing (tags are positive
// integers, values are non-empty, SOH-terminated) but not the dictionary: the session engine
// validated the message before it got here, and the mapping checks what it reads.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::trading::fix {

inline constexpr char kSoh = '\x01';

struct Field {
  int tag = 0;
  std::string value;
};

class Message {
 public:
  Message() = default;
  /// A message to send, starting with MsgType (35).
  explicit Message(std::string_view type) { set(35, type); }

  /// Parses FIX text ("8=FIX.4.4\x01" "9=…" … "10=…\x01", or a body alone). nullopt when the
  /// framing is broken: a field without '=', a tag that is not a positive integer, an empty
  /// value, or text after the last SOH.
  static std::optional<Message> parse(std::string_view text);

  /// Appends a field (a repeated tag is appended again: groups).
  Message& add(int tag, std::string_view value);
  Message& add(int tag, std::int64_t value);
  Message& add(int tag, std::uint64_t value);
  Message& add(int tag, int value) { return add(tag, static_cast<std::int64_t>(value)); }
  /// A decimal with at most `digits` decimals, trailing zeros dropped ("1.1", "0.00001").
  Message& add_decimal(int tag, double value, int digits = 8);
  Message& add_bool(int tag, bool value) { return add(tag, value ? "Y" : "N"); }
  /// Replaces the first field with `tag`, or appends it.
  Message& set(int tag, std::string_view value);
  /// Appends a repeating group: its count tag, then each entry's fields (the entry's first
  /// field is the group's delimiter).
  Message& add_group(int count_tag, const std::vector<Message>& entries);

  [[nodiscard]] std::string_view type() const;  // 35, "" when absent
  /// The first field with `tag`, anywhere in the message.
  [[nodiscard]] std::optional<std::string_view> get(int tag) const;
  [[nodiscard]] bool has(int tag) const { return get(tag).has_value(); }
  /// The entries of the group counted by `count_tag`: each entry starts at the group's
  /// delimiter (`members`' first tag) and runs while the tags are `members`. nullopt when the
  /// count is not a number or disagrees with the entries found.
  [[nodiscard]] std::optional<std::vector<Message>> group(int count_tag, std::initializer_list<int> members) const;

  /// The fields as FIX text, each followed by SOH (what SessionEngine::send takes).
  [[nodiscard]] std::string text() const;
  [[nodiscard]] const std::vector<Field>& fields() const { return fields_; }

 private:
  std::vector<Field> fields_;
};

/// Typed reads of one message that remember whether every required read succeeded: a decoder
/// reads all its fields, then asks ok() once (as terminal::FieldReader does for JSON).
class FieldReader {
 public:
  explicit FieldReader(const Message& message) : message_(message) {}

  /// Required fields: absent or malformed marks the reader bad.
  std::string text(int tag);
  double decimal(int tag);  // a finite decimal
  std::int64_t integer(int tag);
  std::uint64_t unsigned_integer(int tag);  // tickets, logins
  char character(int tag);                  // a one-character value (Side, OrdType, …)
  bool boolean(int tag);                    // Y or N
  /// Optional fields: absent gives `fallback`; present and malformed marks the reader bad.
  std::string text_or(int tag, std::string_view fallback);
  double decimal_or(int tag, double fallback);
  std::int64_t integer_or(int tag, std::int64_t fallback);
  std::uint64_t unsigned_or(int tag, std::uint64_t fallback);
  char character_or(int tag, char fallback);
  bool boolean_or(int tag, bool fallback);

  [[nodiscard]] bool ok() const { return ok_; }
  void fail() { ok_ = false; }

 private:
  std::optional<std::string_view> required(int tag);

  const Message& message_;
  bool ok_ = true;
};

/// FIX UTCTimestamp with milliseconds ("20261206-14:05:09.123") for Unix milliseconds, and back.
std::string utc_timestamp(std::int64_t unix_ms);
std::optional<std::int64_t> parse_utc_timestamp(std::string_view text);
/// FIX UTCDateOnly ("20261206") and UTCTimeOnly with milliseconds ("14:05:09.123").
std::string utc_date(std::int64_t unix_ms);
std::string utc_time(std::int64_t unix_ms);

}  // namespace permiso::trading::fix
