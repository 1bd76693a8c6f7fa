// One table from the gateway's failures (request validation, ServiceError, MT5 retcodes) to
// HTTP answers in the contract's error shape: {error, error_description, request_id, …} with
// `field` for validation and `broker_retcode` for broker refusals.
#pragma once

#include "http/http.hpp"
#include "trading/handlers/requests.hpp"
#include "trading/model.hpp"
#include "trading/service.hpp"

#include <string_view>

namespace permiso::trading::handlers {

/// 422 validation_error (or 415) naming the field.
http::Response invalid_response(const http::Request& req, const Invalid& invalid);
/// 422 validation_error naming `field`.
http::Response validation_response(const http::Request& req, std::string_view field, std::string_view why);

/// How a broker refusal is answered: status and error code by what the retcode means
/// (refusal_of; contract: invalid volume/price/stops 422, no money 422 insufficient_margin,
/// market closed 409, broker unreachable 503).
struct RetcodeAnswer {
  int status = 422;
  std::string_view error;
};
RetcodeAnswer answer_for(Refusal r);

/// A ServiceFailure as the contract's answer. OutcomePending is 202 {status: "pending", …}
/// (not an error: the outcome is resolved later); StorageUnavailable and BrokerUnavailable
/// are 503 with Retry-After.
http::Response failure_response(const http::Request& req, const ServiceFailure& failure);

/// The metric label of a refusal: the retcode's name ("no_money"), else the error code.
std::string rejection_reason(const ServiceFailure& failure);

}  // namespace permiso::trading::handlers
