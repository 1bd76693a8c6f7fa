# Storage outage (PostgreSQL backends): requests that need the database answer 503 in the error
# shape, never 500, readiness reports it, and service resumes when the database is back.
import threading
import time
import unittest

import harness
from harness import V1, AuthServer


@unittest.skipUnless(harness.backend_name().startswith("postgres"),
                     "needs a PostgreSQL backend that the test can stop")
class StorageOutageTest(harness.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = harness.Postgres()
        cls.pg.start()
        try:
            cls.server = AuthServer(database_url=cls.pg.new_database()).start()
        except BaseException:
            cls.pg.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.stop_clean()
        finally:
            cls.pg.stop()

    def poll(self, path, status, within_s):
        deadline = time.time() + within_s
        while True:
            r = self.server.get(path, allow_5xx=True)
            if r.status == status or time.time() > deadline:
                return r
            time.sleep(0.2)

    def register_until(self, stop, answers):
        """Registers users until `stop`, keeping (username, id or None, status) of each answer."""
        while not stop.is_set():
            name, password = harness.uniq("load_"), harness.strong_password()
            r = self.server.post(f"{V1}/users/register", allow_5xx=True, timeout=30, json={
                "username": name, "email": f"{name}@example.com", "password": password})
            answers.append((name, r.body.get("id") if r.status == 201 else None, r.status))

    def test_database_down_is_503_and_recovers(self):
        s = self.server
        s.login(s.admin_username, s.admin_password)
        client = s.create_client(scopes=("trade:read",))
        stop, answers = threading.Event(), []
        load = [threading.Thread(target=self.register_until, args=(stop, answers)) for _ in range(3)]
        for t in load:
            t.start()
        self.pg.halt()
        try:
            # Token issuance needs no database round trip: it goes on.
            self.assertEqual(s.service_token(client["client"]["client_id"], client["client_secret"]).status, 200)
            r = self.poll("/ready", 503, 10)
            self.assertEqual(r.status, 503, f"/ready while the database is down: {r!r}")
            self.assertEqual(harness.metric_sample(s, "permiso_dependency_up", '{dependency="database"}'), 0,
                             "the alert rules' gauge says the database is down")
            r = s.post(f"{V1}/auth/token", form={"username": s.admin_username,
                                                 "password": s.admin_password}, allow_5xx=True)
            self.assertError(r, 503, None, "login while the database is down")
            r = s.post(f"{V1}/users/register", allow_5xx=True,
                       json={"username": harness.uniq("down_"), "email": f"{harness.uniq('d')}@example.com",
                             "password": harness.strong_password()})
            self.assertError(r, 503, None, "register while the database is down")
        finally:
            self.pg.resume()
        r = self.poll("/ready", 200, 15)
        self.assertEqual(r.status, 200, f"/ready after the database came back: {r!r}")
        self.assertEqual(harness.metric_sample(s, "permiso_dependency_up", '{dependency="database"}'), 1)
        s.login(s.admin_username, s.admin_password)
        stop.set()
        for t in load:
            t.join(60)
        statuses = {status for _, _, status in answers}
        self.assertTrue(statuses <= {201, 503}, f"only 201 or a fast 503 under load: {statuses}")
        self.assertIn(503, statuses, "the load met the outage")
        admin = s.admin_token()
        for name, user_id, status in answers:
            if status == 201:  # every acknowledged registration survived the outage
                r = s.get(f"{V1}/users/{user_id}", bearer=admin)
                self.assertEqual((r.status, r.body.get("username")), (200, name), r)

    def test_refresh_while_database_is_down_is_503_and_keeps_the_token(self):
        s = self.server
        grant = s.login(s.admin_username, s.admin_password)
        seed_token = grant["refresh_token"]
        oauth_token = s.login(s.admin_username, s.admin_password)["refresh_token"]
        self.pg.halt()
        try:
            r = s.post(f"{V1}/auth/refresh", json={"refresh_token": seed_token}, allow_5xx=True)
            self.assertError(r, 503, None, "/auth/refresh while the database is down")
            self.assertTrue(r.headers.get("Retry-After"), f"503 carries Retry-After: {r!r}")
            r = s.post(f"{V1}/auth/token", form={"grant_type": "refresh_token", "refresh_token": oauth_token},
                       allow_5xx=True)
            self.assertError(r, 503, None, "grant_type=refresh_token while the database is down")
            self.assertTrue(r.headers.get("Retry-After"), f"503 carries Retry-After: {r!r}")
        finally:
            self.pg.resume()
        self.assertEqual(self.poll("/ready", 200, 15).status, 200)
        # The outage spent neither token: each still refreshes once.
        r = s.post(f"{V1}/auth/refresh", json={"refresh_token": seed_token})
        self.assertEqual(r.status, 200, f"refresh after the outage: {r!r}")
        r = s.post(f"{V1}/auth/token", form={"grant_type": "refresh_token", "refresh_token": oauth_token})
        self.assertEqual(r.status, 200, f"grant_type=refresh_token after the outage: {r!r}")


if __name__ == "__main__":
    unittest.main()
