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


if __name__ == "__main__":
    jwt_seeds()
    jwks_seeds()
    form_seeds()
    json_body_seeds()
    basic_auth_seeds()
    http_request_seeds()
    config_seeds()
