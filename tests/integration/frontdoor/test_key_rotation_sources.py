# The signing key rotates under load with no token refused, for the key sources an operator
# rotates by restarting replicas (docs/operations.md, "Rotating the signing key"): PEM files
# (JWT_PRIVATE_KEY_FILE) and a secrets provider (JWT_PRIVATE_KEY from AWS Secrets Manager's
# stand-in). The data dir's generated key, rotated through the admin API, is
# tests/integration/gateway/test_key_rotation_load.py.
#
# scripts/run-cluster runs two permiso-auth replicas behind nginx, signing ES256, and mt5-api
# verifying against the first replica's JWKS. While clients keep taking fresh tokens through
# nginx, using each at mt5-api and having it introspected by whichever permiso-auth replica nginx
# picks (so a replica must verify what the other signed), the operator does the three steps, each
# on both replicas, one at a time, before the next:
#   1. old,new: the new key published, the old one still signing;
#   2. new,old: the new key signs;
#   3. new alone, once the old key's tokens have expired.
# A token taken before the rotation is used beside them until step 3 (the procedure waits for
# such tokens to expire before it: the test stops presenting it instead of waiting a day).
#
# Step 1 is what makes it safe: a replica on step 2 signs with the new key while the other is still
# on the old list; skipping step 1 gets that replica's tokens refused by its neighbour. The
# procedure's wait of 300 s after step 1 (mt5-api's JWKS refresh) is not taken here: mt5-api fetches
# the JWKS again the first time it meets an unknown kid, which the test relies on and so exercises.

import base64
import json
import os
import subprocess
import time
import unittest
import urllib.parse

import frontdoor_harness as fd
from frontdoor_harness import V1, fresh_source
from rolling import Load, Restarter
from secrets_standins import REGION, AwsSecretsManager

WARM_UP = 10  # successful flows before the first step, and after each restart's return
AWS_KEY_ID, AWS_SECRET = "AKIDPERMISOROTATE", "cm90YXRpb24tdGVzdC1zZWNyZXQta2V5"
EDGE_AND_LIMITS = {
    "RATE_LIMIT_API": "1000000/minute",
    "RATE_LIMIT_SERVICE_TOKEN": "1000000/minute",
    "PERMISO_EDGE_AUTH_RATE": "60000r/m", "PERMISO_EDGE_AUTH_BURST": "10000",
    "PERMISO_EDGE_API_RATE": "60000r/m", "PERMISO_EDGE_API_BURST": "10000",
    "JWT_ALGORITHM": "ES256",
}


def new_key_pem():
    return subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
                          check=True, capture_output=True, text=True).stdout


def kid_of(token):
    header = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


class Client:
    """A service client's credentials and the token requests and uses the load makes with them."""

    def __init__(self, stack):
        admin = stack.admin_token()
        r = stack.call("POST", f"{V1}/service-clients", bearer=admin, source=fresh_source(),
                       json={"name": "key rotation", "scope_ids": ["trade:read"],
                             "rate_limit_per_minute": None, "rate_limit_per_hour": None})
        if r.status != 201:
            raise AssertionError(f"creating the client: {r}")
        self.form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": r.body["client"]["client_id"],
                                            "client_secret": r.body["client_secret"], "scope": "trade:read"})

    def take_token(self, client, rid):
        """(token or None, failure detail)."""
        status, body = client.send("POST", f"{V1}/auth/token", body=self.form,
                                   headers={"X-Request-ID": rid, "Content-Type": "application/x-www-form-urlencoded"})
        if status != 200:
            return None, (status, f"token request: {body[:200]!r}")
        return json.loads(body)["access_token"], None

    @staticmethod
    def use(client, rid, token):
        """Reads trades at mt5-api, then has permiso-auth introspect the token (authenticated by the
        token itself): (status, detail) of the first refusal, or (200, the token's kid)."""
        headers = {"Authorization": f"Bearer {token}"}
        status, body = client.send("GET", f"{V1}/trades", headers=dict(headers, **{"X-Request-ID": f"{rid}-use"}))
        if status != 200:
            return status, f"mt5-api, kid {kid_of(token)}: {body[:200]!r}"
        status, body = client.send("POST", f"{V1}/auth/introspect", body=urllib.parse.urlencode({"token": token}),
                                   headers=dict(headers, **{"X-Request-ID": f"{rid}-introspect",
                                                            "Content-Type": "application/x-www-form-urlencoded"}))
        if status != 200 or not json.loads(body).get("active"):
            return (status if status != 200 else 401), f"introspection, kid {kid_of(token)}: {body[:200]!r}"
        return 200, kid_of(token)


