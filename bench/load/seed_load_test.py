#!/usr/bin/python3
"""The seed guide's load test (tests/load/test_auth_performance.py), against a running stack.

Concurrent client-credentials tokens from POST /api/v1/auth/service-token, then concurrent
GET /api/v1/trades with a token from the Python SDK, each reported as the seed reports them
(success rate, mean, median, p95, p99, requests per second) and held to a pass threshold:
every request succeeds and p99 stays under --p99-ms. Exit status 0 on pass, 1 on fail.

    make run                                # in another terminal
    PERMISO_BOOTSTRAP_ADMIN_PASSWORD=... make load-test
    bench/load/seed_load_test.py --client-id ID --client-secret=SECRET --tokens 100 --reads 500

Without --client-id it signs in as the bootstrap admin (PERMISO_BOOTSTRAP_ADMIN_USERNAME,
default admin, and PERMISO_BOOTSTRAP_ADMIN_PASSWORD) and registers a load-test client.
The defaults are the seed's: 10 concurrent requests, 100 tokens; they fit the development
profile's per-client limit of 100 tokens a minute (RATE_LIMIT_SERVICE_TOKEN raises it).
Needs Debian's python3-httpx; the SDK comes from clients/python in this checkout.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients/python"))
from permiso_client import PermisoAuthClient  # noqa: E402

V1 = "/api/v1"
SCOPES = ["trade:read", "account:read"]


def percentile(values: List[float], p: float) -> float:
    """The seed's nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * p / 100), len(ordered) - 1)]


async def timed(call: Callable[[], Awaitable[httpx.Response]]) -> Dict[str, Any]:
    start = time.perf_counter()
    try:
        response = await call()
        return {"ok": response.status_code == 200, "status": response.status_code,
                "seconds": time.perf_counter() - start}
    except httpx.HTTPError as exc:
        return {"ok": False, "status": 0, "seconds": time.perf_counter() - start, "error": repr(exc)}


async def run_load(name: str, call: Callable[[], Awaitable[httpx.Response]], total: int,
                   concurrency: int) -> Dict[str, Any]:
    """`total` calls, at most `concurrency` at a time; the seed's statistics of the answers."""
    gate = asyncio.Semaphore(concurrency)

    async def one() -> Dict[str, Any]:
        async with gate:
            return await timed(call)

    started = time.perf_counter()
    results = await asyncio.gather(*(one() for _ in range(total)))
    elapsed = time.perf_counter() - started
    ok = [r["seconds"] for r in results if r["ok"]]
    failures: Dict[str, int] = {}
    for r in results:
        if not r["ok"]:
            key = str(r["status"]) if r["status"] else r.get("error", "error")[:80]
            failures[key] = failures.get(key, 0) + 1
    stats: Dict[str, Any] = {"name": name, "total": total, "ok": len(ok), "failures": failures,
                             "success_rate": 100.0 * len(ok) / total if total else 0.0,
                             "rps": len(ok) / elapsed if elapsed > 0 else 0.0}
    if ok:
        stats.update(mean=statistics.mean(ok), median=statistics.median(ok), p95=percentile(ok, 95),
                     p99=percentile(ok, 99), max=max(ok))
    return stats


def report(stats: Dict[str, Any], p99_ms: float) -> bool:
    passed = stats["success_rate"] == 100.0 and stats.get("p99", float("inf")) * 1000 <= p99_ms
    line = (f"{stats['name']:<22} {stats['ok']:>6}/{stats['total']:<6} success {stats['success_rate']:6.2f}%  "
            f"{stats['rps']:8.1f} req/s")
    if "p99" in stats:
        line += (f"  mean {stats['mean'] * 1000:6.2f}  median {stats['median'] * 1000:6.2f}  "
                 f"p95 {stats['p95'] * 1000:6.2f}  p99 {stats['p99'] * 1000:6.2f}  max {stats['max'] * 1000:6.2f} ms")
    print(line + f"  {'PASS' if passed else 'FAIL'} (p99 bound {p99_ms:g} ms)")
    if stats["failures"]:
        print(f"{'':<22} failures: {stats['failures']}")
    return passed


