// One broker served by several servers at once (the PermisoBridge server and the FIX acceptor).
// Each server takes a Broker& and sets that broker's tick and change listeners as its own, and
// a broker has one of each: a seat forwards every call to the shared broker but keeps the
// listeners set on it, and the share delivers every event of the broker to every seat's.
#pragma once

#include "trading/broker.hpp"

#include <cstddef>
#include <memory>
#include <vector>

namespace permiso::mt5_sim_app {

class BrokerShare {
 public:
  /// Sets `broker`'s listeners (to deliver to the seats); `seats` servers can then share it.
  BrokerShare(trading::Broker& broker, std::size_t seats);
  ~BrokerShare();  // clears the broker's listeners
  BrokerShare(const BrokerShare&) = delete;
  BrokerShare& operator=(const BrokerShare&) = delete;

  /// The broker as the i-th server sees it (i < seats).
  [[nodiscard]] trading::Broker& seat(std::size_t i);

  class Seat;  // broker_share.cpp

 private:
  trading::Broker& broker_;
  std::vector<std::unique_ptr<Seat>> seats_;
};

}  // namespace permiso::mt5_sim_app
