# The front door as `make run` serves it: nginx (deploy/nginx) in front of permiso-auth and
# mt5-api, over HTTP and HTTPS, with the seed's limits. Black-box, against real processes.

import http.client
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest
import warnings

import yaml

import frontdoor_harness as fd
from frontdoor_harness import V1, fresh_source

import gateway_harness as gw

TRADING_SCOPES = ["trade:read", "trade:open", "trade:close", "market:data", "account:read"]
# Headers that must never appear twice in one response (a browser refuses a doubled
# Access-Control-Allow-Origin; doubled security headers are at best ambiguous).
SINGLE_HEADERS = ("x-request-id", "x-frame-options", "x-content-type-options", "x-xss-protection",
                  "referrer-policy", "cache-control", "strict-transport-security",
                  "access-control-allow-origin", "access-control-allow-credentials", "content-type",
                  "retry-after", "vary", "content-security-policy")
REVOCATION_DEADLINE_S = 2.0

STACK = None


def setUpModule():
    global STACK
    STACK = fd.FrontDoorStack().start()


def tearDownModule():
    if STACK is not None:
        STACK.stop_and_check()


class FrontDoorCase(unittest.TestCase):
    def assertHeadersOnce(self, r, where):
        for name in SINGLE_HEADERS:
            self.assertLessEqual(len(r.headers_named(name)), 1, f"{where}: {name} appears twice: {r}")
        for name in ("x-request-id", "x-frame-options", "x-content-type-options", "referrer-policy"):
            self.assertEqual(len(r.headers_named(name)), 1, f"{where}: {name} missing: {r}")

    def assertContractError(self, r, status, code):
        self.assertEqual(r.status, status, r)
        self.assertTrue(r.header("content-type").startswith("application/json"), r)
        self.assertEqual(r.body["error"], code, r)
        self.assertTrue(r.body.get("error_description"), r)
        self.assertEqual(r.body.get("request_id"), r.header("x-request-id"), r)

    def service_client(self, scopes=TRADING_SCOPES):
        r = STACK.call("POST", f"{V1}/service-clients", source=fresh_source(), bearer=STACK.admin_token(),
                       json={"name": "front door test", "scope_ids": scopes})
        self.assertEqual(r.status, 201, r)
        return r.body["client"]["client_id"], r.body["client_secret"]


