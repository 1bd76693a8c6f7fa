// The FIX codec and the MT5 <-> FIX 4.4 mapping (docs/fix.md): any bytes as FIX text, and every
// decoder on the message parsed. Invariants: a parsed message, written again, is the same text;
// whatever a decoder accepts, encoded, decodes again, and encoding that gives the same text
// (decimals settle after one trip: they are written with at most 8 or 10 decimals).
#include "trading/fix/mapping.hpp"
#include "trading/fix/message.hpp"

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

namespace {

using namespace permiso::trading::fix;

/// encode(decode(m)) is stable: a second trip gives the text of the first.
template <class Decode, class Encode>
void settles(const Message& m, Decode decode, Encode encode) {
  auto first = decode(m);
  if (!first) return;
  const Message once = encode(*first);
  auto again = decode(once);
  if (!again) std::abort();  // what we write, we read
  if (encode(*again).text() != once.text()) std::abort();
}

void check_decoders(const Message& m) {
  settles(
      m, [](const Message& x) { return order_request_from_fix(x); }, [](const auto& v) { return to_fix(v); });
  settles(
      m, [](const Message& x) { return order_status_request_from_fix(x); }, [](const auto& v) { return to_fix(v); });
  settles(
      m, [](const Message& x) { return account_query_from_fix(x); }, [](const auto& v) { return to_fix(v); });
  settles(
      m, [](const Message& x) { return quote_subscription_from_fix(x); }, [](const auto& v) { return to_fix(v); });
  settles(
      m, [](const Message& x) { return account_open_request_from_fix(x); }, [](const auto& v) { return to_fix(v); });
  settles(
      m, [](const Message& x) { return execution_from_fix(x); }, [](const auto& v) { return to_fix(v); });
  settles(
      m, [](const Message& x) { return request_refusal_from_fix(x); }, [](const auto& v) { return to_fix(v); });
  settles(
      m, [](const Message& x) { return reports_ack_from_fix(x); }, [](const auto& v) { return to_fix(v); });
  settles(
      m, [](const Message& x) { return position_report_from_fix(x); }, [](const auto& v) { return to_fix(v); });
  settles(
      m, [](const Message& x) { return trade_capture_from_fix(x); }, [](const auto& v) { return to_fix(v); });
  settles(
      m, [](const Message& x) { return collateral_report_from_fix(x); }, [](const auto& v) { return to_fix(v); });
  settles(
      m, [](const Message& x) { return security_list_from_fix(x); }, [](const auto& v) { return to_fix(v); });
  settles(
      m, [](const Message& x) { return quote_snapshot_from_fix(x); }, [](const auto& v) { return to_fix(v); });
  settles(
      m, [](const Message& x) { return account_open_report_from_fix(x); }, [](const auto& v) { return to_fix(v); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto message = Message::parse(text);
  if (!message) return 0;
  if (message->text() != text) std::abort();  // parsing keeps every field, in order
  for (const int tag : {35, 11, 37, 55, 146, 268, 702, 20001}) (void)message->get(tag);
  (void)message->group(146, {55, 15});
  (void)parse_utc_timestamp(message->get(60).value_or(""));
  check_decoders(*message);
  return 0;
}
