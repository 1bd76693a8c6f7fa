// A Broker decorator that reports every step's Changes (order_send, open_account, and the
// backend's own SL/TP/stop-out changes) to a listener, so the stream can push trade events
// without the service knowing about it. The listener sees a step when the broker has made it,
// a group commit (milliseconds) before it is durable.
#pragma once

#include "trading/broker.hpp"

#include <functional>
#include <string_view>

namespace permiso::trading::handlers {

class BrokerTap final : public Broker {
 public:
  using Listener = std::function<void(const Changes&)>;
  /// `inner` must outlive the tap; `listener` must be cheap (it runs on the calling thread).
  BrokerTap(Broker& inner, Listener listener) : inner_(inner), listener_(std::move(listener)) {}

  [[nodiscard]] std::string_view name() const override { return inner_.name(); }
  [[nodiscard]] bool connected() const override { return inner_.connected(); }
  SendOutcome open_account(std::string_view name, std::string_view currency, int leverage, double deposit) override {
    auto out = inner_.open_account(name, currency, leverage, deposit);
    report(out.changes);
    return out;
  }
  void restore(const BrokerState& state) override { inner_.restore(state); }
  [[nodiscard]] std::optional<AccountInfo> account_info(Login login) const override { return inner_.account_info(login); }
  [[nodiscard]] std::vector<SymbolInfo> symbols_get() const override { return inner_.symbols_get(); }
  [[nodiscard]] std::optional<SymbolInfo> symbol_info(std::string_view symbol) const override {
    return inner_.symbol_info(symbol);
  }
  [[nodiscard]] std::optional<Tick> symbol_info_tick(std::string_view symbol) const override {
    return inner_.symbol_info_tick(symbol);
  }
  SendOutcome order_send(Login login, const TradeRequest& request) override {
    auto out = inner_.order_send(login, request);
    report(out.changes);
    return out;
  }
  [[nodiscard]] std::vector<Position> positions_get(Login login, std::string_view symbol = {}) const override {
    return inner_.positions_get(login, symbol);
  }
  [[nodiscard]] std::vector<Order> orders_get(Login login, std::string_view symbol = {}) const override {
    return inner_.orders_get(login, symbol);
  }
  [[nodiscard]] std::vector<Deal> history_deals_get(Login login, TimeMs from_msc, TimeMs to_msc) const override {
    return inner_.history_deals_get(login, from_msc, to_msc);
  }
  void set_change_listener(ChangeListener listener) override {
    inner_.set_change_listener([this, l = std::move(listener)](const Changes& changes) {
      if (l) l(changes);
      report(changes);
    });
  }
  void set_tick_listener(TickListener listener) override { inner_.set_tick_listener(std::move(listener)); }

 private:
  void report(const Changes& changes) {
    if (listener_ && !changes.empty()) listener_(changes);
  }
  Broker& inner_;
  Listener listener_;
};

}  // namespace permiso::trading::handlers
