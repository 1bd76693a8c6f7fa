// Reading mt5-api requests: every body field and query parameter checked for type, range and
// finiteness, the first problem reported as the field it concerns (a 422 validation_error),
// so nothing a client sends can reach the domain malformed.
#pragma once

#include "common/result.hpp"
#include "http/http.hpp"
#include "trading/bars.hpp"
#include "trading/model.hpp"
#include "trading/service.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace permiso::trading::handlers {

/// Why a request was refused before reaching the domain.
struct Invalid {
  int status = 422;  // 422 validation_error; 415 for a body that is not JSON
  std::string error = "validation_error";
  std::string field;    // the body field or query parameter
  std::string message;  // why, for error_description
};
std::string_view to_string(const Invalid& i);
PERMISO_RESULT_ERROR(Invalid)

template <class T>
using Parsed = Result<T, Invalid>;

inline constexpr double kMaxVolume = 100;  // the contract's bound, before the instrument's own
inline constexpr std::size_t kMaxCommentBytes = 64;
inline constexpr std::size_t kMaxIdempotencyKeyBytes = 128;
inline constexpr std::size_t kDefaultTradeLimit = 100;
inline constexpr std::size_t kMaxTradeLimit = 1000;
inline constexpr std::size_t kDefaultDealLimit = 1000;
inline constexpr std::size_t kMaxDealLimit = DealListQuery::kMaxLimit;
inline constexpr std::size_t kDefaultBarCount = 100;
inline constexpr std::size_t kMaxBarCount = 5000;

/// "eurusd" → "EURUSD"; letters, digits and ".#_-", 1 to 32 characters. Not checked against
/// the instruments (the caller does that, for a 404 or 422 of its own).
Parsed<std::string> parse_symbol(std::string_view text, std::string_view field = "symbol");

/// POST /trades: {symbol, volume, trade_type, price?, stop_loss?, take_profit?, comment?,
/// client_order_id?, deviation?, magic?}; `idempotency_header` is the Idempotency-Key header.
/// Unknown fields are refused (a misspelt "stoploss" must not open an unprotected trade).
/// The result carries the idempotency key and a fingerprint of the canonical request.
Parsed<OpenTrade> parse_open_trade(const http::Request& req);
/// The id the broker knows an idempotent order by: "K" and 31 hex digits of SHA-256 over the
/// principal and the key (32 characters, which FIX counterparties accept as a ClOrdID), the
/// same on every replica, every retry and every release.
std::string broker_order_id(std::string_view account_key, std::string_view idempotency_key);

/// PATCH /trades/{id}: {stop_loss?, take_profit?}; null or 0 removes one; at least one given.
struct ModifyTrade {
  std::optional<double> sl;
  std::optional<double> tp;
};
Parsed<ModifyTrade> parse_modify_trade(const http::Request& req);

/// A {id} path capture: a positive decimal ticket.
Parsed<Ticket> parse_ticket(std::string_view text, std::string_view field = "id");

/// GET /trades: status (open|closed|all, default open), symbol, limit (1..1000, default 100), cursor.
Parsed<TradeListQuery> parse_trade_list_query(const http::Request& req);
/// The next page's link: `</api/v1/trades?status=…&symbol=…&limit=…&cursor=N>; rel="next"`.
std::string next_link(std::string_view path, const TradeListQuery& query, Ticket next_cursor);

/// GET /market/{symbol}/rates: timeframe (M1…D1, default M1), count (1..5000, default 100), start (≥0).
struct RatesQuery {
  Timeframe timeframe = Timeframe::M1;
  std::size_t count = kDefaultBarCount;
  std::size_t start = 0;
};
Parsed<RatesQuery> parse_rates_query(const http::Request& req);

/// GET /history/deals: from/to as ISO 8601 UTC or Unix seconds (default: the last 30 days up to now,
/// `to` with a day's margin for the broker's clock), limit (1..10,000, default 1,000), cursor.
Parsed<DealListQuery> parse_deals_query(const http::Request& req, TimeMs now_msc);
/// The next page's link: `</api/v1/history/deals?from=…&to=…&limit=…&cursor=TIME_TICKET>; rel="next"`
/// (from and to as ISO 8601 with milliseconds, which parse_time reads back exactly).
std::string next_deals_link(const DealListQuery& query, DealCursor next_cursor);

/// "2026-12-01T15:22:58Z", "…58.123Z", "…+00:00", "2026-12-01" (UTC midnight), or Unix seconds.
std::optional<TimeMs> parse_time(std::string_view text);

}  // namespace permiso::trading::handlers
