# Every answer the integration suites receive from a service is checked against that
# service's OpenAPI document (api/*.yaml): the operation must be documented, the status listed
# (exactly, as 4XX/5XX, or as default), and a JSON body must validate against the schema the
# document gives for it. A difference fails the test that made the request.
"""Uses Debian's python3-yaml and python3-jsonschema (JSON Schema 2020-12, as OpenAPI 3.1).

harness.http_request calls check() for every answer of a base URL that a ServiceProcess
registered with register(base_url, "permiso-auth" | "mt5-api"); other URLs (the front door,
stand-ins) are not checked. PERMISO_OPENAPI_CHECK=0 turns the check off (while editing a
document, never in CI).
"""
import functools
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.environ.get("PERMISO_REPO") or os.path.dirname(os.path.dirname(HERE))
ENABLED = os.environ.get("PERMISO_OPENAPI_CHECK", "1") != "0"

_services = {}  # base URL → service name


class DocumentMismatch(AssertionError):
    pass


def register(base_url, service):
    _services[base_url.rstrip("/")] = service


def unregister(base_url):
    _services.pop(base_url.rstrip("/"), None)


@functools.lru_cache(maxsize=None)
def document(service):
    import yaml
    with open(os.path.join(REPO, "api", f"{service}.yaml"), encoding="utf-8") as f:
        return yaml.safe_load(f)


@functools.lru_cache(maxsize=None)
def _operations(service):
    """[(regex, template, path item)] with literal paths before templated ones."""
    out = []
    for template, item in document(service)["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
        out.append((template.count("{"), re.compile(pattern), template, item))
    out.sort(key=lambda t: t[0])
    return [(rx, template, item) for _, rx, template, item in out]


@functools.lru_cache(maxsize=None)
def _validator(service):
    from jsonschema import Draft202012Validator, RefResolver
    doc = document(service)
    return lambda schema: Draft202012Validator(schema, resolver=RefResolver.from_schema(doc))


def _resolve(service, node):
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise DocumentMismatch(f"{service}: only local references are supported: {ref}")
        node = document(service)
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _response_for(service, operation, status):
    responses = operation.get("responses", {})
    for key in (str(status), f"{str(status)[0]}XX", "default"):
        if key in responses:
            return _resolve(service, responses[key])
    return None


def check(base_url, method, path, status, content_type, body, raw):
    """Raises DocumentMismatch when the answer is not what the document describes."""
    service = _services.get(base_url.rstrip("/"))
    if not ENABLED or service is None:
        return
    path = path.split("?", 1)[0]
    if method == "OPTIONS":  # CORS preflights: answered by the server before any route
        return
    where = f"{service}: {method} {path} answered {status}"
    # As the router: the most literal path that serves the method ("/users/me" before "/users/{id}").
    matching = [(template, item) for rx, template, item in _operations(service) if rx.match(path)]
    serving = [(template, item[method.lower()]) for template, item in matching if method.lower() in item]
    if not serving:
        if status in (404, 405):  # the router's own answer: no such path, or not this method
            return
        if matching:
            raise DocumentMismatch(f"{where}, but {matching[0][0]} documents no {method}")
        raise DocumentMismatch(f"{where}, but the document has no path like it")
    template, operation = serving[0]
    response = _response_for(service, operation, status)
    if response is None:
        raise DocumentMismatch(f"{where}, a status {template} does not list: {raw[:300]!r}")
    media = (content_type or "").split(";")[0].strip().lower()
    content = response.get("content") or {}
    if not raw:
        return
    if media not in content:
        if content:
            raise DocumentMismatch(f"{where} with {media or 'no Content-Type'}, documented as "
                                   f"{', '.join(content)}: {raw[:200]!r}")
        return  # a documented body-less answer that carries a body: not checked
    schema = content[media].get("schema")
    if schema is None or media != "application/json":
        return
    errors = sorted(_validator(service)(schema).iter_errors(body), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        at = "/".join(str(p) for p in first.absolute_path) or "(the body)"
        raise DocumentMismatch(f"{where}: the body does not match the document's schema at {at}: "
                               f"{first.message[:300]} ({len(errors)} error(s)); body {raw[:400]!r}")
