// The PermisoBridge protocol (docs/brokers.md, "The protocol"): JSON messages between mt5-api's
// terminal connector and the MetaTrader 5 Expert Advisor (or mt5-sim, which speaks it over the
// simulated broker). One place turns the MT5 model into those messages and back, so the
// connector and the stand-in cannot drift apart. Plain values: no I/O.
#pragma once

#include "trading/bars.hpp"
#include "trading/broker.hpp"
#include "trading/model.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace permiso::trading::terminal {

inline constexpr int kProtocolVersion = 1;

/// The reply's `error` codes.
enum class ErrorCode { BadRequest, Unauthorized, UnknownCommand, NotFound, Unavailable };
std::string_view to_string(ErrorCode e);  // "bad_request", …
std::optional<ErrorCode> error_code_from_string(std::string_view s);

/// Reads one JSON object's fields by name into typed values and remembers whether every read
/// succeeded: a decoder reads all its fields, then asks ok() once. Integer fields take JSON
/// integers only (a ticket of 1.5 is garbage, not 1); double fields take any JSON number
/// within double's range (1e400 is refused, not read as infinity).
class FieldReader {
 public:
  explicit FieldReader(const boost::json::value& v) : object_(v.if_object()) {}
  explicit FieldReader(const boost::json::object& o) : object_(&o) {}

  void read(std::string_view key, std::string& out);
  void read(std::string_view key, bool& out);
  void read(std::string_view key, double& out);
  void read(std::string_view key, int& out);            // an integer in int's range
  void read(std::string_view key, std::int64_t& out);   // an integer in int64's range
  void read(std::string_view key, std::uint64_t& out);  // a non-negative integer (tickets, logins)
  /// An MT5 value of the enumeration (instantiated for the model's enumerations only).
  template <class E>
  requires std::is_enum_v<E>
  void read(std::string_view key, E& out);
  /// Absent or null: nullopt; present: read as T.
  template <class T>
  void read(std::string_view key, std::optional<T>& out) {
    if (!present(key)) {
      out.reset();
      return;
    }
    T value{};
    read(key, value);
    out = std::move(value);
  }
  /// The array under `key`; nullptr (and not ok) when missing or not an array.
  const boost::json::array* array(std::string_view key);

  [[nodiscard]] bool ok() const { return ok_; }
  /// Marks the object bad (a decoder's own check failed).
  void fail() { ok_ = false; }

 private:
  [[nodiscard]] bool present(std::string_view key) const;
  /// The field, or nullptr (and not ok) when missing.
  const boost::json::value* find(std::string_view key);

  const boost::json::object* object_;
  bool ok_ = object_ != nullptr;
};

// ---- the objects (docs/brokers.md, "Objects") ----
boost::json::object to_json(const AccountInfo& a);
boost::json::object to_json(const SymbolInfo& s);
boost::json::object to_json(const Tick& t);
boost::json::object to_json(const TradeResult& r);
boost::json::object to_json(const Position& p);
boost::json::object to_json(const Order& o);
boost::json::object to_json(const Deal& d);
boost::json::object to_json(const Changes& c);
boost::json::object to_json(const Bar& b);  // MqlRates: time_msc, open, high, low, close, tick_volume
/// The `hello` reply's `terminal`.
struct TerminalInfo {
  Login login = 0;  // the account the terminal is logged in to (0: none, or mt5-sim's many)
  std::string server;
  std::string company;
  std::string name;
  int build = 0;
  bool connected = false;
  bool trade_allowed = false;
  bool multi_account = false;  // `accounts`: "multi" (mt5-sim opens demo accounts) or "single"
  /// The trade server's clock minus UTC, in seconds (GMT+2: 7200). Every time on the wire is
  /// UTC already; this is for the logs. Absent: an EA older than the field.
  std::optional<std::int64_t> server_utc_offset_s;
};
boost::json::object to_json(const TerminalInfo& t);
std::optional<TerminalInfo> terminal_from_json(const boost::json::value& v);
/// Rows as a JSON array (a reply's `positions`, `symbols`, …; a Changes' arrays).
template <class T>
boost::json::array to_json_array(const std::vector<T>& rows) {
  boost::json::array out;
  out.reserve(rows.size());
  for (const auto& row : rows) out.emplace_back(to_json(row));
  return out;
}
/// The MqlTradeRequest fields, added flat to a command (`order_send`).
void add_request_fields(boost::json::object& command, const TradeRequest& r);

