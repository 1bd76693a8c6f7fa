# The aws and azure secrets providers against local stand-ins that follow the providers'
# documented requests and answers: AWS Secrets Manager's GetSecretValue (JSON 1.1 over POST,
# every request's Signature Version 4 checked by an independent implementation here, errors
# and throttling as AWS writes them, the container credentials endpoint) and Azure Key
# Vault's GET /secrets/{name} behind Microsoft Entra client credentials (over HTTPS, 429 with
# Retry-After, 404 SecretNotFound). Never the real clouds.
import os
import secrets
import subprocess
import tempfile
import threading
import unittest
import urllib.parse

import jwt

import harness
from harness import AuthServer
from secrets_standins import REGION, AwsSecretsManager, StandIn


class AzureKeyVault:
    """Key Vault behind Microsoft Entra client credentials, over HTTPS; the first secret read
    of each run answers 429 with Retry-After."""

    def __init__(self, secrets_by_name, tenant, client_id, client_secret, tls):
        self.secrets = secrets_by_name
        self.tenant, self.client_id, self.client_secret = tenant, client_id, client_secret
        self.tokens = set()
        self.tokens_issued = 0
        self.throttle_next = True
        self.lock = threading.Lock()
        self.server = StandIn(self.handle, tls=tls)
        self.url = f"https://127.0.0.1:{self.server.port}"

    def handle(self, req, body):
        u = urllib.parse.urlsplit(req.path)
        if req.command == "POST" and u.path == f"/{self.tenant}/oauth2/v2.0/token":
            form = dict(urllib.parse.parse_qsl(body.decode()))
            if (form.get("grant_type"), form.get("client_id"), form.get("client_secret"), form.get("scope")) != \
                    ("client_credentials", self.client_id, self.client_secret, "https://vault.azure.net/.default"):
                return 401, {}, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret"}
            token = secrets.token_urlsafe(32)
            with self.lock:
                self.tokens.add(token)
                self.tokens_issued += 1
            return 200, {}, {"token_type": "Bearer", "expires_in": 3599, "access_token": token}
        if req.command == "GET" and u.path.startswith("/secrets/"):
            if urllib.parse.parse_qs(u.query).get("api-version") != ["7.4"]:
                return 400, {}, {"error": {"code": "BadParameter", "message": "api-version"}}
            auth = req.headers.get("Authorization", "")
            if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
                return 401, {}, {"error": {"code": "Unauthorized", "message": "AKV10000"}}
            with self.lock:
                throttle, self.throttle_next = self.throttle_next, False
            if throttle:
                return 429, {"Retry-After": "1"}, {"error": {"code": "Throttled", "message": "Too many requests"}}
            name = u.path[len("/secrets/"):]
            if name not in self.secrets:
                return 404, {}, {"error": {"code": "SecretNotFound", "message": f"A secret with (name/id) {name} was not found"}}
            return 200, {}, {"value": self.secrets[name], "id": f"{self.url}/secrets/{name}/1", "attributes": {}}
        return 404, {}, {"error": {"code": "NotFound"}}


def config_check(env):
    full = {k: v for k, v in os.environ.items() if not k.startswith(harness.ServiceProcess.ENV_PREFIXES)}
    full.update({"PERMISO_CONFIG_DIR": os.path.join(harness.REPO, "config"), "PERMISO_DATA_DIR": tempfile.mkdtemp()})
    full.update(env)
    return subprocess.run([harness.auth_binary(), "config", "check"], env=full, capture_output=True, text=True,
                          timeout=60)


