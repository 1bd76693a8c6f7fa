// Injected time source: domain code never reads the system clock directly, so tests control time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace permiso {

class Clock {
 public:
  virtual ~Clock() = default;
  /// Seconds since the Unix epoch (JWT NumericDate resolution).
  [[nodiscard]] virtual std::int64_t now_seconds() const = 0;
  /// Milliseconds since the Unix epoch (quote, trade and deal times). A clock that keeps only
  /// seconds answers the start of its second.
  [[nodiscard]] virtual std::int64_t now_ms() const { return now_seconds() * 1000; }
};

class SystemClock final : public Clock {
 public:
  [[nodiscard]] std::int64_t now_seconds() const override {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  [[nodiscard]] std::int64_t now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

/// A clock tests move by hand.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t start) : now_(start) {}
  [[nodiscard]] std::int64_t now_seconds() const override { return now_.load(); }
  void set(std::int64_t t) { now_.store(t); }
  void advance(std::int64_t dt) { now_.fetch_add(dt); }

 private:
  std::atomic<std::int64_t> now_;
};

}  // namespace permiso
