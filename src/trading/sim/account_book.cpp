// See account_book.hpp.
#include "trading/sim/account_book.hpp"

#include "trading/sim/order_rules.hpp"

namespace permiso::trading::sim {

Totals AccountBook::totals(const Account& a, const Quotes& q) const {
  Totals t;
  for (std::size_t i = 0; i < a.exposure.size(); ++i) {
    const Exposure& e = a.exposure[i];
    if (e.count == 0) continue;
    const auto& in = market_.instruments()[i];
    const Tick& tick = q.ticks[i];
    const double cs = in.spec.info.contract_size;
    const double p = cs * (tick.bid * e.buy_volume - e.buy_value) + cs * (e.sell_value - tick.ask * e.sell_volume);
    t.profit += p * rate(in.profit_ccy, a.ccy, q);
    t.margin += e.margin * rate(in.margin_ccy, a.ccy, q);
  }
  return t;
}

AccountInfo AccountBook::account_row(const Account& a, const Quotes& q) const {
  AccountInfo info = a.info;
  const Totals t = totals(a, q);
  info.profit = round_cents(t.profit);
  info.equity = round_cents(info.balance + info.credit + info.profit);
  info.margin = round_cents(t.margin);
  info.margin_free = round_cents(info.equity - info.margin);
  info.margin_level = info.margin > 0 ? std::round(info.equity / info.margin * 100.0 * 100.0) / 100.0 : 0.0;
  return info;
}

double AccountBook::position_profit(const OpenPosition& p, const Quotes& q, int account_ccy) const {
  const auto& in = market_.instruments()[static_cast<std::size_t>(p.sym)];
  const Tick& t = q.ticks[static_cast<std::size_t>(p.sym)];
  const double cs = in.spec.info.contract_size;
  const double raw = p.row.type == PositionType::Buy ? (t.bid - p.row.price_open) * p.row.volume * cs
                                                     : (p.row.price_open - t.ask) * p.row.volume * cs;
  return raw * rate(in.profit_ccy, account_ccy, q);
}

Position AccountBook::live_row(const OpenPosition& p, const Quotes& q, int account_ccy) const {
  Position row = p.row;
  const Tick& t = q.ticks[static_cast<std::size_t>(p.sym)];
  row.price_current = row.type == PositionType::Buy ? t.bid : t.ask;
  row.profit = round_cents(position_profit(p, q, account_ccy));
  return row;
}

Order AccountBook::live_order(const PendingOrder& o, const Quotes& q) const {
  Order row = o.row;
  const Tick& t = q.ticks[static_cast<std::size_t>(o.sym)];
  row.price_current = is_buy(row.type) ? t.ask : t.bid;
  return row;
}

void AccountBook::add_exposure(Account& a, const OpenPosition& p, double sign) {
  Exposure& e = a.exposure[static_cast<std::size_t>(p.sym)];
  if (sign > 0) {
    ++e.count;
  } else if (e.count > 0) {
    --e.count;
  }
  if (e.count == 0) {  // no drift survives the last position
    e = Exposure{};
    return;
  }
  const double v = sign * p.row.volume;
  if (p.row.type == PositionType::Buy) {
    e.buy_volume += v;
    e.buy_value += v * p.row.price_open;
  } else {
    e.sell_volume += v;
    e.sell_value += v * p.row.price_open;
  }
  e.margin += sign * p.margin;
}

void AccountBook::keep_recent_history(Account& a, std::size_t keep) {
  while (a.closed.size() > keep) a.closed.erase(a.closed.begin());  // the lowest ticket opened first
  while (a.orders_history.size() > keep) a.orders_history.pop_front();
  while (a.deals.size() > keep) a.deals.pop_front();
}

}  // namespace permiso::trading::sim
