"""The services' HTTP APIs, declared once: each endpoint's path, parameters, answer, errors and who
may call it. From the declaration come the routes, the checks and the OpenAPI 3.1 document
(served at ``/openapi.json``, committed under ``docs/openapi/``: ``liandong openapi``).

Every request but ``/healthz`` and ``/openapi.json`` carries ``Authorization: Bearer <token>``
(``liandong.tokens``): none or a wrong one is 401, a principal whose role the endpoint does not
allow is 403; both counted (``liandong_http_refused_requests_total``). A parameter that is
malformed, unknown or out of range is 400 with a ``Problem`` naming it and what is allowed; any
other error is a ``Problem`` too, never an HTML page.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from liandong_sdk.records import json_default
from pydantic import BaseModel, ConfigDict, ValidationError

from ._logging import get_logger
from .metrics import HTTP_REFUSED
from .tokens import PEER_HEADER, Caller, Role, TokenStore

__all__ = ["OPEN_PATHS", "Api", "Call", "Endpoint", "Handler", "Parameters", "Problem", "ProblemDetail", "call_api", "json_response",
           "problem"]

log = get_logger(__name__)

#: Answered without a token.
OPEN_PATHS = ("/healthz", "/openapi.json")
EVERYONE = frozenset(Role)


class Parameters(BaseModel):
    """Base of an endpoint's query or path parameters: an unknown one is an error, not ignored."""

    model_config = ConfigDict(extra="forbid")


class ProblemDetail(BaseModel):
    parameter: str
    """The query or path parameter (or body field) at fault."""
    message: str
    allowed: str | None = None
    """What it may be, in words."""


class Problem(BaseModel):
    """Every error answer: what went wrong and, for a bad request, which parameter and why."""

    error: str
    problems: list[ProblemDetail] = []


