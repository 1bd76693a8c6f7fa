// See lifecycle.hpp.
#include "app/lifecycle.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <thread>

namespace permiso::app {

StopSignals::StopSignals() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

void serve_until_stopped(const StopSignals& signals, http::Server& server, std::function<void()> on_signal) {
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals.set(), &sig);
    spdlog::info("received {}, draining", sig == SIGINT ? "SIGINT" : "SIGTERM");
    if (on_signal) on_signal();
    server.stop();
  });
  server.run();
  // run() can also end without a signal (the server stopped itself): wake the waiter. The
  // signal is blocked here, so it stays pending for the waiter's sigwait.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
}

}  // namespace permiso::app
