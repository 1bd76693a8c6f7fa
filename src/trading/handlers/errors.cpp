// See errors.hpp.
#include "trading/handlers/errors.hpp"

#include "trading/handlers/render.hpp"

#include <boost/json.hpp>

namespace permiso::trading::handlers {

http::Response invalid_response(const http::Request& req, const Invalid& invalid) {
  boost::json::object extra;
  extra["field"] = invalid.field;
  const std::string description = invalid.field.empty() ? invalid.message : invalid.field + ": " + invalid.message;
  return http::error_response(req, invalid.status, invalid.error, description, &extra);
}

http::Response validation_response(const http::Request& req, std::string_view field, std::string_view why) {
  return invalid_response(req, Invalid{422, "validation_error", std::string(field), std::string(why)});
}

RetcodeAnswer answer_for(Retcode r) {
  switch (r) {
    case Retcode::NoMoney:
      return {422, "insufficient_margin"};
    case Retcode::InvalidVolume:
    case Retcode::InvalidCloseVolume:
      return {422, "invalid_volume"};
    case Retcode::InvalidPrice:
      return {422, "invalid_price"};
    case Retcode::InvalidStops:
      return {422, "invalid_stops"};
    case Retcode::InvalidExpiration:
    case Retcode::InvalidFill:
    case Retcode::InvalidOrder:
    case Retcode::Invalid:
      return {422, "invalid_order"};
    case Retcode::LimitOrders:
    case Retcode::LimitVolume:
    case Retcode::LimitPositions:
      return {422, "limit_reached"};
    case Retcode::MarketClosed:
      return {409, "market_closed"};
    case Retcode::TradeDisabled:
      return {409, "trade_disabled"};
    case Retcode::Requote:
    case Retcode::PriceChanged:
    case Retcode::PriceOff:
      return {409, "price_changed"};
    case Retcode::Locked:
    case Retcode::Frozen:
    case Retcode::OrderChanged:
    case Retcode::CloseOrderExist:
    case Retcode::PositionClosed:
      return {409, "conflict"};
    case Retcode::TooManyRequests:
      return {429, "rate_limited"};
    case Retcode::Connection:
    case Retcode::Timeout:
      return {503, "broker_unavailable"};
    case Retcode::NoChanges:
      return {422, "no_changes"};
    case Retcode::Reject:
    case Retcode::Cancel:
    case Retcode::Error:
    case Retcode::OnlyReal:
    case Retcode::Placed:
    case Retcode::Done:
    case Retcode::DonePartial:
      break;
  }
  return {422, "order_rejected"};
}

namespace {

void add_retcode(boost::json::object& extra, const ServiceFailure& f) {
  if (f.retcode) {
    extra["broker_retcode"] = static_cast<int>(*f.retcode);
    extra["broker_retcode_name"] = to_string(*f.retcode);
  }
  if (!f.field.empty()) extra["field"] = f.field;
}

std::string describe(const ServiceFailure& f, std::string_view fallback) {
  if (!f.message.empty()) return f.message;
  return std::string(fallback);
}

}  // namespace

http::Response failure_response(const http::Request& req, const ServiceFailure& f) {
  boost::json::object extra;
  add_retcode(extra, f);
  switch (f.code) {
    case ServiceError::Validation: {
      const std::string why = describe(f, "invalid value");
      const std::string text = f.field.empty() ? why : f.field + ": " + why;
      return http::error_response(req, 422, "validation_error", text, &extra);
    }
    case ServiceError::NotFound:
      return http::error_response(req, 404, "not_found", describe(f, "No such trade."), &extra);
    case ServiceError::Conflict:
      return http::error_response(req, 409, "conflict", describe(f, "The request conflicts with the trade's state."),
                                  &extra);
    case ServiceError::IdempotencyKeyReused:
      if (!extra.contains("field")) extra["field"] = "Idempotency-Key";
      return http::error_response(req, 422, "idempotency_key_reused",
                                  describe(f, "This idempotency key was used for a different request."), &extra);
    case ServiceError::BrokerRefused: {
      const auto a = answer_for(f.retcode.value_or(Retcode::Reject));
      if (!extra.contains("broker_retcode")) extra["broker_retcode"] = static_cast<int>(Retcode::Reject);
      auto res = http::error_response(req, a.status, a.error, describe(f, "The broker refused the order."), &extra);
      if (a.status == 429 || a.status == 503) res.set_header("Retry-After", "1");
      return res;
    }
    case ServiceError::BrokerUnavailable: {
      auto res = http::error_response(req, 503, "broker_unavailable",
                                      describe(f, "The broker cannot be reached; nothing was sent."), &extra);
      res.set_header("Retry-After", "1");
      return res;
    }
    case ServiceError::OutcomePending: {
      boost::json::object body;
      body["status"] = "pending";
      body["message"] = describe(f, "The order was sent; its outcome is not known yet and will be resolved.");
      body["request_id"] = req.request_id;
      for (const auto& [k, v] : extra) body[k] = v;
      return http::json_response(202, body);
    }
    case ServiceError::StorageUnavailable:
      break;
  }
  auto res = http::error_response(req, 503, "storage_unavailable",
                                  describe(f, "Storage is unreachable; nothing was acknowledged."), &extra);
  res.set_header("Retry-After", "1");
  return res;
}

std::string rejection_reason(const ServiceFailure& f) {
  if (f.retcode) return retcode_reason(*f.retcode);
  switch (f.code) {
    case ServiceError::Validation:
      return "validation";
    case ServiceError::NotFound:
      return "not_found";
    case ServiceError::Conflict:
      return "conflict";
    case ServiceError::IdempotencyKeyReused:
      return "idempotency_key_reused";
    case ServiceError::BrokerRefused:
      return "rejected";
    case ServiceError::BrokerUnavailable:
      return "broker_unavailable";
    case ServiceError::OutcomePending:
      return "pending";
    case ServiceError::StorageUnavailable:
      return "storage_unavailable";
  }
  return "unknown";
}

}  // namespace permiso::trading::handlers
