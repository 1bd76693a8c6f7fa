// The gateway's domain API: what the mt5-api handlers call. It maps each principal to its own
// account (opening a demo account on first use), sends orders to the Broker, and commits
// every change to storage before the caller is answered (group commit), with idempotency
// keys that replay the first answer. Handlers stay thin: parse → call this → render.
#pragma once

#include "common/result.hpp"
#include "trading/broker.hpp"
#include "trading/model.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::trading {

/// Who is trading: a stable key per principal ("client:<client_id>" for service tokens,
/// "user:<sub>" for users), so one principal never sees another's account.
struct Caller {
  std::string account_key;
  std::string display_name;  // the account's name when it is opened
};

enum class ServiceError {
  Validation,            // a field is wrong (ServiceFailure::field names it): 422
  NotFound,              // no such trade/order for this caller: 404
  Conflict,              // e.g. closing a closed trade: 409 (field names it)
  IdempotencyKeyReused,  // same key, different body: 422 idempotency_key_reused
  BrokerRefused,         // the broker said no; retcode set: 422 (NoMoney → insufficient_margin), 409 market closed
  BrokerUnavailable,     // connection to the broker lost before sending: 503
  OutcomePending,        // sent, outcome unknown (connection lost in flight): 202 status pending
  StorageUnavailable,    // the database is down: fast 503, nothing acknowledged
};
std::string_view to_string(ServiceError e);

struct ServiceFailure {
  ServiceError code = ServiceError::StorageUnavailable;
  std::string field;
  std::string message;
  std::optional<Retcode> retcode;
};
std::string_view to_string(const ServiceFailure& f);
PERMISO_RESULT_ERROR(ServiceFailure)

template <class T>
using ServiceResult = Result<T, ServiceFailure>;

/// The answer an idempotent request produced, stored with its effects in one transaction and
/// replayed verbatim (status and body) for 24 h.
struct StoredAnswer {
  int status = 0;
  std::string body;  // JSON text
  bool replayed = false;
};

struct OpenTrade {
  std::string symbol;
  double volume = 0;
  OrderType type = OrderType::Buy;  // buy/sell at market; the limit/stop types place a pending order
  std::optional<double> price;      // market: expected price (checked against deviation); pending: trigger
  double sl = 0;
  double tp = 0;
  std::uint64_t deviation = 20;  // points
  std::uint64_t magic = 0;
  std::string comment;
  /// What the broker does with a volume it cannot fill at once (MT5's type_filling): FOK refuses
  /// the order, IOC fills what it can and cancels the rest, RETURN keeps the rest working.
  /// nullopt: FOK for a market order, RETURN for a pending one.
  std::optional<Filling> filling;
  /// Idempotency-Key header or client_order_id; empty: not idempotent.
  std::string idempotency_key;
  /// A canonical digest of the request body: same key + other fingerprint = reused key.
  std::string fingerprint;
  /// The id the broker is to know the order by (TradeRequest::broker_order_id), derived from the
  /// principal and the key; empty without a key.
  std::string broker_order_id;
};

struct TradeListQuery {
  enum class Status { Open, Closed, All } status = Status::Open;
  std::string symbol;            // empty: all
  std::size_t limit = 100;       // 1..1000
  std::optional<Ticket> cursor;  // continue after this ticket (descending by ticket)
};
struct TradePage {
  std::vector<Position> trades;
  std::optional<Ticket> next_cursor;
};

struct DealListQuery {
  static constexpr std::size_t kMaxLimit = 10'000;
  TimeMs from_msc = 0;  // from_msc <= time < to_msc
  TimeMs to_msc = 0;
  std::size_t limit = 1000;  // 1..kMaxLimit
  std::optional<DealCursor> after;
};
struct DealPage {
  std::vector<Deal> deals;  // oldest first
  std::optional<DealCursor> next_cursor;
};

/// Completion callbacks run on the storage writer's thread once the commit is durable (or
/// failed); they must be cheap (hand the response back to the connection).
template <class T>
using Done = std::function<void(ServiceResult<T>)>;

class TradingService {
 public:
  virtual ~TradingService() = default;

  /// POST /trades. `render` turns the broker's outcome into the answer to store and send
  /// (called before the commit, so the stored answer is exactly the one sent).
  using Render = std::function<StoredAnswer(const Position& trade, const TradeResult& result)>;
  virtual void open_trade(const Caller& caller, OpenTrade request, Render render, Done<StoredAnswer> done) = 0;
  /// PATCH /trades/{id}: new stop loss / take profit (nullopt: unchanged, 0: remove).
  virtual void modify_trade(const Caller& caller, Ticket ticket, std::optional<double> sl, std::optional<double> tp,
                            Done<Position> done) = 0;
  /// DELETE /trades/{id}: closes the whole position at market.
  virtual void close_trade(const Caller& caller, Ticket ticket, Done<Position> done) = 0;

  // Reads answer from memory (no database round trip for open trades and the account);
  // closed trades and deals beyond what memory keeps come from storage.
  [[nodiscard]] virtual ServiceResult<TradePage> list_trades(const Caller& caller, const TradeListQuery& query) = 0;
  [[nodiscard]] virtual ServiceResult<Position> get_trade(const Caller& caller, Ticket ticket) = 0;
  /// The caller's account; the first call opens it (a committed write, hence async).
  virtual void account(const Caller& caller, Done<AccountInfo> done) = 0;
  [[nodiscard]] virtual ServiceResult<std::vector<Order>> orders(const Caller& caller) = 0;
  /// Reads storage (run it off the I/O thread).
  [[nodiscard]] virtual ServiceResult<DealPage> deals(const Caller& caller, const DealListQuery& query) = 0;
  /// Whether the caller's open trades and orders can be read without a storage or broker round
  /// trip, so on an I/O thread: false only when its account may be one another replica opened
  /// that this one does not serve yet (the first read finds and attaches it).
  [[nodiscard]] virtual bool answers_from_memory(const Caller& caller) const = 0;

  struct Stats {
    std::uint64_t accounts = 0;
    std::uint64_t open_positions = 0;
    std::uint64_t orders_sent = 0;
    std::uint64_t fills = 0;
    std::uint64_t rejections = 0;
    std::uint64_t commits = 0;         // storage transactions
    std::uint64_t commit_batches = 0;  // group commits (commits / batches = batching factor)
    std::uint64_t idempotent_replays = 0;
  };
  [[nodiscard]] virtual Stats stats() const = 0;
  /// Storage reachable and state restored (/ready).
  [[nodiscard]] virtual bool ready() const = 0;
};

}  // namespace permiso::trading
