# Secrets from SECRETS_PROVIDER, end to end: the encrypted provider with values made by
# Python's own Fernet (Debian's python3-cryptography), the file provider with Docker-style
# secret files, the `secrets` commands read back by Python, every <NAME>_CLIENT_SECRET
# ensuring its <name>-service client, and no value ever in the output or `config check`.
import os
import secrets
import subprocess
import tempfile
import time
import unittest

import jwt
from cryptography.fernet import Fernet

import harness
from harness import AuthServer


def strong_secret():
    return secrets.token_urlsafe(24)


class EncryptedProviderTest(harness.ServerTestCase):
    key = Fernet.generate_key()
    admin_password = f"Adm1n!{secrets.token_urlsafe(18)}"
    risk_secret = strong_secret()
    server_kwargs = {"admin_password": admin_password}
    server_env = {
        "SECRETS_PROVIDER": "encrypted",
        "ENCRYPTION_KEY": key.decode(),
        "PERMISO_BOOTSTRAP_ADMIN_PASSWORD": None,
        "PERMISO_BOOTSTRAP_ADMIN_PASSWORD_ENCRYPTED": Fernet(key).encrypt(admin_password.encode()).decode(),
        "RISK_CLIENT_SECRET_ENCRYPTED": Fernet(key).encrypt(risk_secret.encode()).decode(),
        "RISK_CLIENT_SCOPES": "trade:read market:data",
    }

    def test_the_admin_signs_in_with_the_decrypted_password(self):
        body = self.server.login("admin", self.admin_password)
        self.assertIn("access_token", body)

    def test_name_client_secret_ensures_the_name_service_client_with_its_scopes(self):
        r = self.server.service_token("risk-service", self.risk_secret, scope="trade:read market:data")
        self.assertEqual(set(r.body["scope"].split()), {"trade:read", "market:data"})
        r = self.server.service_token("risk-service", self.risk_secret, scope="trade:open", expect=None)
        self.assertError(r, 400, "invalid_scope")

    def test_no_plaintext_in_the_output(self):
        out = self.server.output()
        for value in (self.admin_password, self.risk_secret):
            self.assertNotIn(value, out)


class FileProviderTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="permiso-secret-files-")
        self.admin_password = f"Adm1n!{secrets.token_urlsafe(18)}"
        self.reports_secret = strong_secret()
        self.jwt_secret = secrets.token_hex(32)

    def tearDown(self):
        subprocess.run(["rm", "-rf", self.dir], check=False)

    def secret_file(self, name, value, mode=0o400):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(value + "\n")  # as `echo value > file` leaves it
        os.chmod(path, mode)
        return path

    def env(self):
        return {
            "SECRETS_PROVIDER": "file",
            "PERMISO_BOOTSTRAP_ADMIN_PASSWORD": None,
            "PERMISO_BOOTSTRAP_ADMIN_PASSWORD_FILE": self.secret_file("admin", self.admin_password),
            "JWT_SECRET_KEY": None,
            "JWT_SECRET_KEY_FILE": self.secret_file("jwt", self.jwt_secret),
            "REPORTS_CLIENT_SECRET_FILE": self.secret_file("reports", self.reports_secret),
        }

    def test_secrets_come_from_files(self):
        server = AuthServer(env=self.env(), admin_password=self.admin_password, jwt_secret=self.jwt_secret).start()
        try:
            body = server.login("admin", self.admin_password)
            # Signed with the key from the file.
            claims = jwt.decode(body["access_token"], self.jwt_secret, algorithms=["HS256"],
                                options={"verify_aud": False, "verify_iss": False})
            self.assertIn("sub", claims)
            r = server.service_token("reports-service", self.reports_secret)
            self.assertEqual(r.status, 200)
            for value in (self.admin_password, self.reports_secret, self.jwt_secret):
                self.assertNotIn(value, server.output())
        finally:
            server.stop_clean()

    def test_a_rotated_client_secret_is_picked_up_live_and_the_old_one_kept_for_a_grace(self):
        env = dict(self.env(), PERMISO_SECRETS_REFRESH_S="1")
        server = AuthServer(env=env, admin_password=self.admin_password, jwt_secret=self.jwt_secret).start()
        try:
            self.assertEqual(server.service_token("reports-service", self.reports_secret).status, 200)
            rotated = strong_secret()
            path = env["REPORTS_CLIENT_SECRET_FILE"]
            os.chmod(path, 0o600)
            with open(path + ".new", "w") as f:  # replaced whole, as orchestrators do
                f.write(rotated + "\n")
            os.chmod(path + ".new", 0o400)
            os.replace(path + ".new", path)
            deadline = time.monotonic() + 15
            while server.service_token("reports-service", rotated, expect=None).status != 200:
                self.assertLess(time.monotonic(), deadline, "the new secret was not picked up\n" + server.output())
                time.sleep(0.2)
            # The old secret keeps working for the grace period: its holders can move over.
            self.assertEqual(server.service_token("reports-service", self.reports_secret).status, 200)
            self.assertIn("given the new secret", server.output())
            self.assertNotIn(rotated, server.output())
        finally:
            server.stop_clean()

    def test_a_file_others_can_write_stops_start_up_naming_it(self):
        env = self.env()
        env["JWT_SECRET_KEY_FILE"] = self.secret_file("jwt-open", self.jwt_secret, mode=0o666)
        out = run_auth(["config", "check"], env)
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn("JWT_SECRET_KEY_FILE", out.stderr)
        self.assertIn("writable by other users", out.stderr)
        self.assertNotIn(self.jwt_secret, out.stdout + out.stderr)


