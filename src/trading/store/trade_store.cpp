// TradeStore over the storage SQL layer: the mt5_* schema, the group-commit writer (multi-row
// INSERT … ON CONFLICT upserts, one transaction per batch) and the history queries.
#include "trading/store/trade_store.hpp"

#include "storage/sql_cells.hpp"

#include <algorithm>
#include <exception>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <set>
#include <type_traits>
#include <unordered_set>
#include <utility>

namespace permiso::trading {
namespace {

using storage::Db;
using storage::Dialect;
using storage::Param;
using storage::Params;
using storage::Row;
using storage::SqlConn;

constexpr std::string_view kMigrationTable = TradeStore::kMigrationTable;
constexpr std::int64_t kMigrationLock = TradeStore::kMigrationLock;

// One schema for both dialects: SQLite maps BIGINT/DOUBLE PRECISION/BOOLEAN to its
// INTEGER/REAL/NUMERIC affinities. Booleans are bound as 0/1 (SQLite) or bool (PostgreSQL).
const std::vector<storage::Migration> kMigrations{
    {1,
     "trading schema",
     {
         R"(CREATE TABLE mt5_accounts (
  login BIGINT PRIMARY KEY,
  name TEXT NOT NULL, server TEXT NOT NULL, currency TEXT NOT NULL,
  leverage BIGINT NOT NULL,
  balance DOUBLE PRECISION NOT NULL, credit DOUBLE PRECISION NOT NULL,
  profit DOUBLE PRECISION NOT NULL, equity DOUBLE PRECISION NOT NULL,
  margin DOUBLE PRECISION NOT NULL, margin_free DOUBLE PRECISION NOT NULL,
  margin_level DOUBLE PRECISION NOT NULL, margin_so_call DOUBLE PRECISION NOT NULL,
  margin_so_so DOUBLE PRECISION NOT NULL, demo BOOLEAN NOT NULL))",
         R"(CREATE TABLE mt5_account_keys (
  account_key TEXT PRIMARY KEY,
  login BIGINT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL))",
         R"(CREATE TABLE mt5_positions (
  ticket BIGINT PRIMARY KEY,
  login BIGINT NOT NULL, symbol TEXT NOT NULL, type BIGINT NOT NULL,
  volume DOUBLE PRECISION NOT NULL, price_open DOUBLE PRECISION NOT NULL,
  price_current DOUBLE PRECISION NOT NULL, sl DOUBLE PRECISION NOT NULL,
  tp DOUBLE PRECISION NOT NULL, profit DOUBLE PRECISION NOT NULL,
  swap DOUBLE PRECISION NOT NULL, commission DOUBLE PRECISION NOT NULL,
  magic BIGINT NOT NULL, comment TEXT NOT NULL, reason BIGINT NOT NULL,
  time_msc BIGINT NOT NULL, time_update_msc BIGINT NOT NULL, closed BOOLEAN NOT NULL,
  close_time_msc BIGINT, close_price DOUBLE PRECISION, close_reason BIGINT))",
         "CREATE INDEX ix_mt5_positions_login ON mt5_positions (login, closed, ticket)",
         R"(CREATE TABLE mt5_orders (
  ticket BIGINT PRIMARY KEY,
  login BIGINT NOT NULL, symbol TEXT NOT NULL, type BIGINT NOT NULL, state BIGINT NOT NULL,
  type_filling BIGINT NOT NULL, volume_initial DOUBLE PRECISION NOT NULL,
  volume_current DOUBLE PRECISION NOT NULL, price_open DOUBLE PRECISION NOT NULL,
  price_current DOUBLE PRECISION NOT NULL, sl DOUBLE PRECISION NOT NULL,
  tp DOUBLE PRECISION NOT NULL, magic BIGINT NOT NULL, comment TEXT NOT NULL,
  position_id BIGINT NOT NULL, time_setup_msc BIGINT NOT NULL, time_done_msc BIGINT NOT NULL))",
         "CREATE INDEX ix_mt5_orders_login ON mt5_orders (login, ticket)",
         R"(CREATE TABLE mt5_deals (
  ticket BIGINT PRIMARY KEY,
  login BIGINT NOT NULL, order_ticket BIGINT NOT NULL, position_id BIGINT NOT NULL,
  symbol TEXT NOT NULL, type BIGINT NOT NULL, entry BIGINT NOT NULL, reason BIGINT NOT NULL,
  volume DOUBLE PRECISION NOT NULL, price DOUBLE PRECISION NOT NULL,
  profit DOUBLE PRECISION NOT NULL, commission DOUBLE PRECISION NOT NULL,
  swap DOUBLE PRECISION NOT NULL, magic BIGINT NOT NULL, comment TEXT NOT NULL,
  time_msc BIGINT NOT NULL))",
         "CREATE INDEX ix_mt5_deals_login_time ON mt5_deals (login, time_msc)",
         R"(CREATE TABLE mt5_idempotency (
  caller TEXT NOT NULL, idem_key TEXT NOT NULL,
  fingerprint TEXT NOT NULL, status BIGINT NOT NULL, body TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (caller, idem_key)))",
         "CREATE INDEX ix_mt5_idempotency_created ON mt5_idempotency (created_at)",
         "CREATE TABLE mt5_sequences (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
     }},
};

constexpr std::string_view kAccountCols =
    "login, name, server, currency, leverage, balance, credit, profit, equity, margin, "
    "margin_free, margin_level, margin_so_call, margin_so_so, demo";
constexpr std::size_t kAccountN = 15;
constexpr std::string_view kPositionCols =
    "ticket, login, symbol, type, volume, price_open, price_current, sl, tp, profit, swap, "
    "commission, magic, comment, reason, time_msc, time_update_msc, closed, close_time_msc, "
    "close_price, close_reason";
