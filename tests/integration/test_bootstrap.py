# Bootstrap of the first admin: with PERMISO_BOOTSTRAP_ADMIN_* the given password works; without
# them a random password is printed once, and no fixed default password ever works.
import json
import re
import unittest

import harness
from harness import V1, AuthServer

# Passwords of the seed's examples and other classics: none may ever log in.
FIXED_DEFAULTS = ("admin123",)
MAX_GUESSES = 3  # stays below the lockout count of 5 together with the fixed-default check


def strings_of(obj, key=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from strings_of(v, k)
    elif isinstance(obj, list):
        for v in obj:
            yield from strings_of(v, key)
    elif isinstance(obj, str):
        yield key, obj


def password_candidates(output):
    """Likely passwords from the lines that mention a password, best first."""
    first, rest = [], []
    for line in output.splitlines():
        if "password" not in line.lower():
            continue
        texts = [line]
        try:
            obj = json.loads(line)
            pairs = list(strings_of(obj))
            first += [v for k, v in pairs if "password" in k.lower() and " " not in v.strip()]
            texts = [v for _, v in pairs]
        except ValueError:
            pass
        for text in texts:
            after = re.split(r"(?i)password", text, maxsplit=1)
            for part, bucket in ((after[-1], first), (text, rest)):
                for tok in re.split(r"\s+", part):
                    tok = tok.strip("\"'`,;()[]{}<>")
                    if "=" in tok[:-1] or tok.startswith(":"):
                        tok = re.split(r"[=:]", tok, maxsplit=1)[-1].strip("\"'`,;")
                    if len(tok) >= 12 and "://" not in tok and not tok.startswith("/") \
                            and not re.fullmatch(r"[0-9T:.\-+Z]+", tok):
                        bucket.append(tok)
    seen, out = set(), []
    for c in first + rest:
        if c not in seen:
            seen.add(c)
            out.append(c)
    return out


class GivenBootstrapPasswordTest(harness.ServerTestCase):
    server_env = {}

    def test_bootstrap_admin_logs_in_with_the_given_password_and_is_admin(self):
        s = self.server
        body = s.login("admin", s.admin_password)
        r = s.get(f"{V1}/users/me", bearer=body["access_token"])
        self.assertEqual(r.status, 200, r)
        self.assertIn("admin", {x["name"] for x in r.body["roles"]})

    def test_the_given_password_is_not_printed(self):
        self.assertNotIn(self.server.admin_password, self.server.output(), "never log secrets")

    def test_no_fixed_default_password(self):
        for pw in FIXED_DEFAULTS:
            r = self.server.post(f"{V1}/auth/token", form={"username": "admin", "password": pw})
            self.assertError(r, 401, "invalid_grant")


class GeneratedBootstrapPasswordTest(unittest.TestCase):
    def test_generated_password_is_printed_once_and_works(self):
        env = {"RATE_LIMIT_LOGIN": "100000/minute"}
        first = AuthServer(env=env, bootstrap=False)
        second = None
        try:
            first.start()
            output = first.output()
            found = None
            for guess in password_candidates(output)[:MAX_GUESSES]:
                r = first.post(f"{V1}/auth/token", form={"username": "admin", "password": guess})
                if r.status == 200:
                    found = guess
                    break
            self.assertIsNotNone(found, "without PERMISO_BOOTSTRAP_ADMIN_* the server prints the "
                                 "generated admin password (a line mentioning 'password', the "
                                 f"password as its own word):\n{first.describe()}")
            self.assertGreaterEqual(len(found), 12, "a generated password is long")
            for pw in FIXED_DEFAULTS:
                r = first.post(f"{V1}/auth/token", form={"username": "admin", "password": pw})
                self.assertEqual(r.status, 401, r)
            self.assertEqual(first.stop(), 0, "clean exit on SIGTERM")

            # A restart on the same data keeps the admin and prints no password again.
            second = AuthServer(env=env, bootstrap=False, data_dir=first.data_dir,
                                database_url=first.database_url, redis=first.redis)
            second.start()
            self.assertNotIn(found, second.output(), "the generated password is printed only once")
            r = second.post(f"{V1}/auth/token", form={"username": "admin", "password": found})
            self.assertEqual(r.status, 200, r)
            code = second.stop()
            second = None
            self.assertEqual(code, 0, "clean exit on SIGTERM")
        finally:
            if second is not None:
                second.kill()
                second.stop()
            first.kill()
            first.stop()
            first.cleanup()


class CandidateExtractionTest(unittest.TestCase):
    """The heuristic above, on the shapes a server might print (no server needed)."""

    def test_finds_passwords_in_text_and_json_lines(self):
        pw = "Xy7#kLm9!pQr2sT"
        for line in (f"Generated admin password: {pw}",
                     f"bootstrap admin created; username=admin password={pw}",
                     json.dumps({"level": "warn", "msg": "generated admin password", "password": pw}),
                     json.dumps({"msg": f"admin password: '{pw}' (shown once)"})):
            self.assertEqual(password_candidates("noise\n" + line + "\n")[0], pw, line)


if __name__ == "__main__":
    unittest.main()
