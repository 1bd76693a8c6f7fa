# MT5_BROKER=fix only: the FIX 4.4 session between mt5-api and mt5-sim (docs/fix.md). An order
# sent into a session that goes silent is settled exactly once when the counterparty answers,
# whether the session survived (the late ExecutionReport) or dropped and logged on again
# (resend, and the OrderStatusRequest by ClOrdID); a wrong password never logs on; no log
# line holds the password; the session runs over TLS end to end; and under a broker's own
# numbering of our custom fields (mt5-sim --fix-tags, MT5_FIX_TAGS) when both ends agree on it;
# and over a counterparty without RequestForPositions and CollateralInquiry, from mt5-api's own
# ledger (mt5-sim --fix-without).
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
import types
import unittest

import gateway_harness as gh
import harness
from gateway_harness import V1


def tearDownModule():
    gh.stop_module_stack(__name__)  # FixOverTlsTest's (the module's shared stack)


@contextlib.contextmanager
def gateway_over(test, sim_class, prefix, env=None):
    """An mt5-api of its own trading through an mt5-sim of `sim_class`, ready (logged on, the
    instruments read), and a trader on it; both processes stopped and their files removed after."""
    sim_dir = tempfile.mkdtemp(prefix=prefix)
    sim = sim_class(sim_dir).start()
    mt5 = gh.Mt5Server(test.stack.auth, test.stack.service_secret, sim=sim, env=env)
    try:
        mt5.start()
        deadline = time.monotonic() + 30
        while mt5.request("GET", "/ready", allow_5xx=True).status != 200:
            test.assertLess(time.monotonic(), deadline, "mt5-api never became ready:\n" + mt5.describe())
            time.sleep(0.1)
        yield sim, mt5, gh.Trader(types.SimpleNamespace(auth=test.stack.auth, mt5=mt5))
    finally:
        mt5.stop()
        mt5.cleanup()
        sim.stop()
        shutil.rmtree(sim_dir, ignore_errors=True)


