# Self-service users: registration and its validation, /users/me, /users/profile and password
# change (contract: POST /users/register, GET/PUT /users/me, GET /users/profile, PUT /users/{id}/password).
import secrets
import unittest

import harness
from harness import V1, ServerTestCase, strong_password, uniq
from tokens import me

USER_FIELDS = ("id", "username", "email", "first_name", "last_name", "display_name", "bio",
               "is_active", "is_verified", "is_superuser", "full_name", "last_login", "created_at",
               "updated_at", "roles", "scopes")


def setUpModule():
    harness.start_module_server(__name__)


def tearDownModule():
    harness.stop_module_server(__name__)


def assert_no_secret(test, obj, path="user"):
    if isinstance(obj, dict):
        for k, v in obj.items():
            test.assertNotIn("password", k.lower(), f"{path}.{k} must never be exposed")
            test.assertNotIn("hash", k.lower(), f"{path}.{k} must never be exposed")
            assert_no_secret(test, v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            assert_no_secret(test, v, f"{path}[{i}]")


class RegisterTest(ServerTestCase):
    def register(self, **body):
        return self.server.post(f"{V1}/users/register", json=body)

    def valid(self, **over):
        name = uniq("reg_")
        body = {"username": name, "email": f"{name}@example.com", "password": strong_password()}
        body.update(over)
        return body

    def assertUser(self, user):
        for f in USER_FIELDS:
            self.assertIn(f, user, f"user lacks {f}: {user}")
        assert_no_secret(self, user)
        for role in user["roles"]:
            for k in ("id", "name", "description"):
                self.assertIn(k, role)
        self.assertIsInstance(user["scopes"], list)

    def test_register_is_public_and_answers_201_with_the_user(self):
        body = self.valid(first_name="Ada", last_name="Lovelace")
        r = self.register(**body)
        self.assertEqual(r.status, 201, r)
        self.assertUser(r.body)
        self.assertEqual(r.body["username"], body["username"])
        self.assertEqual(r.body["email"], body["email"])
        self.assertEqual(r.body["first_name"], "Ada")
        self.assertEqual(r.body["last_name"], "Lovelace")
        self.assertEqual(r.body["full_name"], "Ada Lovelace")
        self.assertIs(r.body["is_active"], True)
        self.assertIs(r.body["is_superuser"], False)
        self.assertIn("user", {x["name"] for x in r.body["roles"]}, "self-registered users get role user")
        self.assertNotIn("admin", {x["name"] for x in r.body["roles"]})

    def test_register_cannot_grant_itself_privileges(self):
        r = self.register(**self.valid(is_superuser=True, roles=["admin"], role_ids=[1], is_verified=True))
        if r.status == 201:
            self.assertIs(r.body["is_superuser"], False)
            self.assertNotIn("admin", {x["name"] for x in r.body["roles"]})
        else:
            self.assertError(r, 422, "validation_error")

    def test_username_is_stored_lowercase(self):
        name = uniq("CamelCase_")
        r = self.register(**self.valid(username=name, email=f"{name.lower()}@example.com"))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.body["username"], name.lower())

    def test_bad_usernames_are_422_naming_username(self):
        for bad in ("ab", "x" * 51, "has space", "semi;colon", "dot.ted", "ünïcode", ""):
            r = self.register(**self.valid(username=bad))
            body = self.assertError(r, 422, "validation_error", f"username {bad!r}")
            self.assertFieldNamed(body, "username")

    def test_username_length_limits_3_and_50_are_inclusive(self):
        for ok in ("z" + secrets.token_hex(1), ("Z_" + secrets.token_hex(24))[:50]):
            r = self.register(**self.valid(username=ok, email=f"{uniq('e')}@example.com"))
            self.assertEqual(r.status, 201, f"username of {len(ok)} characters: {r!r}")
            self.assertEqual(r.body["username"], ok.lower())

    def test_bad_passwords_are_422_naming_password(self):
        for bad in ("Sh0rt!", "alllowercase1!", "ALLUPPERCASE1!", "NoDigitsHere!", "NoSymbols123",
                    "Aa1!" + "x" * 125):
            r = self.register(**self.valid(password=bad))
            body = self.assertError(r, 422, "validation_error", f"password {bad!r}")
            self.assertFieldNamed(body, "password")

    def test_bad_emails_are_422_naming_email(self):
        for bad in ("not-an-email", "a@", "@example.com", "two@@example.com"):
            r = self.register(**self.valid(email=bad))
            body = self.assertError(r, 422, "validation_error", f"email {bad!r}")
            self.assertFieldNamed(body, "email")

    def test_missing_fields_are_422(self):
        for missing in ("username", "email", "password"):
            body = self.valid()
            del body[missing]
            r = self.register(**body)
            self.assertFieldNamed(self.assertError(r, 422, "validation_error", f"without {missing}"), missing)

    def test_duplicate_username_is_409_conflict_naming_username(self):
        body = self.valid()
        self.assertEqual(self.register(**body).status, 201)
        r = self.register(**self.valid(username=body["username"].upper()))
        self.assertFieldNamed(self.assertError(r, 409, "conflict"), "username")

    def test_duplicate_email_is_409_conflict_naming_email(self):
        body = self.valid()
        self.assertEqual(self.register(**body).status, 201)
        r = self.register(**self.valid(email=body["email"]))
        self.assertFieldNamed(self.assertError(r, 409, "conflict"), "email")


