// The pool of reusable OpenSSL contexts: reuse, the idle bound, discarding a failed context,
// and freeing what it keeps when it goes.
#include "jose/context_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace permiso::jose {
namespace {

struct Fake {
  explicit Fake(int i) : id(i) {}
  int id;
  std::atomic<bool> lent{false};  // set while a thread holds it: two holders would collide
};

std::atomic<int> freed{0};

struct FakeFree {
  void operator()(Fake* f) const {
    ++freed;
    delete f;
  }
};

using Pool = ContextPool<Fake, FakeFree>;

class ContextPoolTest : public ::testing::Test {
 protected:
  void SetUp() override { freed = 0; }
  Pool::Lease borrow() {
    return pool_.borrow([this] { return new Fake(++made_); });
  }
  Pool pool_;
  int made_ = 0;
};

TEST_F(ContextPoolTest, AReturnedContextIsLentAgainInsteadOfANewOne) {
  Fake* first = nullptr;
  {
    auto lease = borrow();
    ASSERT_TRUE(lease);
    first = lease.get();
  }
  EXPECT_EQ(pool_.idle(), 1U);
  auto again = borrow();
  EXPECT_EQ(again.get(), first);
  EXPECT_EQ(made_, 1);
  EXPECT_EQ(pool_.idle(), 0U);
}

TEST_F(ContextPoolTest, ContextsLentAtOnceAreDistinct) {
  auto a = borrow();
  auto b = borrow();
  EXPECT_NE(a.get(), b.get());
  EXPECT_EQ(made_, 2);
}

TEST_F(ContextPoolTest, ADiscardedContextIsFreedAndNeverLentAgain) {
  Fake* failed = nullptr;
  {
    auto lease = borrow();
    failed = lease.get();
    lease.discard();
    EXPECT_FALSE(lease);
  }
  EXPECT_EQ(freed.load(), 1);
  EXPECT_EQ(pool_.idle(), 0U);
  auto next = borrow();
  EXPECT_EQ(next.get()->id, 2) << "a new context, not the discarded one (" << failed << ")";
}

TEST_F(ContextPoolTest, AFailedMakeLendsNothingAndKeepsNothing) {
  {
    auto lease = pool_.borrow([] { return static_cast<Fake*>(nullptr); });
    EXPECT_FALSE(lease);
  }
  EXPECT_EQ(pool_.idle(), 0U);
  EXPECT_EQ(freed.load(), 0);
}

TEST_F(ContextPoolTest, IdleContextsBeyondTheBoundAreFreed) {
  {
    std::vector<Pool::Lease> leases;
    for (std::size_t i = 0; i < Pool::kMaxIdle + 3; ++i) leases.push_back(borrow());
  }
  EXPECT_EQ(pool_.idle(), Pool::kMaxIdle);
  EXPECT_EQ(freed.load(), 3);
}

TEST(ContextPool, FreesItsIdleContextsWhenItGoes) {
  freed = 0;
  {
    Pool pool;
    auto a = pool.borrow([] { return new Fake(1); });
    auto b = pool.borrow([] { return new Fake(2); });
  }
  EXPECT_EQ(freed.load(), 2);
}

TEST(ContextPool, ThreadsNeverShareALentContext) {
  Pool pool;
  std::atomic<int> made{0};
  std::atomic<int> shared{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        auto lease = pool.borrow([&] { return new Fake(++made); });
        if (lease.get()->lent.exchange(true)) ++shared;
        std::this_thread::yield();  // hold it a while, so an overlap would show
        lease.get()->lent = false;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(shared.load(), 0);
  EXPECT_LE(made.load(), 4) << "at most one context per thread borrowing at once";
}

}  // namespace
}  // namespace permiso::jose
