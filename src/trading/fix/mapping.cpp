#include "trading/fix/mapping.hpp"

#include <algorithm>
#include <cmath>
#include <string_view>

namespace permiso::trading::fix {

namespace {

// Standard FIX 4.4 tags.
constexpr int kAccount = 1;
constexpr int kAvgPx = 6;
constexpr int kClOrdId = 11;
constexpr int kCommission = 12;
constexpr int kCumQty = 14;
constexpr int kCurrency = 15;
constexpr int kExecId = 17;
constexpr int kLastPx = 31;
constexpr int kLastQty = 32;
constexpr int kOrderId = 37;
constexpr int kOrderQty = 38;
constexpr int kOrdStatus = 39;
constexpr int kOrdType = 40;
constexpr int kOrigClOrdId = 41;
constexpr int kRefSeqNum = 45;
constexpr int kPrice = 44;
constexpr int kSide = 54;
constexpr int kSymbol = 55;
constexpr int kText = 58;
constexpr int kTimeInForce = 59;
constexpr int kTransactTime = 60;
constexpr int kTradeDate = 75;
constexpr int kPositionEffect = 77;
constexpr int kStopPx = 99;
constexpr int kCxlRejReason = 102;
constexpr int kOrdRejReason = 103;
constexpr int kSecurityDesc = 107;
constexpr int kNoRelatedSym = 146;
constexpr int kExecType = 150;
constexpr int kLeavesQty = 151;
constexpr int kContractMultiplier = 231;
constexpr int kMdReqId = 262;
constexpr int kSubscriptionRequestType = 263;
constexpr int kMarketDepth = 264;
constexpr int kMdUpdateType = 265;
constexpr int kNoMdEntryTypes = 267;
constexpr int kNoMdEntries = 268;
constexpr int kMdEntryType = 269;
constexpr int kMdEntryPx = 270;
constexpr int kMdEntryDate = 272;
constexpr int kMdEntryTime = 273;
constexpr int kMdReqRejReason = 281;
constexpr int kSecurityReqId = 320;
constexpr int kSecurityResponseId = 322;
constexpr int kRefMsgType = 372;
constexpr int kBusinessRejectRefId = 379;
constexpr int kBusinessRejectReason = 380;
constexpr int kTotNoRelatedSym = 393;
constexpr int kCxlRejResponseTo = 434;
constexpr int kSecurityListRequestType = 559;
constexpr int kSecurityRequestResult = 560;
constexpr int kMinTradeVol = 562;
constexpr int kTradeRequestId = 568;
constexpr int kTradeRequestType = 569;
constexpr int kPreviouslyReported = 570;
constexpr int kTradeReportId = 571;
constexpr int kAccountType = 581;
constexpr int kMassStatusReqId = 584;
constexpr int kMassStatusReqType = 585;
constexpr int kNoPositions = 702;
constexpr int kPosType = 703;
constexpr int kLongQty = 704;
constexpr int kShortQty = 705;
constexpr int kPosReqId = 710;
constexpr int kClearingBusinessDate = 715;
constexpr int kPosMaintRptId = 721;
constexpr int kPosReqType = 724;
constexpr int kTotalNumPosReports = 727;
constexpr int kPosReqResult = 728;
constexpr int kPosReqStatus = 729;
constexpr int kSettlPrice = 730;
constexpr int kSettlPriceType = 731;
constexpr int kPriorSettlPrice = 734;
constexpr int kTotNumTradeReports = 748;
constexpr int kTradeRequestResult = 749;
constexpr int kTradeRequestStatus = 750;
constexpr int kLastFragment = 893;
constexpr int kMarginExcess = 899;
constexpr int kTotalNetValue = 900;
constexpr int kCashOutstanding = 901;
constexpr int kCollRptId = 908;
constexpr int kCollInquiryId = 909;
constexpr int kCollStatus = 910;
constexpr int kTotNumReports = 911;
constexpr int kLastRptRequested = 912;

// Our own fields (docs/fix.md, "Custom fields") are numbered by the broker: TagMap.

/// FIX has no empty values: a symbol-less row (a balance deal) travels as "[N/A]".
constexpr std::string_view kNoSymbol = "[N/A]";
constexpr std::string_view kNoOrder = "NONE";

// ---- small conversions ----

bool is_buy(OrderType t) {
  return t == OrderType::Buy || t == OrderType::BuyLimit || t == OrderType::BuyStop;
}
bool is_stop(OrderType t) {
  return t == OrderType::BuyStop || t == OrderType::SellStop;
}
bool is_limit(OrderType t) {
  return t == OrderType::BuyLimit || t == OrderType::SellLimit;
}
char side_of(OrderType t) {
  return is_buy(t) ? '1' : '2';
}
char ord_type_of(OrderType t) {
  if (is_limit(t)) return '2';
  return is_stop(t) ? '3' : '1';
}

std::optional<OrderType> order_type_of(char side, char ord_type) {
  if (side != '1' && side != '2') return std::nullopt;
  const bool buy = side == '1';
  switch (ord_type) {
    case '1':
      return buy ? OrderType::Buy : OrderType::Sell;
    case '2':
      return buy ? OrderType::BuyLimit : OrderType::SellLimit;
    case '3':
      return buy ? OrderType::BuyStop : OrderType::SellStop;
    default:
      return std::nullopt;
  }
}

char time_in_force_of(const TradeRequest& r) {
  if (r.action == TradeAction::Pending) return '1';  // good till cancelled
  switch (r.type_filling) {
    case Filling::Fok:
      return '4';
    case Filling::Ioc:
      return '3';
    case Filling::Return:
      return '1';
  }
  return '4';
}

Filling filling_of_time_in_force(char tif) {
  if (tif == '4') return Filling::Fok;
  if (tif == '3') return Filling::Ioc;
  return Filling::Return;
}

/// An MT5 enumeration read from an integer field, when the value is one of its.
template <class E>
bool read_enum(FieldReader& in, int tag, E& out, int low, int high) {
  const auto v = in.integer_or(tag, static_cast<int>(out));
  if (v < low || v > high) {
    in.fail();
    return false;
  }
  out = static_cast<E>(v);
  return true;
}

std::string symbol_on_wire(const std::string& symbol) {
  return symbol.empty() ? std::string(kNoSymbol) : symbol;
}
std::string symbol_from_wire(std::string symbol) {
  return symbol == kNoSymbol ? std::string() : symbol;
}

void add_text(Message& m, int tag, const std::string& text) {
  if (!text.empty()) m.add(tag, text);
}

char ord_status_of(OrderState s) {
  switch (s) {
    case OrderState::Started:
      return 'A';
    case OrderState::Placed:
      return '0';
    case OrderState::Partial:
      return '1';
    case OrderState::Filled:
      return '2';
    case OrderState::Canceled:
      return '4';
    case OrderState::Rejected:
      return '8';
    case OrderState::Expired:
      return 'C';
  }
  return '0';
}

char ord_status_of(const Execution& e) {
  switch (e.exec_type) {
    case 'F':
      return e.order.volume_current > 0 ? '1' : '2';
    case '8':
      return '8';
    case '4':
      return '4';
    case 'C':
      return 'C';
    case 'I':
      return ord_status_of(e.order.state);
    default:
      return '0';  // New, Replaced
  }
}

/// OrdRejReason for a refusal: what FIX can say of the MT5 retcode (Mt5Retcode says it all).
int ord_rej_reason_of(Retcode r) {
  switch (r) {
    case Retcode::NoMoney:
      return 3;  // exceeds limit
    case Retcode::InvalidOrder:
      return 5;  // unknown order
    case Retcode::MarketClosed:
      return 2;  // exchange closed
    default:
      return 99;
  }
}

/// The outcome a refusal means when the counterparty gave no Mt5Retcode.
Retcode retcode_of_rejection(std::int64_t ord_rej_reason) {
  switch (ord_rej_reason) {
    case 1:
      return Retcode::Invalid;  // unknown symbol
    case 2:
      return Retcode::MarketClosed;
    case 3:
      return Retcode::NoMoney;
    case 5:
      return Retcode::InvalidOrder;
    default:
      return Retcode::Reject;
  }
}

Retcode retcode_of_execution(char exec_type, char ord_status) {
  switch (exec_type) {
    case 'F':
      return ord_status == '1' ? Retcode::DonePartial : Retcode::Done;
    case '0':
      return Retcode::Placed;
    case '4':
    case '5':
      return Retcode::Done;
    case 'C':
      return Retcode::Done;
    default:
      return Retcode::Reject;
  }
}

std::string exec_id_of(const Execution& e) {
  if (e.deal) return std::to_string(e.deal->ticket);
  return "E" + std::to_string(e.result.order) + "-" + e.exec_type + "-" + e.cl_ord_id;
}

// ---- orders ----

void add_order_fields(Message& m, const OrderRequest& r, const TagMap& tags) {
  const auto& q = r.request;
  m.add(kClOrdId, r.cl_ord_id).add(kAccount, r.login).add(kSymbol, q.symbol);
  m.add(kSide, std::string(1, side_of(q.type))).add_decimal(kOrderQty, q.volume);
  m.add(kOrdType, std::string(1, ord_type_of(q.type)));
  if (is_stop(q.type)) {
    m.add_decimal(kStopPx, q.price);
  } else if (q.price > 0) {
    m.add_decimal(kPrice, q.price);
  }
  m.add(kTimeInForce, std::string(1, time_in_force_of(q))).add(kTransactTime, utc_timestamp(r.time_msc));
  m.add(kPositionEffect, q.position != 0 ? "C" : "O");
  if (q.position != 0) m.add(tags.position_id, q.position);
  m.add_decimal(tags.stop_loss, q.sl)
      .add_decimal(tags.take_profit, q.tp)
      .add(tags.magic, q.magic)
      .add(tags.deviation, q.deviation);
  m.add(tags.filling, static_cast<int>(q.type_filling));
  add_text(m, kText, q.comment);
}

void add_pending_identity(Message& m, const OrderRequest& r) {
  const auto& q = r.request;
  m.add(kClOrdId, r.cl_ord_id).add(kOrigClOrdId, r.orig_cl_ord_id).add(kOrderId, q.order);
  m.add(kAccount, r.login).add(kSymbol, q.symbol).add(kSide, std::string(1, side_of(q.type)));
  m.add_decimal(kOrderQty, q.volume);
}

void read_new_order(FieldReader& in, const Message& m, OrderRequest& r, const TagMap& tags) {
  auto& q = r.request;
  const auto type = order_type_of(in.character(kSide), in.character(kOrdType));
  if (!type) return in.fail();
  q.type = *type;
  q.action = ord_type_of(q.type) == '1' ? TradeAction::Deal : TradeAction::Pending;
  q.symbol = in.text(kSymbol);
  q.volume = in.decimal(kOrderQty);
  q.price = is_stop(q.type) ? in.decimal(kStopPx) : in.decimal_or(kPrice, 0);
  if (in.character_or(kPositionEffect, 'O') == 'C') q.position = in.unsigned_integer(tags.position_id);
  q.sl = in.decimal_or(tags.stop_loss, 0);
  q.tp = in.decimal_or(tags.take_profit, 0);
  q.magic = in.unsigned_or(tags.magic, 0);
  q.deviation = in.unsigned_or(tags.deviation, 0);
  q.type_filling = filling_of_time_in_force(in.character_or(kTimeInForce, '4'));
  if (m.has(tags.filling)) read_enum(in, tags.filling, q.type_filling, 0, 2);
  q.comment = in.text_or(kText, "");
}

void read_pending_identity(FieldReader& in, OrderRequest& r) {
  auto& q = r.request;
  r.orig_cl_ord_id = in.text(kOrigClOrdId);
  q.order = in.unsigned_integer(kOrderId);
  q.symbol = in.text(kSymbol);
  q.volume = in.decimal(kOrderQty);
}

// ---- executions ----

/// An order no longer working (FIX 4.4, ExecutionReport: LeavesQty is 0 once the order is
/// canceled, expired, rejected or filled, and OrderQty > CumQty tells what was never filled).
bool finished(char ord_status) {
  return ord_status == '2' || ord_status == '4' || ord_status == '8' || ord_status == 'C';
}

void add_execution_order(Message& m, const Execution& e, char ord_status, const TagMap& tags) {
  const Order& o = e.order;
  m.add(kAccount, o.login).add(kSymbol, symbol_on_wire(o.symbol));
  m.add(kSide, std::string(1, side_of(o.type))).add_decimal(kOrderQty, o.volume_initial);
  m.add(kOrdType, std::string(1, ord_type_of(o.type)));
  if (is_stop(o.type)) {
    m.add_decimal(kStopPx, o.price_open);
  } else if (o.price_open > 0) {
    m.add_decimal(kPrice, o.price_open);
  }
  m.add_decimal(kLeavesQty, finished(ord_status) ? 0.0 : o.volume_current);
  m.add_decimal(kCumQty, o.volume_initial - o.volume_current);
  m.add_decimal(tags.stop_loss, o.sl).add_decimal(tags.take_profit, o.tp).add(tags.magic, o.magic);
  m.add(tags.open_time_msc, o.time_setup_msc).add(tags.update_time_msc, o.time_done_msc);
  m.add(tags.order_state, static_cast<int>(o.state)).add(tags.filling, static_cast<int>(o.type_filling));
  m.add_decimal(tags.volume_initial, o.volume_initial);
  add_text(m, tags.comment, o.comment);
}

void add_execution_fill(Message& m, const Execution& e, const TagMap& tags) {
  if (!e.deal) {
    m.add(kLastQty, "0").add(kLastPx, "0").add(kAvgPx, "0");
    return;
  }
  const Deal& d = *e.deal;
  m.add_decimal(kLastQty, d.volume).add_decimal(kLastPx, d.price).add_decimal(kAvgPx, d.price);
  m.add_decimal(kCommission, d.commission).add_decimal(tags.profit, d.profit).add_decimal(tags.swap, d.swap);
  m.add(tags.reason, static_cast<int>(d.reason));
}

TimeMs execution_time(const Execution& e) {
  if (e.deal) return e.deal->time_msc;
  return e.order.time_done_msc != 0 ? e.order.time_done_msc : e.order.time_setup_msc;
}

void read_execution_order(FieldReader& in, const Message& m, Execution& e, const TagMap& tags) {
  Order& o = e.order;
  o.ticket = e.result.order;
  o.login = in.unsigned_integer(kAccount);
  o.symbol = symbol_from_wire(in.text(kSymbol));
  const auto type = order_type_of(in.character(kSide), in.character(kOrdType));
  if (!type) return in.fail();
  o.type = *type;
  o.volume_initial = in.decimal_or(tags.volume_initial, in.decimal(kOrderQty));
  // MT5's volume_current is what was not filled, also of a finished order (an IOC's cancelled
  // rest), where FIX says LeavesQty 0: then OrderQty − CumQty.
  o.volume_current = finished(in.character_or(kOrdStatus, '0')) && m.has(kCumQty)
                         ? std::max(0.0, std::round((o.volume_initial - in.decimal(kCumQty)) * 1e8) / 1e8)
                         : in.decimal_or(kLeavesQty, 0);
  o.price_open = is_stop(o.type) ? in.decimal_or(kStopPx, 0) : in.decimal_or(kPrice, 0);
  o.sl = in.decimal_or(tags.stop_loss, 0);
  o.tp = in.decimal_or(tags.take_profit, 0);
  o.magic = in.unsigned_or(tags.magic, 0);
  o.comment = in.text_or(tags.comment, "");
  o.time_setup_msc = in.integer_or(tags.open_time_msc, 0);
  o.time_done_msc = in.integer_or(tags.update_time_msc, 0);
  o.state = OrderState::Placed;
  read_enum(in, tags.order_state, o.state, 0, 6);
  if (m.has(tags.filling)) read_enum(in, tags.filling, o.type_filling, 0, 2);
  o.position_id = e.result.position;
}

void read_execution_fill(FieldReader& in, const Message& m, Execution& e, const TagMap& tags) {
  Deal d;
  d.ticket = in.unsigned_integer(kExecId);
  d.login = e.order.login;
  d.order = e.result.order;
  d.position_id = e.result.position;
  d.symbol = e.order.symbol;
  d.type = is_buy(e.order.type) ? DealType::Buy : DealType::Sell;
  d.entry = e.closing ? DealEntry::Out : DealEntry::In;
  read_enum(in, tags.reason, d.reason, 0, 6);
  d.volume = in.decimal(kLastQty);
  d.price = in.decimal(kLastPx);
  d.profit = in.decimal_or(tags.profit, 0);
  d.commission = in.decimal_or(kCommission, 0);
  d.swap = in.decimal_or(tags.swap, 0);
  d.magic = e.order.magic;
  d.comment = e.order.comment;
  auto time = parse_utc_timestamp(in.text(kTransactTime));
  if (!time) in.fail();
  d.time_msc = time.value_or(0);
  (void)m;
  e.result.volume = d.volume;
  e.result.price = d.price;
  e.deal = std::move(d);
}

}  // namespace

// ---- requests ----

Message to_fix(const OrderRequest& r, const TagMap& tags) {
  const auto& q = r.request;
  switch (q.action) {
    case TradeAction::Modify: {
      Message m(msg::kOrderCancelReplace);
      add_pending_identity(m, r);
      m.add(kOrdType, std::string(1, ord_type_of(q.type)));
      m.add_decimal(is_stop(q.type) ? kStopPx : kPrice, q.price);
      m.add(kTransactTime, utc_timestamp(r.time_msc))
          .add_decimal(tags.stop_loss, q.sl)
          .add_decimal(tags.take_profit, q.tp);
      return m;
    }
    case TradeAction::Remove: {
      Message m(msg::kOrderCancelRequest);
      add_pending_identity(m, r);
      m.add(kTransactTime, utc_timestamp(r.time_msc));
      return m;
    }
    case TradeAction::SlTp: {
      Message m(msg::kPositionModifyRequest);
      m.add(kClOrdId, r.cl_ord_id).add(kAccount, r.login).add(kSymbol, q.symbol).add(tags.position_id, q.position);
      m.add_decimal(tags.stop_loss, q.sl).add_decimal(tags.take_profit, q.tp);
      return m;
    }
    default: {  // Deal, Pending (CloseBy is refused before it gets here)
      Message m(msg::kNewOrderSingle);
      add_order_fields(m, r, tags);
      return m;
    }
  }
}

std::optional<OrderRequest> order_request_from_fix(const Message& m, const TagMap& tags) {
  FieldReader in(m);
  OrderRequest r;
  r.cl_ord_id = in.text(kClOrdId);
  r.login = in.unsigned_integer(kAccount);
  auto& q = r.request;
  const auto type = m.type();
  if (type == msg::kNewOrderSingle) {
    read_new_order(in, m, r, tags);
  } else if (type == msg::kOrderCancelReplace || type == msg::kOrderCancelRequest) {
    q.action = type == msg::kOrderCancelReplace ? TradeAction::Modify : TradeAction::Remove;
    read_pending_identity(in, r);
    const auto order_type = order_type_of(in.character(kSide), in.character_or(kOrdType, '2'));
    if (!order_type) return std::nullopt;
    q.type = *order_type;
    if (q.action == TradeAction::Modify) {
      q.price = in.decimal(is_stop(q.type) ? kStopPx : kPrice);
      q.sl = in.decimal_or(tags.stop_loss, 0);
      q.tp = in.decimal_or(tags.take_profit, 0);
    }
  } else if (type == msg::kPositionModifyRequest) {
    q.action = TradeAction::SlTp;
    q.symbol = in.text(kSymbol);
    q.position = in.unsigned_integer(tags.position_id);
    q.sl = in.decimal_or(tags.stop_loss, 0);
    q.tp = in.decimal_or(tags.take_profit, 0);
  } else {
    return std::nullopt;
  }
  if (m.has(kTransactTime)) {
    auto time = parse_utc_timestamp(*m.get(kTransactTime));
    if (!time) return std::nullopt;
    r.time_msc = *time;
  }
  if (!in.ok()) return std::nullopt;
  return r;
}

Message to_fix(const OrderStatusRequest& r) {
  Message m(msg::kOrderStatusRequest);
  m.add(kClOrdId, r.cl_ord_id).add(kAccount, r.login).add(kSymbol, symbol_on_wire(r.symbol));
  m.add(kSide, std::string(1, side_of(r.type)));
  return m;
}

std::optional<OrderStatusRequest> order_status_request_from_fix(const Message& m) {
  if (m.type() != msg::kOrderStatusRequest) return std::nullopt;
  FieldReader in(m);
  OrderStatusRequest r;
  r.cl_ord_id = in.text(kClOrdId);
  r.login = in.unsigned_integer(kAccount);
  r.symbol = symbol_from_wire(in.text(kSymbol));
  r.type = in.character(kSide) == '1' ? OrderType::Buy : OrderType::Sell;
  if (!in.ok()) return std::nullopt;
  return r;
}

Message to_fix(const AccountQuery& q, const TagMap& tags) {
  Message m(q.type);
  if (q.type == msg::kOrderMassStatusRequest) {
    m.add(kMassStatusReqId, q.id).add(kMassStatusReqType, 7).add(kAccount, q.login);
  } else if (q.type == msg::kRequestForPositions) {
    m.add(kPosReqId, q.id).add(kPosReqType, 0).add(kAccount, q.login).add(kAccountType, 1);
    m.add(kClearingBusinessDate, utc_date(q.now_msc)).add(kTransactTime, utc_timestamp(q.now_msc));
  } else if (q.type == msg::kCollateralInquiry) {
    m.add(kCollInquiryId, q.id).add(kSubscriptionRequestType, 0).add(kAccount, q.login);
  } else if (q.type == msg::kTradeCaptureRequest) {
    m.add(kTradeRequestId, q.id).add(kTradeRequestType, 0).add(kAccount, q.login);
    m.add(tags.from_msc, q.from_msc).add(tags.to_msc, q.to_msc);
  } else {  // SecurityListRequest
    m.add(kSecurityReqId, q.id).add(kSecurityListRequestType, 4);
  }
  return m;
}

std::optional<AccountQuery> account_query_from_fix(const Message& m, const TagMap& tags) {
  FieldReader in(m);
  AccountQuery q;
  const auto type = m.type();
  if (type == msg::kOrderMassStatusRequest) {
    q.type = msg::kOrderMassStatusRequest;
    q.id = in.text(kMassStatusReqId);
  } else if (type == msg::kRequestForPositions) {
    q.type = msg::kRequestForPositions;
    q.id = in.text(kPosReqId);
  } else if (type == msg::kCollateralInquiry) {
    q.type = msg::kCollateralInquiry;
    q.id = in.text(kCollInquiryId);
  } else if (type == msg::kTradeCaptureRequest) {
    q.type = msg::kTradeCaptureRequest;
    q.id = in.text(kTradeRequestId);
    q.from_msc = in.integer(tags.from_msc);
    q.to_msc = in.integer(tags.to_msc);
  } else if (type == msg::kSecurityListRequest) {
    q.type = msg::kSecurityListRequest;
    q.id = in.text(kSecurityReqId);
    return in.ok() ? std::optional(q) : std::nullopt;
  } else {
    return std::nullopt;
  }
  q.login = in.unsigned_integer(kAccount);
  if (!in.ok()) return std::nullopt;
  return q;
}

Message to_fix(const QuoteSubscription& s) {
  Message m(msg::kMarketDataRequest);
  m.add(kMdReqId, s.id).add(kSubscriptionRequestType, 1).add(kMarketDepth, 1).add(kMdUpdateType, 0);
  m.add_group(kNoMdEntryTypes, {Message().add(kMdEntryType, 0), Message().add(kMdEntryType, 1)});
  std::vector<Message> symbols;
  for (const auto& symbol : s.symbols) symbols.push_back(Message().add(kSymbol, symbol));
  m.add_group(kNoRelatedSym, symbols);
  return m;
}

std::optional<QuoteSubscription> quote_subscription_from_fix(const Message& m) {
  if (m.type() != msg::kMarketDataRequest) return std::nullopt;
  FieldReader in(m);
  QuoteSubscription s;
  s.id = in.text(kMdReqId);
  auto entries = m.group(kNoRelatedSym, {kSymbol});
  if (!entries || !in.ok()) return std::nullopt;
  for (const auto& entry : *entries) s.symbols.emplace_back(*entry.get(kSymbol));
  return s;
}

Message to_fix(const AccountOpenRequest& r, const TagMap& tags) {
  Message m(msg::kAccountOpenRequest);
  m.add(tags.account_req_id, r.id)
      .add(tags.account_name, r.name)
      .add(kCurrency, r.currency)
      .add(tags.leverage, r.leverage);
  m.add_decimal(tags.deposit, r.deposit, 2);
  return m;
}

std::optional<AccountOpenRequest> account_open_request_from_fix(const Message& m, const TagMap& tags) {
  if (m.type() != msg::kAccountOpenRequest) return std::nullopt;
  FieldReader in(m);
  AccountOpenRequest r;
  r.id = in.text(tags.account_req_id);
  r.name = in.text(tags.account_name);
  r.currency = in.text(kCurrency);
  r.leverage = static_cast<int>(in.integer(tags.leverage));
  r.deposit = in.decimal(tags.deposit);
  if (!in.ok()) return std::nullopt;
  return r;
}

// ---- answers ----

Message to_fix(const Execution& e, const TagMap& tags) {
  Message m(msg::kExecutionReport);
  m.add(kOrderId, e.result.order != 0 ? std::to_string(e.result.order) : std::string(kNoOrder));
  if (!e.cl_ord_id.empty()) m.add(kClOrdId, e.cl_ord_id);
  if (!e.orig_cl_ord_id.empty()) m.add(kOrigClOrdId, e.orig_cl_ord_id);
  const char ord_status = ord_status_of(e);
  m.add(kExecId, exec_id_of(e)).add(kExecType, std::string(1, e.exec_type));
  m.add(kOrdStatus, std::string(1, ord_status));
  add_execution_order(m, e, ord_status, tags);
  add_execution_fill(m, e, tags);
  m.add(kTransactTime, utc_timestamp(execution_time(e))).add(kPositionEffect, e.closing ? "C" : "O");
  if (e.result.position != 0) m.add(tags.position_id, e.result.position);
  m.add_decimal(tags.bid, e.result.bid).add_decimal(tags.ask, e.result.ask);
  m.add(tags.mt5_retcode, static_cast<int>(e.result.retcode));
  // Every rejected order says why: a refusal (ExecType 8) and a status of one (ExecType I,
  // OrdStatus 8: an order rejected, or one the counterparty never received, reason 5).
  if (ord_status == '8') m.add(kOrdRejReason, ord_rej_reason_of(e.result.retcode));
  add_text(m, kText, e.result.comment);
  if (!e.mass_status_id.empty()) {
    m.add(kMassStatusReqId, e.mass_status_id).add(kTotNumReports, static_cast<std::uint64_t>(e.total_reports));
    m.add_bool(kLastRptRequested, e.last_report);
  }
  return m;
}

std::optional<Execution> execution_from_fix(const Message& m, const TagMap& tags) {
  if (m.type() != msg::kExecutionReport) return std::nullopt;
  FieldReader in(m);
  Execution e;
  e.cl_ord_id = in.text_or(kClOrdId, "");
  e.orig_cl_ord_id = in.text_or(kOrigClOrdId, "");
  e.exec_type = in.character(kExecType);
  const char ord_status = in.character(kOrdStatus);
  const auto order_id = in.text(kOrderId);
  e.result.order = order_id == kNoOrder ? 0 : in.unsigned_integer(kOrderId);
  e.result.position = in.unsigned_or(tags.position_id, 0);
  e.closing = in.character_or(kPositionEffect, 'O') == 'C';
  e.mass_status_id = in.text_or(kMassStatusReqId, "");
  e.total_reports = static_cast<std::size_t>(in.unsigned_or(kTotNumReports, 0));
  e.last_report = in.boolean_or(kLastRptRequested, true);
  e.result.bid = in.decimal_or(tags.bid, 0);
  e.result.ask = in.decimal_or(tags.ask, 0);
  e.result.comment = in.text_or(kText, "");
  const auto retcode = in.integer_or(tags.mt5_retcode, 0);
  e.result.retcode = retcode != 0                              ? static_cast<Retcode>(retcode)
                     : e.exec_type == '8' || ord_status == '8' ? retcode_of_rejection(in.integer_or(kOrdRejReason, 99))
                                                               : retcode_of_execution(e.exec_type, ord_status);
  if (e.no_order()) return in.ok() ? std::optional(e) : std::nullopt;
  read_execution_order(in, m, e, tags);
  e.result.volume = e.order.volume_initial;
  e.result.price = e.order.price_open;
  if (e.exec_type == 'F') read_execution_fill(in, m, e, tags);
  if (e.deal) e.result.deal = e.deal->ticket;
  if (!in.ok()) return std::nullopt;
  return e;
}

Message to_fix(const RequestRefusal& r, const TagMap& tags) {
  Message m(r.type);
  if (r.type == msg::kOrderCancelReject) {
    m.add(kOrderId, r.order != 0 ? std::to_string(r.order) : std::string(kNoOrder)).add(kClOrdId, r.cl_ord_id);
    m.add(kOrigClOrdId, r.orig_cl_ord_id).add(kOrdStatus, "0");
    m.add(kCxlRejResponseTo, std::string(1, r.response_to));
    m.add(kCxlRejReason, r.retcode == Retcode::InvalidOrder ? 1 : 99);
  } else {
    m.add(kClOrdId, r.cl_ord_id).add(kAccount, r.login).add(tags.position_id, r.position);
  }
  m.add(tags.mt5_retcode, static_cast<int>(r.retcode));
  add_text(m, kText, r.text);
  return m;
}

std::optional<RequestRefusal> request_refusal_from_fix(const Message& m, const TagMap& tags) {
  FieldReader in(m);
  RequestRefusal r;
  r.cl_ord_id = in.text(kClOrdId);
  if (m.type() == msg::kOrderCancelReject) {
    r.type = msg::kOrderCancelReject;
    const auto order_id = in.text(kOrderId);
    r.order = order_id == kNoOrder ? 0 : in.unsigned_integer(kOrderId);
    r.orig_cl_ord_id = in.text(kOrigClOrdId);
    r.response_to = in.character(kCxlRejResponseTo);
  } else if (m.type() == msg::kPositionModifyReport) {
    r.type = msg::kPositionModifyReport;
    r.login = in.unsigned_integer(kAccount);
    r.position = in.unsigned_integer(tags.position_id);
  } else {
    return std::nullopt;
  }
  r.retcode = static_cast<Retcode>(in.integer_or(tags.mt5_retcode, static_cast<int>(Retcode::Reject)));
  r.text = in.text_or(kText, "");
  if (!in.ok()) return std::nullopt;
  return r;
}

Message to_fix(const ReportsAck& a) {
  Message m(a.type);
  const auto total = static_cast<std::uint64_t>(a.total);
  if (a.type == msg::kPositionsAck) {
    m.add(kPosMaintRptId, a.id).add(kPosReqId, a.id).add(kTotalNumPosReports, total);
    m.add(kPosReqResult, a.total > 0 ? 0 : 2).add(kPosReqStatus, 0).add(kAccount, a.login).add(kAccountType, 1);
  } else {
    m.add(kTradeRequestId, a.id).add(kTradeRequestType, 0).add(kTotNumTradeReports, total);
    m.add(kTradeRequestResult, 0).add(kTradeRequestStatus, 0);
  }
  return m;
}

std::optional<ReportsAck> reports_ack_from_fix(const Message& m) {
  FieldReader in(m);
  ReportsAck a;
  if (m.type() == msg::kPositionsAck) {
    a.type = msg::kPositionsAck;
    a.id = in.text(kPosReqId);
    a.total = static_cast<std::size_t>(in.unsigned_integer(kTotalNumPosReports));
    a.login = in.unsigned_integer(kAccount);
  } else if (m.type() == msg::kTradeCaptureAck) {
    a.type = msg::kTradeCaptureAck;
    a.id = in.text(kTradeRequestId);
    a.total = static_cast<std::size_t>(in.unsigned_integer(kTotNumTradeReports));
  } else {
    return std::nullopt;
  }
  if (!in.ok()) return std::nullopt;
  return a;
}

Message to_fix(const PositionReport& r, const TagMap& tags) {
  const Position& p = r.position;
  Message m(msg::kPositionReport);
  m.add(kPosMaintRptId, r.id + "-" + std::to_string(p.ticket)).add(kPosReqId, r.id);
  m.add(kTotalNumPosReports, static_cast<std::uint64_t>(r.total)).add_bool(kLastRptRequested, r.last);
  m.add(kPosReqResult, 0).add(kAccount, p.login).add(kAccountType, 1);
  m.add(kClearingBusinessDate, utc_date(r.now_msc)).add(kSymbol, p.symbol);
  m.add_decimal(kSettlPrice, p.price_current).add(kSettlPriceType, 1).add_decimal(kPriorSettlPrice, p.price_open);
  const bool buy = p.type == PositionType::Buy;
  Message quantities;
  quantities.add(kPosType, "TQ").add_decimal(kLongQty, buy ? p.volume : 0).add_decimal(kShortQty, buy ? 0 : p.volume);
  m.add_group(kNoPositions, {quantities});
  m.add(tags.position_id, p.ticket)
      .add_decimal(tags.price_open, p.price_open)
      .add_decimal(tags.price_current, p.price_current);
  m.add_decimal(tags.stop_loss, p.sl).add_decimal(tags.take_profit, p.tp).add_decimal(tags.profit, p.profit);
  m.add_decimal(tags.swap, p.swap).add_decimal(kCommission, p.commission).add(tags.magic, p.magic);
  add_text(m, kText, p.comment);
  m.add(tags.reason, static_cast<int>(p.reason))
      .add(tags.open_time_msc, p.time_msc)
      .add(tags.update_time_msc, p.time_update_msc);
  return m;
}

std::optional<PositionReport> position_report_from_fix(const Message& m, const TagMap& tags) {
  if (m.type() != msg::kPositionReport) return std::nullopt;
  FieldReader in(m);
  PositionReport r;
  r.id = in.text(kPosReqId);
  r.total = static_cast<std::size_t>(in.unsigned_integer(kTotalNumPosReports));
  r.last = in.boolean_or(kLastRptRequested, true);
  Position& p = r.position;
  p.ticket = in.unsigned_integer(tags.position_id);
  p.login = in.unsigned_integer(kAccount);
  p.symbol = in.text(kSymbol);
  auto quantities = m.group(kNoPositions, {kPosType, kLongQty, kShortQty});
  if (!quantities || quantities->size() != 1) return std::nullopt;
  FieldReader q(quantities->front());
  const double long_qty = q.decimal_or(kLongQty, 0);
  const double short_qty = q.decimal_or(kShortQty, 0);
  p.type = long_qty > 0 ? PositionType::Buy : PositionType::Sell;
  p.volume = long_qty > 0 ? long_qty : short_qty;
  p.price_open = in.decimal_or(tags.price_open, in.decimal(kPriorSettlPrice));
  p.price_current = in.decimal_or(tags.price_current, in.decimal(kSettlPrice));
  p.sl = in.decimal_or(tags.stop_loss, 0);
  p.tp = in.decimal_or(tags.take_profit, 0);
  p.profit = in.decimal_or(tags.profit, 0);
  p.swap = in.decimal_or(tags.swap, 0);
  p.commission = in.decimal_or(kCommission, 0);
  p.magic = in.unsigned_or(tags.magic, 0);
  p.comment = in.text_or(kText, "");
  read_enum(in, tags.reason, p.reason, 0, 6);
  p.time_msc = in.integer_or(tags.open_time_msc, 0);
  p.time_update_msc = in.integer_or(tags.update_time_msc, p.time_msc);
  if (!in.ok() || !q.ok() || p.volume <= 0) return std::nullopt;
  return r;
}

Message to_fix(const TradeCapture& t, const TagMap& tags) {
  const Deal& d = t.deal;
  Message m(msg::kTradeCaptureReport);
  m.add(kTradeReportId, d.ticket).add(kTradeRequestId, t.id);
  m.add(kTotNumTradeReports, static_cast<std::uint64_t>(t.total)).add_bool(kLastRptRequested, t.last);
  m.add_bool(kPreviouslyReported, false).add(kSymbol, symbol_on_wire(d.symbol));
  m.add_decimal(kLastQty, d.volume).add_decimal(kLastPx, d.price);
  m.add(kTradeDate, utc_date(d.time_msc)).add(kTransactTime, utc_timestamp(d.time_msc));
  m.add(kAccount, d.login).add(kOrderId, d.order).add(kSide, d.type == DealType::Sell ? "2" : "1");
  m.add(tags.position_id, d.position_id).add(tags.deal_type, static_cast<int>(d.type));
  m.add(tags.deal_entry, static_cast<int>(d.entry)).add(tags.reason, static_cast<int>(d.reason));
  m.add_decimal(tags.profit, d.profit).add_decimal(kCommission, d.commission).add_decimal(tags.swap, d.swap);
  m.add(tags.magic, d.magic);
  add_text(m, kText, d.comment);
  return m;
}

std::optional<TradeCapture> trade_capture_from_fix(const Message& m, const TagMap& tags) {
  if (m.type() != msg::kTradeCaptureReport) return std::nullopt;
  FieldReader in(m);
  TradeCapture t;
  t.id = in.text(kTradeRequestId);
  t.total = static_cast<std::size_t>(in.unsigned_integer(kTotNumTradeReports));
  t.last = in.boolean_or(kLastRptRequested, true);
  Deal& d = t.deal;
  d.ticket = in.unsigned_integer(kTradeReportId);
  d.login = in.unsigned_integer(kAccount);
  d.order = in.unsigned_or(kOrderId, 0);
  d.position_id = in.unsigned_or(tags.position_id, 0);
  d.symbol = symbol_from_wire(in.text(kSymbol));
  d.type = in.character(kSide) == '2' ? DealType::Sell : DealType::Buy;
  read_enum(in, tags.deal_type, d.type, 0, 2);
  read_enum(in, tags.deal_entry, d.entry, 0, 1);
  read_enum(in, tags.reason, d.reason, 0, 6);
  d.volume = in.decimal(kLastQty);
  d.price = in.decimal(kLastPx);
  d.profit = in.decimal_or(tags.profit, 0);
  d.commission = in.decimal_or(kCommission, 0);
  d.swap = in.decimal_or(tags.swap, 0);
  d.magic = in.unsigned_or(tags.magic, 0);
  d.comment = in.text_or(kText, "");
  auto time = parse_utc_timestamp(in.text(kTransactTime));
  if (!time || !in.ok()) return std::nullopt;
  d.time_msc = *time;
  return t;
}

Message to_fix(const CollateralReport& r, const TagMap& tags) {
  Message m(msg::kCollateralReport);
  m.add(kCollRptId, r.id).add(kCollInquiryId, r.id).add(kCollStatus, r.account ? 3 : 4).add(kAccount, r.login);
  if (r.account) {
    const AccountInfo& a = *r.account;
    m.add(kCurrency, a.currency).add_decimal(kCashOutstanding, a.balance, 2).add_decimal(kTotalNetValue, a.equity, 2);
    m.add_decimal(kMarginExcess, a.margin_free, 2);
    m.add_decimal(tags.balance, a.balance, 2)
        .add_decimal(tags.credit, a.credit, 2)
        .add_decimal(tags.profit, a.profit, 2);
    m.add_decimal(tags.equity, a.equity, 2)
        .add_decimal(tags.margin, a.margin, 2)
        .add_decimal(tags.margin_free, a.margin_free, 2);
    m.add_decimal(tags.margin_level, a.margin_level, 2).add(tags.leverage, a.leverage);
    m.add_decimal(tags.margin_call, a.margin_so_call, 2).add_decimal(tags.stop_out, a.margin_so_so, 2);
    add_text(m, tags.account_name, a.name);
    add_text(m, tags.server, a.server);
    m.add_bool(tags.demo, a.demo);
  }
  add_text(m, kText, r.text);
  return m;
}

std::optional<CollateralReport> collateral_report_from_fix(const Message& m, const TagMap& tags) {
  if (m.type() != msg::kCollateralReport) return std::nullopt;
  FieldReader in(m);
  CollateralReport r;
  r.id = in.text(kCollInquiryId);
  r.login = in.unsigned_integer(kAccount);
  r.text = in.text_or(kText, "");
  if (in.integer(kCollStatus) == 3) {
    AccountInfo a;
    a.login = r.login;
    a.currency = in.text(kCurrency);
    a.balance = in.decimal_or(tags.balance, in.decimal(kCashOutstanding));
    a.equity = in.decimal_or(tags.equity, in.decimal(kTotalNetValue));
    a.margin_free = in.decimal_or(tags.margin_free, in.decimal_or(kMarginExcess, 0));
    a.margin_level = in.decimal_or(tags.margin_level, 0);
    a.credit = in.decimal_or(tags.credit, 0);
    a.profit = in.decimal_or(tags.profit, 0);
    a.margin = in.decimal_or(tags.margin, 0);
    a.leverage = static_cast<int>(in.integer_or(tags.leverage, a.leverage));
    a.margin_so_call = in.decimal_or(tags.margin_call, a.margin_so_call);
    a.margin_so_so = in.decimal_or(tags.stop_out, a.margin_so_so);
    a.name = in.text_or(tags.account_name, "");
    a.server = in.text_or(tags.server, "");
    a.demo = in.boolean_or(tags.demo, a.demo);
    r.account = std::move(a);
  }
  if (!in.ok()) return std::nullopt;
  return r;
}

Message to_fix(const SecurityList& l, const TagMap& tags) {
  Message m(msg::kSecurityList);
  m.add(kSecurityReqId, l.id).add(kSecurityResponseId, l.id).add(kSecurityRequestResult, 0);
  m.add(kTotNoRelatedSym, static_cast<std::uint64_t>(l.symbols.size())).add_bool(kLastFragment, true);
  std::vector<Message> entries;
  for (const auto& s : l.symbols) {
    Message e;
    e.add(kSymbol, s.name);
    add_text(e, kSecurityDesc, s.description);
    e.add(kCurrency, s.currency_profit).add_decimal(kContractMultiplier, s.contract_size);
    e.add_decimal(kMinTradeVol, s.volume_min).add_decimal(tags.volume_max, s.volume_max);
    e.add_decimal(tags.volume_step, s.volume_step).add(tags.digits, s.digits).add_decimal(tags.point, s.point, 10);
    e.add(tags.base_currency, s.currency_base)
        .add(tags.margin_currency, s.currency_margin)
        .add(tags.stops_level, s.stops_level);
    e.add(tags.calc_mode, static_cast<int>(s.margin_mode)).add_bool(tags.trade_allowed, s.trade_allowed);
    entries.push_back(std::move(e));
  }
  m.add_group(kNoRelatedSym, entries);
  return m;
}

std::optional<SecurityList> security_list_from_fix(const Message& m, const TagMap& tags) {
  if (m.type() != msg::kSecurityList) return std::nullopt;
  FieldReader in(m);
  SecurityList l;
  l.id = in.text(kSecurityReqId);
  auto entries = m.group(kNoRelatedSym, {kSymbol, kSecurityDesc, kCurrency, kContractMultiplier, kMinTradeVol,
                                         tags.volume_max, tags.volume_step, tags.digits, tags.point, tags.base_currency,
                                         tags.margin_currency, tags.stops_level, tags.calc_mode, tags.trade_allowed});
  if (!entries || !in.ok()) return std::nullopt;
  for (const auto& entry : *entries) {
    FieldReader e(entry);
    SymbolInfo s;
    s.name = e.text(kSymbol);
    s.description = e.text_or(kSecurityDesc, "");
    s.currency_profit = e.text(kCurrency);
    s.contract_size = e.decimal(kContractMultiplier);
    s.volume_min = e.decimal(kMinTradeVol);
    s.volume_max = e.decimal(tags.volume_max);
    s.volume_step = e.decimal(tags.volume_step);
    s.digits = static_cast<int>(e.integer(tags.digits));
    s.point = e.decimal(tags.point);
    s.currency_base = e.text(tags.base_currency);
    s.currency_margin = e.text(tags.margin_currency);
    s.stops_level = static_cast<int>(e.integer_or(tags.stops_level, 0));
    const auto mode = e.integer(tags.calc_mode);
    if (!is_margin_mode(static_cast<int>(mode))) e.fail();
    s.margin_mode = static_cast<MarginMode>(mode);
    s.trade_allowed = e.boolean_or(tags.trade_allowed, true);
    if (!e.ok()) return std::nullopt;
    l.symbols.push_back(std::move(s));
  }
  return l;
}

Message to_fix(const QuoteSnapshot& q) {
  Message m(msg::kMarketDataSnapshot);
  m.add(kMdReqId, q.id).add(kSymbol, q.symbol);
  const auto date = utc_date(q.tick.time_msc);
  const auto time = utc_time(q.tick.time_msc);
  auto entry = [&](int type, double price) {
    Message e;
    e.add(kMdEntryType, type).add_decimal(kMdEntryPx, price, 10).add(kMdEntryDate, date).add(kMdEntryTime, time);
    return e;
  };
  std::vector<Message> entries{entry(0, q.tick.bid), entry(1, q.tick.ask)};
  if (q.tick.last > 0) entries.push_back(entry(2, q.tick.last));
  m.add_group(kNoMdEntries, entries);
  return m;
}

std::optional<QuoteSnapshot> quote_snapshot_from_fix(const Message& m) {
  if (m.type() != msg::kMarketDataSnapshot) return std::nullopt;
  FieldReader in(m);
  QuoteSnapshot q;
  q.id = in.text_or(kMdReqId, "");
  q.symbol = in.text(kSymbol);
  auto entries = m.group(kNoMdEntries, {kMdEntryType, kMdEntryPx, kMdEntryDate, kMdEntryTime});
  if (!entries || !in.ok()) return std::nullopt;
  bool bid = false;
  bool ask = false;
  for (const auto& entry : *entries) {
    FieldReader e(entry);
    const char type = e.character(kMdEntryType);
    const double price = e.decimal(kMdEntryPx);
    auto time = parse_utc_timestamp(e.text(kMdEntryDate) + "-" + e.text(kMdEntryTime));
    if (!e.ok() || !time) return std::nullopt;
    q.tick.time_msc = std::max(q.tick.time_msc, *time);
    if (type == '0') bid = true, q.tick.bid = price;
    if (type == '1') ask = true, q.tick.ask = price;
    if (type == '2') q.tick.last = price;
  }
  if (!bid || !ask) return std::nullopt;
  return q;
}

Message to_fix(const AccountOpenReport& r, const TagMap& tags) {
  Message m(msg::kAccountOpenReport);
  m.add(tags.account_req_id, r.id);
  if (r.login != 0) m.add(kAccount, r.login);
  m.add(tags.mt5_retcode, static_cast<int>(r.retcode));
  add_text(m, kText, r.text);
  return m;
}

std::optional<AccountOpenReport> account_open_report_from_fix(const Message& m, const TagMap& tags) {
  if (m.type() != msg::kAccountOpenReport) return std::nullopt;
  FieldReader in(m);
  AccountOpenReport r;
  r.id = in.text(tags.account_req_id);
  r.login = in.unsigned_or(kAccount, 0);
  r.retcode = static_cast<Retcode>(in.integer(tags.mt5_retcode));
  r.text = in.text_or(kText, "");
  if (!in.ok()) return std::nullopt;
  return r;
}

std::vector<std::pair<std::string, int>> dictionary_numbers(const TagMap& tags) {
  std::vector<std::pair<std::string, int>> numbers;
  for (const auto& field : fixtags::custom_fields()) numbers.emplace_back(field.name, tags.*field.number);
  return numbers;
}

Message market_data_reject(std::string_view id, std::string_view text) {
  Message m(msg::kMarketDataReject);
  m.add(kMdReqId, id).add(kMdReqRejReason, 0);
  if (!text.empty()) m.add(kText, text);
  return m;
}

Message to_fix(const BusinessReject& r) {
  Message m(msg::kBusinessReject);
  m.add(kRefSeqNum, r.ref_seq_num).add(kRefMsgType, r.ref_msg_type);
  if (!r.ref_id.empty()) m.add(kBusinessRejectRefId, r.ref_id);
  m.add(kBusinessRejectReason, static_cast<int>(r.reason));
  if (!r.text.empty()) m.add(kText, r.text);
  return m;
}

std::optional<BusinessReject> business_reject_from_fix(const Message& m) {
  if (m.type() != msg::kBusinessReject) return std::nullopt;
  FieldReader in(m);
  BusinessReject r;
  r.ref_seq_num = in.text_or(kRefSeqNum, "0");
  r.ref_msg_type = in.text(kRefMsgType);
  r.reason = static_cast<BusinessRejectReason>(in.integer(kBusinessRejectReason));
  r.ref_id = in.text_or(kBusinessRejectRefId, "");
  r.text = in.text_or(kText, "");
  if (!in.ok()) return std::nullopt;
  return r;
}

}  // namespace permiso::trading::fix
