// See requests.hpp.
#include "trading/handlers/requests.hpp"

#include "http/body.hpp"
#include "http/numbers.hpp"
#include "jose/crypto.hpp"
#include "trading/handlers/json_writer.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

namespace permiso::trading::handlers {

std::string_view to_string(const Invalid& i) {
  return i.error;
}

namespace {

Invalid invalid(std::string_view field, std::string message) {
  return Invalid{422, "validation_error", std::string(field), std::move(message)};
}

bool printable_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

/// No control characters (UTF-8 text is fine).
bool no_controls(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u != 0x7f;
  });
}

/// The body as a JSON object: 415 when the client says it is something else, 422 naming
/// "body" when it is not a JSON object (as the original FastAPI service answers).
Parsed<boost::json::object> json_body(const http::Request& req) {
  if (auto ct = req.header("content-type")) {
    std::string lower(*ct);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower.find("json") == std::string::npos) {
      return Invalid{415, "unsupported_media_type", "content-type", "the body must be application/json"};
    }
  }
  auto parsed = http::parse_json_object(req.body);
  if (!parsed) return invalid("body", std::string(http::describe(parsed.error())));
  return std::move(*parsed);
}

/// A JSON number that is finite (1e400 parses as infinity): integers and doubles alike.
std::optional<double> finite_number(const boost::json::value& v) {
  double d = 0;
  if (v.is_double())
    d = v.get_double();
  else if (v.is_int64())
    d = static_cast<double>(v.get_int64());
  else if (v.is_uint64())
    d = static_cast<double>(v.get_uint64());
  else
    return std::nullopt;
  if (!std::isfinite(d)) return std::nullopt;
  return d;
}

/// A price-like field: absent → nullopt, null → 0 when `null_is_zero`, else a finite number ≥ 0.
Parsed<std::optional<double>> optional_price(const boost::json::object& o, std::string_view field, bool null_is_zero,
                                             bool positive) {
  auto it = o.find(field);
  if (it == o.end()) return std::optional<double>();
  if (it->value().is_null()) return null_is_zero ? std::optional<double>(0.0) : std::optional<double>();
  const auto d = finite_number(it->value());
  if (!d) {
    return invalid(field, it->value().is_number() ? "must be a finite number" : "must be a number");
  }
  if (positive ? *d <= 0 : *d < 0) {
    return invalid(field, positive ? "must be greater than 0" : "must be 0 (none) or a positive price");
  }
  if (*d > 1e12) return invalid(field, "is out of range");
  return std::optional<double>(*d);
}

Parsed<std::optional<std::string>> optional_string(const boost::json::object& o, std::string_view field) {
  auto it = o.find(field);
  if (it == o.end() || it->value().is_null()) return std::optional<std::string>();
  if (!it->value().is_string()) return invalid(field, "must be a string");
  return std::optional<std::string>(std::string(it->value().get_string()));
}

Parsed<std::optional<std::uint64_t>> optional_count(const boost::json::object& o, std::string_view field,
                                                    std::uint64_t max) {
  auto it = o.find(field);
  if (it == o.end() || it->value().is_null()) return std::optional<std::uint64_t>();
  const auto& v = it->value();
  std::uint64_t n = 0;
  if (v.is_int64() && v.get_int64() >= 0)
    n = static_cast<std::uint64_t>(v.get_int64());
  else if (v.is_uint64())
    n = v.get_uint64();
  else
    return invalid(field, "must be a non-negative integer");
  if (n > max) return invalid(field, "must be at most " + std::to_string(max));
  return std::optional<std::uint64_t>(n);
}

Parsed<std::string> idempotency_key(std::string_view key, std::string_view field) {
  if (key.empty() || key.size() > kMaxIdempotencyKeyBytes || !printable_ascii(key)) {
    return invalid(field, "must be 1 to " + std::to_string(kMaxIdempotencyKeyBytes) + " printable ASCII characters");
  }
  return std::string(key);
}

std::optional<std::uint64_t> parse_decimal(std::string_view s) {
  if (s.size() > 19) return std::nullopt;
  return http::whole_number<std::uint64_t>(s);
}

/// A page size or count in a query: an integer from 1 to `max`.
Parsed<std::size_t> parse_count(std::string_view field, std::string_view value, std::size_t max) {
  const auto n = parse_decimal(value);
  if (!n || *n < 1 || *n > max) return invalid(field, "must be an integer from 1 to " + std::to_string(max));
  return Parsed<std::size_t>(boost::system::in_place_value, static_cast<std::size_t>(*n));
}

