// A Storage that forwards to a real one and answers Unavailable from the operations a test
// names: a database that goes away in the middle of a request.
#pragma once

#include "storage/storage.hpp"

#include <set>
#include <string>
#include <string_view>
#include <utility>

namespace permiso::auth::fakes {

class FaultyStorage final : public storage::Storage {
 public:
  explicit FaultyStorage(storage::Storage& inner) : inner_(inner) {}

  /// From now on `operation` (a Storage member's name) answers Unavailable.
  void fail(std::string operation) { failing_.insert(std::move(operation)); }
  void heal() { failing_.clear(); }

  // Generated from storage.hpp: each member forwards unless it was told to fail.
  storage::StorageResult<storage::ServiceClient> get_client(std::string_view client_id) override {
    if (fails("get_client")) return down();
    return inner_.get_client(client_id);
  }
  storage::StorageResult<std::vector<storage::Scope>> client_scopes(std::string_view client_id) override {
    if (fails("client_scopes")) return down();
    return inner_.client_scopes(client_id);
  }
  storage::StorageResult<std::vector<storage::ClientWithScopes>> list_all_clients_with_scopes() override {
    if (fails("list_all_clients_with_scopes")) return down();
    return inner_.list_all_clients_with_scopes();
  }
  storage::StorageResult<std::vector<storage::ClientWithScopes>> list_clients_with_scopes_after(
      std::optional<std::string_view> after_client_id, std::int64_t limit) override {
    if (fails("list_clients_with_scopes_after")) return down();
    return inner_.list_clients_with_scopes_after(after_client_id, limit);
  }
  storage::StorageResult<std::vector<storage::ClientChange>> client_changes_since(std::int64_t after_seq,
                                                                                  std::int64_t limit) override {
    if (fails("client_changes_since")) return down();
    return inner_.client_changes_since(after_seq, limit);
  }
  storage::StorageResult<std::int64_t> max_client_change_seq() override {
    if (fails("max_client_change_seq")) return down();
    return inner_.max_client_change_seq();
  }
  storage::StorageResult<std::int64_t> client_changes_purged_through() override {
    if (fails("client_changes_purged_through")) return down();
    return inner_.client_changes_purged_through();
  }
  storage::StorageResult<std::int64_t> purge_client_changes(std::int64_t before) override {
    if (fails("purge_client_changes")) return down();
    return inner_.purge_client_changes(before);
  }
  storage::StorageStatus ping() override {
    if (fails("ping")) return down();
    return inner_.ping();
  }
  storage::StorageStatus migrate() override {
    if (fails("migrate")) return down();
    return inner_.migrate();
  }
  std::string_view backend() const override { return inner_.backend(); }
  storage::StorageResult<storage::User> create_user(const storage::User& user,
                                                    const std::vector<std::int64_t>& role_ids) override {
    if (fails("create_user")) return down();
    return inner_.create_user(user, role_ids);
  }
  storage::StorageResult<storage::User> get_user(std::int64_t id) override {
    if (fails("get_user")) return down();
    return inner_.get_user(id);
  }
  storage::StorageResult<storage::User> get_user_by_username(std::string_view username) override {
    if (fails("get_user_by_username")) return down();
    return inner_.get_user_by_username(username);
  }
  storage::StorageResult<storage::User> get_user_by_email(std::string_view email) override {
    if (fails("get_user_by_email")) return down();
    return inner_.get_user_by_email(email);
  }
  storage::StorageResult<storage::User> update_user(const storage::User& user) override {
    if (fails("update_user")) return down();
    return inner_.update_user(user);
  }
  storage::StorageStatus delete_user(std::int64_t id) override {
    if (fails("delete_user")) return down();
    return inner_.delete_user(id);
  }
  storage::StorageResult<storage::Page<storage::User>> list_users(const storage::UserQuery& query) override {
    if (fails("list_users")) return down();
    return inner_.list_users(query);
  }
  storage::StorageResult<storage::UserStats> user_stats(std::int64_t now) override {
    if (fails("user_stats")) return down();
    return inner_.user_stats(now);
  }
  storage::StorageResult<std::int64_t> count_users() override {
    if (fails("count_users")) return down();
    return inner_.count_users();
  }
  storage::StorageResult<storage::LoginFailure> record_failed_login(std::int64_t user_id, std::int64_t now,
                                                                    std::int64_t threshold,
                                                                    std::int64_t lock_seconds) override {
    if (fails("record_failed_login")) return down();
    return inner_.record_failed_login(user_id, now, threshold, lock_seconds);
  }
  storage::StorageStatus record_successful_login(std::int64_t user_id, std::int64_t now) override {
    if (fails("record_successful_login")) return down();
    return inner_.record_successful_login(user_id, now);
  }
  storage::StorageStatus set_user_roles(std::int64_t user_id, const std::vector<std::int64_t>& role_ids) override {
    if (fails("set_user_roles")) return down();
    return inner_.set_user_roles(user_id, role_ids);
  }
  storage::StorageResult<std::vector<storage::Role>> user_roles(std::int64_t user_id) override {
    if (fails("user_roles")) return down();
    return inner_.user_roles(user_id);
  }
  storage::StorageResult<std::vector<std::string>> user_scope_names(std::int64_t user_id) override {
    if (fails("user_scope_names")) return down();
    return inner_.user_scope_names(user_id);
  }
  storage::StorageResult<storage::Role> create_role(const storage::Role& role) override {
    if (fails("create_role")) return down();
    return inner_.create_role(role);
  }
  storage::StorageResult<storage::Role> get_role(std::int64_t id) override {
    if (fails("get_role")) return down();
    return inner_.get_role(id);
  }
  storage::StorageResult<storage::Role> get_role_by_name(std::string_view name) override {
    if (fails("get_role_by_name")) return down();
    return inner_.get_role_by_name(name);
  }
  storage::StorageResult<storage::Role> update_role(const storage::Role& role) override {
    if (fails("update_role")) return down();
    return inner_.update_role(role);
  }
  storage::StorageStatus delete_role(std::int64_t id) override {
    if (fails("delete_role")) return down();
    return inner_.delete_role(id);
  }
  storage::StorageResult<std::vector<storage::Role>> list_roles() override {
    if (fails("list_roles")) return down();
    return inner_.list_roles();
  }
  storage::StorageStatus set_role_scopes(std::int64_t role_id, const std::vector<std::int64_t>& scope_ids) override {
    if (fails("set_role_scopes")) return down();
    return inner_.set_role_scopes(role_id, scope_ids);
  }
  storage::StorageResult<std::vector<storage::Scope>> role_scopes(std::int64_t role_id) override {
    if (fails("role_scopes")) return down();
    return inner_.role_scopes(role_id);
  }
  storage::StorageResult<storage::Scope> create_scope(const storage::Scope& scope) override {
    if (fails("create_scope")) return down();
    return inner_.create_scope(scope);
  }
  storage::StorageResult<storage::Scope> get_scope(std::int64_t id) override {
    if (fails("get_scope")) return down();
    return inner_.get_scope(id);
  }
  storage::StorageResult<storage::Scope> get_scope_by_name(std::string_view name) override {
    if (fails("get_scope_by_name")) return down();
    return inner_.get_scope_by_name(name);
  }
  storage::StorageResult<storage::Scope> update_scope(const storage::Scope& scope) override {
    if (fails("update_scope")) return down();
    return inner_.update_scope(scope);
  }
  storage::StorageStatus delete_scope(std::int64_t id) override {
    if (fails("delete_scope")) return down();
    return inner_.delete_scope(id);
  }
  storage::StorageResult<std::vector<storage::Scope>> list_scopes() override {
    if (fails("list_scopes")) return down();
    return inner_.list_scopes();
  }
  storage::StorageResult<storage::ServiceClient> create_client(const storage::ServiceClient& client,
                                                               const std::vector<std::int64_t>& scope_ids) override {
    if (fails("create_client")) return down();
    return inner_.create_client(client, scope_ids);
  }
  storage::StorageResult<storage::ServiceClient> update_client(
      const storage::ServiceClient& client, const std::optional<std::vector<std::int64_t>>& scope_ids) override {
    if (fails("update_client")) return down();
    return inner_.update_client(client, scope_ids);
  }
  storage::StorageStatus delete_client(std::string_view client_id) override {
    if (fails("delete_client")) return down();
    return inner_.delete_client(client_id);
  }
  storage::StorageResult<storage::Page<storage::ServiceClient>> list_clients(std::int64_t page,
                                                                             std::int64_t per_page) override {
    if (fails("list_clients")) return down();
    return inner_.list_clients(page, per_page);
  }
  storage::StorageStatus set_client_scopes(std::string_view client_id,
                                           const std::vector<std::int64_t>& scope_ids) override {
    if (fails("set_client_scopes")) return down();
    return inner_.set_client_scopes(client_id, scope_ids);
  }
  storage::StorageResult<storage::ServiceClient> rotate_client_secret(std::string_view client_id,
                                                                      std::string_view new_secret_hash,
                                                                      std::optional<std::int64_t> previous_valid_until,
                                                                      std::int64_t now) override {
    if (fails("rotate_client_secret")) return down();
    return inner_.rotate_client_secret(client_id, new_secret_hash, previous_valid_until, now);
  }
  storage::StorageStatus touch_client(std::string_view client_id, std::int64_t now) override {
    if (fails("touch_client")) return down();
    return inner_.touch_client(client_id, now);
  }
  storage::StorageResult<storage::Session> create_session(const storage::Session& session) override {
    if (fails("create_session")) return down();
    return inner_.create_session(session);
  }
  storage::StorageResult<storage::Session> get_session(std::string_view id) override {
    if (fails("get_session")) return down();
    return inner_.get_session(id);
  }
  storage::StorageResult<std::vector<storage::Session>> list_live_sessions(std::int64_t user_id,
                                                                           std::int64_t now) override {
    if (fails("list_live_sessions")) return down();
    return inner_.list_live_sessions(user_id, now);
  }
  storage::StorageStatus touch_session(std::string_view id, std::int64_t now) override {
    if (fails("touch_session")) return down();
    return inner_.touch_session(id, now);
  }
  storage::StorageStatus revoke_session(std::string_view id, std::int64_t now) override {
    if (fails("revoke_session")) return down();
    return inner_.revoke_session(id, now);
  }
  storage::StorageResult<std::vector<std::string>> revoke_user_sessions(std::int64_t user_id,
                                                                        std::int64_t now) override {
    if (fails("revoke_user_sessions")) return down();
    return inner_.revoke_user_sessions(user_id, now);
  }
  storage::StorageStatus insert_refresh_token(const storage::RefreshToken& token) override {
    if (fails("insert_refresh_token")) return down();
    return inner_.insert_refresh_token(token);
  }
  storage::StorageResult<storage::RefreshToken> get_refresh_token_by_hash(std::string_view token_hash) override {
    if (fails("get_refresh_token_by_hash")) return down();
    return inner_.get_refresh_token_by_hash(token_hash);
  }
  storage::StorageResult<storage::RotateResult> rotate_refresh_token(std::string_view old_hash,
                                                                     const storage::RefreshToken& new_token,
                                                                     std::int64_t now) override {
    if (fails("rotate_refresh_token")) return down();
    return inner_.rotate_refresh_token(old_hash, new_token, now);
  }
  storage::StorageResult<std::vector<std::string>> revoke_refresh_family(std::string_view family_id,
                                                                         std::int64_t now) override {
    if (fails("revoke_refresh_family")) return down();
    return inner_.revoke_refresh_family(family_id, now);
  }
  storage::StorageResult<std::int64_t> revoke_session_refresh_tokens(std::string_view session_id,
                                                                     std::int64_t now) override {
    if (fails("revoke_session_refresh_tokens")) return down();
    return inner_.revoke_session_refresh_tokens(session_id, now);
  }
  storage::StorageResult<std::int64_t> revoke_user_refresh_tokens(std::int64_t user_id, std::int64_t now) override {
    if (fails("revoke_user_refresh_tokens")) return down();
    return inner_.revoke_user_refresh_tokens(user_id, now);
  }
  storage::StorageStatus insert_authorization_code(const storage::AuthorizationCode& code) override {
    if (fails("insert_authorization_code")) return down();
    return inner_.insert_authorization_code(code);
  }
  storage::StorageResult<storage::AuthorizationCode> take_authorization_code(std::string_view code_hash) override {
    if (fails("take_authorization_code")) return down();
    return inner_.take_authorization_code(code_hash);
  }
  storage::StorageResult<std::int64_t> purge_expired_authorization_codes(std::int64_t now) override {
    if (fails("purge_expired_authorization_codes")) return down();
    return inner_.purge_expired_authorization_codes(now);
  }
  storage::StorageResult<std::int64_t> add_revocation(std::string_view key, std::int64_t expires_at,
                                                      std::int64_t revoked_at, std::string_view reason) override {
    if (fails("add_revocation")) return down();
    return inner_.add_revocation(key, expires_at, revoked_at, reason);
  }
  storage::StorageResult<std::vector<storage::Revocation>> revocations_since(std::int64_t after_seq,
                                                                             std::int64_t limit) override {
    if (fails("revocations_since")) return down();
    return inner_.revocations_since(after_seq, limit);
  }
  storage::StorageResult<std::int64_t> max_revocation_seq() override {
    if (fails("max_revocation_seq")) return down();
    return inner_.max_revocation_seq();
  }
  storage::StorageResult<std::int64_t> purge_expired_revocations(std::int64_t now) override {
    if (fails("purge_expired_revocations")) return down();
    return inner_.purge_expired_revocations(now);
  }
  storage::StorageStatus append_audit(const std::vector<storage::AuditEvent>& events) override {
    if (fails("append_audit")) return down();
    return inner_.append_audit(events);
  }
  storage::StorageResult<storage::Page<storage::AuditEvent>> query_audit(const storage::AuditQuery& query) override {
    if (fails("query_audit")) return down();
    return inner_.query_audit(query);
  }
  storage::StorageResult<std::int64_t> purge_audit_before(std::int64_t before, std::int64_t limit) override {
    if (fails("purge_audit_before")) return down();
    return inner_.purge_audit_before(before, limit);
  }
  storage::StorageResult<std::string> get_setting(std::string_view key) override {
    if (fails("get_setting")) return down();
    return inner_.get_setting(key);
  }
  storage::StorageStatus put_setting(std::string_view key, std::string_view value) override {
    if (fails("put_setting")) return down();
    return inner_.put_setting(key, value);
  }
  storage::StorageResult<std::string> put_setting_if_absent(std::string_view key, std::string_view value) override {
    if (fails("put_setting_if_absent")) return down();
    return inner_.put_setting_if_absent(key, value);
  }

 private:
  [[nodiscard]] bool fails(std::string_view operation) const { return failing_.contains(std::string(operation)); }
  static storage::StorageFailure down() {
    return storage::StorageFailure{storage::StorageError::Unavailable, "", "injected outage"};
  }

  storage::Storage& inner_;
  std::set<std::string> failing_;
};

}  // namespace permiso::auth::fakes
