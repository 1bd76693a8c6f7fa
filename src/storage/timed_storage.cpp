// See timed_storage.hpp.
#include "storage/timed_storage.hpp"

#include <array>
#include <type_traits>
#include <utility>

namespace permiso::storage {

namespace {

constexpr std::array<std::string_view, kStorageOpCount> kNames{
    "get_client",
    "client_scopes",
    "list_all_clients_with_scopes",
    "list_clients_with_scopes_after",
    "client_changes_since",
    "max_client_change_seq",
    "client_changes_purged_through",
    "ping",
    "migrate",
    "create_user",
    "get_user",
    "get_user_by_username",
    "get_user_by_email",
    "update_user",
    "delete_user",
    "list_users",
    "user_stats",
    "count_users",
    "record_failed_login",
    "record_successful_login",
    "set_user_roles",
    "user_roles",
    "user_scope_names",
    "create_role",
    "get_role",
    "get_role_by_name",
    "update_role",
    "delete_role",
    "list_roles",
    "set_role_scopes",
    "role_scopes",
    "create_scope",
    "get_scope",
    "get_scope_by_name",
    "update_scope",
    "delete_scope",
    "list_scopes",
    "create_client",
    "update_client",
    "delete_client",
    "list_clients",
    "set_client_scopes",
    "purge_client_changes",
    "rotate_client_secret",
    "touch_client",
    "create_session",
    "get_session",
    "list_live_sessions",
    "touch_session",
    "revoke_session",
    "revoke_user_sessions",
    "insert_refresh_token",
    "get_refresh_token_by_hash",
    "rotate_refresh_token",
    "revoke_refresh_family",
    "revoke_session_refresh_tokens",
    "revoke_user_refresh_tokens",
    "insert_authorization_code",
    "take_authorization_code",
    "purge_expired_authorization_codes",
    "add_revocation",
    "revocations_since",
    "max_revocation_seq",
    "purge_expired_revocations",
    "append_audit",
    "query_audit",
    "purge_audit_before",
    "get_setting",
    "put_setting",
    "put_setting_if_absent",
};
static_assert(!kNames.back().empty(), "a name for every StorageOp");

class TimedStorage final : public Storage {
 public:
  TimedStorage(std::unique_ptr<Storage> inner, StorageTimer timer)
      : inner_(std::move(inner)), timer_(std::move(timer)) {}

  [[nodiscard]] std::string_view backend() const override { return inner_->backend(); }

