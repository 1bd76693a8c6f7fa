# Signing keys rotate under load with no token refused (#17): while clients keep taking fresh
# service tokens from permiso-auth and using them at mt5-api, an admin rotates the signing key
# twice. Every token, whichever key signed it, is accepted by the gateway: one signed before a
# rotation still verifies after it, and the gateway learns each new key from the JWKS the first
# time it sees its kid. The publish delay is 0, the hardest case: a new key signs at once, with
# no time published beforehand. The rotations are 12 s apart, more than the gateway's minimum
# interval between two unknown-kid refreshes (10 s): operators rotating faster than that must
# keep a publish delay (docs/operations.md, "Rotating the signing key").
import threading
import time
import unittest

import jwt

import gateway_harness as gh
from gateway_harness import V1

ROTATION_GAP_S = 12


# Key handling does not depend on the broker: run with the simulator only (both backends).
@unittest.skipUnless(gh.broker_name() == "simulator", "the broker plays no part: runs with the simulator")
class KeyRotationUnderLoadTest(gh.GatewayTestCase):
    stack_kwargs = {"auth_env": {"PERMISO_KEY_PUBLISH_DELAY_S": "0",
                                 "RATE_LIMIT_SERVICE_TOKEN": "1000000/minute"}}

    def rotate(self):
        r = self.server.post(f"{V1}/admin/keys/rotate", bearer=self.server.admin_token())
        self.assertIn(r.status, (200, 201), r)

    def test_no_token_is_refused_while_the_key_rotates_twice(self):
        traders = [self.stack.trader() for _ in range(3)]
        stop = threading.Event()
        lock = threading.Lock()
        failures, kids = [], set()
        answered = [0]

        def load(trader):
            held = trader.token  # signed before any rotation: it must keep verifying
            while not stop.is_set():
                fresh = trader.stack.auth.service_token(trader.client_id, trader.secret, expect=None)
                if fresh.status != 200:
                    with lock:
                        failures.append(f"token refused by permiso-auth: {fresh!r}")
                    continue
                token = fresh.body["access_token"]
                for t in (token, held):
                    r = self.mt5.get(f"{V1}/account", bearer=t)
                    with lock:
                        answered[0] += 1
                        if r.status != 200:
                            failures.append(f"kid {jwt.get_unverified_header(t)['kid']}: {r!r}")
                with lock:
                    kids.add(jwt.get_unverified_header(token)["kid"])
                time.sleep(0.02)

        def wait_for_answers(more, timeout=30):
            with lock:
                target = answered[0] + more
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                with lock:
                    if answered[0] >= target:
                        return
                time.sleep(0.05)
            self.fail(f"the load stalled: {answered[0]} answers, wanted {target}")

        threads = [threading.Thread(target=load, args=(t,), daemon=True) for t in traders]
        for t in threads:
            t.start()
        try:
            wait_for_answers(30)
            for _ in range(2):
                self.rotate()
                rotated_at = time.monotonic()
                wait_for_answers(60)
                # Load keeps running for the rest of the gap, on the new key.
                while time.monotonic() - rotated_at < ROTATION_GAP_S:
                    time.sleep(0.1)
            wait_for_answers(30)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
        self.assertFalse(failures, f"{len(failures)} refused of {answered[0]}; the first: {failures[:3]}")
        self.assertEqual(len(kids), 3, f"fresh tokens were signed by the first key and both new ones: {kids}")


if __name__ == "__main__":
    unittest.main()
