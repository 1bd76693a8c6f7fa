# /api/v1/trades: list (status, symbol, limit, cursor + Link), open (201 and the Trade model),
# validation (422 naming the field), insufficient margin (broker_retcode 10019), one trade
# (GET, PATCH stop loss / take profit, DELETE close; closing twice is 409).
import math
import unittest

import gateway_harness as gh
from gateway_harness import V1, trade_path

NO_MONEY = 10019  # TRADE_RETCODE_NO_MONEY


def tearDownModule():
    gh.stop_module_stack(__name__)


class OpenTradeTest(gh.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.trader = cls.stack.trader()

    def test_open_buy_answers_201_with_the_trade_model(self):
        q = self.trader.quote("EURUSD")
        r = self.trader.post(f"{V1}/trades", json={"symbol": "EURUSD", "volume": 0.1, "trade_type": "buy",
                                                   "comment": "seed buy"})
        self.assertEqual(r.status, 201, r)
        t = r.body
        self.assertTradeShape(t)
        self.assertEqual(t["symbol"], "EURUSD")
        self.assertEqual(t["type"], "buy")
        self.assertEqual(t["status"], "open")
        self.assertAlmostEqual(t["volume"], 0.1, places=9)
        self.assertEqual(t["comment"], "seed buy")
        self.assertIsNone(t.get("close_time"), t)
        # A buy fills at the ask (within the default deviation of a few points), never at the bid.
        self.assertGreater(t["open_price"], q["bid"] - 0.01, (q, t))
        self.assertLess(abs(t["open_price"] - q["ask"]), 0.01, (q, t))
        # It is now listed and readable.
        self.assertIn(str(t["id"]), [str(x["id"]) for x in self.trader.trades()])
        g = self.trader.get(trade_path(t))
        self.assertEqual(g.status, 200, g)
        self.assertTradeShape(g.body)
        for f in ("id", "symbol", "volume", "type", "open_price", "open_time", "status", "comment"):
            self.assertEqual(g.body[f], t[f], f"GET answers the trade as POST did ({f})")

    def test_pending_order_answers_201_with_the_placed_order_as_documented(self):
        q = self.trader.quote("EURUSD")
        price, tp = round(q["ask"] - 0.0200, 5), round(q["ask"] + 0.0300, 5)
        r = self.trader.post(f"{V1}/trades", json={"symbol": "EURUSD", "volume": 0.1, "trade_type": "buy_limit",
                                                   "price": price, "take_profit": tp, "comment": "limit"})
        self.assertEqual(r.status, 201, r)
        o = r.body  # the PlacedOrder of api/mt5-api.yaml (openapi_check validates it too)
        self.assertEqual(set(o), {"id", "order_id", "symbol", "volume", "price", "stop_loss", "take_profit",
                                  "comment", "status", "broker_retcode", "time_setup"}, o)
        self.assertEqual((o["status"], o["broker_retcode"], o["symbol"], o["comment"]),
                         ("placed", 10008, "EURUSD", "limit"), o)
        self.assertTrue(gh.same_id(o["id"], o["order_id"]), o)
        self.assertAlmostEqual(o["volume"], 0.1, places=9)
        self.assertAlmostEqual(o["price"], price, places=5)
        self.assertAlmostEqual(o["take_profit"], tp, places=5)
        self.assertIsNone(o["stop_loss"], o)
        self.assertIsInstance(o["time_setup"], str, o)
        # Not a trade: it is a pending order.
        self.assertNotIn(str(o["id"]), [str(x["id"]) for x in self.trader.trades()])
        orders = self.trader.get(f"{V1}/orders")
        self.assertEqual(orders.status, 200, orders)
        self.assertIn(str(o["order_id"]), [str(x.get("order_id", x.get("id"))) for x in orders.body], orders)

    def test_open_sell_fills_at_the_bid_side(self):
        q = self.trader.quote("EURUSD")
        t = self.trader.open(symbol="EURUSD", volume=0.02, trade_type="sell")
        self.assertEqual(t["type"], "sell")
        self.assertLess(abs(t["open_price"] - q["bid"]), 0.01, (q, t))

    def test_stop_loss_and_take_profit_are_kept(self):
        q = self.trader.quote("EURUSD")
        sl, tp = round(q["bid"] - 0.0500, 5), round(q["ask"] + 0.0500, 5)
        t = self.trader.open(volume=0.01, trade_type="buy", stop_loss=sl, take_profit=tp)
        self.assertAlmostEqual(t["stop_loss"], sl, places=5)
        self.assertAlmostEqual(t["take_profit"], tp, places=5)

    def test_other_instruments_trade(self):
        for symbol in ("GBPUSD", "USDJPY", "XAUUSD"):
            t = self.trader.open(symbol=symbol, volume=0.01)
            self.assertEqual(t["symbol"], symbol)


class PartialFillTest(gh.GatewayTestCase):
    """An order larger than the counterparty's liquidity (mt5-sim --max-fill-lots on the
    terminal and FIX backends; MT5_SIM_MAX_FILL_LOTS on the embedded simulator, which applies
    to every symbol, so this class has its own gateway there): the API's answer says what was
    filled, and the rows agree."""

    if gh.broker_name() == "simulator":
        stack_kwargs = {"mt5_env": {"MT5_SIM_MAX_FILL_LOTS": str(gh.THIN_LOTS)}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.trader = cls.stack.trader()

    def order(self, filling, volume=1.0):
        body = {"symbol": gh.THIN_SYMBOL, "volume": volume, "trade_type": "buy", "filling": filling}
        return self.trader.post(f"{V1}/trades", json=body)

    def test_ioc_answers_done_partial_with_the_filled_volume(self):
        r = self.order("ioc")
        self.assertEqual(r.status, 201, r)
        t = r.body
        self.assertEqual(t["broker_retcode"], 10010, t)
        self.assertEqual(t["broker_retcode_name"], "TRADE_RETCODE_DONE_PARTIAL", t)
        self.assertAlmostEqual(t["volume"], gh.THIN_LOTS, places=8)
        self.assertAlmostEqual(t["requested_volume"], 1.0, places=8)
        got = self.trader.get(gh.trade_path(t))
        self.assertEqual(got.status, 200, got)
        self.assertAlmostEqual(got.body["volume"], gh.THIN_LOTS, places=8)
        orders = self.trader.get(f"{V1}/orders").body
        self.assertFalse([o for o in orders if gh.same_id(o["id"], t["id"])], "an IOC order's rest is cancelled")

    def test_fok_is_refused_whole(self):
        before = len(self.trader.trades("?status=all&limit=1000"))
        r = self.order("fok")
        body = self.assertError(r, 422, "order_rejected")
        self.assertEqual(body.get("broker_retcode"), 10006, r)
        self.assertEqual(len(self.trader.trades("?status=all&limit=1000")), before, "a refused order opens nothing")

    def test_within_the_liquidity_an_order_fills_whole(self):
        t = self.trader.open(symbol=gh.THIN_SYMBOL, volume=gh.THIN_LOTS, filling="ioc")
        self.assertEqual(t["broker_retcode"], 10009, t)
        self.assertAlmostEqual(t["volume"], t["requested_volume"], places=8)


class ValidationTest(gh.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.trader = cls.stack.trader()

    def post(self, **fields):
        body = {"symbol": "EURUSD", "volume": 0.01, "trade_type": "buy"}
        body.update(fields)
        return self.trader.post(f"{V1}/trades", json=body)

    def raw(self, text):
        return self.trader.post(f"{V1}/trades", body=text, content_type="application/json")

    def assertNothingOpened(self, before):
        self.assertEqual(len(self.trader.trades("?status=all&limit=1000")), before,
                         "a refused order opens nothing")

    def test_unknown_symbol(self):
        before = len(self.trader.trades("?status=all&limit=1000"))
        self.assertValidation(self.post(symbol="NOPE42"), "symbol")
        self.assertValidation(self.post(symbol=""), "symbol")
        self.assertNothingOpened(before)

    def test_volume_zero_negative_above_100_and_off_step(self):
        before = len(self.trader.trades("?status=all&limit=1000"))
        for v in (0, 0.0, -0.01, -1, 100.01, 1000, 0.015, 0.001):
            self.assertValidation(self.post(volume=v), "volume", f"volume={v}", gh.VOLUME_CODES)
        self.assertNothingOpened(before)

    def test_volume_at_the_limit_is_not_a_validation_error(self):
        # 100 lots is valid (≤ 100); the demo account cannot afford it: insufficient margin,
        # never validation_error.
        r = self.post(volume=100)
        body = self.assertError(r, 422, "insufficient_margin")
        self.assertEqual(body.get("broker_retcode"), NO_MONEY, r)

    def test_volume_must_be_a_number(self):
        for v in ("0.1", True, None, [0.1], {"v": 1}):
            r = self.trader.post(f"{V1}/trades", json={"symbol": "EURUSD", "volume": v, "trade_type": "buy"})
            self.assertValidation(r, "volume", f"volume={v!r}")

    def test_missing_fields(self):
        self.assertValidation(self.trader.post(f"{V1}/trades", json={"volume": 0.01, "trade_type": "buy"}), "symbol")
        self.assertValidation(self.trader.post(f"{V1}/trades", json={"symbol": "EURUSD", "trade_type": "buy"}), "volume")
        self.assertValidation(self.trader.post(f"{V1}/trades", json={"symbol": "EURUSD", "volume": 0.01}), "trade_type")

    def test_trade_type(self):
        for tt in ("hold", "BUYY", "", 1):
            self.assertValidation(self.post(trade_type=tt), "trade_type", f"trade_type={tt!r}")

    def test_non_finite_numbers(self):
        before = len(self.trader.trades("?status=all&limit=1000"))
        # Valid JSON that overflows a double: a non-finite number, named.
        for text, field in (('{"symbol":"EURUSD","volume":1e999,"trade_type":"buy"}', "volume"),
                            ('{"symbol":"EURUSD","volume":-1e999,"trade_type":"buy"}', "volume"),
                            ('{"symbol":"EURUSD","volume":0.01,"trade_type":"buy","stop_loss":1e999}', "stop_loss"),
                            ('{"symbol":"EURUSD","volume":0.01,"trade_type":"buy","take_profit":-1e999}', "take_profit"),
                            ('{"symbol":"EURUSD","volume":0.01,"trade_type":"buy","price":1e999}', "price")):
            self.assertValidation(self.raw(text), field, text)
        # NaN and Infinity literals (what Python's json emits) are not JSON: 400 or a 422 naming
        # the field, never accepted.
        for text in ('{"symbol":"EURUSD","volume":NaN,"trade_type":"buy"}',
                     '{"symbol":"EURUSD","volume":Infinity,"trade_type":"buy"}',
                     '{"symbol":"EURUSD","volume":0.01,"trade_type":"buy","stop_loss":-Infinity}'):
            r = self.raw(text)
            self.assertIn(r.status, (400, 415, 422), f"{text}: {r!r}")
            self.assertError(r, r.status)
            if r.status == 422:
                self.assertIn(r.body.get("field"), ("volume", "stop_loss", "body", None), r)
        # Strings that spell non-finite numbers are not numbers.
        for v in ("NaN", "Infinity", "-inf"):
            self.assertValidation(self.post(volume=v), "volume", f"volume={v!r}")
        self.assertNothingOpened(before)

    def test_stop_loss_on_the_wrong_side(self):
        before = len(self.trader.trades("?status=all&limit=1000"))
        q = self.trader.quote("EURUSD")
        # A buy's stop loss is below the price, a sell's above.
        self.assertValidation(self.post(trade_type="buy", stop_loss=round(q["ask"] + 0.02, 5)), "stop_loss", None, gh.STOPS_CODES)
        self.assertValidation(self.post(trade_type="sell", stop_loss=round(q["bid"] - 0.02, 5)), "stop_loss", None, gh.STOPS_CODES)
        # And take profit the other way round.
        self.assertValidation(self.post(trade_type="buy", take_profit=round(q["bid"] - 0.02, 5)), "take_profit", None, gh.STOPS_CODES)
        self.assertValidation(self.post(trade_type="sell", take_profit=round(q["ask"] + 0.02, 5)), "take_profit", None, gh.STOPS_CODES)
        # Negative stops are no prices.
        self.assertValidation(self.post(stop_loss=-1), "stop_loss")
        self.assertNothingOpened(before)

    def test_wrong_side_refusal_carries_the_broker_retcode_when_given(self):
        q = self.trader.quote("EURUSD")
        body = self.assertValidation(self.post(trade_type="buy", stop_loss=round(q["ask"] + 0.02, 5)), "stop_loss", None, gh.STOPS_CODES)
        if "broker_retcode" in body:
            self.assertEqual(body["broker_retcode"], 10016, "TRADE_RETCODE_INVALID_STOPS")

    def test_comment_of_the_wrong_type_or_unbounded(self):
        self.assertValidation(self.post(comment=12), "comment")
        self.assertValidation(self.post(comment="x" * 5000), "comment")

    def test_a_misspelt_field_is_refused_not_ignored(self):
        # "stoploss" silently ignored would open a trade without its stop.
        q = self.trader.quote("EURUSD")
        self.assertValidation(self.post(stoploss=round(q["bid"] - 0.01, 5)), "stoploss")

    def test_body_must_be_a_json_object(self):
        for text in ("[]", "42", '"x"', "{", ""):
            r = self.raw(text)
            self.assertIn(r.status, (400, 415, 422), f"{text!r}: {r!r}")
            self.assertError(r, r.status)

    def test_insufficient_margin(self):
        acct = self.trader.account()
        before = len(self.trader.trades("?status=all&limit=1000"))
        # 50 lots of EURUSD at 1:100 needs ~50k USD of margin; the demo account holds 10k.
        r = self.post(volume=50)
        body = self.assertError(r, 422, "insufficient_margin")
        self.assertEqual(body.get("broker_retcode"), NO_MONEY, r)
        self.assertNothingOpened(before)
        after = self.trader.account()
        self.assertEqual(after["balance"], acct["balance"])


class ListTradesTest(gh.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.trader = cls.stack.trader()
        t = cls.trader
        cls.opened = [t.open(symbol="EURUSD", volume=0.01) for _ in range(3)]
        cls.opened += [t.open(symbol="GBPUSD", volume=0.01) for _ in range(2)]
        cls.closed = t.open(symbol="USDJPY", volume=0.01)
        r = t.delete(trade_path(cls.closed))
        assert r.status == 200, r

    def ids(self, trades):
        return [str(t["id"]) for t in trades]

    def test_default_lists_open_trades_only(self):
        got = self.trader.trades()
        for t in got:
            self.assertTradeShape(t)
            self.assertEqual(t["status"], "open", t)
        self.assertEqual(set(self.ids(got)), set(self.ids(self.opened)))

    def test_status_filter(self):
        closed = self.trader.trades("?status=closed")
        self.assertEqual(self.ids(closed), [str(self.closed["id"])])
        for t in closed + [x for x in self.trader.trades("?status=all") if x["status"] == "closed"]:
            self.assertTradeShape(t)
            self.assertIsInstance(t.get("close_time"), str, f"a closed trade carries close_time: {t}")
            gh.finite_number(self, t.get("close_price"), "a closed trade's close_price")
        self.assertEqual(set(self.ids(self.trader.trades("?status=all"))),
                         set(self.ids(self.opened + [self.closed])))
        self.assertEqual(set(self.ids(self.trader.trades("?status=open"))), set(self.ids(self.opened)))
        self.assertValidation(self.trader.get(f"{V1}/trades?status=pending_forever"), "status")

    def test_symbol_filter(self):
        got = self.trader.trades("?symbol=GBPUSD")
        self.assertEqual(set(self.ids(got)), set(self.ids(self.opened[3:])))
        self.assertEqual(self.trader.trades("?symbol=XAUUSD"), [])

    def test_limit(self):
        self.assertEqual(len(self.trader.trades("?limit=2")), 2)
        self.assertEqual(len(self.trader.trades("?limit=1000")), 5)
        for bad in ("0", "-1", "abc", "1000000"):
            self.assertValidation(self.trader.get(f"{V1}/trades?limit={bad}"), "limit", f"limit={bad}")

    def test_cursor_pages_through_everything_once_with_link_next(self):
        seen = []
        r = self.trader.get(f"{V1}/trades?status=all&limit=2")
        pages = 0
        while True:
            self.assertEqual(r.status, 200, r)
            self.assertLessEqual(len(r.body), 2)
            seen += self.ids(r.body)
            pages += 1
            nxt = gh.link_next(r.headers)
            if nxt is None:
                break
            self.assertIn("cursor=", nxt, f"the next link carries the cursor: {nxt}")
            self.assertLess(pages, 10, "pagination must end")
            r = self.trader.get(gh.path_of(nxt, self.mt5.base_url))
        self.assertEqual(len(seen), len(set(seen)), f"no trade twice across pages: {seen}")
        self.assertEqual(set(seen), set(self.ids(self.opened + [self.closed])))
        self.assertGreaterEqual(pages, 3)

    def test_last_page_has_no_next_link(self):
        r = self.trader.get(f"{V1}/trades?status=all&limit=1000")
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(gh.link_next(r.headers), r.headers.get("Link"))

    def test_bad_cursor(self):
        self.assertValidation(self.trader.get(f"{V1}/trades?cursor=not-a-cursor"), "cursor")


class OneTradeTest(gh.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.trader = cls.stack.trader()

    def test_unknown_trade_is_404(self):
        for tid in ("999999999", "123456789012"):
            self.assertError(self.trader.get(f"{V1}/trades/{tid}"), 404, "not_found")
            self.assertError(self.trader.patch(f"{V1}/trades/{tid}", json={"stop_loss": 1.0}), 404, "not_found")
            self.assertError(self.trader.delete(f"{V1}/trades/{tid}"), 404, "not_found")

    def test_malformed_trade_id(self):
        for tid in ("abc", "-1", "1.5", "99999999999999999999999"):
            r = self.trader.get(f"{V1}/trades/{tid}")
            self.assertIn(r.status, (404, 422), f"{tid}: {r!r}")
            self.assertError(r, r.status)

    def test_patch_stop_loss_and_take_profit(self):
        t = self.trader.open(volume=0.01, trade_type="buy")
        q = self.trader.quote("EURUSD")
        sl, tp = round(q["bid"] - 0.03, 5), round(q["ask"] + 0.03, 5)
        r = self.trader.patch(trade_path(t), json={"stop_loss": sl, "take_profit": tp})
        self.assertEqual(r.status, 200, r)
        self.assertTradeShape(r.body)
        self.assertAlmostEqual(r.body["stop_loss"], sl, places=5)
        self.assertAlmostEqual(r.body["take_profit"], tp, places=5)
        g = self.trader.get(trade_path(t)).body
        self.assertAlmostEqual(g["stop_loss"], sl, places=5)
        self.assertAlmostEqual(g["take_profit"], tp, places=5)
        # Only take profit: the stop loss stays.
        tp2 = round(q["ask"] + 0.04, 5)
        r = self.trader.patch(trade_path(t), json={"take_profit": tp2})
        self.assertEqual(r.status, 200, r)
        self.assertAlmostEqual(r.body["stop_loss"], sl, places=5)
        self.assertAlmostEqual(r.body["take_profit"], tp2, places=5)

    def test_patch_validation(self):
        t = self.trader.open(volume=0.01, trade_type="buy")
        q = self.trader.quote("EURUSD")
        self.assertValidation(self.trader.patch(trade_path(t), json={"stop_loss": round(q["ask"] + 0.02, 5)}),
                              "stop_loss", None, gh.STOPS_CODES)
        self.assertValidation(self.trader.patch(trade_path(t), json={"take_profit": round(q["bid"] - 0.02, 5)}),
                              "take_profit", None, gh.STOPS_CODES)
        self.assertValidation(self.trader.patch(trade_path(t), json={"stop_loss": "low"}), "stop_loss")
        r = self.trader.patch(trade_path(t), body='{"stop_loss":1e999}', content_type="application/json")
        self.assertValidation(r, "stop_loss")
        g = self.trader.get(trade_path(t)).body
        self.assertIn(g["stop_loss"], (0, 0.0, None), "a refused change changes nothing")

    def test_close_answers_message_and_trade_id_and_twice_is_409(self):
        acct_before = self.trader.account()
        t = self.trader.open(volume=0.01, trade_type="buy")
        r = self.trader.delete(trade_path(t))
        self.assertEqual(r.status, 200, r)
        self.assertIsInstance(r.body.get("message"), str, r)
        self.assertTrue(gh.same_id(r.body.get("trade_id"), t["id"]), r)
        g = self.trader.get(trade_path(t))
        self.assertEqual(g.status, 200, g)
        self.assertTradeShape(g.body)
        self.assertEqual(g.body["status"], "closed")
        self.assertIsNotNone(g.body.get("close_time"))
        finite_close = g.body.get("close_price")
        self.assertTrue(isinstance(finite_close, (int, float)) and math.isfinite(finite_close), g)
        # The realised profit went to the balance.
        acct_after = self.trader.account()
        self.assertAlmostEqual(acct_after["balance"], acct_before["balance"] + g.body["profit"], places=2)
        # Closing again: 409 conflict, and a closed trade takes no new stops.
        self.assertError(self.trader.delete(trade_path(t)), 409, "conflict")
        self.assertError(self.trader.patch(trade_path(t), json={"take_profit": 2.0}), 409, "conflict")
        self.assertNotIn(str(t["id"]), [str(x["id"]) for x in self.trader.trades()])


if __name__ == "__main__":
    unittest.main()
