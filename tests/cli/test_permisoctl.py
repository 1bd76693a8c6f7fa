# permisoctl end to end: every command against the real permiso-auth (tests/integration's
# harness starts it on a free port with SQLite), with the login kept in a temp XDG_CONFIG_HOME.
"""Environment: PERMISOCTL_BIN (the binary), PERMISO_AUTH_BIN, PERMISO_REPO (as for the harness)."""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402

CTL = os.environ.get("PERMISOCTL_BIN", "")
JWT_RE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")

EXIT_OK, EXIT_USAGE, EXIT_AUTH, EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_UNAVAILABLE = 0, 1, 2, 3, 4, 5

_SERVER = None


def setUpModule():
    global _SERVER
    if not CTL or not os.access(CTL, os.X_OK):
        raise harness.HarnessError("PERMISOCTL_BIN must point at the permisoctl binary")
    # No JWT_SECRET_KEY: the server generates its key under the data dir, so it can rotate.
    _SERVER = harness.AuthServer(env={"JWT_SECRET_KEY": None}).start()


def tearDownModule():
    if _SERVER is not None:
        _SERVER.stop_clean()


class Ctl(unittest.TestCase):
    """Runs permisoctl with a private config dir per test class."""

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="permisoctl-home-")
        self.server = _SERVER

    def tearDown(self):
        shutil.rmtree(self.home, ignore_errors=True)

    def run_ctl(self, *args, stdin=None, env=None, expect=None, url=True):
        e = {k: v for k, v in os.environ.items() if not k.startswith("PERMISO_")}
        e.update({"XDG_CONFIG_HOME": self.home, "HOME": self.home, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"})
        if url:
            e["PERMISO_URL"] = self.server.base_url
        e.update(env or {})
        p = subprocess.run([CTL, *args], input=stdin, capture_output=True, text=True, env=e, timeout=60)
        if expect is not None:
            self.assertEqual(p.returncode, expect,
                             f"permisoctl {' '.join(args)} → {p.returncode}, expected {expect}\n"
                             f"stdout: {p.stdout}\nstderr: {p.stderr}")
        return p

    def json_ctl(self, *args, **kw):
        p = self.run_ctl("--output", "json", *args, expect=kw.pop("expect", EXIT_OK), **kw)
        return json.loads(p.stdout)

    def login_admin(self):
        self.run_ctl("login", "--username", "admin", "--password-stdin", stdin=self.server.admin_password + "\n",
                     expect=EXIT_OK)

    @property
    def credentials(self):
        return os.path.join(self.home, "permiso", "credentials.json")

    def saved(self):
        with open(self.credentials) as f:
            return json.load(f)


class TestHelpAndUsage(Ctl):
    COMMANDS = [[], ["login"], ["logout"], ["token"], ["clients"], ["clients", "create"], ["clients", "list"],
                ["clients", "show"], ["clients", "update"], ["clients", "rotate-secret"], ["clients", "delete"],
                ["users"], ["users", "create"], ["users", "list"], ["users", "show"], ["users", "disable"],
                ["users", "roles"], ["scopes"], ["roles"], ["revoke"], ["introspect"], ["decode"], ["keys"],
                ["keys", "list"], ["keys", "rotate"], ["audit"]]

    def test_every_command_has_help_with_the_exit_codes(self):
        for cmd in self.COMMANDS:
            p = self.run_ctl(*cmd, "--help", expect=EXIT_OK)
            self.assertIn("Usage:", p.stdout, cmd)
            self.assertIn("Exit codes:", p.stdout, cmd)
            self.assertIn("5  server unavailable", p.stdout, cmd)

    def test_usage_errors_exit_1(self):
        self.run_ctl(expect=EXIT_USAGE)
        self.run_ctl("bogus", expect=EXIT_USAGE)
        self.run_ctl("clients", "show", expect=EXIT_USAGE)
        self.run_ctl("--output", "yaml", "scopes", expect=EXIT_USAGE)
        p = self.run_ctl("token", expect=EXIT_USAGE)
        self.assertIn("--client-id", p.stderr)

    def test_not_logged_in_says_how_to_log_in(self):
        p = self.run_ctl("clients", "list", expect=EXIT_AUTH)
        self.assertIn("permisoctl login", p.stderr)

    def test_unreachable_server_exits_5_with_a_hint(self):
        p = self.run_ctl("--url", "http://127.0.0.1:1", "token", "--client-id", "x",
                         env={"PERMISO_CLIENT_SECRET": "y"}, expect=EXIT_UNAVAILABLE)
        self.assertIn("PERMISO_URL", p.stderr)


class TestLogin(Ctl):
    def test_wrong_password_exits_2(self):
        p = self.run_ctl("login", "--username", "admin", "--password-stdin", stdin="Wrong-pass1\n", expect=EXIT_AUTH)
        self.assertIn("password", p.stderr)
        self.assertFalse(os.path.exists(self.credentials))

    def test_login_keeps_the_token_0600_and_never_prints_it(self):
        p = self.run_ctl("login", "--username", "admin", "--password-stdin",
                         stdin=self.server.admin_password + "\n", expect=EXIT_OK)
        mode = stat.S_IMODE(os.stat(self.credentials).st_mode)
        self.assertEqual(mode, 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(self.credentials)).st_mode), 0o700)
        saved = self.saved()
        self.assertTrue(JWT_RE.match(saved["access_token"]))
        self.assertNotIn(saved["access_token"], p.stdout + p.stderr)
        self.assertNotIn(saved["refresh_token"], p.stdout + p.stderr)
        self.assertIn("admin", p.stdout)

    def test_password_from_environment(self):
        self.run_ctl("login", "-u", "admin", env={"PERMISO_PASSWORD": self.server.admin_password}, expect=EXIT_OK)

    def test_an_expired_access_token_is_renewed_and_saved(self):
        self.login_admin()
        saved = self.saved()
        saved["expires_at"] = 0
        with open(self.credentials, "w") as f:
            json.dump(saved, f)
        self.run_ctl("scopes", expect=EXIT_OK)
        renewed = self.saved()
        self.assertNotEqual(renewed["access_token"], saved["access_token"])
        self.assertNotEqual(renewed["refresh_token"], saved["refresh_token"])
        self.assertEqual(stat.S_IMODE(os.stat(self.credentials).st_mode), 0o600)

    def test_a_login_for_another_url_is_not_sent_elsewhere(self):
        self.login_admin()
        p = self.run_ctl("--url", "http://127.0.0.1:1", "scopes", expect=EXIT_AUTH)
        self.assertIn("login", p.stderr)

    def test_logout_ends_the_session(self):
        self.login_admin()
        token = self.saved()["access_token"]
        self.run_ctl("logout", expect=EXIT_OK)
        self.assertFalse(os.path.exists(self.credentials))
        self.run_ctl("scopes", expect=EXIT_AUTH)
        r = self.server.get(harness.V1 + "/users/me", bearer=token)
        self.assertEqual(r.status, 401)


