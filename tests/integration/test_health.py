# Health, readiness and Prometheus metrics of permiso-auth (contract: GET /health, /ready, /metrics).
import json
import os
import re
import shutil
import tempfile
import threading
import unittest

import harness
from harness import V1, AuthServer, ServerTestCase


def setUpModule():
    harness.start_module_server(__name__)


def tearDownModule():
    harness.stop_module_server(__name__)


# One exposition line: name{labels} value [timestamp]; label values may hold any escaped text
# (route labels such as "/api/v1/users/{id}" contain braces).
LABELS = r'\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\}'
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:' + LABELS + r')? (\S+)( -?[0-9]+)?$')


class HealthTest(ServerTestCase):
    def test_health_reports_service_version_and_environment(self):
        r = self.server.get("/health")
        self.assertEqual(r.status, 200, r)
        self.assertIn("application/json", r.headers.get("Content-Type", ""))
        self.assertEqual(r.body["service"], "permiso-auth")
        self.assertIsInstance(r.body["status"], str)
        self.assertTrue(r.body["status"])
        self.assertIsInstance(r.body["version"], str)
        self.assertTrue(r.body["version"])
        self.assertEqual(r.body["environment"], "development")

    def test_ready_is_200_when_storage_is_reachable(self):
        r = self.server.get("/ready")
        self.assertEqual(r.status, 200, r)

    def test_metrics_are_prometheus_text_exposition(self):
        self.server.get("/health")
        r = self.server.get("/metrics", headers={"Accept": "text/plain"})
        self.assertEqual(r.status, 200, r)
        self.assertIn("text/plain", r.headers.get("Content-Type", ""))
        text = r.raw
        self.assertIn("# TYPE ", text)
        samples = 0
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            m = SAMPLE.match(line)
            self.assertIsNotNone(m, f"not a Prometheus sample line: {line!r}")
            float(m.group(2))
            samples += 1
        self.assertGreater(samples, 0)

    def test_metrics_count_requests(self):
        def total(text):
            # Sum every sample of every request counter: it must grow with traffic.
            s = 0.0
            for line in text.splitlines():
                m = SAMPLE.match(line)
                if m and "request" in m.group(1) and m.group(1).endswith(("_total", "_count")):
                    s += float(m.group(2))
            return s
        before = total(self.server.get("/metrics").raw)
        for _ in range(5):
            self.server.get("/health")
        after = total(self.server.get("/metrics").raw)
        self.assertGreaterEqual(after - before, 5, "a request counter (name containing 'request', "
                                "ending in _total or _count) must count requests")

    def sample(self, name, labels=""):
        return harness.metric_sample(self.server, name, labels)

    def test_security_events_are_counted_by_action_and_outcome(self):
        issued = '{action="token.issue",outcome="success"}'
        failed = '{action="auth.login",outcome="failure"}'
        before = (self.sample("permiso_audit_events_total", issued) or 0,
                  self.sample("permiso_audit_events_total", failed) or 0)
        created = self.server.create_client(scopes=("trade:read",))
        for _ in range(3):
            self.server.service_token(created["client"]["client_id"], created["client_secret"])
        self.server.login(harness.uniq("nobody-"), "Wrong-passw0rd!", expect=401)
        # The writer counts a batch once it is stored, off the request path: wait for it.
        self.assertTrue(
            harness.wait_until(lambda: (self.sample("permiso_audit_events_total", issued) or 0) >= before[0] + 3, 10),
            f"token.issue successes counted: {self.sample('permiso_audit_events_total', issued)}, before {before[0]}")
        self.assertTrue(
            harness.wait_until(lambda: (self.sample("permiso_audit_events_total", failed) or 0) >= before[1] + 1, 10),
            f"auth.login failures counted: {self.sample('permiso_audit_events_total', failed)}, before {before[1]}")

    def test_tokens_logins_and_refresh_rotations_are_counted_as_they_happen(self):
        alg = self.server.jwt_algorithm
        issued = f'{{grant="client_credentials",alg="{alg}"}}'
        refreshed = f'{{grant="refresh_token",alg="{alg}"}}'
        names = (("permiso_tokens_issued_total", issued), ("permiso_tokens_issued_total", refreshed),
                 ("permiso_logins_total", '{outcome="success"}'),
                 ("permiso_logins_total", '{outcome="invalid_credentials"}'),
                 ("permiso_lockouts_total", ""), ("permiso_refresh_rotations_total", ""),
                 ("permiso_refresh_reuse_total", ""))
        before = {}
        for name, labels in names:
            before[name + labels] = self.sample(name, labels)
            self.assertIsNotNone(before[name + labels], f"{name}{labels} on /metrics before any traffic of its own")
        created = self.server.create_client(scopes=("trade:read",))
        r = self.server.post(f"{V1}/auth/token", form={"grant_type": "client_credentials",
                                                        "client_id": created["client"]["client_id"],
                                                        "client_secret": created["client_secret"]})
        self.assertEqual(r.status, 200, r)
        _, _, first = self.server.user_session()
        self.server.login(harness.uniq("nobody-"), "Wrong-passw0rd!", expect=401)
        second = self.server.post(f"{V1}/auth/token", form={"grant_type": "refresh_token",
                                                             "refresh_token": first["refresh_token"]})
        self.assertEqual(second.status, 200, second)
        reused = self.server.post(f"{V1}/auth/token", form={"grant_type": "refresh_token",
                                                             "refresh_token": first["refresh_token"]})
        self.assertError(reused, 400, "invalid_grant")

        # Counted on the request path, not by the audit writer: no waiting.
        def grew(name, labels=""):
            return self.sample(name, labels) - before[name + labels]
        self.assertGreaterEqual(grew("permiso_tokens_issued_total", issued), 1)
        self.assertGreaterEqual(grew("permiso_tokens_issued_total", refreshed), 1)
        self.assertGreaterEqual(grew("permiso_logins_total", '{outcome="success"}'), 1)
        self.assertGreaterEqual(grew("permiso_logins_total", '{outcome="invalid_credentials"}'), 1)
        self.assertGreaterEqual(grew("permiso_refresh_rotations_total"), 1)
        self.assertGreaterEqual(grew("permiso_refresh_reuse_total"), 1)
        text = self.server.get("/metrics").raw
        for name in ("permiso_tokens_issued_total", "permiso_logins_total", "permiso_lockouts_total",
                     "permiso_refresh_rotations_total", "permiso_refresh_reuse_total"):
            self.assertEqual(text.count(f"# TYPE {name} counter\n"), 1, name)
        self.assertNotIn("client_id=", text, "no per-client label")

    def test_the_domain_gauges_are_read_at_each_scrape(self):
        for name in ("permiso_audit_pending", "permiso_audit_dropped_total", "permiso_revocations_cached",
                     "permiso_clients_cached", "permiso_blocking_queue_depth", "permiso_blocking_rejections_total"):
            self.assertIsNotNone(self.sample(name), f"{name} on /metrics")
        clients = self.sample("permiso_clients_cached")
        self.server.create_client(scopes=("trade:read",))
        self.assertTrue(harness.wait_until(lambda: self.sample("permiso_clients_cached") > clients, 10),
                        "the new client was not counted")

    def test_a_change_to_every_client_is_one_full_read_of_the_client_cache(self):
        reloads = self.sample("permiso_client_cache_full_reloads_total")
        self.assertIsNotNone(reloads, "permiso_client_cache_full_reloads_total on /metrics")
        self.assertGreaterEqual(reloads, 1, "the start-up read")
        admin = self.server.admin_token()
        name = f"{harness.uniq('reload')}:act"
        r = self.server.post(f"{harness.V1}/roles/scopes", bearer=admin,
                             json={"name": name, "description": "x", "resource": name.split(":")[0], "action": "act"})
        self.assertEqual(r.status, 201, r)
        # Deleting a scope is an "every client" change: the cache reads every client again.
        r = self.server.delete(f"{harness.V1}/roles/scopes/{r.body['id']}", bearer=admin)
        self.assertIn(r.status, (200, 204), r)
        self.assertTrue(harness.wait_until(lambda: self.sample("permiso_client_cache_full_reloads_total") > reloads,
                                           10), "no full read after the scope's delete")

    def test_client_cache_lookups_and_storage_calls_are_counted(self):
        hit, miss = '{result="hit"}', '{result="miss"}'
        created = self.server.create_client(scopes=("trade:read",))
        client_id, secret = created["client"]["client_id"], created["client_secret"]
        before_hit = self.sample("permiso_client_cache_lookups_total", hit)
        before_miss = self.sample("permiso_client_cache_lookups_total", miss)
        self.assertIsNotNone(before_hit, "permiso_client_cache_lookups_total on /metrics")
        self.assertIsNotNone(before_miss, "permiso_client_cache_lookups_total on /metrics")
        for _ in range(2):
            self.server.service_token(client_id, secret)
        self.server.service_token(harness.uniq("no-such-client-"), "Wrong-secret-123!", expect=401)
        # Counted on the request path: no waiting.
        self.assertGreaterEqual(self.sample("permiso_client_cache_lookups_total", hit) - before_hit, 2)
        self.assertGreaterEqual(self.sample("permiso_client_cache_lookups_total", miss) - before_miss, 1)
        # Storage calls by operation: the unknown client was looked up in storage on the request
        # path; the audit writer stores its events off it (wait for the batch).
        self.assertGreaterEqual(self.sample("permiso_storage_seconds_count", '{op="get_client"}') or 0, 1)
        appended = self.sample("permiso_storage_seconds_count", '{op="append_audit"}') or 0
        self.server.service_token(client_id, secret)
        self.assertTrue(harness.wait_until(
            lambda: (self.sample("permiso_storage_seconds_count", '{op="append_audit"}') or 0) > appended, 10),
            "the audit writer's storage call is timed")
        text = self.server.get("/metrics").raw
        self.assertEqual(text.count("# TYPE permiso_storage_seconds histogram\n"), 1)
        ops = set(re.findall(r'^permiso_storage_seconds_count\{op="([a-z_]+)"\}', text, re.M))
        self.assertLessEqual(len(ops), 65, "a closed set of operations")

    def test_log_format_json_makes_every_output_line_a_json_object(self):
        s = self.server
        s.get("/health")
        s.post(f"{V1}/auth/token", form={"username": "nobody", "password": "Wrong-Passw0rd!"})
        s.login(s.admin_username, s.admin_password)
        lines = [line for line in s.output().splitlines() if line.strip()]
        self.assertTrue(lines, "the server logs something (start-up, requests)")
        for line in lines:
            try:
                obj = json.loads(line)
            except ValueError:
                self.fail(f"LOG_FORMAT=json but this output line is not JSON: {line[:300]!r}")
            self.assertIsInstance(obj, dict, line[:300])

    def test_unknown_path_is_404_not_found_in_the_error_shape(self):
        r = self.server.get(f"{V1}/no/such/thing")
        self.assertError(r, 404, "not_found")


