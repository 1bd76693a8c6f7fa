# permiso-auth unreachable from mt5-api: tokens of the keys the gateway already holds keep
# working (reads and trades), a token naming an unknown kid is refused (no key can be fetched for
# it), and /ready stays 200 (every replica would otherwise leave the load balancer at once) while
# its checks say permiso_auth: unreachable. Once permiso-auth is back they say reachable again.
import unittest
import uuid

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

import gateway_harness as gh
from gateway_harness import V1

DEADLINE_S = 60  # the key refresh backs off up to 30 s between attempts


def wait_for(predicate, within_s=DEADLINE_S):
    return gh.harness.wait_until(predicate, within_s, every_s=0.2)


class AuthOutageTest(gh.GatewayTestCase):
    stack_kwargs = {}

    def permiso_auth_check(self):
        r = self.mt5.get("/ready", allow_5xx=True)
        return r.status, r.body.get("checks", {}).get("permiso_auth")

    def restart_auth_on_its_port(self, old):
        """A new permiso-auth on the stopped one's port, data, database and Redis."""
        new = gh.AuthServer(env=dict(old.env), data_dir=old.data_dir, database_url=old.database_url,
                            redis=old.redis, jwt_secret=old.jwt_secret, issuer=old.issuer,
                            admin_password=old.admin_password)
        new.port, new.base_url = old.port, old.base_url
        new.env["PERMISO_PORT"] = str(old.port)
        new.owns_data_dir, new.owns_redis = old.owns_data_dir, old.owns_redis
        old.owns_data_dir, old.owns_redis = False, False
        return new.start()

    def test_a_gateway_that_cannot_read_the_feed_says_so_and_not_that_it_lacks_keys(self):
        # A wrong mt5-service secret: the JWKS is public, the revocation feed is not.
        wrong = gh.Mt5Server(self.stack.auth, "not-the-mt5-service-secret").start()
        try:
            def checks():
                r = wrong.get("/ready", allow_5xx=True)
                return r.status, r.body.get("checks", {})
            self.assertTrue(wait_for(lambda: checks()[1].get("verification_keys") == "loaded"), checks())
            status, body = checks()
            self.assertEqual(status, 503, "not ready while it cannot know what was revoked")
            self.assertEqual(body.get("revocations"), "not_loaded", body)
            self.assertEqual(body.get("permiso_auth"), "unreachable", body)
        finally:
            wrong.stop()
            wrong.cleanup()
        status, body = self.mt5.get("/ready").status, self.mt5.get("/ready").body["checks"]
        self.assertEqual((status, body["verification_keys"], body["revocations"]), (200, "loaded", "loaded"))

    def auth_up(self):
        return gh.harness.metric_sample(self.mt5, "mt5_dependency_up", '{dependency="permiso_auth"}')

    def test_valid_tokens_keep_working_unknown_kids_are_refused_and_ready_says_so(self):
        trader = self.stack.trader()
        self.assertEqual(trader.get(f"{V1}/account").status, 200)
        self.assertEqual(self.permiso_auth_check(), (200, "reachable"))
        token = trader.token
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})

        old = self.stack.auth
        self.assertEqual(old.stop(), 0, old.describe())
        self.assertEqual(trader.get(f"{V1}/account").status, 200, "a known key's token still verifies")
        opened = trader.post(f"{V1}/trades", json={"symbol": "EURUSD", "volume": 0.01, "trade_type": "buy"})
        self.assertEqual(opened.status, 201, f"trading goes on while permiso-auth is down: {opened!r}")
        stranger = jwt.encode(dict(claims, jti=str(uuid.uuid4())), ec.generate_private_key(ec.SECP256R1()),
                              algorithm="ES256", headers={"typ": "at+jwt", "kid": "kid-" + header["kid"]})
        self.assertInvalidToken(self.mt5.get(f"{V1}/trades", bearer=stranger), "unknown kid while down")
        self.assertEqual(wait_for(lambda: self.permiso_auth_check()[1] == "unreachable") and
                         self.permiso_auth_check(), (200, "unreachable"),
                         "/ready stays 200 and says permiso-auth is unreachable")
        self.assertEqual(self.auth_up(), 0, "the alert rules' gauge says so too")

        self.stack.auth = self.restart_auth_on_its_port(old)
        self.assertTrue(wait_for(lambda: self.permiso_auth_check() == (200, "reachable")),
                        f"/ready says reachable once permiso-auth is back: {self.permiso_auth_check()}")
        self.assertEqual(self.mt5.get(f"{V1}/trades", bearer=trader.new_token()).status, 200)
        self.assertEqual(self.auth_up(), 1)


if __name__ == "__main__":
    unittest.main()