class TestClients(Ctl):
    def setUp(self):
        super().setUp()
        self.login_admin()

    def create(self, *extra):
        cid = harness.uniq("ctl-")
        out = self.json_ctl("clients", "create", "--name", "CLI test", "--id", cid, "-s", "trade:read",
                            "-s", "account:read", *extra)
        return cid, out

    def test_create_shows_the_secret_once_and_list_show_never(self):
        cid, out = self.create("--lifetime", "600", "--trusted", "true")
        self.assertEqual(out["client"]["client_id"], cid)
        secret = out["client_secret"]
        self.assertTrue(secret)
        self.assertEqual(sorted(out["client"]["scopes"]), ["account:read", "trade:read"])
        self.assertEqual(out["client"]["access_token_lifetime"], 600)
        listed = self.run_ctl("clients", "list", "--per-page", "100", expect=EXIT_OK)
        self.assertIn(cid, listed.stdout)
        self.assertIn("CLIENT ID", listed.stdout)
        self.assertNotIn(secret, listed.stdout)
        shown = self.run_ctl("clients", "show", cid, expect=EXIT_OK)
        self.assertIn("client_id:", shown.stdout)
        self.assertNotIn(secret, shown.stdout)
        table = self.run_ctl("clients", "create", "--name", "t", "-s", "trade:read", expect=EXIT_OK)
        self.assertIn("client_secret:", table.stdout)
        self.assertIn("shown once", table.stdout)

    def test_duplicate_and_invalid_exit_4_naming_the_field(self):
        cid, _ = self.create()
        p = self.run_ctl("clients", "create", "--name", "again", "--id", cid, expect=EXIT_CONFLICT)
        self.assertIn("conflict", p.stderr)
        p = self.run_ctl("clients", "create", "--name", "x", "--lifetime", "5", expect=EXIT_CONFLICT)
        self.assertIn("access_token_lifetime", p.stderr)
        p = self.run_ctl("clients", "update", cid, expect=EXIT_USAGE)
        self.assertIn("nothing to update", p.stderr)

    def test_unknown_client_exits_3(self):
        p = self.run_ctl("clients", "show", "no-such-client", expect=EXIT_NOT_FOUND)
        self.assertIn("clients list", p.stderr)
        self.run_ctl("clients", "delete", "no-such-client", expect=EXIT_NOT_FOUND)

    def test_update_token_rotate_and_delete(self):
        cid, out = self.create()
        old = out["client_secret"]
        upd = self.json_ctl("clients", "update", cid, "--name", "Renamed", "--trusted", "false", "-s", "trade:read")
        self.assertEqual(upd["name"], "Renamed")
        self.assertEqual(upd["scopes"], ["trade:read"])
        self.assertFalse(upd["is_trusted"])

        p = self.run_ctl("token", "--client-id", cid, "--client-secret-stdin", stdin=old + "\n", expect=EXIT_OK)
        token = p.stdout.strip()
        self.assertTrue(JWT_RE.match(token), p.stdout)
        p = self.run_ctl("token", "--export", env={"PERMISO_CLIENT_ID": cid, "PERMISO_CLIENT_SECRET": old},
                         expect=EXIT_OK)
        self.assertTrue(p.stdout.startswith("export PERMISO_TOKEN='"))
        j = self.json_ctl("token", "-s", "trade:read", env={"PERMISO_CLIENT_ID": cid, "PERMISO_CLIENT_SECRET": old})
        self.assertEqual(j["scope"], "trade:read")
        p = self.run_ctl("token", "-s", "admin:system", env={"PERMISO_CLIENT_ID": cid, "PERMISO_CLIENT_SECRET": old},
                         expect=EXIT_CONFLICT)
        self.assertIn("scope", p.stderr)

        rotated = self.json_ctl("clients", "rotate-secret", cid)
        new = rotated["client_secret"]
        self.assertNotEqual(new, old)
        p = self.run_ctl("token", env={"PERMISO_CLIENT_ID": cid, "PERMISO_CLIENT_SECRET": old}, expect=EXIT_AUTH)
        self.assertIn("authentication", p.stderr)
        self.run_ctl("token", env={"PERMISO_CLIENT_ID": cid, "PERMISO_CLIENT_SECRET": new}, expect=EXIT_OK)
        graced = self.json_ctl("clients", "rotate-secret", cid, "--grace", "600")
        self.run_ctl("token", env={"PERMISO_CLIENT_ID": cid, "PERMISO_CLIENT_SECRET": new}, expect=EXIT_OK)
        self.run_ctl("token", env={"PERMISO_CLIENT_ID": cid, "PERMISO_CLIENT_SECRET": graced["client_secret"]},
                     expect=EXIT_OK)

        self.json_ctl("clients", "update", cid, "--active", "false")
        p = self.run_ctl("token", env={"PERMISO_CLIENT_ID": cid, "PERMISO_CLIENT_SECRET": graced["client_secret"]},
                         expect=EXIT_AUTH)
        self.assertIn("disabled", p.stderr)

        self.run_ctl("clients", "delete", cid, expect=EXIT_OK)
        self.run_ctl("clients", "show", cid, expect=EXIT_NOT_FOUND)


