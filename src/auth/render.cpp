// See render.hpp.
#include "auth/render.hpp"

#include "auth/client_cache.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <ctime>

namespace permiso::auth {

std::string iso8601(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}
namespace {

boost::json::value opt(const std::optional<std::string>& s) {
  return s ? boost::json::value(*s) : boost::json::value(nullptr);
}

boost::json::value opt_time(const std::optional<std::int64_t>& t) {
  return t ? boost::json::value(iso8601(*t)) : boost::json::value(nullptr);
}

boost::json::value opt_int(const std::optional<std::int64_t>& v) {
  return v ? boost::json::value(*v) : boost::json::value(nullptr);
}

}  // namespace

std::string full_name(const storage::User& u) {
  std::string name;
  if (u.first_name && !u.first_name->empty()) name = *u.first_name;
  if (u.last_name && !u.last_name->empty()) name += (name.empty() ? "" : " ") + *u.last_name;
  if (name.empty() && u.display_name && !u.display_name->empty()) name = *u.display_name;
  return name.empty() ? u.username : name;
}

boost::json::object render_user(const storage::User& u, const std::vector<storage::Role>& roles,
                                const std::vector<std::string>& scopes) {
  boost::json::array role_array;
  for (const auto& r : roles) {
    role_array.push_back(boost::json::object{{"id", r.id}, {"name", r.name}, {"description", r.description}});
  }
  boost::json::array scope_array;
  for (const auto& s : scopes) scope_array.emplace_back(s);
  return {{"id", u.id},
          {"username", u.username},
          {"email", u.email},
          {"first_name", opt(u.first_name)},
          {"last_name", opt(u.last_name)},
          {"display_name", opt(u.display_name)},
          {"bio", opt(u.bio)},
          {"is_active", u.is_active},
          {"is_verified", u.is_verified},
          {"is_superuser", u.is_superuser},
          {"full_name", full_name(u)},
          {"last_login", opt_time(u.last_login)},
          {"locked_until", opt_time(u.locked_until)},
          {"created_at", iso8601(u.created_at)},
          {"updated_at", iso8601(u.updated_at)},
          {"roles", std::move(role_array)},
          {"scopes", std::move(scope_array)}};
}

boost::json::object render_scope(const storage::Scope& s) {
  return {
      {"id", s.id}, {"name", s.name}, {"description", s.description}, {"resource", s.resource}, {"action", s.action}};
}

boost::json::object render_role(const storage::Role& r, const std::vector<storage::Scope>& scopes) {
  boost::json::array scope_array;
  for (const auto& s : scopes) scope_array.push_back(render_scope(s));
  return {{"id", r.id}, {"name", r.name}, {"description", r.description}, {"scopes", std::move(scope_array)}};
}

boost::json::object render_client(const storage::ServiceClient& c, const std::vector<std::string>& scopes) {
  boost::json::array scope_array;
  for (const auto& s : scopes) scope_array.emplace_back(s);
  boost::json::array ips;
  for (const auto& ip : ClientCache::json_strings(c.allowed_ips)) ips.emplace_back(ip);
  boost::json::array redirects;
  for (const auto& uri : ClientCache::json_strings(c.redirect_uris)) redirects.emplace_back(uri);
  return {{"client_id", c.client_id},
          {"name", c.name},
          {"description", c.description},
          {"client_type", c.client_type},
          {"is_active", c.is_active},
          {"is_trusted", c.is_trusted},
          {"access_token_lifetime", c.access_token_lifetime},
          {"rate_limit_per_minute", opt_int(c.rate_limit_per_minute)},
          {"rate_limit_per_hour", opt_int(c.rate_limit_per_hour)},
          {"allowed_ips", std::move(ips)},
          {"redirect_uris", std::move(redirects)},
          {"scopes", std::move(scope_array)},
          {"created_at", iso8601(c.created_at)},
          {"updated_at", iso8601(c.updated_at)},
          {"last_used_at", opt_time(c.last_used_at)}};
}

boost::json::object render_audit_event(const storage::AuditEvent& e) {
  boost::system::error_code ec;
  auto details = boost::json::parse(e.details, ec);
  return {{"id", e.id},
          {"timestamp", iso8601(e.ts)},
          {"actor", e.actor},
          {"actor_type", e.actor_type},
          {"action", e.action},
          {"target", e.target},
          {"ip", e.ip},
          {"outcome", e.outcome},
          {"details", ec || !details.is_object() ? boost::json::value(boost::json::object{}) : details},
          {"request_id", e.request_id},
          {"trace_id", e.trace_id}};
}

boost::json::object render_session(const storage::Session& s, std::string_view current_session_id) {
  return {{"id", s.id},
          {"client_id", s.client_id},
          {"created_at", iso8601(s.created_at)},
          {"last_seen_at", iso8601(s.last_seen_at)},
          {"expires_at", iso8601(s.expires_at)},
          {"ip", s.ip},
          {"user_agent", s.user_agent},
          {"current", !current_session_id.empty() && s.id == current_session_id}};
}

}  // namespace permiso::auth
