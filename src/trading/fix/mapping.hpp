// The MT5 model in FIX 4.4 messages (docs/fix.md): one struct per message, encoded by
// to_fix() and decoded by *_from_fix(). The connector and the acceptor (mt5-sim) both use this
// one mapping, so they cannot drift apart. Plain values: no I/O.
#pragma once

#include "fixtags/tag_map.hpp"
#include "trading/fix/message.hpp"
#include "trading/model.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace permiso::trading::fix {

/// Message types (35).
namespace msg {
inline constexpr std::string_view kExecutionReport = "8";
inline constexpr std::string_view kOrderCancelReject = "9";
inline constexpr std::string_view kNewOrderSingle = "D";
inline constexpr std::string_view kOrderCancelRequest = "F";
inline constexpr std::string_view kOrderCancelReplace = "G";
inline constexpr std::string_view kOrderStatusRequest = "H";
inline constexpr std::string_view kMarketDataRequest = "V";
inline constexpr std::string_view kMarketDataSnapshot = "W";
inline constexpr std::string_view kMarketDataReject = "Y";
inline constexpr std::string_view kBusinessReject = "j";
inline constexpr std::string_view kSecurityListRequest = "x";
inline constexpr std::string_view kSecurityList = "y";
inline constexpr std::string_view kTradeCaptureRequest = "AD";
inline constexpr std::string_view kTradeCaptureReport = "AE";
inline constexpr std::string_view kOrderMassStatusRequest = "AF";
inline constexpr std::string_view kRequestForPositions = "AN";
inline constexpr std::string_view kPositionsAck = "AO";
inline constexpr std::string_view kPositionReport = "AP";
inline constexpr std::string_view kTradeCaptureAck = "AQ";
inline constexpr std::string_view kCollateralReport = "BA";
inline constexpr std::string_view kCollateralInquiry = "BB";
inline constexpr std::string_view kAccountOpenRequest = "U1";
inline constexpr std::string_view kAccountOpenReport = "U2";
inline constexpr std::string_view kPositionModifyRequest = "U3";
inline constexpr std::string_view kPositionModifyReport = "U4";
}  // namespace msg

/// The broker's numbers for our custom fields (MT5_FIX_TAGS; standard tags are fixed). Every
/// function that writes or reads a custom field takes it; the default is the dictionary's.
using fixtags::TagMap;

// ---- requests (connector → counterparty) ----

/// D, G, F or U3, by the request's action: Deal and Pending are D, Modify G, Remove F, SlTp U3.
struct OrderRequest {
  std::string cl_ord_id;
  std::string orig_cl_ord_id;  // G, F: the order's ClOrdID when known, else its ticket
  Login login = 0;
  TradeRequest request;  // G, F: type and volume are the pending order's (FIX requires them)
  TimeMs time_msc = 0;
};
Message to_fix(const OrderRequest& r, const TagMap& tags = {});
/// nullopt when the message is not one of D, G, F, U3 or lacks a field the action needs.
std::optional<OrderRequest> order_request_from_fix(const Message& m, const TagMap& tags = {});

/// H: the status of one order, by its ClOrdID.
struct OrderStatusRequest {
  std::string cl_ord_id;
  Login login = 0;
  std::string symbol;
  OrderType type = OrderType::Buy;
};
Message to_fix(const OrderStatusRequest& r);
std::optional<OrderStatusRequest> order_status_request_from_fix(const Message& m);

/// AF, AN, BB, AD, x: the re-read's requests. `id` is the request's id (584, 710, 909, 568, 320).
struct AccountQuery {
  std::string_view type;  // msg::kOrderMassStatusRequest, …
  std::string id;
  Login login = 0;
  TimeMs from_msc = 0;  // AD
  TimeMs to_msc = 0;    // AD
  TimeMs now_msc = 0;   // AN: TransactTime and ClearingBusinessDate
};
Message to_fix(const AccountQuery& q, const TagMap& tags = {});
std::optional<AccountQuery> account_query_from_fix(const Message& m, const TagMap& tags = {});

/// V: a subscription to every symbol's bid and ask.
struct QuoteSubscription {
  std::string id;
  std::vector<std::string> symbols;
};
Message to_fix(const QuoteSubscription& s);
std::optional<QuoteSubscription> quote_subscription_from_fix(const Message& m);

/// U1: a demo account to open (mt5-sim in multi-account mode).
struct AccountOpenRequest {
  std::string id;
  std::string name;
  std::string currency;
  int leverage = 100;
  double deposit = 0;
};
Message to_fix(const AccountOpenRequest& r, const TagMap& tags = {});
std::optional<AccountOpenRequest> account_open_request_from_fix(const Message& m, const TagMap& tags = {});

// ---- answers (counterparty → connector) ----

