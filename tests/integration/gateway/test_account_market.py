# Account and balance, market data (quote, symbols, OHLC rates), pending orders, deal history,
# admin statistics (admin:system and a trusted client), /health, /ready, /metrics, and times in
# UTC whatever the trade server's zone.
import datetime
import json
import time
import unittest

import gateway_harness as gh
from gateway_harness import V1, trade_path


def tearDownModule():
    gh.stop_module_stack(__name__)


class AccountTest(gh.GatewayTestCase):
    def assertAccountShape(self, a):
        for f in gh.ACCOUNT_FIELDS:
            self.assertIn(f, a, f"account field {f!r} missing: {a!r}")
        for f in ("balance", "equity", "margin", "free_margin", "margin_level"):
            gh.finite_number(self, a[f], f)
        self.assertEqual(a["currency"], gh.DEMO_CURRENCY, a)
        self.assertEqual(a["leverage"], gh.DEMO_LEVERAGE, a)

    def test_a_new_client_gets_a_demo_account_with_the_configured_deposit(self):
        trader = self.stack.trader()
        for path in (f"{V1}/account", f"{V1}/account/balance"):
            r = trader.get(path)
            self.assertEqual(r.status, 200, r)
            self.assertAccountShape(r.body)
            self.assertAlmostEqual(r.body["balance"], gh.DEMO_DEPOSIT, places=2, msg=r)
            self.assertAlmostEqual(r.body["equity"], gh.DEMO_DEPOSIT, places=2, msg=r)
            self.assertEqual(r.body["margin"], 0, r)
            self.assertAlmostEqual(r.body["free_margin"], gh.DEMO_DEPOSIT, places=2, msg=r)

    def test_an_open_trade_uses_margin(self):
        trader = self.stack.trader()
        q = trader.quote("EURUSD")
        trader.open(symbol="EURUSD", volume=1.0, trade_type="buy")
        a = trader.account()
        self.assertAccountShape(a)
        # 1 lot EURUSD at 1:100: 100000 EUR / 100 = 1000 EUR of margin, in USD at the rate.
        expected = 100000 * q["ask"] / gh.DEMO_LEVERAGE
        self.assertAlmostEqual(a["margin"], expected, delta=expected * 0.02, msg=a)
        self.assertAlmostEqual(a["free_margin"], a["equity"] - a["margin"], places=2, msg=a)
        self.assertAlmostEqual(a["margin_level"], a["equity"] / a["margin"] * 100, delta=0.5, msg=a)
        self.assertAlmostEqual(a["balance"], gh.DEMO_DEPOSIT, places=2, msg="opening changes no balance")
        # Equity = balance + floating P&L of the open trades.
        floating = sum(t["profit"] for t in trader.trades())
        self.assertAlmostEqual(a["equity"], a["balance"] + floating, delta=5.0, msg=(a, floating))

    def test_balance_needs_account_balance_scope(self):
        trader = self.stack.trader(scopes=("account:read",))
        self.assertEqual(trader.get(f"{V1}/account").status, 200)
        self.assertInsufficientScope(trader.get(f"{V1}/account/balance"), "account:balance")
        trader = self.stack.trader(scopes=("account:balance",))
        self.assertInsufficientScope(trader.get(f"{V1}/account"), "account:read")
        self.assertEqual(trader.get(f"{V1}/account/balance").status, 200)