class RoutingTest(FrontDoorCase):
    def test_health_of_the_front_door_over_http_and_https(self):
        for via in ("http", "https"):
            r = STACK.call("GET", "/health", via=via)
            self.assertEqual((r.status, r.text), (200, "healthy\n"), via)
            self.assertHeadersOnce(r, f"/health over {via}")

    def test_discovery_names_the_address_the_client_used(self):
        for via, base in (("https", STACK.https_url), ("http", STACK.http_url)):
            r = STACK.call("GET", "/.well-known/oauth-authorization-server", via=via, source=fresh_source())
            self.assertEqual(r.status, 200, r)
            for key in ("token_endpoint", "jwks_uri", "revocation_endpoint", "introspection_endpoint"):
                self.assertTrue(r.body[key].startswith(base + "/"), f"{key} over {via}: {r.body[key]}")
            self.assertHeadersOnce(r, "discovery")
        # Directly, the service names itself: nothing a client sends can change that.
        direct = fd.request(STACK.auth_url, "GET", "/.well-known/oauth-authorization-server",
                            headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"})
        self.assertTrue(direct.body["jwks_uri"].startswith(STACK.auth_url + "/"), direct.body)

    def test_complete_flow_through_the_front_door(self):
        """The seed's flow over HTTP and HTTPS: a service client gets a token from permiso-auth
        and trades through mt5-api, on /api/v1/... and the seed's /mt5/api/v1/..."""
        client_id, secret = self.service_client()
        for via in ("https", "http"):
            source = fresh_source()
            t = STACK.call("POST", f"{V1}/auth/service-token", via=via, source=source,
                           form={"client_id": client_id, "client_secret": secret, "scope": " ".join(TRADING_SCOPES)})
            self.assertEqual(t.status, 200, t)
            self.assertEqual(t.header("cache-control"), "no-store", t)
            self.assertHeadersOnce(t, "token")
            token = t.body["access_token"]
            opened = STACK.call("POST", f"{V1}/trades", via=via, source=source, bearer=token,
                                json={"symbol": "EURUSD", "volume": 0.01, "trade_type": "buy"})
            self.assertEqual(opened.status, 201, opened)
            self.assertHeadersOnce(opened, "open trade")
            trade_id = opened.body["id"]
            # The same token, reused (as a client caching it would), on both path forms.
            for path in (f"{V1}/trades/{trade_id}", f"/mt5/api/v1/trades/{trade_id}"):
                got = STACK.call("GET", path, via=via, source=source, bearer=token)
                self.assertEqual(got.status, 200, f"{path}: {got}")
                self.assertEqual(str(got.body["id"]), str(trade_id))
            closed = STACK.call("DELETE", f"/mt5/api/v1/trades/{trade_id}", via=via, source=source, bearer=token)
            self.assertEqual(closed.status, 200, closed)
            q = STACK.call("GET", "/mt5/api/v1/market/EURUSD", via=via, source=source, bearer=token)
            self.assertEqual(q.status, 200, q)
            self.assertGreater(q.body["ask"], 0, q)

    def test_revocation_through_the_front_door_reaches_mt5_api(self):
        client_id, secret = self.service_client()
        source = fresh_source()
        t = STACK.call("POST", f"{V1}/auth/service-token", source=source,
                       form={"client_id": client_id, "client_secret": secret, "scope": "trade:read"})
        token = t.body["access_token"]
        self.assertEqual(STACK.call("GET", f"{V1}/trades", source=source, bearer=token).status, 200)
        r = STACK.call("POST", f"{V1}/auth/revoke", source=source, bearer=token, json={"token": token})
        self.assertEqual(r.status, 200, r)
        deadline = time.time() + REVOCATION_DEADLINE_S
        while True:
            after = STACK.call("GET", "/mt5/api/v1/trades", source=source, bearer=token)
            if after.status == 401:
                break
            self.assertLess(time.time(), deadline, f"revoked token still accepted after 2 s: {after}")
            time.sleep(0.05)
        self.assertContractError(after, 401, "invalid_token")

    def test_dashboard_is_served_at_the_root(self):
        r = STACK.call("GET", "/", source=fresh_source())
        self.assertEqual(r.status, 200, r)
        self.assertIn("text/html", r.header("content-type"))
        self.assertIn("default-src 'self'", r.header("content-security-policy") or "", r)
        self.assertHeadersOnce(r, "dashboard")
        # An application route the browser deep-links to is the same single page.
        deep = STACK.call("GET", "/trades/open", source=fresh_source())
        self.assertEqual((deep.status, deep.text), (200, r.text))

    def test_the_api_reference_is_served_at_docs_with_both_live_documents(self):
        bare = STACK.call("GET", "/docs", source=fresh_source())
        self.assertEqual(bare.status, 301, bare)
        self.assertTrue(bare.header("location").endswith("/docs/"), bare)
        page = STACK.call("GET", "/docs/", source=fresh_source())
        self.assertEqual(page.status, 200, page)
        self.assertIn("text/html", page.header("content-type"))
        self.assertIn("swagger-ui-bundle.js", page.text)
        csp = page.header("content-security-policy") or ""
        self.assertIn("script-src 'self';", csp, page)
        self.assertIn("connect-src 'self';", csp, page)
        self.assertHeadersOnce(page, "api reference")
        bundle = STACK.call("GET", "/docs/swagger-ui-bundle.js", source=fresh_source())
        self.assertEqual(bundle.status, 200)
        self.assertIn("javascript", bundle.header("content-type"))
        for name, title in (("permiso-auth", "Permiso auth"), ("mt5-api", "mt5-api")):
            doc = STACK.call("GET", f"/docs/{name}.json", source=fresh_source())
            self.assertEqual(doc.status, 200, doc)
            self.assertEqual(doc.body["openapi"][:3], "3.1", doc)
            self.assertIn(title, doc.body["info"]["title"])
        missing = STACK.call("GET", "/docs/nothing-here.js", source=fresh_source())
        self.assertEqual(missing.status, 404, "no single-page fallback under /docs")

    def test_request_id_passes_through_or_is_generated(self):
        mine = STACK.call("GET", f"{V1}/users/me", source=fresh_source(), headers={"X-Request-ID": "edge-test.42"})
        self.assertEqual(mine.headers_named("x-request-id"), ["edge-test.42"], mine)
        self.assertEqual(mine.body["request_id"], "edge-test.42", mine)
        made = STACK.call("GET", f"{V1}/users/me", source=fresh_source(), headers={"X-Request-ID": "bad id!"})
        rid = made.header("x-request-id")
        self.assertRegex(rid, r"^[0-9a-f]{32}$", made)
        self.assertEqual(made.body["request_id"], rid)
        # The same id in nginx's JSON access log, which never records the query.
        STACK.call("GET", f"{V1}/users/me?secret=hunter2", source=fresh_source(), headers={"X-Request-ID": "edge-log-7"})
        deadline = time.time() + 5
        while True:
            entries = [e for e in STACK.access_log() if e.get("request_id") == "edge-log-7"]
            if entries or time.time() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(len(entries), 1, "one access-log line per request")
        self.assertEqual(entries[0]["path"], f"{V1}/users/me")
        self.assertEqual(entries[0]["status"], 401)
        with open(os.path.join(STACK.data_dir, "frontdoor", "access.log"), encoding="utf-8") as f:
            self.assertNotIn("hunter2", f.read())

    def test_body_over_the_limit_is_refused_by_nginx_in_the_contract_shape(self):
        r = STACK.call("POST", f"{V1}/auth/token", source=fresh_source(), body=b"x" * (100 * 1024),
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertContractError(r, 413, "payload_too_large")
        self.assertHeadersOnce(r, "413")

    def test_headers_over_the_limit_are_431_whoever_refuses_them(self):
        # One line over nginx's 8 KiB buffer: nginx refuses it, in the contract's shape.
        r = STACK.call("GET", f"{V1}/users/me", source=fresh_source(), headers={"X-Big": "a" * 9000})
        self.assertContractError(r, 431, "request_header_fields_too_large")
        self.assertHeadersOnce(r, "nginx 431")
        # Lines nginx accepts but more than the services' 8 KiB in all: the service refuses.
        r = STACK.call("GET", f"{V1}/users/me", source=fresh_source(),
                       headers={"X-Big-1": "a" * 5000, "X-Big-2": "b" * 5000})
        self.assertEqual(r.status, 431, r)
        self.assertHeadersOnce(r, "service 431")


class ClientAddressTest(FrontDoorCase):
    def audit_ips_for(self, username):
        r = STACK.call("GET", f"{V1}/admin/audit?per_page=1000&limit=1000", source=fresh_source(),
                       bearer=STACK.admin_token())
        self.assertEqual(r.status, 200, r)
        events = r.body if isinstance(r.body, list) else next(
            v for k, v in r.body.items() if isinstance(v, list))
        return [e for e in events if username in str(e)]

    def test_services_see_the_real_client_address(self):
        user = f"edge{int(time.time() * 1000) % 10 ** 9}"
        source = fresh_source()
        r = STACK.call("POST", f"{V1}/auth/token", source=source,
                       headers={"X-Forwarded-For": "203.0.113.77"},  # a client's claim: not believed
                       form={"grant_type": "password", "username": user, "password": "Wrong-Passw0rd!"})
        self.assertEqual(r.status, 401, r)
        events = self.audit_ips_for(user)
        self.assertTrue(events, "the failed login is audited")
        text = str(events)
        self.assertIn(source, text, events)
        self.assertNotIn("203.0.113.77", text, events)
        self.assertNotIn("127.0.0.2", text, "the front door's own address is not the client's")

    def test_direct_callers_cannot_claim_another_address(self):
        user = f"direct{int(time.time() * 1000) % 10 ** 9}"
        fd.request(STACK.auth_url, "POST", f"{V1}/auth/token", headers={"X-Forwarded-For": "203.0.113.78"},
                   form={"grant_type": "password", "username": user, "password": "Wrong-Passw0rd!"})
        text = str(self.audit_ips_for(user))
        self.assertIn("127.0.0.1", text)
        self.assertNotIn("203.0.113.78", text)


class LimitsTest(FrontDoorCase):
    def test_auth_zone_answers_429_in_the_contract_shape(self):
        """The seed's auth zone: 10 r/m with a burst of 20, per client address."""
        source = fresh_source()
        statuses = []
        for _ in range(40):
            r = STACK.call("POST", f"{V1}/auth/introspect", source=source)
            statuses.append(r.status)
            if r.status == 429:
                break
        self.assertEqual(statuses[-1], 429, statuses)
        self.assertGreaterEqual(len(statuses), 21, f"the burst of 20 is honoured: {statuses}")
        self.assertContractError(r, 429, "rate_limited")
        self.assertTrue(1 <= int(r.header("retry-after")) <= 60, r)
        self.assertHeadersOnce(r, "nginx 429")
        # Another address is not affected.
        other = STACK.call("POST", f"{V1}/auth/introspect", source=fresh_source())
        self.assertEqual(other.status, 401, other)

    def test_api_zone_answers_429_too(self):
        source = fresh_source()
        statuses = [STACK.call("GET", "/mt5/api/v1/symbols", source=source).status for _ in range(120)]
        self.assertIn(429, statuses)
        self.assertGreaterEqual(statuses.index(429), 100, "the /mt5/api/ burst of 100")

    def test_preflight_is_answered_once_and_not_counted(self):
        source = fresh_source()
        for _ in range(30):
            r = STACK.call("OPTIONS", f"{V1}/auth/token", source=source,
                           headers={"Origin": fd.ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST",
                                    "Access-Control-Request-Headers": "Authorization, Content-Type"})
            self.assertIn(r.status, (200, 204), r)
            self.assertEqual(r.headers_named("access-control-allow-origin"), [fd.ALLOWED_ORIGIN], r)
            self.assertIn("POST", r.header("access-control-allow-methods"), r)
            self.assertHeadersOnce(r, "preflight")
        real = STACK.call("POST", f"{V1}/auth/introspect", source=source, headers={"Origin": fd.ALLOWED_ORIGIN})
        self.assertEqual(real.status, 401, "30 preflights did not use up the auth zone's burst")
        self.assertEqual(real.headers_named("access-control-allow-origin"), [fd.ALLOWED_ORIGIN], real)

    def test_a_foreign_origin_gets_no_cors(self):
        r = STACK.call("OPTIONS", f"{V1}/auth/token", source=fresh_source(),
                       headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        self.assertEqual(r.headers_named("access-control-allow-origin"), [], r)


class StreamTest(FrontDoorCase):
    def test_the_stream_through_nginx_on_both_paths_and_schemes(self):
        client_id, secret = self.service_client(["market:data"])
        t = STACK.call("POST", f"{V1}/auth/service-token", source=fresh_source(),
                       form={"client_id": client_id, "client_secret": secret, "scope": "market:data"})
        token = t.body["access_token"]
        ctx = fd.tls_context(STACK.ca_file)
        for base in (STACK.https_url, STACK.http_url):
            for path in (f"{V1}/stream", "/mt5/api/v1/stream"):
                ws = gw.WebSocket.connect(base, path, bearer=token, tls_context=ctx, source=fresh_source())
                try:
                    self.assertIn("x-request-id", ws.headers)
                    ws.send_text('{"action":"subscribe","symbols":["EURUSD"]}')
                    quote = ws.wait_for(lambda m: gw.is_quote(m), timeout=10)
                    self.assertTrue(quote, f"a quote through {base}{path}")
                finally:
                    ws.close()


class TlsTest(FrontDoorCase):
    def handshake(self, ctx, host="127.0.0.1"):
        with socket.create_connection(("127.0.0.1", STACK.https_port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=host) as tls:
                return tls.version(), tls.getpeercert()

    def test_tls_1_2_and_1_3_are_served_with_the_development_certificate(self):
        for version, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
            ctx = fd.tls_context(STACK.ca_file, minimum_version=version, maximum_version=version)
            got, cert = self.handshake(ctx)
            self.assertEqual(got, name)
            names = {v for k, v in cert["subjectAltName"]}
            self.assertTrue({"localhost", "127.0.0.1"} <= names, cert)
        # Verified by name too, not only by address.
        self.assertEqual(self.handshake(fd.tls_context(STACK.ca_file), host="localhost")[0], "TLSv1.3")

    def test_tls_1_0_and_1_1_are_refused(self):
        # The client offers them (checked to succeed against an nginx configured to allow them).
        for version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client offer them: the server must say no
            with warnings.catch_warnings():  # Python deprecates them too: that is the point
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx.minimum_version = version
                ctx.maximum_version = version
            with self.assertRaises(ssl.SSLError, msg=f"{version} must be refused"):
                self.handshake(ctx)

    def test_the_ca_is_constrained_to_this_machine(self):
        out = subprocess.run(["openssl", "x509", "-in", STACK.ca_file, "-noout", "-text"], check=True,
                             capture_output=True, text=True).stdout
        self.assertIn("Name Constraints", out)
        self.assertIn("DNS:localhost", out)
        key = os.path.join(STACK.data_dir, "tls", "ca.key")
        self.assertEqual(os.stat(key).st_mode & 0o077, 0, "the CA key is private")


class HttpsClientsTest(FrontDoorCase):
    """Our own HTTPS clients through the front door, trusting the development CA."""

    def test_the_client_library_example_over_https(self):
        example = os.path.join(STACK.build, "examples", "service_to_service")
        if not os.path.exists(example):
            self.skipTest("examples/service_to_service is not built")
        client_id, secret = self.service_client(["account:read", "trade:read"])
        env = dict(os.environ, PERMISO_URL=STACK.https_url, MT5_API_URL=STACK.https_url,
                   PERMISO_CLIENT_ID=client_id, PERMISO_CLIENT_SECRET=secret, PERMISO_CA_FILE=STACK.ca_file)
        run = subprocess.run([example], env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        self.assertIn("GET /api/v1/trades -> 200", run.stdout)
        # Without the CA the same call must fail verification, not fall back to plain trust.
        env.pop("PERMISO_CA_FILE")
        refused = subprocess.run([example], env=env, capture_output=True, text=True, timeout=60)
        self.assertNotEqual(refused.returncode, 0, refused.stdout)

    def test_mt5_api_follows_permiso_auth_over_https(self):
        """A second mt5-api whose PERMISO_AUTH_URL is the front door over HTTPS (CA file given):
        it reads the revocation feed through nginx and TLS, so a revocation reaches it."""
        port = fd.harness.free_port()
        data = tempfile.mkdtemp(prefix="permiso-mt5-https-")
        read = lambda name: open(os.path.join(STACK.data_dir, name), encoding="utf-8").read().strip()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PERMISO_", "MT5_", "JWT_"))}
        env.update(PERMISO_ENV="development", PERMISO_DATA_DIR=data, MT5_API_HOST="127.0.0.1",
                   MT5_API_PORT=str(port), PERMISO_CONFIG_DIR=os.path.join(fd.REPO, "config"),
                   PERMISO_AUTH_URL=STACK.https_url, PERMISO_AUTH_CA_FILE=STACK.ca_file,
                   MT5_DATABASE_URL=f"sqlite:///{data}/mt5.db", JWT_SECRET_KEY=read("jwt-hs256.secret"),
                   MT5_SERVICE_CLIENT_SECRET=read("mt5-service-client.secret"), LOG_FORMAT="json")
        with open(os.path.join(data, "mt5.log"), "wb") as log:
            proc = subprocess.Popen([os.path.join(STACK.build, "apps", "mt5-api", "mt5-api"), "serve"], env=env,
                                    stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(shutil.rmtree, data, True)
        self.addCleanup(proc.wait, 20)
        self.addCleanup(proc.terminate)
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while True:
            try:
                if fd.request(base, "GET", "/health").status == 200:
                    break
            except OSError:
                pass
            self.assertIsNone(proc.poll(), "mt5-api exited during start-up")
            self.assertLess(time.time(), deadline, "mt5-api did not start")
            time.sleep(0.1)
        client_id, secret = self.service_client(["trade:read"])
        source = fresh_source()
        t = STACK.call("POST", f"{V1}/auth/service-token", source=source,
                       form={"client_id": client_id, "client_secret": secret, "scope": "trade:read"})
        token = t.body["access_token"]
        self.assertEqual(fd.request(base, "GET", f"{V1}/trades", bearer=token).status, 200)
        r = STACK.call("POST", f"{V1}/auth/revoke", source=source, bearer=token, json={"token": token})
        self.assertEqual(r.status, 200, r)
        deadline = time.time() + REVOCATION_DEADLINE_S
        while fd.request(base, "GET", f"{V1}/trades", bearer=token).status != 401:
            self.assertLess(time.time(), deadline, "the revocation did not reach mt5-api over HTTPS within 2 s")
            time.sleep(0.05)


def start_service(test, binary, env, base_url, ca_file, log_dir):
    """Starts `binary serve` with `env`; waits for GET base_url/health (verified against ca_file)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("PERMISO_", "MT5_", "JWT_"))}
    full.update(env)
    with open(os.path.join(log_dir, os.path.basename(binary) + ".log"), "wb") as log:
        proc = subprocess.Popen([binary, "serve"], env=full, stdout=log, stderr=subprocess.STDOUT)
    test.addClassCleanup(proc.wait, 20)
    test.addClassCleanup(proc.terminate)
    deadline = time.time() + 60
    while True:
        try:
            if fd.request(base_url, "GET", "/health", ca_file=ca_file).status == 200:
                return proc
        except (OSError, ssl.SSLError):
            pass
        if proc.poll() is not None or time.time() > deadline:
            with open(os.path.join(log_dir, os.path.basename(binary) + ".log"), encoding="utf-8") as f:
                raise AssertionError(f"{binary} did not start over TLS:\n{f.read()[-3000:]}")
        time.sleep(0.1)


class CertificateProbeTest(FrontDoorCase):
    """deploy/prometheus/blackbox.yml's probe, run by Debian's blackbox exporter against nginx as
    Prometheus's job permiso-tls runs it: it reports the served certificate's expiry (what the
    certificate alerts read) and fails on a chain it does not trust (PermisoTlsProbeFailing)."""

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="permiso-blackbox-")
        self.addCleanup(shutil.rmtree, self.work, ignore_errors=True)

    def exporter(self, trust_ca):
        exe = shutil.which("prometheus-blackbox-exporter")
        self.assertIsNotNone(exe, "prometheus-blackbox-exporter is missing (scripts/bootstrap installs it)")
        with open(os.path.join(fd.REPO, "deploy/prometheus/blackbox.yml")) as f:
            config = yaml.safe_load(f)
        if trust_ca:  # the development CA, as the file's comment tells a private PKI to do
            config["modules"]["permiso_tls"]["tcp"]["tls_config"]["ca_file"] = STACK.ca_file
        path = os.path.join(self.work, f"blackbox-{trust_ca}.yml")
        with open(path, "w") as f:
            yaml.safe_dump(config, f)
        port = fd.harness.free_port()
        log = open(os.path.join(self.work, "blackbox.log"), "ab")
        proc = subprocess.Popen([exe, f"--config.file={path}", f"--web.listen-address=127.0.0.1:{port}"],
                                stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.addCleanup(lambda: (proc.terminate(), proc.wait(10)))
        up = fd.harness.wait_until(lambda: self.answers(port), 10)
        self.assertTrue(up, "the blackbox exporter answers")
        return port

    @staticmethod
    def answers(port):
        try:
            return fd.request(f"http://127.0.0.1:{port}", "GET", "/-/healthy", timeout=2).status == 200
        except OSError:
            return False

    @staticmethod
    def probe(port):
        """{metric name: value} of one probe of nginx's HTTPS port, by the name in its certificate."""
        r = fd.request(f"http://127.0.0.1:{port}", "GET",
                       f"/probe?module=permiso_tls&target=localhost:{STACK.https_port}", timeout=15)
        samples = {}
        for line in r.text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                samples[name] = float(value)
        return samples

    def served_certificate_expiry(self):
        ctx = fd.tls_context(STACK.ca_file)
        with socket.create_connection(("127.0.0.1", STACK.https_port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                return ssl.cert_time_to_seconds(tls.getpeercert()["notAfter"])

    def test_the_probe_reports_the_served_certificates_expiry(self):
        got = self.probe(self.exporter(trust_ca=True))
        self.assertEqual(got.get("probe_success"), 1, got)
        self.assertEqual(got.get("probe_ssl_earliest_cert_expiry"), self.served_certificate_expiry(), got)

    def test_the_probe_fails_on_a_chain_it_does_not_trust(self):
        got = self.probe(self.exporter(trust_ca=False))
        self.assertEqual(got.get("probe_success"), 0, f"the development CA is not trusted by default: {got}")


class NativeTlsTest(FrontDoorCase):
    """Both services terminating TLS themselves (PERMISO_TLS_CERT_FILE/KEY_FILE), for a
    deployment without a proxy: mt5-api follows permiso-auth over HTTPS (PERMISO_AUTH_CA_FILE)
    and streams over wss://."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="permiso-native-tls-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        tls = os.path.join(STACK.data_dir, "tls")
        cls.ca = os.path.join(tls, "ca.pem")
        auth_port, mt5_port = fd.harness.free_port(), fd.harness.free_port()
        cls.auth_url, cls.mt5_url = f"https://127.0.0.1:{auth_port}", f"https://127.0.0.1:{mt5_port}"
        secret, service_secret = os.urandom(32).hex(), os.urandom(16).hex()
        common = {"PERMISO_ENV": "development", "PERMISO_CONFIG_DIR": os.path.join(fd.REPO, "config"),
                  "PERMISO_TLS_CERT_FILE": os.path.join(tls, "server.pem"),
                  "PERMISO_TLS_KEY_FILE": os.path.join(tls, "server.key"),
                  "JWT_SECRET_KEY": secret, "MT5_SERVICE_CLIENT_SECRET": service_secret, "LOG_FORMAT": "json"}
        auth_dir, mt5_dir = os.path.join(cls.dir, "auth"), os.path.join(cls.dir, "mt5")
        os.makedirs(auth_dir)
        os.makedirs(mt5_dir)
        start_service(cls, os.path.join(STACK.build, "apps", "permiso-auth", "permiso-auth"), dict(
            common, PERMISO_DATA_DIR=auth_dir, PERMISO_HOST="127.0.0.1", PERMISO_PORT=str(auth_port),
            PERMISO_BOOTSTRAP_ADMIN_USERNAME=fd.ADMIN, PERMISO_BOOTSTRAP_ADMIN_PASSWORD=fd.ADMIN_PASSWORD),
            cls.auth_url, cls.ca, cls.dir)
        start_service(cls, os.path.join(STACK.build, "apps", "mt5-api", "mt5-api"), dict(
            common, PERMISO_DATA_DIR=mt5_dir, MT5_API_HOST="127.0.0.1", MT5_API_PORT=str(mt5_port),
            MT5_DATABASE_URL=f"sqlite:///{mt5_dir}/mt5.db", PERMISO_AUTH_URL=cls.auth_url,
            PERMISO_AUTH_CA_FILE=cls.ca, MT5_SIM_TICK_MS="50"), cls.mt5_url, cls.ca, cls.dir)

    def call(self, base, method, path, **kw):
        return fd.request(base, method, path, ca_file=self.ca, **kw)

    def token(self, scopes):
        admin = self.call(self.auth_url, "POST", f"{V1}/auth/token",
                          form={"grant_type": "password", "username": fd.ADMIN, "password": fd.ADMIN_PASSWORD})
        self.assertEqual(admin.status, 200, admin)
        created = self.call(self.auth_url, "POST", f"{V1}/service-clients", bearer=admin.body["access_token"],
                            json={"name": "native tls", "scope_ids": scopes})
        self.assertEqual(created.status, 201, created)
        t = self.call(self.auth_url, "POST", f"{V1}/auth/service-token",
                      form={"client_id": created.body["client"]["client_id"],
                            "client_secret": created.body["client_secret"], "scope": " ".join(scopes)})
        self.assertEqual(t.status, 200, t)
        return t.body["access_token"]

    def test_discovery_over_native_tls_says_https(self):
        r = self.call(self.auth_url, "GET", "/.well-known/oauth-authorization-server")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["jwks_uri"], f"{self.auth_url}/.well-known/jwks.json")

    def test_plain_http_is_not_served(self):
        for url in (self.auth_url, self.mt5_url):
            with self.assertRaises((OSError, http.client.HTTPException), msg=url):
                fd.request(url.replace("https://", "http://"), "GET", "/health", timeout=5)

    def test_trading_and_revocation_over_https(self):
        token = self.token(["trade:read"])
        self.assertEqual(self.call(self.mt5_url, "GET", f"{V1}/trades", bearer=token).status, 200)
        r = self.call(self.auth_url, "POST", f"{V1}/auth/revoke", bearer=token, json={"token": token})
        self.assertEqual(r.status, 200, r)
        deadline = time.time() + REVOCATION_DEADLINE_S
        while self.call(self.mt5_url, "GET", f"{V1}/trades", bearer=token).status != 401:
            self.assertLess(time.time(), deadline, "the revocation did not reach mt5-api over HTTPS within 2 s")
            time.sleep(0.05)

    def test_the_stream_over_wss(self):
        token = self.token(["market:data"])
        ws = gw.WebSocket.connect(self.mt5_url, f"{V1}/stream", bearer=token, tls_context=fd.tls_context(self.ca))
        try:
            ws.send_text('{"action":"subscribe","symbols":["EURUSD"]}')
            self.assertTrue(ws.wait_for(lambda m: gw.is_quote(m), timeout=10))
        finally:
            ws.close()


class ProductionProfileTest(FrontDoorCase):
    """The same templates rendered for production, in front of the running services: HTTP only
    redirects, HTTPS adds HSTS once, and a service that is down is a JSON 503."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="permiso-edge-prod-")
        cls.http_port, cls.https_port = fd.harness.free_port(), fd.harness.free_port()
        dead = fd.harness.free_port()
        env = dict(os.environ, PERMISO_ENV="production", PERMISO_SERVER_NAME="localhost",
                   PERMISO_HTTP_LISTEN=f"127.0.0.1:{cls.http_port}",
                   PERMISO_HTTPS_LISTEN=f"127.0.0.1:{cls.https_port}",
                   PERMISO_TLS_CERT=os.path.join(STACK.data_dir, "tls", "server.pem"),
                   PERMISO_TLS_KEY=os.path.join(STACK.data_dir, "tls", "server.key"),
                   PERMISO_AUTH_UPSTREAMS=f"127.0.0.1:{STACK.auth_port}",
                   MT5_API_UPSTREAMS=f"127.0.0.1:{dead}",
                   DASHBOARD_ROOT=os.path.join(fd.REPO, "deploy", "nginx", "www"),
                   NGINX_ACCESS_LOG=os.path.join(cls.dir, "access.log"), NGINX_WORKER_PROCESSES="1",
                   NGINX_ERROR_LOG=os.path.join(cls.dir, "error.log"),
                   NGINX_USER="root" if os.getuid() == 0 else "")
        subprocess.run([os.path.join(fd.REPO, "deploy", "nginx", "render"), "--out", cls.dir], env=env,
                       check=True, capture_output=True)
        conf = os.path.join(cls.dir, "nginx.conf")
        cls.nginx = subprocess.Popen(["nginx", "-p", cls.dir, "-c", conf, "-e", os.path.join(cls.dir, "error.log"),
                                      "-g", "daemon off;"])
        cls.https_url = f"https://127.0.0.1:{cls.https_port}"
        cls.http_url = f"http://127.0.0.1:{cls.http_port}"
        deadline = time.time() + 10
        while True:
            try:
                fd.request(cls.https_url, "GET", "/health", ca_file=STACK.ca_file)
                break
            except OSError:
                if time.time() > deadline or cls.nginx.poll() is not None:
                    raise
                time.sleep(0.05)

    @classmethod
    def tearDownClass(cls):
        cls.nginx.terminate()
        cls.nginx.wait(timeout=10)

    def test_http_redirects_to_https_except_health(self):
        r = fd.request(self.http_url, "GET", f"{V1}/users/me?x=1")
        self.assertEqual(r.status, 301, r)
        self.assertEqual(r.header("location"), f"https://127.0.0.1:{self.https_port}{V1}/users/me?x=1")
        self.assertEqual(fd.request(self.http_url, "GET", "/health").status, 200)

    def test_hsts_once_on_every_https_answer(self):
        proxied = fd.request(self.https_url, "GET", f"{V1}/users/me", ca_file=STACK.ca_file)
        own = fd.request(self.https_url, "GET", "/health", ca_file=STACK.ca_file)
        page = fd.request(self.https_url, "GET", "/", ca_file=STACK.ca_file)
        for r in (proxied, own, page):
            self.assertEqual(len(r.headers_named("strict-transport-security")), 1, r)
            self.assertRegex(r.header("strict-transport-security"), r"^max-age=\d{8}; includeSubDomains$")
            self.assertHeadersOnce(r, "production")
        self.assertEqual(proxied.status, 401, proxied)

    def test_a_service_that_is_down_is_a_json_503(self):
        r = fd.request(self.https_url, "GET", f"{V1}/trades", ca_file=STACK.ca_file)
        self.assertContractError(r, 503, "service_unavailable")
        self.assertEqual(r.header("retry-after"), "1")


class RenderTest(unittest.TestCase):
    """Every profile renders to a configuration `nginx -t` accepts; bad values are refused."""

    def render(self, **env):
        out = tempfile.mkdtemp(prefix="permiso-render-")
        full = {k: v for k, v in os.environ.items() if not k.startswith(("PERMISO_", "NGINX_", "DASHBOARD_"))}
        full.update({"PERMISO_TLS_CERT": os.path.join(STACK.data_dir, "tls", "server.pem"),
                     "PERMISO_TLS_KEY": os.path.join(STACK.data_dir, "tls", "server.key"),
                     "PERMISO_AUTH_UPSTREAMS": "127.0.0.1:1,127.0.0.1:2", "MT5_API_UPSTREAMS": "127.0.0.1:3",
                     "NGINX_ERROR_LOG": os.path.join(out, "error.log"), "NGINX_ACCESS_LOG": os.path.join(out, "a.log")})
        full.update(env)
        r = subprocess.run([os.path.join(fd.REPO, "deploy", "nginx", "render"), "--out", out], env=full,
                           capture_output=True, text=True)
        return r, out

    def test_every_profile_passes_nginx_t(self):
        for profile in ("development", "staging", "production"):
            for dashboard in ({"DASHBOARD_UPSTREAM": "127.0.0.1:4"}, {"DASHBOARD_ROOT": "/tmp"}):
                r, out = self.render(PERMISO_ENV=profile, CORS_ORIGINS="https://a.example,http://127.0.0.1:3000",
                                     PERMISO_EDGE_TRUSTED_PROXIES="10.0.0.0/8", **dashboard)
                self.assertEqual(r.returncode, 0, r.stderr)
                t = subprocess.run(["nginx", "-t", "-p", out, "-c", os.path.join(out, "nginx.conf"), "-e",
                                    os.path.join(out, "error.log")], capture_output=True, text=True)
                self.assertEqual(t.returncode, 0, f"{profile} {dashboard}: {t.stderr}")

    def test_values_that_could_inject_directives_are_refused(self):
        for key, value in (("PERMISO_SERVER_NAME", "x; include /etc/passwd"),
                           ("PERMISO_AUTH_UPSTREAMS", "a:1 backup; server evil:2"),
                           ("CORS_ORIGINS", "https://a.example\" $x"),
                           ("PERMISO_EDGE_AUTH_RATE", "10r/h"),
                           ("PERMISO_TLS_CERT", "/x.pem;"),
                           ("PERMISO_HSTS", "max-age=1\"; add_header X 1"),
                           ("PERMISO_ENV", "prod")):
            r, _ = self.render(**{key: value})
            self.assertEqual(r.returncode, 2, f"{key}={value!r} was accepted")
            self.assertIn(key if key != "PERMISO_ENV" else "PERMISO_ENV", r.stderr)

    def test_worker_connections_leave_room_for_streams_and_descriptors(self):
        r, out = self.render()
        self.assertEqual(r.returncode, 0, r.stderr)
        conf = open(os.path.join(out, "nginx.conf"), encoding="utf-8").read()
        self.assertIn("worker_connections 4096;", conf)
        self.assertIn("worker_rlimit_nofile 8192;", conf)
        r, out = self.render(NGINX_WORKER_CONNECTIONS="20000")
        self.assertEqual(r.returncode, 0, r.stderr)
        conf = open(os.path.join(out, "nginx.conf"), encoding="utf-8").read()
        self.assertIn("worker_connections 20000;", conf)
        self.assertIn("worker_rlimit_nofile 40000;", conf)
        for bad in ("50", "600000", "4096; worker_processes 64", "-1"):
            r, _ = self.render(NGINX_WORKER_CONNECTIONS=bad)
            self.assertEqual(r.returncode, 2, f"{bad!r} was accepted")
            self.assertIn("NGINX_WORKER_CONNECTIONS", r.stderr)

    def test_tls_is_required_outside_development(self):
        r, _ = self.render(PERMISO_ENV="production", PERMISO_HTTPS_LISTEN="off")
        self.assertEqual(r.returncode, 2)
        r, _ = self.render(PERMISO_ENV="development", PERMISO_HTTPS_LISTEN="off")
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