/// "TIME_TICKET" (Unix milliseconds, ticket), as next_deals_link writes it.
std::optional<DealCursor> parse_deal_cursor(std::string_view s) {
  const auto sep = s.find('_');
  if (sep == std::string_view::npos) return std::nullopt;
  const auto time = parse_decimal(s.substr(0, sep));
  const auto ticket = parse_decimal(s.substr(sep + 1));
  if (!time || !ticket || *ticket == 0 || *time > static_cast<std::uint64_t>(std::numeric_limits<TimeMs>::max())) {
    return std::nullopt;
  }
  return DealCursor{static_cast<TimeMs>(*time), *ticket};
}

/// Shortest round-trip text of a double, for the fingerprint.
void append_double(std::string& out, double d) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, d);
  out.append(buf, r.ptr);
}

std::string fingerprint(const OpenTrade& t) {
  // Canonical: every field that changes what is traded, in a fixed order and format, so the
  // same order written with other key order or spacing has the same fingerprint.
  std::string canon = "v1|" + t.symbol + "|";
  append_double(canon, t.volume);
  canon += "|" + std::string(to_string(t.type)) + "|";
  if (t.price) append_double(canon, *t.price);
  canon += "|";
  append_double(canon, t.sl);
  canon += "|";
  append_double(canon, t.tp);
  canon += "|" + std::to_string(t.deviation) + "|" + std::to_string(t.magic) + "|" + t.comment;
  // Only when given: a body without it keeps the fingerprint it had before the field existed.
  if (t.filling) canon += "|filling=" + std::string(to_string(*t.filling));
  return jose::hex(jose::sha256(canon));
}

bool is_pending_type(OrderType t) {
  return t != OrderType::Buy && t != OrderType::Sell;
}

}  // namespace

Parsed<std::string> parse_symbol(std::string_view text, std::string_view field) {
  if (text.empty() || text.size() > 32) return invalid(field, "must be 1 to 32 characters");
  std::string out(text);
  for (auto& ch : out) {
    const auto u = static_cast<unsigned char>(ch);
    if (std::isalnum(u) == 0 && ch != '.' && ch != '#' && ch != '_' && ch != '-') {
      return invalid(field, "may contain only letters, digits and . # _ -");
    }
    ch = static_cast<char>(std::toupper(u));
  }
  return out;
}