constexpr std::size_t kPositionN = 21;
constexpr std::string_view kOrderCols =
    "ticket, login, symbol, type, state, type_filling, volume_initial, volume_current, "
    "price_open, price_current, sl, tp, magic, comment, position_id, time_setup_msc, "
    "time_done_msc";
constexpr std::size_t kOrderN = 17;
// A closed position and a finished order are final. Replicas over one broker each deliver what
// they read from it, and a read taken before a close may reach the store after the close
// another replica committed: it must not open the position again.
constexpr std::string_view kPositionStaysClosed = "NOT mt5_positions.closed OR excluded.closed";
constexpr std::string_view kOrderStaysFinished =
    "mt5_orders.state NOT IN (2, 4, 5, 6) OR excluded.state IN (2, 4, 5, 6)";
static_assert(static_cast<int>(OrderState::Canceled) == 2 && static_cast<int>(OrderState::Filled) == 4 &&
              static_cast<int>(OrderState::Rejected) == 5 && static_cast<int>(OrderState::Expired) == 6);
constexpr std::string_view kDealCols =
    "ticket, login, order_ticket, position_id, symbol, type, entry, reason, volume, price, "
    "profit, commission, swap, magic, comment, time_msc";
constexpr std::size_t kDealN = 16;
constexpr std::string_view kIdemCols = "caller, idem_key, fingerprint, status, body, created_at";

// ---- cells ----
using storage::boolean;
using storage::integer;
using storage::placeholder;
using storage::placeholders;
using storage::real;
using storage::text;

std::uint64_t unsigned_int(const Row& r, std::size_t i) {
  return static_cast<std::uint64_t>(integer(r, i));  // stored as the same 64 bits
}
template <class E>
E enum_of(const Row& r, std::size_t i) {
  return static_cast<E>(integer(r, i));
}
Param u64(std::uint64_t v) {
  return Param(static_cast<std::int64_t>(v));
}
template <class E>
Param en(E e) {
  return Param(static_cast<std::int64_t>(e));
}

AccountInfo read_account(const Row& r) {
  AccountInfo a;
  a.login = unsigned_int(r, 0);
  a.name = text(r, 1);
  a.server = text(r, 2);
  a.currency = text(r, 3);
  a.leverage = static_cast<int>(integer(r, 4));
  a.balance = real(r, 5);
  a.credit = real(r, 6);
  a.profit = real(r, 7);
  a.equity = real(r, 8);
  a.margin = real(r, 9);
  a.margin_free = real(r, 10);
  a.margin_level = real(r, 11);
  a.margin_so_call = real(r, 12);
  a.margin_so_so = real(r, 13);
  a.demo = boolean(r, 14);
  return a;
}
void bind_account(Params& p, const AccountInfo& a) {
  p.insert(p.end(), {u64(a.login), a.name, a.server, a.currency, a.leverage, a.balance, a.credit, a.profit, a.equity,
                     a.margin, a.margin_free, a.margin_level, a.margin_so_call, a.margin_so_so, a.demo});
}

Position read_position(const Row& r) {
  Position p;
  p.ticket = unsigned_int(r, 0);
  p.login = unsigned_int(r, 1);
  p.symbol = text(r, 2);
  p.type = enum_of<PositionType>(r, 3);
  p.volume = real(r, 4);
  p.price_open = real(r, 5);
  p.price_current = real(r, 6);
  p.sl = real(r, 7);
  p.tp = real(r, 8);
  p.profit = real(r, 9);
  p.swap = real(r, 10);
  p.commission = real(r, 11);
  p.magic = unsigned_int(r, 12);
  p.comment = text(r, 13);
  p.reason = enum_of<DealReason>(r, 14);
  p.time_msc = integer(r, 15);
  p.time_update_msc = integer(r, 16);
  p.closed = boolean(r, 17);
  if (r.at(18)) p.close_time_msc = integer(r, 18);
  if (r.at(19)) p.close_price = real(r, 19);
  if (r.at(20)) p.close_reason = enum_of<DealReason>(r, 20);
  return p;
}
void bind_position(Params& out, const Position& p) {
  out.insert(out.end(), {u64(p.ticket),
                         u64(p.login),
                         p.symbol,
                         en(p.type),
                         p.volume,
                         p.price_open,
                         p.price_current,
                         p.sl,
                         p.tp,
                         p.profit,
                         p.swap,
                         p.commission,
                         u64(p.magic),
                         p.comment,
                         en(p.reason),
                         p.time_msc,
                         p.time_update_msc,
                         p.closed,
                         p.close_time_msc ? Param(*p.close_time_msc) : Param(),
                         p.close_price ? Param(*p.close_price) : Param(),
                         p.close_reason ? en(*p.close_reason) : Param()});
}

Order read_order(const Row& r) {
  Order o;
  o.ticket = unsigned_int(r, 0);
  o.login = unsigned_int(r, 1);
  o.symbol = text(r, 2);
  o.type = enum_of<OrderType>(r, 3);
  o.state = enum_of<OrderState>(r, 4);
  o.type_filling = enum_of<Filling>(r, 5);
  o.volume_initial = real(r, 6);
  o.volume_current = real(r, 7);
  o.price_open = real(r, 8);
  o.price_current = real(r, 9);
  o.sl = real(r, 10);
  o.tp = real(r, 11);
  o.magic = unsigned_int(r, 12);
  o.comment = text(r, 13);
  o.position_id = unsigned_int(r, 14);
  o.time_setup_msc = integer(r, 15);
  o.time_done_msc = integer(r, 16);
  return o;
}
void bind_order(Params& out, const Order& o) {
  out.insert(out.end(), {u64(o.ticket), u64(o.login), o.symbol, en(o.type), en(o.state), en(o.type_filling),
                         o.volume_initial, o.volume_current, o.price_open, o.price_current, o.sl, o.tp, u64(o.magic),
                         o.comment, u64(o.position_id), o.time_setup_msc, o.time_done_msc});
}