async def load_client(http: httpx.AsyncClient, auth_url: str) -> Dict[str, str]:
    """A service client for the run, registered by the bootstrap admin."""
    password = os.environ.get("PERMISO_BOOTSTRAP_ADMIN_PASSWORD")
    if not password:
        raise SystemExit("seed_load_test: give --client-id/--client-secret, or set "
                         "PERMISO_BOOTSTRAP_ADMIN_PASSWORD so a load-test client can be registered")
    login = await http.post(f"{auth_url}{V1}/auth/token", data={
        "grant_type": "password", "username": os.environ.get("PERMISO_BOOTSTRAP_ADMIN_USERNAME", "admin"),
        "password": password})
    if login.status_code != 200:
        raise SystemExit(f"seed_load_test: admin sign-in refused: HTTP {login.status_code} {login.text[:300]}")
    created = await http.post(f"{auth_url}{V1}/admin/service-clients",
                              headers={"Authorization": f"Bearer {login.json()['access_token']}"},
                              json={"client_id": f"load-test-{secrets.token_hex(4)}", "name": "Load test",
                                    "client_type": "confidential", "scope_ids": SCOPES})
    if created.status_code != 201:
        raise SystemExit(f"seed_load_test: registering the client failed: HTTP {created.status_code} "
                         f"{created.text[:300]}")
    body = created.json()
    return {"client_id": body["client"]["client_id"], "client_secret": body["client_secret"]}


async def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--auth-url", default=os.environ.get("PERMISO_AUTH_URL", "http://127.0.0.1:8000"))
    ap.add_argument("--mt5-url", default=os.environ.get("MT5_API_URL", "http://127.0.0.1:8001"))
    ap.add_argument("--client-id", default=os.environ.get("PERMISO_LOAD_CLIENT_ID"))
    ap.add_argument("--client-secret", default=os.environ.get("PERMISO_LOAD_CLIENT_SECRET"))
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--tokens", type=int, default=100, help="token requests (the seed: 100)")
    ap.add_argument("--reads", type=int, default=500, help="GET /api/v1/trades requests")
    ap.add_argument("--p99-ms", type=float, default=100.0, help="the pass bound on each p99")
    ap.add_argument("--connection-per-request", action="store_true",
                    help="a new connection for every request, as the seed's code does")
    ap.add_argument("--cacert", help="a CA bundle for https:// URLs")
    args = ap.parse_args(argv)
    verify: Any = args.cacert or True
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(timeout=30.0, verify=verify, limits=limits) as http:
        creds = ({"client_id": args.client_id, "client_secret": args.client_secret}
                 if args.client_id and args.client_secret else await load_client(http, args.auth_url))

        async def post_token(client: httpx.AsyncClient) -> httpx.Response:
            return await client.post(f"{args.auth_url}{V1}/auth/service-token",
                                      data={**creds, "scope": " ".join(SCOPES)})

        headers: Dict[str, str] = {}

        async def get_trades(client: httpx.AsyncClient) -> httpx.Response:
            return await client.get(f"{args.mt5_url}{V1}/trades", headers=headers)

        def using(call: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]) -> Callable[[], Awaitable[httpx.Response]]:
            if not args.connection_per_request:
                return lambda: call(http)

            async def fresh() -> httpx.Response:
                async with httpx.AsyncClient(timeout=30.0, verify=verify) as own:
                    return await call(own)
            return fresh

        print(f"seed load test: {args.auth_url} and {args.mt5_url}, client {creds['client_id']}, "
              f"{args.concurrency} concurrent, "
              f"{'a connection per request' if args.connection_per_request else 'kept-alive connections'}")
        tokens = await run_load("POST /auth/service-token", using(post_token), args.tokens, args.concurrency)
        # The reads' token comes from the SDK, as in the seed; after the token phase, so that
        # phase has the client's whole per-minute budget (the SDK waits out a 429 if it must).
        async with PermisoAuthClient(args.auth_url, creds["client_id"], creds["client_secret"],
                                     verify=verify) as sdk:
            headers["Authorization"] = f"Bearer {await sdk.get_service_token(scopes=['trade:read'])}"
        reads = await run_load("GET /api/v1/trades", using(get_trades), args.reads, args.concurrency)
    passed = [report(tokens, args.p99_ms), report(reads, args.p99_ms)]
    return 0 if all(passed) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
