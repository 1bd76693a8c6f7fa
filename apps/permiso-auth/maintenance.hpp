// Background upkeep of a permiso-auth replica: applies the revocation feed to the in-memory
// revocation list, brings the client cache up to date from the client change feed (other
// replicas' changes; a full read only at start-up or when the feed cannot say what changed),
// promotes and retires signing keys, purges expired revocations and codes, client changes older
// than a day and audit events past their retention,
// tracks storage readiness and re-reads secrets.
// One thread, so none of this ever runs on an I/O thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

namespace permiso::auth {
struct AuthDeps;
}

namespace permiso::app {

class Maintenance {
 public:
  struct Intervals {
    int revocations_ms = 500;  // well inside the contract's 2 s revocation bound
    int clients_ms = 2000;     // other replicas' client changes (disable, rotation) within 2 s: a feed poll
    int keys_ms = 1000;
    int purge_ms = 60'000;
    int readiness_ms = 1000;
    int secrets_ms = 0;  // the secrets task's period; 0: never
  };

  Maintenance(const auth::AuthDeps& deps, Intervals intervals);
  ~Maintenance();
  Maintenance(const Maintenance&) = delete;
  Maintenance& operator=(const Maintenance&) = delete;

  /// Runs every task once, synchronously (start-up: the replica starts with a current view).
  void run_once();
  /// The task run every `secrets_ms` (set before start()).
  void refresh_secrets_with(std::function<void()> task) { refresh_secrets_ = std::move(task); }
  /// Audit events older than this many days are purged (0: kept forever; set before start()).
  void keep_audit_for(std::int64_t days) { audit_retention_days_ = days; }
  void start();
  void stop();
  /// Wakes the loop to poll the revocation feed now (after a local revocation).
  void poke();

  [[nodiscard]] bool storage_ready() const { return ready_.load(); }

 private:
  void loop();
  void poll_revocations();
  /// Purges what has expired; true when more audit events are due than one pass removes.
  bool purge();

  const auth::AuthDeps& deps_;
  Intervals intervals_;
  std::function<void()> refresh_secrets_;
  std::int64_t audit_retention_days_ = 0;
  std::atomic<bool> ready_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool poked_ = false;
  std::thread thread_;
};

}  // namespace permiso::app