Deal read_deal(const Row& r) {
  Deal d;
  d.ticket = unsigned_int(r, 0);
  d.login = unsigned_int(r, 1);
  d.order = unsigned_int(r, 2);
  d.position_id = unsigned_int(r, 3);
  d.symbol = text(r, 4);
  d.type = enum_of<DealType>(r, 5);
  d.entry = enum_of<DealEntry>(r, 6);
  d.reason = enum_of<DealReason>(r, 7);
  d.volume = real(r, 8);
  d.price = real(r, 9);
  d.profit = real(r, 10);
  d.commission = real(r, 11);
  d.swap = real(r, 12);
  d.magic = unsigned_int(r, 13);
  d.comment = text(r, 14);
  d.time_msc = integer(r, 15);
  return d;
}
void bind_deal(Params& out, const Deal& d) {
  out.insert(out.end(),
             {u64(d.ticket), u64(d.login), u64(d.order), u64(d.position_id), d.symbol, en(d.type), en(d.entry),
              en(d.reason), d.volume, d.price, d.profit, d.commission, d.swap, u64(d.magic), d.comment, d.time_msc});
}

IdempotencyRecord read_idem(const Row& r) {
  return IdempotencyRecord{text(r, 0), text(r, 1),   text(r, 2), static_cast<int>(integer(r, 3)),
                           text(r, 4), integer(r, 5)};
}

/// "a = excluded.a, b = excluded.b" for every column but the first (the key).
std::string set_excluded(std::string_view cols) {
  std::string out;
  std::size_t start = 0;
  bool first = true;
  while (start < cols.size()) {
    auto end = cols.find(',', start);
    if (end == std::string_view::npos) end = cols.size();
    auto name = cols.substr(start, end - start);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    if (!first) {
      if (!out.empty()) out += ", ";
      out += std::string(name) + " = excluded." + std::string(name);
    }
    first = false;
    start = end + 1;
  }
  return out;
}

/// The batch's upserts. PostgreSQL: combined into as few statements as the parameter budget
/// allows, each upsert a data-modifying CTE (WITH w0 AS (INSERT … RETURNING 1), … SELECT 1),
/// so a whole batch is BEGIN, the idempotency insert, one statement and COMMIT: round trips,
/// not rows, are what a group commit pays for. SQLite (in-process): one statement per chunk.
class Upserts {
 public:
  Upserts(SqlConn& c, Dialect dialect) : c_(c), combine_(dialect == Dialect::Postgres), chunk_(combine_ ? 512 : 32) {}

  /// `make(first)` is the statement text with its parameters numbered from $first.
  StoreStatus piece(const std::function<std::string(std::size_t)>& make, Params params) {
    if (!combine_) {
      auto r = c_.exec(make(1), params);
      if (!r) return r.error();
      return {};
    }
    if (!params_.empty() && params_.size() + params.size() > kBudget) {
      if (auto st = flush(); !st) return st;
    }
    sql_ += count_ == 0 ? "WITH " : ", ";
    sql_ += "w" + std::to_string(count_++) + " AS (" + make(params_.size() + 1) + " RETURNING 1)";
    params_.insert(params_.end(), std::make_move_iterator(params.begin()), std::make_move_iterator(params.end()));
    return {};
  }

  /// Rows keyed by the first column, state-after: a repeated write is harmless. `keep`, when
  /// given, is the upsert's WHERE: a stored row it does not hold for is left as it is.
  template <class T, class Bind>
  StoreStatus rows(std::string_view table, std::string_view cols, std::size_t ncols, const std::vector<const T*>& rows,
                   Bind bind, std::string_view keep = {}) {
    static_assert(std::is_invocable_v<Bind, Params&, const T&>);
    if (rows.empty()) return {};
    std::string tail =
        " ON CONFLICT (" + std::string(cols.substr(0, cols.find(','))) + ") DO UPDATE SET " + set_excluded(cols);
    if (!keep.empty()) tail += " WHERE " + std::string(keep);
    const std::string head = "INSERT INTO " + std::string(table) + " (" + std::string(cols) + ") VALUES ";
    for (std::size_t at = 0; at < rows.size(); at += chunk_) {
      const std::size_t n = std::min(chunk_, rows.size() - at);
      Params p;
      p.reserve(n * ncols);
      for (std::size_t i = 0; i < n; ++i) bind(p, *rows[at + i]);
      auto st = piece([&](std::size_t first) { return head + placeholders(n, ncols, first) + tail; }, std::move(p));
      if (!st) return st;
    }
    return {};
  }

  StoreStatus flush() {
    if (count_ == 0) return {};
    auto r = c_.exec(sql_ + " SELECT 1", params_);
    sql_.clear();
    params_.clear();
    count_ = 0;
    if (!r) return r.error();
    return {};
  }

 private:
  static constexpr std::size_t kBudget = 30000;  // PostgreSQL allows 65535 per statement
  SqlConn& c_;
  const bool combine_;
  const std::size_t chunk_;
  std::string sql_;
  Params params_;
  std::size_t count_ = 0;
};

StorageFailure unavailable(std::string message) {
  return StorageFailure{StorageError::Unavailable, {}, std::move(message)};
}

/// Times one operation for TradeStoreOptions::timer, from construction to destruction.
class OpTimer {
 public:
  OpTimer(const TradeStoreTimer& timer, TradeStoreOp op)
      : timer_(timer),
        op_(op),
        start_(timer ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{}) {}
  ~OpTimer() {
    if (timer_) timer_(op_, std::chrono::steady_clock::now() - start_);
  }
  OpTimer(const OpTimer&) = delete;
  OpTimer& operator=(const OpTimer&) = delete;

 private:
  const TradeStoreTimer& timer_;
  TradeStoreOp op_;
  std::chrono::steady_clock::time_point start_;
};

