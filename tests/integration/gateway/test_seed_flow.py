# The seed's integration test (service-integration-guide-part2.md, TestServiceIntegration), step
# by step against the real permiso-auth and mt5-api: admin token → register
# test-integration-client → service token → GET /trades → POST without trade:open refused →
# revoke → refused.
import time
import unittest

import gateway_harness as gh
from gateway_harness import V1


def tearDownModule():
    gh.stop_module_stack(__name__)


class SeedFlowTest(gh.GatewayTestCase):
    def test_complete_authentication_flow_and_revocation(self):
        auth, mt5 = self.stack.auth, self.stack.mt5
        # Step 1: admin token (password grant, form) and the seed's client registration.
        r = auth.post(f"{V1}/auth/token", form={"username": auth.admin_username,
                                                "password": auth.admin_password})
        self.assertEqual(r.status, 200, r)
        admin_token = r.body["access_token"]
        r = auth.post(f"{V1}/admin/service-clients", bearer=admin_token, json={
            "client_id": "test-integration-client",
            "name": "Integration Test Client",
            "description": "Client for integration testing",
            "client_type": "confidential",
            "is_trusted": True,
            "access_token_lifetime": 3600,
            "scope_ids": ["trade:read", "trade:open", "account:read"],
        })
        self.assertEqual(r.status, 201, r)
        client_id, client_secret = r.body["client"]["client_id"], r.body["client_secret"]
        self.assertEqual(client_id, "test-integration-client")

        # Step 2: the seed's service token, scopes trade:read and account:read.
        r = auth.post(f"{V1}/auth/service-token", form={"client_id": client_id,
                                                        "client_secret": client_secret,
                                                        "scope": "trade:read account:read"})
        self.assertEqual(r.status, 200, r)
        service_token = r.body["access_token"]
        self.assertGreater(len(service_token), 50, "JWT tokens are long")

        # Step 3: GET /api/v1/trades with it is a JSON array.
        r = mt5.get(f"{V1}/trades", bearer=service_token)
        self.assertEqual(r.status, 200, r)
        self.assertIsInstance(r.body, list, r)

        # Step 4: POST /trades without trade:open is refused (403 insufficient_scope).
        r = mt5.post(f"{V1}/trades", bearer=service_token,
                     json={"symbol": "EURUSD", "volume": 0.1, "trade_type": "buy"})
        body = self.assertInsufficientScope(r, "trade:open")
        self.assertEqual(body["missing_scopes"], ["trade:open"], r)
        # ... and nothing was opened.
        self.assertEqual(mt5.get(f"{V1}/trades", bearer=service_token).body, [])

        # test_token_revocation: revoke with the seed's form (bearer + JSON {token}).
        r = auth.post(f"{V1}/auth/revoke", bearer=service_token, json={"token": service_token})
        self.assertEqual(r.status, 200, r)
        revoked_at = time.monotonic()
        last = None
        while time.monotonic() - revoked_at < gh.REVOCATION_DEADLINE_S:
            last = mt5.get(f"{V1}/trades", bearer=service_token)
            if last.status == 401:
                break
            self.assertEqual(last.status, 200, last)
            time.sleep(0.05)
        elapsed = time.monotonic() - revoked_at
        self.assertIsNotNone(last)
        self.assertEqual(last.status, 401, f"a revoked token is still accepted {elapsed:.2f}s after "
                                           f"revocation (contract: within 2 s): {last!r}")
        self.assertLessEqual(elapsed, gh.REVOCATION_DEADLINE_S)
        self.assertInvalidToken(last)

    def test_service_token_with_trade_open_may_post(self):
        """The same client, asking for trade:open too, opens a trade (201)."""
        trader = self.stack.trader(scopes=("trade:read", "trade:open", "account:read"))
        t = trader.open(volume=0.1)
        self.assertTradeShape(t)
        self.assertEqual(t["status"], "open")


if __name__ == "__main__":
    unittest.main()
