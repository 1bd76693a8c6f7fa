# One principal never sees another's trades: lists, one trade (404, not 403), modify, close,
# deals and account are per client.
import unittest

import gateway_harness as gh
from gateway_harness import V1, trade_path


def tearDownModule():
    gh.stop_module_stack(__name__)


class IsolationTest(gh.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.a = cls.stack.trader()
        cls.b = cls.stack.trader()
        cls.a_trade = cls.a.open(volume=0.05, comment="A's trade")
        cls.b_trade = cls.b.open(volume=0.02, comment="B's trade")
        cls.a_closed = cls.a.open(volume=0.01)
        r = cls.a.delete(trade_path(cls.a_closed))
        assert r.status == 200, r

    def test_lists_hold_only_the_callers_trades(self):
        a_ids = {str(t["id"]) for t in self.a.trades("?status=all")}
        b_ids = {str(t["id"]) for t in self.b.trades("?status=all")}
        self.assertEqual(a_ids, {str(self.a_trade["id"]), str(self.a_closed["id"])})
        self.assertEqual(b_ids, {str(self.b_trade["id"])})
        self.assertEqual(self.b.trades("?status=closed"), [])

    def test_another_clients_ticket_is_404(self):
        for t in (self.a_trade, self.a_closed):
            self.assertError(self.b.get(trade_path(t)), 404, "not_found")
            self.assertError(self.b.patch(trade_path(t), json={"take_profit": 5.0}), 404, "not_found")
            self.assertError(self.b.delete(trade_path(t)), 404, "not_found")
        # A's trade is untouched by B's attempts.
        g = self.a.get(trade_path(self.a_trade))
        self.assertEqual(g.status, 200, g)
        self.assertEqual(g.body["status"], "open")
        self.assertIn(g.body["take_profit"], (0, 0.0, None))

    def test_deals_and_accounts_are_separate(self):
        r = self.b.get(f"{V1}/history/deals")
        self.assertEqual(r.status, 200, r)
        deals = gh.harness.find_list(r.body, "deals", "items")
        for t in (self.a_trade, self.a_closed):
            self.assertFalse([d for d in deals if gh.mentions_trade(d, t["id"])],
                             f"B sees none of A's deals: {deals}")
        a, b = self.a.account(), self.b.account()
        self.assertNotEqual(a["margin"], b["margin"], "0.05 lots and 0.02 lots use different margin")
        self.assertAlmostEqual(b["balance"], gh.DEMO_DEPOSIT, places=2, msg="A's realised P&L is not B's")

    def test_a_user_token_trades_on_its_own_account(self):
        # A signed-in person (password grant, role user: trade:read) sees an empty account of
        # their own, not a client's.
        _, _, tokens = self.stack.auth.user_session()
        r = self.mt5.get(f"{V1}/trades?status=all", bearer=tokens["access_token"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, [])
        self.assertError(self.mt5.get(trade_path(self.a_trade), bearer=tokens["access_token"]), 404, "not_found")


if __name__ == "__main__":
    unittest.main()
