# Durability: a burst of POST /trades (and closes) from several threads, kill -9 of mt5-api in
# the middle of it, a restart on the same data: every acknowledged trade is there with the same
# fields, every acknowledged close is closed, balances agree with the realised profits, and
# tickets are never reused.
import threading
import unittest
import urllib.error

import gateway_harness as gh
from gateway_harness import V1, trade_path

FIELDS = ("id", "symbol", "volume", "type", "open_price", "stop_loss", "take_profit", "open_time", "comment")
THREADS = 6
KILL_AFTER = 60  # acknowledged opens before the kill


class CrashRecoveryTest(gh.GatewayTestCase):
    stack_kwargs = {}

    def settled_trades(self, tr, timeout=15):
        """Every trade of `tr` (id -> trade) once the open listing and the full one agree. With
        the simulator they agree at once (its state is restored from storage). A real broker
        keeps an order it executed while the gateway died unacknowledged; the gateway's first
        re-read of the broker after the restart brings it in (MT5_BROKER=terminal)."""
        deadline = gh.time.monotonic() + timeout
        while True:
            everything = {str(x["id"]): x for x in tr.trades("?status=all&limit=1000")}
            open_ids = {str(x["id"]) for x in tr.trades("?limit=1000")}
            if open_ids == {k for k, x in everything.items() if x["status"] == "open"}:
                return everything
            if gh.time.monotonic() > deadline:
                self.fail(f"open trades {sorted(open_ids)} never matched the full listing {everything}")
            gh.time.sleep(0.1)

    def test_kill_9_mid_burst_keeps_every_acknowledged_trade(self):
        traders = [self.stack.trader(), self.stack.trader()]
        opened = {}       # id -> (trader index, 201 body)
        closed = set()    # ids whose close was acknowledged (200)
        lock = threading.Lock()
        enough = threading.Event()
        stop = threading.Event()
        errors = []

        def burst(i):
            tr = traders[i % len(traders)]
            n = 0
            while not stop.is_set():
                n += 1
                body = {"symbol": ("EURUSD", "GBPUSD", "USDJPY")[n % 3], "volume": 0.01,
                        "trade_type": "buy" if (n + i) % 2 else "sell", "comment": f"burst {i}-{n}"}
                try:
                    r = tr.post(f"{V1}/trades", json=body, timeout=10, allow_5xx=True)
                except (OSError, urllib.error.URLError):
                    if stop.is_set():
                        return
                    continue  # the gateway is gone: this request was never acknowledged
                if r.status == 201:
                    with lock:
                        opened[str(r.body["id"])] = (i % len(traders), r.body)
                        if len(opened) >= KILL_AFTER:
                            enough.set()
                    # Every third trade is closed again at once.
                    if n % 3 == 0:
                        try:
                            c = tr.delete(trade_path(r.body), timeout=10)
                        except (OSError, urllib.error.URLError):
                            continue
                        if c.status == 200:
                            with lock:
                                closed.add(str(r.body["id"]))
                elif r.status != 503:  # 503: refused under load, not acknowledged
                    errors.append(AssertionError(f"unexpected answer in the burst: {r!r}"))
                    return

        threads = [threading.Thread(target=burst, args=(i,), daemon=True) for i in range(THREADS)]
        for t in threads:
            t.start()
        self.assertTrue(enough.wait(120), f"{KILL_AFTER} trades acknowledged within 120 s "
                                          f"(got {len(opened)}): {errors[:3]}")
        self.stack.mt5.kill()  # SIGKILL while the threads keep sending
        stop.set()
        for t in threads:
            t.join(30)
        self.assertFalse(errors, errors[:3])
        with lock:
            acked, acked_closes = dict(opened), set(closed)

        mt5 = self.stack.restart_mt5(kill=True)
        max_before = max(int(k) for k in acked) if all(k.isdigit() for k in acked) else None

        per_trader_all = [self.settled_trades(tr) for tr in traders]
        for tid, (ti, body) in acked.items():
            r = traders[ti].get(trade_path(tid))
            self.assertEqual(r.status, 200, f"acknowledged trade {tid} lost after kill -9: {r!r}")
            for f in FIELDS:
                self.assertEqual(r.body.get(f), body.get(f), f"trade {tid} field {f} changed across the crash")
            self.assertIn(tid, per_trader_all[ti], f"trade {tid} listed under status=all")
            if tid in acked_closes:
                self.assertEqual(r.body["status"], "closed", f"acknowledged close of {tid} lost: {r.body}")
        # Balances: the deposit plus the realised profit of every closed trade.
        for ti, tr in enumerate(traders):
            acct = tr.account()
            realised = sum(x["profit"] for x in per_trader_all[ti].values() if x["status"] == "closed")
            self.assertAlmostEqual(acct["balance"], gh.DEMO_DEPOSIT + realised, places=2,
                                   msg=f"trader {ti}: balance {acct['balance']} vs deposit + realised {realised}")
            open_count = sum(1 for x in per_trader_all[ti].values() if x["status"] == "open")
            self.assertEqual(len(tr.trades("?limit=1000")), open_count)
            if open_count:
                self.assertGreater(acct["margin"], 0, acct)
        # Tickets continue after the largest one seen: never reused.
        t = traders[0].open(volume=0.01)
        self.assertNotIn(str(t["id"]), acked)
        if max_before is not None:
            self.assertGreater(int(t["id"]), max_before, "the ticket sequence continues after a restart")
        self.assertEqual(mt5.get("/ready").status, 200)

    def test_clean_restart_keeps_state_and_idempotency_keys(self):
        tr = self.stack.trader()
        t = tr.open(volume=0.02, comment="before restart")
        key = "restart-" + gh.secrets.token_hex(8)
        first = tr.post(f"{V1}/trades", json={"symbol": "EURUSD", "volume": 0.01, "trade_type": "sell"},
                        headers={"Idempotency-Key": key})
        self.assertEqual(first.status, 201, first)
        acct = tr.account()
        self.stack.restart_mt5(kill=False)
        g = tr.get(trade_path(t))
        self.assertEqual(g.status, 200, g)
        self.assertEqual(g.body["comment"], "before restart")
        again = tr.post(f"{V1}/trades", json={"symbol": "EURUSD", "volume": 0.01, "trade_type": "sell"},
                        headers={"Idempotency-Key": key})
        self.assertEqual(again.status, 201, again)
        self.assertEqual(again.body["id"], first.body["id"], "an idempotency key outlives a restart")
        self.assertAlmostEqual(tr.account()["balance"], acct["balance"], places=2)


if __name__ == "__main__":
    unittest.main()