void call_done(CommitRequest& r, const StoreStatus& st) {
  if (!r.done) return;
  try {
    r.done(st);
  } catch (...) {  // a completion must not take the writer down
  }
}

// ---- the group commit, one statement and one function per aggregate ----

// Idempotency records, $1 being the expiry cutoff: an expired record may be taken over, a
// live one is kept and its (caller, key) does not come back, which refuses the request.
constexpr std::string_view kClaimIdempotencyHead =
    "INSERT INTO mt5_idempotency (caller, idem_key, fingerprint, status, body, created_at) VALUES ";
constexpr std::string_view kClaimIdempotencyTail =
    " ON CONFLICT (caller, idem_key) DO UPDATE SET fingerprint = excluded.fingerprint, "
    "status = excluded.status, body = excluded.body, created_at = excluded.created_at "
    "WHERE mt5_idempotency.created_at < $1 RETURNING caller, idem_key";
// Account bindings: a key or login already bound does not come back.
constexpr std::string_view kBindAccountKeyHead =
    "INSERT INTO mt5_account_keys (account_key, login, created_at) VALUES ";
constexpr std::string_view kBindAccountKeyTail = " ON CONFLICT DO NOTHING RETURNING account_key";
// The ticket sequence only moves forward.
constexpr std::string_view kAdvanceTicketHead = "INSERT INTO mt5_sequences (name, value) VALUES ('ticket', ";
constexpr std::string_view kAdvanceTicketTail =
    ") ON CONFLICT (name) DO UPDATE SET value = CASE WHEN excluded.value > "
    "mt5_sequences.value THEN excluded.value ELSE mt5_sequences.value END";

/// Per request of a batch: empty = commits; otherwise why it was refused (nothing of it is written).
using Refusals = std::vector<std::optional<StorageFailure>>;

StorageFailure conflict(std::string field, std::string message) {
  return StorageFailure{StorageError::Conflict, std::move(field), std::move(message)};
}

/// The newest step sequence written per row, so a Changes that arrives after a newer one
/// for the same row (order_send and the change listener run in parallel) is not written over
/// it. Two generations bound the memory: a reordering spans microseconds (the two Changes are
/// submitted by racing threads a few requests apart), not 2^16 rows. At most 2 × 2^16 entries
/// per kind of row, about 6 MiB each, reached within minutes of steady trading.
struct RowVersions {
  std::unordered_map<std::uint64_t, std::uint64_t> current, previous;
  [[nodiscard]] std::uint64_t get(std::uint64_t key) const {
    if (auto it = current.find(key); it != current.end()) return it->second;
    if (auto it = previous.find(key); it != previous.end()) return it->second;
    return 0;
  }
  void set(std::uint64_t key, std::uint64_t seq) {
    current[key] = seq;
    if (current.size() >= (1u << 16)) {
      previous = std::move(current);
      current.clear();
    }
  }
};
struct RowVersionSet {
  RowVersions positions, orders, accounts;
};

/// Which version of a row a batch writes: its step sequence, and its arrival order.
struct Pick {
  std::uint64_t seq = 0;
  std::size_t order = 0;  // arrival order, for a stable statement order
};
template <class Key, class T>
using Newest = std::map<Key, std::pair<Pick, const T*>>;

/// Rows to write: for each key the newest version among the surviving requests.
struct BatchRows {
  Newest<Ticket, Position> positions;
  Newest<Ticket, Order> orders;
  std::map<Ticket, const Deal*> deals;
  Newest<Login, AccountInfo> accounts;
  Ticket max_ticket = 0;
};

/// The first of a (caller, key) in the batch competes with the database's unique key; an
/// existing unexpired record refuses the request.
StoreStatus claim_idempotency_keys(SqlConn& c, const std::vector<CommitRequest>& batch, Refusals& refused,
                                   std::size_t chunk, std::int64_t cutoff) {
  std::set<std::pair<std::string_view, std::string_view>> seen;
  std::vector<std::size_t> idx;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto& rec = batch[i].idempotency;
    if (!rec) continue;
    if (!seen.emplace(rec->caller, rec->key).second) {
      refused[i] = conflict("idempotency_key", "idempotency key already used");
      continue;
    }
    idx.push_back(i);
  }
  for (std::size_t at = 0; at < idx.size(); at += chunk) {
    const std::size_t m = std::min(chunk, idx.size() - at);
    Params p{cutoff};
    for (std::size_t k = 0; k < m; ++k) {
      const auto& rec = *batch[idx[at + k]].idempotency;
      p.insert(p.end(), {rec.caller, rec.key, rec.fingerprint, rec.status, rec.body, rec.created_at});
    }
    auto r = c.exec(std::string(kClaimIdempotencyHead) + placeholders(m, 6, 2) + std::string(kClaimIdempotencyTail), p);
    if (!r) return r.error();
    std::set<std::pair<std::string, std::string>> won;
    for (const auto& row : r->rows) won.emplace(text(row, 0), text(row, 1));
    for (std::size_t k = 0; k < m; ++k) {
      const auto& rec = *batch[idx[at + k]].idempotency;
      if (!won.contains({rec.caller, rec.key})) {
        refused[idx[at + k]] = conflict("idempotency_key", "idempotency key already used");
      }
    }
  }
  return {};
}

