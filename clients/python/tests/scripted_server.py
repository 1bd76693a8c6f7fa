"""A tiny HTTP server on loopback that answers from a script, for the few behaviours the real
servers cannot be made to show on demand (a 5xx, a second 401 for a fresh token, an exact
Retry-After on a resource request). Everything else in the suite talks to the real servers.

Unscripted requests get: POST /api/v1/auth/token → a new fake token; anything else → 200 {}.
"""

from __future__ import annotations

import http.server
import itertools
import json
import threading
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import harness

Answer = Tuple[int, Dict[str, str], str]


@dataclass
class Seen:
    method: str
    path: str
    headers: Dict[str, str]
    body: bytes


@dataclass
class Script:
    answers: Dict[str, List[Answer]] = field(default_factory=dict)
    seen: List[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class ScriptedServer:
    def __init__(self) -> None:
        self.script = Script()
        self._counter = itertools.count(1)
        script, counter = self.script, self._counter

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                with script.lock:
                    script.seen.append(Seen(self.command, path, {k.lower(): v for k, v in self.headers.items()}, body))
                    queue = script.answers.get(path)
                    answer: Optional[Answer] = queue.pop(0) if queue else None
                if answer is None:
                    if path == "/api/v1/auth/token":
                        answer = (200, {}, json.dumps({"access_token": f"fake-token-{next(counter)}",
                                                       "token_type": "Bearer", "expires_in": 3600, "scope": ""}))
                    else:
                        answer = (200, {}, "{}")
                status, headers, text = answer
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

        self.port = harness.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def reset(self) -> None:
        with self.script.lock:
            self.script.answers.clear()
            self.script.seen.clear()

    def answer(self, path: str, *answers: Answer) -> None:
        """Queues answers for path, used in order; then the defaults apply."""
        with self.script.lock:
            self.script.answers.setdefault(path, []).extend(answers)

    def seen(self, path: Optional[str] = None) -> List[Seen]:
        with self.script.lock:
            return [s for s in self.script.seen if path is None or s.path == path]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