class KeyRotationBySourceTest(unittest.TestCase):
    def start_cluster(self, env):
        self.stack = fd.ClusterStack(env=dict(EDGE_AND_LIMITS, **env)).start()
        self.restarter = Restarter(self.stack)
        self.addCleanup(self.stop_cluster)

    def stop_cluster(self):
        problems = self.restarter.stop_all()
        code = self.stack.stop()
        self.stack.cleanup()
        if code != 0:
            problems.append(f"run-cluster exited with {code} on SIGTERM:\n{self.stack.output()}")
        self.assertEqual(problems, [])

    def rotate_under_load(self, cluster_env, apply_step):
        """Starts the cluster with cluster_env on an old key, then runs the three steps under load.
        apply_step(keys) makes a replica started from then on read that key list, and returns the
        changes to its environment that takes (or None). Asserts that nothing was refused."""
        old, new = new_key_pem(), new_key_pem()
        self.start_cluster(dict(cluster_env, **(apply_step([old]) or {})))
        client = Client(self.stack)
        r = fd.request(self.stack.http_url, "POST", f"{V1}/auth/token", source=fresh_source(), body=client.form.encode(),
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 200, r)
        held = r.body["access_token"]
        old_kid = kid_of(held)

        def fresh_flow(conn, rid):
            token, failure = client.take_token(conn, rid)
            return failure if failure else client.use(conn, rid, token)

        def held_flow(conn, rid):
            return client.use(conn, rid, held)

        fresh = Load(self.stack.http_port, {"flow": fresh_flow})
        before = Load(self.stack.http_port, {"held": held_flow})
        fresh.start(threads_per_kind=3)
        before.start(threads_per_kind=1)
        steps = ([old, new], [new, old], [new])
        try:
            self.assertTrue(fresh.wait_for("flow", WARM_UP), f"the load did not get going: {fresh.snapshot()[-3:]}")
            for number, keys in enumerate(steps, start=1):
                if number == 3:
                    self.assertEqual(before.stop(), [], "the held token's thread finished")
                changes = apply_step(keys)
                for name, port in (("permiso-auth-1", self.stack.auth_port), ("permiso-auth-2", self.stack.auth_port_2)):
                    self.restarter.restart(fresh, f"{name}-step{number}", "permiso-auth", "PERMISO_PORT", port, "flow",
                                           changes)
                    self.assertTrue(fresh.wait_for("flow", WARM_UP, since=time.time()),
                                    f"flows stalled after {name} took step {number}: {fresh.snapshot()[-3:]}")
        finally:
            stuck = fresh.stop() + before.stop()
        self.assertEqual(stuck, [], "every load thread finished")

        results = fresh.snapshot() + before.snapshot()
        failures = [(r[1], r[3], r[4]) for r in results if r[3] != 200]
        kids = [r[4] for r in fresh.snapshot() if r[3] == 200]
        new_kids = set(kids) - {old_kid}
        print(f"\nkey rotation: {len(results)} flows, {len(failures)} refused; fresh tokens by kid: "
              f"{ {k: kids.count(k) for k in set(kids)} }; the held token used {len(before.snapshot())} times")
        self.assertEqual(failures, [], f"refused (kind, status, detail): {failures[:10]}")
        self.assertEqual(len(new_kids), 1, f"fresh tokens came from the old key and one new key: {set(kids)}")
        self.assertEqual(kids[-1], new_kids.pop(), "the new key signs at the end")
        self.assertGreater(len(before.snapshot()), 0, "the token from before the rotation was used during it")

    def test_pem_files_rotate_in_three_rolling_restarts(self):
        key_dir = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"permiso-rotation-keys-{os.getpid()}")
        os.makedirs(key_dir, mode=0o700, exist_ok=True)
        self.addCleanup(subprocess.run, ["rm", "-rf", key_dir], check=False)
        paths = {}

        def file_of(pem):
            if pem not in paths:
                paths[pem] = os.path.join(key_dir, f"key-{len(paths)}.pem")
                with open(os.open(paths[pem], os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                    f.write(pem)
            return paths[pem]

        self.rotate_under_load({}, lambda keys: {"JWT_PRIVATE_KEY_FILE": ",".join(file_of(k) for k in keys)})

    def test_a_secrets_provider_key_rotates_in_three_secret_versions(self):
        store = AwsSecretsManager({}, AWS_KEY_ID, AWS_SECRET)
        self.addCleanup(store.server.stop)

        def new_version(keys):
            # A new version of the one secret: the replicas' environment does not change.
            store.secrets["permiso/JWT_PRIVATE_KEY"] = "".join(keys)

        provider = {"SECRETS_PROVIDER": "aws", "AWS_REGION": REGION, "AWS_ENDPOINT_URL": store.url,
                    "AWS_ACCESS_KEY_ID": AWS_KEY_ID, "AWS_SECRET_ACCESS_KEY": AWS_SECRET, "SECRETS_PREFIX": "permiso/"}
        self.rotate_under_load(provider, new_version)
        self.assertEqual(store.refused, [], "every request to the secret store was signed right")


if __name__ == "__main__":
    unittest.main()
