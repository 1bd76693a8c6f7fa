// The simulated broker: see simulated_broker.hpp for the arithmetic and the threading model.
#include "trading/sim/simulated_broker.hpp"

#include "trading/sim/order_rules.hpp"
#include "trading/ticket_page.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <unordered_map>
#include <utility>

namespace permiso::trading::sim {
namespace {

constexpr double kUnlimited = std::numeric_limits<double>::infinity();

/// The comment of a FOK order the liquidity cannot fill whole, refused with Retcode::Reject.
/// MQL5's reference (ENUM_ORDER_TYPE_FILLING, ORDER_FILLING_FOK: "if the necessary amount of a
/// financial instrument is currently unavailable in the market, the order will not be
/// executed") names no retcode for it: TRADE_RETCODE_REJECT (10006, "request rejected") is the
/// generic refusal, and what the FIX side reports for a killed FOK order (ExecType 8).
constexpr const char* kNoLiquidity = "not enough liquidity to fill the order";

SendOutcome refuse(Retcode code, std::string comment, const Tick* tick = nullptr) {
  SendOutcome out;
  out.result.retcode = code;
  out.result.comment = std::move(comment);
  if (tick != nullptr) {
    out.result.bid = tick->bid;
    out.result.ask = tick->ask;
  }
  return out;
}

std::string price_text(double price, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, price);
  return buf;
}

void merge(Changes& into, Changes&& from) {
  auto move_all = [](auto& dst, auto& src) {
    dst.insert(dst.end(), std::make_move_iterator(src.begin()), std::make_move_iterator(src.end()));
  };
  move_all(into.positions, from.positions);
  move_all(into.orders, from.orders);
  move_all(into.deals, from.deals);
  move_all(into.accounts, from.accounts);
  into.sequence = std::max(into.sequence, from.sequence);
}

}  // namespace

// ---------------------------------------------------------------- construction

SimulatedBroker::SimulatedBroker(SimOptions options)
    : options_(std::move(options)),
      market_(options_.instruments),
      model_(market_, options_.seed, options_.volatility_scale) {
  const TimeMs start = options_.start_time_msc != 0 ? options_.start_time_msc : wall_now();
  now_.store(start);
  next_login_ = options_.first_login;
  trade_allowed_ = std::make_unique<std::atomic<bool>[]>(instruments_.size());
  for (std::size_t i = 0; i < instruments_.size(); ++i) {
    trade_allowed_[i].store(instruments_[i].spec.info.trade_allowed);
  }
  const auto every = options_.max_fill_lots.find("*");
  const double unnamed = every != options_.max_fill_lots.end() ? every->second : kUnlimited;
  for (const auto& in : instruments_) {
    const auto named = options_.max_fill_lots.find(in.spec.info.name);
    max_fill_.push_back(named != options_.max_fill_lots.end() ? named->second : unnamed);
  }
  auto first = std::make_shared<Quotes>();
  first->ticks = model_.quotes_at(start);
  quotes_ = std::move(first);
}

TimeMs SimulatedBroker::wall_now() const {
  return options_.clock ? options_.clock->now_ms() : SystemClock().now_ms();
}

SimulatedBroker::~SimulatedBroker() {
  stop();
}

// ---------------------------------------------------------------- small helpers

std::shared_ptr<const SimulatedBroker::Quotes> SimulatedBroker::quotes() const {
  std::shared_lock lock(quotes_mutex_);
  return quotes_;
}

SimulatedBroker::Account* SimulatedBroker::find_account(Login login) const {
  auto it = accounts_.find(login);
  return it == accounts_.end() ? nullptr : it->second.get();
}

std::unique_ptr<SimulatedBroker::Account> SimulatedBroker::make_account(const AccountInfo& info) const {
  auto a = std::make_unique<Account>();
  a->info = info;
  a->info.profit = a->info.equity = a->info.margin = a->info.margin_free = a->info.margin_level = 0;
  a->ccy = std::max(0, market_.currency_id(info.currency));
  a->rng = Rng(options_.seed ^ (info.login * 0x9e3779b97f4a7c15ULL) ^ 0x5eed5eedULL);
  a->exposure.resize(instruments_.size());
  return a;
}

void SimulatedBroker::finish(Account& a, const Quotes& q, Changes& ch) {
  AccountBook::keep_recent_history(a, options_.history_per_account);
  ch.accounts.push_back(book_.account_row(a, q));
  ch.sequence = sequence_.fetch_add(1, std::memory_order_relaxed) + 1;
}

// ---------------------------------------------------------------- accounts

SendOutcome SimulatedBroker::open_account(std::string_view name, std::string_view currency, int leverage,
                                          double deposit) {
  static constexpr std::string_view kFiat[] = {"USD", "EUR", "GBP", "JPY", "CHF", "AUD", "CAD"};
  const int ccy = market_.currency_id(currency);
  bool supported = std::find(std::begin(kFiat), std::end(kFiat), currency) != std::end(kFiat) && ccy >= 0;
  if (supported) {
    for (const auto& in : instruments_) {  // every P&L and margin must convert
      if (!market_.convertible(in.profit_ccy, ccy) || !market_.convertible(in.margin_ccy, ccy)) {
        supported = false;
      }
    }
  }
  if (!supported) return refuse(Retcode::Invalid, "unsupported account currency");
  if (leverage < 1 || leverage > 3000) return refuse(Retcode::Invalid, "leverage must be 1..3000");
  if (!std::isfinite(deposit) || deposit < 0 || deposit > 1e12) {
    return refuse(Retcode::Invalid, "deposit must be finite, 0..1e12");
  }
  if (name.size() > 256) return refuse(Retcode::Invalid, "account name too long");

  SendOutcome out;
  std::unique_lock map_lock(accounts_mutex_);
  AccountInfo info;
  info.login = next_login_++;
  info.name = std::string(name);
  info.server = options_.server;
  info.currency = std::string(currency);
  info.leverage = leverage;
  info.balance = round_cents(deposit);
  info.margin_so_call = options_.margin_so_call;
  info.margin_so_so = options_.margin_so_so;
  info.demo = true;
  auto account = make_account(info);
  Account& a = *account;
  accounts_.emplace(info.login, std::move(account));
  std::unique_lock lock(a.mutex);
  const auto q = quotes();
  if (deposit > 0) {
    Deal d;
    d.ticket = next_ticket();
    d.login = info.login;
    d.type = DealType::Balance;
    d.entry = DealEntry::In;
    d.profit = info.balance;
    d.comment = "Deposit";
    d.time_msc = now();
    a.deals.push_back(d);
    out.changes.deals.push_back(d);
    out.result.deal = d.ticket;
  }
  finish(a, *q, out.changes);
  out.result.retcode = Retcode::Done;
  out.result.comment = "Account opened";
  return out;
}