/// One login per key and one key per login, first come first bound.
StoreStatus bind_account_keys(SqlConn& c, const std::vector<CommitRequest>& batch, Refusals& refused, std::size_t chunk,
                              std::int64_t now) {
  std::set<std::string_view> keys;
  std::set<Login> logins;
  std::vector<std::size_t> idx;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto& b = batch[i].binding;
    if (!b || refused[i]) continue;
    if (!keys.insert(b->account_key).second || !logins.insert(b->login).second) {
      refused[i] = conflict("account_key", "account key already bound");
      continue;
    }
    idx.push_back(i);
  }
  for (std::size_t at = 0; at < idx.size(); at += chunk) {
    const std::size_t m = std::min(chunk, idx.size() - at);
    Params p;
    for (std::size_t k = 0; k < m; ++k) {
      const auto& b = *batch[idx[at + k]].binding;
      p.insert(p.end(), {b.account_key, u64(b.login), now});
    }
    auto r = c.exec(std::string(kBindAccountKeyHead) + placeholders(m, 3) + std::string(kBindAccountKeyTail), p);
    if (!r) return r.error();
    std::set<std::string> won;
    for (const auto& row : r->rows) won.insert(text(row, 0));
    for (std::size_t k = 0; k < m; ++k) {
      if (!won.contains(batch[idx[at + k]].binding->account_key)) {
        refused[idx[at + k]] = conflict("account_key", "account key already bound");
      }
    }
  }
  return {};
}

/// The surviving requests' rows, newest version per key (Changes::sequence; 0 or equal: the
/// later arrival wins), skipping versions older than one already committed.
BatchRows newest_rows(const std::vector<CommitRequest>& batch, const Refusals& refused,
                      const RowVersionSet& committed) {
  BatchRows rows;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (refused[i]) continue;
    const auto& ch = batch[i].changes;
    const Pick pick{ch.sequence, i};
    auto newer = [&](auto& map, auto key, const RowVersions& versions, auto* row) {
      if (ch.sequence != 0 && ch.sequence < versions.get(key)) return;
      auto it = map.find(key);
      if (it == map.end()) {
        map.emplace(key, std::make_pair(pick, row));
      } else if (ch.sequence == 0 || it->second.first.seq == 0 || ch.sequence >= it->second.first.seq) {
        it->second = std::make_pair(pick, row);
      }
    };
    for (const auto& p : ch.positions) {
      newer(rows.positions, p.ticket, committed.positions, &p);
      rows.max_ticket = std::max(rows.max_ticket, p.ticket);
    }
    for (const auto& o : ch.orders) {
      newer(rows.orders, o.ticket, committed.orders, &o);
      rows.max_ticket = std::max(rows.max_ticket, o.ticket);
    }
    for (const auto& a : ch.accounts) newer(rows.accounts, a.login, committed.accounts, &a);
    for (const auto& d : ch.deals) {
      rows.deals[d.ticket] = &d;  // deals never change
      rows.max_ticket = std::max(rows.max_ticket, d.ticket);
    }
  }
  return rows;
}

template <class Key, class T>
std::vector<const T*> rows_of(const Newest<Key, T>& map) {
  std::vector<const T*> out;
  out.reserve(map.size());
  for (const auto& [key, v] : map) out.push_back(v.second);
  return out;
}

/// Accounts, positions, orders, deals and the ticket sequence, state-after.
StoreStatus upsert_rows(SqlConn& c, Dialect dialect, const BatchRows& rows) {
  Upserts up(c, dialect);
  if (auto s = up.rows<AccountInfo>("mt5_accounts", kAccountCols, kAccountN, rows_of(rows.accounts), bind_account);
      !s) {
    return s;
  }
  if (auto s = up.rows<Position>("mt5_positions", kPositionCols, kPositionN, rows_of(rows.positions), bind_position,
                                 kPositionStaysClosed);
      !s) {
    return s;
  }
  if (auto s = up.rows<Order>("mt5_orders", kOrderCols, kOrderN, rows_of(rows.orders), bind_order, kOrderStaysFinished);
      !s) {
    return s;
  }
  std::vector<const Deal*> deals;
  deals.reserve(rows.deals.size());
  for (const auto& [t, ptr] : rows.deals) deals.push_back(ptr);
  if (auto s = up.rows<Deal>("mt5_deals", kDealCols, kDealN, deals, bind_deal); !s) return s;
  if (rows.max_ticket != 0) {
    auto s = up.piece(
        [](std::size_t first) {
          return std::string(kAdvanceTicketHead) + placeholder(first) + std::string(kAdvanceTicketTail);
        },
        {u64(rows.max_ticket + 1)});
    if (!s) return s;
  }
  return up.flush();
}

/// After the commit: the committed sequences, so an older version arriving later is dropped.
void record_versions(RowVersionSet& versions, const BatchRows& rows) {
  for (const auto& [t, v] : rows.positions) {
    if (v.first.seq != 0) versions.positions.set(t, v.first.seq);
  }
  for (const auto& [t, v] : rows.orders) {
    if (v.first.seq != 0) versions.orders.set(t, v.first.seq);
  }
  for (const auto& [l, v] : rows.accounts) {
    if (v.first.seq != 0) versions.accounts.set(l, v.first.seq);
  }
}

/// The one path of open() at start and of `mt5-api migrate`.
StoreResult<storage::MigrationPlan> apply_trading_migrations(Db& db) {
  return storage::apply_migrations(db, kMigrationTable, kMigrations, kMigrationLock);
}

}  // namespace

std::string_view to_string(TradeStoreOp op) {
  switch (op) {
    case TradeStoreOp::Commit:
      return "commit";
    case TradeStoreOp::CommitWait:
      return "commit_wait";
    case TradeStoreOp::Load:
      return "load";
    case TradeStoreOp::ClosedPositions:
      return "closed_positions";
    case TradeStoreOp::Position:
      return "position";
    case TradeStoreOp::Deals:
      return "deals";
    case TradeStoreOp::FindIdempotency:
      return "find_idempotency";
    case TradeStoreOp::FindBinding:
      return "find_binding";
    case TradeStoreOp::RecentIdempotencyKeys:
      return "recent_idempotency_keys";
    case TradeStoreOp::Purge:
      return "purge";
  }
  return "unknown";
}

const std::vector<storage::Migration>& TradeStore::migrations() {
  return kMigrations;
}

StoreResult<storage::MigrationPlan> TradeStore::plan_migrations(std::string_view url,
                                                                const storage::StorageOptions& options) {
  return storage::plan_migrations(url, kMigrationTable, kMigrations, options);
}

