# CORS from the seed's ALLOWED_ORIGINS / CORS_ORIGINS: allowed origins get the CORS headers,
# others do not; preflights are answered without authentication.
import unittest

from harness import V1, ServerTestCase

ALLOWED = "http://dashboard.test:3000"
EVIL = "http://evil.test"


class CorsTest(ServerTestCase):
    server_env = {"ALLOWED_ORIGINS": ALLOWED, "CORS_ORIGINS": ALLOWED}

    def test_allowed_origin_is_echoed(self):
        r = self.server.get("/health", headers={"Origin": ALLOWED})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers.get("Access-Control-Allow-Origin"), ALLOWED)
        self.assertIn("Origin", r.headers.get("Vary", ""))

    def test_other_origin_gets_no_cors_grant(self):
        r = self.server.get("/health", headers={"Origin": EVIL})
        self.assertNotIn(r.headers.get("Access-Control-Allow-Origin"), (EVIL, "*"))

    def test_preflight_of_the_token_endpoint(self):
        r = self.server.request("OPTIONS", f"{V1}/auth/token", headers={
            "Origin": ALLOWED, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization"})
        self.assertIn(r.status, (200, 204), r)
        self.assertEqual(r.headers.get("Access-Control-Allow-Origin"), ALLOWED)
        self.assertIn("POST", r.headers.get("Access-Control-Allow-Methods", ""))
        self.assertIn("authorization", r.headers.get("Access-Control-Allow-Headers", "").lower())

    def test_preflight_from_other_origin_is_not_granted(self):
        r = self.server.request("OPTIONS", f"{V1}/auth/token", headers={
            "Origin": EVIL, "Access-Control-Request-Method": "POST"})
        self.assertTrue(r.status < 500)
        self.assertNotIn(r.headers.get("Access-Control-Allow-Origin"), (EVIL, "*"))


if __name__ == "__main__":
    unittest.main()