@unittest.skipUnless(gh.broker_name() == "fix", "needs PERMISO_TEST_BROKER=fix")
class FixSessionTest(gh.GatewayTestCase):
    stack_kwargs = {"mt5_env": {"LOG_LEVEL": "DEBUG"}}  # the FIX messages are logged at debug

    def trades_with(self, trader, comment):
        return [t for t in trader.trades() if t.get("comment") == comment]

    def wait_one_trade(self, trader, comment, timeout=30):
        """Waits until the order became a trade. A duplicate would come with the re-read that
        follows: the callers' next order re-reads the account before it is acknowledged."""
        deadline = time.monotonic() + timeout
        while not self.trades_with(trader, comment):
            if time.monotonic() > deadline:
                self.fail(f"the order {comment!r} never became a trade")
            time.sleep(0.1)

    def send_while_silent(self, trader, comment):
        """Pauses mt5-sim, sends an order into the still logged-on session, and returns the
        gateway's answer: 202 (outcome pending) or 503, within the FIX timeout. The trader's
        account is opened first: the order, not the account, must be what goes unanswered."""
        trader.account()
        self.mt5.sim.pause()
        started = time.monotonic()
        r = trader.post(f"{V1}/trades", json={"symbol": "EURUSD", "volume": 0.01, "trade_type": "buy",
                                              "comment": comment}, allow_5xx=True)
        self.assertIn(r.status, (202, 503), r)
        self.assertLess(time.monotonic() - started, 5.0, "the order must not wait beyond MT5_FIX_TIMEOUT_MS")
        return r

    def test_an_order_answered_late_is_settled_once(self):
        tr = self.stack.trader()
        try:
            self.send_while_silent(tr, "late answer")
        finally:
            self.mt5.sim.resume()
        self.wait_one_trade(tr, "late answer")
        tr.open(volume=0.01, comment="after")  # the session still trades
        self.assertEqual(len(self.trades_with(tr, "late answer")), 1)

    def test_an_order_in_flight_across_a_dropped_session_is_settled_once(self):
        tr = self.stack.trader()
        try:
            self.send_while_silent(tr, "across the drop")
            self.wait_ready(False)  # heartbeats unanswered: the session is gone
        finally:
            self.mt5.sim.resume()
        self.wait_ready(True)  # logged on again, sequence numbers resumed from the store
        self.wait_one_trade(tr, "across the drop")
        again = tr.open(volume=0.02, comment="after the drop")
        self.assertTrue(any(gh.same_id(t["id"], again["id"]) for t in tr.trades()))
        self.assertEqual(len(self.trades_with(tr, "across the drop")), 1)

    def test_a_retry_after_mt5_api_died_with_the_order_in_flight_returns_that_order(self):
        # The order's ClOrdID comes from its Idempotency-Key, so the retry is the same order to
        # the counterparty: answered with the first execution, not executed again, although the
        # gateway that sent it died before it knew the outcome.
        tr = self.stack.trader()
        key = harness.uniq("in-flight-")
        body = {"symbol": "EURUSD", "volume": 0.01, "trade_type": "buy", "comment": "in flight at the crash"}
        tr.account()
        self.mt5.sim.pause()
        old = self.stack.mt5
        try:
            r = tr.post(f"{V1}/trades", json=body, headers={"Idempotency-Key": key}, allow_5xx=True)
            self.assertIn(r.status, (202, 503), r)
            old.kill()
            old.stop()
        finally:
            self.mt5.sim.resume()  # it reads the order still in its socket and executes it
        self.stack.mt5 = gh.Mt5Server(self.stack.auth, self.stack.service_secret, env=self.stack.mt5_env,
                                      same=old).start()
        self.stack.previous_mt5 = old
        self.wait_ready(True)
        self.wait_one_trade(tr, "in flight at the crash")  # the re-read found what the order did
        executed = self.trades_with(tr, "in flight at the crash")[0]
        retry = tr.post(f"{V1}/trades", json=body, headers={"Idempotency-Key": key})
        self.assertEqual(retry.status, 201, retry)
        self.assertTrue(gh.same_id(retry.body["id"], executed["id"]), (retry.body, executed))
        self.assertEqual(len(self.trades_with(tr, "in flight at the crash")), 1)

    def test_no_log_line_holds_the_password(self):
        tr = self.stack.trader()
        tr.open(volume=0.01, comment="logged")
        password = self.mt5.sim.password
        gateway_log = harness._read(self.mt5.log_path)
        self.assertIn("554=***", gateway_log, "the gateway logs its FIX messages at debug, the logon included")
        self.assertNotIn(password, gateway_log)
        self.assertNotIn(password, self.mt5.sim.output())

    def test_a_wrong_password_never_logs_on(self):
        data_dir = tempfile.mkdtemp(prefix="permiso-mt5-wrong-")
        self.addCleanup(shutil.rmtree, data_dir, True)
        env = dict(self.mt5.env)
        env.update({"MT5_PASSWORD": "not-the-password", "MT5_API_PORT": str(harness.free_port()),
                    "PERMISO_DATA_DIR": data_dir, "MT5_DATABASE_URL": f"sqlite:///{data_dir}/mt5.db",
                    "MT5_FIX_SENDER_COMP_ID": gh.FixSim.spare_comp_id})  # its own session
        proc = subprocess.run([self.mt5.binary], env=env, capture_output=True, timeout=60)
        output = (proc.stdout + proc.stderr).decode(errors="replace")
        self.assertNotEqual(proc.returncode, 0, output)
        self.assertIn("did not log on", output)
        self.assertNotIn("not-the-password", output)
        self.assertIn("wrong password", self.mt5.sim.output())
        self.assertNotIn("not-the-password", self.mt5.sim.output())


def make_rsa_certificates(tls_dir):
    """A CA and a server certificate for localhost/127.0.0.1 signed by it, with RSA keys (QuickFIX
    1.15.1 reads no other kind, so scripts/dev-tls's EC keys will not do)."""
    os.makedirs(tls_dir, mode=0o700)

    def run(*args):
        subprocess.run(["openssl", *args], cwd=tls_dir, check=True, capture_output=True, timeout=60)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=permiso-fix-test-ca")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost",
        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-copy_extensions", "copy", "-out", "server.pem", "-days", "2")


class TlsFixSim(gh.FixSim):
    """mt5-sim's FIX acceptor over TLS, with a certificate of a CA made for the test."""

    def __init__(self, data_dir):
        super().__init__(data_dir)
        self.tls_dir = os.path.join(data_dir, "fix-tls")
        make_rsa_certificates(self.tls_dir)

    def arguments(self):
        return super().arguments() + ["--fix-tls-cert", os.path.join(self.tls_dir, "server.pem"),
                                      "--fix-tls-key", os.path.join(self.tls_dir, "server.key")]

    def env(self):
        return dict(super().env(), MT5_FIX_TLS="true", MT5_FIX_CA_FILE=os.path.join(self.tls_dir, "ca.pem"))