/// Decoding fails (nullopt) on a missing field, a wrong type, an enumeration value MT5 does
/// not have, or a negative ticket; unknown fields are ignored (newer EAs may send more).
std::optional<AccountInfo> account_from_json(const boost::json::value& v);
std::optional<SymbolInfo> symbol_from_json(const boost::json::value& v);
std::optional<Tick> tick_from_json(const boost::json::value& v);
std::optional<TradeResult> trade_result_from_json(const boost::json::value& v);
std::optional<Position> position_from_json(const boost::json::value& v);
std::optional<Order> order_from_json(const boost::json::value& v);
std::optional<Deal> deal_from_json(const boost::json::value& v);
std::optional<Changes> changes_from_json(const boost::json::value& v);
std::optional<Bar> bar_from_json(const boost::json::value& v);
/// The rows of a reply's array under `key` (`symbols`, `positions`, `orders`, `deals`):
/// nullopt when it is missing or a row is malformed. Rows of kinds the model leaves out
/// (credit or commission deals, stop-limit orders, …) are skipped, here and in Changes.
std::optional<std::vector<SymbolInfo>> symbol_rows(const boost::json::object& reply, std::string_view key);
std::optional<std::vector<Position>> position_rows(const boost::json::object& reply, std::string_view key);
std::optional<std::vector<Order>> order_rows(const boost::json::object& reply, std::string_view key);
std::optional<std::vector<Deal>> deal_rows(const boost::json::object& reply, std::string_view key);
std::optional<std::vector<Bar>> bar_rows(const boost::json::object& reply, std::string_view key);
/// The most bars one `rates` command asks for: a reply of about 100 bytes a bar, built in
/// one string by the EA.
inline constexpr int kMaxRatesPerCommand = 1000;
/// The MqlTradeRequest fields of a flat `order_send` command.
std::optional<TradeRequest> request_from_json(const boost::json::object& command);

// ---- messages ----
/// `{"v":1,"id":id,"cmd":cmd,"token":token}`; the caller adds the arguments.
boost::json::object command(std::uint64_t id, std::string_view cmd, std::string_view token);
/// `{"v":1,"id":id,"ok":true}`; the caller adds the reply fields.
boost::json::object ok_reply(std::uint64_t id);
boost::json::object error_reply(std::uint64_t id, ErrorCode code, std::string_view message);

/// A reply as the connector reads it.
struct Reply {
  std::uint64_t id = 0;
  bool ok = false;
  std::optional<ErrorCode> error;  // set when !ok (nullopt: an error code this build does not know)
  std::string message;
  boost::json::object body;  // the whole object, for the command's own fields
};
/// nullopt: not JSON, not an object, or `v`/`id`/`ok` missing or wrong.
std::optional<Reply> parse_reply(std::string_view text);
/// A command as the EA side reads it: nullopt when not a JSON object with `v` == 1, an
/// integer `id` and a string `cmd`.
struct Command {
  std::uint64_t id = 0;
  std::string cmd;
  std::string token;
  boost::json::object body;
};
std::optional<Command> parse_command(std::string_view text);

/// Events: one frame, `<topic> <json>`.
enum class EventTopic { Tick, Trade, Heartbeat };
std::string_view to_string(EventTopic t);  // "tick", "trade", "heartbeat"
std::string event_frame(EventTopic topic, const boost::json::object& body);
struct Event {
  EventTopic topic = EventTopic::Heartbeat;
  boost::json::object body;
};
/// nullopt: an unknown topic or a body that is not a JSON object.
std::optional<Event> parse_event(std::string_view frame);

}  // namespace permiso::trading::terminal
