// Small pieces every permiso-auth handler uses: storage failures as HTTP failures, audit
// events stamped with the request, ISO 8601 times, and no-store JSON answers.
#pragma once

#include "auth/errors.hpp"
#include "http/http.hpp"
#include "storage/storage.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace permiso::auth {

/// Unavailable → 503, NotFound → 404, Conflict → 409 (naming the field), Invalid → 422,
/// Internal → 500.
Failure storage_failure(const storage::StorageFailure& f);

/// An audit event with the request's IP and id filled in.
storage::AuditEvent audit_event(const http::Request& req, std::string_view action,
                                std::string_view outcome, std::string_view actor,
                                std::string_view actor_type, std::string_view target = {});

/// "2026-11-24T08:00:00Z".
std::string iso8601(std::int64_t unix_seconds);

/// JSON with `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
http::Response no_store_json(int status, const boost::json::object& body);

}  // namespace permiso::auth