@unittest.skipUnless(gh.broker_name() == "fix", "needs PERMISO_TEST_BROKER=fix")
class FixOverTlsTest(gh.GatewayTestCase):
    def test_mt5_api_trades_through_a_tls_session(self):
        with gateway_over(self, TlsFixSim, "permiso-fix-tls-") as (_, _, trader):
            opened = trader.open(volume=0.01, comment="over tls")
            self.assertTrue(any(gh.same_id(t["id"], opened["id"]) for t in trader.trades()))
            self.assertIn("over tls", [t.get("comment") for t in trader.trades()])

    def test_a_plain_session_to_a_tls_acceptor_never_logs_on(self):
        sim_dir = tempfile.mkdtemp(prefix="permiso-fix-tls-")
        sim = TlsFixSim(sim_dir).start()
        try:
            env = dict(self.mt5.env)
            env.update(sim.env())
            env.update({"MT5_FIX_TLS": None, "MT5_FIX_CA_FILE": None, "MT5_API_PORT": str(harness.free_port()),
                        "PERMISO_DATA_DIR": sim_dir, "MT5_DATABASE_URL": f"sqlite:///{sim_dir}/mt5.db"})
            env = {k: v for k, v in env.items() if v is not None}
            proc = subprocess.run([self.mt5.binary], env=env, capture_output=True, timeout=60)
            output = (proc.stdout + proc.stderr).decode(errors="replace")
            self.assertNotEqual(proc.returncode, 0, output)
            self.assertIn("did not log on", output)
        finally:
            sim.stop()
            shutil.rmtree(sim_dir, ignore_errors=True)


# Every custom field a broker might carry renumbered, each into 7000+ (docs/fix.md).
BROKER_TAGS = ("PositionID=7001,Magic=7002,StopLoss=7004,TakeProfit=7005,Mt5Retcode=7010,Profit=7011,"
               "Swap=7012,Bid=7013,Ask=7014,Reason=7015,OpenTimeMsc=7016,UpdateTimeMsc=7017,PriceOpen=7018,"
               "PriceCurrent=7019,DealType=7020,DealEntry=7021,FromMsc=7022,ToMsc=7023,OrderState=7024,"
               "Filling=7025,VolumeInitial=7026,Comment=7027,Balance=7030,Credit=7031,Equity=7032,Margin=7033,"
               "MarginFree=7034,MarginLevel=7035,Leverage=7036,MarginCall=7037,StopOut=7038,AccountName=7039,"
               "Server=7040,Demo=7041,Deposit=7042,AccountReqID=7043,Digits=7050,Point=7051,BaseCurrency=7052,"
               "MarginCurrency=7053,VolumeMax=7054,VolumeStep=7055,StopsLevel=7056,CalcMode=7057,"
               "TradeAllowed=7058,Deviation=7003")


class RenumberedFixSim(gh.FixSim):
    """mt5-sim's FIX acceptor numbering our custom fields as BROKER_TAGS says (two --fix-tags)."""

    def arguments(self):
        first, second = BROKER_TAGS.split(",Balance=")
        return super().arguments() + ["--fix-tags", first, "--fix-tags", "Balance=" + second]


