# The edges of the gateway's HTTP surface: oversized bodies, wrong methods, empty changes,
# concurrent closes of one trade, request ids in errors.
import unittest

import gateway_harness as gh
from gateway_harness import V1, trade_path


def tearDownModule():
    gh.stop_module_stack(__name__)


class EdgesTest(gh.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.trader = cls.stack.trader()

    def test_oversized_body_is_413(self):
        body = '{"symbol":"EURUSD","volume":0.01,"trade_type":"buy","comment":"' + "x" * (2 << 20) + '"}'
        r = self.trader.post(f"{V1}/trades", body=body, content_type="application/json")
        self.assertError(r, 413)

    def test_wrong_method_is_405_with_allow(self):
        r = self.trader.request("PUT", f"{V1}/trades", json={})
        self.assertError(r, 405)
        self.assertIn("GET", r.headers.get("Allow", ""), r.headers)
        self.assertIn("POST", r.headers.get("Allow", ""), r.headers)

    def test_unknown_route_is_404(self):
        self.assertError(self.trader.get(f"{V1}/nothing-here"), 404, "not_found")

    def test_patch_without_any_change_is_422(self):
        t = self.trader.open(volume=0.01)
        self.assertEqual(self.trader.patch(trade_path(t), json={}).status, 422)
        self.assertValidation(self.trader.patch(trade_path(t), json={"volume": 2}), "volume")

    def test_concurrent_closes_of_one_trade_close_it_once(self):
        # Five rounds: the race between the broker's close and its commit is a short window.
        for _ in range(5):
            before = self.trader.account()["balance"]
            t = self.trader.open(volume=0.01)
            answers = gh.parallel(8, lambda i: self.trader.delete(trade_path(t)))
            for a in answers:
                self.assertNotIsInstance(a, BaseException, a)
            statuses = sorted(a.status for a in answers)
            self.assertEqual(statuses.count(200), 1, f"exactly one close succeeds: {statuses}")
            bad = [a for a in answers if a.status not in (200, 409)]
            self.assertFalse(bad, f"the others are 409 (the trade exists: never 404): {statuses} {bad[:1]}")
            g = self.trader.get(trade_path(t)).body
            self.assertEqual(g["status"], "closed")
            self.assertAlmostEqual(self.trader.account()["balance"], before + g["profit"], places=2,
                                   msg="the profit is realised once")

    def test_request_id_is_echoed_in_errors(self):
        r = self.trader.get(f"{V1}/trades/999999999", headers={"X-Request-ID": "h7-edge-probe-1"})
        body = self.assertError(r, 404, "not_found")
        self.assertEqual(body["request_id"], "h7-edge-probe-1", r)

    def test_symbol_filter_and_trades_are_case_insensitive_or_refused_clearly(self):
        r = self.trader.post(f"{V1}/trades", json={"symbol": "eurusd", "volume": 0.01, "trade_type": "buy"})
        self.assertIn(r.status, (201, 422), r)
        if r.status == 201:
            self.assertEqual(r.body["symbol"], "EURUSD", "stored under the instrument's own name")
        else:
            self.assertFieldNamed(r.body, "symbol")

    def test_deals_query_validation(self):
        self.assertValidation(self.trader.get(f"{V1}/history/deals?from=yesterday"), "from")
        r = self.trader.get(f"{V1}/history/deals?from=2020-01-01&to=2020-01-02")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(gh.harness.find_list(r.body, "deals", "items"), [])


if __name__ == "__main__":
    unittest.main()