class WorkerRejectionsTest(unittest.TestCase):
    """A full blocking-worker queue answers 503 and counts each refusal in
    permiso_blocking_rejections_total: one worker, a queue of one, and sign-ins (Argon2id, on
    the workers) sent together until some are refused."""

    def setUp(self):
        config_dir = tempfile.mkdtemp(prefix="permiso-config-")
        self.addCleanup(shutil.rmtree, config_dir, ignore_errors=True)
        for name in os.listdir(os.path.join(harness.REPO, "config")):
            if name.endswith(".toml"):
                shutil.copy(os.path.join(harness.REPO, "config", name), config_dir)
        with open(os.path.join(config_dir, "development.toml"), "a") as f:
            f.write("\n[security]\nworker_threads = 1\nworker_queue = 1\n")
        self.server = AuthServer(env={"PERMISO_CONFIG_DIR": config_dir, "RATE_LIMIT_LOGIN": "100000/minute"}).start()
        self.addCleanup(self.server.stop_clean)

    def sign_ins_together(self, count):
        statuses, lock = [], threading.Lock()

        def sign_in():
            r = self.server.post(f"{V1}/auth/token", allow_5xx=True, timeout=60,
                                 form={"grant_type": "password", "username": "admin", "password": "Wrong-passw0rd!"})
            with lock:
                statuses.append(r.status)

        threads = [threading.Thread(target=sign_in) for _ in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        return statuses

    def test_a_full_queue_is_refused_with_503_and_counted(self):
        refused = 0
        for _ in range(20):  # until the workers are overrun: each batch almost always is
            statuses = self.sign_ins_together(12)
            self.assertTrue(set(statuses) <= {401, 503}, statuses)
            refused += statuses.count(503)
            if refused:
                break
        self.assertGreater(refused, 0, "twelve sign-ins at once overran one worker and a queue of one")
        self.assertEqual(harness.metric_sample(self.server, "permiso_blocking_rejections_total"), refused,
                         "each refusal counted once")


if __name__ == "__main__":
    unittest.main()