@unittest.skipUnless(gh.broker_name() == "fix", "needs PERMISO_TEST_BROKER=fix")
class RenumberedTagsTest(gh.GatewayTestCase):
    def test_mt5_api_trades_under_the_brokers_numbering(self):
        with gateway_over(self, RenumberedFixSim, "permiso-fix-tags-", env={"MT5_FIX_TAGS": BROKER_TAGS}) as (
                sim, _, trader):
            self.assertIn("custom fields renumbered PositionID=7001", sim.output())
            account = trader.account()
            self.assertAlmostEqual(float(account["balance"]), gh.DEMO_DEPOSIT)
            opened = trader.open(volume=0.01, comment="renumbered")
            trades = trader.trades()
            self.assertTrue(any(gh.same_id(t["id"], opened["id"]) for t in trades), trades)
            self.assertIn("renumbered", [t.get("comment") for t in trades])

    def test_a_gateway_numbering_otherwise_never_starts_and_says_why(self):
        sim_dir = tempfile.mkdtemp(prefix="permiso-fix-tags-")
        sim = RenumberedFixSim(sim_dir).start()
        try:
            env = dict(self.mt5.env)
            env.update(sim.env())  # no MT5_FIX_TAGS: the dictionary's numbers
            env.update({"MT5_API_PORT": str(harness.free_port()), "PERMISO_DATA_DIR": sim_dir,
                        "MT5_DATABASE_URL": f"sqlite:///{sim_dir}/mt5.db"})
            proc = subprocess.run([self.mt5.binary], env=env, capture_output=True, timeout=90)
            output = (proc.stdout + proc.stderr).decode(errors="replace")
            self.assertNotEqual(proc.returncode, 0, output)
            # The session logs on, but QuickFIX rejects the broker's SecurityList.
            self.assertIn("logged on", output)
            self.assertIn("Rejected", output)
            self.assertIn("MT5_FIX_TAGS", output)
            self.assertIn("did not log on and read the instruments", output)
        finally:
            sim.stop()
            shutil.rmtree(sim_dir, ignore_errors=True)

    def test_bad_tags_are_refused_at_start_by_both_programs(self):
        env = dict(self.mt5.env, MT5_FIX_TAGS="PositionID=7001,Magic=7001")
        proc = subprocess.run([self.mt5.binary], env=env, capture_output=True, timeout=60)
        output = (proc.stdout + proc.stderr).decode(errors="replace")
        self.assertEqual(proc.returncode, 2, output)
        self.assertIn("MT5_FIX_TAGS: PositionID 7001 is Magic's number too", output)
        sim_dir = tempfile.mkdtemp(prefix="permiso-fix-tags-")
        try:
            sim = gh.FixSim(sim_dir)
            proc = subprocess.run(sim.arguments() + ["--fix-tags", "Colour=7001"], env=sim.environment(),
                                  capture_output=True, timeout=60)
            output = (proc.stdout + proc.stderr).decode(errors="replace")
            self.assertEqual(proc.returncode, 2, output)
            self.assertIn("--fix-tags: Colour is not a custom field", output)
        finally:
            shutil.rmtree(sim_dir, ignore_errors=True)


class LedgerFixSim(gh.FixSim):
    """mt5-sim's FIX acceptor as a broker without RequestForPositions and CollateralInquiry."""

    def without(self):
        return ["--fix-without", "RequestForPositions", "--fix-without", "CollateralInquiry"]


@unittest.skipUnless(gh.broker_name() == "fix", "needs PERMISO_TEST_BROKER=fix")
class FixLedgerTest(gh.GatewayTestCase):
    def test_the_seed_flow_over_a_counterparty_without_positions_and_collateral(self):
        with gateway_over(self, LedgerFixSim, "permiso-fix-ledger-") as (_, mt5, trader):
            account = trader.account()
            self.assertAlmostEqual(float(account["balance"]), gh.DEMO_DEPOSIT)
            self.assertEqual(float(account["margin"]), 0.0, account)
            for line in ("does not support RequestForPositions", "does not support CollateralInquiry"):
                self.assertIn(line, mt5.output())
            for part in ("positions", "collateral"):
                self.assertEqual(gh.harness.metric_sample(mt5, "mt5_fix_ledger", f'{{part="{part}"}}'), 1.0, part)

            opened = trader.open(volume=0.1, comment="ledger")
            self.assertIn("ledger", [t.get("comment") for t in trader.trades()])
            account = trader.account()
            # EURUSD at 1:100: 0.1 lot of 100,000 EUR is 100 EUR of margin, near 108 USD.
            self.assertGreater(float(account["margin"]), 90, account)
            self.assertLess(float(account["margin"]), 130, account)
            self.assertAlmostEqual(float(account["equity"]), float(account["balance"]) + float(account["profit"]),
                                   places=2)
            self.assertAlmostEqual(float(account["free_margin"]), float(account["equity"]) - float(account["margin"]),
                                   places=2)

            closed = trader.delete(gh.trade_path(opened))
            self.assertEqual(closed.status, 200, closed)
            profit = trader.get(gh.trade_path(opened)).body["profit"]
            account = trader.account()
            self.assertAlmostEqual(float(account["balance"]), gh.DEMO_DEPOSIT + profit, places=2)
            self.assertEqual(float(account["margin"]), 0.0, account)
            self.assertNotIn("ledger", [t.get("comment") for t in trader.trades()])
