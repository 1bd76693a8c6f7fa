# Tracing, black-box: a W3C traceparent reaches permiso-auth's access log and audit trail (an
# invalid one starts a new trace), and with OTEL_EXPORTER_OTLP_ENDPOINT set the server spans
# reach an OTLP/HTTP collector: a stand-in here that records what is posted to /v1/traces.

import json as jsonlib
import re
import secrets
import unittest

import harness
from harness import V1, ServerTestCase, wait_until
from otlp_collector import EXPORT_DEADLINE_S, Collector, attributes

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")


def new_trace():
    """A caller's trace: (trace id, its span id, the traceparent header)."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, f"00-{trace_id}-{span_id}-01"


def access_lines(server):
    """The JSON access-log lines the server wrote so far."""
    out = []
    for line in server.output().splitlines():
        if '"type":"access"' not in line:
            continue
        try:
            out.append(jsonlib.loads(line))
        except ValueError:
            continue
    return out


def access_line(server, request_id):
    found = wait_until(lambda: [e for e in access_lines(server) if e.get("request_id") == request_id], 5)
    if len(found) != 1:
        raise AssertionError(f"expected one access-log line for {request_id}, got {found}\n{server.describe()}")
    return found[0]


class TraceInLogsTest(ServerTestCase):
    """Without an exporter: the trace is in the access log and the audit trail."""

    def test_the_access_log_line_carries_the_callers_trace_and_our_span(self):
        trace_id, parent, header = new_trace()
        rid = "trace-log-" + secrets.token_hex(4)
        r = self.server.get("/health", headers={"traceparent": header, "X-Request-ID": rid})
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.headers.get("traceparent"), "the answer carries X-Request-ID, not the trace")
        line = access_line(self.server, rid)
        self.assertEqual(line["trace_id"], trace_id, line)
        self.assertEqual(line["parent_span_id"], parent, line)
        self.assertRegex(line["span_id"], HEX16)
        self.assertNotEqual(line["span_id"], parent, "the server's span is its own")

    def test_an_invalid_traceparent_starts_a_new_trace(self):
        trace_id, parent, _ = new_trace()
        for bad in (f"00-{trace_id.upper()}-{parent}-01",       # upper case
                    f"00-{'0' * 32}-{parent}-01",              # all-zero trace id
                    f"00-{trace_id}-{'0' * 16}-01",            # all-zero parent id
                    f"ff-{trace_id}-{parent}-01",              # version ff
                    f"00-{trace_id}-{parent}-01-extra",        # version 00 has nothing more
                    "garbage"):
            rid = "trace-bad-" + secrets.token_hex(4)
            self.assertEqual(self.server.get("/health", headers={"traceparent": bad, "X-Request-ID": rid}).status, 200)
            line = access_line(self.server, rid)
            self.assertRegex(line["trace_id"], HEX32, bad)
            self.assertNotEqual(line["trace_id"], trace_id, bad)
            self.assertNotIn("parent_span_id", line, bad)

    def test_a_future_version_is_followed_by_its_version_00_fields(self):
        trace_id, parent, _ = new_trace()
        rid = "trace-future-" + secrets.token_hex(4)
        self.server.get("/health", headers={"traceparent": f"cc-{trace_id}-{parent}-01-more-to-come",
                                            "X-Request-ID": rid})
        line = access_line(self.server, rid)
        self.assertEqual(line["trace_id"], trace_id, line)
        self.assertEqual(line["parent_span_id"], parent, line)

    def test_a_request_without_traceparent_gets_its_own_trace(self):
        rid = "trace-none-" + secrets.token_hex(4)
        self.server.get("/health", headers={"X-Request-ID": rid})
        line = access_line(self.server, rid)
        self.assertRegex(line["trace_id"], HEX32)
        self.assertRegex(line["span_id"], HEX16)
        self.assertNotIn("parent_span_id", line)

    def test_audit_events_carry_the_trace_id(self):
        trace_id, _, header = new_trace()
        rid = "trace-audit-" + secrets.token_hex(4)
        r = self.server.post(f"{V1}/auth/token", form={"grant_type": "password", "username": "nobody-" + rid,
                                                       "password": "Wrong-passw0rd!"},
                             headers={"traceparent": header, "X-Request-ID": rid})
        self.assertEqual(r.status, 401, r)

        def event():
            r = self.server.get(f"{V1}/admin/audit?per_page=100", bearer=self.server.admin_token())
            self.assertEqual(r.status, 200, r)
            return [e for e in r.body["events"] if e["request_id"] == rid]

        events = wait_until(event, 5)
        self.assertTrue(events, "the failed login is audited")
        self.assertEqual(events[0]["trace_id"], trace_id, events)
        # Events outside a traced request still have the member, empty.
        r = self.server.get(f"{V1}/admin/audit?per_page=100", bearer=self.server.admin_token())
        self.assertTrue(all(isinstance(e["trace_id"], str) for e in r.body["events"]))


class OtlpExportTest(ServerTestCase):
    """OTEL_EXPORTER_OTLP_ENDPOINT set: one SERVER span per request reaches the collector."""

    @classmethod
    def setUpClass(cls):
        cls.collector = Collector()
        cls.server_env = {"OTEL_EXPORTER_OTLP_ENDPOINT": cls.collector.url,
                          "OTEL_SERVICE_NAME": "permiso-auth-itest",
                          "OTEL_BSP_SCHEDULE_DELAY": "100",
                          "OTEL_EXPORTER_OTLP_TIMEOUT": "2000"}
        try:
            super().setUpClass()
        except BaseException:
            cls.collector.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.collector.stop()

    def test_server_spans_reach_the_collector_with_the_callers_trace_and_no_secret(self):
        s = self.server
        client = s.create_client(scopes=("trade:read",))
        secret = client["client_secret"]
        admin = s.admin_token()
        trace_id, parent, header = new_trace()
        token = s.post(f"{V1}/auth/service-token", form={"client_id": client["client"]["client_id"],
                                                         "client_secret": secret, "scope": "trade:read"},
                       headers={"traceparent": header, "X-Request-ID": "otlp-token"})
        self.assertEqual(token.status, 200, token)
        access_token = token.body["access_token"]
        me = s.get(f"{V1}/users/me", bearer=admin, headers={"traceparent": header})
        self.assertEqual(me.status, 200, me)
        user = s.get(f"{V1}/users/{me.body['id']}?secret=hunter2", bearer=admin, headers={"traceparent": header})
        self.assertEqual(user.status, 200, user)
        refused = s.get(f"{V1}/users/me", bearer=access_token + "x", headers={"traceparent": header})
        self.assertEqual(refused.status, 401, refused)

        spans = self.collector.spans_of(trace_id, 4)
        self.assertEqual(len(spans), 4, f"spans of {trace_id}: {spans}\n{s.describe()}")
        by_name = {}
        for span in spans:
            by_name.setdefault(span["name"], []).append(span)
        self.assertEqual(sorted(by_name), ["GET /api/v1/users/me", "GET /api/v1/users/{id}",
                                           "POST /api/v1/auth/service-token"], by_name)
        for span in spans:
            self.assertEqual(span["parentSpanId"], parent, span)
            self.assertRegex(span["spanId"], HEX16)
            self.assertEqual(span["kind"], 2, "SPAN_KIND_SERVER")
            self.assertLess(int(span["startTimeUnixNano"]), int(span["endTimeUnixNano"]), span)
        issued = by_name["POST /api/v1/auth/service-token"][0]
        self.assertEqual(attributes(issued), {"http.request.method": "POST", "http.route": "/api/v1/auth/service-token",
                                              "http.response.status_code": "200"})
        self.assertEqual(attributes(by_name["GET /api/v1/users/{id}"][0])["http.route"], "/api/v1/users/{id}")
        statuses = sorted(attributes(sp)["http.response.status_code"] for sp in by_name["GET /api/v1/users/me"])
        self.assertEqual(statuses, ["200", "401"])
        # The exported span is the one the access log names.
        self.assertEqual(access_line(s, "otlp-token")["span_id"], issued["spanId"])

        resources = {r["service.name"]["stringValue"] for r, sp in self.collector.spans() if sp["traceId"] == trace_id}
        self.assertEqual(resources, {"permiso-auth-itest"})
        posts = self.collector.snapshot()
        self.assertTrue(all(p["path"] == "/v1/traces" for p in posts), [p["path"] for p in posts])
        self.assertTrue(all(p["headers"].get("Content-Type") == "application/json" for p in posts))
        self.assertFalse(any("Authorization" in p["headers"] for p in posts))
        exported = b"".join(p["body"] for p in posts).decode()
        for needle in (secret, access_token, admin, "hunter2", "Bearer", "client_secret", s.admin_password,
                       f"{V1}/users/{me.body['id']}"):
            self.assertNotIn(needle, exported, "nothing secret, and no raw path with ids, leaves in a span")

    def test_an_unsampled_caller_is_not_exported(self):
        trace_id, parent, _ = new_trace()
        rid = "otlp-unsampled"
        self.assertEqual(self.server.get("/health", headers={"traceparent": f"00-{trace_id}-{parent}-00",
                                                             "X-Request-ID": rid}).status, 200)
        # A sampled request after it: once its span is in, the unsampled one would have been too.
        marker, _, header = new_trace()
        self.server.get("/health", headers={"traceparent": header})
        self.assertEqual(len(self.collector.spans_of(marker, 1)), 1)
        self.assertEqual([sp for r, sp in self.collector.spans() if sp["traceId"] == trace_id], [])
        self.assertEqual(access_line(self.server, rid)["trace_id"], trace_id, "still in the log")

    def test_the_exporter_counts_on_metrics(self):
        _, _, header = new_trace()
        self.server.get("/health", headers={"traceparent": header})

        def exported():
            text = self.server.get("/metrics").body
            m = re.search(r"^otel_spans_exported_total (\S+)$", text, re.M)
            return m and float(m.group(1)) > 0 and text

        text = wait_until(exported, EXPORT_DEADLINE_S)
        self.assertTrue(text, "otel_spans_exported_total grows")
        self.assertRegex(text, r"(?m)^otel_spans_dropped_total 0$")


def setUpModule():
    harness.start_module_server(__name__)


def tearDownModule():
    harness.stop_module_server(__name__)


if __name__ == "__main__":
    unittest.main()
