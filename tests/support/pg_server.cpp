// Starts and stops a private PostgreSQL server for tests with the stock Debian binaries.
#include "pg_server.hpp"

#include "free_port.hpp"

#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <stdexcept>

namespace permiso::test {
namespace {

constexpr std::string_view kBin = "/usr/lib/postgresql/15/bin/";

std::string as_postgres(const std::string& cmd) {
  return ::geteuid() == 0 ? "runuser -u postgres -- " + cmd : cmd;
}

void shell(const std::string& cmd) {
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("command failed: " + cmd);
}

void exec_sql(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string err = PQerrorMessage(c);
    PQfinish(c);
    throw std::runtime_error("connect failed: " + err);
  }
  PGresult* r = PQexec(c, sql.c_str());
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  std::string err = ok ? "" : PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(c);
  if (!ok) throw std::runtime_error("sql failed: " + err);
}

std::mutex& current_mu() {
  static std::mutex mu;
  return mu;
}
std::unique_ptr<PgServer>& current() {
  static std::unique_ptr<PgServer> server;
  return server;
}

}  // namespace

std::unique_ptr<PgServer> PgServer::start() {
  std::unique_ptr<PgServer> s(new PgServer());
  if (const char* env = std::getenv("PERMISO_TEST_PG_URL"); env != nullptr && *env != '\0') {
    s->external_ = true;
    s->external_url_ = env;
    return s;
  }
  char tmpl[] = "/tmp/permiso-pg-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  s->dir_ = tmpl;
  if (::geteuid() == 0) shell("chown postgres:postgres " + s->dir_);
  shell(as_postgres(std::string(kBin) + "initdb -D " + s->dir_ + "/data -A trust -U postgres " + "--no-sync > " +
                    s->dir_ + "/initdb.log 2>&1"));
  s->port_ = permiso::test::free_port();
  s->restart();
  return s;
}

PgServer::~PgServer() {
  if (external_) return;
  if (running_) {
    try {
      stop();
    } catch (const std::exception&) {  // best effort during teardown
    }
  }
  if (!dir_.empty()) (void)std::system(("rm -rf " + dir_).c_str());
}

std::string PgServer::url(std::string_view db) const {
  if (external_) {
    // Replace the database path of the external URL.
    std::string base = external_url_;
    const auto scheme = base.find("://");
    const auto slash = base.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    const auto query = base.find('?');
    std::string tail = query == std::string::npos ? "" : base.substr(query);
    if (slash != std::string::npos)
      base.resize(slash);
    else if (query != std::string::npos)
      base.resize(query);
    return base + "/" + std::string(db) + tail;
  }
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + std::string(db);
}

std::string PgServer::create_database() {
  static std::atomic<int> counter{0};
  const std::string name = "permiso_t" + std::to_string(::getpid()) + "_" + std::to_string(counter.fetch_add(1)) + "_" +
                           std::to_string(db_counter_++);
  exec_sql(url("postgres"), "CREATE DATABASE " + name);
  return url(name);
}

void PgServer::run_ctl(const std::string& args) const {
  shell(as_postgres(std::string(kBin) + "pg_ctl -D " + dir_ + "/data -l " + dir_ + "/server.log " + args +
                    " > /dev/null 2>&1"));
}

void PgServer::stop() {
  if (external_) throw std::runtime_error("cannot stop an external PostgreSQL server");
  run_ctl("-m immediate -w stop");
  running_ = false;
}

void PgServer::restart() {
  if (external_) throw std::runtime_error("cannot restart an external PostgreSQL server");
  run_ctl("-o \"-p " + std::to_string(port_) + " -k " + dir_ +
          " -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200\" -w -t 30 start");
  running_ = true;
}

void PgServerEnvironment::SetUp() {}

void PgServerEnvironment::TearDown() {
  std::lock_guard lock(current_mu());
  current().reset();
}

PgServer& PgServerEnvironment::server() {
  std::lock_guard lock(current_mu());
  if (!current()) current() = PgServer::start();
  return *current();
}

}  // namespace permiso::test