std::optional<AccountInfo> SimulatedBroker::account_info(Login login) const {
  std::shared_lock map_lock(accounts_mutex_);
  const Account* a = find_account(login);
  if (a == nullptr) return std::nullopt;
  const auto q = quotes();
  std::shared_lock lock(a->mutex);
  return book_.account_row(*a, *q);
}

// ---------------------------------------------------------------- symbols and quotes

std::vector<SymbolInfo> SimulatedBroker::symbols_get() const {
  std::vector<SymbolInfo> out;
  out.reserve(instruments_.size());
  for (std::size_t i = 0; i < instruments_.size(); ++i) {
    out.push_back(instruments_[i].spec.info);
    out.back().trade_allowed = trade_allowed_[i].load(std::memory_order_relaxed);
  }
  return out;
}

std::optional<SymbolInfo> SimulatedBroker::symbol_info(std::string_view symbol) const {
  const int i = market_.find_symbol(symbol);
  if (i < 0) return std::nullopt;
  SymbolInfo info = instruments_[static_cast<std::size_t>(i)].spec.info;
  info.trade_allowed = trade_allowed_[static_cast<std::size_t>(i)].load(std::memory_order_relaxed);
  return info;
}

std::optional<Tick> SimulatedBroker::symbol_info_tick(std::string_view symbol) const {
  const int i = market_.find_symbol(symbol);
  if (i < 0) return std::nullopt;
  return quotes()->ticks[static_cast<std::size_t>(i)];
}

bool SimulatedBroker::set_trade_allowed(std::string_view symbol, bool allowed) {
  const int i = market_.find_symbol(symbol);
  if (i < 0) return false;
  trade_allowed_[static_cast<std::size_t>(i)].store(allowed);
  return true;
}

// ---------------------------------------------------------------- queries

std::vector<Position> SimulatedBroker::positions_get(Login login, std::string_view symbol) const {
  std::vector<Position> out;
  std::shared_lock map_lock(accounts_mutex_);
  const Account* a = find_account(login);
  if (a == nullptr) return out;
  const auto q = quotes();
  std::shared_lock lock(a->mutex);
  out.reserve(a->open.size());
  for (const auto& [ticket, p] : a->open) {
    if (!symbol.empty() && p.row.symbol != symbol) continue;
    out.push_back(book_.live_row(p, *q, a->ccy));
  }
  return out;
}

std::optional<Position> SimulatedBroker::position_get(Login login, Ticket ticket) const {
  std::shared_lock map_lock(accounts_mutex_);
  const Account* a = find_account(login);
  if (a == nullptr) return std::nullopt;
  const auto q = quotes();
  std::shared_lock lock(a->mutex);
  const auto it = a->open.find(ticket);
  if (it == a->open.end()) return std::nullopt;
  return book_.live_row(it->second, *q, a->ccy);
}

std::vector<Position> SimulatedBroker::positions_page(Login login, std::string_view symbol, std::optional<Ticket> below,
                                                      std::size_t limit) const {
  std::shared_lock map_lock(accounts_mutex_);
  const Account* a = find_account(login);
  if (a == nullptr) return {};
  const auto q = quotes();
  std::shared_lock lock(a->mutex);
  return newest_first(
      a->open, below, limit, [&](const OpenPosition& p) { return symbol.empty() || p.row.symbol == symbol; },
      [&](const OpenPosition& p) { return book_.live_row(p, *q, a->ccy); });
}

std::size_t SimulatedBroker::positions_total(Login login) const {
  std::shared_lock map_lock(accounts_mutex_);
  const Account* a = find_account(login);
  if (a == nullptr) return 0;
  std::shared_lock lock(a->mutex);
  return a->open.size();
}

std::vector<Order> SimulatedBroker::orders_get(Login login, std::string_view symbol) const {
  std::vector<Order> out;
  std::shared_lock map_lock(accounts_mutex_);
  const Account* a = find_account(login);
  if (a == nullptr) return out;
  const auto q = quotes();
  std::shared_lock lock(a->mutex);
  for (const auto& [ticket, o] : a->pending) {
    if (!symbol.empty() && o.row.symbol != symbol) continue;
    out.push_back(book_.live_order(o, *q));
  }
  return out;
}

std::vector<Deal> SimulatedBroker::history_deals_get(Login login, TimeMs from_msc, TimeMs to_msc) const {
  std::vector<Deal> out;
  std::shared_lock map_lock(accounts_mutex_);
  const Account* a = find_account(login);
  if (a == nullptr || from_msc >= to_msc) return out;
  std::shared_lock lock(a->mutex);
  auto by_time = [](const Deal& d, TimeMs t) { return d.time_msc < t; };
  auto first = std::lower_bound(a->deals.begin(), a->deals.end(), from_msc, by_time);
  auto last = std::lower_bound(first, a->deals.end(), to_msc, by_time);
  out.assign(first, last);
  return out;
}

std::vector<Position> SimulatedBroker::positions_history_get(Login login) const {
  std::vector<Position> out;
  std::shared_lock map_lock(accounts_mutex_);
  const Account* a = find_account(login);
  if (a == nullptr) return out;
  std::shared_lock lock(a->mutex);
  out.reserve(a->closed.size());
  for (const auto& [ticket, p] : a->closed) out.push_back(p);
  return out;
}

std::vector<Order> SimulatedBroker::history_orders_get(Login login, TimeMs from_msc, TimeMs to_msc) const {
  std::vector<Order> out;
  std::shared_lock map_lock(accounts_mutex_);
  const Account* a = find_account(login);
  if (a == nullptr) return out;
  std::shared_lock lock(a->mutex);
  for (const auto& o : a->orders_history) {
    if (o.time_done_msc >= from_msc && o.time_done_msc < to_msc) out.push_back(o);
  }
  return out;
}

// ---------------------------------------------------------------- order_send

