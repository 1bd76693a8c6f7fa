# A rolling upgrade behind nginx drops no request: while a few threads keep issuing tokens
# (client_credentials at /auth/token) and reading trades on mt5-api through nginx, each replica of
# scripts/run-cluster is stopped with SIGTERM, started again and waited for, one at a time, as
# docs/operations.md "Upgrades" tells an operator to. Every response must be 2xx, with no
# connection error, and each restarted replica must serve requests again.
#
# The "new version" is the same binary started again with the same command line, environment and
# working directory (read from /proc): what the test proves is the procedure and the servers'
# graceful stop, which do not depend on what changed between the versions.

import time
import unittest
import urllib.parse

import frontdoor_harness as fd
from frontdoor_harness import V1, fresh_source
from rolling import Load, Restarter

STACK = None
RESTARTER = None
WARM_UP = 20  # successes of each kind before the first restart (keep-alive pools filled)


def setUpModule():
    global STACK, RESTARTER
    STACK = fd.ClusterStack(env={
        "RATE_LIMIT_API": "1000000/minute",
        "RATE_LIMIT_SERVICE_TOKEN": "1000000/minute",
        "PERMISO_EDGE_AUTH_RATE": "60000r/m", "PERMISO_EDGE_AUTH_BURST": "10000",
        "PERMISO_EDGE_API_RATE": "60000r/m", "PERMISO_EDGE_API_BURST": "10000",
    }).start()
    RESTARTER = Restarter(STACK)


def tearDownModule():
    problems = RESTARTER.stop_all() if RESTARTER is not None else []
    if STACK is not None:
        code = STACK.stop()
        STACK.cleanup()
        if code != 0:
            problems.append(f"run-cluster exited with {code} on SIGTERM:\n{STACK.output()}")
    if problems:
        raise AssertionError("; ".join(problems))


class RollingUpgradeTest(unittest.TestCase):
    def test_restarting_every_replica_in_turn_under_load_drops_no_request(self):
        admin = STACK.admin_token()
        r = STACK.call("POST", f"{V1}/service-clients", bearer=admin, source=fresh_source(),
                       json={"name": "rolling upgrade", "scope_ids": ["trade:read"],
                             "rate_limit_per_minute": None, "rate_limit_per_hour": None})
        self.assertEqual(r.status, 201, r)
        client_id, secret = r.body["client"]["client_id"], r.body["client_secret"]
        t = STACK.call("POST", f"{V1}/auth/token", source=fresh_source(),
                       form={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret,
                             "scope": "trade:read"})
        self.assertEqual(t.status, 200, t)
        bearer = t.body["access_token"]

        form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": client_id,
                                       "client_secret": secret, "scope": "trade:read"})

        def issue(client, rid):
            return client.send("POST", f"{V1}/auth/token", body=form,
                               headers={"X-Request-ID": rid, "Content-Type": "application/x-www-form-urlencoded"})[0]

        def read_trades(client, rid):
            return client.send("GET", f"{V1}/trades", headers={"X-Request-ID": rid, "Authorization": f"Bearer {bearer}"})[0]

        load = Load(STACK.http_port, {"token": issue, "trades": read_trades})
        load.start(threads_per_kind=2)
        stuck = []
        try:
            deadline = time.time() + 60
            while load.successes("token") < WARM_UP or load.successes("trades") < WARM_UP:
                self.assertLess(time.time(), deadline, f"the load did not get going: {load.snapshot()[-5:]}")
                time.sleep(0.1)
            # One replica at a time, each back in nginx's rotation before the next goes down.
            RESTARTER.restart(load, "permiso-auth-1", "permiso-auth", "PERMISO_PORT", STACK.auth_port, "token")
            RESTARTER.restart(load, "permiso-auth-2", "permiso-auth", "PERMISO_PORT", STACK.auth_port_2, "token")
            RESTARTER.restart(load, "mt5-api-1", "mt5-api", "MT5_API_PORT", STACK.mt5_port, "trades")
            RESTARTER.restart(load, "mt5-api-2", "mt5-api", "MT5_API_PORT", STACK.mt5_port_2, "trades")
        finally:
            stuck = load.stop()
        self.assertEqual(stuck, [], "every load thread finished")

        results = load.snapshot()
        served = RESTARTER.served_by()
        failures = [r for r in results if not 200 <= r[3] < 300]
        kinds = {r[2]: r[1] for r in results}
        retried = [(kinds.get(rid), statuses) for rid, (_, _, upstreams, statuses) in served.items()
                   if "," in upstreams]
        by_kind = {kind: sum(1 for r in results if r[1] == kind) for kind in ("token", "trades")}
        print(f"\nrolling upgrade: {by_kind} requests, {len(failures)} failed, "
              f"{len(retried)} passed to the other replica by nginx: {retried}")
        details = [(r[1], r[3], r[4], served.get(r[2])) for r in failures[:20]]
        self.assertEqual(failures, [], f"dropped requests (kind, status, error, nginx upstream): {details}")


if __name__ == "__main__":
    unittest.main()
