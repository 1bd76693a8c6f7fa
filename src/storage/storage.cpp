// Failure names and the factory that picks a backend from the database URL.
#include "storage/storage.hpp"
#include "storage/sql.hpp"

#include "storage/postgres/pg_db.hpp"
#include "storage/sql_storage.hpp"
#include "storage/sqlite/sqlite_db.hpp"

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <system_error>
#include <utility>

namespace permiso::storage {

std::string_view to_string(StorageError e) {
  switch (e) {
    case StorageError::NotFound:
      return "not_found";
    case StorageError::Conflict:
      return "conflict";
    case StorageError::Unavailable:
      return "unavailable";
    case StorageError::Invalid:
      return "invalid";
    case StorageError::Internal:
      return "internal";
    case StorageError::SchemaTooNew:
      return "schema_too_new";
  }
  return "internal";
}

std::string_view to_string(const StorageFailure& f) {
  return to_string(f.code);
}

StorageResult<std::vector<ClientWithScopes>> ClientReader::list_clients_with_scopes_after(
    std::optional<std::string_view> after_client_id, std::int64_t limit) {
  auto all = list_all_clients_with_scopes();
  if (!all) return all.error();
  std::ranges::sort(*all, {}, [](const ClientWithScopes& c) -> const std::string& { return c.client.client_id; });
  auto first = all->begin();
  if (after_client_id) {
    first = std::ranges::upper_bound(*all, *after_client_id, {},
                                     [](const ClientWithScopes& c) -> std::string_view { return c.client.client_id; });
  }
  const auto n = std::min<std::int64_t>(std::max<std::int64_t>(limit, 0), all->end() - first);
  return std::vector<ClientWithScopes>(std::make_move_iterator(first), std::make_move_iterator(first + n));
}

namespace detail {

StorageResult<Rows> Db::query(std::string_view sql, const Params& params) {
  Rows out;
  auto st = read([&](SqlConn& c) -> StorageStatus {
    auto r = c.exec(sql, params);
    if (!r) return r.error();
    out = std::move(*r);
    return {};
  });
  if (!st) return st.error();
  return out;
}

std::optional<std::string> sqlite_path(std::string_view url) {
  // sqlite:///abs/path keeps its leading slash; sqlite://rel/path is relative.
  constexpr std::string_view kScheme = "sqlite://";
  if (!url.starts_with(kScheme)) return std::nullopt;
  return std::string(url.substr(kScheme.size()));
}

std::string field_from_constraint(std::string_view text) {
  // Index and constraint names are those of migrations.cpp; the more specific names first.
  static constexpr std::pair<std::string_view, std::string_view> kMap[] = {
      {"username", "username"},
      {"email", "email"},
      {"client_type", "client_type"},
      {"token_hash", "token_hash"},
      {"service_clients", "client_id"},
      {"client_id", "client_id"},
      {"user_id", "user_id"},
      {"session_id", "session_id"},
      {"scope_id", "scope_ids"},
      {"role_id", "role_ids"},
      {"roles", "name"},
      {"scopes", "name"},
      {"revocations", "key"},
      {"settings", "key"},
      {"sessions", "id"},
      {"refresh_tokens", "id"},
  };
  for (const auto& [needle, field] : kMap) {
    if (text.find(needle) != std::string_view::npos) return std::string(field);
  }
  return {};
}

}  // namespace detail

StorageResult<std::unique_ptr<Db>> open_db(std::string_view url, const StorageOptions& options) {
  if (auto path = detail::sqlite_path(url)) {
    if (path->empty()) {
      return detail::failure(StorageError::Invalid, "sqlite url without a path", "database_url");
    }
    // A fresh data directory (PERMISO_DATA_DIR) may not exist yet; a read-only open creates nothing.
    if (const auto parent = std::filesystem::path(*path).parent_path(); !parent.empty() && !options.read_only) {
      std::error_code ec;
      std::filesystem::create_directories(parent, ec);  // open reports a real failure
    }
    return detail::open_sqlite_db(*path, options);
  }
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
    return detail::open_pg_db(std::string(url), options);
  }
  return detail::failure(StorageError::Invalid, "unsupported database url scheme", "database_url");
}

StorageResult<std::unique_ptr<Storage>> open_storage(std::string_view url, const StorageOptions& options) {
  auto db = open_db(url, options);
  if (!db) return db.error();
  auto storage = detail::make_sql_storage(std::move(*db));
  if (options.migrate) {
    if (auto st = storage->migrate(); !st) return st.error();
  }
  return storage;
}

}  // namespace permiso::storage
