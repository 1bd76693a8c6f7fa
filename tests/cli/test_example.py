# examples/service_to_service against the real permiso-auth and mt5-api (started by the gateway
# suite's harness). Skipped when MT5_API_BIN is empty (mt5-api not built in this tree).
"""Environment: EXAMPLE_BIN, MT5_API_BIN, PERMISO_AUTH_BIN, PERMISO_REPO."""

import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "integration", "gateway"))

EXAMPLE = os.environ.get("EXAMPLE_BIN", "")


@unittest.skipUnless(os.environ.get("MT5_API_BIN"), "mt5-api is not built in this tree")
class TestServiceToService(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import gateway_harness
        cls.stack = gateway_harness.Stack().start()

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()

    def run_example(self, scopes):
        created = self.stack.auth.create_client(scopes=scopes)
        env = dict(os.environ, PERMISO_URL=self.stack.auth.base_url, MT5_API_URL=self.stack.mt5.base_url,
                   PERMISO_CLIENT_ID=created["client"]["client_id"], PERMISO_CLIENT_SECRET=created["client_secret"],
                   NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
        return subprocess.run([EXAMPLE], capture_output=True, text=True, env=env, timeout=60)

    def test_reads_the_account_and_trades_with_a_service_token(self):
        p = self.run_example(("trade:read", "account:read"))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("GET /api/v1/account -> 200", p.stdout)
        self.assertIn("balance", p.stdout)
        self.assertIn("GET /api/v1/trades -> 200", p.stdout)

    def test_a_scope_the_client_lacks_is_reported_by_name(self):
        p = self.run_example(("trade:read",))
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("invalid_scope", p.stderr)
        self.assertIn("account:read", p.stderr)


if __name__ == "__main__":
    unittest.main()
