// See ledger.hpp.
#include "trading/fix/ledger.hpp"

#include <algorithm>
#include <cmath>

namespace permiso::trading::fix {
namespace {

double round_cents(double x) {
  return std::round(x * 100.0) / 100.0;
}

}  // namespace

Position opened_position(const std::optional<Position>& before, const Deal& deal) {
  if (before && !before->closed) {
    Position p = *before;
    const double volume = p.volume + deal.volume;
    p.price_open = (p.price_open * p.volume + deal.price * deal.volume) / volume;
    p.volume = volume;
    p.time_update_msc = deal.time_msc;
    return p;
  }
  Position p;
  p.ticket = deal.position_id;
  p.login = deal.login;
  p.symbol = deal.symbol;
  p.type = deal.type == DealType::Sell ? PositionType::Sell : PositionType::Buy;
  p.volume = deal.volume;
  p.price_open = deal.price;
  p.price_current = deal.price;
  p.commission = deal.commission;
  p.magic = deal.magic;
  p.comment = deal.comment;
  p.reason = deal.reason;
  p.time_msc = deal.time_msc;
  p.time_update_msc = deal.time_msc;
  return p;
}

Position reduced_position(Position p, const Deal& deal, double realised) {
  constexpr double kVolumeEpsilon = 1e-9;
  p.volume -= deal.volume;
  p.time_update_msc = deal.time_msc;
  if (p.volume > kVolumeEpsilon) return p;
  p.volume = deal.volume;  // a closed position keeps the volume it closed with, as MT5's history does
  p.closed = true;
  p.price_current = deal.price;
  p.profit = realised;
  p.close_time_msc = deal.time_msc;
  p.close_price = deal.price;
  p.close_reason = deal.reason;
  return p;
}

std::vector<Position> replay_deals(const std::vector<Position>& open, const std::vector<Deal>& deals) {
  std::map<Ticket, Position> positions;
  for (const auto& p : open) positions.emplace(p.ticket, p);
  for (const auto& deal : deals) {
    if (deal.type == DealType::Balance || deal.position_id == 0) continue;
    auto it = positions.find(deal.position_id);
    if (deal.entry == DealEntry::In) {
      auto before = it == positions.end() ? std::nullopt : std::optional(it->second);
      positions.insert_or_assign(deal.position_id, opened_position(before, deal));
    } else if (it != positions.end()) {
      const Position after = reduced_position(it->second, deal, 0);
      if (after.closed) {
        positions.erase(it);
      } else {
        it->second = after;
      }
    }
  }
  std::vector<Position> out;
  out.reserve(positions.size());
  for (auto& [ticket, p] : positions) out.push_back(std::move(p));
  return out;
}

double balance_change(const Deal& deal) {
  return deal.profit + deal.commission + deal.swap;
}

std::optional<double> position_margin(const SymbolInfo& symbol, const Position& position, int leverage) {
  const double lots = position.volume * symbol.contract_size;
  const double lev = std::max(1, leverage);
  switch (symbol.margin_mode) {
    case MarginMode::Forex:
      return lots / lev;
    case MarginMode::ForexNoLeverage:
      return lots;
    case MarginMode::Cfd:
    case MarginMode::CfdIndex:
      return lots * position.price_open;
    case MarginMode::CfdLeverage:
      return lots * position.price_open / lev;
    default:
      return std::nullopt;
  }
}

AccountInfo with_floating(AccountInfo account, double profit, double margin) {
  account.profit = round_cents(profit);
  account.equity = round_cents(account.balance + account.credit + account.profit);
  account.margin = round_cents(margin);
  account.margin_free = round_cents(account.equity - account.margin);
  account.margin_level = account.margin > 0 ? round_cents(account.equity / account.margin * 100.0) : 0.0;
  return account;
}

// ---- BalanceBook ----

void BalanceBook::seed(Login login, double balance, const std::vector<Deal>& deals) {
  std::lock_guard lock(mu_);
  Account account;
  account.balance = balance;
  for (const auto& d : deals) remember(account, d);
  // Deals older than those given (a stored window of the newest) are in the balance too.
  if (!account.seen.empty()) account.floor = std::max(account.floor, *account.seen.begin() - 1);
  accounts_.insert_or_assign(login, std::move(account));
}

bool BalanceBook::has(Login login) const {
  std::lock_guard lock(mu_);
  return accounts_.contains(login);
}

std::optional<double> BalanceBook::count(Login login, const std::vector<Deal>& deals) {
  std::lock_guard lock(mu_);
  auto it = accounts_.find(login);
  if (it == accounts_.end()) return std::nullopt;
  Account& account = it->second;
  for (const auto& d : deals) {
    if (d.login != login || d.ticket <= account.floor || account.seen.contains(d.ticket)) continue;
    account.balance = round_cents(account.balance + balance_change(d));
    remember(account, d);
  }
  return account.balance;
}

std::optional<double> BalanceBook::balance(Login login) const {
  std::lock_guard lock(mu_);
  auto it = accounts_.find(login);
  return it == accounts_.end() ? std::nullopt : std::optional(it->second.balance);
}

std::optional<TimeMs> BalanceBook::newest_time(Login login) const {
  std::lock_guard lock(mu_);
  auto it = accounts_.find(login);
  return it == accounts_.end() ? std::nullopt : std::optional(it->second.newest_time);
}

void BalanceBook::remember(Account& account, const Deal& deal) {
  account.newest_time = std::max(account.newest_time, deal.time_msc);
  account.seen.insert(deal.ticket);
  while (account.seen.size() > kRemembered) {
    account.floor = std::max(account.floor, *account.seen.begin());
    account.seen.erase(account.seen.begin());
  }
}

}  // namespace permiso::trading::fix
