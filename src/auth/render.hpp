// JSON shapes of the API's resources (contract: user, role, scope, client). Never a password,
// hash or secret: the renderers do not read those fields.
#pragma once

#include "storage/storage.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::auth {

boost::json::object render_user(const storage::User& user, const std::vector<storage::Role>& roles,
                                const std::vector<std::string>& scopes);
boost::json::object render_role(const storage::Role& role, const std::vector<storage::Scope>& scopes);
boost::json::object render_scope(const storage::Scope& scope);
boost::json::object render_client(const storage::ServiceClient& client, const std::vector<std::string>& scopes);
boost::json::object render_audit_event(const storage::AuditEvent& event);
/// A login session as its owner sees it: {id, created_at, last_seen_at, expires_at, ip,
/// user_agent, current}; never a token.
boost::json::object render_session(const storage::Session& session, std::string_view current_session_id);

/// "2026-11-24T08:00:00Z".
std::string iso8601(std::int64_t unix_seconds);

/// "first last", else the display name, else the username.
std::string full_name(const storage::User& user);

}  // namespace permiso::auth