/// 8: an order's outcome (solicited: cl_ord_id set) or what the broker did on its own.
struct Execution {
  std::string cl_ord_id;
  std::string orig_cl_ord_id;
  char exec_type = '0';      // 0 new, 4 canceled, 5 replaced, 8 rejected, C expired, F trade, I status
  TradeResult result;        // retcode, deal, order, position, volume, price, bid, ask, comment
  Order order;               // the order's row as it is after the step
  std::optional<Deal> deal;  // a fill
  bool closing = false;      // PositionEffect C
  // ExecType I answers to AF: which request, how many reports, and whether this is the last.
  std::string mass_status_id;
  std::size_t total_reports = 0;
  bool last_report = true;
  /// An AF answer with no pending order (OrderID NONE): no order row.
  [[nodiscard]] bool no_order() const { return result.order == 0 && exec_type == 'I'; }
};
Message to_fix(const Execution& e, const TagMap& tags = {});
std::optional<Execution> execution_from_fix(const Message& m, const TagMap& tags = {});

/// 9 and U4: a refused cancel, replace or stops change, and U4's success.
struct RequestRefusal {
  std::string_view type;  // msg::kOrderCancelReject or msg::kPositionModifyReport
  std::string cl_ord_id;
  std::string orig_cl_ord_id;
  Ticket order = 0;  // 9
  Login login = 0;   // U4
  Ticket position = 0;
  char response_to = '1';  // 9: 1 cancel, 2 replace
  Retcode retcode = Retcode::Reject;
  std::string text;
};
Message to_fix(const RequestRefusal& r, const TagMap& tags = {});
std::optional<RequestRefusal> request_refusal_from_fix(const Message& m, const TagMap& tags = {});

/// AO, AQ: how many reports follow (0: none).
struct ReportsAck {
  std::string_view type;  // msg::kPositionsAck or msg::kTradeCaptureAck
  std::string id;
  Login login = 0;
  std::size_t total = 0;
};
Message to_fix(const ReportsAck& a);
std::optional<ReportsAck> reports_ack_from_fix(const Message& m);

/// AP: one open position.
struct PositionReport {
  std::string id;  // PosReqID
  std::size_t total = 0;
  bool last = true;
  Position position;
  TimeMs now_msc = 0;
};
Message to_fix(const PositionReport& r, const TagMap& tags = {});
std::optional<PositionReport> position_report_from_fix(const Message& m, const TagMap& tags = {});

/// AE: one deal.
struct TradeCapture {
  std::string id;  // TradeRequestID
  std::size_t total = 0;
  bool last = true;
  Deal deal;
};
Message to_fix(const TradeCapture& t, const TagMap& tags = {});
std::optional<TradeCapture> trade_capture_from_fix(const Message& m, const TagMap& tags = {});

/// BA: an account (nullopt account: unknown, CollStatus 4).
struct CollateralReport {
  std::string id;  // CollInquiryID
  Login login = 0;
  std::optional<AccountInfo> account;
  std::string text;
};
Message to_fix(const CollateralReport& r, const TagMap& tags = {});
std::optional<CollateralReport> collateral_report_from_fix(const Message& m, const TagMap& tags = {});

/// y: every symbol.
struct SecurityList {
  std::string id;
  std::vector<SymbolInfo> symbols;
};
Message to_fix(const SecurityList& l, const TagMap& tags = {});
std::optional<SecurityList> security_list_from_fix(const Message& m, const TagMap& tags = {});

/// W: one symbol's tick.
struct QuoteSnapshot {
  std::string id;
  std::string symbol;
  Tick tick;
};
Message to_fix(const QuoteSnapshot& q);
std::optional<QuoteSnapshot> quote_snapshot_from_fix(const Message& m);

/// U2: the account opened, or why not (login 0).
struct AccountOpenReport {
  std::string id;
  Login login = 0;
  Retcode retcode = Retcode::Done;
  std::string text;
};
Message to_fix(const AccountOpenReport& r, const TagMap& tags = {});
std::optional<AccountOpenReport> account_open_report_from_fix(const Message& m, const TagMap& tags = {});

/// Every custom field's name and number as `tags` numbers it: the dictionary written for
/// QuickFIX (write_dictionary) must agree with the messages, or it rejects them.
std::vector<std::pair<std::string, int>> dictionary_numbers(const TagMap& tags);

/// Y and j: a request the counterparty refused outright.
Message market_data_reject(std::string_view id, std::string_view text);

/// BusinessRejectReason (380) values we send or act on.
enum class BusinessRejectReason : int { Other = 0, UnsupportedMessageType = 3 };
/// j: `ref_id`, when given, is the refused request's own id (BusinessRejectRefID 379: a PosReqID,
/// CollInquiryID, ...), so the requester can tell which request it answers.
struct BusinessReject {
  std::string ref_seq_num = "0";
  std::string ref_msg_type;
  BusinessRejectReason reason = BusinessRejectReason::Other;
  std::string ref_id;
  std::string text;
};
Message to_fix(const BusinessReject& r);
std::optional<BusinessReject> business_reject_from_fix(const Message& m);

}  // namespace permiso::trading::fix
