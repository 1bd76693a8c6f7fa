# .env.example is what an operator copies: every variable in it is documented in
# docs/configuration.md, and its values (with a real key file in place of the placeholder
# path) make a valid production configuration, no value showing in `config check`.
import os
import re
import subprocess
import tempfile
import unittest

import harness

ENV_EXAMPLE = os.path.join(harness.REPO, ".env.example")
CONFIGURATION_DOC = os.path.join(harness.REPO, "docs", "configuration.md")
ASSIGNMENT = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$")


def example_variables(include_commented):
    found = {}
    with open(ENV_EXAMPLE) as f:
        for line in f:
            line = line.strip()
            if line.startswith("#") and not include_commented:
                continue
            m = ASSIGNMENT.match(line)
            if m:
                found[m.group(1)] = m.group(2).split("  #")[0].strip()
    return found


class EnvExampleTest(unittest.TestCase):
    def test_every_variable_is_documented(self):
        with open(CONFIGURATION_DOC) as f:
            doc = f.read()
        for name in example_variables(include_commented=True):
            self.assertIn(f"`{name}`", doc.replace("(secret)", ""), f"{name} is missing from docs/configuration.md")

    def test_the_seeds_variables_are_all_there(self):
        names = set(example_variables(include_commented=False))
        for name in ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "DASHBOARD_CLIENT_SECRET", "MT5_SERVICE_CLIENT_SECRET",
                     "MT5_SERVER", "MT5_LOGIN", "MT5_PASSWORD", "ALLOWED_ORIGINS", "CORS_ORIGINS", "LOG_LEVEL",
                     "LOG_FORMAT", "RATE_LIMIT_LOGIN", "RATE_LIMIT_API"):
            self.assertIn(name, names)

    def test_its_values_make_a_valid_production_configuration(self):
        values = example_variables(include_commented=False)
        with tempfile.TemporaryDirectory() as work:
            key = os.path.join(work, "jwt.pem")
            subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
                            key], check=True, capture_output=True)
            env = {k: v for k, v in os.environ.items() if not k.startswith(harness.ServiceProcess.ENV_PREFIXES)}
            env.update(values)
            env.update({"JWT_PRIVATE_KEY_FILE": key, "PERMISO_DATA_DIR": work,
                        "PERMISO_CONFIG_DIR": os.path.join(harness.REPO, "config")})
            out = subprocess.run([harness.auth_binary(), "config", "check"], env=env, capture_output=True,
                                 text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        # The production profile's URL, its password filled from POSTGRES_PASSWORD and redacted.
        self.assertIn("postgresql://permiso:***@postgres:5432/permiso", out.stdout)
        for name in ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "DASHBOARD_CLIENT_SECRET", "MT5_SERVICE_CLIENT_SECRET",
                     "PERMISO_CLIENT_SECRET_PEPPER", "PERMISO_BOOTSTRAP_ADMIN_PASSWORD"):
            self.assertNotIn(values[name], out.stdout + out.stderr, name)


if __name__ == "__main__":
    unittest.main()
