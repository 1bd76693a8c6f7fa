// See maintenance.hpp.
#include "maintenance.hpp"

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
}  // namespace

Maintenance::Maintenance(auth::AuthContext& ctx, Intervals intervals) : ctx_(ctx), intervals_(intervals) {}

Maintenance::~Maintenance() {
  stop();
}

void Maintenance::poll_revocations() {
  for (;;) {
    const auto cursor = static_cast<std::int64_t>(ctx_.revocations.cursor());
    auto page = ctx_.storage.revocations_since(cursor, kFeedPage);
    if (!page) {
      ready_.store(false);
      return;
    }
    for (const auto& r : *page) {
      auth::RevocationList::Kind kind{};
      std::string id;
      if (auth::RevocationList::parse_storage_key(r.key, kind, id)) {
        ctx_.revocations.add(kind, id, r.expires_at);
      }
      ctx_.revocations.advance_cursor(static_cast<std::uint64_t>(r.seq));
    }
    if (static_cast<std::int64_t>(page->size()) < kFeedPage) return;
  }
}

void Maintenance::run_once() {
  ready_.store(static_cast<bool>(ctx_.storage.ping()));
  poll_revocations();
  if (auto r = ctx_.clients.reload(ctx_.storage); !r) {
    spdlog::warn("maintenance: client cache reload failed: {}", storage::to_string(r.error()));
  }
  ctx_.keys.tick(ctx_.clock.now_seconds());
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
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const auto deadline = std::min({next_revocations, next_clients, next_keys, next_purge, next_ready});
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
        ready_.store(static_cast<bool>(ctx_.storage.ping()));
        next_ready = now + milliseconds(intervals_.readiness_ms);
      }
      if (now >= next_clients) {
        if (auto r = ctx_.clients.reload(ctx_.storage); !r) {
          spdlog::warn("maintenance: client cache reload failed: {}", storage::to_string(r.error()));
        }
        next_clients = now + milliseconds(intervals_.clients_ms);
      }
      if (now >= next_keys) {
        ctx_.keys.tick(ctx_.clock.now_seconds());
        next_keys = now + milliseconds(intervals_.keys_ms);
      }
      if (now >= next_purge) {
        const auto t = ctx_.clock.now_seconds();
        ctx_.revocations.purge(t);
        (void)ctx_.storage.purge_expired_revocations(t);
        next_purge = now + milliseconds(intervals_.purge_ms);
      }
    } catch (const std::exception& ex) {
      // A bug in one task must not end upkeep for the life of the process.
      spdlog::error("maintenance: {}", ex.what());
    }
    lock.lock();
  }
}

}  // namespace permiso::app