class MarketTest(gh.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.trader = cls.stack.trader(scopes=("market:data",))

    def test_quote_shape(self):
        for symbol in gh.CONTRACT_SYMBOLS:
            r = self.trader.get(f"{V1}/market/{symbol}")
            self.assertEqual(r.status, 200, r)
            q = r.body
            for f in ("symbol", "bid", "ask", "spread", "last_update"):
                self.assertIn(f, q, f"{symbol}: {f} missing: {q!r}")
            self.assertEqual(q["symbol"], symbol)
            gh.finite_number(self, q["bid"], "bid")
            gh.finite_number(self, q["ask"], "ask")
            self.assertGreater(q["bid"], 0, q)
            self.assertGreater(q["ask"], q["bid"], f"a realistic spread: ask above bid: {q!r}")
            self.assertGreater(q["spread"], 0, q)

    def test_quotes_move(self):
        first = self.trader.quote("EURUSD")
        seen = {(first["bid"], first["ask"], str(first["last_update"]))}
        deadline = time.time() + 10
        while time.time() < deadline and len(seen) < 2:
            q = self.trader.quote("EURUSD")
            seen.add((q["bid"], q["ask"], str(q["last_update"])))
            time.sleep(0.05)
        self.assertGreaterEqual(len(seen), 2, "the simulated quote stream ticks (MT5_SIM_TICK_MS=50)")

    def test_unknown_symbol_is_404(self):
        self.assertError(self.trader.get(f"{V1}/market/NOPE42"), 404, "not_found")
        self.assertError(self.trader.get(f"{V1}/market/NOPE42/rates?timeframe=M1&count=5"), 404, "not_found")

    def test_symbols(self):
        r = self.trader.get(f"{V1}/symbols")
        self.assertEqual(r.status, 200, r)
        items = gh.harness.find_list(r.body, "symbols", "items")
        names = {(s["symbol"] if "symbol" in s else s["name"]) if isinstance(s, dict) else s for s in items}
        for symbol in gh.CONTRACT_SYMBOLS:
            self.assertIn(symbol, names, f"instrument {symbol} listed: {sorted(names)}")
        eurusd = next(s for s in items if isinstance(s, dict) and s.get("symbol", s.get("name")) == "EURUSD")
        text = json.dumps(eurusd)
        for spec in ("digits", "contract_size", "volume_min", "volume_max", "volume_step"):
            self.assertIn(spec, text, f"EURUSD spec has {spec}: {eurusd}")

    def test_rates_are_ohlc_bars(self):
        r = self.trader.get(f"{V1}/market/EURUSD/rates?timeframe=M1&count=10")
        self.assertEqual(r.status, 200, r)
        bars = gh.harness.find_list(r.body, "rates", "bars", "items")
        self.assertGreaterEqual(len(bars), 1, "at least the bar being built")
        self.assertLessEqual(len(bars), 10)
        for b in bars:
            for f in ("open", "high", "low", "close"):
                gh.finite_number(self, b.get(f), f"bar {f}")
            self.assertTrue(any(k in b for k in ("time", "timestamp", "t")), b)
            self.assertGreaterEqual(b["high"], max(b["open"], b["close"]), b)
            self.assertLessEqual(b["low"], min(b["open"], b["close"]), b)

    def test_a_chart_has_history_from_the_start(self):
        """The simulator backfills its charts, and the terminal connector reads the terminal's
        history at connect (the rates command): a chart holds more than the minutes since."""
        if gh.broker_name() == "fix":
            self.skipTest("FIX serves no chart history: its charts start at connect")
        r = self.trader.get(f"{V1}/market/EURUSD/rates?timeframe=M1&count=200")
        self.assertEqual(r.status, 200, r)
        bars = gh.harness.find_list(r.body, "rates", "bars", "items")
        self.assertEqual(len(bars), 200, "history fills the whole request")
        times = [utc_from_iso(b["time"]) for b in bars]
        self.assertEqual(times, sorted(set(times)), "oldest first, one bar a minute at most")
        self.assertTrue(all(t.second == 0 and t.microsecond == 0 for t in times), times)
        newest_age = datetime.datetime.now(datetime.timezone.utc) - times[-1]
        self.assertLess(abs(newest_age), datetime.timedelta(minutes=2), f"the newest bar is now's, in UTC: {times[-1]}")

    def test_rates_validation(self):
        self.assertValidation(self.trader.get(f"{V1}/market/EURUSD/rates?timeframe=M7&count=10"), "timeframe")
        for bad in ("0", "-5", "abc", "100000000"):
            self.assertValidation(self.trader.get(f"{V1}/market/EURUSD/rates?timeframe=M1&count={bad}"),
                                  "count", f"count={bad}")

    def test_market_data_scope_required(self):
        t = self.stack.trader(scopes=("trade:read",))
        for path in (f"{V1}/market/EURUSD", f"{V1}/symbols", f"{V1}/market/EURUSD/rates?timeframe=M1&count=5"):
            self.assertInsufficientScope(t.get(path), "market:data", path)


class OrdersAndDealsTest(gh.GatewayTestCase):
    def test_orders_is_a_list(self):
        trader = self.stack.trader()
        r = trader.get(f"{V1}/orders")
        self.assertEqual(r.status, 200, r)
        self.assertIsInstance(gh.harness.find_list(r.body, "orders", "items"), list)

    def test_deal_history_holds_the_in_and_out_deals_of_a_closed_trade(self):
        trader = self.stack.trader()
        r = trader.get(f"{V1}/history/deals")
        self.assertEqual(r.status, 200, r)
        before = gh.harness.find_list(r.body, "deals", "items")
        t = trader.open(volume=0.01)
        self.assertEqual(trader.delete(trade_path(t)).status, 200)
        r = trader.get(f"{V1}/history/deals")
        self.assertEqual(r.status, 200, r)
        after = gh.harness.find_list(r.body, "deals", "items")
        mine = [d for d in after if gh.mentions_trade(d, t["id"])]
        self.assertGreaterEqual(len(after) - len(before), 2, f"an in and an out deal: {after}")
        self.assertGreaterEqual(len(mine), 2, f"the deals name the position {t['id']}: {after}")

    def test_deals_page_through_the_link_header_once_each_oldest_first(self):
        trader = self.stack.trader()
        for _ in range(3):
            t = trader.open(volume=0.01)
            self.assertEqual(trader.delete(trade_path(t)).status, 200)
        whole = trader.get(f"{V1}/history/deals?limit=10000")
        self.assertEqual(whole.status, 200, whole)
        self.assertIsNone(gh.link_next(whole.headers), whole.headers.get("Link"))
        everything = [d["id"] for d in gh.harness.find_list(whole.body, "deals", "items")]
        self.assertGreaterEqual(len(everything), 6, "three in and three out deals")
        seen, pages = [], 0
        r = trader.get(f"{V1}/history/deals?limit=2")
        while True:
            self.assertEqual(r.status, 200, r)
            page = gh.harness.find_list(r.body, "deals", "items")
            self.assertLessEqual(len(page), 2)
            seen += [d["id"] for d in page]
            pages += 1
            nxt = gh.link_next(r.headers)
            if nxt is None:
                break
            self.assertLess(pages, 20, "pagination must end")
            r = trader.get(gh.path_of(nxt, self.mt5.base_url))
        self.assertEqual(seen, everything, "the pages, in order, are the whole list")
        for bad in ("limit=0", "limit=10001", "cursor=12", "cursor=x_1"):
            self.assertValidation(trader.get(f"{V1}/history/deals?{bad}"), bad.split("=")[0], bad)

    def test_orders_and_deals_need_trade_read(self):
        t = self.stack.trader(scopes=("market:data",))
        self.assertInsufficientScope(t.get(f"{V1}/orders"), "trade:read")
        self.assertInsufficientScope(t.get(f"{V1}/history/deals"), "trade:read")


def utc_from_iso(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


class TimesAreUtcTest(gh.GatewayTestCase):
    """Every time the API answers is UTC. On the terminal backend the stand-in's trade server
    keeps GMT+2 (gh.TERMINAL_SERVER_UTC_OFFSET_S): a time taken from the trade server's clock
    unconverted would be two hours ahead."""

    SLACK = datetime.timedelta(seconds=2)  # millisecond rounding; the clocks are the same machine's

    def assertBetween(self, text, before, after, what):
        t = utc_from_iso(text)
        self.assertTrue(before - self.SLACK <= t <= after + self.SLACK, f"{what} {t} not within [{before}, {after}]")

    def test_a_trade_and_its_deals_carry_the_utc_time_they_happened(self):
        trader = self.stack.trader()
        before = datetime.datetime.now(datetime.timezone.utc)
        t = trader.open(volume=0.01)
        self.assertEqual(trader.delete(trade_path(t)).status, 200)
        after = datetime.datetime.now(datetime.timezone.utc)
        self.assertBetween(t["open_time"], before, after, "open_time")
        closed = trader.get(trade_path(t))
        self.assertEqual(closed.status, 200, closed)
        self.assertBetween(closed.body["close_time"], before, after, "close_time")
        deals = gh.harness.find_list(trader.get(f"{V1}/history/deals?limit=10000").body, "deals", "items")
        mine = [d for d in deals if gh.mentions_trade(d, t["id"])]
        self.assertGreaterEqual(len(mine), 2, f"the in and out deals of {t['id']}: {deals}")
        for d in mine:
            self.assertBetween(d["time"], before, after, f"deal {d}")

    def test_the_terminals_offset_is_on_metrics(self):
        if gh.broker_name() != "terminal":
            self.skipTest("only a terminal has a trade server zone")
        for line in self.mt5.get("/metrics").raw.splitlines():
            if line.startswith("mt5_terminal_server_utc_offset_seconds "):
                self.assertEqual(float(line.rsplit(" ", 1)[1]), gh.TERMINAL_SERVER_UTC_OFFSET_S, line)
                return
        self.fail("mt5_terminal_server_utc_offset_seconds is not on /metrics")

    def test_a_quote_is_stamped_in_utc(self):
        trader = self.stack.trader()
        before = datetime.datetime.now(datetime.timezone.utc)
        q = trader.quote("EURUSD")
        after = datetime.datetime.now(datetime.timezone.utc)
        # The last quote may be a few ticks old (50 ms each in the harness); never in the future.
        self.assertBetween(q["last_update"], before - datetime.timedelta(seconds=10), after, "last_update")


class AdminStatsTest(gh.GatewayTestCase):
    def test_trusted_client_with_admin_system_reads_stats(self):
        admin = self.stack.trader(scopes=("admin:system",), trusted=True)
        r = admin.get(f"{V1}/admin/stats")
        self.assertEqual(r.status, 200, r)
        self.assertIsInstance(r.body, dict, r)
        self.assertTrue(r.body, "some statistics")

    def test_untrusted_client_with_admin_system_is_refused(self):
        t = self.stack.trader(scopes=("admin:system",), trusted=False)
        r = t.get(f"{V1}/admin/stats")
        self.assertEqual(r.status, 403, r)
        self.assertError(r, 403)

    def test_trusted_client_without_admin_system_is_refused(self):
        t = self.stack.trader(scopes=gh.TRADING_SCOPES, trusted=True)
        self.assertInsufficientScope(t.get(f"{V1}/admin/stats"), "admin:system")


class HealthTest(gh.GatewayTestCase):
    def test_health(self):
        r = self.mt5.get("/health")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body.get("service"), "mt5-api", r)
        self.assertIn("status", r.body)
        self.assertIsInstance(r.body.get("version"), str, r)

    def test_ready(self):
        r = self.mt5.get("/ready")
        self.assertEqual(r.status, 200, r)

    def test_metrics_count_orders_fills_and_rejections(self):
        trader = self.stack.trader()
        trader.open(volume=0.01)
        trader.post(f"{V1}/trades", json={"symbol": "EURUSD", "volume": 50, "trade_type": "buy"})  # no money
        r = self.mt5.get("/metrics")
        self.assertEqual(r.status, 200, r)
        text = r.raw
        self.assertIn("# TYPE", text, "Prometheus text format")
        lower = text.lower()
        for word in ("order", "fill", "reject"):
            self.assertTrue(any(word in line.split("{")[0] and not line.startswith("#")
                                for line in lower.splitlines()), f"a metric about {word}s:\n{text[:3000]}")
        self.assertTrue(any("quote" in line.split("{")[0] or "tick" in line.split("{")[0]
                            for line in lower.splitlines() if not line.startswith("#")),
                        f"quote lag is measured:\n{text[:3000]}")
        # Each broker round trip is timed by trade action: the fill and the refusal both went there.
        deal_count = 'mt5_broker_order_seconds_count{action="deal"} '
        deals = [line for line in text.splitlines() if line.startswith(deal_count)]
        self.assertEqual(len(deals), 1, f"broker round trips are timed:\n{text[:3000]}")
        self.assertGreaterEqual(float(deals[0].rsplit(" ", 1)[1]), 2)

    def test_metrics_read_the_gateways_own_figures_at_each_scrape(self):
        def sample(name):
            for line in self.mt5.get("/metrics").raw.splitlines():
                if line.startswith(name + " "):
                    return float(line.rsplit(" ", 1)[1])
            return None

        commits = sample("mt5_store_commits_total")
        positions = sample("mt5_open_positions")
        for name in ("mt5_accounts", "mt5_store_commit_batches_total", "mt5_idempotent_replays_total",
                     "mt5_worker_queue_depth", "mt5_worker_rejections_total", "mt5_stream_dropped_total"):
            self.assertIsNotNone(sample(name), f"{name} on /metrics")
        self.assertEqual(sample("mt5_broker_connected"), 1)  # the simulator is always connected
        trader = self.stack.trader()
        key = {"Idempotency-Key": f"metrics-{id(self)}"}
        first = trader.open(volume=0.01, headers=key)
        replays = sample("mt5_idempotent_replays_total")
        self.assertEqual(trader.open(volume=0.01, headers=key)["id"], first["id"])  # the same key: replayed
        self.assertGreater(sample("mt5_store_commits_total"), commits)
        self.assertGreaterEqual(sample("mt5_open_positions"), positions + 1)
        self.assertEqual(sample("mt5_idempotent_replays_total"), replays + 1)
        # The order's durable commit was timed: one group commit, one wait from queue to durable.
        for op in ("commit", "commit_wait"):
            self.assertGreaterEqual(sample(f'mt5_store_seconds_count{{op="{op}"}}') or 0, 1, op)

    def test_health_needs_no_token_but_the_api_does(self):
        r = self.mt5.get(f"{V1}/trades")
        self.assertError(r, 401)
        self.assertTrue(r.headers.get("WWW-Authenticate", "").startswith("Bearer"), r.headers)


if __name__ == "__main__":
    unittest.main()
