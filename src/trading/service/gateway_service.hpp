// The gateway's TradingService: one account per principal (a demo account opened on first
// use), orders sent to the Broker, every change committed through the TradeStore's group
// commit before the caller is answered, Idempotency-Keys replayed for 24 h (concurrent
// duplicates wait for the first and never open a second trade), broker-initiated changes
// (SL/TP, pending fills, stop-out) persisted from the change listener, and the broker's
// memory brought back to what storage holds after a failed commit. A committed listener sees
// every change once storage has it (the stream's trade events follow durability).
//
// Threads: the trading calls (open_trade, modify_trade, close_trade, account) may block the
// calling thread briefly (the broker call; one indexed read on an idempotency-cache miss; the
// commit of a caller's first account) and so belong on a worker pool, never an I/O thread;
// their Done runs on the store's writer thread (or inline for an immediate answer). Reads of
// open trades, orders and the account come from the broker's memory; closed trades, a trade no
// longer open and deals come from the store (merged with the broker's recent, perhaps not yet
// committed, history).
#pragma once

#include "common/clock.hpp"
#include "trading/broker.hpp"
#include "trading/service.hpp"
#include "trading/store/trade_store.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace permiso::trading {

struct GatewayOptions {
  std::string currency = "USD";  // demo accounts
  int leverage = 100;
  double deposit = 10000;
  /// Recent idempotent answers kept in memory (beyond: looked up in the store).
  std::size_t idempotency_cache = 100'000;
  std::int64_t idempotency_ttl_seconds = 24 * 3600;  // as the store's
  /// This process is the store's only writer (true for the simulator, whose memory is the
  /// broker): an index of every unexpired key in use lets a new Idempotency-Key skip the
  /// store lookup (the hot path of POST /trades with keys). Keep false when replicas share
  /// the store in front of a real connector: a key another replica recorded must be found.
  bool exclusive_store = false;
  /// Keys the index holds (about 64 bytes each); past it, new keys are looked up again
  /// until the evicted ones have expired.
  std::size_t idempotency_index = 1'000'000;
  /// Closed positions, historical orders and deals per account restored into the broker on
  /// start and after a storage outage (the simulator's SimOptions::history_per_account);
  /// the rest of the history is read from the store when asked for.
  std::size_t restore_history = 256;
};

class GatewayService final : public TradingService {
 public:
  /// `broker`, `store` and `clock` must outlive the service.
  GatewayService(Broker& broker, TradeStore& store, const Clock& clock, GatewayOptions options = {});
  /// Stops the background resync, detaches the change listener and waits for every commit
  /// the service submitted to complete.
  ~GatewayService() override;
  GatewayService(const GatewayService&) = delete;
  GatewayService& operator=(const GatewayService&) = delete;

  using CommittedListener = std::function<void(const Changes&)>;
  /// Called with a step's Changes after the store committed them (order_send outcomes, new
  /// accounts and broker-initiated changes alike; never for a failed commit), on the store's
  /// writer thread: keep it cheap. Set it before start().
  void set_committed_listener(CommittedListener listener);
  using BrokerTimer = std::function<void(TradeAction action, std::chrono::nanoseconds took)>;
  /// Called after each broker.order_send with how long the broker took to answer (refusals
  /// included), on the calling thread: keep it cheap. Set it before serving.
  void set_broker_timer(BrokerTimer timer);

  /// Before serving: load() from the store, broker.restore(), the account_key → login map,
  /// the change listener; then ready(). StorageUnavailable when the store cannot be read.
  ServiceResult<void> start();

  void open_trade(const Caller& caller, OpenTrade request, Render render, Done<StoredAnswer> done) override;
  void modify_trade(const Caller& caller, Ticket ticket, std::optional<double> sl, std::optional<double> tp,
                    Done<Position> done) override;
  void close_trade(const Caller& caller, Ticket ticket, Done<Position> done) override;
  [[nodiscard]] ServiceResult<TradePage> list_trades(const Caller& caller, const TradeListQuery& query) override;
  [[nodiscard]] ServiceResult<Position> get_trade(const Caller& caller, Ticket ticket) override;
  void account(const Caller& caller, Done<AccountInfo> done) override;
  [[nodiscard]] ServiceResult<std::vector<Order>> orders(const Caller& caller) override;
  [[nodiscard]] ServiceResult<DealPage> deals(const Caller& caller, const DealListQuery& query) override;
  [[nodiscard]] bool answers_from_memory(const Caller& caller) const override;
  [[nodiscard]] Stats stats() const override;
  [[nodiscard]] bool ready() const override;

  /// The login bound to a principal, if its account is open (tests, admin).
  [[nodiscard]] std::optional<Login> login_of(std::string_view account_key) const;

 private:
  struct InFlight {
    std::string fingerprint;
    std::vector<Done<StoredAnswer>> waiters;  // duplicates of the first request
  };
  struct Answer {
    std::string fingerprint;
    int status = 0;
    std::string body;
    std::int64_t created_at = 0;
  };
  using LoginDone = std::function<void(ServiceResult<Login>)>;
  class KeyIndex;

