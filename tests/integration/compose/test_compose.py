# The seed's integration flows (its tests/integration/test_service_integration.py) against the
# compose stack of deploy/docker-compose.yml, through nginx only: the production profile,
# secrets from compose secrets, two permiso-auth replicas, mt5-api, PostgreSQL and Redis in
# their containers. scripts/compose-test starts the stack and runs this; it is not part of
# the other suites (it needs the images).
import json
import os
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "frontdoor"))

from frontdoor_harness import fresh_source, request  # noqa: E402

BASE = os.environ.get("COMPOSE_BASE_URL", "https://localhost:843")
HTTP = os.environ.get("COMPOSE_HTTP_URL", "http://localhost:880")
CA = os.environ.get("COMPOSE_CA", "")
SECRETS = os.path.dirname(os.path.dirname(CA)) if CA else ""
PROJECT = os.environ.get("COMPOSE_PROJECT", "permiso-compose-test")
V1 = "/api/v1"


def secret(name):
    with open(os.path.join(SECRETS, name)) as f:
        return f.read().strip()


def call(method, path, source=None, **kw):
    return request(BASE, method, path, source=source or fresh_source(), ca_file=CA, **kw)


def admin_token():
    r = call("POST", f"{V1}/auth/token", form={"grant_type": "password", "username": "admin",
                                               "password": secret("admin_password")})
    assert r.status == 200, r
    return r.body["access_token"]


def register_client(token, client_id, scopes):
    r = call("POST", f"{V1}/admin/service-clients", bearer=token, json={
        "client_id": client_id, "name": "Integration Test Client",
        "description": "Client for integration testing", "client_type": "confidential",
        "is_trusted": True, "access_token_lifetime": 3600, "scope_ids": scopes})
    assert r.status == 201, r
    return r.body["client"]["client_id"], r.body["client_secret"]


def service_token(client_id, client_secret, scope=None):
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
    if scope:
        form["scope"] = scope
    r = call("POST", f"{V1}/auth/token", form=form)
    assert r.status == 200, r
    return r.body["access_token"]


def docker(*args):
    return subprocess.run(["/usr/bin/docker", *args], capture_output=True, text=True, check=True).stdout


class SeedFlowsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.admin = admin_token()

    def test_complete_authentication_flow(self):
        client_id, client_secret = register_client(self.admin, f"compose-flow-{time.time_ns()}",
                                                   ["trade:read", "trade:open", "account:read"])
        token = service_token(client_id, client_secret, "trade:read account:read")
        self.assertGreater(len(token), 50)
        for path in ("/mt5/api/v1/trades", f"{V1}/trades"):  # the seed's prefix and the one URL's
            r = call("GET", path, bearer=token)
            self.assertEqual(r.status, 200, r)
            self.assertIsInstance(r.body, list)
        # Scope enforcement: the token lacks trade:open.
        r = call("POST", "/mt5/api/v1/trades", bearer=token,
                 json={"symbol": "EURUSD", "volume": 0.1, "trade_type": "buy"})
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.body["error"], "insufficient_scope")

    def test_rate_limiting_of_failed_logins(self):
        source = fresh_source()
        statuses = []
        for _ in range(10):
            r = call("POST", f"{V1}/auth/token", source=source,
                     form={"grant_type": "password", "username": "invalid", "password": "invalid"})
            statuses.append(r.status)
        self.assertIn(429, statuses)  # production: RATE_LIMIT_LOGIN 5/minute of failures
        self.assertEqual(statuses[0], 401, statuses)

    def test_token_revocation_reaches_mt5_api(self):
        client_id, client_secret = register_client(self.admin, f"compose-revoke-{time.time_ns()}", ["trade:read"])
        token = service_token(client_id, client_secret)
        self.assertEqual(call("GET", f"{V1}/trades", bearer=token).status, 200)
        r = call("POST", f"{V1}/auth/revoke", bearer=token, json={"token": token})
        self.assertEqual(r.status, 200, r)
        deadline = time.monotonic() + 10  # pushed through Redis: well under a second in practice
        while True:
            r = call("GET", f"{V1}/trades", bearer=token)
            if r.status == 401 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(r.status, 401, r)

    def test_the_seeds_service_clients_come_from_compose_secrets(self):
        token = service_token("mt5-service", secret("mt5_service_client_secret"))
        r = call("GET", f"{V1}/auth/revocations?since=0", bearer=token)
        self.assertEqual(r.status, 200, r)
        token = service_token("dashboard-service", secret("dashboard_client_secret"), "trade:read")
        self.assertEqual(call("GET", f"{V1}/trades", bearer=token).status, 200)

    def test_tokens_are_rs256_and_verify_against_the_published_keys(self):
        import jwt  # Debian's python3-jwt, as the seed's services would verify
        r = call("GET", "/.well-known/jwks.json")
        self.assertEqual(r.status, 200, r)
        token = admin_token()
        header = jwt.get_unverified_header(token)
        self.assertEqual(header["alg"], "RS256")
        key = next(k for k in r.body["keys"] if k["kid"] == header["kid"])
        claims = jwt.decode(token, jwt.PyJWK(key).key, algorithms=["RS256"], audience="permiso")
        self.assertEqual(claims["iss"], "permiso-auth")

    def test_http_redirects_to_https_but_health_answers(self):
        r = request(HTTP, "GET", f"{V1}/trades", source=fresh_source())
        self.assertEqual(r.status, 301, r)
        self.assertTrue(r.header("location").startswith("https://"), r)
        self.assertEqual(request(HTTP, "GET", "/health", source=fresh_source()).status, 200)
        r = call("GET", "/health")
        self.assertEqual(r.status, 200, r)
        self.assertIn("max-age=", r.header("strict-transport-security") or "")


class ContainersTest(unittest.TestCase):
    """What the images promise: non-root, read-only root file systems, healthy."""

    def test_every_container_is_healthy_non_root_and_read_only(self):
        ids = docker("ps", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}").split()
        self.assertEqual(len(ids), 6, "postgres, redis, two permiso-auth, mt5-api, nginx")
        for info in json.loads(docker("inspect", *ids)):
            name = info["Name"]
            self.assertEqual(info["State"]["Health"]["Status"], "healthy", name)
            self.assertTrue(info["HostConfig"]["ReadonlyRootfs"], name)
            self.assertNotIn(info["Config"]["User"], ("", "root", "0"), name)

    def test_no_secret_reaches_a_log(self):
        logs = subprocess.run(["/usr/bin/docker-compose", "--project-name", PROJECT, "--env-file",
                               os.path.join(os.environ.get("PERMISO_REPO", "."), "deploy/compose-test.env"),
                               "-f", os.path.join(os.environ.get("PERMISO_REPO", "."), "deploy/docker-compose.yml"),
                               "logs", "--no-color"], capture_output=True, text=True, check=True).stdout
        self.assertIn("permiso-auth", logs)
        for name in ("postgres_password", "redis_password", "admin_password", "client_secret_pepper",
                     "mt5_service_client_secret", "dashboard_client_secret"):
            self.assertNotIn(secret(name), logs, name)


if __name__ == "__main__":
    unittest.main()