SendOutcome SimulatedBroker::order_send(Login login, const TradeRequest& r) {
  std::shared_lock map_lock(accounts_mutex_);
  Account* a = find_account(login);
  if (a == nullptr) return refuse(Retcode::Invalid, "unknown account");
  if (!finite_request(r)) return refuse(Retcode::Invalid, "invalid request: a number is not finite");
  switch (r.action) {
    case TradeAction::Deal:
      if (r.position != 0) return send_close(*a, r);
      [[fallthrough]];
    case TradeAction::Pending: {
      const int sym = market_.find_symbol(r.symbol);
      if (sym < 0) return refuse(Retcode::Invalid, "unknown symbol");
      const Tick tick = quotes()->ticks[static_cast<std::size_t>(sym)];
      if (!trade_allowed_[static_cast<std::size_t>(sym)].load(std::memory_order_relaxed)) {
        return refuse(Retcode::TradeDisabled, "trade is disabled for the symbol", &tick);
      }
      const bool market = r.action == TradeAction::Deal;
      const bool market_type = r.type == OrderType::Buy || r.type == OrderType::Sell;
      const bool pending_type = r.type == OrderType::BuyLimit || r.type == OrderType::SellLimit ||
                                r.type == OrderType::BuyStop || r.type == OrderType::SellStop;
      if (market ? !market_type : !pending_type) return refuse(Retcode::Invalid, "invalid order type", &tick);
      if (r.type_filling != Filling::Fok && r.type_filling != Filling::Ioc && r.type_filling != Filling::Return) {
        return refuse(Retcode::InvalidFill, "invalid filling mode", &tick);
      }
      if (!instruments_[static_cast<std::size_t>(sym)].volume_ok(r.volume)) {
        return refuse(Retcode::InvalidVolume, "invalid volume", &tick);
      }
      if (r.sl < 0 || r.tp < 0) return refuse(Retcode::InvalidStops, "invalid stops", &tick);
      std::unique_lock lock(a->mutex);
      return market ? send_market_open(*a, sym, r) : send_pending(*a, sym, r);
    }
    case TradeAction::SlTp: {
      std::unique_lock lock(a->mutex);
      return send_sltp(*a, r);
    }
    case TradeAction::Modify: {
      std::unique_lock lock(a->mutex);
      return send_modify(*a, r);
    }
    case TradeAction::Remove: {
      std::unique_lock lock(a->mutex);
      return send_remove(*a, r);
    }
    case TradeAction::CloseBy:
      return refuse(Retcode::Invalid, "close by is not supported");
  }
  return refuse(Retcode::Invalid, "invalid trade action");
}

double SimulatedBroker::fill_price(Account& a, const Instrument& in, double market, bool buy, const TradeRequest& r) {
  const double point = in.spec.info.point;
  const double dev = static_cast<double>(std::min<std::uint64_t>(r.deviation, 1'000'000));
  double slip = 0;
  if (options_.slippage_points > 0 && dev > 0) {
    slip = std::round(a.rng.normal() * options_.slippage_points);
    slip = std::clamp(slip, -dev, dev);
  }
  double price = market + (buy ? slip : -slip) * point;  // positive slip: worse for the client
  if (r.price != 0) price = std::clamp(price, r.price - dev * point, r.price + dev * point);
  return in.round_price(price);
}

SendOutcome SimulatedBroker::send_market_open(Account& a, int sym, const TradeRequest& r) {
  const auto q = quotes();
  const auto& in = instruments_[static_cast<std::size_t>(sym)];
  const auto& s = in.spec.info;
  const Tick& tick = q->ticks[static_cast<std::size_t>(sym)];
  if (a.open.size() >= options_.max_open_positions) {
    return refuse(Retcode::LimitPositions, "too many open positions", &tick);
  }
  const bool buy = r.type == OrderType::Buy;
  const double market = buy ? tick.ask : tick.bid;
  const double dev = static_cast<double>(std::min<std::uint64_t>(r.deviation, 1'000'000));
  if (r.price != 0 && std::abs(market - r.price) / s.point > dev + kEps) {
    return refuse(Retcode::Requote, "Requote", &tick);
  }
  const double sl = r.sl != 0 ? in.round_price(r.sl) : 0;
  const double tp = r.tp != 0 ? in.round_price(r.tp) : 0;
  if (!stops_ok(buy, buy ? tick.bid : tick.ask, sl, tp, s)) {
    return refuse(Retcode::InvalidStops, "invalid stops", &tick);
  }
  const double volume = in.normalize_volume(r.volume);
  const double filled = fillable(sym, volume);
  const bool partial = filled < volume;
  if (partial && (r.type_filling == Filling::Fok || filled <= 0)) return refuse(Retcode::Reject, kNoLiquidity, &tick);
  const double price = fill_price(a, in, market, buy, r);
  const Totals before = book_.totals(a, *q);
  const double equity = a.info.balance + a.info.credit + before.profit;
  const double need = market_.margin_of(sym, filled, price, a.info.leverage) * rate(in.margin_ccy, a.ccy, *q);
  if (equity - before.margin - need < -1e-9) return refuse(Retcode::NoMoney, "Not enough money", &tick);

  SendOutcome out;
  const TimeMs t = now();
  const Ticket order_ticket = next_ticket();
  Ticket deal = 0;
  open_position(a, sym, buy ? PositionType::Buy : PositionType::Sell, filled, price, sl, tp, r.magic, r.comment,
                order_ticket, t, *q, out.changes, &deal);
  Order o;
  o.ticket = order_ticket;
  o.login = a.info.login;
  o.symbol = s.name;
  o.type = r.type;
  // IOC's rest is cancelled at once; RETURN's keeps working (apply_triggers fills it).
  o.state = !partial ? OrderState::Filled : r.type_filling == Filling::Ioc ? OrderState::Canceled : OrderState::Partial;
  o.type_filling = r.type_filling;
  o.volume_initial = volume;
  o.volume_current = in.normalize_volume(volume - filled);
  o.price_open = r.price != 0 ? r.price : price;
  o.price_current = price;
  o.sl = sl;
  o.tp = tp;
  o.magic = r.magic;
  o.comment = r.comment;
  o.position_id = order_ticket;
  o.time_setup_msc = t;
  if (o.state == OrderState::Partial) {
    auto [it, inserted] = a.pending.emplace(order_ticket, PendingOrder{o, sym});
    out.changes.orders.push_back(book_.live_order(it->second, *q));
  } else {
    o.time_done_msc = t;
    a.orders_history.push_back(o);
    out.changes.orders.push_back(std::move(o));
  }
  finish(a, *q, out.changes);
  out.result = TradeResult{partial ? Retcode::DonePartial : Retcode::Done,
                           deal,
                           order_ticket,
                           order_ticket,
                           filled,
                           price,
                           tick.bid,
                           tick.ask,
                           partial ? "Request executed partially" : "Request executed"};
  return out;
}