  StorageResult<ServiceClient> get_client(std::string_view client_id) override {
    return timed(StorageOp::GetClient, [&] { return inner_->get_client(client_id); });
  }
  StorageResult<std::vector<Scope>> client_scopes(std::string_view client_id) override {
    return timed(StorageOp::ClientScopes, [&] { return inner_->client_scopes(client_id); });
  }
  StorageResult<std::vector<ClientWithScopes>> list_all_clients_with_scopes() override {
    return timed(StorageOp::ListAllClientsWithScopes, [&] { return inner_->list_all_clients_with_scopes(); });
  }
  StorageResult<std::vector<ClientWithScopes>> list_clients_with_scopes_after(std::optional<std::string_view> after,
                                                                              std::int64_t limit) override {
    return timed(StorageOp::ListClientsWithScopesAfter,
                 [&] { return inner_->list_clients_with_scopes_after(after, limit); });
  }
  StorageResult<std::vector<ClientChange>> client_changes_since(std::int64_t after_seq, std::int64_t limit) override {
    return timed(StorageOp::ClientChangesSince, [&] { return inner_->client_changes_since(after_seq, limit); });
  }
  StorageResult<std::int64_t> max_client_change_seq() override {
    return timed(StorageOp::MaxClientChangeSeq, [&] { return inner_->max_client_change_seq(); });
  }
  StorageResult<std::int64_t> client_changes_purged_through() override {
    return timed(StorageOp::ClientChangesPurgedThrough, [&] { return inner_->client_changes_purged_through(); });
  }
  StorageStatus ping() override {
    return timed(StorageOp::Ping, [&] { return inner_->ping(); });
  }
  StorageStatus migrate() override {
    return timed(StorageOp::Migrate, [&] { return inner_->migrate(); });
  }
  StorageResult<User> create_user(const User& user, const std::vector<std::int64_t>& role_ids) override {
    return timed(StorageOp::CreateUser, [&] { return inner_->create_user(user, role_ids); });
  }
  StorageResult<User> get_user(std::int64_t id) override {
    return timed(StorageOp::GetUser, [&] { return inner_->get_user(id); });
  }
  StorageResult<User> get_user_by_username(std::string_view username) override {
    return timed(StorageOp::GetUserByUsername, [&] { return inner_->get_user_by_username(username); });
  }
  StorageResult<User> get_user_by_email(std::string_view email) override {
    return timed(StorageOp::GetUserByEmail, [&] { return inner_->get_user_by_email(email); });
  }
  StorageResult<User> update_user(const User& user) override {
    return timed(StorageOp::UpdateUser, [&] { return inner_->update_user(user); });
  }
  StorageStatus delete_user(std::int64_t id) override {
    return timed(StorageOp::DeleteUser, [&] { return inner_->delete_user(id); });
  }
  StorageResult<Page<User>> list_users(const UserQuery& query) override {
    return timed(StorageOp::ListUsers, [&] { return inner_->list_users(query); });
  }
  StorageResult<UserStats> user_stats(std::int64_t now) override {
    return timed(StorageOp::UserStats, [&] { return inner_->user_stats(now); });
  }
  StorageResult<std::int64_t> count_users() override {
    return timed(StorageOp::CountUsers, [&] { return inner_->count_users(); });
  }
  StorageResult<LoginFailure> record_failed_login(std::int64_t user_id, std::int64_t now, std::int64_t threshold,
                                                  std::int64_t lock_seconds) override {
    return timed(StorageOp::RecordFailedLogin,
                 [&] { return inner_->record_failed_login(user_id, now, threshold, lock_seconds); });
  }
  StorageStatus record_successful_login(std::int64_t user_id, std::int64_t now) override {
    return timed(StorageOp::RecordSuccessfulLogin, [&] { return inner_->record_successful_login(user_id, now); });
  }
  StorageStatus set_user_roles(std::int64_t user_id, const std::vector<std::int64_t>& role_ids) override {
    return timed(StorageOp::SetUserRoles, [&] { return inner_->set_user_roles(user_id, role_ids); });
  }
  StorageResult<std::vector<Role>> user_roles(std::int64_t user_id) override {
    return timed(StorageOp::UserRoles, [&] { return inner_->user_roles(user_id); });
  }
  StorageResult<std::vector<std::string>> user_scope_names(std::int64_t user_id) override {
    return timed(StorageOp::UserScopeNames, [&] { return inner_->user_scope_names(user_id); });
  }
  StorageResult<Role> create_role(const Role& role) override {
    return timed(StorageOp::CreateRole, [&] { return inner_->create_role(role); });
  }
  StorageResult<Role> get_role(std::int64_t id) override {
    return timed(StorageOp::GetRole, [&] { return inner_->get_role(id); });
  }
  StorageResult<Role> get_role_by_name(std::string_view name) override {
    return timed(StorageOp::GetRoleByName, [&] { return inner_->get_role_by_name(name); });
  }
  StorageResult<Role> update_role(const Role& role) override {
    return timed(StorageOp::UpdateRole, [&] { return inner_->update_role(role); });
  }
  StorageStatus delete_role(std::int64_t id) override {
    return timed(StorageOp::DeleteRole, [&] { return inner_->delete_role(id); });
  }
  StorageResult<std::vector<Role>> list_roles() override {
    return timed(StorageOp::ListRoles, [&] { return inner_->list_roles(); });
  }
  StorageStatus set_role_scopes(std::int64_t role_id, const std::vector<std::int64_t>& scope_ids) override {
    return timed(StorageOp::SetRoleScopes, [&] { return inner_->set_role_scopes(role_id, scope_ids); });
  }
  StorageResult<std::vector<Scope>> role_scopes(std::int64_t role_id) override {
    return timed(StorageOp::RoleScopes, [&] { return inner_->role_scopes(role_id); });
  }
  StorageResult<Scope> create_scope(const Scope& scope) override {
    return timed(StorageOp::CreateScope, [&] { return inner_->create_scope(scope); });
  }
  StorageResult<Scope> get_scope(std::int64_t id) override {
    return timed(StorageOp::GetScope, [&] { return inner_->get_scope(id); });
  }
  StorageResult<Scope> get_scope_by_name(std::string_view name) override {
    return timed(StorageOp::GetScopeByName, [&] { return inner_->get_scope_by_name(name); });
  }
  StorageResult<Scope> update_scope(const Scope& scope) override {
    return timed(StorageOp::UpdateScope, [&] { return inner_->update_scope(scope); });
  }
  StorageStatus delete_scope(std::int64_t id) override {
    return timed(StorageOp::DeleteScope, [&] { return inner_->delete_scope(id); });
  }
  StorageResult<std::vector<Scope>> list_scopes() override {
    return timed(StorageOp::ListScopes, [&] { return inner_->list_scopes(); });
  }
  StorageResult<ServiceClient> create_client(const ServiceClient& client,
                                             const std::vector<std::int64_t>& scope_ids) override {
    return timed(StorageOp::CreateClient, [&] { return inner_->create_client(client, scope_ids); });
  }
  StorageResult<ServiceClient> update_client(const ServiceClient& client,
                                             const std::optional<std::vector<std::int64_t>>& scope_ids) override {
    return timed(StorageOp::UpdateClient, [&] { return inner_->update_client(client, scope_ids); });
  }
  StorageStatus delete_client(std::string_view client_id) override {
    return timed(StorageOp::DeleteClient, [&] { return inner_->delete_client(client_id); });
  }
  StorageResult<Page<ServiceClient>> list_clients(std::int64_t page, std::int64_t per_page) override {
    return timed(StorageOp::ListClients, [&] { return inner_->list_clients(page, per_page); });
  }
  StorageStatus set_client_scopes(std::string_view client_id, const std::vector<std::int64_t>& scope_ids) override {
    return timed(StorageOp::SetClientScopes, [&] { return inner_->set_client_scopes(client_id, scope_ids); });
  }
  StorageResult<std::int64_t> purge_client_changes(std::int64_t before) override {
    return timed(StorageOp::PurgeClientChanges, [&] { return inner_->purge_client_changes(before); });
  }
  StorageResult<ServiceClient> rotate_client_secret(std::string_view client_id, std::string_view new_secret_hash,
                                                    std::optional<std::int64_t> previous_valid_until,
                                                    std::int64_t now) override {
    return timed(StorageOp::RotateClientSecret,
                 [&] { return inner_->rotate_client_secret(client_id, new_secret_hash, previous_valid_until, now); });
  }
  StorageStatus touch_client(std::string_view client_id, std::int64_t now) override {
    return timed(StorageOp::TouchClient, [&] { return inner_->touch_client(client_id, now); });
  }
  StorageResult<Session> create_session(const Session& session) override {
    return timed(StorageOp::CreateSession, [&] { return inner_->create_session(session); });
  }
  StorageResult<Session> get_session(std::string_view id) override {
    return timed(StorageOp::GetSession, [&] { return inner_->get_session(id); });
  }
  StorageResult<std::vector<Session>> list_live_sessions(std::int64_t user_id, std::int64_t now) override {
    return timed(StorageOp::ListLiveSessions, [&] { return inner_->list_live_sessions(user_id, now); });
  }
  StorageStatus touch_session(std::string_view id, std::int64_t now) override {
    return timed(StorageOp::TouchSession, [&] { return inner_->touch_session(id, now); });
  }
  StorageStatus revoke_session(std::string_view id, std::int64_t now) override {
    return timed(StorageOp::RevokeSession, [&] { return inner_->revoke_session(id, now); });
  }
  StorageResult<std::vector<std::string>> revoke_user_sessions(std::int64_t user_id, std::int64_t now) override {
    return timed(StorageOp::RevokeUserSessions, [&] { return inner_->revoke_user_sessions(user_id, now); });
  }
  StorageStatus insert_refresh_token(const RefreshToken& token) override {
    return timed(StorageOp::InsertRefreshToken, [&] { return inner_->insert_refresh_token(token); });
  }
  StorageResult<RefreshToken> get_refresh_token_by_hash(std::string_view token_hash) override {
    return timed(StorageOp::GetRefreshTokenByHash, [&] { return inner_->get_refresh_token_by_hash(token_hash); });
  }
  StorageResult<RotateResult> rotate_refresh_token(std::string_view old_hash, const RefreshToken& new_token,
                                                   std::int64_t now) override {
    return timed(StorageOp::RotateRefreshToken, [&] { return inner_->rotate_refresh_token(old_hash, new_token, now); });
  }
  StorageResult<std::vector<std::string>> revoke_refresh_family(std::string_view family_id, std::int64_t now) override {
    return timed(StorageOp::RevokeRefreshFamily, [&] { return inner_->revoke_refresh_family(family_id, now); });
  }
  StorageResult<std::int64_t> revoke_session_refresh_tokens(std::string_view session_id, std::int64_t now) override {
    return timed(StorageOp::RevokeSessionRefreshTokens,
                 [&] { return inner_->revoke_session_refresh_tokens(session_id, now); });
  }
  StorageResult<std::int64_t> revoke_user_refresh_tokens(std::int64_t user_id, std::int64_t now) override {
    return timed(StorageOp::RevokeUserRefreshTokens, [&] { return inner_->revoke_user_refresh_tokens(user_id, now); });
  }
  StorageStatus insert_authorization_code(const AuthorizationCode& code) override {
    return timed(StorageOp::InsertAuthorizationCode, [&] { return inner_->insert_authorization_code(code); });
  }
  StorageResult<AuthorizationCode> take_authorization_code(std::string_view code_hash) override {
    return timed(StorageOp::TakeAuthorizationCode, [&] { return inner_->take_authorization_code(code_hash); });
  }
  StorageResult<std::int64_t> purge_expired_authorization_codes(std::int64_t now) override {
    return timed(StorageOp::PurgeExpiredAuthorizationCodes,
                 [&] { return inner_->purge_expired_authorization_codes(now); });
  }
  StorageResult<std::int64_t> add_revocation(std::string_view key, std::int64_t expires_at, std::int64_t revoked_at,
                                             std::string_view reason) override {
    return timed(StorageOp::AddRevocation, [&] { return inner_->add_revocation(key, expires_at, revoked_at, reason); });
  }
  StorageResult<std::vector<Revocation>> revocations_since(std::int64_t after_seq, std::int64_t limit) override {
    return timed(StorageOp::RevocationsSince, [&] { return inner_->revocations_since(after_seq, limit); });
  }
  StorageResult<std::int64_t> max_revocation_seq() override {
    return timed(StorageOp::MaxRevocationSeq, [&] { return inner_->max_revocation_seq(); });
  }
  StorageResult<std::int64_t> purge_expired_revocations(std::int64_t now) override {
    return timed(StorageOp::PurgeExpiredRevocations, [&] { return inner_->purge_expired_revocations(now); });
  }
  StorageStatus append_audit(const std::vector<AuditEvent>& events) override {
    return timed(StorageOp::AppendAudit, [&] { return inner_->append_audit(events); });
  }
  StorageResult<Page<AuditEvent>> query_audit(const AuditQuery& query) override {
    return timed(StorageOp::QueryAudit, [&] { return inner_->query_audit(query); });
  }
  StorageResult<std::int64_t> purge_audit_before(std::int64_t before, std::int64_t limit) override {
    return timed(StorageOp::PurgeAuditBefore, [&] { return inner_->purge_audit_before(before, limit); });
  }
  StorageResult<std::string> get_setting(std::string_view key) override {
    return timed(StorageOp::GetSetting, [&] { return inner_->get_setting(key); });
  }
  StorageStatus put_setting(std::string_view key, std::string_view value) override {
    return timed(StorageOp::PutSetting, [&] { return inner_->put_setting(key, value); });
  }
  StorageResult<std::string> put_setting_if_absent(std::string_view key, std::string_view value) override {
    return timed(StorageOp::PutSettingIfAbsent, [&] { return inner_->put_setting_if_absent(key, value); });
  }

 private:
  template <class Call>
  std::invoke_result_t<Call> timed(StorageOp op, Call&& call) {
    const auto started = std::chrono::steady_clock::now();
    auto result = std::forward<Call>(call)();
    timer_(op, std::chrono::steady_clock::now() - started);
    return result;
  }

  std::unique_ptr<Storage> inner_;
  StorageTimer timer_;
};

}  // namespace

std::string_view to_string(StorageOp op) {
  const auto i = static_cast<std::size_t>(op);
  return i < kNames.size() ? kNames[i] : "unknown";
}

std::unique_ptr<Storage> timed_storage(std::unique_ptr<Storage> inner, StorageTimer timer) {
  return std::make_unique<TimedStorage>(std::move(inner), std::move(timer));
}

}  // namespace permiso::storage