_ERRORS = {
    400: "A parameter is malformed, unknown or out of range (named in `problems`).",
    401: "No token, or a token that is unknown, wrong or revoked (`Authorization: Bearer <token>`).",
    403: "The token's principal may not call this endpoint.",
    404: "Nothing by that name (or nothing this principal may see).",
    413: "The body is larger than the endpoint accepts.",
    503: "A worker of the service that holds part of the answer cannot be asked now (see `Retry-After`).",
}


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON answer: UTF-8 text as is, times in ISO 8601, ids as text."""
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json")
    return web.json_response(body, status=status, headers=headers,
                             dumps=lambda o: json.dumps(o, ensure_ascii=False, default=json_default))


def problem(status: int, error: str, *details: ProblemDetail, headers: Mapping[str, str] | None = None) -> web.Response:
    return json_response(Problem(error=error, problems=list(details)), status=status, headers=headers)


@dataclass
class Call:
    """One request to an endpoint, checked: who calls, and its parameters parsed."""

    request: web.Request
    caller: Caller | None
    query: Any = None
    path: Any = None


Handler = Callable[[Call], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    summary: str
    handler: Handler
    #: The 200 answer's body, for the document (a pydantic model).
    response: type[BaseModel] | None
    query: type[Parameters] | None = None
    path_parameters: type[Parameters] | None = None
    #: The request body, as OpenAPI's ``requestBody`` (None: no body).
    body: dict[str, Any] | None = None
    #: Roles that may call it (None: open, no token).
    allow: frozenset[Role] | None = EVERYONE
    #: Error statuses it can answer with, besides 400/401/403 which follow from the above.
    errors: tuple[int, ...] = ()
    #: Further answers: status -> (description, body model).
    responses: Mapping[int, tuple[str, type[BaseModel]]] = field(default_factory=dict)
    description: str = ""
    #: Models the body refers to, for the document's components.
    models: tuple[type[BaseModel], ...] = ()

    @property
    def operation_id(self) -> str:
        return self.handler.__name__.strip("_")


class Api:
    """A service's HTTP API: its endpoints, the application that serves them, and its document."""

    def __init__(self, service: str, title: str, description: str, version: str = "1") -> None:
        self.service, self.title, self.description, self.version = service, title, description, version
        self.endpoints: list[Endpoint] = []
        #: Routes outside the document (e.g. the workers' own ``/_workers/...``), added as they are.
        self.internal: list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = []

    def add(self, endpoint: Endpoint) -> None:
        self.endpoints.append(endpoint)

    def get(self, path: str, summary: str, *, response: type[BaseModel] | None, **kw: Any) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.add(Endpoint("GET", path, summary, handler, response, **kw))
            return handler

        return register

    def post(self, path: str, summary: str, *, response: type[BaseModel] | None, **kw: Any) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.add(Endpoint("POST", path, summary, handler, response, **kw))
            return handler

        return register

    # -- serving ------------------------------------------------------------------------------
    def application(self, tokens: TokenStore, *, middlewares: Iterable[Any] = (), client_max_size: int = 1024 ** 2,
                    health: Callable[[], dict[str, Any]] = lambda: {}) -> web.Application:
        app = web.Application(middlewares=[_problems, *middlewares], client_max_size=client_max_size)

        async def tokens_ready(_: web.Application) -> None:  # at the service's start, not at its first request
            tokens.check(self.service)

        app.on_startup.append(tokens_ready)
        for code in ("401", "403"):  # at 0 from the first scrape
            HTTP_REFUSED.labels(self.service, code)
        document = self.document()
        for e in self.endpoints:
            app.router.add_route(e.method, e.path, self._checked(e, tokens))

        async def openapi(_: web.Request) -> web.Response:
            return json_response(document)

        async def healthz(_: web.Request) -> web.Response:
            return json_response({"status": "ok", **health()})

        app.router.add_get("/openapi.json", openapi)
        app.router.add_get("/healthz", healthz)
        for method, path, handler in self.internal:
            app.router.add_route(method, path, _peers_only(handler, tokens))
        return app

    def _checked(self, e: Endpoint, tokens: TokenStore) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            response = await checked(request)
            if response.status in (401, 403):  # the endpoint's own refusals too (a unit asking of another)
                HTTP_REFUSED.labels(self.service, str(response.status)).inc()
            return response

        async def checked(request: web.Request) -> web.StreamResponse:
            caller = None
            if e.allow is not None:
                caller, refusal = _authenticate(request, tokens)
                if refusal is not None:
                    return refusal
                assert caller is not None
                if caller.role not in e.allow:
                    return problem(403, f"{caller.principal} ({caller.role.value}) may not call "
                                        f"{e.method} {e.path}; allowed: {', '.join(sorted(r.value for r in e.allow))}")
            try:
                query = _parse(e.query, _single(request.query)) if e.query else None
                path = _parse(e.path_parameters, dict(request.match_info)) if e.path_parameters else None
            except _BadRequest as bad:
                return problem(400, "bad request", *bad.details)
            if e.query is None and request.query:
                return problem(400, "bad request", *(ProblemDetail(parameter=k, message="unknown parameter",
                                                                   allowed="none") for k in request.query))
            return await e.handler(Call(request, caller, query, path))

        return handle

    # -- the document ---------------------------------------------------------------------------
    def document(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document of every endpoint."""
        components: dict[str, Any] = {}
        paths: dict[str, Any] = {}

        def ref(model: type[BaseModel]) -> dict[str, Any]:
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
            components.update(schema.pop("$defs", {}))
            components[model.__name__] = schema
            return {"$ref": f"#/components/schemas/{model.__name__}"}

        def answer(description: str, model: type[BaseModel] | None) -> dict[str, Any]:
            out: dict[str, Any] = {"description": description}
            if model is not None:
                out["content"] = {"application/json": {"schema": ref(model)}}
            return out

        for e in self.endpoints:
            for m in e.models:
                ref(m)
            op: dict[str, Any] = {"operationId": e.operation_id, "summary": e.summary}
            if e.description:
                op["description"] = e.description
            params = [*_parameters(e.path_parameters, "path"), *_parameters(e.query, "query")]
            if params:
                op["parameters"] = params
            if e.body is not None:
                op["requestBody"] = e.body
            responses = {"200": answer("OK", e.response)}
            for status, (description, model) in e.responses.items():
                responses[str(status)] = answer(description, model)
            errors = set(e.errors) | ({400} if params or e.body else set()) | ({401, 403} if e.allow is not None else set())
            for status in sorted(errors):
                responses[str(status)] = answer(_ERRORS[status], Problem)
            op["responses"] = responses
            if e.allow is not None:
                op["security"] = [{"bearer": []}]
                op["x-liandong-roles"] = sorted(r.value for r in e.allow)
            paths.setdefault(e.path, {})[e.method.lower()] = op
        paths["/healthz"] = {"get": {"operationId": "health", "summary": "Liveness (no token needed).",
                                     "responses": {"200": {"description": "The service is up.", "content": {
                                         "application/json": {"schema": _HEALTH}}}}}}
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version, "description": self.description},
            "servers": [{"url": "/"}],
            "paths": dict(sorted(paths.items())),
            "components": {
                "schemas": dict(sorted(components.items())),
                "securitySchemes": {"bearer": {
                    "type": "http", "scheme": "bearer",
                    "description": "A token from `liandong tokens issue <principal>` (ld_<id>_<secret>)."}},
            },
        }


#: /healthz's answer. A worker of a service that reads the bus adds ``ready`` and ``partitions``; intake ``cases``.
_HEALTH = {"type": "object", "required": ["status"], "properties": {
    "status": {"const": "ok", "description": "The process serves HTTP."},
    "ready": {"type": "boolean", "description": "A member of its consumer group, between rebalances, with its "
                                                "tables restored (the liandong_worker_ready gauge)."},
    "partitions": {"type": "array", "items": {"type": "integer"},
                   "description": "The input partitions this worker owns (empty while not ready)."},
    "cases": {"type": "integer", "description": "Intake: the registrations of its district it has read (its own and other instances')."}}}


def _authenticate(request: web.Request, tokens: TokenStore) -> tuple[Caller | None, web.Response | None]:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    caller = tokens.caller(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
    if caller is None:
        why = "no token given" if not header else "the token is unknown, wrong or revoked"
        return None, problem(401, f"{why}: send Authorization: Bearer <token> (liandong tokens issue)",
                             headers={"WWW-Authenticate": 'Bearer realm="liandong"'})
    return caller, None


def _peers_only(handler: Callable[[web.Request], Awaitable[web.StreamResponse]], tokens: TokenStore
                ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        if not tokens.peer(request.headers.get(PEER_HEADER)):
            return problem(403, "only a worker of this service may ask this")
        return await handler(request)

    return handle


class _BadRequest(Exception):
    def __init__(self, details: list[ProblemDetail]) -> None:
        self.details = details


def _single(query: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    details = []
    for k in dict.fromkeys(query):
        values = query.getall(k)  # type: ignore[attr-defined]
        if len(values) > 1:
            details.append(ProblemDetail(parameter=k, message="given more than once", allowed="one value"))
        out[k] = values[0]
    if details:
        raise _BadRequest(details)
    return out


def _parse(model: type[Parameters], values: dict[str, str]) -> Parameters:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        props = _properties(model)
        details = []
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "(parameters)"
            if err["type"] == "extra_forbidden":
                details.append(ProblemDetail(parameter=name, message="unknown parameter",
                                             allowed=", ".join(props) or "none"))
            else:
                details.append(ProblemDetail(parameter=name, message=err["msg"], allowed=_allowed(props.get(name, {}))))
        raise _BadRequest(details) from None


def _allowed(schema: dict[str, Any]) -> str | None:
    if "enum" in schema:
        return ", ".join(map(str, schema["enum"]))
    kind = schema.get("type")
    if kind == "boolean":
        return "true or false (also 1/0, yes/no, on/off)"
    if kind == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        return f"an integer from {low} to {high}" if low is not None and high is not None else "an integer"
    if "pattern" in schema:
        return f"text matching {schema['pattern']}" + (f" (e.g. {schema['examples'][0]})" if schema.get("examples") else "")
    return None


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter cannot be null: ``X | None = None`` documents as X, not required."""
    options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    if len(options) == 1:
        rest = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
        return {**options[0], **rest}
    return {k: v for k, v in schema.items() if not (k == "default" and v is None)}


def _properties(model: type[Parameters]) -> dict[str, dict[str, Any]]:
    """Each parameter's schema, whole: a parameter is described on its own, so an enum pydantic
    keeps in ``$defs`` is written in place."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                target = {k: v for k, v in defs[node["$ref"].rsplit("/", 1)[1]].items() if k != "title"}
                return inline({**target, **{k: v for k, v in node.items() if k != "$ref"}})
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return {name: _not_null(inline(prop)) for name, prop in schema["properties"].items()}


def _parameters(model: type[Parameters] | None, where: str) -> list[dict[str, Any]]:
    if model is None:
        return []
    required = set(model.model_json_schema().get("required", []))
    out = []
    for name, prop in _properties(model).items():
        description = prop.pop("description", None)
        prop.pop("title", None)
        p: dict[str, Any] = {"name": name, "in": where, "required": where == "path" or name in required, "schema": prop}
        if description:
            p["description"] = description
        out.append(p)
    return out


@web.middleware
async def _problems(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                    ) -> web.StreamResponse:
    """aiohttp's own errors (no such route, wrong method, a body too large) as Problems; anything
    unforeseen as a 500 Problem, logged."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem(exc.status, exc.reason.lower() + (f": {exc.text}" if exc.text and exc.text != f"{exc.status}: {exc.reason}"
                                                         else ""), headers={k: v for k, v in exc.headers.items()
                                                                            if k in ("Allow", "Retry-After")})
    except Exception:
        log.exception("http_error", path=request.path)
        return problem(500, "internal error (logged): please report it")


def call_api(url: str, token: str | None, body: bytes | None = None, *, content_type: str = "application/json",
             timeout: float = 30, headers: Mapping[str, str] | None = None) -> tuple[int, Any]:
    """A client's call (GET, or POST with a body): the status and the JSON answer, an error's too.
    Raises OSError when nothing answers."""
    headers = {**(headers or {}), **({"Authorization": f"Bearer {token}"} if token else {})}
    if body is not None:
        headers["Content-Type"] = content_type
    req = urllib.request.Request(url, data=body, method="GET" if body is None else "POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, {"error": raw.decode(errors="replace")}