double SimulatedBroker::fillable(int sym, double wanted) const {
  const double limit = max_fill_[static_cast<std::size_t>(sym)];
  if (wanted <= limit) return wanted;
  const auto& in = instruments_[static_cast<std::size_t>(sym)];
  const double step = in.spec.info.volume_step;
  const double steps = std::floor(std::max(limit, 0.0) / step + kEps);
  const double lots = in.normalize_volume(steps * step);
  return lots >= in.spec.info.volume_min - kEps * step ? lots : 0;
}

void SimulatedBroker::open_position(Account& a, int sym, PositionType type, double volume, double price, double sl,
                                    double tp, std::uint64_t magic, const std::string& comment, Ticket order_ticket,
                                    TimeMs t, const Quotes& q, Changes& ch, Ticket* deal_out) {
  Deal d;
  d.ticket = next_ticket();
  d.login = a.info.login;
  d.order = order_ticket;
  d.position_id = order_ticket;
  d.symbol = instruments_[static_cast<std::size_t>(sym)].spec.info.name;
  d.type = type == PositionType::Buy ? DealType::Buy : DealType::Sell;
  d.entry = DealEntry::In;
  d.reason = DealReason::Client;
  d.volume = volume;
  d.price = price;
  d.magic = magic;
  d.comment = comment;
  d.time_msc = t;
  a.deals.push_back(d);
  ch.deals.push_back(std::move(d));
  if (deal_out != nullptr) *deal_out = a.deals.back().ticket;

  if (auto open = a.open.find(order_ticket); open != a.open.end()) {
    // A later fill of the same order (RETURN): the position grows, at the average price.
    OpenPosition& p = open->second;
    AccountBook::add_exposure(a, p, -1);
    const double total = instruments_[static_cast<std::size_t>(sym)].normalize_volume(p.row.volume + volume);
    p.row.price_open = (p.row.price_open * p.row.volume + price * volume) / total;
    p.row.volume = total;
    p.margin += market_.margin_of(sym, volume, price, a.info.leverage);
    p.row.time_update_msc = t;
    AccountBook::add_exposure(a, p, +1);
    ch.positions.push_back(book_.live_row(p, q, a.ccy));
    return;
  }
  OpenPosition p;
  p.sym = sym;
  p.margin = market_.margin_of(sym, volume, price, a.info.leverage);
  Position& row = p.row;
  row.ticket = order_ticket;
  row.login = a.info.login;
  row.symbol = instruments_[static_cast<std::size_t>(sym)].spec.info.name;
  row.type = type;
  row.volume = volume;
  row.price_open = price;
  row.sl = sl;
  row.tp = tp;
  row.magic = magic;
  row.comment = comment;
  row.reason = DealReason::Client;
  row.time_msc = row.time_update_msc = t;

  AccountBook::add_exposure(a, p, +1);
  if (sl != 0 || tp != 0) ++a.with_stops;
  auto [it, inserted] = a.open.emplace(order_ticket, std::move(p));
  ch.positions.push_back(book_.live_row(it->second, q, a.ccy));
}

SendOutcome SimulatedBroker::send_close(Account& a, const TradeRequest& r) {
  std::unique_lock lock(a.mutex);
  auto it = a.open.find(r.position);
  if (it == a.open.end()) {
    if (a.closed.contains(r.position)) return refuse(Retcode::PositionClosed, "position already closed");
    return refuse(Retcode::Invalid, "position not found");
  }
  OpenPosition& p = it->second;
  const auto q = quotes();
  const auto& in = instruments_[static_cast<std::size_t>(p.sym)];
  const auto& s = in.spec.info;
  const Tick& tick = q->ticks[static_cast<std::size_t>(p.sym)];
  if (!r.symbol.empty() && r.symbol != s.name) {
    return refuse(Retcode::Invalid, "symbol does not match the position", &tick);
  }
  if (!trade_allowed_[static_cast<std::size_t>(p.sym)].load(std::memory_order_relaxed)) {
    return refuse(Retcode::TradeDisabled, "trade is disabled for the symbol", &tick);
  }
  double volume = p.row.volume;
  if (r.volume != 0) {
    if (r.volume > p.row.volume + kEps * s.volume_step) {
      return refuse(Retcode::InvalidCloseVolume, "close volume exceeds the position", &tick);
    }
    if (!in.volume_ok(r.volume)) return refuse(Retcode::InvalidVolume, "invalid volume", &tick);
    volume = std::min(p.row.volume, in.normalize_volume(r.volume));
  }
  const bool closing_buy = p.row.type == PositionType::Buy;
  const double market = closing_buy ? tick.bid : tick.ask;
  const double dev = static_cast<double>(std::min<std::uint64_t>(r.deviation, 1'000'000));
  if (r.price != 0 && std::abs(market - r.price) / s.point > dev + kEps) {
    return refuse(Retcode::Requote, "Requote", &tick);
  }
  const double price = fill_price(a, in, market, !closing_buy, r);
  SendOutcome out;
  Ticket deal = 0, order = 0;
  const Ticket position = p.row.ticket;
  close_position(a, it, volume, price, DealReason::Client, r.comment, now(), *q, out.changes, &deal, &order);
  finish(a, *q, out.changes);
  out.result = TradeResult{Retcode::Done, deal, order, position, volume, price, tick.bid, tick.ask, "Request executed"};
  return out;
}

