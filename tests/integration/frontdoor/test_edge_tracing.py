# Tracing through the front door (make run's stack with OTEL_EXPORTER_OTLP_ENDPOINT set): nginx
# forwards a client's traceparent and starts one when there is none, so its access log and the
# services' share the trace id; both services export their spans to a collector stand-in.

import json as jsonlib
import re
import secrets
import unittest

import frontdoor_harness as fd
from frontdoor_harness import V1, fresh_source
from harness import wait_until
from otlp_collector import Collector

STACK = None
COLLECTOR = None
HEX16 = re.compile(r"^[0-9a-f]{16}$")


def setUpModule():
    global STACK, COLLECTOR
    COLLECTOR = Collector()
    try:
        STACK = fd.FrontDoorStack(env={"OTEL_EXPORTER_OTLP_ENDPOINT": COLLECTOR.url,
                                       "OTEL_BSP_SCHEDULE_DELAY": "100"}).start()
    except BaseException:
        COLLECTOR.stop()
        raise


def tearDownModule():
    try:
        if STACK is not None:
            STACK.stop_and_check()
    finally:
        COLLECTOR.stop()


def service_lines(service, request_id):
    """The JSON access-log lines `service` wrote for this request id (run-stack's output)."""
    out = []
    with open(STACK.log_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if '"type":"access"' not in line or request_id not in line:
                continue
            try:
                entry = jsonlib.loads(line[line.index("{"):])
            except ValueError:
                continue
            if entry.get("service") == service and entry.get("request_id") == request_id:
                out.append(entry)
    return out


def edge_line(request_id):
    found = wait_until(lambda: [e for e in STACK.access_log() if e.get("request_id") == request_id], 5)
    if len(found) != 1:
        raise AssertionError(f"expected one nginx access-log line for {request_id}, got {found}")
    return found[0]


def service_line(service, request_id):
    found = wait_until(lambda: service_lines(service, request_id), 5)
    if len(found) != 1:
        raise AssertionError(f"expected one {service} access-log line for {request_id}, got {found}\n"
                             f"{STACK.output()}")
    return found[0]


class EdgeTracingTest(unittest.TestCase):
    def test_the_clients_traceparent_reaches_the_service_through_nginx(self):
        trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
        rid = "edge-trace-" + secrets.token_hex(4)
        r = STACK.call("GET", "/.well-known/jwks.json", source=fresh_source(),
                       headers={"traceparent": f"00-{trace_id}-{parent}-01", "X-Request-ID": rid})
        self.assertEqual(r.status, 200, r)
        edge = edge_line(rid)
        self.assertEqual(edge["trace_id"], trace_id, edge)
        self.assertEqual(edge["traceparent"], f"00-{trace_id}-{parent}-01", edge)
        auth = service_line("permiso-auth", rid)
        self.assertEqual(auth["trace_id"], trace_id, auth)
        self.assertEqual(auth["parent_span_id"], parent, auth)

    def test_nginx_starts_the_trace_when_the_client_sent_none_or_an_invalid_one(self):
        for sent in (None, "00-" + "A" * 32 + "-" + "b" * 16 + "-01"):
            rid = "edge-start-" + secrets.token_hex(4)
            headers = {"X-Request-ID": rid}
            if sent:
                headers["traceparent"] = sent
            r = STACK.call("GET", f"{V1}/users/me", source=fresh_source(), headers=headers)
            self.assertEqual(r.status, 401, r)
            edge = edge_line(rid)
            self.assertRegex(edge["trace_id"], r"^[0-9a-f]{32}$", edge)
            version, trace_id, edge_span, flags = edge["traceparent"].split("-")
            self.assertEqual((version, trace_id, flags), ("00", edge["trace_id"], "01"), edge)
            self.assertRegex(edge_span, HEX16)
            auth = service_line("permiso-auth", rid)
            self.assertEqual(auth["trace_id"], edge["trace_id"], (edge, auth))
            self.assertEqual(auth["parent_span_id"], edge_span, (edge, auth))

    def test_both_services_export_their_spans_of_one_trace(self):
        trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
        header = {"traceparent": f"00-{trace_id}-{parent}-01"}
        self.assertEqual(STACK.call("GET", f"{V1}/users/me", source=fresh_source(), headers=header).status, 401)
        self.assertEqual(STACK.call("GET", f"{V1}/trades", source=fresh_source(), headers=header).status, 401)
        spans = COLLECTOR.spans_of(trace_id, 2)
        self.assertEqual(len(spans), 2, f"{spans}\n{STACK.output()}")
        services = {}
        for resource, span in COLLECTOR.spans():
            if span["traceId"] == trace_id:
                services[resource["service.name"]["stringValue"]] = span
        self.assertEqual(sorted(services), ["mt5-api", "permiso-auth"], services)
        self.assertEqual(services["permiso-auth"]["name"], "GET /api/v1/users/me")
        self.assertEqual(services["mt5-api"]["name"], "GET /api/v1/trades")
        for span in services.values():
            self.assertEqual(span["parentSpanId"], parent, span)


if __name__ == "__main__":
    unittest.main()
