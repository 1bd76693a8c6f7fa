# The browser's sign-in (contract: GET /auth/authorize, the sign-in page, grant_type=
# authorization_code with PKCE S256, the refresh token only in an HttpOnly cookie): driven as
# a browser would, with its cookies and without following the redirects to the application.
import base64
import hashlib
import html.parser
import json
import secrets
import unittest
import urllib.error
import urllib.parse
import urllib.request

import harness
from harness import V1, ServerTestCase
from tokens import me, verify_access_token

REDIRECT = "https://app.test/auth/callback"
REFRESH_COOKIE = "__Secure-permiso_refresh"
CSRF_COOKIE = "__Secure-permiso_csrf"


def setUpModule():
    harness.start_module_server(__name__, env={"DASHBOARD_REDIRECT_URIS": REDIRECT + ",http://localhost:5173/cb"})


def tearDownModule():
    harness.stop_module_server(__name__)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


def pkce_pair():
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class _Form(html.parser.HTMLParser):
    """The hidden and visible inputs of the sign-in page, and whether it has any script."""

    def __init__(self):
        super().__init__()
        self.fields = {}
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and "name" in a:
            self.fields[a["name"]] = a.get("value", "")
        if tag == "script" or any(k.startswith("on") for k in a):
            self.scripts += 1


class Browser:
    """Cookies as a browser keeps them (by name; the tests use one host), no redirects."""

    def __init__(self, server):
        self.server = server
        self.cookies = {}
        self.set_cookie_headers = []

    def request(self, method, path, form=None, headers=None):
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        hdrs = dict(headers or {})
        if form is not None:
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        req = urllib.request.Request(self.server.base_url + path, data=data, method=method, headers=hdrs)
        try:
            resp = _OPENER.open(req, timeout=30)
        except urllib.error.HTTPError as e:
            resp = e
        raw = resp.read().decode("utf-8", errors="replace")
        for header in resp.headers.get_all("Set-Cookie") or []:
            self.set_cookie_headers.append(header)
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in header:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        body = json.loads(raw) if "json" in (resp.headers.get("Content-Type") or "") and raw else raw
        if resp.status >= 500:
            raise AssertionError(f"{method} {path} answered {resp.status}: {raw[:500]}")
        return resp.status, resp.headers, body

    def cookie_header(self, name):
        return [h for h in self.set_cookie_headers if h.startswith(name + "=")][-1]


def authorize_query(challenge, state="st-1", **over):
    q = {"response_type": "code", "client_id": "dashboard", "redirect_uri": REDIRECT, "state": state,
         "code_challenge": challenge, "code_challenge_method": "S256"}
    q.update(over)
    return f"{V1}/auth/authorize?" + urllib.parse.urlencode({k: v for k, v in q.items() if v is not None})


