# permiso-auth scaled out: scripts/run-cluster (two replicas on one real PostgreSQL and one
# real Redis, mt5-api, nginx in front), tested through nginx. Which replica served a request
# is read from nginx's access log (its upstream address), never assumed.

import os
import signal
import threading
import time
import unittest

import frontdoor_harness as fd
from frontdoor_harness import V1, fresh_source

REVOCATION_DEADLINE_S = 2.0
FAILED_LOGIN_LIMIT = 3
STACK = None


def setUpModule():
    global STACK
    STACK = fd.ClusterStack(env={
        "RATE_LIMIT_LOGIN": f"{FAILED_LOGIN_LIMIT}/minute",
        "RATE_LIMIT_API": "1000000/minute",
        "RATE_LIMIT_SERVICE_TOKEN": "1000000/minute",
        # The load test below sends more than the seed's auth zone allows one address.
        "PERMISO_EDGE_AUTH_RATE": "60000r/m", "PERMISO_EDGE_AUTH_BURST": "10000",
        # One worker: one round-robin order, so consecutive requests go to alternate replicas.
        "NGINX_WORKER_PROCESSES": "1",
    }).start()


def tearDownModule():
    if STACK is not None:
        code = STACK.stop()
        STACK.cleanup()
        if code != 0:
            raise AssertionError(f"run-cluster exited with {code} on SIGTERM:\n{STACK.output()}")


class Counter:
    def __init__(self):
        self.n = 0

    def next_id(self, prefix):
        self.n += 1
        return f"{prefix}-{os.getpid()}-{self.n}"


IDS = Counter()


class ClusterCase(unittest.TestCase):
    def call(self, method, path, **kw):
        """A call through nginx; returns (response, the replica that served it)."""
        rid = IDS.next_id("cluster")
        kw.setdefault("headers", {})["X-Request-ID"] = rid
        kw.setdefault("source", fresh_source())
        r = STACK.call(method, path, **kw)
        return r, STACK.served_by(rid)

    def new_client(self, scopes=("trade:read", "market:data")):
        r, replica = self.call("POST", f"{V1}/service-clients", bearer=STACK.admin_token(),
                               json={"name": "cluster test", "scope_ids": list(scopes),
                                     "rate_limit_per_minute": None, "rate_limit_per_hour": None})
        self.assertEqual(r.status, 201, r)
        return r.body["client"]["client_id"], r.body["client_secret"], replica

    def token(self, client_id, secret, scope="trade:read"):
        r, replica = self.call("POST", f"{V1}/auth/service-token",
                               form={"client_id": client_id, "client_secret": secret, "scope": scope})
        self.assertEqual(r.status, 200, r)
        return r.body["access_token"], replica

    def tokens_from_both(self, client_id, secret):
        """{replica: token}, one issued by each replica (nginx alternates; ten tries at most)."""
        by_replica = {}
        for _ in range(10):
            token, replica = self.token(client_id, secret)
            by_replica.setdefault(replica, token)
            if len(by_replica) == 2:
                return by_replica
        self.fail(f"nginx sent every token request to {list(by_replica)}")


