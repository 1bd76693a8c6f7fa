// WorkerPool: bounded queue refusal, every accepted task runs, clean shutdown.
#include "common/worker_pool.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <future>
#include <set>
#include <thread>

namespace permiso {
namespace {

TEST(WorkerPool, RunsTasksOnPoolThreads) {
  WorkerPool pool(2, 16);
  EXPECT_EQ(pool.thread_count(), 2U);
  std::promise<std::thread::id> where;
  ASSERT_TRUE(pool.try_submit([&] { where.set_value(std::this_thread::get_id()); }));
  auto id = where.get_future().get();
  EXPECT_NE(id, std::this_thread::get_id());
}

TEST(WorkerPool, RefusesWhenQueueIsFull) {
  WorkerPool pool(1, 2);
  std::promise<void> release;
  auto gate = release.get_future().share();
  std::promise<void> started;
  ASSERT_TRUE(pool.try_submit([&, gate] {
    started.set_value();
    gate.wait();
  }));
  started.get_future().wait();  // the only worker is now busy
  std::atomic<int> ran{0};
  EXPECT_TRUE(pool.try_submit([&] { ++ran; }));
  EXPECT_TRUE(pool.try_submit([&] { ++ran; }));
  EXPECT_EQ(pool.rejected(), 0U);
  EXPECT_FALSE(pool.try_submit([&] { ++ran; }));  // capacity 2 waiting
  EXPECT_EQ(pool.queued(), 2U);
  EXPECT_EQ(pool.rejected(), 1U) << "a full queue's refusal is counted";
  release.set_value();
  pool.shutdown();
  EXPECT_EQ(ran.load(), 2);
  EXPECT_FALSE(pool.try_submit([&] { ++ran; }));
  EXPECT_EQ(pool.rejected(), 1U) << "a refusal while shutting down is not an overload";
}

TEST(WorkerPool, ShutdownDrainsAcceptedTasksAndRefusesNewOnes) {
  std::atomic<int> ran{0};
  WorkerPool pool(2, 1000);
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(pool.try_submit([&] { ran.fetch_add(1); }));
  }
  pool.shutdown();
  EXPECT_EQ(ran.load(), 500);
  EXPECT_FALSE(pool.try_submit([&] { ran.fetch_add(1); }));
  pool.shutdown();  // idempotent
}

TEST(WorkerPool, ThrowingTaskDoesNotKillTheWorker) {
  WorkerPool pool(1, 4);
  ASSERT_TRUE(pool.try_submit([] { throw std::runtime_error("boom"); }));
  std::promise<void> done;
  ASSERT_TRUE(pool.try_submit([&] { done.set_value(); }));
  EXPECT_EQ(done.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
}

// Workers lower their own priority; the calling thread keeps its own.
TEST(WorkerPool, WorkersRunAtTheGivenNiceValue) {
  errno = 0;
  const int base = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
  ASSERT_EQ(errno, 0);
  WorkerPool pool(1, 4, 7);
  std::promise<int> seen;
  ASSERT_TRUE(pool.try_submit([&] { seen.set_value(::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()))); }));
  const int nice = seen.get_future().get();
  // Raising a nice value always works; lowering one below the process's needs privilege.
  EXPECT_TRUE(nice == 7 || (base > 7 && nice == base)) << "worker nice " << nice << ", process " << base;
  EXPECT_EQ(::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid())), base);
}

TEST(WorkerPool, RejectsEmptyTask) {
  WorkerPool pool(1, 4);
  EXPECT_FALSE(pool.try_submit(std::function<void()>{}));
}

TEST(WorkerPool, ZeroThreadsMeansHardwareConcurrency) {
  WorkerPool pool(0, 1);
  EXPECT_GE(pool.thread_count(), 1U);
}

}  // namespace
}  // namespace permiso