void SimulatedBroker::close_position(Account& a, std::map<Ticket, OpenPosition>::iterator it, double volume,
                                     double price, DealReason reason, const std::string& comment, TimeMs t,
                                     const Quotes& q, Changes& ch, Ticket* deal_out, Ticket* order_out) {
  OpenPosition& p = it->second;
  const auto& in = instruments_[static_cast<std::size_t>(p.sym)];
  const double cs = in.spec.info.contract_size;
  const bool buy = p.row.type == PositionType::Buy;
  const double raw = buy ? (price - p.row.price_open) * volume * cs : (p.row.price_open - price) * volume * cs;
  const double profit = round_cents(raw * rate(in.profit_ccy, a.ccy, q));
  a.info.balance = round_cents(a.info.balance + profit);

  Order o;
  o.ticket = next_ticket();
  o.login = a.info.login;
  o.symbol = p.row.symbol;
  o.type = buy ? OrderType::Sell : OrderType::Buy;
  o.state = OrderState::Filled;
  o.type_filling = Filling::Fok;
  o.volume_initial = volume;
  o.volume_current = 0;
  o.price_open = price;
  o.price_current = price;
  o.magic = p.row.magic;
  o.comment = comment;
  o.position_id = p.row.ticket;
  o.time_setup_msc = o.time_done_msc = t;
  a.orders_history.push_back(o);

  Deal d;
  d.ticket = next_ticket();
  d.login = a.info.login;
  d.order = o.ticket;
  d.position_id = p.row.ticket;
  d.symbol = p.row.symbol;
  d.type = buy ? DealType::Sell : DealType::Buy;
  d.entry = DealEntry::Out;
  d.reason = reason;
  d.volume = volume;
  d.price = price;
  d.profit = profit;
  d.magic = p.row.magic;
  d.comment = comment;
  d.time_msc = t;
  a.deals.push_back(d);
  if (deal_out != nullptr) *deal_out = d.ticket;
  if (order_out != nullptr) *order_out = o.ticket;
  ch.orders.push_back(std::move(o));
  ch.deals.push_back(std::move(d));

  AccountBook::add_exposure(a, p, -1);
  const bool full = volume >= p.row.volume - kEps * in.spec.info.volume_step;
  if (!full) {  // partial close: the rest stays open at its open price
    p.row.volume = in.normalize_volume(p.row.volume - volume);
    p.margin = market_.margin_of(p.sym, p.row.volume, p.row.price_open, a.info.leverage);
    p.realised = round_cents(p.realised + profit);
    p.row.time_update_msc = t;
    AccountBook::add_exposure(a, p, +1);
    ch.positions.push_back(book_.live_row(p, q, a.ccy));
    return;
  }
  if (p.row.sl != 0 || p.row.tp != 0) --a.with_stops;
  Position row = std::move(p.row);
  row.closed = true;
  row.price_current = price;
  row.profit = round_cents(p.realised + profit);
  row.time_update_msc = t;
  row.close_time_msc = t;
  row.close_price = price;
  row.close_reason = reason;
  a.open.erase(it);
  ch.positions.push_back(row);
  a.closed.emplace(row.ticket, std::move(row));
}

SendOutcome SimulatedBroker::send_pending(Account& a, int sym, const TradeRequest& r) {
  const auto q = quotes();
  const auto& in = instruments_[static_cast<std::size_t>(sym)];
  const auto& s = in.spec.info;
  const Tick& tick = q->ticks[static_cast<std::size_t>(sym)];
  if (a.pending.size() >= options_.max_pending_orders) {
    return refuse(Retcode::LimitOrders, "too many pending orders", &tick);
  }
  if (!(r.price > 0)) return refuse(Retcode::InvalidPrice, "invalid price", &tick);
  const double price = in.round_price(r.price);
  if (!pending_price_ok(r.type, price, tick, s)) return refuse(Retcode::InvalidPrice, "invalid price", &tick);
  const double sl = r.sl != 0 ? in.round_price(r.sl) : 0;
  const double tp = r.tp != 0 ? in.round_price(r.tp) : 0;
  if (!stops_ok(is_buy(r.type), price, sl, tp, s)) return refuse(Retcode::InvalidStops, "invalid stops", &tick);

  SendOutcome out;
  PendingOrder po;
  po.sym = sym;
  Order& o = po.row;
  o.ticket = next_ticket();
  o.login = a.info.login;
  o.symbol = s.name;
  o.type = r.type;
  o.state = OrderState::Placed;
  o.type_filling = r.type_filling;
  o.volume_initial = o.volume_current = in.normalize_volume(r.volume);
  o.price_open = price;
  o.sl = sl;
  o.tp = tp;
  o.magic = r.magic;
  o.comment = r.comment;
  o.time_setup_msc = now();
  auto [it, inserted] = a.pending.emplace(o.ticket, std::move(po));
  out.changes.orders.push_back(book_.live_order(it->second, *q));
  finish(a, *q, out.changes);
  out.result = TradeResult{Retcode::Placed, 0,        it->first,       0, it->second.row.volume_initial, price,
                           tick.bid,        tick.ask, "Request placed"};
  return out;
}

SendOutcome SimulatedBroker::send_modify(Account& a, const TradeRequest& r) {
  auto it = a.pending.find(r.order);
  if (it == a.pending.end()) {
    for (const auto& o : a.orders_history) {
      if (o.ticket == r.order) return refuse(Retcode::InvalidOrder, "order is no longer pending");
    }
    return refuse(Retcode::Invalid, "order not found");
  }
  PendingOrder& po = it->second;
  const auto q = quotes();
  const auto& in = instruments_[static_cast<std::size_t>(po.sym)];
  const auto& s = in.spec.info;
  const Tick& tick = q->ticks[static_cast<std::size_t>(po.sym)];
  if (r.sl < 0 || r.tp < 0) return refuse(Retcode::InvalidStops, "invalid stops", &tick);
  if (r.price < 0) return refuse(Retcode::InvalidPrice, "invalid price", &tick);
  const double price = r.price != 0 ? in.round_price(r.price) : po.row.price_open;
  const double sl = r.sl != 0 ? in.round_price(r.sl) : 0;
  const double tp = r.tp != 0 ? in.round_price(r.tp) : 0;
  if (price == po.row.price_open && sl == po.row.sl && tp == po.row.tp) {
    return refuse(Retcode::NoChanges, "no changes", &tick);
  }
  if (!pending_price_ok(po.row.type, price, tick, s)) return refuse(Retcode::InvalidPrice, "invalid price", &tick);
  if (!stops_ok(is_buy(po.row.type), price, sl, tp, s)) {
    return refuse(Retcode::InvalidStops, "invalid stops", &tick);
  }
  po.row.price_open = price;
  po.row.sl = sl;
  po.row.tp = tp;
  SendOutcome out;
  out.changes.orders.push_back(book_.live_order(po, *q));
  finish(a, *q, out.changes);
  out.result = TradeResult{Retcode::Done, 0,        po.row.ticket,     0, po.row.volume_current, price,
                           tick.bid,      tick.ask, "Request executed"};
  return out;
}

