# Storage outage (PostgreSQL backends): with the database down, POST /trades answers a fast
# 503 in the error shape and acknowledges nothing; /ready says 503; once the database is back,
# trading works again.
import time
import unittest

import gateway_harness as gh
from gateway_harness import V1

BODY = {"symbol": "EURUSD", "volume": 0.01, "trade_type": "buy"}
FAST_S = 10  # a request that waits longer than this for a dead database is hung, not fast


@unittest.skipIf(gh.harness.backend_name() == "sqlite", "needs a PostgreSQL backend")
class StorageOutageTest(gh.GatewayTestCase):
    stack_kwargs = {}

    def database_up(self):
        return gh.harness.metric_sample(self.mt5, "mt5_dependency_up", '{dependency="database"}')

    def test_post_is_503_while_the_database_is_down_and_works_after(self):
        tr = self.stack.trader()
        tr.open(volume=0.01)
        before = len(tr.trades("?status=all&limit=1000"))
        pg = gh.harness.postgres()
        pg.halt()
        try:
            r = tr.post(f"{V1}/trades", json=BODY, allow_5xx=True, timeout=FAST_S)
            self.assertEqual(r.status, 503, f"storage down: 503, nothing acknowledged: {r!r}")
            self.assertError(r, 503)
            deadline = time.monotonic() + 15
            ready = None
            while time.monotonic() < deadline:
                ready = self.mt5.get("/ready", allow_5xx=True, timeout=FAST_S)
                if ready.status == 503:
                    break
                time.sleep(0.2)
            self.assertEqual(ready.status, 503, f"/ready reports the outage: {ready!r}")
            self.assertEqual(self.database_up(), 0, "the alert rules' gauge says the database is down")
        finally:
            pg.resume()
        deadline = time.monotonic() + 30
        r = None
        while time.monotonic() < deadline:
            r = tr.post(f"{V1}/trades", json=BODY, allow_5xx=True, timeout=FAST_S)
            if r.status == 201:
                break
            self.assertEqual(r.status, 503, r)
            time.sleep(0.2)
        self.assertEqual(r.status, 201, f"trading resumes within 30 s of the database's return: {r!r}")
        self.assertEqual(self.database_up(), 1)
        self.assertEqual(len(tr.trades("?status=all&limit=1000")), before + 1,
                         "the refused order was not opened behind the caller's back")


if __name__ == "__main__":
    unittest.main()
