# Admin API: users, stats, roles and scopes, the audit trail, and who may call it
# (contract: /users, /roles, /roles/scopes, /admin/audit, /admin/dashboard/stats).
import json
import os
import stat
import time
import unittest

import jwt

import harness
from harness import V1, ServerTestCase, find_list, names, strong_password, uniq


def setUpModule():
    harness.start_module_server(__name__)


def tearDownModule():
    harness.stop_module_server(__name__)


class AccessControlTest(ServerTestCase):
    ADMIN_GETS = {
        f"{V1}/users": "admin:users",
        f"{V1}/users/stats/overview": "admin:users",
        f"{V1}/roles": None,
        f"{V1}/service-clients": "admin:clients",
        f"{V1}/admin/service-clients": "admin:clients",
        f"{V1}/admin/audit": "admin:audit",
        f"{V1}/admin/keys": None,
        f"{V1}/admin/dashboard/stats": None,
    }

    def test_missing_token_is_401_invalid_token_with_www_authenticate(self):
        for path in list(self.ADMIN_GETS) + [f"{V1}/users/me", f"{V1}/sessions"]:
            self.assertInvalidToken(self.server.get(path), path)

    def test_garbage_token_is_401_invalid_token(self):
        for token in ("garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.", "Bearer"):
            self.assertInvalidToken(self.server.get(f"{V1}/users/me", bearer=token), token)

    def test_non_bearer_scheme_is_401(self):
        r = self.server.get(f"{V1}/users/me", headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
        self.assertInvalidToken(r)

    def test_non_admin_gets_403_insufficient_scope_naming_the_scopes(self):
        s = self.server
        _, _, tokens = s.user_session()
        for path in self.ADMIN_GETS:
            r = s.get(path, bearer=tokens["access_token"])
            body = self.assertError(r, 403, "insufficient_scope", path)
            self.assertIsInstance(body.get("required_scopes"), list, f"{path}: {body}")
            self.assertIsInstance(body.get("missing_scopes"), list, f"{path}: {body}")
            self.assertTrue(body["missing_scopes"], path)
            self.assertTrue(set(body["missing_scopes"]) <= set(body["required_scopes"]), body)
            self.assertTrue(all(sc.startswith("admin:") for sc in body["missing_scopes"]), body)
            if self.ADMIN_GETS[path]:
                self.assertIn(self.ADMIN_GETS[path], body["missing_scopes"], path)

    def test_audit_requires_admin_audit_scope(self):
        s = self.server
        _, _, tokens = s.user_session()
        body = self.assertError(s.get(f"{V1}/admin/audit", bearer=tokens["access_token"]),
                                403, "insufficient_scope")
        self.assertIn("admin:audit", body["missing_scopes"])

    def test_non_admin_cannot_create_users_or_roles(self):
        s = self.server
        _, _, tokens = s.user_session()
        r = s.post(f"{V1}/users", bearer=tokens["access_token"],
                   json={"username": uniq("x_"), "email": f"{uniq('x')}@example.com", "password": strong_password()})
        self.assertError(r, 403, "insufficient_scope")
        r = s.post(f"{V1}/roles", bearer=tokens["access_token"], json={"name": uniq("r"), "description": "x"})
        self.assertError(r, 403, "insufficient_scope")


class AdminUsersTest(ServerTestCase):
    def test_list_shape_and_pagination(self):
        s = self.server
        for _ in range(3):
            s.register_user()
        r = s.get(f"{V1}/users?page=1&per_page=2", bearer=s.admin_token())
        self.assertEqual(r.status, 200, r)
        for k in ("users", "total", "page", "per_page", "pages"):
            self.assertIn(k, r.body)
        self.assertEqual((r.body["page"], r.body["per_page"]), (1, 2))
        self.assertEqual(len(r.body["users"]), 2)
        self.assertGreaterEqual(r.body["total"], 4)
        self.assertEqual(r.body["pages"], -(-r.body["total"] // 2))
        for u in r.body["users"]:
            for k in u:
                self.assertNotIn("password", k.lower())
                self.assertNotIn("hash", k.lower())

    def test_search_finds_by_username_fragment(self):
        s = self.server
        marker = uniq("needle")
        user, _ = s.register_user(username=f"{marker}_x")
        r = s.get(f"{V1}/users?search={marker}", bearer=s.admin_token())
        self.assertEqual(r.status, 200, r)
        self.assertEqual([u["username"] for u in r.body["users"]], [user["username"]])
        self.assertEqual(r.body["total"], 1)

    def test_is_active_filter(self):
        s = self.server
        user, _ = s.register_user()
        s.put(f"{V1}/users/{user['id']}", json={"is_active": False}, bearer=s.admin_token())
        r = s.get(f"{V1}/users?is_active=false&per_page=100", bearer=s.admin_token())
        self.assertEqual(r.status, 200, r)
        self.assertIn(user["id"], [u["id"] for u in r.body["users"]])
        self.assertTrue(all(u["is_active"] is False for u in r.body["users"]))

    def test_stats_overview_counts(self):
        s = self.server
        r = s.get(f"{V1}/users/stats/overview", bearer=s.admin_token())
        self.assertEqual(r.status, 200, r)
        for k in ("total_users", "active_users", "verified_users"):
            self.assertIsInstance(r.body[k], int, k)
        before = r.body["total_users"]
        self.assertGreaterEqual(r.body["total_users"], r.body["active_users"])
        s.register_user()
        after = s.get(f"{V1}/users/stats/overview", bearer=s.admin_token()).body
        self.assertEqual(after["total_users"], before + 1)

    def test_admin_creates_gets_updates_and_deletes_a_user(self):
        s = self.server
        admin = s.admin_token()
        name, pw = uniq("adm_made_"), strong_password()
        r = s.post(f"{V1}/users", bearer=admin, json={"username": name, "email": f"{name}@example.com",
                                                       "password": pw, "first_name": "Made"})
        self.assertEqual(r.status, 201, r)
        uid = r.body["id"]
        s.login(name, pw)
        r = s.get(f"{V1}/users/{uid}", bearer=admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["username"], name)
        r = s.put(f"{V1}/users/{uid}", bearer=admin, json={"last_name": "ByAdmin", "is_verified": True})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["last_name"], "ByAdmin")
        self.assertIs(r.body["is_verified"], True)
        r = s.delete(f"{V1}/users/{uid}", bearer=admin)
        self.assertIn(r.status, (200, 204), r)
        self.assertError(s.get(f"{V1}/users/{uid}", bearer=admin), 404, "not_found")
        self.assertError(s.post(f"{V1}/auth/token", form={"username": name, "password": pw}),
                         401, "invalid_grant")

    def test_admin_create_duplicate_is_409(self):
        s = self.server
        user, _ = s.register_user()
        r = s.post(f"{V1}/users", bearer=s.admin_token(),
                   json={"username": user["username"], "email": f"{uniq('o')}@example.com",
                         "password": strong_password()})
        self.assertFieldNamed(self.assertError(r, 409, "conflict"), "username")

    def test_unknown_user_is_404(self):
        s = self.server
        user, _ = s.register_user()
        unknown = harness.unknown_id_like(user["id"])
        self.assertError(s.get(f"{V1}/users/{unknown}", bearer=s.admin_token()), 404, "not_found")

    def test_put_user_roles_grants_the_roles_scopes(self):
        s = self.server
        admin = s.admin_token()
        user, pw = s.register_user()
        roles = find_list(s.get(f"{V1}/roles", bearer=admin).body, "roles", "items")
        trader = [x for x in roles if x["name"] == "trader"][0]
        r = s.put(f"{V1}/users/{user['id']}/roles", bearer=admin, json={"role_ids": [trader["id"]]})
        self.assertEqual(r.status, 200, r)
        self.assertIn("trader", {x["name"] for x in r.body["roles"]})
        body = s.login(user["username"], pw)
        claims = jwt.decode(body["access_token"], options={"verify_signature": False})
        self.assertIn("trader", claims["roles"])


class RolesScopesTest(ServerTestCase):
    def test_default_roles_and_scopes_are_seeded(self):
        s = self.server
        roles = find_list(s.get(f"{V1}/roles", bearer=s.admin_token()).body, "roles", "items")
        self.assertTrue({"admin", "trader", "user", "service"} <= names(roles))
        scopes = find_list(s.get(f"{V1}/roles/scopes", bearer=s.admin_token()).body, "scopes", "items")
        self.assertTrue({"trade:read", "trade:open", "trade:close", "trade:modify", "account:read",
                         "account:balance", "market:data", "admin:users", "admin:clients",
                         "admin:system", "admin:audit"} <= names(scopes))
        for sc in scopes:
            for k in ("id", "name", "description", "resource", "action"):
                self.assertIn(k, sc)
        tr = [x for x in scopes if x["name"] == "trade:read"][0]
        self.assertEqual((tr["resource"], tr["action"]), ("trade", "read"))

    def test_scope_crud(self):
        s = self.server
        admin = s.admin_token()
        name = f"{uniq('res')}:act"
        r = s.post(f"{V1}/roles/scopes", bearer=admin, json={"name": name, "description": "test scope",
                                                             "resource": name.split(':')[0], "action": "act"})
        self.assertEqual(r.status, 201, r)
        sid = r.body["id"]
        self.assertEqual(r.body["name"], name)
        r = s.get(f"{V1}/roles/scopes/{sid}", bearer=admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["name"], name)
        r = s.put(f"{V1}/roles/scopes/{sid}", bearer=admin, json={"description": "changed"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["description"], "changed")
        r = s.post(f"{V1}/roles/scopes", bearer=admin, json={"name": name, "description": "dup",
                                                             "resource": "x", "action": "y"})
        self.assertFieldNamed(self.assertError(r, 409, "conflict"), "name")
        r = s.delete(f"{V1}/roles/scopes/{sid}", bearer=admin)
        self.assertIn(r.status, (200, 204), r)
        self.assertError(s.get(f"{V1}/roles/scopes/{sid}", bearer=admin), 404, "not_found")

    def test_role_crud_and_put_scopes(self):
        s = self.server
        admin = s.admin_token()
        name = uniq("role_")
        r = s.post(f"{V1}/roles", bearer=admin, json={"name": name, "description": "test role"})
        self.assertEqual(r.status, 201, r)
        rid = r.body["id"]
        self.assertEqual(r.body["name"], name)
        scopes = find_list(s.get(f"{V1}/roles/scopes", bearer=admin).body, "scopes", "items")
        wanted = [x["id"] for x in scopes if x["name"] in ("market:data", "account:read")]
        r = s.put(f"{V1}/roles/{rid}/scopes", bearer=admin, json={"scope_ids": wanted})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(names(r.body["scopes"]), {"market:data", "account:read"})
        r = s.get(f"{V1}/roles/{rid}", bearer=admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(names(r.body["scopes"]), {"market:data", "account:read"})
        r = s.put(f"{V1}/roles/{rid}", bearer=admin, json={"description": "changed"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["description"], "changed")
        # A user with the role gets its scopes in the token.
        user, pw = s.register_user()
        s.put(f"{V1}/users/{user['id']}/roles", bearer=admin, json={"role_ids": [rid]})
        claims = jwt.decode(s.login(user["username"], pw)["access_token"], options={"verify_signature": False})
        self.assertTrue({"market:data", "account:read"} <= set(claims["scope"].split(" ")), claims)

    def test_role_create_and_update_apply_scopes_in_either_spelling(self):
        s = self.server
        admin = s.admin_token()
        r = s.post(f"{V1}/roles", bearer=admin, json={"name": uniq("role_"), "scopes": ["market:data"]})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(names(r.body["scopes"]), {"market:data"}, "POST /roles applies `scopes`")
        rid = r.body["id"]
        r = s.post(f"{V1}/roles", bearer=admin, json={"name": uniq("role_"), "scope_ids": ["trade:read"]})
        self.assertEqual((r.status, names(r.body["scopes"])), (201, {"trade:read"}), r)
        r = s.put(f"{V1}/roles/{rid}", bearer=admin, json={"description": "d", "scopes": ["account:read"]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(names(r.body["scopes"]), {"account:read"}, "PUT /roles/{id} applies `scopes`")
        self.assertEqual(names(s.get(f"{V1}/roles/{rid}", bearer=admin).body["scopes"]), {"account:read"})
        r = s.put(f"{V1}/roles/{rid}", bearer=admin, json={"scope_ids": ["no:such"]})
        self.assertFieldNamed(self.assertError(r, 422, "validation_error"), "scope_ids")
        r = s.put(f"{V1}/roles/{rid}", bearer=admin, json={"description": "kept scopes"})
        self.assertEqual(names(r.body["scopes"]), {"account:read"}, "absent scopes stay")

    def test_role_delete(self):
        s = self.server
        admin = s.admin_token()
        r = s.post(f"{V1}/roles", bearer=admin, json={"name": uniq("gone_"), "description": "to delete"})
        self.assertEqual(r.status, 201, r)
        rid = r.body["id"]
        r = s.delete(f"{V1}/roles/{rid}", bearer=admin)
        self.assertIn(r.status, (200, 204), r)
        self.assertError(s.get(f"{V1}/roles/{rid}", bearer=admin), 404, "not_found")
        self.assertNotIn(rid, [x["id"] for x in find_list(s.get(f"{V1}/roles", bearer=admin).body, "roles", "items")])

    def test_duplicate_role_is_409_naming_name(self):
        s = self.server
        r = s.post(f"{V1}/roles", bearer=s.admin_token(), json={"name": "admin", "description": "dup"})
        self.assertFieldNamed(self.assertError(r, 409, "conflict"), "name")


class AuditTest(ServerTestCase):
    def events(self):
        r = self.server.get(f"{V1}/admin/audit?per_page=1000&limit=1000", bearer=self.server.admin_token())
        self.assertEqual(r.status, 200, r)
        return find_list(r.body, "events", "items", "entries", "audit", "logs", "records")

    def find(self, events, *needles):
        out = []
        for e in events:
            text = json.dumps(e).lower()
            if all(n.lower() in text for n in needles):
                out.append(e)
        return out

    def assertOutcome(self, event, expected):
        for key in ("outcome", "result"):
            if key in event:
                self.assertEqual(str(event[key]).lower(), expected, event)
                return
        if "success" in event:
            self.assertIs(event["success"], expected == "success", event)
            return
        self.fail(f"audit event has no outcome: {event}")

    def assertFromLoopback(self, event):
        def strings(v):
            if isinstance(v, dict):
                for x in v.values():
                    yield from strings(x)
            elif isinstance(v, list):
                for x in v:
                    yield from strings(x)
            elif isinstance(v, str):
                yield v
        self.assertIn("127.0.0.1", list(strings(event)), f"audit event must record the client ip: {event}")

    def test_login_success_and_failure_are_audited_with_ip_and_outcome(self):
        s = self.server
        user, pw = s.register_user()
        s.login(user["username"], pw)
        s.post(f"{V1}/auth/token", form={"username": user["username"], "password": "Wrong-Passw0rd!"})
        logins = self.find(self.events(), "login", user["username"])
        outcomes = []
        for e in logins:
            self.assertFromLoopback(e)
            for key in ("outcome", "result"):
                if key in e:
                    outcomes.append(str(e[key]).lower())
            if "success" in e and not any(k in e for k in ("outcome", "result")):
                outcomes.append("success" if e["success"] else "failure")
        self.assertIn("success", outcomes, logins)
        self.assertIn("failure", outcomes, logins)
        for e in logins:
            self.assertNotIn("Wrong-Passw0rd!", json.dumps(e), "never log secrets")
            self.assertNotIn(pw, json.dumps(e), "never log secrets")

    def test_event_has_time_actor_action(self):
        s = self.server
        user, pw = s.register_user()
        s.login(user["username"], pw)
        e = self.find(self.events(), "login", user["username"])[0]
        self.assertTrue(any(k in e for k in ("timestamp", "created_at", "time", "at")), e)

    def test_client_creation_is_audited(self):
        s = self.server
        created = s.create_client()
        cid = created["client"]["client_id"]
        found = self.find(self.events(), "client", cid)
        self.assertTrue(found, "service client creation is in the audit trail")
        self.assertFromLoopback(found[0])
        self.assertOutcome(found[0], "success")
        self.assertNotIn(created["client_secret"], json.dumps(self.events()))

    def test_token_revocation_is_audited(self):
        s = self.server
        created = s.create_client()
        cid, secret = created["client"]["client_id"], created["client_secret"]
        token = s.service_token(cid, secret).body["access_token"]
        before = len(self.find(self.events(), "revoke"))
        r = s.post(f"{V1}/auth/revoke", form={"token": token}, auth_basic=(cid, secret))
        self.assertEqual(r.status, 200, r)
        found = self.find(self.events(), "revoke")
        self.assertGreater(len(found), before, "revocation is in the audit trail")
        mine = self.find(found, cid)
        self.assertTrue(mine, f"the revoke event names the client {cid}: {found[-3:]}")
        self.assertFromLoopback(mine[0])
        self.assertOutcome(mine[0], "success")

    def test_dashboard_stats_for_admin(self):
        s = self.server
        r = s.get(f"{V1}/admin/dashboard/stats", bearer=s.admin_token())
        self.assertEqual(r.status, 200, r)
        self.assertIsInstance(r.body, dict)


class AuditExportTest(ServerTestCase):
    """PERMISO_AUDIT_EXPORT: every stored audit event also goes out as a JSON line, for a SIEM.
    The server runs in its data dir, so the relative path lands there."""
    server_env = {"PERMISO_AUDIT_EXPORT": "audit.jsonl"}

    def exported_lines(self):
        path = os.path.join(self.server.data_dir, "audit.jsonl")
        with open(path, encoding="utf-8") as f:
            return f.read()

    def test_sign_ins_reach_the_export_as_private_json_lines(self):
        s = self.server
        user, password = s.register_user()
        name = user["username"]
        r = s.post(f"{V1}/auth/token", form={"username": name, "password": "Wrong-Passw0rd!"})
        self.assertError(r, 401, "invalid_grant")
        self.assertEqual(s.post(f"{V1}/auth/token", form={"username": name, "password": password}).status, 200)

        deadline = time.time() + 10  # the audit writer stores in batches off the request path
        outcomes, text = set(), ""
        while time.time() < deadline and outcomes != {"failure", "success"}:
            text = self.exported_lines()
            events = [json.loads(line) for line in text.splitlines()]
            outcomes = {e["outcome"] for e in events if e["action"] == "auth.login" and e["actor"] == name}
            time.sleep(0.05)
        self.assertEqual(outcomes, {"failure", "success"}, text[-2000:])
        for e in events:
            self.assertEqual(e["type"], "audit")
            self.assertIsInstance(e["details"], dict)
            self.assertRegex(e["timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertNotIn(password, text)
        self.assertNotIn("Wrong-Passw0rd!", text)
        mode = stat.S_IMODE(os.stat(os.path.join(s.data_dir, "audit.jsonl")).st_mode)
        self.assertEqual(mode, 0o600)


if __name__ == "__main__":
    unittest.main()
