# Bootstrap of the first admin: with PERMISO_BOOTSTRAP_ADMIN_* the given password works; without
# them a random password is printed once, and no fixed default password ever works. And the
# seed's service clients: MT5_SERVICE_CLIENT_SECRET / DASHBOARD_CLIENT_SECRET ensure the
# clients mt5-service / dashboard-service with exactly that secret, across restarts and secret changes.
import json
import os
import re
import secrets
import subprocess
import unittest

import harness
from harness import V1, AuthServer

# Passwords of the seed's examples and other classics: none may ever log in.
FIXED_DEFAULTS = ("admin123",)
MAX_GUESSES = 3  # stays below the lockout count of 5 together with the fixed-default check


def strings_of(obj, key=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from strings_of(v, k)
    elif isinstance(obj, list):
        for v in obj:
            yield from strings_of(v, key)
    elif isinstance(obj, str):
        yield key, obj


def password_candidates(output):
    """Likely passwords from the lines that mention a password, best first."""
    first, rest = [], []
    for line in output.splitlines():
        if "password" not in line.lower():
            continue
        texts = [line]
        try:
            obj = json.loads(line)
            pairs = list(strings_of(obj))
            first += [v for k, v in pairs if "password" in k.lower() and " " not in v.strip()]
            texts = [v for _, v in pairs]
        except ValueError:
            pass
        for text in texts:
            after = re.split(r"(?i)password", text, maxsplit=1)
            for part, bucket in ((after[-1], first), (text, rest)):
                for tok in re.split(r"\s+", part):
                    tok = tok.strip("\"'`,;()[]{}<>")
                    if "=" in tok[:-1] or tok.startswith(":"):
                        tok = re.split(r"[=:]", tok, maxsplit=1)[-1].strip("\"'`,;")
                    if len(tok) >= 12 and "://" not in tok and not tok.startswith("/") \
                            and not re.fullmatch(r"[0-9T:.\-+Z]+", tok):
                        bucket.append(tok)
    seen, out = set(), []
    for c in first + rest:
        if c not in seen:
            seen.add(c)
            out.append(c)
    return out


class GivenBootstrapPasswordTest(harness.ServerTestCase):
    server_env = {}

    def test_bootstrap_admin_logs_in_with_the_given_password_and_is_admin(self):
        s = self.server
        body = s.login("admin", s.admin_password)
        r = s.get(f"{V1}/users/me", bearer=body["access_token"])
        self.assertEqual(r.status, 200, r)
        self.assertIn("admin", {x["name"] for x in r.body["roles"]})

    def test_the_given_password_is_not_printed(self):
        self.assertNotIn(self.server.admin_password, self.server.output(), "never log secrets")

    def test_no_fixed_default_password(self):
        for pw in FIXED_DEFAULTS:
            r = self.server.post(f"{V1}/auth/token", form={"username": "admin", "password": pw})
            self.assertError(r, 401, "invalid_grant")


class GeneratedBootstrapPasswordTest(unittest.TestCase):
    def test_generated_password_is_printed_once_and_works(self):
        env = {"RATE_LIMIT_LOGIN": "100000/minute"}
        first = AuthServer(env=env, bootstrap=False)
        second = None
        try:
            first.start()
            output = first.output()
            found = None
            for guess in password_candidates(output)[:MAX_GUESSES]:
                r = first.post(f"{V1}/auth/token", form={"username": "admin", "password": guess})
                if r.status == 200:
                    found = guess
                    break
            self.assertIsNotNone(found, "without PERMISO_BOOTSTRAP_ADMIN_* the server prints the "
                                 "generated admin password (a line mentioning 'password', the "
                                 f"password as its own word):\n{first.describe()}")
            self.assertGreaterEqual(len(found), 12, "a generated password is long")
            for pw in FIXED_DEFAULTS:
                r = first.post(f"{V1}/auth/token", form={"username": "admin", "password": pw})
                self.assertEqual(r.status, 401, r)
            self.assertEqual(first.stop(), 0, "clean exit on SIGTERM")

            # A restart on the same data keeps the admin and prints no password again.
            second = AuthServer(env=env, bootstrap=False, data_dir=first.data_dir,
                                database_url=first.database_url, redis=first.redis)
            second.start()
            self.assertNotIn(found, second.output(), "the generated password is printed only once")
            r = second.post(f"{V1}/auth/token", form={"username": "admin", "password": found})
            self.assertEqual(r.status, 200, r)
            code = second.stop()
            second = None
            self.assertEqual(code, 0, "clean exit on SIGTERM")
        finally:
            if second is not None:
                second.kill()
                second.stop()
            first.kill()
            first.stop()
            first.cleanup()


class CandidateExtractionTest(unittest.TestCase):
    """The heuristic above, on the shapes a server might print (no server needed)."""

    def test_finds_passwords_in_text_and_json_lines(self):
        pw = "Xy7#kLm9!pQr2sT"
        for line in (f"Generated admin password: {pw}",
                     f"bootstrap admin created; username=admin password={pw}",
                     json.dumps({"level": "warn", "msg": "generated admin password", "password": pw}),
                     json.dumps({"msg": f"admin password: '{pw}' (shown once)"})):
            self.assertEqual(password_candidates("noise\n" + line + "\n")[0], pw, line)


# ---------------------------------------------------------------------------------------------
# Service clients from the environment

TRADER_SCOPES = {"trade:read", "trade:open", "trade:close", "trade:modify", "account:read",
                 "account:balance", "market:data"}


def env_secret():
    return "s3cr3t-" + secrets.token_urlsafe(24)


def client_body(body):
    return body.get("client", body) if isinstance(body, dict) else body


def audit_events(server):
    r = server.get(f"{V1}/admin/audit?per_page=1000&limit=1000", bearer=server.admin_token())
    assert r.status == 200, r
    return harness.find_list(r.body, "events", "items", "entries", "audit", "logs", "records")


def events_about(events, *needles):
    return [e for e in events if all(n.lower() in json.dumps(e).lower() for n in needles)]


class SeedClientsTest(harness.ServerTestCase):
    mt5_secret = env_secret()
    dashboard_secret = env_secret()
    server_env = {"MT5_SERVICE_CLIENT_SECRET": mt5_secret, "DASHBOARD_CLIENT_SECRET": dashboard_secret}

    def get_client(self, client_id):
        r = self.server.get(f"{V1}/service-clients/{client_id}", bearer=self.server.admin_token())
        self.assertEqual(r.status, 200, r)
        return client_body(r.body)

    def test_mt5_service_client_exists_confidential_untrusted_without_scopes(self):
        c = self.get_client("mt5-service")
        self.assertEqual(c["client_id"], "mt5-service")
        self.assertEqual(c.get("client_type"), "confidential", c)
        self.assertIs(c.get("is_trusted"), False, c)
        self.assertIs(c.get("is_active"), True, c)
        self.assertEqual(harness.names(c.get("scopes", [])), set(), "mt5-service only reads the revocation feed")

    def test_mt5_service_token_with_the_env_secret_reads_the_revocation_feed(self):
        s = self.server
        r = s.service_token("mt5-service", self.mt5_secret)
        token = r.body["access_token"]
        self.assertEqual(r.body.get("scope", ""), "", r)
        feed = s.get(f"{V1}/auth/revocations?since=0", bearer=token)
        self.assertEqual(feed.status, 200, feed)
        self.assertIsInstance(feed.body.get("revocations"), list, feed)
        # Basic authentication works too (how a service would normally send it).
        r = s.post(f"{V1}/auth/token", form={"grant_type": "client_credentials"},
                   auth_basic=("mt5-service", self.mt5_secret))
        self.assertEqual(r.status, 200, r)

    def test_mt5_service_may_not_ask_for_trading_scopes(self):
        r = self.server.service_token("mt5-service", self.mt5_secret, scope="trade:read", expect=None)
        self.assertError(r, 400, "invalid_scope")

    def test_wrong_secret_is_refused(self):
        r = self.server.service_token("mt5-service", self.mt5_secret + "x", expect=None)
        self.assertError(r, 401, "invalid_client")
        r = self.server.service_token("dashboard", self.mt5_secret, expect=None)
        self.assertError(r, 401, "invalid_client")

    def test_the_dashboards_server_side_has_the_trading_scopes(self):
        c = self.get_client("dashboard-service")
        self.assertEqual(c.get("client_type"), "confidential", c)
        self.assertIs(c.get("is_trusted"), False, c)
        self.assertEqual(harness.names(c.get("scopes", [])), TRADER_SCOPES)
        r = self.server.service_token("dashboard-service", self.dashboard_secret, scope="trade:read market:data")
        self.assertEqual(set(r.body["scope"].split()), {"trade:read", "market:data"})

    def test_the_web_apps_public_client_has_no_secret_to_use(self):
        c = self.get_client("dashboard")
        self.assertEqual(c.get("client_type"), "public", c)
        r = self.server.service_token("dashboard", self.dashboard_secret, expect=None)
        self.assertError(r, 401, "invalid_client")

    def test_creation_is_audited_and_secrets_never_appear(self):
        events = audit_events(self.server)
        for cid in ("mt5-service", "dashboard-service"):
            found = [e for e in events_about(events, cid, "client.create")]
            self.assertEqual(len(found), 1, f"one creation event for {cid}: {events_about(events, cid)}")
        text = json.dumps(events)
        for secret in (self.mt5_secret, self.dashboard_secret):
            self.assertNotIn(secret, text, "never audit secrets")
            self.assertNotIn(secret, self.server.output(), "never log secrets")

    def test_admin_list_shows_the_seed_clients_once(self):
        r = self.server.get(f"{V1}/service-clients?per_page=100", bearer=self.server.admin_token())
        self.assertEqual(r.status, 200, r)
        ids = [c["client_id"] for c in harness.find_list(r.body, "clients", "items")]
        self.assertEqual(ids.count("mt5-service"), 1, ids)
        self.assertEqual(ids.count("dashboard-service"), 1, ids)
        self.assertEqual(ids.count("dashboard"), 1, ids)


class SeedClientsAbsentTest(harness.ServerTestCase):
    server_env = {"MT5_SERVICE_CLIENT_SECRET": None, "DASHBOARD_CLIENT_SECRET": None}

    def test_no_variable_no_client(self):
        for cid in ("mt5-service", "dashboard-service"):
            r = self.server.get(f"{V1}/service-clients/{cid}", bearer=self.server.admin_token())
            self.assertError(r, 404, "not_found")


class SeedClientsRestartTest(unittest.TestCase):
    """Idempotent across restarts; a changed variable replaces the stored secret at once."""

    def test_restart_keeps_the_client_and_a_new_secret_replaces_the_old(self):
        first_secret, second_secret = env_secret(), env_secret()
        servers = []

        def start(secret, data_from=None):
            kw = {}
            if data_from is not None:
                kw = dict(data_dir=data_from.data_dir, database_url=data_from.database_url,
                          redis=data_from.redis, jwt_secret=data_from.jwt_secret,
                          admin_password=data_from.admin_password)
            srv = AuthServer(env={"MT5_SERVICE_CLIENT_SECRET": secret}, **kw)
            servers.append(srv)
            return srv.start()

        try:
            one = start(first_secret)
            one.service_token("mt5-service", first_secret)
            # An administrator's change to the client survives restarts (only the secret follows
            # the environment).
            r = one.put(f"{V1}/service-clients/mt5-service", bearer=one.admin_token(),
                        json={"description": "edited by an administrator"})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(one.stop(), 0)

            two = start(first_secret, data_from=one)
            two.service_token("mt5-service", first_secret)
            c = client_body(two.get(f"{V1}/service-clients/mt5-service", bearer=two.admin_token()).body)
            self.assertEqual(c.get("description"), "edited by an administrator", c)
            events = audit_events(two)
            self.assertEqual(len(events_about(events, "mt5-service", "client.create")), 1,
                             "a restart with the same secret creates nothing")
            self.assertEqual(events_about(events, "mt5-service", "rotate"), [],
                             "a restart with the same secret rotates nothing")
            self.assertEqual(two.stop(), 0)

            three = start(second_secret, data_from=one)
            three.service_token("mt5-service", second_secret)
            r = three.service_token("mt5-service", first_secret, expect=None)
            self.assertEqual(r.status, 401, f"the previous secret stops at once: {r!r}")
            events = audit_events(three)
            self.assertEqual(len(events_about(events, "mt5-service", "rotate")), 1,
                             f"the secret change is audited: {events_about(events, 'mt5-service')}")
            self.assertEqual(len(events_about(events, "mt5-service", "client.create")), 1)
            out = one.output() + three.output()
            self.assertNotIn(first_secret, out, "never log secrets")
            self.assertNotIn(second_secret, out, "never log secrets")
            self.assertEqual(three.stop(), 0)
        finally:
            for srv in servers:
                srv.kill()
                srv.stop()
            servers[0].cleanup()


class SeedClientsBadSecretTest(unittest.TestCase):
    def test_short_secret_stops_start_up_naming_the_variable(self):
        srv = AuthServer(env={"MT5_SERVICE_CLIENT_SECRET": "short"})
        try:
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("PERMISO_", "JWT_", "RATE_LIMIT_", "REDIS_", "DATABASE_"))}
            env.update(srv.env)
            r = subprocess.run([srv.binary, "serve"], env=env, cwd=srv.data_dir, capture_output=True,
                               text=True, timeout=30, stdin=subprocess.DEVNULL)
            self.assertEqual(r.returncode, 2, f"configuration errors exit 2: {r.stdout}{r.stderr}")
            self.assertIn("config error: MT5_SERVICE_CLIENT_SECRET:", r.stderr)
            self.assertNotIn("short", r.stderr.replace("MT5_SERVICE_CLIENT_SECRET", ""), "never print the secret")
        finally:
            srv.cleanup()


if __name__ == "__main__":
    unittest.main()