class TestUsers(Ctl):
    def setUp(self):
        super().setUp()
        self.login_admin()

    def test_create_list_show_roles_disable(self):
        name = harness.uniq("ctl_user_")
        pw = harness.strong_password()
        user = self.json_ctl("users", "create", "--username", name, "--email", f"{name}@example.com",
                             "--password-stdin", stdin=pw + "\n")
        uid = str(user["id"])
        self.assertEqual([r["name"] for r in user["roles"]], ["user"])
        self.assertNotIn("password", json.dumps(user).replace("password_", ""))
        p = self.run_ctl("users", "create", "--username", name, "--email", f"x{name}@example.com",
                         env={"PERMISO_PASSWORD": pw}, expect=EXIT_CONFLICT)
        self.assertIn("username", p.stderr)
        p = self.run_ctl("users", "create", "--username", harness.uniq("u_"), "--email", "not-an-email",
                         env={"PERMISO_PASSWORD": pw}, expect=EXIT_CONFLICT)
        self.assertIn("email", p.stderr)
        self.run_ctl("users", "create", "--username", harness.uniq("u_"), "--email", "a@example.com",
                     expect=EXIT_USAGE)

        listed = self.run_ctl("users", "list", "--search", name, expect=EXIT_OK)
        self.assertIn(name, listed.stdout)
        self.assertIn("USERNAME", listed.stdout)
        shown = self.json_ctl("users", "show", uid)
        self.assertEqual(shown["username"], name)
        self.run_ctl("users", "show", "999999", expect=EXIT_NOT_FOUND)

        roles = self.run_ctl("users", "roles", uid, expect=EXIT_OK)
        self.assertIn("user", roles.stdout)
        roles = self.json_ctl("users", "roles", uid, "--role", "trader", "--role", "user")
        self.assertEqual(sorted(r["name"] for r in roles), ["trader", "user"])
        self.run_ctl("users", "roles", uid, "--role", "no-such-role", expect=EXIT_CONFLICT)

        # The user can log in (in a separate config dir) until disabled.
        other = tempfile.mkdtemp(prefix="permisoctl-user-")
        try:
            env = {"XDG_CONFIG_HOME": other}
            self.run_ctl("login", "-u", name, "--password-stdin", stdin=pw + "\n", env=env, expect=EXIT_OK)
            p = self.run_ctl("clients", "list", env=env, expect=EXIT_AUTH)
            self.assertIn("admin:clients", p.stderr)  # the missing scope is named
            self.run_ctl("users", "disable", uid, expect=EXIT_OK)
            self.assertFalse(self.json_ctl("users", "show", uid)["is_active"])
            p = self.run_ctl("login", "-u", name, "--password-stdin", stdin=pw + "\n", env=env, expect=EXIT_AUTH)
            self.assertIn("disabled", p.stderr)
        finally:
            shutil.rmtree(other, ignore_errors=True)

        active = self.json_ctl("users", "list", "--active", "false", "--per-page", "100")
        self.assertIn(name, [u["username"] for u in active["users"]])