class AuthorizeTest(ServerTestCase):
    def sign_in_page(self, browser, challenge, **over):
        status, headers, page = browser.request("GET", authorize_query(challenge, **over))
        self.assertEqual(status, 200, page)
        form = _Form()
        form.feed(page)
        return headers, page, form

    def sign_in(self, username=None, password=None):
        """The whole flow: page, form, code, exchange. (browser, token answer, user, verifier)"""
        user, pw = (None, password) if username else self.server.register_user()
        username = username or user["username"]
        browser = Browser(self.server)
        verifier, challenge = pkce_pair()
        _, _, form = self.sign_in_page(browser, challenge)
        fields = dict(form.fields, username=username, password=pw)
        status, headers, _ = browser.request("POST", f"{V1}/auth/authorize", form=fields)
        self.assertEqual(status, 303)
        answer = urllib.parse.urlsplit(headers["Location"])
        self.assertEqual(f"{answer.scheme}://{answer.netloc}{answer.path}", REDIRECT)
        params = dict(urllib.parse.parse_qsl(answer.query))
        self.assertEqual(params["state"], "st-1")
        status, headers, body = browser.request("POST", f"{V1}/auth/token", form={
            "grant_type": "authorization_code", "code": params["code"], "redirect_uri": REDIRECT,
            "client_id": "dashboard", "code_verifier": verifier})
        self.assertEqual(status, 200, body)
        return browser, body, username, (params["code"], verifier)

    def test_the_page_is_a_strict_accessible_form_with_a_csrf_pair(self):
        browser = Browser(self.server)
        _, challenge = pkce_pair()
        headers, page, form = self.sign_in_page(browser, challenge, state='"><script>alert(1)</script>')
        self.assertTrue(headers["Content-Type"].startswith("text/html"))
        self.assertEqual(form.scripts, 0, "no script at all, and the hostile state is escaped")
        self.assertNotIn("<script>alert", page)
        csp = headers["Content-Security-Policy"]
        self.assertIn("default-src 'none'", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        self.assertRegex(csp, r"style-src 'sha256-[A-Za-z0-9+/=]+'")
        self.assertIn("form-action 'self' https://app.test", csp)
        self.assertEqual(headers["Cache-Control"], "no-store")
        self.assertRegex(page, r'<label for="username">')
        self.assertRegex(page, r'<label for="password">')
        self.assertIn('autocomplete="current-password"', page)
        self.assertTrue(form.fields["csrf_token"])
        cookie = browser.cookie_header(CSRF_COOKIE)
        for attribute in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/api/v1/auth/authorize"):
            self.assertIn(attribute, cookie)
        self.assertNotEqual(browser.cookies[CSRF_COOKIE], form.fields["csrf_token"], "a keyed hash, not a copy")

    def test_an_unknown_client_or_redirect_is_shown_never_redirected(self):
        _, challenge = pkce_pair()
        for over in ({"client_id": "nobody"}, {"redirect_uri": "https://evil.example/cb"},
                     {"redirect_uri": REDIRECT + "/"}, {"redirect_uri": None}):
            status, headers, page = Browser(self.server).request("GET", authorize_query(challenge, **over))
            self.assertEqual(status, 400, over)
            self.assertIsNone(headers.get("Location"), over)
            self.assertIn("Cannot sign in", page)

    def test_request_errors_go_back_to_the_client_with_state_and_issuer(self):
        _, challenge = pkce_pair()
        cases = [({"code_challenge_method": "plain"}, "invalid_request"),
                 ({"code_challenge": None}, "invalid_request"),
                 ({"code_challenge": "short"}, "invalid_request"),
                 ({"response_type": "token"}, "unsupported_response_type")]
        for over, error in cases:
            status, headers, _ = Browser(self.server).request("GET", authorize_query(challenge, **over))
            self.assertEqual(status, 303, over)
            params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(headers["Location"]).query))
            self.assertEqual(params["error"], error, over)
            self.assertEqual(params["state"], "st-1")
            self.assertEqual(params["iss"], self.server.issuer)

    def test_sign_in_issues_a_browser_session(self):
        browser, body, username, _ = self.sign_in()
        self.assertNotIn("refresh_token", body, "the refresh token never reaches script")
        _, claims = verify_access_token(self, self.server, body["access_token"], "access")
        self.assertEqual(claims["client_id"], "dashboard")
        self.assertEqual(claims["username"], username)
        self.assertEqual(me(self.server, body["access_token"]).status, 200)
        cookie = browser.cookie_header(REFRESH_COOKIE)
        for attribute in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/api/v1/auth/token"):
            self.assertIn(attribute, cookie)
        sessions = self.server.get(f"{V1}/sessions", bearer=body["access_token"]).body["sessions"]
        self.assertEqual([s["client_id"] for s in sessions if s["current"]], ["dashboard"])

    def test_a_code_is_single_use_and_bound_to_its_verifier(self):
        browser, _, _, (code, verifier) = self.sign_in()
        status, _, body = browser.request("POST", f"{V1}/auth/token", form={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "client_id": "dashboard", "code_verifier": verifier})
        self.assertEqual((status, body["error"]), (400, "invalid_grant"))

    def test_a_wrong_verifier_is_refused(self):
        user, pw = self.server.register_user()
        browser = Browser(self.server)
        _, challenge = pkce_pair()
        _, _, form = self.sign_in_page(browser, challenge)
        _, headers, _ = browser.request("POST", f"{V1}/auth/authorize",
                                        form=dict(form.fields, username=user["username"], password=pw))
        code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(headers["Location"]).query))["code"]
        other_verifier, _ = pkce_pair()
        status, _, body = browser.request("POST", f"{V1}/auth/token", form={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "client_id": "dashboard", "code_verifier": other_verifier})
        self.assertEqual((status, body["error"]), (400, "invalid_grant"))

    def test_a_form_without_its_csrf_pair_is_refused(self):
        user, pw = self.server.register_user()
        _, challenge = pkce_pair()
        browser = Browser(self.server)
        _, _, form = self.sign_in_page(browser, challenge)
        fields = dict(form.fields, username=user["username"], password=pw)
        for case in ("no cookie", "forged token"):
            attacker = Browser(self.server)
            sent = dict(fields)
            if case == "forged token":
                attacker.cookies[CSRF_COOKIE] = "attacker-chosen"
                sent["csrf_token"] = "attacker-chosen"
            status, headers, page = attacker.request("POST", f"{V1}/auth/authorize", form=sent)
            self.assertEqual(status, 403, case)
            self.assertIsNone(headers.get("Location"), case)
            self.assertIn("expired", page)

    def test_wrong_passwords_share_the_password_grants_lockout(self):
        user, pw = self.server.register_user()
        _, challenge = pkce_pair()
        statuses = []
        for _ in range(6):
            browser = Browser(self.server)
            _, _, form = self.sign_in_page(browser, challenge)
            status, headers, page = browser.request(
                "POST", f"{V1}/auth/authorize", form=dict(form.fields, username=user["username"], password="Wr0ng!pass"))
            self.assertIsNone(headers.get("Location"))
            self.assertIn('role="alert"', page)
            self.assertIn(user["username"], page, "the username is kept")
            statuses.append(status)
        self.assertEqual(statuses[0], 401)
        self.assertEqual(statuses[-1], 423)
        # The account is locked for the password grant too, even with the right password.
        r = self.server.post(f"{V1}/auth/token",
                             form={"grant_type": "password", "username": user["username"], "password": pw})
        self.assertEqual(r.status, 423, r)

    def test_the_cookie_refreshes_rotates_and_detects_reuse(self):
        browser, _, _, _ = self.sign_in()
        first = browser.cookies[REFRESH_COOKIE]
        status, _, body = browser.request("POST", f"{V1}/auth/token",
                                          form={"grant_type": "refresh_token", "client_id": "dashboard"})
        self.assertEqual(status, 200, body)
        self.assertNotIn("refresh_token", body)
        second = browser.cookies[REFRESH_COOKIE]
        self.assertNotEqual(first, second, "rotated on every use")
        thief = Browser(self.server)
        thief.cookies[REFRESH_COOKIE] = first
        status, _, body = thief.request("POST", f"{V1}/auth/token",
                                        form={"grant_type": "refresh_token", "client_id": "dashboard"})
        self.assertEqual((status, body["error"]), (400, "invalid_grant"))
        self.assertIn("Max-Age=0", thief.cookie_header(REFRESH_COOKIE), "a dead cookie is cleared")
        status, _, _ = browser.request("POST", f"{V1}/auth/token",
                                       form={"grant_type": "refresh_token", "client_id": "dashboard"})
        self.assertEqual(status, 400, "the reuse ended the whole family")

    def test_logout_ends_the_session_and_clears_the_cookie(self):
        browser, body, _, _ = self.sign_in()
        status, _, _ = browser.request("POST", f"{V1}/auth/logout",
                                       headers={"Authorization": f"Bearer {body['access_token']}"})
        self.assertEqual(status, 200)
        self.assertIn("Max-Age=0", browser.cookie_header(REFRESH_COOKIE))
        self.assertNotIn(REFRESH_COOKIE, browser.cookies)
        self.assertEqual(me(self.server, body["access_token"]).status, 401)

    def test_metadata_lists_the_code_grant(self):
        doc = self.server.get("/.well-known/oauth-authorization-server").body
        self.assertTrue(doc["authorization_endpoint"].endswith("/api/v1/auth/authorize"))
        self.assertIn("authorization_code", doc["grant_types_supported"])
        self.assertEqual(doc["code_challenge_methods_supported"], ["S256"])
        self.assertIn("code", doc["response_types_supported"])
        self.assertIn("none", doc["token_endpoint_auth_methods_supported"])

    def test_the_dashboard_is_public_with_the_configured_redirects(self):
        r = self.server.get(f"{V1}/service-clients/dashboard", bearer=self.server.admin_token())
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["client_type"], "public")
        self.assertEqual(r.body["redirect_uris"], [REDIRECT, "http://localhost:5173/cb"])


if __name__ == "__main__":
    unittest.main()
