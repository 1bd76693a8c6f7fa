# MT5_BROKER=terminal and fix: mt5-api in front of an MT5 terminal or a FIX counterparty that
# hangs and comes back (mt5-sim stopped with SIGSTOP stands in for a frozen terminal or a
# broker gone silent). The gateway says so on /ready, refuses orders with a fast 503 instead of
# hanging, and trades again once the peer answers (a FIX session logs on again by itself).
import time
import unittest

import gateway_harness as gh
from gateway_harness import V1


@unittest.skipUnless(gh.broker_name() in ("terminal", "fix"), "needs PERMISO_TEST_BROKER=terminal or fix")
class BrokerLinkTest(gh.GatewayTestCase):
    stack_kwargs = {}

    def test_health_names_the_broker_backend(self):
        body = self.mt5.get("/health").body
        self.assertEqual(body["broker"]["name"] if isinstance(body.get("broker"), dict) else body.get("broker"),
                         gh.broker_name(), body)

    def test_a_hung_peer_gives_fast_503s_and_trading_resumes(self):
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
            self.assertLess(time.monotonic() - started, 2.0, "a refused order must not wait for the peer")
            self.assertEqual(refused.body["error"], "broker_unavailable", refused.body)
            # Reads still answer, from what the gateway last saw of the terminal.
            self.assertIn(str(first["id"]), {str(t["id"]) for t in tr.trades()})
        finally:
            sim.resume()
        self.wait_ready(True)
        again = tr.open(volume=0.02, comment="after the hang")
        ids = {str(t["id"]) for t in tr.trades()}
        self.assertTrue({str(first["id"]), str(again["id"])} <= ids, ids)
