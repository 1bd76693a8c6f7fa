// GatewayService: idempotency gate → the caller's account → broker step → render → group
// commit → answer; refusals (refusal_of a retcode) as ServiceError; resync after a failed commit.
#include "trading/service/gateway_service.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <future>
#include <limits>
#include <unordered_set>
#include <utility>

namespace permiso::trading {

std::string_view to_string(ServiceError e) {
  switch (e) {
    case ServiceError::Validation:
      return "validation_error";
    case ServiceError::NotFound:
      return "not_found";
    case ServiceError::Conflict:
      return "conflict";
    case ServiceError::IdempotencyKeyReused:
      return "idempotency_key_reused";
    case ServiceError::BrokerRefused:
      return "broker_refused";
    case ServiceError::BrokerUnavailable:
      return "broker_unavailable";
    case ServiceError::OutcomePending:
      return "outcome_pending";
    case ServiceError::StorageUnavailable:
      return "storage_unavailable";
  }
  return "storage_unavailable";
}

std::string_view to_string(const ServiceFailure& f) {
  return to_string(f.code);
}

namespace {

ServiceFailure fail(ServiceError code, std::string field, std::string message,
                    std::optional<Retcode> retcode = std::nullopt) {
  return ServiceFailure{code, std::move(field), std::move(message), retcode};
}
ServiceFailure storage_down(std::string_view why = "storage unavailable") {
  return fail(ServiceError::StorageUnavailable, "", std::string(why));
}
ServiceFailure key_reused() {
  return fail(ServiceError::IdempotencyKeyReused, "idempotency_key",
              "the idempotency key was used with a different request");
}

bool is_buy(OrderType t) {
  return t == OrderType::Buy || t == OrderType::BuyLimit || t == OrderType::BuyStop;
}
bool is_market(OrderType t) {
  return t == OrderType::Buy || t == OrderType::Sell;
}

/// Which of the stops the broker refused: the one on the wrong side of `reference`.
std::string stops_field(bool buy, double sl, double tp, double reference) {
  if (sl != 0 && tp == 0) return "stop_loss";
  if (tp != 0 && sl == 0) return "take_profit";
  if (reference > 0) {
    if (buy ? sl >= reference : sl <= reference) return "stop_loss";
    if (buy ? tp <= reference : tp >= reference) return "take_profit";
  }
  return "stop_loss";
}

/// The broker's refusal as the service's failure, naming the request field it concerns.
ServiceFailure refusal(const TradeResult& r, const TradeRequest& req) {
  std::string msg = r.comment.empty() ? std::string(to_string(r.retcode)) : r.comment;
  const auto rc = r.retcode;
  switch (refusal_of(rc)) {
    case Refusal::InsufficientMargin:
    case Refusal::InvalidVolume:
    case Refusal::VolumeLimit:
      return fail(ServiceError::BrokerRefused, "volume", msg, rc);
    case Refusal::InvalidPrice:
    case Refusal::PriceChanged:
      return fail(ServiceError::BrokerRefused, "price", msg, rc);
    case Refusal::InvalidStops: {
      const bool buy = req.action == TradeAction::SlTp ? req.type == OrderType::Buy : is_buy(req.type);
      double reference = req.action == TradeAction::Pending ? req.price : (buy ? r.bid : r.ask);
      return fail(ServiceError::BrokerRefused, stops_field(buy, req.sl, req.tp, reference), msg, rc);
    }
    case Refusal::TradeDisabled:
    case Refusal::MarketClosed:
      return fail(ServiceError::BrokerRefused, "symbol", msg, rc);
    case Refusal::InvalidFilling:
      return fail(ServiceError::BrokerRefused, "filling", msg, rc);
    case Refusal::PositionClosed:
      return fail(ServiceError::Conflict, "id", "trade is already closed", rc);
    case Refusal::Unreachable:
      return fail(ServiceError::BrokerUnavailable, "", msg, rc);
    case Refusal::TimedOut:
      return fail(ServiceError::OutcomePending, "", msg, rc);
    default:
      return fail(ServiceError::BrokerRefused, "", msg, rc);
  }
}

bool finite(double d) {
  return std::isfinite(d);
}

const Position* find_position(const Changes& ch, Ticket t) {
  for (const auto& p : ch.positions) {
    if (p.ticket == t) return &p;
  }
  return nullptr;
}

/// A placed pending order rendered as a trade (what POST /trades answers for limit/stop types).
Position position_of_order(const Order& o) {
  Position p;
  p.ticket = o.ticket;
  p.login = o.login;
  p.symbol = o.symbol;
  p.type = is_buy(o.type) ? PositionType::Buy : PositionType::Sell;
  p.volume = o.volume_current;
  p.price_open = o.price_open;
  p.price_current = o.price_current;
  p.sl = o.sl;
  p.tp = o.tp;
  p.magic = o.magic;
  p.comment = o.comment;
  p.time_msc = o.time_setup_msc;
  p.time_update_msc = o.time_setup_msc;
  return p;
}

/// caller + key, length-prefixed so no (caller, key) pair can spell another's.
std::string full_key_of(std::string_view account_key, std::string_view key) {
  std::string s = std::to_string(account_key.size());
  s += ':';
  s += account_key;
  s += key;
  return s;
}

bool is_key_conflict(const storage::StorageFailure& f) {
  return f.code == storage::StorageError::Conflict && f.field == "idempotency_key";
}

}  // namespace

/// Every unexpired idempotency key in use (hashes of caller + key), so that with an exclusive
/// store a key absent here is absent from the store: no lookup on the hot path. Bounded: past
/// the cap the oldest are evicted and "absent" is not trusted until they would have expired.
class GatewayService::KeyIndex {
 public:
  KeyIndex(std::size_t cap, std::int64_t ttl) : cap_(std::max<std::size_t>(1, cap)), ttl_(ttl) {}