SendOutcome SimulatedBroker::send_remove(Account& a, const TradeRequest& r) {
  auto it = a.pending.find(r.order);
  if (it == a.pending.end()) {
    for (const auto& o : a.orders_history) {
      if (o.ticket == r.order) return refuse(Retcode::InvalidOrder, "order is no longer pending");
    }
    return refuse(Retcode::Invalid, "order not found");
  }
  const auto q = quotes();
  Order o = book_.live_order(it->second, *q);
  o.state = OrderState::Canceled;
  o.time_done_msc = now();
  a.pending.erase(it);
  a.orders_history.push_back(o);
  SendOutcome out;
  out.result.retcode = Retcode::Done;
  out.result.order = o.ticket;
  out.result.comment = "Request executed";
  out.changes.orders.push_back(std::move(o));
  finish(a, *q, out.changes);
  return out;
}

SendOutcome SimulatedBroker::send_sltp(Account& a, const TradeRequest& r) {
  auto it = a.open.find(r.position);
  if (it == a.open.end()) {
    if (a.closed.contains(r.position)) return refuse(Retcode::PositionClosed, "position already closed");
    return refuse(Retcode::Invalid, "position not found");
  }
  OpenPosition& p = it->second;
  const auto q = quotes();
  const auto& in = instruments_[static_cast<std::size_t>(p.sym)];
  const Tick& tick = q->ticks[static_cast<std::size_t>(p.sym)];
  if (!r.symbol.empty() && r.symbol != in.spec.info.name) {
    return refuse(Retcode::Invalid, "symbol does not match the position", &tick);
  }
  const double sl = r.sl != 0 ? in.round_price(r.sl) : 0;
  const double tp = r.tp != 0 ? in.round_price(r.tp) : 0;
  const bool buy = p.row.type == PositionType::Buy;
  if (!stops_ok(buy, buy ? tick.bid : tick.ask, sl, tp, in.spec.info)) {
    return refuse(Retcode::InvalidStops, "invalid stops", &tick);
  }
  if (sl == p.row.sl && tp == p.row.tp) return refuse(Retcode::NoChanges, "no changes", &tick);
  const bool had = p.row.sl != 0 || p.row.tp != 0;
  const bool has = sl != 0 || tp != 0;
  if (had && !has) --a.with_stops;
  if (!had && has) ++a.with_stops;
  p.row.sl = sl;
  p.row.tp = tp;
  p.row.time_update_msc = now();
  SendOutcome out;
  out.changes.positions.push_back(book_.live_row(p, *q, a.ccy));
  finish(a, *q, out.changes);
  out.result = TradeResult{Retcode::Done, 0, 0, p.row.ticket, p.row.volume, 0, tick.bid, tick.ask, "Request executed"};
  return out;
}

// ---------------------------------------------------------------- triggers

namespace {

bool pending_hit(OrderType type, double price, const Tick& t) {
  switch (type) {
    case OrderType::Buy:
    case OrderType::Sell:
      return true;  // a market order's rest (RETURN) fills at whatever the market is
    case OrderType::BuyLimit:
      return t.ask <= price;
    case OrderType::SellLimit:
      return t.bid >= price;
    case OrderType::BuyStop:
      return t.ask >= price;
    case OrderType::SellStop:
      return t.bid <= price;
    default:
      return false;
  }
}

/// DealReason::Sl / Tp when the position's stop is hit at this quote.
std::optional<DealReason> stop_hit(const Position& p, const Tick& t) {
  if (p.type == PositionType::Buy) {
    if (p.sl != 0 && t.bid <= p.sl) return DealReason::Sl;
    if (p.tp != 0 && t.bid >= p.tp) return DealReason::Tp;
  } else {
    if (p.sl != 0 && t.ask >= p.sl) return DealReason::Sl;
    if (p.tp != 0 && t.ask <= p.tp) return DealReason::Tp;
  }
  return std::nullopt;
}

}  // namespace

bool SimulatedBroker::triggers_pending(const Account& a, const Quotes& q) const {
  for (const auto& [ticket, o] : a.pending) {
    if (pending_hit(o.row.type, o.row.price_open, q.ticks[static_cast<std::size_t>(o.sym)])) return true;
  }
  if (a.with_stops > 0) {
    for (const auto& [ticket, p] : a.open) {
      if (stop_hit(p.row, q.ticks[static_cast<std::size_t>(p.sym)])) return true;
    }
  }
  if (a.open.empty()) return false;
  const Totals t = book_.totals(a, q);
  const double margin = round_cents(t.margin);
  if (margin <= 0) return false;
  const double equity = a.info.balance + a.info.credit + round_cents(t.profit);
  return equity / margin * 100.0 < a.info.margin_so_so;
}

void SimulatedBroker::apply_triggers(Account& a, const Quotes& q, TimeMs t, Changes& ch) {
  // 1. pending orders (and the working rest of RETURN orders), in ticket order
  for (auto it = a.pending.begin(); it != a.pending.end();) {
    PendingOrder& po = it->second;
    const Tick& tick = q.ticks[static_cast<std::size_t>(po.sym)];
    if (!pending_hit(po.row.type, po.row.price_open, tick) ||
        !trade_allowed_[static_cast<std::size_t>(po.sym)].load(std::memory_order_relaxed)) {
      ++it;
      continue;
    }
    it = fill_working_order(a, po, q, t, ch) ? a.pending.erase(it) : std::next(it);
  }
  // 2. SL/TP at this quote
  if (a.with_stops > 0) {
    std::vector<std::pair<Ticket, DealReason>> hits;
    for (const auto& [ticket, p] : a.open) {
      if (auto why = stop_hit(p.row, q.ticks[static_cast<std::size_t>(p.sym)])) hits.emplace_back(ticket, *why);
    }
    for (const auto& [ticket, why] : hits) {
      auto it = a.open.find(ticket);
      const auto& in = instruments_[static_cast<std::size_t>(it->second.sym)];
      const Tick& tick = q.ticks[static_cast<std::size_t>(it->second.sym)];
      const bool buy = it->second.row.type == PositionType::Buy;
      const double level = why == DealReason::Sl ? it->second.row.sl : it->second.row.tp;
      const std::string comment =
          std::string(why == DealReason::Sl ? "[sl " : "[tp ") + price_text(level, in.spec.info.digits) + "]";
      close_position(a, it, it->second.row.volume, buy ? tick.bid : tick.ask, why, comment, t, q, ch, nullptr, nullptr);
    }
  }
  // 3. stop-out: the most losing position first, until the level recovers
  while (!a.open.empty()) {
    const Totals tot = book_.totals(a, q);
    const double margin = round_cents(tot.margin);
    if (margin <= 0) break;
    const double equity = a.info.balance + a.info.credit + round_cents(tot.profit);
    const double level = equity / margin * 100.0;
    if (level >= a.info.margin_so_so) break;
    auto worst = a.open.begin();
    double worst_profit = std::numeric_limits<double>::infinity();
    for (auto it = a.open.begin(); it != a.open.end(); ++it) {
      const double p = book_.position_profit(it->second, q, a.ccy);
      if (p < worst_profit) {
        worst_profit = p;
        worst = it;
      }
    }
    const Tick& tick = q.ticks[static_cast<std::size_t>(worst->second.sym)];
    const bool buy = worst->second.row.type == PositionType::Buy;
    char comment[64];
    std::snprintf(comment, sizeof comment, "[so %.2f%%]", level);
    close_position(a, worst, worst->second.row.volume, buy ? tick.bid : tick.ask, DealReason::StopOut, comment, t, q,
                   ch, nullptr, nullptr);
  }
}

