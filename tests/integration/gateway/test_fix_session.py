# MT5_BROKER=fix only: the FIX 4.4 session between mt5-api and mt5-sim (docs/fix.md). An order
# sent into a session that goes silent is settled exactly once when the counterparty answers,
# whether the session survived (the late ExecutionReport) or dropped and logged on again
# (resend, and the OrderStatusRequest by ClOrdID); a wrong password never logs on; and no log
# line holds the password.
import subprocess
import tempfile
import time
import unittest

import gateway_harness as gh
import harness
from gateway_harness import V1


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
