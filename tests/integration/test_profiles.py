# The development profile's own defaults (seed: HS256, issuer permiso-auth-dev, 60-minute access
# tokens, generated development keys) and a restart on the same data keeping every state.
import shutil
import tempfile
import unittest

import jwt

import harness
from harness import V1, AuthServer, ServerTestCase
from tokens import discovery, jwks, me, verify_access_token


class DevelopmentDefaultsTest(ServerTestCase):
    server_env = {"JWT_ALGORITHM": None, "JWT_SECRET_KEY": None, "JWT_ISSUER": None}

    def test_development_profile_signs_hs256_tokens_for_60_minutes(self):
        s = self.server
        body = s.login(s.admin_username, s.admin_password)
        self.assertEqual(body["expires_in"], 3600)
        header = jwt.get_unverified_header(body["access_token"])
        claims = jwt.decode(body["access_token"], options={"verify_signature": False})
        self.assertEqual(header["alg"], "HS256")
        self.assertEqual(header["typ"], "at+jwt")
        self.assertEqual(claims["iss"], "permiso-auth-dev")
        self.assertEqual(discovery(s)["issuer"], "permiso-auth-dev")
        self.assertAlmostEqual(claims["exp"] - claims["iat"], 3600, delta=2)
        self.assertEqual(me(s, body["access_token"]).status, 200)
        self.assertFalse([k for k in jwks(s)["keys"] if k.get("kty") == "oct"])

    def test_health_says_development(self):
        self.assertEqual(self.server.get("/health").body["environment"], "development")


class RestartKeepsStateTest(unittest.TestCase):
    """A second start on the same data reuses it: users, clients, sessions and signing keys."""

    def run_restart(self, env):
        data_dir = tempfile.mkdtemp(prefix="permiso-restart-")
        redis = None
        if harness.backend_name() == "postgres+redis":
            redis = harness.Redis()
            redis.start()
        database_url = (f"sqlite:///{data_dir}/permiso.db" if harness.backend_name() == "sqlite"
                        else harness.postgres().new_database())
        issuer = "http://permiso-auth.restart.test"
        password = harness.strong_password()
        common = dict(data_dir=data_dir, database_url=database_url, redis=redis, issuer=issuer,
                      admin_password=password)
        env = dict(env, JWT_ISSUER=issuer)
        first = second = None
        try:
            first = AuthServer(env=env, **common).start()
            user, user_pw, tokens = first.user_session()
            created = first.create_client(scopes=("trade:read",))
            self.assertEqual(first.stop(), 0, "clean exit on SIGTERM\n" + first.describe())
            second = AuthServer(env=env, **common).start()
            self.assertEqual(me(second, tokens["access_token"]).status, 200,
                             "a token issued before the restart still verifies")
            if env.get("JWT_ALGORITHM") not in (None, "HS256"):
                verify_access_token(self, second, tokens["access_token"])
            r = second.post(f"{V1}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
            self.assertEqual(r.status, 200, r)
            second.login(user["username"], user_pw)
            second.service_token(created["client"]["client_id"], created["client_secret"])
            code = second.stop()
            self.assertEqual(code, 0, "clean exit on SIGTERM\n" + second.describe())
        finally:
            for s in (first, second):
                if s is not None:
                    s.kill()
                    s.stop()
            if redis is not None:
                redis.stop()
            shutil.rmtree(data_dir, ignore_errors=True)

    def test_restart_with_generated_development_key(self):
        self.run_restart({"JWT_ALGORITHM": None, "JWT_SECRET_KEY": None})

    def test_restart_with_generated_rs256_key(self):
        self.run_restart({"JWT_ALGORITHM": "RS256", "JWT_SECRET_KEY": None})


if __name__ == "__main__":
    unittest.main()