class MeTest(ServerTestCase):
    def test_me_returns_the_caller(self):
        s = self.server
        user, _, tokens = s.user_session()
        r = me(s, tokens["access_token"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["id"], user["id"])
        self.assertEqual(r.body["username"], user["username"])
        assert_no_secret(self, r.body)
        self.assertIsNotNone(r.body["last_login"], "a login sets last_login")

    def test_me_requires_a_token(self):
        self.assertInvalidToken(self.server.get(f"{V1}/users/me"))

    def test_put_me_updates_the_profile_fields(self):
        s = self.server
        _, _, tokens = s.user_session()
        r = s.put(f"{V1}/users/me", bearer=tokens["access_token"],
                  json={"first_name": "Grace", "last_name": "Hopper", "display_name": "amazing grace",
                        "bio": "COBOL"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["first_name"], "Grace")
        self.assertEqual(r.body["full_name"], "Grace Hopper")
        self.assertEqual(r.body["display_name"], "amazing grace")
        self.assertEqual(r.body["bio"], "COBOL")
        again = me(s, tokens["access_token"]).body
        self.assertEqual(again["bio"], "COBOL")

    def test_put_me_cannot_escalate(self):
        s = self.server
        _, _, tokens = s.user_session()
        r = s.put(f"{V1}/users/me", bearer=tokens["access_token"],
                  json={"is_superuser": True, "is_active": True, "roles": ["admin"]})
        self.assertIn(r.status, (200, 422), r)
        after = me(s, tokens["access_token"]).body
        self.assertIs(after["is_superuser"], False)
        self.assertNotIn("admin", {x["name"] for x in after["roles"]})

    def test_put_me_validates_email(self):
        s = self.server
        _, _, tokens = s.user_session()
        r = s.put(f"{V1}/users/me", bearer=tokens["access_token"], json={"email": "nope"})
        self.assertFieldNamed(self.assertError(r, 422, "validation_error"), "email")

    def test_profile_returns_the_caller(self):
        s = self.server
        user, _, tokens = s.user_session()
        r = s.get(f"{V1}/users/profile", bearer=tokens["access_token"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["username"], user["username"])
        assert_no_secret(self, r.body)


class PasswordChangeTest(ServerTestCase):
    def change(self, user_id, token, current, new):
        return self.server.put(f"{V1}/users/{user_id}/password", bearer=token,
                               json={"current_password": current, "new_password": new})

    def test_password_change_switches_the_password(self):
        s = self.server
        user, old, tokens = s.user_session()
        new = strong_password()
        r = self.change(user["id"], tokens["access_token"], old, new)
        self.assertEqual(r.status, 200, r)
        self.assertIsInstance(r.body["message"], str)
        self.assertError(s.post(f"{V1}/auth/token", form={"username": user["username"], "password": old}),
                         401, "invalid_grant")
        s.login(user["username"], new)

    def test_wrong_current_password_is_refused_and_changes_nothing(self):
        s = self.server
        user, old, tokens = s.user_session()
        r = self.change(user["id"], tokens["access_token"], "Wrong-Passw0rd!", strong_password())
        # 422 naming the field, not 401: the token is good and must not look bad to the client.
        self.assertFieldNamed(self.assertError(r, 422, "validation_error"), "current_password")
        self.assertNotIn("WWW-Authenticate", r.headers, r)
        self.assertEqual(s.get(f"{V1}/users/me", bearer=tokens["access_token"]).status, 200)
        s.login(user["username"], old)

    def test_weak_new_password_is_422_naming_new_password(self):
        s = self.server
        user, old, tokens = s.user_session()
        r = self.change(user["id"], tokens["access_token"], old, "weak")
        self.assertFieldNamed(self.assertError(r, 422, "validation_error"), "new_password")
        s.login(user["username"], old)

    def test_cannot_change_another_users_password(self):
        s = self.server
        _, _, tokens = s.user_session()
        victim, victim_pw = s.register_user()
        r = self.change(victim["id"], tokens["access_token"], victim_pw, strong_password())
        self.assertIn(r.status, (403, 404), r)
        self.assertError(r, r.status)
        s.login(victim["username"], victim_pw)


if __name__ == "__main__":
    unittest.main()