class SharedStateTest(ClusterCase):
    def test_a_client_created_on_one_replica_gets_tokens_from_the_other_at_once(self):
        client_id, secret, creator = self.new_client()
        self.assertIn(creator, STACK.replica_ports())
        # The very next request goes to the other replica (one worker, round robin).
        token, issuer = self.token(client_id, secret)
        self.assertNotEqual(issuer, creator, "the next request went to the other replica")

    def test_tokens_from_either_replica_are_accepted_by_mt5_api(self):
        client_id, secret, _ = self.new_client()
        for replica, token in self.tokens_from_both(client_id, secret).items():
            r, _ = self.call("GET", f"{V1}/trades", bearer=token)
            self.assertEqual(r.status, 200, f"a token from {replica}: {r}")

    def test_a_revocation_through_one_replica_is_refused_everywhere_within_2_s(self):
        client_id, secret, _ = self.new_client()
        token, _ = self.token(client_id, secret)
        r, revoker = self.call("POST", f"{V1}/auth/revoke", bearer=token, json={"token": token})
        self.assertEqual(r.status, 200, r)
        other = next(port for addr, port in STACK.replica_ports().items() if addr != revoker)
        deadline = time.time() + REVOCATION_DEADLINE_S
        pending = {"mt5-api", "the other replica"}
        while pending:
            if "mt5-api" in pending and STACK.call("GET", f"{V1}/trades", bearer=token,
                                                    source=fresh_source()).status == 401:
                pending.discard("mt5-api")
            if "the other replica" in pending:
                i = fd.request(f"http://127.0.0.1:{other}", "POST", f"{V1}/auth/introspect",
                               form={"token": token, "client_id": client_id, "client_secret": secret})
                self.assertEqual(i.status, 200, i)
                if i.body == {"active": False}:
                    pending.discard("the other replica")
            self.assertLess(time.time(), deadline, f"{pending} still accept the revoked token after 2 s")
            time.sleep(0.05)

    def test_failed_login_limits_add_up_across_replicas(self):
        user = f"cluster{int(time.time() * 1000) % 10 ** 9}"
        r = STACK.call("POST", f"{V1}/users/register", source=fresh_source(),
                       json={"username": user, "email": f"{user}@example.com", "password": "Cluster-Passw0rd!"})
        self.assertEqual(r.status, 201, r)
        source = fresh_source()
        served = []
        for _ in range(FAILED_LOGIN_LIMIT):
            r, replica = self.call("POST", f"{V1}/auth/token", source=source,
                                   form={"grant_type": "password", "username": user, "password": "Wrong-Passw0rd!"})
            self.assertEqual(r.status, 401, r)
            served.append(replica)
        self.assertEqual(len(set(served)), 2, f"the failures were spread over both replicas: {served}")
        r, replica = self.call("POST", f"{V1}/auth/token", source=source,
                               form={"grant_type": "password", "username": user, "password": "Wrong-Passw0rd!"})
        self.assertEqual(r.status, 429, f"the limit counts failures on both replicas: {r}")
        self.assertEqual(r.body["error"], "rate_limited", r)
        upstream_status = [e["upstream_status"] for e in STACK.access_log()
                           if e["request_id"] == r.header("x-request-id")]
        self.assertEqual(upstream_status, ["429"], "a replica refused it, not nginx's own zone")


class TradingReplicasTest(ClusterCase):
    """Two mt5-api replicas over one mt5-sim (FIX) and one trade store (PostgreSQL)."""

    def trader(self):
        client_id, secret, _ = self.new_client(scopes=("trade:read", "trade:open", "account:read"))
        token, _ = self.token(client_id, secret, scope="trade:read trade:open account:read")
        return token

    def order(self, base, token, key, comment, volume=0.01):
        return fd.request(base, "POST", f"{V1}/trades", bearer=token, headers={"Idempotency-Key": key},
                          json={"symbol": "EURUSD", "volume": volume, "trade_type": "buy", "comment": comment})

    def wait_listed(self, base, token, ids):
        """Polls the replica's open trades until every id is there; returns their listing."""
        deadline = time.time() + 10
        while True:
            r = fd.request(base, "GET", f"{V1}/trades?limit=1000", bearer=token)
            self.assertEqual(r.status, 200, r)
            listed = [t["id"] for t in r.body]
            if set(ids) <= set(listed) or time.time() > deadline:
                return listed
            time.sleep(0.05)

    def test_an_order_retried_on_the_other_replica_returns_the_first_trade(self):
        token = self.trader()
        one, two = STACK.mt5_replica_urls()
        first = self.order(one, token, "retry-1", "retried")
        self.assertEqual(first.status, 201, first)
        again = self.order(two, token, "retry-1", "retried")
        self.assertEqual(again.status, 201, again)
        self.assertEqual(again.body, first.body, "the other replica replays the first answer")
        for base in (one, two):
            listed = self.wait_listed(base, token, [first.body["id"]])
            self.assertEqual(listed, [first.body["id"]], f"{base} lists the one trade, once")
        reused = self.order(two, token, "retry-1", "another body")
        self.assertEqual(reused.status, 422, reused)
        self.assertEqual(reused.body["error"], "idempotency_key_reused", reused)

    def test_one_order_sent_to_both_replicas_at_once_opens_one_trade(self):
        token = self.trader()
        answers = {}
        for round_no in range(3):
            key = f"race-{round_no}"
            barrier = threading.Barrier(2)

            def send(base, key=key, barrier=barrier):
                barrier.wait()
                answers[(key, base)] = self.order(base, token, key, key)

            threads = [threading.Thread(target=send, args=(base,)) for base in STACK.mt5_replica_urls()]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
        ids = set()
        for (key, base), r in answers.items():
            self.assertEqual(r.status, 201, f"{key} on {base}: {r}")
            ids.add((key, r.body["id"]))
        self.assertEqual(len(ids), 3, f"each key opened one trade, whichever replica answered: {sorted(ids)}")
        for base in STACK.mt5_replica_urls():
            listed = self.wait_listed(base, token, [i for _, i in ids])
            self.assertEqual(sorted(listed), sorted(i for _, i in ids), base)

    def test_orders_through_nginx_reach_both_replicas_and_each_lists_them_all(self):
        token = self.trader()
        ids, served = [], set()
        for n in range(6):
            r, upstream = self.call("POST", f"{V1}/trades", bearer=token, headers={"Idempotency-Key": f"edge-{n}"},
                                    json={"symbol": "EURUSD", "volume": 0.01, "trade_type": "buy", "comment": "edge"})
            self.assertEqual(r.status, 201, r)
            ids.append(r.body["id"])
            served.add(upstream)
        self.assertEqual(len(served), 2, f"nginx spread the orders over both mt5-api replicas: {served}")
        for base in STACK.mt5_replica_urls():
            self.assertEqual(sorted(self.wait_listed(base, token, ids)), sorted(ids), base)
        # One account whichever replica answers: each re-reads it from the broker every second.
        # (Not the margin: it follows the price, and the replicas read at different moments.)
        deadline = time.time() + 10
        while True:
            views = [fd.request(base, "GET", f"{V1}/account", bearer=token) for base in STACK.mt5_replica_urls()]
            for v in views:
                self.assertEqual(v.status, 200, v)
            same = [{k: v.body[k] for k in ("balance", "currency", "leverage")} for v in views]
            if same[0] == same[1] or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(same[0], same[1], "both replicas show the account the broker holds")