StoreResult<storage::MigrationPlan> TradeStore::migrate(std::string_view url, const storage::StorageOptions& options) {
  auto db = storage::open_db(url, options);
  if (!db) return db.error();
  return apply_trading_migrations(**db);
}

/// The committed row versions (RowVersionSet): the writer's memory across batches.
struct TradeStore::Versions : RowVersionSet {};

StoreResult<std::unique_ptr<TradeStore>> TradeStore::open(std::string_view url, const Clock& clock,
                                                          TradeStoreOptions options) {
  auto db = storage::open_db(url, options.storage);
  if (!db) return db.error();
  if (options.migrate) {
    if (auto st = apply_trading_migrations(**db); !st) return st.error();
  }
  options.max_batch = std::max<std::size_t>(1, options.max_batch);
  options.queue_capacity = std::max<std::size_t>(1, options.queue_capacity);
  return std::unique_ptr<TradeStore>(new TradeStore(std::move(*db), clock, options));
}

TradeStore::TradeStore(std::unique_ptr<storage::Db> db, const Clock& clock, TradeStoreOptions options)
    : db_(std::move(db)),
      clock_(clock),
      options_(std::move(options)),
      versions_(std::make_unique<Versions>()),
      last_purge_(clock.now_seconds()) {
  writer_ = std::thread([this] { run(); });
}

TradeStore::~TradeStore() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
}

std::string_view TradeStore::backend() const {
  return db_->dialect() == Dialect::Sqlite ? "sqlite" : "postgresql";
}

bool TradeStore::submit(CommitRequest request) {
  request.submitted = std::chrono::steady_clock::now();
  std::string refusal;
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      refusal = "trade store is closing";
    } else if (queue_.size() >= options_.queue_capacity) {
      refusal = "commit queue full";
    } else if (std::chrono::steady_clock::now() < refuse_until_) {
      refusal = "database unavailable (backing off)";
    } else {
      queue_.push_back(std::move(request));
    }
  }
  if (refusal.empty()) {
    wake_.notify_one();
    return true;
  }
  failed_.fetch_add(1, std::memory_order_relaxed);
  call_done(request, unavailable(std::move(refusal)));
  return false;
}

void TradeStore::run() {
  const auto idle = std::chrono::seconds(std::max<std::int64_t>(1, options_.purge_interval_seconds));
  for (;;) {
    std::vector<CommitRequest> batch;
    {
      std::unique_lock lock(mu_);
      // While expired records remain, purge a chunk between batches instead of sleeping.
      wake_.wait_for(lock, purge_more_ ? std::chrono::seconds(0) : idle, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      const std::size_t n = std::min(options_.max_batch, queue_.size());
      batch.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (!batch.empty()) write_batch(batch);
    maybe_purge();
  }
}

void TradeStore::maybe_purge() {
  const std::int64_t now = clock_.now_seconds();
  if (!purge_more_ && now - last_purge_ < options_.purge_interval_seconds) return;
  last_purge_ = now;
  auto removed = purge_chunk();
  // A full chunk: more remain. A failure is retried at the next interval.
  purge_more_ = removed && *removed >= kPurgeChunk;
}

void TradeStore::write_batch(std::vector<CommitRequest>& batch) {
  bool backing_off = false;
  {
    std::lock_guard lock(mu_);
    backing_off = std::chrono::steady_clock::now() < refuse_until_;
  }
  if (backing_off) {
    // The database just failed: refuse at once rather than queue behind connect attempts.
    failed_.fetch_add(batch.size(), std::memory_order_relaxed);
    for (auto& r : batch) call_done(r, unavailable("database unavailable (backing off)"));
    return;
  }

  const std::size_t chunk = db_->dialect() == Dialect::Sqlite ? 32 : 256;  // idempotency, bindings
  const std::int64_t cutoff = clock_.now_seconds() - options_.idempotency_ttl_seconds;
  Refusals refused(batch.size());
  BatchRows rows;
  // One transaction for the whole batch; a retried transaction starts over.
  auto st = [&] {
    const OpTimer timed(options_.timer, TradeStoreOp::Commit);
    return db_->write([&](SqlConn& c) -> StoreStatus {
      std::fill(refused.begin(), refused.end(), std::nullopt);
      rows = BatchRows{};
      if (auto s = claim_idempotency_keys(c, batch, refused, chunk, cutoff); !s) return s;
      if (auto s = bind_account_keys(c, batch, refused, chunk, clock_.now_seconds()); !s) return s;
      std::lock_guard vlock(versions_mu_);
      rows = newest_rows(batch, refused, *versions_);
      return upsert_rows(c, db_->dialect(), rows);
    });
  }();

  if (!st) {
    if (st.error().code == StorageError::Unavailable) {
      std::lock_guard lock(mu_);
      refuse_until_ =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(0, options_.retry_after_ms));
    }
    failed_.fetch_add(batch.size(), std::memory_order_relaxed);
    for (auto& r : batch) call_done(r, st);
    return;
  }
  {
    std::lock_guard vlock(versions_mu_);
    record_versions(*versions_, rows);
  }
  acknowledge(batch, refused);
}

/// Durability first: only now, after the commit, does any request hear back.
void TradeStore::acknowledge(std::vector<CommitRequest>& batch,
                             const std::vector<std::optional<StorageFailure>>& refused) {
  std::uint64_t ok = 0;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (refused[i]) {
      failed_.fetch_add(1, std::memory_order_relaxed);
      call_done(batch[i], *refused[i]);
    } else {
      ++ok;
    }
  }
  committed_.fetch_add(ok, std::memory_order_relaxed);
  batches_.fetch_add(1, std::memory_order_relaxed);
  const auto now = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (refused[i]) continue;
    if (options_.timer) options_.timer(TradeStoreOp::CommitWait, now - batch[i].submitted);
    call_done(batch[i], StoreStatus{});
  }
}