def run_auth(args, env=None, stdin=None):
    full = {k: v for k, v in os.environ.items() if not k.startswith(harness.ServiceProcess.ENV_PREFIXES)}
    full.update({"PERMISO_CONFIG_DIR": os.path.join(harness.REPO, "config"), "PERMISO_DATA_DIR": tempfile.mkdtemp()})
    full.update({k: v for k, v in (env or {}).items() if v is not None})
    return subprocess.run([harness.auth_binary(), *args], env=full, input=stdin, capture_output=True, text=True,
                          timeout=60)


class SecretsCommandsTest(unittest.TestCase):
    def test_generate_key_makes_a_key_python_fernet_accepts(self):
        out = run_auth(["secrets", "generate-key"])
        self.assertEqual(out.returncode, 0, out.stderr)
        key = out.stdout.strip()
        self.assertEqual(Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")), b"x")

    def test_encrypt_reads_stdin_and_python_fernet_decrypts_it(self):
        key = Fernet.generate_key()
        value = "p@ss w/rd:%ü"
        out = run_auth(["secrets", "encrypt", "--name", "POSTGRES_PASSWORD"], {"ENCRYPTION_KEY": key.decode()},
                       stdin=value + "\n")
        self.assertEqual(out.returncode, 0, out.stderr)
        name, _, token = out.stdout.strip().partition("=")
        self.assertEqual(name, "POSTGRES_PASSWORD_ENCRYPTED")
        self.assertEqual(Fernet(key).decrypt(token.encode()).decode(), value)
        self.assertNotIn(value, out.stdout + out.stderr)

    def test_encrypt_without_a_key_is_a_config_error(self):
        out = run_auth(["secrets", "encrypt"], {"ENCRYPTION_KEY": None}, stdin="value")
        self.assertEqual(out.returncode, 2)
        self.assertIn("ENCRYPTION_KEY", out.stderr)

    def test_config_check_names_a_token_made_with_another_key_without_its_value(self):
        token = Fernet(Fernet.generate_key()).encrypt(b"the-secret-value").decode()
        out = run_auth(["config", "check"], {"SECRETS_PROVIDER": "encrypted",
                                            "ENCRYPTION_KEY": Fernet.generate_key().decode(),
                                            "JWT_SECRET_KEY_ENCRYPTED": token})
        self.assertEqual(out.returncode, 2, out.stdout)
        self.assertIn("JWT_SECRET_KEY_ENCRYPTED", out.stderr)
        self.assertNotIn("the-secret-value", out.stdout + out.stderr)


if __name__ == "__main__":
    unittest.main()