bool SimulatedBroker::fill_working_order(Account& a, PendingOrder& po, const Quotes& q, TimeMs t, Changes& ch) {
  const Tick& tick = q.ticks[static_cast<std::size_t>(po.sym)];
  const bool buy = is_buy(po.row.type);
  const double price = buy ? tick.ask : tick.bid;
  const auto& in = instruments_[static_cast<std::size_t>(po.sym)];
  const bool dealt_before = po.row.volume_current < po.row.volume_initial;
  const double filled = fillable(po.sym, po.row.volume_current);
  const Totals before = book_.totals(a, q);
  const double equity = a.info.balance + a.info.credit + before.profit;
  const double need = market_.margin_of(po.sym, filled, price, a.info.leverage) * rate(in.margin_ccy, a.ccy, q);
  Order o = po.row;
  o.price_current = price;
  o.time_done_msc = t;
  auto done = [&](OrderState state, std::string comment) {
    o.state = state;
    if (!comment.empty()) o.comment = std::move(comment);
    a.orders_history.push_back(o);
    ch.orders.push_back(std::move(o));
    return true;
  };
  // An order that dealt already keeps its deals: its rest is cancelled, never "rejected".
  const OrderState refused = dealt_before ? OrderState::Canceled : OrderState::Rejected;
  if (dealt_before && a.closed.contains(po.row.ticket)) return done(OrderState::Canceled, "position closed");
  if (filled <= 0 || (filled < po.row.volume_current && po.row.type_filling == Filling::Fok)) {
    return done(refused, kNoLiquidity);
  }
  const bool adds = a.open.contains(po.row.ticket);
  if (equity - before.margin - need < -1e-9 || (!adds && a.open.size() >= options_.max_open_positions)) {
    return done(refused, "Not enough money");
  }
  o.position_id = o.ticket;
  o.volume_current = in.normalize_volume(po.row.volume_current - filled);
  open_position(a, po.sym, buy ? PositionType::Buy : PositionType::Sell, filled, price, po.row.sl, po.row.tp,
                po.row.magic, po.row.comment, o.ticket, t, q, ch, nullptr);
  if (o.volume_current <= 0) return done(OrderState::Filled, "");
  if (po.row.type_filling == Filling::Ioc) return done(OrderState::Canceled, "");
  // RETURN: the rest keeps working, and fills at the next quote steps.
  o.state = OrderState::Partial;
  o.time_done_msc = 0;
  po.row = o;
  ch.orders.push_back(book_.live_order(po, q));
  return false;
}

Changes SimulatedBroker::publish_and_process(std::unique_lock<std::mutex>& step_lock, std::shared_ptr<Quotes> next,
                                             const std::vector<int>& ticked) {
  (void)step_lock;  // held by the caller for the whole step, delivery included
  std::shared_ptr<const Quotes> q = std::move(next);
  {
    std::unique_lock lock(quotes_mutex_);
    quotes_ = q;
  }
  const TimeMs t = now();
  std::vector<Changes> per_account;
  {
    std::shared_lock map_lock(accounts_mutex_);
    for (auto& [login, account] : accounts_) {
      Account& a = *account;
      {
        std::shared_lock lock(a.mutex);
        if (!triggers_pending(a, *q)) continue;
      }
      std::unique_lock lock(a.mutex);
      Changes ch;
      apply_triggers(a, *q, t, ch);
      if (ch.empty()) continue;
      finish(a, *q, ch);
      per_account.push_back(std::move(ch));
    }
  }
  // Delivered after every account lock is released: order_send never waits for a listener.
  if (tick_listener_) {
    for (int i : ticked) {
      tick_listener_(instruments_[static_cast<std::size_t>(i)].spec.info.name, q->ticks[static_cast<std::size_t>(i)]);
    }
  }
  Changes merged;
  for (auto& ch : per_account) {
    if (change_listener_) change_listener_(ch);
    merge(merged, std::move(ch));
  }
  return merged;
}

Changes SimulatedBroker::advance_to(TimeMs t) {
  std::unique_lock step_lock(step_mutex_);
  const TimeMs before = now();
  if (t <= before) return {};
  auto next = std::make_shared<Quotes>(*quotes());
  model_.step(t - before, t, next->ticks);
  std::vector<int> ticked(instruments_.size());
  std::iota(ticked.begin(), ticked.end(), 0);
  now_.store(t, std::memory_order_release);
  return publish_and_process(step_lock, std::move(next), ticked);
}

std::optional<Changes> SimulatedBroker::set_quote(std::string_view symbol, double bid, double ask) {
  const int i = market_.find_symbol(symbol);
  if (i < 0 || !std::isfinite(bid) || !std::isfinite(ask) || !(bid > 0) || ask < bid) return std::nullopt;
  std::unique_lock step_lock(step_mutex_);
  auto next = std::make_shared<Quotes>(*quotes());
  const auto& in = instruments_[static_cast<std::size_t>(i)];
  Tick& tick = next->ticks[static_cast<std::size_t>(i)];
  tick.time_msc = now();
  tick.bid = in.round_price(bid);
  tick.ask = in.round_price(ask);
  model_.set_mid(i, (tick.bid + tick.ask) / 2);
  return publish_and_process(step_lock, std::move(next), {i});
}