void TradeStore::reset_row_versions() {
  std::lock_guard vlock(versions_mu_);
  versions_ = std::make_unique<Versions>();
}

TradeStore::Stats TradeStore::stats() const {
  Stats s;
  s.committed = committed_.load(std::memory_order_relaxed);
  s.failed = failed_.load(std::memory_order_relaxed);
  s.batches = batches_.load(std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  s.queued = queue_.size();
  return s;
}

// ---- reads ----

namespace {

// `cols` of `table`'s rows matching `where`, the newest `keep` of each login by `newest`
// (one scan, a window per login), oldest first.
std::string recent_per_login(std::string_view table, std::string_view cols, std::string_view where,
                             std::string_view newest, std::size_t keep) {
  return std::string("SELECT ") + std::string(cols) + " FROM (SELECT " + std::string(cols) +
         ", ROW_NUMBER() OVER (PARTITION BY login ORDER BY " + std::string(newest) + ") AS recent FROM " +
         std::string(table) + " WHERE " + std::string(where) + ") AS r WHERE recent <= " + std::to_string(keep) +
         " ORDER BY ticket";
}

std::string select_where(std::string_view table, std::string_view cols, std::string_view where) {
  return std::string("SELECT ") + std::string(cols) + " FROM " + std::string(table) + " WHERE " + std::string(where) +
         " ORDER BY ticket";
}

constexpr std::string_view kPendingStates = "state IN (0, 1, 3)";  // Started, Placed, Partial

template <class T, class Read>
StoreStatus append_rows(SqlConn& c, const std::string& sql, std::vector<T>& out, Read read) {
  auto rows = c.exec(sql);
  if (!rows) return rows.error();
  for (const auto& r : rows->rows) out.push_back(read(r));
  return {};
}

template <class T>
void by_ticket(std::vector<T>& rows) {
  std::sort(rows.begin(), rows.end(), [](const T& x, const T& y) { return x.ticket < y.ticket; });
}

Ticket largest_ticket(SqlConn& c, std::string_view table, StoreStatus& status) {
  auto r = c.exec("SELECT COALESCE(MAX(ticket), 0) FROM " + std::string(table));
  if (!r) {
    status = r.error();
    return 0;
  }
  return r->rows.empty() ? 0 : unsigned_int(r->rows[0], 0);
}

}  // namespace

StoreResult<StoredState> TradeStore::load(std::size_t recent_history) {
  const OpTimer timed(options_.timer, TradeStoreOp::Load);
  const std::size_t keep = std::min<std::size_t>(recent_history, std::numeric_limits<std::int64_t>::max());
  StoredState out;
  auto st = db_->read([&](SqlConn& c) -> StoreStatus {
    out = StoredState{};
    auto& b = out.broker;
    const std::string accounts = "SELECT " + std::string(kAccountCols) + " FROM mt5_accounts ORDER BY login";
    if (auto s = append_rows(c, accounts, b.accounts, read_account); !s) return s;
    // Everything open, and the recent history of each account (older history stays here, served
    // by the history queries below). An open position's partial closes are needed however old:
    // the broker sums their profit.
    const std::string queries[][2] = {
        {select_where("mt5_positions", kPositionCols, "NOT closed"),
         recent_per_login("mt5_positions", kPositionCols, "closed", "ticket DESC", keep)},
        {select_where("mt5_orders", kOrderCols, kPendingStates),
         recent_per_login("mt5_orders", kOrderCols, "NOT " + std::string(kPendingStates),
                          "time_done_msc DESC, ticket DESC", keep)},
        {recent_per_login("mt5_deals", kDealCols, "TRUE", "time_msc DESC, ticket DESC", keep),
         select_where("mt5_deals", kDealCols,
                      "entry = 1 AND position_id IN (SELECT ticket FROM mt5_positions WHERE NOT closed)")},
    };
    for (const auto& sql : queries[0]) {
      if (auto s = append_rows(c, sql, b.positions, read_position); !s) return s;
    }
    for (const auto& sql : queries[1]) {
      if (auto s = append_rows(c, sql, b.orders, read_order); !s) return s;
    }
    for (const auto& sql : queries[2]) {
      if (auto s = append_rows(c, sql, b.deals, read_deal); !s) return s;
    }
    by_ticket(b.positions);
    by_ticket(b.orders);
    by_ticket(b.deals);
    b.deals.erase(
        std::unique(b.deals.begin(), b.deals.end(), [](const Deal& x, const Deal& y) { return x.ticket == y.ticket; }),
        b.deals.end());
    StoreStatus status;
    Ticket max_ticket = 0;
    for (std::string_view table : {"mt5_positions", "mt5_orders", "mt5_deals"}) {
      max_ticket = std::max(max_ticket, largest_ticket(c, table, status));
    }
    if (!status) return status;
    auto seq = c.exec("SELECT value FROM mt5_sequences WHERE name = 'ticket'");
    if (!seq) return seq.error();
    const Ticket stored = seq->rows.empty() ? 1 : unsigned_int(seq->rows[0], 0);
    b.next_ticket = std::max<Ticket>({Ticket{1}, stored, max_ticket + 1});
    auto keys = c.exec("SELECT account_key, login FROM mt5_account_keys ORDER BY account_key");
    if (!keys) return keys.error();
    for (const auto& r : keys->rows) out.bindings.push_back({text(r, 0), unsigned_int(r, 1)});
    return {};
  });
  if (!st) return st.error();
  return out;
}

StoreResult<std::vector<Position>> TradeStore::closed_positions(Login login, std::string_view symbol,
                                                                std::optional<Ticket> before, std::size_t limit) {
  const OpTimer timed(options_.timer, TradeStoreOp::ClosedPositions);
  std::string sql =
      std::string("SELECT ") + std::string(kPositionCols) + " FROM mt5_positions WHERE login = $1 AND closed = $2";
  Params p{u64(login), true};
  if (!symbol.empty()) {
    p.emplace_back(symbol);
    sql += " AND symbol = $" + std::to_string(p.size());
  }
  if (before) {
    p.push_back(u64(*before));
    sql += " AND ticket < $" + std::to_string(p.size());
  }
  p.push_back(static_cast<std::int64_t>(std::min<std::size_t>(limit, 100000)));
  sql += " ORDER BY ticket DESC LIMIT $" + std::to_string(p.size());
  auto r = db_->query(sql, p);
  if (!r) return r.error();
  std::vector<Position> out;
  out.reserve(r->rows.size());
  for (const auto& row : r->rows) out.push_back(read_position(row));
  return out;
}

StoreResult<std::optional<Position>> TradeStore::position(Login login, Ticket ticket) {
  const OpTimer timed(options_.timer, TradeStoreOp::Position);
  auto r = db_->query(
      std::string("SELECT ") + std::string(kPositionCols) + " FROM mt5_positions WHERE ticket = $1 AND login = $2",
      {u64(ticket), u64(login)});
  if (!r) return r.error();
  std::optional<Position> out;
  if (!r->rows.empty()) out = read_position(r->rows[0]);
  return out;
}

StoreResult<std::vector<Deal>> TradeStore::deals(Login login, TimeMs from_msc, TimeMs to_msc,
                                                 std::optional<DealCursor> after, std::size_t limit) {
  const OpTimer timed(options_.timer, TradeStoreOp::Deals);
  std::string sql = std::string("SELECT ") + std::string(kDealCols) +
                    " FROM mt5_deals WHERE login = $1 AND time_msc >= $2 AND time_msc < $3";
  Params p{u64(login), from_msc, to_msc};
  if (after) {  // (time_msc, ticket) > after, spelled out: row values are not in every SQLite
    p.push_back(after->time_msc);
    p.push_back(u64(after->ticket));
    sql += " AND (time_msc > $4 OR (time_msc = $4 AND ticket > $5))";
  }
  p.push_back(static_cast<std::int64_t>(std::min<std::size_t>(limit, 1000000)));
  sql += " ORDER BY time_msc, ticket LIMIT $" + std::to_string(p.size());
  auto r = db_->query(sql, p);
  if (!r) return r.error();
  std::vector<Deal> out;
  out.reserve(r->rows.size());
  for (const auto& row : r->rows) out.push_back(read_deal(row));
  return out;
}

StoreResult<std::optional<IdempotencyRecord>> TradeStore::find_idempotency(std::string_view caller,
                                                                           std::string_view key) {
  const OpTimer timed(options_.timer, TradeStoreOp::FindIdempotency);
  // On every idempotent POST whose answer is not in the service's memory: one round trip.
  const std::int64_t cutoff = clock_.now_seconds() - options_.idempotency_ttl_seconds;
  auto r = db_->query(std::string("SELECT ") + std::string(kIdemCols) +
                          " FROM mt5_idempotency WHERE caller = $1 AND idem_key = $2 AND "
                          "created_at >= $3",
                      {caller, key, cutoff});
  if (!r) return r.error();
  std::optional<IdempotencyRecord> out;
  if (!r->rows.empty()) out = read_idem(r->rows[0]);
  return out;
}

StoreResult<std::optional<Login>> TradeStore::find_binding(std::string_view account_key) {
  const OpTimer timed(options_.timer, TradeStoreOp::FindBinding);
  auto r = db_->query("SELECT login FROM mt5_account_keys WHERE account_key = $1", {account_key});
  if (!r) return r.error();
  std::optional<Login> out;
  if (!r->rows.empty()) out = unsigned_int(r->rows[0], 0);
  return out;
}

StoreResult<std::vector<IdempotencyRecord>> TradeStore::recent_idempotency_keys(std::size_t limit) {
  const OpTimer timed(options_.timer, TradeStoreOp::RecentIdempotencyKeys);
  const std::int64_t cutoff = clock_.now_seconds() - options_.idempotency_ttl_seconds;
  auto r = db_->query(
      "SELECT caller, idem_key, created_at FROM mt5_idempotency WHERE created_at >= $1 "
      "ORDER BY created_at DESC LIMIT $2",
      {cutoff, static_cast<std::int64_t>(std::min<std::size_t>(limit, 100'000'000))});
  if (!r) return r.error();
  std::vector<IdempotencyRecord> out;
  out.reserve(r->rows.size());
  for (const auto& row : r->rows) {
    IdempotencyRecord rec;
    rec.caller = text(row, 0);
    rec.key = text(row, 1);
    rec.created_at = integer(row, 2);
    out.push_back(std::move(rec));
  }
  return out;
}

StoreResult<std::int64_t> TradeStore::purge_chunk() {
  const OpTimer timed(options_.timer, TradeStoreOp::Purge);
  // Bounded: a backlog of expired records never holds the writer (and its commits) for long.
  std::int64_t removed = 0;
  const std::int64_t cutoff = clock_.now_seconds() - options_.idempotency_ttl_seconds;
  auto st = db_->write([&](SqlConn& c) -> StoreStatus {
    auto r = c.exec(
        "DELETE FROM mt5_idempotency WHERE (caller, idem_key) IN (SELECT caller, idem_key FROM "
        "mt5_idempotency WHERE created_at < $1 LIMIT $2)",
        {cutoff, kPurgeChunk});
    if (!r) return r.error();
    removed = r->affected;
    return {};
  });
  if (!st) return st.error();
  return removed;
}

StoreResult<std::int64_t> TradeStore::purge_expired() {
  std::int64_t total = 0;
  for (;;) {
    auto removed = purge_chunk();
    if (!removed) return removed.error();
    total += *removed;
    if (*removed < kPurgeChunk) return total;
  }
}

}  // namespace permiso::trading