def replica_pid(port):
    """The permiso-auth process serving on this port (found through /proc)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if b"permiso-auth" in cmd and f"PERMISO_PORT={port}".encode() in env:
            return int(pid)
    raise AssertionError(f"no permiso-auth process on port {port}")


class UnderLoadReplicaLossTest(ClusterCase):
    """Runs last (a replica is gone afterwards)."""

    THREADS = 4

    def test_killing_a_replica_under_load_loses_no_request(self):
        client_id, secret, _ = self.new_client()
        stop = threading.Event()
        results = []  # (time, first attempt status, final status)
        lock = threading.Lock()

        def attempt(source):
            try:
                return STACK.call("POST", f"{V1}/auth/service-token", source=source,
                                  form={"client_id": client_id, "client_secret": secret,
                                        "scope": "trade:read"}).status
            except OSError:
                return 0

        def load(source):
            while not stop.is_set():
                first = attempt(source)
                final = first
                # What the client library does: a token request that failed in flight is
                # retried once (POST is not retried by nginx once it reached a replica).
                if first in (0, 502, 503):
                    final = attempt(source)
                with lock:
                    results.append((time.time(), first, final))

        threads = [threading.Thread(target=load, args=(fresh_source(),)) for _ in range(self.THREADS)]
        for t in threads:
            t.start()
        try:
            time.sleep(1.5)
            victim = replica_pid(STACK.auth_port_2)
            killed_at = time.time()
            os.kill(victim, signal.SIGKILL)
            time.sleep(3.0)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=60)
        before = [r for r in results if r[0] < killed_at]
        after = [r for r in results if r[0] >= killed_at]
        first_failures = [r for r in results if r[1] != 200]
        final_failures = [r for r in results if r[2] != 200]
        recovered = [r[0] - killed_at for r in after if r[1] == 200]
        print(f"\nreplica loss: {len(before)} requests before the kill, {len(after)} after; "
              f"{len(first_failures)} first attempts failed (retried), {len(final_failures)} lost; "
              f"first success {recovered[0] if recovered else None:.3f} s after the kill")
        self.assertGreater(len(before), 0)
        self.assertGreater(len(after), 0, "requests kept being served after the kill")
        self.assertEqual(final_failures, [], "no request is lost")
        self.assertLessEqual(len(first_failures), self.THREADS, "only requests in flight at the kill failed")
        self.assertTrue(recovered, "the load recovered")
        # The surviving replica answers on its own: the last second saw only first-attempt successes.
        tail = [r for r in after if r[0] > killed_at + 2.0]
        self.assertTrue(tail and all(r[1] == 200 for r in tail), tail)


if __name__ == "__main__":
    unittest.main()