class TestCatalogueTokensKeysAudit(Ctl):
    def setUp(self):
        super().setUp()
        self.login_admin()

    def test_scopes_and_roles(self):
        p = self.run_ctl("scopes", expect=EXIT_OK)
        for s in ("trade:read", "admin:system", "market:data"):
            self.assertIn(s, p.stdout)
        roles = self.json_ctl("roles")
        names = [r["name"] for r in harness.find_list(roles, "roles")]
        for r in ("admin", "trader", "user", "service"):
            self.assertIn(r, names)
        self.assertIn("SCOPES", self.run_ctl("roles", expect=EXIT_OK).stdout)

    def test_introspect_revoke_and_decode(self):
        client = self.server.create_client(scopes=("trade:read",))
        cid, secret = client["client"]["client_id"], client["client_secret"]
        token = self.run_ctl("token", env={"PERMISO_CLIENT_ID": cid, "PERMISO_CLIENT_SECRET": secret},
                             expect=EXIT_OK).stdout.strip()
        info = self.json_ctl("introspect", token)
        self.assertTrue(info["active"])
        self.assertEqual(info["client_id"], cid)
        text = self.run_ctl("introspect", "-", stdin=token + "\n", expect=EXIT_OK).stdout
        self.assertIn("expires: in", text)

        decoded = self.run_ctl("decode", token, expect=EXIT_OK).stdout
        self.assertIn('"client_id": "' + cid + '"', decoded)
        self.assertRegex(decoded, r"exp: in (59 minutes|1 hour)\n")
        self.assertIn("NOT verified", decoded)
        j = self.json_ctl("decode", token)
        self.assertFalse(j["verified"])
        self.assertEqual(j["header"]["typ"], "at+jwt")
        self.run_ctl("decode", "not-a-jwt", expect=EXIT_CONFLICT)

        self.run_ctl("revoke", token, expect=EXIT_OK)
        self.assertFalse(self.json_ctl("introspect", token)["active"])

    def test_keys_list_and_rotate(self):
        keys = self.json_ctl("keys", "list")["keys"]
        self.assertTrue(any(k["signing"] for k in keys))
        rotated = self.json_ctl("keys", "rotate")
        kid = rotated["key"]["kid"]
        self.assertIn(kid, self.run_ctl("keys", "list", expect=EXIT_OK).stdout)
        self.assertEqual(len(self.json_ctl("keys", "list")["keys"]), len(keys) + 1)

    def test_audit_filters(self):
        cid = harness.uniq("ctl-audit-")
        self.json_ctl("clients", "create", "--name", "audited", "--id", cid)
        events = self.json_ctl("audit", "--action", "client.create", "--actor", "admin", "--limit", "1000")["events"]
        self.assertIn(cid, [e["target"] for e in events])
        self.assertTrue(all(e["action"] == "client.create" and e["actor"] == "admin" for e in events))
        table = self.run_ctl("audit", "--action", "client.create", "--since", "2000-01-01", expect=EXIT_OK).stdout
        self.assertIn("ACTION", table)
        self.assertIn(cid, table)
        none = self.json_ctl("audit", "--action", "client.create", "--until", "2000-01-01")["events"]
        self.assertEqual(none, [])
        p = self.run_ctl("audit", "--since", "yesterday", expect=EXIT_CONFLICT)
        self.assertIn("since", p.stderr)


if __name__ == "__main__":
    unittest.main()
