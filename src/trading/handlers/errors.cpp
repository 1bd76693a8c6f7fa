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

RetcodeAnswer answer_for(Refusal r) {
  switch (r) {
    case Refusal::InsufficientMargin:
      return {422, "insufficient_margin"};
    case Refusal::InvalidVolume:
      return {422, "invalid_volume"};
    case Refusal::InvalidPrice:
      return {422, "invalid_price"};
    case Refusal::InvalidStops:
      return {422, "invalid_stops"};
    case Refusal::InvalidFilling:
    case Refusal::InvalidOrder:
      return {422, "invalid_order"};
    case Refusal::VolumeLimit:
    case Refusal::LimitReached:
      return {422, "limit_reached"};
    case Refusal::MarketClosed:
      return {409, "market_closed"};
    case Refusal::TradeDisabled:
      return {409, "trade_disabled"};
    case Refusal::PriceChanged:
      return {409, "price_changed"};
    case Refusal::StateConflict:
    case Refusal::PositionClosed:
      return {409, "conflict"};
    case Refusal::RateLimited:
      return {429, "rate_limited"};
    case Refusal::Unreachable:
    case Refusal::TimedOut:
      return {503, "broker_unavailable"};
    case Refusal::NoChanges:
      return {422, "no_changes"};
    case Refusal::Rejected:
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
      const auto a = answer_for(refusal_of(f.retcode.value_or(Retcode::Reject)));
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
