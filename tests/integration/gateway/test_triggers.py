# Changes the broker makes on its own: stop loss / take profit hit by the quote stream close
# the trade (persisted like any other change, so a restart keeps them); the margin check holds
# under concurrent orders.
import time
import unittest

import gateway_harness as gh
from gateway_harness import V1, trade_path


class TriggerTest(gh.GatewayTestCase):
    stack_kwargs = {}

    def wait_closed(self, trader, t, timeout=45):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            g = trader.get(trade_path(t))
            self.assertEqual(g.status, 200, g)
            if g.body["status"] == "closed":
                return g.body
            time.sleep(0.1)
        self.fail(f"trade {t['id']} with tight stops still open after {timeout}s: {g.body}")

    def test_tight_stops_are_hit_by_the_quote_stream_and_survive_a_restart(self):
        # BTCUSD moves dollars a second in the simulator: stops just beyond the broker's
        # stops level are hit within seconds (EURUSD's realistic point a second would take
        # minutes).
        tr = self.stack.trader()
        spec = next(x for x in gh.harness.find_list(tr.get(f"{V1}/symbols").body, "symbols", "items")
                    if x.get("symbol", x.get("name")) == "BTCUSD")
        point = spec.get("point") or 10 ** -spec["digits"]
        level = max(spec.get("stops_level", 0), 10) * point
        closed = []
        for side in ("buy", "sell"):
            for factor in (1.2, 2, 4):
                q = tr.quote("BTCUSD")
                d = round(level * factor, 2)
                if side == "buy":
                    sl, tp = round(q["bid"] - d, 2), round(q["ask"] + d, 2)
                else:
                    sl, tp = round(q["ask"] + d, 2), round(q["bid"] - d, 2)
                r = tr.post(f"{V1}/trades", json={"symbol": "BTCUSD", "volume": 0.01, "trade_type": side,
                                                  "stop_loss": sl, "take_profit": tp})
                if r.status == 201:
                    break
                self.assertEqual(r.status, 422, r)
            self.assertEqual(r.status, 201, r)
            c = self.wait_closed(tr, r.body, timeout=90)
            # Closed at (about) one of its stops, not somewhere else.
            near = min(abs(c["close_price"] - sl), abs(c["close_price"] - tp))
            self.assertLess(near, 5 * d, f"closed near its stop loss {sl} or take profit {tp}: {c}")
            self.assertIn(c.get("close_reason", "sl"), ("sl", "tp", "stop_loss", "take_profit"), c)
            closed.append(c)
        acct = tr.account()
        realised = sum(c["profit"] for c in closed)
        self.assertAlmostEqual(acct["balance"], gh.DEMO_DEPOSIT + realised, places=2)
        self.stack.restart_mt5(kill=True)
        for c in closed:
            g = tr.get(trade_path(c))
            self.assertEqual(g.status, 200, g)
            self.assertEqual(g.body["status"], "closed", f"a broker-side close survives kill -9: {g.body}")
            self.assertEqual(g.body["close_price"], c["close_price"])
        self.assertAlmostEqual(tr.account()["balance"], acct["balance"], places=2)

    def test_margin_check_holds_under_concurrent_orders(self):
        tr = self.stack.trader()
        # 5 lots of EURUSD need ~5.4k USD of margin at 1:100: the 10k deposit affords one.
        answers = gh.parallel(12, lambda i: tr.post(f"{V1}/trades", json={"symbol": "EURUSD", "volume": 5,
                                                                          "trade_type": "buy"}))
        for a in answers:
            self.assertNotIsInstance(a, BaseException, a)
        statuses = sorted(a.status for a in answers)
        self.assertEqual(statuses.count(201), 1, f"only one 5-lot trade fits the margin: {statuses}")
        for a in answers:
            if a.status != 201:
                self.assertError(a, 422, "insufficient_margin")
        acct = tr.account()
        self.assertGreaterEqual(acct["free_margin"], 0, acct)
        self.assertEqual(len(tr.trades()), 1)


if __name__ == "__main__":
    unittest.main()
