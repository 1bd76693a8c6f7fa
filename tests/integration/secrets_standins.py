# Local stand-ins for the remote secret stores, following their documented requests and
# answers: AWS Secrets Manager's GetSecretValue (JSON 1.1 over POST, every request's Signature
# Version 4 checked by an independent implementation here, errors and throttling as AWS writes
# them). Shared by the provider tests and the front door's key-rotation test.
import datetime
import hashlib
import hmac
import json
import ssl
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REGION = "eu-west-1"


def sigv4_signature(secret_key, method, path, query, headers, signed_names, body, amz_date, region, service):
    """Signature Version 4, written from AWS's documentation, independently of the server's."""
    def enc(s, safe="-_.~"):
        return urllib.parse.quote(s, safe=safe)
    pairs = sorted((enc(k), enc(v)) for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True))
    canonical = "\n".join([
        method, enc(path, safe="/-_.~"), "&".join(f"{k}={v}" for k, v in pairs),
        "".join(f"{n}:{' '.join(headers[n].split())}\n" for n in signed_names),
        ";".join(signed_names), hashlib.sha256(body).hexdigest()])
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret_key).encode()
    for part in (amz_date[:8], region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


class StandIn:
    """A threaded HTTP(S) server on loopback whose handler is `handle(request) -> (status, headers, body)`."""

    def __init__(self, handle, tls=None):

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def respond(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = handle(self, body)
                data = json.dumps(payload).encode() if payload is not None else b""
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = respond

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class AwsSecretsManager:
    """GetSecretValue as AWS documents it; the first call of each run is throttled."""

    def __init__(self, secrets_by_id, access_key, secret_key, session_token=None):
        self.secrets = secrets_by_id
        self.keys = {access_key: (secret_key, session_token)}
        self.verified = 0
        self.refused = []
        self.throttle_next = True
        self.lock = threading.Lock()
        self.server = StandIn(self.handle)
        self.url = f"http://127.0.0.1:{self.server.port}"

    def error(self, status, kind, message):
        return status, {"Content-Type": "application/x-amz-json-1.1"}, {"__type": kind, "message": message}

    def handle(self, req, body):
        headers = {k.lower(): v for k, v in req.headers.items()}
        auth = headers.get("authorization", "")
        try:
            fields = dict(part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 "):].split(","))
            access_key, date, region, service, _ = fields["Credential"].split("/")
            signed = fields["SignedHeaders"].split(";")
        except (ValueError, KeyError):
            return self.error(400, "IncompleteSignatureException", "no SigV4 authorization")
        secret_key, token = self.keys.get(access_key, (None, None))
        if secret_key is None:
            return self.error(400, "UnrecognizedClientException", "unknown access key")
        u = urllib.parse.urlsplit(req.path)
        expected = sigv4_signature(secret_key, req.command, u.path, u.query, headers, signed, body,
                                   headers.get("x-amz-date", ""), region, service)
        skew = abs((datetime.datetime.now(datetime.timezone.utc) - datetime.datetime.strptime(
            headers.get("x-amz-date", "19700101T000000Z"), "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc)).total_seconds())
        required = {"host", "x-amz-date"} | ({"x-amz-security-token"} if token else set())
        if (fields.get("Signature") != expected or not required <= set(signed) or skew > 300
                or (region, service) != (REGION, "secretsmanager") or headers.get("x-amz-security-token") != token):
            with self.lock:
                self.refused.append(req.path)
            return self.error(400, "InvalidSignatureException", "signature mismatch")
        with self.lock:
            self.verified += 1
            throttle, self.throttle_next = self.throttle_next, False
        if throttle:
            return self.error(400, "ThrottlingException", "Rate exceeded")
        if headers.get("x-amz-target") != "secretsmanager.GetSecretValue" or \
                headers.get("content-type") != "application/x-amz-json-1.1":
            return self.error(400, "UnknownOperationException", "")
        secret_id = json.loads(body)["SecretId"]
        if secret_id not in self.secrets:
            return self.error(400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
        return 200, {"Content-Type": "application/x-amz-json-1.1"}, {
            "ARN": f"arn:aws:secretsmanager:{REGION}:123456789012:secret:{secret_id}", "Name": secret_id,
            "SecretString": self.secrets[secret_id], "VersionId": "v1", "VersionStages": ["AWSCURRENT"]}
