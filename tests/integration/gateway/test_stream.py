# GET /api/v1/stream (WebSocket): refused without a valid token or scope, live quotes, the
# caller's own trade events and never another client's.
import json
import time
import unittest

import gateway_harness as gh
from gateway_harness import V1, WebSocket, WebSocketRefused

STREAM = f"{V1}/stream"


def tearDownModule():
    gh.stop_module_stack(__name__)


class StreamTest(gh.GatewayTestCase):
    def connect(self, token, symbols=("EURUSD",), **kw):
        ws = WebSocket.connect(self.mt5.base_url, STREAM, bearer=token, **kw)
        self.addCleanup(ws.close)
        if symbols:
            ws.send_text(json.dumps({"action": "subscribe", "symbols": list(symbols)}))
        return ws

    def assertRefused(self, status, **kw):
        with self.assertRaises(WebSocketRefused) as cm:
            WebSocket.connect(self.mt5.base_url, STREAM, **kw)
        self.assertEqual(cm.exception.status, status, cm.exception)
        return cm.exception

    def test_refused_without_a_token(self):
        e = self.assertRefused(401)
        self.assertTrue(e.headers.get("www-authenticate", "").startswith("Bearer"), e.headers)

    def test_refused_with_a_bad_token(self):
        e = self.assertRefused(401, bearer="not.a.token")
        self.assertIn('error="invalid_token"', e.headers.get("www-authenticate", ""), e.headers)

    def test_refused_without_trade_read_or_market_data(self):
        t = self.stack.trader(scopes=("account:read",))
        e = self.assertRefused(403, bearer=t.token)
        self.assertEqual(e.body.get("error"), "insufficient_scope", e.body)
        # Either scope suffices: both are the alternatives, and the token lacks both.
        self.assertEqual(set(e.body.get("required_scopes", [])), {"trade:read", "market:data"}, e.body)
        self.assertEqual(set(e.body.get("missing_scopes", [])), {"trade:read", "market:data"}, e.body)
        self.assertIn("one of the scopes", e.body.get("error_description", ""), e.body)

    def test_one_of_the_two_scopes_suffices_and_symbols_need_market_data(self):
        t = self.stack.trader(scopes=("trade:read",))
        self.connect(t.token, symbols=())
        with self.assertRaises(WebSocketRefused) as cm:
            WebSocket.connect(self.mt5.base_url, f"{STREAM}?symbols=EURUSD", bearer=t.token)
        e = cm.exception
        self.assertEqual(e.status, 403, e)
        self.assertEqual((e.body.get("required_scopes"), e.body.get("missing_scopes")),
                         (["market:data"], ["market:data"]), e.body)

    def test_browser_ways_of_sending_the_token(self):
        # Browsers cannot set Authorization on a WebSocket: the token travels as the
        # access_token query parameter or as a Sec-WebSocket-Protocol element. A server that
        # accepts a subprotocol offer must select one, or the browser drops the connection.
        t = self.stack.trader(scopes=("market:data",))
        ws = WebSocket.connect(self.mt5.base_url, f"{STREAM}?access_token={t.token}")
        self.addCleanup(ws.close)
        ws = WebSocket.connect(self.mt5.base_url, STREAM, headers={"Sec-WebSocket-Protocol": f"bearer, {t.token}"})
        self.addCleanup(ws.close)
        self.assertEqual(ws.headers.get("sec-websocket-protocol"), "bearer", ws.headers)
        self.assertNotIn(t.token, ws.headers.get("sec-websocket-protocol", ""), "never echo the token")

    def test_quotes_arrive(self):
        t = self.stack.trader(scopes=("market:data",))
        ws = self.connect(t.token)
        msg = ws.wait_for(gh.is_quote, timeout=10)
        self.assertIsNotNone(msg, f"a quote within 10 s; got {ws.messages[:5]} (closed={ws.closed}, "
                                  f"code={ws.close_code})")
        # More than one: it is a stream.
        second = ws.wait_for(gh.is_quote, timeout=10)
        self.assertIsNotNone(second, ws.messages[:5])

    def test_own_trade_events_arrive_and_others_do_not(self):
        a = self.stack.trader()
        b = self.stack.trader()
        wa, wb = self.connect(a.token), self.connect(b.token)
        ta = a.open(volume=0.01)
        got = wa.wait_for(lambda m: gh.mentions_trade(m, ta["id"]), timeout=10)
        self.assertIsNotNone(got, f"A's stream carries A's trade {ta['id']}: "
                                  f"{[m for m in wa.messages if not gh.is_quote(m)][:10]}")
        # B opens its own trade after A's: once B has seen its own event, it must not have
        # seen A's on the way (and A must never see B's).
        tb = b.open(volume=0.01)
        got = wb.wait_for(lambda m: gh.mentions_trade(m, tb["id"]), timeout=10)
        self.assertIsNotNone(got, f"B's stream carries B's trade {tb['id']}")
        self.assertFalse([m for m in wb.messages if gh.mentions_trade(m, ta["id"])],
                         "B's stream never carries A's trade events")
        # A closes: A hears of it, B still hears nothing of A.
        self.assertEqual(a.delete(gh.trade_path(ta)).status, 200)
        seen = len(wa.messages)
        got = wa.wait_for(lambda m: gh.mentions_trade(m, ta["id"]) and wa.messages.index(m) >= seen, timeout=10)
        self.assertIsNotNone(got, "the close of A's trade reaches A's stream")
        tb2 = b.open(volume=0.01)
        self.assertIsNotNone(wb.wait_for(lambda m: gh.mentions_trade(m, tb2["id"]), timeout=10))
        self.assertFalse([m for m in wb.messages if gh.mentions_trade(m, ta["id"])])
        self.assertFalse([m for m in wa.messages if gh.mentions_trade(m, tb["id"]) or gh.mentions_trade(m, tb2["id"])],
                         "A's stream never carries B's trade events")

    def test_revoked_token_stream_is_closed(self):
        t = self.stack.trader(scopes=("market:data", "trade:read"))
        token = t.new_token()
        ws = self.connect(token)
        self.assertIsNotNone(ws.wait_for(gh.is_quote, timeout=10))
        r = self.stack.auth.post(f"{V1}/auth/revoke", bearer=token, json={"token": token})
        self.assertEqual(r.status, 200, r)
        # New connections with it are refused within the revocation deadline.
        deadline = time.monotonic() + gh.REVOCATION_DEADLINE_S
        refused = False
        while time.monotonic() < deadline and not refused:
            try:
                WebSocket.connect(self.mt5.base_url, STREAM, bearer=token).close()
                time.sleep(0.05)
            except WebSocketRefused as e:
                self.assertEqual(e.status, 401, e)
                refused = True
        self.assertTrue(refused, "a revoked token opens no new stream within 2 s")
        # The stream opened before the revocation is closed too (policy violation, 1008): the
        # token is re-checked while the connection lives.
        deadline = time.monotonic() + 10
        while not ws.closed and time.monotonic() < deadline:
            try:
                ws.recv(timeout=max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                break
        self.assertTrue(ws.closed, "the open stream of a revoked token is closed")
        self.assertEqual(ws.close_code, 1008, f"closed as a policy violation: {ws.close_code}")


if __name__ == "__main__":
    unittest.main()