namespace {

/// The first member of `o` that is not a field of a trade request (a typo must not be ignored).
Parsed<void> only_trade_fields(const boost::json::object& o) {
  static constexpr std::array<std::string_view, 11> kFields = {
      "symbol",  "volume",          "trade_type", "price", "stop_loss", "take_profit",
      "comment", "client_order_id", "deviation",  "magic", "filling"};
  for (const auto& [k, v] : o) {
    if (std::find(kFields.begin(), kFields.end(), std::string_view(k)) == kFields.end()) {
      return invalid(std::string_view(k).substr(0, 64), "is not a field of a trade request");
    }
  }
  return {};
}

Parsed<std::string> required_symbol(const boost::json::object& o) {
  auto sym = o.find("symbol");
  if (sym == o.end() || sym->value().is_null()) return invalid("symbol", "is required");
  if (!sym->value().is_string()) return invalid("symbol", "must be a string");
  return parse_symbol(sym->value().get_string());
}

Parsed<double> required_volume(const boost::json::object& o) {
  auto vol = o.find("volume");
  if (vol == o.end() || vol->value().is_null()) return invalid("volume", "is required");
  const auto volume = finite_number(vol->value());
  if (!volume) return invalid("volume", vol->value().is_number() ? "must be a finite number" : "must be a number");
  if (*volume <= 0) return invalid("volume", "must be greater than 0");
  if (*volume > kMaxVolume) return invalid("volume", "must be at most 100 lots");
  return Parsed<double>(boost::system::in_place_value, *volume);
}

/// "buy", "SELL_LIMIT", …: case-insensitive.
Parsed<OrderType> required_trade_type(const boost::json::object& o) {
  auto type = o.find("trade_type");
  if (type == o.end() || type->value().is_null()) return invalid("trade_type", "is required");
  if (!type->value().is_string()) return invalid("trade_type", "must be a string");
  std::string type_text(type->value().get_string());
  std::transform(type_text.begin(), type_text.end(), type_text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const auto order_type = order_type_from_string(type_text);
  if (!order_type) {
    return invalid("trade_type", "must be buy or sell (or buy_limit, sell_limit, buy_stop, sell_stop)");
  }
  return *order_type;
}

/// price (required for a pending order), stop_loss and take_profit (null or absent: none).
Parsed<void> read_prices(const boost::json::object& o, OpenTrade& t) {
  auto price = optional_price(o, "price", false, true);
  if (!price) return price.error();
  t.price = *price;
  if (is_pending_type(t.type) && !t.price) return invalid("price", "is required for a pending order");
  auto sl = optional_price(o, "stop_loss", true, false);
  if (!sl) return sl.error();
  t.sl = sl->value_or(0);
  auto tp = optional_price(o, "take_profit", true, false);
  if (!tp) return tp.error();
  t.tp = tp->value_or(0);
  return {};
}

/// comment, deviation and magic: optional, bounded.
Parsed<void> read_extras(const boost::json::object& o, OpenTrade& t) {
  auto comment = optional_string(o, "comment");
  if (!comment) return comment.error();
  if (*comment) {
    if ((*comment)->size() > kMaxCommentBytes) {
      return invalid("comment", "must be at most " + std::to_string(kMaxCommentBytes) + " bytes");
    }
    if (!no_controls(**comment)) return invalid("comment", "must not contain control characters");
    t.comment = std::move(**comment);
  }
  auto deviation = optional_count(o, "deviation", 100'000);
  if (!deviation) return deviation.error();
  if (*deviation) t.deviation = **deviation;
  auto magic = optional_count(o, "magic", std::numeric_limits<std::int64_t>::max());
  if (!magic) return magic.error();
  if (*magic) t.magic = **magic;
  auto filling = optional_string(o, "filling");
  if (!filling) return filling.error();
  if (*filling) {
    for (const auto f : {Filling::Fok, Filling::Ioc, Filling::Return}) {
      if (**filling == to_string(f)) t.filling = f;
    }
    if (!t.filling) return invalid("filling", "must be one of fok, ioc, return");
  }
  return {};
}

/// client_order_id or the Idempotency-Key header (equal when both are given); "" for none.
Parsed<std::string> trade_idempotency_key(const http::Request& req, const boost::json::object& o) {
  auto client_order_id = optional_string(o, "client_order_id");
  if (!client_order_id) return client_order_id.error();
  std::optional<std::string> header_key;
  if (auto h = req.header("idempotency-key")) {
    auto key = idempotency_key(*h, "Idempotency-Key");
    if (!key) return key.error();
    header_key = std::move(*key);
  }
  if (!*client_order_id) return header_key.value_or(std::string{});
  auto key = idempotency_key(**client_order_id, "client_order_id");
  if (!key) return key.error();
  if (header_key && *header_key != *key) return invalid("client_order_id", "differs from the Idempotency-Key header");
  return key;
}

}  // namespace

Parsed<OpenTrade> parse_open_trade(const http::Request& req) {
  auto body = json_body(req);
  if (!body) return body.error();
  const auto& o = *body;
  if (auto st = only_trade_fields(o); !st) return st.error();
  OpenTrade t;
  auto symbol = required_symbol(o);
  if (!symbol) return symbol.error();
  t.symbol = std::move(*symbol);
  auto volume = required_volume(o);
  if (!volume) return volume.error();
  t.volume = *volume;
  auto type = required_trade_type(o);
  if (!type) return type.error();
  t.type = *type;
  if (auto st = read_prices(o, t); !st) return st.error();
  if (auto st = read_extras(o, t); !st) return st.error();
  auto key = trade_idempotency_key(req, o);
  if (!key) return key.error();
  t.idempotency_key = std::move(*key);
  t.fingerprint = fingerprint(t);
  return t;
}

std::string broker_order_id(std::string_view account_key, std::string_view idempotency_key) {
  std::string text = std::to_string(account_key.size());  // length-prefixed: no two pairs collide
  text += ':';
  text += account_key;
  text += idempotency_key;
  return "K" + jose::hex(jose::sha256(text)).substr(0, 31);
}

Parsed<ModifyTrade> parse_modify_trade(const http::Request& req) {
  auto body = json_body(req);
  if (!body) return body.error();
  const auto& o = *body;
  for (const auto& [k, v] : o) {
    if (k != "stop_loss" && k != "take_profit") {
      return invalid(std::string_view(k).substr(0, 64), "is not a field of a trade modification");
    }
  }
  ModifyTrade m;
  auto sl = optional_price(o, "stop_loss", true, false);
  if (!sl) return sl.error();
  m.sl = *sl;
  auto tp = optional_price(o, "take_profit", true, false);
  if (!tp) return tp.error();
  m.tp = *tp;
  if (!m.sl && !m.tp) return invalid("body", "give stop_loss, take_profit or both");
  return m;
}

Parsed<Ticket> parse_ticket(std::string_view text, std::string_view field) {
  const auto n = parse_decimal(text);
  if (!n || *n == 0) return invalid(field, "must be a positive integer");
  return Parsed<Ticket>(boost::system::in_place_value, *n);  // Invalid is also constructible from an integer
}

Parsed<TradeListQuery> parse_trade_list_query(const http::Request& req) {
  TradeListQuery q;
  q.limit = kDefaultTradeLimit;
  for (const auto& [name, value] : req.query) {
    if (name == "status") {
      if (value == "open")
        q.status = TradeListQuery::Status::Open;
      else if (value == "closed")
        q.status = TradeListQuery::Status::Closed;
      else if (value == "all")
        q.status = TradeListQuery::Status::All;
      else
        return invalid("status", "must be open, closed or all");
    } else if (name == "symbol") {
      auto s = parse_symbol(value);
      if (!s) return s.error();
      q.symbol = std::move(*s);
    } else if (name == "limit") {
      auto n = parse_count(name, value, kMaxTradeLimit);
      if (!n) return n.error();
      q.limit = *n;
    } else if (name == "cursor") {
      const auto n = parse_decimal(value);
      if (!n || *n == 0) return invalid("cursor", "must be the cursor of a previous page");
      q.cursor = *n;
    }
  }
  return q;
}

std::string next_link(std::string_view path, const TradeListQuery& q, Ticket next_cursor) {
  std::string out = "<";
  out.append(path);
  out += "?status=";
  out += q.status == TradeListQuery::Status::Open     ? "open"
         : q.status == TradeListQuery::Status::Closed ? "closed"
                                                      : "all";
  if (!q.symbol.empty()) {
    out += "&symbol=";
    for (const char ch : q.symbol) {  // parse_symbol allowed only [A-Z0-9.#_-]: '#' needs escaping
      if (ch == '#')
        out += "%23";
      else
        out.push_back(ch);
    }
  }
  out += "&limit=" + std::to_string(q.limit) + "&cursor=" + std::to_string(next_cursor) + ">; rel=\"next\"";
  return out;
}

Parsed<RatesQuery> parse_rates_query(const http::Request& req) {
  RatesQuery q;
  for (const auto& [name, value] : req.query) {
    if (name == "timeframe") {
      std::string upper(value);
      std::transform(upper.begin(), upper.end(), upper.begin(),
                     [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      const auto tf = timeframe_from_string(upper);
      if (!tf) return invalid("timeframe", "must be one of M1, M5, M15, M30, H1, H4, D1");
      q.timeframe = *tf;
    } else if (name == "count") {
      auto n = parse_count(name, value, kMaxBarCount);
      if (!n) return n.error();
      q.count = *n;
    } else if (name == "start") {
      const auto n = parse_decimal(value);
      if (!n || *n > kMaxBarCount)
        return invalid("start", "must be an integer from 0 to " + std::to_string(kMaxBarCount));
      q.start = static_cast<std::size_t>(*n);
    }
  }
  return q;
}

std::optional<TimeMs> parse_time(std::string_view s) {
  if (s.empty() || s.size() > 40) return std::nullopt;
  if (std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    const auto n = parse_decimal(s);
    if (!n || *n > 253'402'300'799ULL) return std::nullopt;  // up to 9999-12-31
    return static_cast<TimeMs>(*n) * 1000;
  }
  // YYYY-MM-DD[THH:MM:SS[.fff…](Z|±HH:MM)]
  auto digits = [&s](std::size_t pos, std::size_t n) -> std::optional<int> {
    if (pos + n > s.size()) return std::nullopt;
    int v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  const auto y = digits(0, 4);
  const auto mo = digits(5, 2);
  const auto d = digits(8, 2);
  if (!y || !mo || !d || s.size() < 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  if (*mo < 1 || *mo > 12 || *d < 1 || *d > 31) return std::nullopt;
  int hh = 0;
  int mm = 0;
  int ss = 0;
  std::int64_t ms = 0;
  std::int64_t offset_min = 0;
  std::size_t pos = 10;
  if (pos < s.size()) {
    if (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ') return std::nullopt;
    const auto h = digits(pos + 1, 2);
    const auto mi = digits(pos + 4, 2);
    const auto se = digits(pos + 7, 2);
    if (!h || !mi || !se || s[pos + 3] != ':' || s[pos + 6] != ':') return std::nullopt;
    if (*h > 23 || *mi > 59 || *se > 60) return std::nullopt;
    hh = *h;
    mm = *mi;
    ss = *se;
    pos += 9;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      std::size_t n = 0;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        if (n < 3) ms = ms * 10 + (s[pos] - '0');
        ++n;
        ++pos;
      }
      if (n == 0) return std::nullopt;
      for (; n < 3; ++n) ms *= 10;
    }
    if (pos >= s.size()) return std::nullopt;  // a time needs its zone: never guess local time
    if (s[pos] == 'Z' || s[pos] == 'z') {
      ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
      const auto oh = digits(pos + 1, 2);
      const auto om = digits(pos + 4, 2);
      if (!oh || !om || s[pos + 3] != ':' || *oh > 23 || *om > 59) return std::nullopt;
      offset_min = (*oh * 60 + *om) * (s[pos] == '+' ? 1 : -1);
      pos += 6;
    } else {
      return std::nullopt;
    }
    if (pos != s.size()) return std::nullopt;
  }
  // days_from_civil (H. Hinnant)
  const int yy = *y - (*mo <= 2 ? 1 : 0);
  const int era = (yy >= 0 ? yy : yy - 399) / 400;
  const auto yoe = static_cast<unsigned>(yy - era * 400);
  const auto mp = static_cast<unsigned>(*mo > 2 ? *mo - 3 : *mo + 9);
  const unsigned doy = (153 * mp + 2) / 5 + static_cast<unsigned>(*d) - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const std::int64_t days = static_cast<std::int64_t>(era) * 146097 + static_cast<std::int64_t>(doe) - 719468;
  const std::int64_t secs = days * 86400 + hh * 3600 + mm * 60 + ss - offset_min * 60;
  return secs * 1000 + ms;
}

Parsed<DealListQuery> parse_deals_query(const http::Request& req, TimeMs now_msc) {
  constexpr TimeMs kThirtyDays = 30LL * 86'400'000;
  DealListQuery q;
  q.limit = kDefaultDealLimit;
  // "Up to now", generously: a deal stamped by the broker's clock a little ahead of ours (or
  // within the current second of a seconds clock) is still listed.
  q.to_msc = now_msc + 86'400'000;
  std::optional<TimeMs> from;
  bool to_given = false;
  for (const auto& [name, value] : req.query) {
    if (name == "from" || name == "to") {
      const auto t = parse_time(value);
      if (!t) return invalid(name, "must be an ISO 8601 UTC time (2026-12-01T15:00:00Z) or Unix seconds");
      if (name == "from") {
        from = *t;
      } else {
        q.to_msc = *t;
        to_given = true;
      }
    } else if (name == "limit") {
      auto n = parse_count(name, value, kMaxDealLimit);
      if (!n) return n.error();
      q.limit = *n;
    } else if (name == "cursor") {
      auto c = parse_deal_cursor(value);
      if (!c) return invalid("cursor", "must be the cursor of a previous page");
      q.after = *c;
    }
  }
  // Without `from`: the 30 days before `to`, or, without `to` either, the last 30 days (the
  // window's end is padded for the broker's clock; its start is not moved with it).
  const TimeMs end = to_given ? q.to_msc : now_msc;
  q.from_msc = from.value_or(std::max<TimeMs>(0, end - kThirtyDays));
  if (q.from_msc > q.to_msc) return invalid("from", "must not be after to");
  return q;
}

std::string next_deals_link(const DealListQuery& q, DealCursor next_cursor) {
  std::string out = "</api/v1/history/deals?from=";
  append_iso8601_ms(out, q.from_msc);
  out += "&to=";
  append_iso8601_ms(out, q.to_msc);
  out += "&limit=" + std::to_string(q.limit) + "&cursor=" + std::to_string(next_cursor.time_msc) + "_" +
         std::to_string(next_cursor.ticket) + ">; rel=\"next\"";
  return out;
}

}  // namespace permiso::trading::handlers
