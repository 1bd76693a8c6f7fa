// The PermisoBridge protocol (docs/brokers.md): what mt5-api reads from an MT5 terminal's
// Expert Advisor (or mt5-sim from mt5-api), any bytes as a reply, a command and an event frame;
// and, when they are JSON, every object decoder on the value and on each of its members (a
// reply's `result`, `changes`, `account`, an event's `tick`, …), every row reader on an object.
// Invariants: whatever a decoder accepts, encoded and sent as text, decodes again to the same
// encoding; a parsed reply, command or event, sent again, parses to the same message. "The same"
// is exact but for doubles, which may move by 2 ulps: Boost.JSON 1.81's parser is not correctly
// rounded beyond 15 significant digits (the serializer writes the shortest exact form, up to 17).
#include "trading/terminal/protocol.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace json = boost::json;
using namespace permiso::trading::terminal;

/// Doubles as integers in the order of the doubles, so that their difference counts ulps.
std::int64_t ordered(double d) {
  std::int64_t bits = 0;
  std::memcpy(&bits, &d, sizeof bits);
  return bits < 0 ? std::numeric_limits<std::int64_t>::min() - bits : bits;
}

/// Equal values, doubles within 2 ulps (see the top of the file).
bool same(const json::value& a, const json::value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case json::kind::double_: {
      const double x = a.get_double();
      const double y = b.get_double();
      if (!std::isfinite(x) || !std::isfinite(y)) return false;  // no JSON for them
      // Unsigned, so the difference of two far apart doubles wraps rather than overflows.
      const std::uint64_t d = static_cast<std::uint64_t>(ordered(x)) - static_cast<std::uint64_t>(ordered(y));
      return d + 2 <= 4;
    }
    case json::kind::array: {
      const auto& x = a.get_array();
      const auto& y = b.get_array();
      if (x.size() != y.size()) return false;
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (!same(x[i], y[i])) return false;
      }
      return true;
    }
    case json::kind::object: {
      const auto& x = a.get_object();
      const auto& y = b.get_object();
      if (x.size() != y.size()) return false;
      for (const auto& member : x) {
        const json::value* other = y.if_contains(member.key());
        if (other == nullptr || !same(member.value(), *other)) return false;
      }
      return true;
    }
    default:
      return a == b;
  }
}

/// Whether no number in `v` overflowed to infinity (1e400): JSON has no text for one (Boost.JSON
/// writes `Infinity`), so a message holding one cannot be sent again. The decoders refuse it in
/// the fields they read; a whole message is checked only without one.
bool all_finite(const json::value& v) {
  if (const double* d = v.if_double()) return std::isfinite(*d);
  if (const json::array* a = v.if_array()) {
    for (const auto& e : *a) {
      if (!all_finite(e)) return false;
    }
  }
  if (const json::object* o = v.if_object()) {
    for (const auto& member : *o) {
      if (!all_finite(member.value())) return false;
    }
  }
  return true;
}

json::value must_parse(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) std::abort();  // our own encoding is not JSON
  return v;
}

/// Decodes `v`; what is accepted must survive a trip through JSON text unchanged.
template <class Decode>
void round_trip(const json::value& v, Decode decode) {
  const auto first = decode(v);
  if (!first) return;
  const json::value encoded = to_json(*first);
  const auto second = decode(must_parse(json::serialize(encoded)));
  if (!second) std::abort();  // refuses its own encoding
  if (!same(json::value(to_json(*second)), encoded)) std::abort();
}

template <class Rows>
void rows_round_trip(const json::object& reply, std::string_view key, Rows read) {
  const auto first = read(reply, key);
  if (!first) return;
  json::object wrapped;
  wrapped[key] = to_json_array(*first);
  const auto second = read(must_parse(json::serialize(wrapped)).as_object(), key);
  if (!second || second->size() != first->size()) std::abort();
  json::object again;
  again[key] = to_json_array(*second);
  if (!same(json::value(std::move(again)), json::value(std::move(wrapped)))) std::abort();
}

void request_round_trip(const json::object& command) {
  const auto first = request_from_json(command);
  if (!first) return;
  json::object encoded;
  add_request_fields(encoded, *first);
  const auto second = request_from_json(must_parse(json::serialize(encoded)).as_object());
  if (!second) std::abort();
  json::object again;
  add_request_fields(again, *second);
  if (!same(json::value(std::move(again)), json::value(std::move(encoded)))) std::abort();
}

void decode_all(const json::value& v) {
  round_trip(v, changes_from_json);
  round_trip(v, position_from_json);
  round_trip(v, order_from_json);
  round_trip(v, deal_from_json);
  round_trip(v, account_from_json);
  round_trip(v, symbol_from_json);
  round_trip(v, tick_from_json);
  round_trip(v, trade_result_from_json);
  round_trip(v, terminal_from_json);
  round_trip(v, bar_from_json);
  const json::object* o = v.if_object();
  if (o == nullptr) return;
  request_round_trip(*o);
  rows_round_trip(*o, "rates", bar_rows);
  for (const std::string_view key : {"symbols", "positions", "orders", "deals"}) {
    rows_round_trip(*o, key, symbol_rows);
    rows_round_trip(*o, key, position_rows);
    rows_round_trip(*o, key, order_rows);
    rows_round_trip(*o, key, deal_rows);
  }
}

/// A value and, when it is an object, each of its members: where the objects sit in a message.
void decode_with_members(const json::value& v) {
  decode_all(v);
  if (const json::object* o = v.if_object()) {
    for (const auto& member : *o) decode_all(member.value());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (const auto reply = parse_reply(text); reply && all_finite(json::value(reply->body))) {
    if (!reply->ok && reply->error && *reply->error != error_code_from_string(to_string(*reply->error))) {
      std::abort();
    }
    const auto again = parse_reply(json::serialize(reply->body));
    if (!again || again->id != reply->id || again->ok != reply->ok || again->error != reply->error ||
        again->message != reply->message || !same(json::value(again->body), json::value(reply->body))) {
      std::abort();
    }
  }

  if (const auto command = parse_command(text); command && all_finite(json::value(command->body))) {
    const auto again = parse_command(json::serialize(command->body));
    if (!again || again->id != command->id || again->cmd != command->cmd || again->token != command->token ||
        !same(json::value(again->body), json::value(command->body))) {
      std::abort();
    }
  }

  if (const auto event = parse_event(text)) {
    const json::value body(event->body);
    if (all_finite(body)) {
      const auto again = parse_event(event_frame(event->topic, event->body));
      if (!again || again->topic != event->topic || !same(json::value(again->body), body)) std::abort();
    }
    decode_with_members(body);
  }

  boost::system::error_code ec;
  const json::value v = json::parse(text, ec);
  if (!ec) decode_with_members(v);
  return 0;
}