class AwsProviderTest(unittest.TestCase):
    def setUp(self):
        self.jwt_secret = secrets.token_hex(32)
        self.admin_password = f"Adm1n!{secrets.token_urlsafe(18)}"
        self.risk_secret = secrets.token_urlsafe(24)
        self.aws = AwsSecretsManager({"permiso/JWT_SECRET_KEY": self.jwt_secret,
                                      "permiso/PERMISO_BOOTSTRAP_ADMIN_PASSWORD": self.admin_password,
                                      "permiso/RISK_CLIENT_SECRET": self.risk_secret},
                                     "AKIDPERMISOTEST", "c2VjcmV0LWtleS1mb3ItdGVzdHM")
        self.env = {"SECRETS_PROVIDER": "aws", "AWS_REGION": REGION, "AWS_ENDPOINT_URL": self.aws.url,
                    "AWS_ACCESS_KEY_ID": "AKIDPERMISOTEST", "AWS_SECRET_ACCESS_KEY": "c2VjcmV0LWtleS1mb3ItdGVzdHM",
                    "SECRETS_PREFIX": "permiso/", "PERMISO_SERVICE_CLIENTS": "RISK", "RISK_CLIENT_SCOPES": "trade:read"}

    def tearDown(self):
        self.aws.server.stop()

    def test_secrets_come_from_secrets_manager_signed_and_retried(self):
        env = dict(self.env, JWT_SECRET_KEY=None, PERMISO_BOOTSTRAP_ADMIN_PASSWORD=None)
        server = AuthServer(env=env, admin_password=self.admin_password, jwt_secret=self.jwt_secret).start()
        try:
            self.assertIn("access_token", server.login("admin", self.admin_password))
            self.assertEqual(server.service_token("risk-service", self.risk_secret, scope="trade:read").status, 200)
            self.assertGreater(self.aws.verified, 3)
            self.assertEqual(self.aws.refused, [], "every request's signature verified")
            for value in (self.jwt_secret, self.admin_password, self.risk_secret):
                self.assertNotIn(value, server.output())
        finally:
            server.stop_clean()

    def test_the_rs256_signing_key_itself_comes_from_the_store(self):
        key = subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
                             check=True, capture_output=True, text=True).stdout
        self.aws.secrets["permiso/JWT_PRIVATE_KEY"] = key
        env = dict(self.env, JWT_ALGORITHM="RS256", JWT_SECRET_KEY=None, PERMISO_BOOTSTRAP_ADMIN_PASSWORD=None)
        server = AuthServer(env=env, admin_password=self.admin_password).start()
        try:
            token = server.login("admin", self.admin_password)["access_token"]
            jwks = server.get("/.well-known/jwks.json").body
            header = jwt.get_unverified_header(token)
            self.assertEqual(header["alg"], "RS256")
            public = jwt.PyJWK(next(k for k in jwks["keys"] if k["kid"] == header["kid"])).key
            jwt.decode(token, public, algorithms=["RS256"], audience="permiso", options={"verify_iss": False})
            self.assertNotIn("PRIVATE KEY", server.output())
        finally:
            server.stop_clean()

    def test_container_credentials_with_a_session_token(self):
        creds = StandIn(lambda req, body: (200, {}, {
            "AccessKeyId": "ASIACONTAINER", "SecretAccessKey": "Y29udGFpbmVyLXNlY3JldA", "Token": "session-token-1",
            "Expiration": "2099-01-01T00:00:00Z"}) if req.headers.get("Authorization") == "container-auth"
            else (403, {}, {"message": "no"}))
        self.aws.keys = {"ASIACONTAINER": ("Y29udGFpbmVyLXNlY3JldA", "session-token-1")}
        try:
            env = dict(self.env, AWS_ACCESS_KEY_ID="", AWS_SECRET_ACCESS_KEY="",
                       AWS_CONTAINER_CREDENTIALS_FULL_URI=f"http://127.0.0.1:{creds.port}/v2/credentials",
                       AWS_CONTAINER_AUTHORIZATION_TOKEN="container-auth")
            out = config_check(env)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(self.aws.refused, [])
            self.assertGreater(self.aws.verified, 0)
        finally:
            creds.stop()

    def test_a_wrong_key_is_refused_and_named_without_values(self):
        out = config_check(dict(self.env, AWS_SECRET_ACCESS_KEY="d3Jvbmc"))
        self.assertEqual(out.returncode, 2)
        self.assertIn("InvalidSignatureException", out.stderr)
        self.assertNotIn(self.jwt_secret, out.stdout + out.stderr)

    def test_a_secret_the_store_lacks_falls_back_to_the_environment(self):
        out = config_check(dict(self.env, REDIS_URL="redis://127.0.0.1:6390/0"))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("redis://127.0.0.1:6390/0", out.stdout)


class AzureProviderTest(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="permiso-azure-")
        subprocess.run([os.path.join(harness.REPO, "scripts", "dev-tls"), os.path.join(self.work, "tls")],
                       check=True, capture_output=True)
        tls = (os.path.join(self.work, "tls", "server.pem"), os.path.join(self.work, "tls", "server.key"))
        self.jwt_secret = secrets.token_hex(32)
        self.admin_password = f"Adm1n!{secrets.token_urlsafe(18)}"
        self.vault = AzureKeyVault({"JWT-SECRET-KEY": self.jwt_secret,
                                    "PERMISO-BOOTSTRAP-ADMIN-PASSWORD": self.admin_password},
                                   "tenant-1", "app-1", "entra-client-secret", tls)
        self.env = {"SECRETS_PROVIDER": "azure", "AZURE_KEY_VAULT_URL": self.vault.url,
                    "AZURE_AUTHORITY_HOST": self.vault.url, "AZURE_TENANT_ID": "tenant-1",
                    "AZURE_CLIENT_ID": "app-1", "AZURE_CLIENT_SECRET": "entra-client-secret",
                    "SECRETS_CA_FILE": os.path.join(self.work, "tls", "ca.pem")}

    def tearDown(self):
        self.vault.server.stop()
        subprocess.run(["rm", "-rf", self.work], check=False)

    def test_secrets_come_from_key_vault_with_an_entra_token(self):
        env = dict(self.env, JWT_SECRET_KEY=None, PERMISO_BOOTSTRAP_ADMIN_PASSWORD=None)
        server = AuthServer(env=env, admin_password=self.admin_password, jwt_secret=self.jwt_secret).start()
        try:
            self.assertIn("access_token", server.login("admin", self.admin_password))
            self.assertEqual(self.vault.tokens_issued, 1, "one token, cached for every secret")
            self.assertNotIn("entra-client-secret", server.output())
            self.assertNotIn(self.admin_password, server.output())
        finally:
            server.stop_clean()

    def test_wrong_client_credentials_are_named(self):
        out = config_check(dict(self.env, AZURE_CLIENT_SECRET="wrong"))
        self.assertEqual(out.returncode, 2)
        self.assertIn("AZURE_CLIENT_SECRET", out.stderr)
        self.assertNotIn("wrong", out.stderr.replace("AZURE", ""))

    def test_an_untrusted_certificate_is_refused(self):
        out = config_check(dict(self.env, SECRETS_CA_FILE=""))
        self.assertEqual(out.returncode, 2)
        self.assertIn("AZURE_CLIENT_SECRET", out.stderr)


if __name__ == "__main__":
    unittest.main()
