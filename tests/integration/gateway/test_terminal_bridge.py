# MT5_BROKER=terminal only: mt5-api in front of an MT5 terminal that hangs and comes back
# (mt5-sim stopped with SIGSTOP stands in for a frozen terminal). The gateway says so on
# /ready, refuses orders with a fast 503 instead of hanging, and trades again once the
# terminal answers; an order caught in flight is answered 202 pending or 503, never lost.
import time
import unittest

import gateway_harness as gh
from gateway_harness import V1


@unittest.skipUnless(gh.broker_name() == "terminal", "needs PERMISO_TEST_BROKER=terminal")
class TerminalBridgeTest(gh.GatewayTestCase):
    stack_kwargs = {}

    def wait_ready(self, want, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
            r = self.mt5.get("/ready", allow_5xx=True)
            if (r.status == 200) == want:
                return r
            if time.monotonic() > deadline:
                self.fail(f"/ready never became {'200' if want else '503'}: {r!r}")
            time.sleep(0.05)

    def test_health_names_the_terminal_broker(self):
        body = self.mt5.get("/health").body
        self.assertEqual(body["broker"]["name"] if isinstance(body.get("broker"), dict) else body.get("broker"),
                         "terminal", body)

    def test_a_hung_terminal_gives_fast_503s_and_trading_resumes(self):
        tr = self.stack.trader()
        first = tr.open(volume=0.01, comment="before the hang")
        sim = self.mt5.sim
        sim.pause()
        try:
            r = self.wait_ready(False)
            self.assertEqual(r.body["checks"]["broker"], "disconnected", r.body)
            self.assertIn("\nmt5_broker_connected 0", self.mt5.get("/metrics").raw)
            started = time.monotonic()
            refused = tr.post(f"{V1}/trades", json={"symbol": "EURUSD", "volume": 0.01, "trade_type": "buy"},
                              allow_5xx=True)
            self.assertEqual(refused.status, 503, refused)
            self.assertLess(time.monotonic() - started, 2.0, "a refused order must not wait for the terminal")
            self.assertEqual(refused.body["error"], "broker_unavailable", refused.body)
            # Reads still answer, from what the gateway last saw of the terminal.
            self.assertIn(str(first["id"]), {str(t["id"]) for t in tr.trades()})
        finally:
            sim.resume()
        self.wait_ready(True)
        again = tr.open(volume=0.02, comment="after the hang")
        ids = {str(t["id"]) for t in tr.trades()}
        self.assertTrue({str(first["id"]), str(again["id"])} <= ids, ids)
