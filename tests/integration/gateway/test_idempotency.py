# Idempotent POST /trades: the same Idempotency-Key (or client_order_id) with the same body
# replays the first answer; with a different body it is 422 idempotency_key_reused; 16
# concurrent requests with one key open exactly one trade. Keys belong to one client.
import unittest
import uuid

import gateway_harness as gh
from gateway_harness import V1

BODY = {"symbol": "EURUSD", "volume": 0.03, "trade_type": "buy", "comment": "idem"}


def tearDownModule():
    gh.stop_module_stack(__name__)


class IdempotencyTest(gh.GatewayTestCase):
    def count(self, trader):
        return len(trader.trades("?status=all&limit=1000"))

    def test_same_key_same_body_replays_the_same_answer(self):
        t = self.stack.trader()
        key = str(uuid.uuid4())
        first = t.post(f"{V1}/trades", json=BODY, headers={"Idempotency-Key": key})
        self.assertEqual(first.status, 201, first)
        self.assertTradeShape(first.body)
        for _ in range(3):
            again = t.post(f"{V1}/trades", json=BODY, headers={"Idempotency-Key": key})
            self.assertEqual(again.status, 201, f"a replay answers what the first answered: {again!r}")
            self.assertEqual(again.body, first.body, "the replay is the stored answer, byte for byte in JSON")
        self.assertEqual(self.count(t), 1, "one trade for one key")

    def test_same_key_different_body_is_422_idempotency_key_reused(self):
        t = self.stack.trader()
        key = str(uuid.uuid4())
        self.assertEqual(t.post(f"{V1}/trades", json=BODY, headers={"Idempotency-Key": key}).status, 201)
        for change in ({"volume": 0.04}, {"trade_type": "sell"}, {"symbol": "GBPUSD"}, {"comment": "other"}):
            body = dict(BODY, **change)
            r = t.post(f"{V1}/trades", json=body, headers={"Idempotency-Key": key})
            self.assertError(r, 422, "idempotency_key_reused", f"change {change}")
        self.assertEqual(self.count(t), 1)

    def test_body_key_order_and_spacing_do_not_matter(self):
        t = self.stack.trader()
        key = str(uuid.uuid4())
        first = t.post(f"{V1}/trades", json=BODY, headers={"Idempotency-Key": key})
        self.assertEqual(first.status, 201, first)
        text = '{ "comment":"idem",  "trade_type":"buy","volume":0.03, "symbol":"EURUSD" }'
        again = t.post(f"{V1}/trades", body=text, content_type="application/json", headers={"Idempotency-Key": key})
        self.assertEqual(again.status, 201, f"the same body in another spelling replays: {again!r}")
        self.assertEqual(again.body, first.body)

    def test_client_order_id_is_the_same_as_the_header(self):
        t = self.stack.trader()
        coid = "coid-" + uuid.uuid4().hex
        body = dict(BODY, client_order_id=coid)
        first = t.post(f"{V1}/trades", json=body)
        self.assertEqual(first.status, 201, first)
        again = t.post(f"{V1}/trades", json=body)
        self.assertEqual(again.status, 201, again)
        self.assertEqual(again.body["id"], first.body["id"])
        r = t.post(f"{V1}/trades", json=dict(body, volume=0.05))
        self.assertError(r, 422, "idempotency_key_reused")
        self.assertEqual(self.count(t), 1)

    def test_refusals_are_replayed_too_or_retried_but_never_open_a_trade(self):
        t = self.stack.trader()
        key = str(uuid.uuid4())
        body = dict(BODY, volume=50)  # insufficient margin
        first = t.post(f"{V1}/trades", json=body, headers={"Idempotency-Key": key})
        self.assertError(first, 422, "insufficient_margin")
        again = t.post(f"{V1}/trades", json=body, headers={"Idempotency-Key": key})
        self.assertError(again, 422, "insufficient_margin")
        self.assertEqual(self.count(t), 0)

    def test_keys_belong_to_one_client(self):
        a, b = self.stack.trader(), self.stack.trader()
        key = str(uuid.uuid4())
        ra = a.post(f"{V1}/trades", json=BODY, headers={"Idempotency-Key": key})
        rb = b.post(f"{V1}/trades", json=dict(BODY, volume=0.05), headers={"Idempotency-Key": key})
        self.assertEqual(ra.status, 201, ra)
        self.assertEqual(rb.status, 201, f"B's key is B's own, not A's: {rb!r}")
        self.assertNotEqual(str(ra.body["id"]), str(rb.body["id"]))
        self.assertEqual(self.count(a), 1)
        self.assertEqual(self.count(b), 1)

    def test_an_oversized_key_is_refused(self):
        t = self.stack.trader()
        r = t.post(f"{V1}/trades", json=BODY, headers={"Idempotency-Key": "k" * 1000})
        self.assertIn(r.status, (400, 422), f"a 1000-character key is refused: {r!r}")
        self.assertError(r, r.status)
        self.assertEqual(self.count(t), 0)

    def test_sixteen_concurrent_requests_with_one_key_open_one_trade(self):
        t = self.stack.trader()
        key = str(uuid.uuid4())
        answers = gh.parallel(16, lambda i: t.post(f"{V1}/trades", json=BODY, headers={"Idempotency-Key": key}))
        for a in answers:
            self.assertNotIsInstance(a, BaseException, a)
        statuses = [a.status for a in answers]
        ok = [a for a in answers if a.status == 201]
        self.assertTrue(ok, f"at least one 201: {statuses}")
        # Racers either get the same stored answer, or a 409 while the first is in flight.
        for a in answers:
            self.assertIn(a.status, (201, 409), f"{statuses}: {a!r}")
            if a.status == 409:
                self.assertError(a, 409, "conflict")
        ids = {str(a.body["id"]) for a in ok}
        self.assertEqual(len(ids), 1, f"one trade id for one key: {ids}")
        trades = t.trades("?status=all&limit=1000")
        self.assertEqual([str(x["id"]) for x in trades], list(ids), "exactly one trade was opened")

    def test_concurrent_requests_with_distinct_keys_open_one_trade_each(self):
        t = self.stack.trader()
        keys = [str(uuid.uuid4()) for _ in range(16)]
        answers = gh.parallel(16, lambda i: t.post(f"{V1}/trades", json=BODY, headers={"Idempotency-Key": keys[i]}))
        for a in answers:
            self.assertNotIsInstance(a, BaseException, a)
            self.assertEqual(a.status, 201, a)
        self.assertEqual(len({str(a.body["id"]) for a in answers}), 16)
        self.assertEqual(self.count(t), 16)


if __name__ == "__main__":
    unittest.main()