  void add(std::uint64_t hash, std::int64_t created_at, std::int64_t now) {
    auto [it, inserted] = seen_.try_emplace(hash, created_at);
    if (!inserted) it->second = std::max(it->second, created_at);
    order_.emplace_back(hash, created_at);
    while (!order_.empty()) {
      const auto [h, t] = order_.front();
      const bool expired = t < now - ttl_;
      if (!expired && seen_.size() <= cap_) break;
      if (!expired) evicted_upto_ = std::max(evicted_upto_, t);
      order_.pop_front();
      if (auto e = seen_.find(h); e != seen_.end() && e->second == t) seen_.erase(e);
    }
  }
  /// Whether the key is certainly not recorded (so the store need not be asked).
  [[nodiscard]] bool absent(std::uint64_t hash, std::int64_t now) const {
    if (evicted_upto_ >= now - ttl_) return false;  // an evicted key may still be live
    return !seen_.contains(hash);
  }
  /// Loaded from more keys than fit: trust "absent" only after the oldest loaded expires.
  void incomplete_until(std::int64_t created_at) { evicted_upto_ = std::max(evicted_upto_, created_at); }

 private:
  std::size_t cap_;
  std::int64_t ttl_;
  std::unordered_map<std::uint64_t, std::int64_t> seen_;
  std::deque<std::pair<std::uint64_t, std::int64_t>> order_;  // by created_at
  std::int64_t evicted_upto_ = std::numeric_limits<std::int64_t>::min();
};

GatewayService::GatewayService(Broker& broker, TradeStore& store, const Clock& clock, GatewayOptions options)
    : broker_(broker), store_(store), clock_(clock), options_(std::move(options)) {}

GatewayService::~GatewayService() {
  ready_ = false;
  {
    std::lock_guard lock(resync_mu_);
    stopping_ = true;
  }
  resync_cv_.notify_all();
  if (resyncer_.joinable()) resyncer_.join();
  broker_.set_change_listener(nullptr);
  std::unique_lock lock(pending_mu_);
  pending_cv_.wait(lock, [&] { return pending_ == 0; });  // completions capture `this`
}

ServiceResult<void> GatewayService::start() {
  auto state = store_.load(options_.restore_history);
  if (!state) return storage_down(state.error().message);
  broker_.restore(state->broker);
  {
    std::lock_guard lock(mu_);
    logins_.clear();
    for (const auto& b : state->bindings) logins_[b.account_key] = b.login;
  }
  if (options_.exclusive_store) {
    const std::size_t cap = std::max<std::size_t>(1, options_.idempotency_index);
    auto keys = store_.recent_idempotency_keys(cap);
    if (!keys) return storage_down(keys.error().message);
    auto index = std::make_unique<KeyIndex>(cap, options_.idempotency_ttl_seconds);
    const std::int64_t now = clock_.now_seconds();
    for (auto it = keys->rbegin(); it != keys->rend(); ++it) {  // oldest first
      index->add(std::hash<std::string>{}(full_key_of(it->caller, it->key)), it->created_at, now);
    }
    if (keys->size() >= cap && !keys->empty()) index->incomplete_until(keys->back().created_at);
    std::lock_guard lock(mu_);
    index_ = std::move(index);
  }
  // Broker-initiated changes (SL/TP, pending fills, stop-out) go through the same writer.
  // Never blocks the broker's thread: a refused or failed commit only schedules a resync.
  broker_.set_change_listener([this](const Changes& ch) {
    if (ch.empty()) return;
    {
      std::lock_guard lock(pending_mu_);
      ++pending_;
      ++listener_changes_;  // a resync that overlaps this delivery runs again
    }
    CommitRequest r;
    r.changes = ch;
    r.done = [this, published = for_listener(ch)](StoreStatus st) {
      if (st) committed(published);
      end_commit();
      if (!st) schedule_resync();
    };
    store_.submit(std::move(r));
  });
  needs_resync_ = false;
  ready_ = true;
  if (!resyncer_.joinable()) resyncer_ = std::thread([this] { resync_loop(); });
  return {};
}

void GatewayService::set_committed_listener(CommittedListener listener) {
  committed_listener_ = std::move(listener);
}

void GatewayService::set_broker_timer(BrokerTimer timer) {
  broker_timer_ = std::move(timer);
}

SendOutcome GatewayService::order_send(Login login, const TradeRequest& request) {
  orders_sent_.fetch_add(1, std::memory_order_relaxed);
  const auto start = std::chrono::steady_clock::now();
  auto outcome = broker_.order_send(login, request);
  if (broker_timer_) broker_timer_(request.action, std::chrono::steady_clock::now() - start);
  return outcome;
}

Changes GatewayService::for_listener(const Changes& changes) const {
  return committed_listener_ ? changes : Changes{};
}

void GatewayService::committed(const Changes& changes) const {
  if (committed_listener_ && !changes.empty()) committed_listener_(changes);
}

void GatewayService::adopt_later(const std::string& key) {
  {
    std::lock_guard lock(resync_mu_);
    if (!stopping_) {
      to_adopt_.push_back(key);
      resync_cv_.notify_one();
      return;
    }
  }
  finish_opening(key, storage_down("mt5-api is stopping"));
}

void GatewayService::adopt_accounts(std::unique_lock<std::mutex>& lock) {
  while (!to_adopt_.empty()) {
    const std::string key = std::move(to_adopt_.front());
    to_adopt_.pop_front();
    lock.unlock();
    if (!attach_bound_account(key)) finish_opening(key, storage_down("the account's binding is not in storage"));
    lock.lock();
  }
}

void GatewayService::schedule_resync() {
  needs_resync_ = true;
  resync_cv_.notify_one();
}

void GatewayService::resync_loop() {
  std::unique_lock lock(resync_mu_);
  while (!stopping_) {
    resync_cv_.wait_for(lock, std::chrono::milliseconds(500),
                        [&] { return stopping_ || needs_resync_.load() || !to_adopt_.empty(); });
    adopt_accounts(lock);  // also when stopping: each waits for an answer
    if (stopping_) break;
    if (!needs_resync_) continue;
    lock.unlock();
    const bool ok = static_cast<bool>(resync());
    lock.lock();
    // The database is still down: try again after a pause, not in a tight loop.
    if (!ok) resync_cv_.wait_for(lock, std::chrono::milliseconds(500), [&] { return stopping_; });
  }
}

bool GatewayService::ready() const {
  return ready_ && !needs_resync_;
}

std::optional<Login> GatewayService::login_of(std::string_view account_key) const {
  std::lock_guard lock(mu_);
  auto it = logins_.find(std::string(account_key));
  if (it == logins_.end()) return std::nullopt;
  return it->second;
}

// ---------------------------------------------------------------- commits and resync

void GatewayService::begin_commit() {
  std::lock_guard lock(pending_mu_);
  ++pending_;
}

void GatewayService::end_commit() {
  {
    std::lock_guard lock(pending_mu_);
    --pending_;
  }
  pending_cv_.notify_all();
}

bool GatewayService::submit(CommitRequest request) {
  begin_commit();
  return store_.submit(std::move(request));  // a refusal calls done (→ end_commit) inline
}

ServiceResult<void> GatewayService::before_step(std::shared_lock<std::shared_mutex>& lock) {
  if (needs_resync_) {
    if (auto st = resync(); !st) return st;
  }
  lock = std::shared_lock(state_mu_);
  return {};
}

ServiceResult<void> GatewayService::resync() {
  // No broker step of ours starts while we wait for every submitted commit to settle, reload
  // what storage holds and restore the broker to it: a trade that storage refused is gone
  // from memory before that account trades again. Completions never take state_mu_.
  // The broker's own thread keeps delivering changes meanwhile; one delivered after `before`
  // may reach storage after load() while restore() reverts it in memory, so such a pass is
  // repeated until none overlapped (storage then holds every change memory has).
  std::unique_lock lock(state_mu_);
  if (!needs_resync_) return {};
  for (int attempt = 0; attempt < 8; ++attempt) {
    std::uint64_t before = 0;
    {
      std::unique_lock p(pending_mu_);
      before = listener_changes_;
      pending_cv_.wait(p, [&] { return pending_ == 0; });
    }
    auto state = store_.load(options_.restore_history);
    if (!state) return storage_down(state.error().message);  // still due: retried
    broker_.restore(state->broker);
    {
      std::lock_guard l(mu_);
      logins_.clear();
      for (const auto& b : state->bindings) logins_[b.account_key] = b.login;
    }
    std::lock_guard p(pending_mu_);
    if (listener_changes_ == before) {
      needs_resync_ = false;
      return {};
    }
  }
  return storage_down("broker changes kept arriving during the resync");  // still due
}

// ---------------------------------------------------------------- accounts

void GatewayService::finish_opening(const std::string& key, const ServiceResult<Login>& result) {
  std::vector<LoginDone> waiters;
  {
    std::lock_guard lock(mu_);
    if (result) logins_[key] = *result;
    if (auto it = opening_.find(key); it != opening_.end()) {
      waiters = std::move(it->second);
      opening_.erase(it);
    }
  }
  for (auto& w : waiters) w(result);
}

void GatewayService::open_account_async(const Caller& caller, LoginDone done) {
  const std::string& key = caller.account_key;
  {
    std::unique_lock lock(mu_);
    if (auto it = logins_.find(key); it != logins_.end()) {
      const Login login = it->second;
      lock.unlock();
      done(login);
      return;
    }
    auto [it, first] = opening_.try_emplace(key);
    it->second.push_back(std::move(done));
    if (!first) return;  // the first caller's opening answers this one too
  }
  std::shared_lock<std::shared_mutex> step;
  if (auto st = before_step(step); !st) {
    finish_opening(key, st.error());
    return;
  }
  if (!options_.exclusive_store && attach_bound_account(key)) return;
  std::string name = caller.display_name.empty() ? caller.account_key : caller.display_name;
  if (name.size() > 256) name.resize(256);
  auto outcome = broker_.open_account(name, options_.currency, options_.leverage, options_.deposit);
  if (!is_success(outcome.result.retcode) || outcome.changes.accounts.empty()) {
    finish_opening(key, fail(ServiceError::BrokerRefused, "", outcome.result.comment, outcome.result.retcode));
    return;
  }
  const Login login = outcome.changes.accounts.front().login;
  CommitRequest r;
  r.changes = std::move(outcome.changes);
  r.binding = AccountBinding{key, login};
  r.done = [this, key, login, published = for_listener(r.changes)](StoreStatus st) {
    end_commit();
    if (st) {
      committed(published);
      finish_opening(key, login);
      return;
    }
    if (!options_.exclusive_store && st.error().code == storage::StorageError::Conflict) {
      // Another replica bound this principal first (both met it at once): serve its account,
      // off the writer thread. The one this replica opened stays unused on the broker.
      adopt_later(key);
      return;
    }
    // The broker holds an account storage does not: drop it at the next step.
    schedule_resync();
    finish_opening(key, storage_down(st.error().message));
  };
  submit(std::move(r));
}

bool GatewayService::answers_from_memory(const Caller& caller) const {
  return options_.exclusive_store || login_of(caller.account_key).has_value();
}

ServiceResult<std::optional<Login>> GatewayService::reader_login(const Caller& caller) {
  if (auto login = login_of(caller.account_key); login || options_.exclusive_store) return login;
  return attach_bound(caller.account_key);
}

ServiceResult<std::optional<Login>> GatewayService::attach_bound(const std::string& key) {
  auto bound = store_.find_binding(key);
  if (!bound) return storage_down(bound.error().message);
  if (!bound->has_value()) return std::optional<Login>{};  // no account anywhere yet
  // The account exists: an empty answer would hide its trades, so a broker that cannot be
  // read is a 503, as for any other broker call.
  if (!broker_.attach_account(**bound)) {
    return fail(ServiceError::BrokerUnavailable, "", "the broker did not answer for the account");
  }
  std::lock_guard lock(mu_);
  logins_.emplace(key, **bound);
  return std::optional<Login>{**bound};
}

bool GatewayService::attach_bound_account(const std::string& key) {
  auto found = attach_bound(key);
  if (found && !*found) return false;
  finish_opening(key, found ? ServiceResult<Login>(**found) : ServiceResult<Login>(found.error()));
  return true;
}

ServiceResult<Login> GatewayService::ensure_login(const Caller& caller) {
  if (auto l = login_of(caller.account_key)) return *l;
  auto promise = std::make_shared<std::promise<ServiceResult<Login>>>();
  auto fut = promise->get_future();
  open_account_async(caller, [promise](ServiceResult<Login> r) { promise->set_value(std::move(r)); });
  return fut.get();  // the store always completes (commit, failure or refusal)
}

void GatewayService::account(const Caller& caller, Done<AccountInfo> done) {
  if (caller.account_key.empty()) {
    done(fail(ServiceError::Validation, "account_key", "no principal"));
    return;
  }
  open_account_async(caller, [this, done = std::move(done)](ServiceResult<Login> login) {
    if (!login) {
      done(login.error());
      return;
    }
    auto info = broker_.account_info(*login);
    if (!info) {
      done(fail(ServiceError::NotFound, "account", "account not found"));
      return;
    }
    done(*info);
  });
}

// ---------------------------------------------------------------- idempotency

void GatewayService::remember(const std::string& full_key, Answer answer) {
  std::lock_guard lock(mu_);
  if (index_) index_->add(std::hash<std::string>{}(full_key), answer.created_at, clock_.now_seconds());
  if (options_.idempotency_cache == 0) return;
  auto [it, inserted] = answers_.insert_or_assign(full_key, std::move(answer));
  if (inserted) answer_order_.push_back(full_key);
  while (answers_.size() > options_.idempotency_cache && !answer_order_.empty()) {
    answers_.erase(answer_order_.front());
    answer_order_.pop_front();
  }
}

std::optional<GatewayService::Answer> GatewayService::recalled(const std::string& full_key) {
  // Caller holds mu_.
  auto it = answers_.find(full_key);
  if (it == answers_.end()) return std::nullopt;
  if (it->second.created_at < clock_.now_seconds() - options_.idempotency_ttl_seconds) {
    answers_.erase(it);  // its key stays in answer_order_ until it reaches the front
    return std::nullopt;
  }
  return it->second;
}

void GatewayService::finish_inflight(const std::string& full_key, const ServiceResult<StoredAnswer>& result) {
  std::vector<Done<StoredAnswer>> waiters;
  {
    std::lock_guard lock(mu_);
    if (auto it = inflight_.find(full_key); it != inflight_.end()) {
      waiters = std::move(it->second.waiters);
      inflight_.erase(it);
    }
  }
  for (auto& w : waiters) {
    if (result) {
      StoredAnswer replay = *result;
      replay.replayed = true;
      replays_.fetch_add(1, std::memory_order_relaxed);
      w(std::move(replay));
    } else {
      w(result.error());
    }
  }
}

// ---------------------------------------------------------------- trades

std::optional<ServiceFailure> GatewayService::check_open_trade(const Caller& caller, const OpenTrade& request) const {
  if (caller.account_key.empty()) return fail(ServiceError::Validation, "account_key", "no principal");
  // Numbers first: the broker must never see NaN or infinity.
  if (!finite(request.volume) || request.volume <= 0) {
    return fail(ServiceError::Validation, "volume", "volume must be a positive number");
  }
  if (request.price && (!finite(*request.price) || *request.price < 0)) {
    return fail(ServiceError::Validation, "price", "price must be a finite positive number");
  }
  if (!finite(request.sl) || request.sl < 0) {
    return fail(ServiceError::Validation, "stop_loss", "stop_loss must be a finite number >= 0");
  }
  if (!finite(request.tp) || request.tp < 0) {
    return fail(ServiceError::Validation, "take_profit", "take_profit must be a finite number >= 0");
  }
  if (!is_market(request.type) && !(request.price && *request.price > 0)) {
    return fail(ServiceError::Validation, "price", "a pending order needs its trigger price");
  }
  if (!broker_.symbol_info(request.symbol)) return fail(ServiceError::Validation, "symbol", "unknown symbol");
  return std::nullopt;
}

GatewayService::KeyClaim GatewayService::claim_in_memory(const OpenTrade& request, const std::string& full_key,
                                                         Done<StoredAnswer>& done) {
  std::unique_lock lock(mu_);
  if (auto a = recalled(full_key)) {
    lock.unlock();
    if (a->fingerprint != request.fingerprint) {
      done(key_reused());
      return KeyClaim::Answered;
    }
    replays_.fetch_add(1, std::memory_order_relaxed);
    done(StoredAnswer{a->status, a->body, true});
    return KeyClaim::Answered;
  }
  if (auto it = inflight_.find(full_key); it != inflight_.end()) {
    if (it->second.fingerprint != request.fingerprint) {
      lock.unlock();
      done(key_reused());
      return KeyClaim::Answered;
    }
    it->second.waiters.push_back(std::move(done));  // answered when the first completes
    return KeyClaim::Answered;
  }
  inflight_.emplace(full_key, InFlight{request.fingerprint, {}});
  const bool known_new = index_ && index_->absent(std::hash<std::string>{}(full_key), clock_.now_seconds());
  return known_new ? KeyClaim::New : KeyClaim::MaybeStored;
}

bool GatewayService::answered_by_idempotency(const Caller& caller, const OpenTrade& request,
                                             const std::string& full_key, Done<StoredAnswer>& done) {
  const auto claim = claim_in_memory(request, full_key, done);
  if (claim != KeyClaim::MaybeStored) return claim == KeyClaim::Answered;
  // Not in memory: another replica, or this one before a restart, may have answered it.
  auto stored = store_.find_idempotency(caller.account_key, request.idempotency_key);
  if (!stored) {
    finish_inflight(full_key, storage_down(stored.error().message));
    done(storage_down(stored.error().message));
    return true;
  }
  if (!stored->has_value()) return false;
  done(answer_from_record(full_key, request.fingerprint, **stored));
  return true;
}

ServiceResult<StoredAnswer> GatewayService::answer_from_record(const std::string& full_key,
                                                               const std::string& fingerprint,
                                                               const IdempotencyRecord& rec) {
  remember(full_key, Answer{rec.fingerprint, rec.status, rec.body, rec.created_at});
  ServiceResult<StoredAnswer> out = key_reused();  // waiters had this request's fingerprint
  if (rec.fingerprint == fingerprint) {
    replays_.fetch_add(1, std::memory_order_relaxed);
    out = StoredAnswer{rec.status, rec.body, true};
  }
  finish_inflight(full_key, out);
  return out;
}

void GatewayService::open_trade(const Caller& caller, OpenTrade request, Render render, Done<StoredAnswer> done) {
  if (auto invalid = check_open_trade(caller, request)) {
    done(*invalid);
    return;
  }
  std::string full_key;
  if (!request.idempotency_key.empty()) {
    full_key = full_key_of(caller.account_key, request.idempotency_key);
    if (answered_by_idempotency(caller, request, full_key, done)) return;
  }

  auto login = ensure_login(caller);
  if (!login) {
    if (!full_key.empty()) finish_inflight(full_key, login.error());
    done(login.error());
    return;
  }
  send_trade(caller, *login, request, full_key, render, std::move(done));
}

void GatewayService::send_trade(const Caller& caller, Login login, const OpenTrade& request,
                                const std::string& full_key, const Render& render, Done<StoredAnswer> done) {
  auto finish_now = [&](const ServiceResult<StoredAnswer>& r) {
    if (!full_key.empty()) finish_inflight(full_key, r);
    done(r);
  };
  TradeRequest req;
  req.action = is_market(request.type) ? TradeAction::Deal : TradeAction::Pending;
  req.symbol = request.symbol;
  req.volume = request.volume;
  req.price = request.price.value_or(0);
  req.sl = request.sl;
  req.tp = request.tp;
  req.deviation = request.deviation;
  req.type = request.type;
  req.type_filling = request.filling.value_or(is_market(request.type) ? Filling::Fok : Filling::Return);
  req.magic = request.magic;
  req.comment = request.comment;
  req.broker_order_id = request.broker_order_id;

  std::shared_lock<std::shared_mutex> step;
  if (auto st = before_step(step); !st) {
    finish_now(st.error());
    return;
  }
  auto outcome = order_send(login, req);
  if (!is_success(outcome.result.retcode)) {
    rejections_.fetch_add(1, std::memory_order_relaxed);
    step.unlock();
    finish_now(refusal(outcome.result, req));
    return;
  }
  Position trade;
  if (const Position* p = find_position(outcome.changes, outcome.result.position)) {
    trade = *p;
  } else {
    auto o = std::find_if(outcome.changes.orders.begin(), outcome.changes.orders.end(),
                          [&](const Order& x) { return x.ticket == outcome.result.order; });
    if (o != outcome.changes.orders.end()) trade = position_of_order(*o);
  }
  StoredAnswer answer = render ? render(trade, outcome.result) : StoredAnswer{201, "{}", false};
  answer.replayed = false;

  CommitRequest r;
  r.changes = std::move(outcome.changes);
  if (!full_key.empty()) {
    r.idempotency = IdempotencyRecord{caller.account_key, request.idempotency_key, request.fingerprint, answer.status,
                                      answer.body,        clock_.now_seconds()};
  }
  const bool filled = outcome.result.retcode != Retcode::Placed;
  r.done = [this, full_key, answer, filled, caller_key = caller.account_key, key = request.idempotency_key,
            fingerprint = request.fingerprint, published = for_listener(r.changes),
            done = std::move(done)](StoreStatus st) mutable {
    end_commit();
    if (!st && !full_key.empty() && is_key_conflict(st.error())) {
      // Another replica recorded this key first: the broker answered both with one order (its
      // id is derived from the key), whose rows that replica committed.
      done(answer_recorded_elsewhere(caller_key, key, full_key, fingerprint));
      return;
    }
    if (!st) {
      // Nothing acknowledged: the broker's memory goes back to storage's before the next step.
      schedule_resync();
      auto f = storage_down(st.error().message);
      if (!full_key.empty()) finish_inflight(full_key, f);
      done(f);
      return;
    }
    committed(published);
    if (filled) fills_.fetch_add(1, std::memory_order_relaxed);
    if (!full_key.empty()) {
      remember(full_key, Answer{fingerprint, answer.status, answer.body, clock_.now_seconds()});
      finish_inflight(full_key, answer);
    }
    done(std::move(answer));
  };
  submit(std::move(r));
}

ServiceResult<StoredAnswer> GatewayService::answer_recorded_elsewhere(const std::string& caller, const std::string& key,
                                                                      const std::string& full_key,
                                                                      const std::string& fingerprint) {
  auto stored = store_.find_idempotency(caller, key);
  if (stored && stored->has_value()) return answer_from_record(full_key, fingerprint, **stored);
  ServiceFailure f = storage_down("the key's record could not be read");
  finish_inflight(full_key, f);
  return f;
}

ServiceResult<Position> GatewayService::open_position_of(Login login, Ticket ticket) {
  // Broker, then closes in flight, then storage: a close registers before its broker step and
  // leaves after its commit settled, so a trade of this login is always seen in one of them.
  if (auto open = broker_.position_get(login, ticket)) return std::move(*open);
  if (closing(login, ticket)) return fail(ServiceError::Conflict, "id", "trade is already closed");
  auto stored = store_.position(login, ticket);
  if (!stored) return storage_down(stored.error().message);
  // Stored but no longer open in the broker: closed, or its close (SL/TP, stop-out) commits now.
  if (stored->has_value()) return fail(ServiceError::Conflict, "id", "trade is already closed");
  return fail(ServiceError::NotFound, "id", "no such trade");
}

void GatewayService::begin_close(const Position& open) {
  std::lock_guard lock(mu_);
  auto [it, first] = closing_.try_emplace(open.ticket);
  if (first) it->second.row = open;
  ++it->second.closers;
}

void GatewayService::end_close(Ticket ticket) {
  std::lock_guard lock(mu_);
  auto it = closing_.find(ticket);
  if (it != closing_.end() && --it->second.closers == 0) closing_.erase(it);
}

std::optional<Position> GatewayService::closing(Login login, Ticket ticket) const {
  std::lock_guard lock(mu_);
  auto it = closing_.find(ticket);
  if (it == closing_.end() || it->second.row.login != login) return std::nullopt;
  return it->second.row;
}

void GatewayService::position_step(Login login, const TradeRequest& req, Done<Position> done) {
  std::shared_lock<std::shared_mutex> step;
  if (auto st = before_step(step); !st) {
    done(st.error());
    return;
  }
  auto outcome = order_send(login, req);
  if (outcome.result.retcode == Retcode::NoChanges) {  // same stops again: nothing to commit
    step.unlock();
    auto p = open_position_of(login, req.position);
    done(std::move(p));
    return;
  }
  if (!is_success(outcome.result.retcode)) {
    rejections_.fetch_add(1, std::memory_order_relaxed);
    step.unlock();
    done(refusal(outcome.result, req));
    return;
  }
  const Position* p = find_position(outcome.changes, req.position);
  if (p != nullptr && p->closed) {
    std::lock_guard lock(mu_);
    if (auto it = closing_.find(p->ticket); it != closing_.end()) it->second.row = *p;
  }
  Position after = p != nullptr ? *p : Position{};
  if (p == nullptr) {
    if (auto open = broker_.position_get(login, req.position)) after = std::move(*open);
  }
  CommitRequest r;
  r.changes = std::move(outcome.changes);
  r.done = [this, after = std::move(after), published = for_listener(r.changes),
            done = std::move(done)](StoreStatus st) mutable {
    end_commit();
    if (!st) {
      schedule_resync();
      done(storage_down(st.error().message));
      return;
    }
    committed(published);
    done(std::move(after));
  };
  submit(std::move(r));
}

void GatewayService::modify_trade(const Caller& caller, Ticket ticket, std::optional<double> sl,
                                  std::optional<double> tp, Done<Position> done) {
  if (sl && (!finite(*sl) || *sl < 0)) {
    done(fail(ServiceError::Validation, "stop_loss", "stop_loss must be a finite number >= 0"));
    return;
  }
  if (tp && (!finite(*tp) || *tp < 0)) {
    done(fail(ServiceError::Validation, "take_profit", "take_profit must be a finite number >= 0"));
    return;
  }
  auto login = login_of(caller.account_key);
  if (!login) {
    done(fail(ServiceError::NotFound, "id", "no such trade"));
    return;
  }
  auto pos = open_position_of(*login, ticket);
  if (!pos) {
    done(pos.error());
    return;
  }
  TradeRequest req;
  req.action = TradeAction::SlTp;
  req.position = ticket;
  req.symbol = pos->symbol;
  req.type = pos->type == PositionType::Buy ? OrderType::Buy : OrderType::Sell;
  req.sl = sl.value_or(pos->sl);
  req.tp = tp.value_or(pos->tp);
  req.magic = pos->magic;
  position_step(*login, req, std::move(done));
}

void GatewayService::close_trade(const Caller& caller, Ticket ticket, Done<Position> done) {
  auto login = login_of(caller.account_key);
  if (!login) {
    done(fail(ServiceError::NotFound, "id", "no such trade"));
    return;
  }
  auto pos = open_position_of(*login, ticket);
  if (!pos) {
    done(pos.error());
    return;
  }
  TradeRequest req;
  req.action = TradeAction::Deal;
  req.position = ticket;
  req.symbol = pos->symbol;
  req.volume = pos->volume;
  req.type = pos->type == PositionType::Buy ? OrderType::Sell : OrderType::Buy;
  req.type_filling = Filling::Fok;
  req.deviation = 1'000'000;  // a close at market is never refused for slippage
  req.magic = pos->magic;
  begin_close(*pos);
  position_step(*login, req, [this, ticket, done = std::move(done)](ServiceResult<Position> r) {
    end_close(ticket);
    done(std::move(r));
  });
}

// ---------------------------------------------------------------- reads

ServiceResult<TradePage> GatewayService::list_trades(const Caller& caller, const TradeListQuery& query) {
  TradePage page;
  const std::size_t limit = std::clamp<std::size_t>(query.limit, 1, 1000);
  auto found = reader_login(caller);
  if (!found) return found.error();
  if (!*found) return page;
  const Login login = **found;

  // Each source gives its own newest limit + 1 at most, so the merge below sorts at most
  // 2 × (limit + 1) rows whatever the account holds. A position both open in the broker and
  // already stored closed (its close commits now) is in the page once, as the broker has it.
  std::vector<Position> rows;
  if (query.status != TradeListQuery::Status::Closed) {
    rows = broker_.positions_page(login, query.symbol, query.cursor, limit + 1);
  }
  if (query.status != TradeListQuery::Status::Open) {
    auto closed = store_.closed_positions(login, query.symbol, query.cursor, limit + 1);
    if (!closed) return storage_down(closed.error().message);
    std::unordered_set<Ticket> open;
    for (const auto& p : rows) open.insert(p.ticket);
    for (auto& p : *closed) {
      if (!open.contains(p.ticket)) rows.push_back(std::move(p));
    }
  }
  std::sort(rows.begin(), rows.end(), [](const Position& a, const Position& b) { return a.ticket > b.ticket; });
  if (rows.size() > limit) {
    rows.resize(limit);
    page.next_cursor = rows.back().ticket;
  }
  page.trades = std::move(rows);
  return page;
}

ServiceResult<Position> GatewayService::get_trade(const Caller& caller, Ticket ticket) {
  auto found = reader_login(caller);
  if (!found) return found.error();
  if (!*found) return fail(ServiceError::NotFound, "id", "no such trade");
  const Login login = **found;
  if (auto open = broker_.position_get(login, ticket)) return std::move(*open);
  if (auto c = closing(login, ticket)) return std::move(*c);  // closed, its commit in flight
  auto stored = store_.position(login, ticket);
  if (!stored) return storage_down(stored.error().message);
  if (!stored->has_value()) return fail(ServiceError::NotFound, "id", "no such trade");
  return std::move(**stored);
}

ServiceResult<std::vector<Order>> GatewayService::orders(const Caller& caller) {
  auto found = reader_login(caller);
  if (!found) return found.error();
  if (!*found) return std::vector<Order>{};
  return broker_.orders_get(**found);
}

ServiceResult<DealPage> GatewayService::deals(const Caller& caller, const DealListQuery& query) {
  DealPage page;
  const std::size_t limit = std::clamp<std::size_t>(query.limit, 1, DealListQuery::kMaxLimit);
  auto found = reader_login(caller);
  if (!found) return found.error();
  if (!*found || query.to_msc <= query.from_msc) return page;
  const Login login = **found;
  auto key = [](const Deal& d) { return DealCursor{d.time_msc, d.ticket}; };
  auto stored = store_.deals(login, query.from_msc, query.to_msc, query.after, limit + 1);
  if (!stored) return storage_down(stored.error().message);
  std::vector<Deal> rows = std::move(*stored);
  std::unordered_set<Ticket> seen;
  for (const auto& d : rows) seen.insert(d.ticket);
  // A broker-initiated deal (SL/TP, stop-out) is in memory a moment before it is committed.
  for (auto& d : broker_.history_deals_get(login, query.from_msc, query.to_msc)) {
    if (query.after && key(d) <= *query.after) continue;
    if (seen.insert(d.ticket).second) rows.push_back(std::move(d));
  }
  std::sort(rows.begin(), rows.end(), [&](const Deal& x, const Deal& y) { return key(x) < key(y); });
  if (rows.size() > limit) {
    rows.resize(limit);
    page.next_cursor = key(rows.back());
  }
  page.deals = std::move(rows);
  return page;
}

TradingService::Stats GatewayService::stats() const {
  Stats s;
  std::vector<Login> logins;
  {
    std::lock_guard lock(mu_);
    logins.reserve(logins_.size());
    for (const auto& [key, login] : logins_) logins.push_back(login);
  }
  s.accounts = logins.size();
  for (Login l : logins) s.open_positions += broker_.positions_total(l);
  s.orders_sent = orders_sent_.load(std::memory_order_relaxed);
  s.fills = fills_.load(std::memory_order_relaxed);
  s.rejections = rejections_.load(std::memory_order_relaxed);
  const auto st = store_.stats();
  s.commits = st.committed;
  s.commit_batches = st.batches;
  s.idempotent_replays = replays_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace permiso::trading