  void open_account_async(const Caller& caller, LoginDone done);
  ServiceResult<Login> ensure_login(const Caller& caller);
  /// Replicas sharing the store: the principal `key` may have an account another replica
  /// opened. True when that answered the opening (the account bound in storage, now served by
  /// the broker too, or the failure to read it); false when no account is bound yet.
  bool attach_bound_account(const std::string& key);
  /// The caller's login for a read: known here, or (replicas sharing the store) bound by another
  /// replica and now attached; nullopt when the caller has no account. StorageUnavailable or
  /// BrokerUnavailable when that cannot be found out. May read storage and the broker: never
  /// on an I/O thread unless answers_from_memory.
  ServiceResult<std::optional<Login>> reader_login(const Caller& caller);
  /// The login bound to `key` in storage, attached to the broker and remembered; nullopt when
  /// none is bound. StorageUnavailable / BrokerUnavailable when either cannot be read.
  ServiceResult<std::optional<Login>> attach_bound(const std::string& key);
  void finish_opening(const std::string& key, const ServiceResult<Login>& result);
  void finish_inflight(const std::string& full_key, const ServiceResult<StoredAnswer>& result);
  void remember(const std::string& full_key, Answer answer);
  std::optional<Answer> recalled(const std::string& full_key);
  /// A request the broker must not see (no principal, a non-finite number, a pending order
  /// without its price, an unknown symbol), as the Validation failure naming its field.
  [[nodiscard]] std::optional<ServiceFailure> check_open_trade(const Caller& caller, const OpenTrade& request) const;
  /// The idempotency gate: answers `done` (a replay, a reused key, or a wait on the request
  /// already in flight) and returns true; or claims the key in flight and returns false.
  bool answered_by_idempotency(const Caller& caller, const OpenTrade& request, const std::string& full_key,
                               Done<StoredAnswer>& done);
  /// The gate's in-memory half: the answers this replica remembers and the keys in flight.
  /// MaybeStored: claimed, but storage may hold an answer this replica does not know.
  enum class KeyClaim { Answered, New, MaybeStored };
  KeyClaim claim_in_memory(const OpenTrade& request, const std::string& full_key, Done<StoredAnswer>& done);
  void send_trade(const Caller& caller, Login login, const OpenTrade& request, const std::string& full_key,
                  const Render& render, Done<StoredAnswer> done);
  /// The answer another replica recorded for `full_key` after the broker answered both with
  /// one order: a replay, a reused key (another fingerprint), or StorageUnavailable. Reads the
  /// store on the writer thread; only a retry that raced on two replicas comes here.
  ServiceResult<StoredAnswer> answer_recorded_elsewhere(const std::string& caller, const std::string& key,
                                                        const std::string& full_key, const std::string& fingerprint);
  /// The answer `rec` gives a request with `fingerprint` (a replay, or a reused key), remembered
  /// and handed to the waiters of `full_key`.
  ServiceResult<StoredAnswer> answer_from_record(const std::string& full_key, const std::string& fingerprint,
                                                 const IdempotencyRecord& rec);
  /// The caller's open position `ticket`, or NotFound / Conflict("id") when it is closed.
  ServiceResult<Position> open_position_of(Login login, Ticket ticket);
  void position_step(Login login, const TradeRequest& request, Done<Position> done);
  /// broker_.order_send, counted and timed.
  SendOutcome order_send(Login login, const TradeRequest& request);
  /// Changes to hand the committed listener from a commit's completion (none when unset).
  [[nodiscard]] Changes for_listener(const Changes& changes) const;
  void committed(const Changes& changes) const;
  /// A close of the caller's position from before its broker step until its commit settled:
  /// the broker no longer shows it open and storage may not show it closed yet.
  struct Closing {
    int closers = 0;
    Position row;  // last known; the closed row once a close has succeeded in the broker
  };
  void begin_close(const Position& open);
  void end_close(Ticket ticket);
  [[nodiscard]] std::optional<Position> closing(Login login, Ticket ticket) const;

  /// Shared for one broker step + its submit; a resync takes it exclusively.
  ServiceResult<void> before_step(std::shared_lock<std::shared_mutex>& lock);
  ServiceResult<void> resync();
  void begin_commit();
  void end_commit();
  bool submit(CommitRequest request);

  Broker& broker_;
  TradeStore& store_;
  const Clock& clock_;
  const GatewayOptions options_;

  mutable std::mutex mu_;  // logins_, opening_, inflight_, answers_
  std::unordered_map<std::string, Login> logins_;
  std::unordered_map<std::string, std::vector<LoginDone>> opening_;
  std::unordered_map<std::string, InFlight> inflight_;
  std::unordered_map<std::string, Answer> answers_;
  std::deque<std::string> answer_order_;
  std::unique_ptr<KeyIndex> index_;              // exclusive_store only; guarded by mu_
  std::unordered_map<Ticket, Closing> closing_;  // guarded by mu_
  CommittedListener committed_listener_;         // set before start()
  BrokerTimer broker_timer_;                     // set before serving

  std::shared_mutex state_mu_;
  std::atomic<bool> needs_resync_{false};
  std::atomic<bool> ready_{false};

  std::mutex pending_mu_;
  std::condition_variable pending_cv_;
  std::size_t pending_ = 0;             // commits submitted and not yet completed
  std::uint64_t listener_changes_ = 0;  // deliveries of the change listener, ever

  // A resync is also attempted in the background, so /ready recovers without a trade. The
  // same thread adopts the accounts of principals another replica bound first.
  void resync_loop();
  void schedule_resync();
  void adopt_later(const std::string& key);
  void adopt_accounts(std::unique_lock<std::mutex>& lock);  // runs to_adopt_; `lock` holds resync_mu_
  std::mutex resync_mu_;
  std::condition_variable resync_cv_;
  bool stopping_ = false;
  std::deque<std::string> to_adopt_;  // account keys; guarded by resync_mu_
  std::thread resyncer_;

  std::atomic<std::uint64_t> orders_sent_{0};
  std::atomic<std::uint64_t> fills_{0};
  std::atomic<std::uint64_t> rejections_{0};
  std::atomic<std::uint64_t> replays_{0};
};

}  // namespace permiso::trading
