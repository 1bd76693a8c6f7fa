# Signing-key rotation with overlapping validity: a new key is published before it signs,
# tokens signed before the rotation keep verifying (contract: /admin/keys, /admin/keys/rotate).
import time
import unittest

import jwt

from harness import V1, ServerTestCase, find_list
from tokens import PRIVATE_JWK_MEMBERS, jwks, me, verify_access_token


def kid_of(token):
    return jwt.get_unverified_header(token)["kid"]


def jwks_kids(server):
    return {k["kid"] for k in jwks(server)["keys"]}


class KeyRotationTest(ServerTestCase):
    server_env = {"JWT_ALGORITHM": "RS256", "PERMISO_KEY_PUBLISH_DELAY_S": "0"}

    def admin_keys(self):
        r = self.server.get(f"{V1}/admin/keys", bearer=self.server.admin_token())
        self.assertEqual(r.status, 200, r)
        return find_list(r.body, "keys", "items")

    def rotate(self):
        r = self.server.post(f"{V1}/admin/keys/rotate", bearer=self.server.admin_token())
        self.assertIn(r.status, (200, 201), r)
        return r

    def test_admin_keys_lists_the_signing_key_without_private_material(self):
        s = self.server
        token = s.login(s.admin_username, s.admin_password)["access_token"]
        keys = self.admin_keys()
        self.assertIn(kid_of(token), {k["kid"] for k in keys})
        for k in keys:
            for member in PRIVATE_JWK_MEMBERS:
                self.assertNotIn(member, k)
            for name in k:
                self.assertNotIn("private", name.lower())
                self.assertNotIn("secret", name.lower())

    def test_rotation_publishes_new_key_and_old_tokens_still_verify(self):
        s = self.server
        old = s.login(s.admin_username, s.admin_password)
        old_kid = kid_of(old["access_token"])
        before = jwks_kids(s)
        self.rotate()
        after = jwks_kids(s)
        new_kids = after - before
        self.assertEqual(len(new_kids), 1, f"exactly one new key in the JWKS: {before} → {after}")
        new_kid = new_kids.pop()
        self.assertIn(old_kid, after, "the retired key stays published while its tokens live")
        self.assertIn(new_kid, {k["kid"] for k in self.admin_keys()})
        # Tokens signed before the rotation still verify, through the JWKS and at the server.
        verify_access_token(self, s, old["access_token"])
        self.assertEqual(me(s, old["access_token"]).status, 200)
        # With no publish delay, new tokens carry the new kid once it is active.
        deadline = time.time() + 5
        while True:
            fresh = s.login(s.admin_username, s.admin_password)
            if kid_of(fresh["access_token"]) == new_kid or time.time() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(kid_of(fresh["access_token"]), new_kid)
        verify_access_token(self, s, fresh["access_token"])
        self.assertEqual(me(s, fresh["access_token"]).status, 200)
        # Tokens from a refresh chain that started before the rotation use the current key.
        r = s.post(f"{V1}/auth/refresh", json={"refresh_token": old["refresh_token"]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(kid_of(r.body["access_token"]), new_kid)
        # Service tokens too.
        created = s.create_client(scopes=("trade:read",))
        tok = s.service_token(created["client"]["client_id"], created["client_secret"]).body["access_token"]
        self.assertEqual(kid_of(tok), new_kid)
        verify_access_token(self, s, tok, "service")

    def test_rotation_requires_admin(self):
        s = self.server
        _, _, tokens = s.user_session()
        self.assertError(s.post(f"{V1}/admin/keys/rotate", bearer=tokens["access_token"]),
                         403, "insufficient_scope")
        self.assertInvalidToken(s.post(f"{V1}/admin/keys/rotate"))


class DelayedPublicationTest(ServerTestCase):
    server_env = {"JWT_ALGORITHM": "ES256", "PERMISO_KEY_PUBLISH_DELAY_S": "3600"}

    def test_new_key_is_published_before_it_signs(self):
        s = self.server
        current = kid_of(s.login(s.admin_username, s.admin_password)["access_token"])
        before = jwks_kids(s)
        r = s.post(f"{V1}/admin/keys/rotate", bearer=s.admin_token())
        self.assertIn(r.status, (200, 201), r)
        after = jwks_kids(s)
        self.assertEqual(len(after - before), 1, "the next key is published at once")
        token = s.login(s.admin_username, s.admin_password)["access_token"]
        self.assertEqual(kid_of(token), current, "…but does not sign until the publish delay passed")
        verify_access_token(self, s, token)


if __name__ == "__main__":
    unittest.main()
