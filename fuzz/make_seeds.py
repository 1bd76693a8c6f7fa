#!/usr/bin/python3
"""Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/): small, valid and nearly
valid inputs of each format, made here from scratch so the fuzzer starts deep in the parsers.
Rerun to regenerate; libFuzzer's own finds are kept in build/fuzz/corpus, never here. A
regression input for a fixed finding goes in by hand as corpus/<target>/regression-<what>."""
import base64
import hashlib
import hmac
import json
import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

HERE = os.path.dirname(os.path.abspath(__file__))


def b64u(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64u_int(n):
    return b64u(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def jws(header, claims, key=b"k" * 32):
    signing_input = f"{b64u(json.dumps(header).encode())}.{b64u(json.dumps(claims).encode())}"
    sig = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64u(sig)}"


def jwt_seeds():
    claims = {"iss": "https://auth.fuzz", "aud": "permiso", "sub": "42", "iat": 1_800_000_000,
              "exp": 1_800_003_600, "jti": "j1", "scope": "trade:read"}
    tokens = {
        "hs256": jws({"alg": "HS256", "typ": "at+jwt", "kid": "k1"}, claims),
        "none": jws({"alg": "none", "typ": "JWT"}, claims).rsplit(".", 1)[0] + ".",
        "crit": jws({"alg": "ES256", "crit": ["exp"], "kid": "k2"}, claims),
        "jku": jws({"alg": "RS256", "jku": "https://evil.example/jwks", "kid": "k3"}, claims),
        "eddsa": jws({"alg": "EdDSA", "kid": "k4"}, dict(claims, aud=["permiso", "other"])),
        "two-dots": "a.b",
        "bad-b64": "eyJ!.eyJ.sig",
    }
    for name, token in tokens.items():
        write("jwt", f"verify-{name}", b"\x00" + token.encode())
    docs = {
        "claims": claims,
        "expired": dict(claims, exp=1),
        "nbf": dict(claims, nbf=1_900_000_000),
        "huge-exp": dict(claims, exp=2**63 - 1, iat=-(2**63)),  # regression-exp-overflow found the UB
        "float": dict(claims, exp=1.8e9, iat="1800000000"),
        "aud-types": dict(claims, aud=[1, None, {"a": []}]),
    }
    for i, (name, doc) in enumerate(docs.items()):
        write("jwt", f"sign-{name}", bytes([2 * i + 1]) + json.dumps(doc).encode())


def jwks_seeds():
    ecpub = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    rsapub = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_numbers()
    edpub = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    keys = [
        {"kty": "EC", "crv": "P-256", "x": b64u_int(ecpub.x), "y": b64u_int(ecpub.y), "kid": "e", "alg": "ES256",
         "use": "sig"},
        {"kty": "RSA", "n": b64u_int(rsapub.n), "e": b64u_int(rsapub.e), "kid": "r", "alg": "RS256"},
        {"kty": "OKP", "crv": "Ed25519", "x": b64u(edpub), "kid": "o", "alg": "EdDSA"},
        {"kty": "oct", "k": b64u(b"secret" * 6), "kid": "s"},
        {"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA", "kid": "p384"},
        {"kty": "RSA", "n": "AQAB", "e": "", "kid": "tiny"},
    ]
    write("jwks", "all-kinds", json.dumps({"keys": keys}))
    write("jwks", "one-ec", json.dumps({"keys": keys[:1]}))
    write("jwks", "not-a-list", '{"keys": {"kty": "EC"}}')
    write("jwks", "nested", '{"keys": [[[[[[[[[[]]]]]]]]]]}')


def form_seeds():
    for name, text in {
        "token": "grant_type=client_credentials&scope=trade%3Aread+market%3Adata",
        "password": "grant_type=password&username=alice&password=S3cret%21%20pw",
        "empty-pairs": "a=1&&b=&c&=d",
        "bad-escape": "a=%ZZ&b=%4",
        "utf8": "name=%E2%82%AC%F0%9F%98%80&x=%C3%28",
        "repeat": "scope=a&scope=b",
    }.items():
        write("form", name, text)


def json_body_seeds():
    for i, (name, doc) in enumerate({
        "oauth": '{"grant_type":"password","username":"alice","password":"pw","scope":"trade:read"}',
        "types": '{"a":1,"b":true,"c":null,"d":1.5e300,"e":[1,2],"f":{"g":"h"}}',
        "dup": '{"a":"1","a":"2"}',
        "deep": "[" * 64 + "]" * 64,
        "escapes": '{"u":"\\u0000\\ud800\\uDC00\\n"}',
    }.items()):
        write("json_body", name, bytes([i % 2]) + doc.encode())


def basic_auth_seeds():
    def basic(user, secret):
        return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()
    for name, text in {
        "basic": basic("mt5-service", "s3cret"),
        "encoded": basic("svc%3Aone", "p%40ss%3Aword"),
        "no-colon": "Basic " + base64.b64encode(b"nocolon").decode(),
        "bad-padding": "Basic YWJj=",
        "bearer": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig",
        "cookies": "a=b; __Secure-permiso_refresh=tok; c=\"q\"",
    }.items():
        write("basic_auth", name, text)


def http_request_seeds():
    reqs = {
        "get": "GET /api/v1/users/42/sessions?page=2&per_page=10 HTTP/1.1\r\nHost: localhost:8000\r\n"
               "Authorization: Bearer abc.def.ghi\r\nX-Forwarded-Host: trading.example.com\r\n"
               "X-Forwarded-Proto: https\r\n\r\n",
        "token": "POST /api/v1/auth/token HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                 "Authorization: Basic c3ZjOnNlY3JldA==\r\nContent-Length: 29\r\n\r\ngrant_type=client_credentials",
        "chunked": "POST /api/v1/auth/token HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                   "Content-Type: application/json\r\n\r\n5\r\n{\"a\":\r\n3\r\n\"b\"}\r\n0\r\n\r\n",
        "smuggle": "POST /api/v1/auth/token HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "traversal": "GET /api/v1/users/..%2F..%2Fetc%2Fpasswd HTTP/1.1\r\nHost: a\r\n\r\n",
        "cookie": "GET /api/v1/auth/authorize?client_id=dashboard&state=x HTTP/1.1\r\nHost: a\r\n"
                  "Cookie: __Secure-permiso_csrf=abc; x=y\r\n\r\n",
    }
    for name, text in reqs.items():
        write("http_request", name, text)


def config_seeds():
    for name, text in {
        "server": '[server]\nport = 8100\nallowed_origins = ["https://a.example.com"]\n',
        "jwt": '[jwt]\nalgorithm = "${FUZZ_VALUE}"\naccess_token_expire_minutes = 15\n',
        "types": '[server]\nport = "eighty"\n[security]\nlockout_threshold = 1e99\n',  # regression-float-for-integer found the UB
        "gateway": '[mt5_api]\nport = 8101\n[mt5_api.broker]\nkind = "simulator"\n',
        "audit": '[audit]\nretention_days = 30\nexport = "stdout"\n',
        "broken": '[server\nport = = 1\n"unterminated',
    }.items():
        write("config", name, text)


def bridge_protocol_seeds():
    """PermisoBridge messages (docs/brokers.md): commands, replies carrying every object and
    `changes`, event frames, and nearly valid ones (wrong version, types, enumeration values)."""
    def dump(doc):
        return json.dumps(doc, separators=(",", ":"))

    account = {"login": 7001, "name": "Fuzz", "server": "Fuzz-Demo", "currency": "USD", "leverage": 100,
               "balance": 2500.5, "credit": 0, "profit": -3.25, "equity": 2497.25, "margin": 12.5,
               "margin_free": 2484.75, "margin_level": 19978, "margin_so_call": 50, "margin_so_so": 30, "demo": True}
    symbol = {"name": "GBPJPY", "description": "Pound vs Yen", "currency_base": "GBP", "currency_profit": "JPY",
              "currency_margin": "GBP", "digits": 3, "point": 0.001, "contract_size": 100000, "volume_min": 0.01,
              "volume_max": 100, "volume_step": 0.01, "stops_level": 0, "calc_mode": 0, "trade_allowed": True}
    tick = {"time_msc": 1_800_000_000_123, "bid": 191.204, "ask": 191.219, "last": 0}
    position = {"ticket": 90011, "login": 7001, "symbol": "GBPJPY", "type": 1, "volume": 0.3, "price_open": 191.3,
                "price_current": 191.219, "sl": 192, "tp": 0, "profit": 15.9, "swap": -0.4, "commission": -1.2,
                "magic": 77, "comment": "fz", "reason": 3, "time_msc": 1_800_000_000_000,
                "time_update_msc": 1_800_000_000_100, "closed": False}
    closed = dict(position, ticket=90012, closed=True, close_time_msc=1_800_000_000_200, close_price=191.22,
                  close_reason=5)
    order = {"ticket": 90020, "login": 7001, "symbol": "GBPJPY", "type": 2, "state": 1, "type_filling": 2,
             "volume_initial": 1, "volume_current": 1, "price_open": 190.5, "price_current": 191.219, "sl": 0,
             "tp": 0, "magic": 0, "comment": "", "position_id": 0, "time_setup_msc": 1_800_000_000_000,
             "time_done_msc": 0}
    deal = {"ticket": 90030, "login": 7001, "order": 90020, "position_id": 90011, "symbol": "GBPJPY", "type": 1,
            "entry": 0, "reason": 3, "volume": 0.3, "price": 191.3, "profit": 0, "commission": -1.2, "swap": 0,
            "magic": 77, "comment": "", "time_msc": 1_800_000_000_000}
    changes = {"positions": [position, closed], "orders": [order], "deals": [deal], "accounts": [account],
               "sequence": 41}
    request = {"action": 1, "magic": 77, "order": 0, "symbol": "GBPJPY", "volume": 0.3, "price": 191.3, "sl": 192,
               "tp": 0, "deviation": 10, "type": 1, "type_filling": 1, "comment": "fz", "position": 0}
    terminal = {"login": 7001, "server": "Fuzz-Demo", "company": "Fuzz Ltd", "name": "MetaTrader 5", "build": 4410,
                "connected": True, "trade_allowed": False, "accounts": "single"}

    def cmd(i, name, **args):
        return dict({"v": 1, "id": i, "cmd": name, "token": "seed-token"}, **args)

    def ok(i, **fields):
        return dict({"v": 1, "id": i, "ok": True}, **fields)

    for name, text in {
        "cmd-hello": dump(cmd(1, "hello")),
        "cmd-order-send": dump(cmd(2, "order_send", login=7001, **request)),
        "cmd-history": dump(cmd(3, "history_deals", login=7001, from_msc=0, to_msc=2**63 - 1)),
        "cmd-bad-types": dump({"v": 1, "id": -4, "cmd": ["hello"], "token": 9}),
        "reply-hello": dump(ok(1, terminal=terminal)),
        "reply-order-send": dump(ok(2, result={"retcode": 10009, "deal": 90030, "order": 90040, "position": 90011,
                                               "volume": 0.3, "price": 191.3, "bid": 191.204, "ask": 191.219,
                                               "comment": "done"}, changes=changes)),
        "reply-rows": dump(ok(5, symbols=[symbol, dict(symbol, name="US500", calc_mode=4)], positions=[position],
                              orders=[order, dict(order, ticket=90021, type=6)],
                              deals=[deal, dict(deal, ticket=90031, type=7)], account=account, tick=tick)),
        "reply-error": dump({"v": 1, "id": 6, "ok": False, "error": "not_found", "message": "no such symbol"}),
        "reply-error-unknown": dump({"v": 1, "id": 7, "ok": False, "error": "teapot", "message": 418}),
        "reply-wrong-version": dump({"v": 2, "id": 8, "ok": True}),
        "event-tick": "tick " + dump({"symbol": "GBPJPY", "tick": tick}),
        "event-trade": "trade " + dump({"changes": changes}),
        "event-heartbeat": "heartbeat " + dump({"time_msc": 1_800_000_000_999, "connected": True}),
        # 923.6788625764161: Boost.JSON 1.81 parses it an ulp off, so the round trip allows 2 ulps
        "edge-numbers": dump(dict(position, ticket=2**64 - 1, volume=1e308, price_open=-0.0, sl=5e-324,
                                  profit=923.6788625764161, magic=2**64 - 1, time_msc=-(2**63),
                                  close_time_msc=None, close_price=None, close_reason=None)),
        "edge-bad-numbers": dump(dict(deal, ticket=-1, volume="1", reason=2**31, type=1.0, magic=2**64)),
        "edge-truncated": "trade " + dump({"changes": changes})[:120],
        "edge-not-object": 'tick [{"bid":1}] "x"',
    }.items():
        write("bridge_protocol", name, text)


def fix_message_seeds():
    """FIX 4.4 messages of docs/fix.md as mt5-api and mt5-sim exchange them, and broken ones."""
    def fix(*fields):
        return "".join(f"{tag}={value}\x01" for tag, value in fields)

    header = (("8", "FIX.4.4"), ("9", "100"))
    for name, text in {
        "d-market-close": fix(*header, ("35", "D"), ("11", "c-1"), ("1", "5001"), ("55", "EURUSD"), ("54", "2"),
                              ("38", "0.25"), ("40", "1"), ("44", "1.10123"), ("59", "3"),
                              ("60", "20261206-14:05:09.123"), ("77", "C"), ("20001", "42"), ("20004", "1.05"),
                              ("20005", "1.2"), ("20002", "7"), ("20003", "20"), ("20025", "1"), ("58", "close"),
                              ("10", "000")),
        "g-modify": fix(("35", "G"), ("11", "c-3"), ("41", "c-2"), ("37", "77"), ("1", "9"), ("55", "EURUSD"),
                        ("54", "2"), ("38", "0.1"), ("40", "2"), ("44", "1.2"), ("60", "20261206-14:05:09"),
                        ("20004", "1.25"), ("20005", "0")),
        "u3-stops": fix(("35", "U3"), ("11", "c-5"), ("1", "9"), ("55", "EURUSD"), ("20001", "42"), ("20005", "1.3")),
        "8-fill": fix(("35", "8"), ("37", "800"), ("11", "c-1"), ("17", "900"), ("150", "F"), ("39", "2"),
                      ("1", "5001"), ("55", "EURUSD"), ("54", "2"), ("38", "0.25"), ("40", "1"), ("44", "1.1"),
                      ("151", "0"), ("14", "0.25"), ("32", "0.25"), ("31", "1.1"), ("6", "1.1"), ("12", "-0.5"),
                      ("20011", "12.5"), ("20012", "0"), ("20015", "0"), ("60", "20261206-14:05:09.123"),
                      ("77", "C"), ("20001", "42"), ("20013", "1.0999"), ("20014", "1.1001"), ("20010", "10009"),
                      ("20024", "4"), ("20025", "1"), ("20026", "0.25"), ("20027", "close it")),
        "8-none": fix(("35", "8"), ("37", "NONE"), ("17", "x"), ("150", "I"), ("39", "0"), ("1", "1"),
                      ("55", "[N/A]"), ("54", "1"), ("38", "0"), ("40", "1"), ("151", "0"), ("14", "0"), ("6", "0"),
                      ("584", "m-1"), ("911", "0"), ("912", "Y")),
        "ap-position": fix(("35", "AP"), ("721", "p-1-42"), ("710", "p-1"), ("727", "2"), ("912", "N"), ("728", "0"),
                           ("1", "5001"), ("581", "1"), ("715", "20261206"), ("55", "EURUSD"), ("730", "1.09"),
                           ("731", "1"), ("734", "1.1"), ("702", "1"), ("703", "TQ"), ("704", "0"), ("705", "0.3"),
                           ("20001", "42"), ("20018", "1.1"), ("20019", "1.09"), ("20011", "30"), ("20015", "3"),
                           ("20016", "1796565908123"), ("20017", "1796565909113")),
        "ae-balance": fix(("35", "AE"), ("571", "5"), ("568", "t-1"), ("748", "1"), ("912", "Y"), ("570", "N"),
                          ("55", "[N/A]"), ("32", "0"), ("31", "0"), ("75", "20261206"),
                          ("60", "20261206-14:05:09.123"), ("1", "5001"), ("37", "0"), ("54", "1"), ("20001", "0"),
                          ("20020", "2"), ("20021", "0"), ("20015", "0"), ("20011", "10000"), ("58", "deposit")),
        "ba-account": fix(("35", "BA"), ("908", "b-1"), ("909", "b-1"), ("910", "3"), ("1", "5001"), ("15", "EUR"),
                          ("901", "10000.5"), ("900", "10010.25"), ("899", "9760.25"), ("20030", "10000.5"),
                          ("20032", "10010.25"), ("20033", "250"), ("20035", "4004.1"), ("20036", "30"),
                          ("20039", "Ada"), ("20041", "N")),
        "y-symbols": fix(("35", "y"), ("320", "s-1"), ("322", "s-1"), ("560", "0"), ("393", "2"), ("893", "Y"),
                         ("146", "2"), ("55", "EURUSD"), ("107", "Euro"), ("15", "USD"), ("231", "100000"),
                         ("562", "0.01"), ("20054", "100"), ("20055", "0.01"), ("20050", "5"), ("20051", "0.00001"),
                         ("20052", "EUR"), ("20053", "EUR"), ("20056", "0"), ("20057", "0"), ("20058", "Y"),
                         ("55", "XAUUSD"), ("15", "USD"), ("231", "100"), ("562", "0.01"), ("20054", "50"),
                         ("20055", "0.01"), ("20050", "2"), ("20051", "0.01"), ("20052", "XAU"), ("20053", "XAU"),
                         ("20057", "4"), ("20058", "N")),
        "w-quote": fix(("35", "W"), ("262", "q"), ("55", "EURUSD"), ("268", "2"), ("269", "0"), ("270", "1.10001"),
                       ("272", "20261206"), ("273", "14:05:09.123"), ("269", "1"), ("270", "1.10011"),
                       ("272", "20261206"), ("273", "14:05:09.123")),
        "v-subscribe": fix(("35", "V"), ("262", "q"), ("263", "1"), ("264", "1"), ("265", "0"), ("267", "2"),
                           ("269", "0"), ("269", "1"), ("146", "1"), ("55", "EURUSD")),
        "u1-open": fix(("35", "U1"), ("20043", "a"), ("20039", "Ada"), ("15", "USD"), ("20036", "500"),
                       ("20042", "1000")),
        "edge-group-lies": fix(("35", "y"), ("320", "s"), ("146", "99999999999999999999"), ("55", "EURUSD")),
        "edge-bad-numbers": fix(("35", "D"), ("11", "c"), ("1", "-1"), ("55", "EURUSD"), ("54", "1"), ("38", "1e400"),
                                ("40", "1"), ("60", "20261340-25:61:61.999")),
        "edge-truncated": fix(("35", "8"), ("37", "800"))[:-3] + "1=",
        "edge-no-equals": "35D\x0111=x\x01",
    }.items():
        write("fix_message", name, text)


if __name__ == "__main__":
    jwt_seeds()
    jwks_seeds()
    form_seeds()
    json_body_seeds()
    basic_auth_seeds()
    http_request_seeds()
    config_seeds()
    bridge_protocol_seeds()
    fix_message_seeds()
