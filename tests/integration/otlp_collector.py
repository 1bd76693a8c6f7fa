# A stand-in for an OpenTelemetry collector, for the tracing tests: an HTTP server on loopback
# that records every OTLP/HTTP JSON export posted to it (path, headers and body).

import http.server
import json as jsonlib
import threading

from harness import wait_until

EXPORT_DEADLINE_S = 15  # spans leave in batches (100 ms in the tests); a sanitizer build is slow


class Collector:
    """An OTLP/HTTP collector stand-in on loopback: keeps every POST's path, headers and body."""

    def __init__(self):
        posts = self.posts = []
        lock = self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    posts.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
                answer = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def snapshot(self):
        with self.lock:
            return list(self.posts)

    def spans(self):
        """[(resource attributes as a dict, span)] of everything posted so far."""
        out = []
        for post in self.snapshot():
            doc = jsonlib.loads(post["body"])
            for rs in doc["resourceSpans"]:
                resource = {a["key"]: a["value"] for a in rs["resource"]["attributes"]}
                for ss in rs["scopeSpans"]:
                    out.extend((resource, span) for span in ss["spans"])
        return out

    def spans_of(self, trace_id, count):
        """Polls until `count` spans of the trace have arrived (or the deadline passed)."""
        def of_trace():
            return [span for _, span in self.spans() if span["traceId"] == trace_id]

        return wait_until(lambda: len(of_trace()) >= count and of_trace(), EXPORT_DEADLINE_S) or of_trace()


def attributes(span):
    out = {}
    for a in span.get("attributes", []):
        value = a["value"]
        out[a["key"]] = value.get("stringValue", value.get("intValue"))
    return out