void SimulatedBroker::set_change_listener(ChangeListener listener) {
  std::lock_guard lock(step_mutex_);
  change_listener_ = std::move(listener);
}

void SimulatedBroker::set_tick_listener(TickListener listener) {
  std::lock_guard lock(step_mutex_);
  tick_listener_ = std::move(listener);
}

// ---------------------------------------------------------------- the quote thread

void SimulatedBroker::start(std::chrono::milliseconds tick_interval) {
  std::lock_guard lock(thread_mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  const auto interval = std::max(tick_interval, std::chrono::milliseconds(1));
  thread_ = std::thread([this, interval] {
    const TimeMs offset = now() - wall_now();  // keep the simulation's time, at real pace
    std::unique_lock lk(thread_mutex_);
    while (!thread_cv_.wait_for(lk, interval, [this] { return stopping_; })) {
      lk.unlock();
      advance_to(wall_now() + offset);
      lk.lock();
    }
  });
}

void SimulatedBroker::stop() {
  std::thread t;
  {
    std::lock_guard lock(thread_mutex_);
    stopping_ = true;
    t = std::move(thread_);
  }
  thread_cv_.notify_all();
  if (t.joinable()) t.join();
}

bool SimulatedBroker::running() const {
  std::lock_guard lock(thread_mutex_);
  return thread_.joinable();
}

// ---------------------------------------------------------------- persistence

void SimulatedBroker::restore(const BrokerState& state) {
  std::unique_lock step_lock(step_mutex_);
  std::unique_lock map_lock(accounts_mutex_);
  accounts_.clear();
  Ticket max_ticket = 0;
  Login max_login = 0;
  for (const auto& info : state.accounts) {
    if (market_.currency_id(info.currency) < 0) continue;
    accounts_[info.login] = make_account(info);
    max_login = std::max(max_login, info.login);
  }
  std::unordered_map<Ticket, double> realised;  // by position: its partial closes' profit
  for (const auto& d : state.deals) {
    max_ticket = std::max(max_ticket, d.ticket);
    if (d.entry == DealEntry::Out) realised[d.position_id] = round_cents(realised[d.position_id] + d.profit);
    if (Account* a = find_account(d.login)) a->deals.push_back(d);
  }
  for (auto& [login, a] : accounts_) {
    std::stable_sort(a->deals.begin(), a->deals.end(), [](const Deal& x, const Deal& y) {
      return x.time_msc != y.time_msc ? x.time_msc < y.time_msc : x.ticket < y.ticket;
    });
  }
  for (const auto& p : state.positions) {
    max_ticket = std::max(max_ticket, p.ticket);
    Account* a = find_account(p.login);
    const int sym = market_.find_symbol(p.symbol);
    if (a == nullptr || sym < 0) continue;
    if (p.closed) {
      a->closed[p.ticket] = p;
      continue;
    }
    OpenPosition op;
    op.row = p;
    op.sym = sym;
    op.margin = market_.margin_of(sym, p.volume, p.price_open, a->info.leverage);
    if (auto r = realised.find(p.ticket); r != realised.end()) op.realised = r->second;
    AccountBook::add_exposure(*a, op, +1);
    if (p.sl != 0 || p.tp != 0) ++a->with_stops;
    a->open[p.ticket] = std::move(op);
  }
  for (const auto& o : state.orders) {
    max_ticket = std::max(max_ticket, o.ticket);
    Account* a = find_account(o.login);
    const int sym = market_.find_symbol(o.symbol);
    if (a == nullptr || sym < 0) continue;
    if (o.state == OrderState::Placed || o.state == OrderState::Started || o.state == OrderState::Partial) {
      a->pending[o.ticket] = PendingOrder{o, sym};
    } else {
      a->orders_history.push_back(o);
    }
  }
  for (auto& [login, a] : accounts_) {
    std::stable_sort(a->orders_history.begin(), a->orders_history.end(), [](const Order& x, const Order& y) {
      return x.time_done_msc != y.time_done_msc ? x.time_done_msc < y.time_done_msc : x.ticket < y.ticket;
    });
    AccountBook::keep_recent_history(*a, options_.history_per_account);
  }
  next_ticket_.store(std::max(state.next_ticket, max_ticket + 1));
  next_login_ = std::max(options_.first_login, max_login + 1);
}

BrokerState SimulatedBroker::snapshot() const {
  BrokerState s;
  std::shared_lock map_lock(accounts_mutex_);
  const auto q = quotes();
  for (const auto& [login, account] : accounts_) {
    const Account& a = *account;
    std::shared_lock lock(a.mutex);
    s.accounts.push_back(book_.account_row(a, *q));
    for (const auto& [t, p] : a.open) s.positions.push_back(book_.live_row(p, *q, a.ccy));
    for (const auto& [t, p] : a.closed) s.positions.push_back(p);
    for (const auto& [t, o] : a.pending) s.orders.push_back(book_.live_order(o, *q));
    s.orders.insert(s.orders.end(), a.orders_history.begin(), a.orders_history.end());
    s.deals.insert(s.deals.end(), a.deals.begin(), a.deals.end());
  }
  std::sort(s.positions.begin(), s.positions.end(),
            [](const Position& x, const Position& y) { return x.ticket < y.ticket; });
  std::sort(s.orders.begin(), s.orders.end(), [](const Order& x, const Order& y) { return x.ticket < y.ticket; });
  std::sort(s.deals.begin(), s.deals.end(), [](const Deal& x, const Deal& y) { return x.ticket < y.ticket; });
  s.next_ticket = next_ticket_.load();
  return s;
}

// ---------------------------------------------------------------- synthetic history

void SimulatedBroker::backfill(BarBuilder& bars, TimeMs span_ms, TimeMs step_ms) const {
  std::vector<double> end_mids;
  TimeMs t_end = 0;
  {
    std::lock_guard lock(step_mutex_);
    end_mids = model_.mids();
    t_end = now();
  }
  model_.backfill(bars, end_mids, t_end, span_ms, step_ms);
}

}  // namespace permiso::trading::sim
