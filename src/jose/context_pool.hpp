// A few OpenSSL operation contexts kept for reuse (HmacSha256's keyed contexts). Making one
// allocates and copies provider state (an HMAC context is three digest contexts), while
// resetting a used one costs a fraction of that and allocates nothing.
// A thread borrows a context for one operation and the lease gives it back; contexts live and
// die with the pool, so key material never outlives the key that owns it.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace permiso::jose {

/// `Free` is the context's deleter (a default-constructible function object).
template <class Ctx, class Free>
class ContextPool {
 public:
  /// More idle contexts than threads that use the key at once buys nothing; the rest are freed.
  static constexpr std::size_t kMaxIdle = 8;

  class Lease {
   public:
    Lease(ContextPool* pool, Ctx* ctx) : pool_(pool), ctx_(ctx) {}
    Lease(Lease&& other) noexcept : pool_(other.pool_), ctx_(std::exchange(other.ctx_, nullptr)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (ctx_ != nullptr) pool_->give_back(ctx_);
    }
    [[nodiscard]] Ctx* get() const { return ctx_; }
    explicit operator bool() const { return ctx_ != nullptr; }
    /// A context whose operation failed may hold a half-done state: it is freed, not reused.
    void discard() { Free{}(std::exchange(ctx_, nullptr)); }

   private:
    ContextPool* pool_;
    Ctx* ctx_;
  };

  ContextPool() { idle_.reserve(kMaxIdle); }
  ContextPool(const ContextPool&) = delete;
  ContextPool& operator=(const ContextPool&) = delete;
  ~ContextPool() {
    for (Ctx* ctx : idle_) Free{}(ctx);
  }

  /// An idle context, or `make()`'s (a new one, null on failure) when none is idle. The caller
  /// resets a reused context as its operation requires.
  template <class Make>
  Lease borrow(Make&& make) {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        Ctx* ctx = idle_.back();
        idle_.pop_back();
        return Lease(this, ctx);
      }
    }
    return Lease(this, std::forward<Make>(make)());
  }

  [[nodiscard]] std::size_t idle() const {
    std::lock_guard lock(mutex_);
    return idle_.size();
  }

 private:
  void give_back(Ctx* ctx) {
    {
      std::lock_guard lock(mutex_);
      if (idle_.size() < kMaxIdle) {
        idle_.push_back(ctx);
        return;
      }
    }
    Free{}(ctx);
  }

  mutable std::mutex mutex_;
  std::vector<Ctx*> idle_;
};

}  // namespace permiso::jose
