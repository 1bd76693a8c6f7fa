// See broker_share.hpp.
#include "broker_share.hpp"

#include <mutex>
#include <utility>

namespace permiso::mt5_sim_app {

using namespace permiso::trading;

/// The shared broker as one server sees it: every call forwarded, the listeners kept.
class BrokerShare::Seat final : public Broker {
 public:
  explicit Seat(Broker& broker) : broker_(broker) {}

  // Called on the broker's thread, under the seat's lock: once set_*_listener returns, the
  // listener it replaced is never called again (the broker itself promises as much).
  void deliver_tick(std::string_view symbol, const Tick& tick) {
    std::lock_guard lock(mu_);
    if (tick_listener_) tick_listener_(symbol, tick);
  }
  void deliver_changes(const Changes& changes) {
    std::lock_guard lock(mu_);
    if (change_listener_) change_listener_(changes);
  }

  void set_change_listener(ChangeListener listener) override {
    std::lock_guard lock(mu_);
    change_listener_ = std::move(listener);
  }
  void set_tick_listener(TickListener listener) override {
    std::lock_guard lock(mu_);
    tick_listener_ = std::move(listener);
  }

  [[nodiscard]] std::string_view name() const override { return broker_.name(); }
  [[nodiscard]] bool connected() const override { return broker_.connected(); }
  SendOutcome open_account(std::string_view name, std::string_view currency, int leverage, double deposit) override {
    return broker_.open_account(name, currency, leverage, deposit);
  }
  void restore(const BrokerState& state) override { broker_.restore(state); }
  [[nodiscard]] std::optional<AccountInfo> account_info(Login login) const override {
    return broker_.account_info(login);
  }
  [[nodiscard]] std::vector<SymbolInfo> symbols_get() const override { return broker_.symbols_get(); }
  [[nodiscard]] std::optional<SymbolInfo> symbol_info(std::string_view symbol) const override {
    return broker_.symbol_info(symbol);
  }
  [[nodiscard]] std::optional<Tick> symbol_info_tick(std::string_view symbol) const override {
    return broker_.symbol_info_tick(symbol);
  }
  SendOutcome order_send(Login login, const TradeRequest& request) override {
    return broker_.order_send(login, request);
  }
  [[nodiscard]] std::vector<Position> positions_get(Login login, std::string_view symbol) const override {
    return broker_.positions_get(login, symbol);
  }
  [[nodiscard]] std::vector<Order> orders_get(Login login, std::string_view symbol) const override {
    return broker_.orders_get(login, symbol);
  }
  [[nodiscard]] std::vector<Deal> history_deals_get(Login login, TimeMs from_msc, TimeMs to_msc) const override {
    return broker_.history_deals_get(login, from_msc, to_msc);
  }

 private:
  Broker& broker_;
  std::mutex mu_;
  ChangeListener change_listener_;
  TickListener tick_listener_;
};

BrokerShare::BrokerShare(Broker& broker, std::size_t seats) : broker_(broker) {
  for (std::size_t i = 0; i < seats; ++i) seats_.push_back(std::make_unique<Seat>(broker));
  broker_.set_tick_listener([this](std::string_view symbol, const Tick& tick) {
    for (auto& seat : seats_) seat->deliver_tick(symbol, tick);
  });
  broker_.set_change_listener([this](const Changes& changes) {
    for (auto& seat : seats_) seat->deliver_changes(changes);
  });
}

BrokerShare::~BrokerShare() {
  broker_.set_tick_listener(nullptr);
  broker_.set_change_listener(nullptr);
}

Broker& BrokerShare::seat(std::size_t i) {
  return *seats_.at(i);
}

}  // namespace permiso::mt5_sim_app
