// See maintenance.hpp.
#include "maintenance.hpp"

#include "auth/audit_log.hpp"
#include "auth/client_cache.hpp"
#include "auth/context.hpp"
#include "auth/revocation_list.hpp"
#include "jose/key_store.hpp"
#include "storage/storage.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

namespace permiso::app {
namespace {
using SteadyClock = std::chrono::steady_clock;
constexpr std::int64_t kFeedPage = 1000;
// How long client changes stay in the feed. A replica whose cursor falls further behind (down
// or cut off from the database longer) re-reads every client once on its next catch-up.
constexpr std::int64_t kClientChangeRetentionS = 86'400;
}  // namespace

Maintenance::Maintenance(const auth::AuthDeps& deps, Intervals intervals) : deps_(deps), intervals_(intervals) {}

Maintenance::~Maintenance() {
  stop();
}

void Maintenance::poll_revocations() {
  for (;;) {
    const auto cursor = static_cast<std::int64_t>(deps_.revocations.cursor());
    auto page = deps_.storage.revocations_since(cursor, kFeedPage);
    if (!page) {
      ready_.store(false);
      return;
    }
    for (const auto& r : *page) {
      auth::RevocationList::Kind kind{};
      std::string id;
      if (auth::RevocationList::parse_storage_key(r.key, kind, id)) {
        deps_.revocations.add(kind, id, r.expires_at);
      }
      deps_.revocations.advance_cursor(static_cast<std::uint64_t>(r.seq));
    }
    if (static_cast<std::int64_t>(page->size()) < kFeedPage) return;
  }
}

bool Maintenance::purge() {
  const auto t = deps_.clock.now_seconds();
  deps_.revocations.purge(t);
  (void)deps_.storage.purge_expired_revocations(t);
  (void)deps_.storage.purge_expired_authorization_codes(t);
  if (auto r = deps_.storage.purge_client_changes(t - kClientChangeRetentionS); !r) {
    spdlog::warn("maintenance: client change feed purge failed: {}", storage::to_string(r.error()));
  }
  auto audit = auth::purge_old_audit(deps_.storage, t, audit_retention_days_);
  if (!audit) {
    spdlog::warn("maintenance: audit purge failed: {}", storage::to_string(audit.error()));
    return false;
  }
  if (audit->purged > 0)
    spdlog::info("maintenance: purged {} audit events older than {} days", audit->purged, audit_retention_days_);
  return audit->more;
}

void Maintenance::run_once() {
  ready_.store(static_cast<bool>(deps_.storage.ping()));
  poll_revocations();
  if (auto r = deps_.clients.reload(deps_.storage); !r) {
    spdlog::warn("maintenance: client cache reload failed: {}", storage::to_string(r.error()));
  }
  deps_.keys.tick(deps_.clock.now_seconds());
}

void Maintenance::start() {
  thread_ = std::thread([this] { loop(); });
}

void Maintenance::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Maintenance::poke() {
  {
    std::lock_guard lock(mutex_);
    poked_ = true;
  }
  wake_.notify_all();
}

void Maintenance::loop() {
  using std::chrono::milliseconds;
  auto now = SteadyClock::now();
  auto next_revocations = now;
  auto next_clients = now + milliseconds(intervals_.clients_ms);
  auto next_keys = now + milliseconds(intervals_.keys_ms);
  auto next_purge = now + milliseconds(intervals_.purge_ms);
  auto next_ready = now + milliseconds(intervals_.readiness_ms);
  const bool refreshes_secrets = refresh_secrets_ && intervals_.secrets_ms > 0;
  auto next_secrets = refreshes_secrets ? now + milliseconds(intervals_.secrets_ms) : SteadyClock::time_point::max();
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const auto deadline = std::min({next_revocations, next_clients, next_keys, next_purge, next_ready, next_secrets});
    wake_.wait_until(lock, deadline, [&] { return stopping_ || poked_; });
    if (stopping_) break;
    const bool poked = poked_;
    poked_ = false;
    lock.unlock();
    now = SteadyClock::now();
    try {
      if (poked || now >= next_revocations) {
        poll_revocations();
        next_revocations = now + milliseconds(intervals_.revocations_ms);
      }
      if (now >= next_ready) {
        ready_.store(static_cast<bool>(deps_.storage.ping()));
        next_ready = now + milliseconds(intervals_.readiness_ms);
      }
      if (now >= next_clients) {
        if (auto r = deps_.clients.catch_up(deps_.storage); !r) {
          spdlog::warn("maintenance: client cache catch-up failed: {}", storage::to_string(r.error()));
        }
        next_clients = now + milliseconds(intervals_.clients_ms);
      }
      if (now >= next_keys) {
        deps_.keys.tick(deps_.clock.now_seconds());
        next_keys = now + milliseconds(intervals_.keys_ms);
      }
      if (now >= next_purge) {
        // A backlog of old audit events (a first start with retention, a burst) is worked off
        // a pass a second rather than in one long hold on the database.
        next_purge = now + milliseconds(purge() ? 1000 : intervals_.purge_ms);
      }
      if (now >= next_secrets) {
        refresh_secrets_();
        next_secrets = now + milliseconds(intervals_.secrets_ms);
      }
    } catch (const std::exception& ex) {
      // A bug in one task must not end upkeep for the life of the process.
      spdlog::error("maintenance: {}", ex.what());
    }
    lock.lock();
  }
}

}  // namespace permiso::app
