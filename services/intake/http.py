"""Intake's HTTP API: ``POST /petitions`` with one JSON object, a JSON array of them, or JSON lines.

Each petition is checked field by field (``Submission``) and registered, or answered with what is
wrong with it; a repeated idempotency key answers with the case it registered the first time.
Only the bureau (``svc-bureau``) and the channels (``channel-<name>``: the online platform, the
12345 hotline bridge) may register petitions.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from liandong.api import Api, Call, json_response, problem
from liandong.tokens import Role, TokenStore

from .service import IntakeService, LineResult
from .submission import Submission

#: A larger body is answered 413.
MAX_BODY = 16 * 1024 * 1024


class Model(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)


class Line(Model):
    line: int
    """The petition's place in the body, from 1."""
    status: str
    """registered, duplicate (the idempotency key was seen: its case) or rejected."""
    case_number: str | None = None
    repeat_of: str | None = None
    """An earlier case of the same petitioner and matter (a repeat petition, Art. 19)."""
    errors: list[str] | None = None
    """For a rejected petition: 'field.path: what is wrong' lines."""


class Registration(Model):
    registered: int
    duplicates: int
    rejected: int
    results: list[Line]


_BODY = {
    "required": True,
    "description": "One petition, a JSON array of petitions, or JSON lines (one petition per line).",
    "content": {
        "application/json": {"schema": {"oneOf": [
            {"$ref": "#/components/schemas/Submission"},
            {"type": "array", "items": {"$ref": "#/components/schemas/Submission"}, "minItems": 1}]}},
        "application/x-ndjson": {"schema": {"type": "string", "description": "One Submission per line."}},
    },
}


def make_api(submit: Callable[[str], list[LineResult]]) -> Api:
    """The API over ``submit`` (JSON lines in, one result per line out)."""
    api = Api("intake", "Liandong intake (登记)", __doc__ or "")

    @api.post("/petitions", "Register petitions.", response=Registration, body=_BODY, models=(Submission,),
              allow=frozenset({Role.BUREAU, Role.CHANNEL}), errors=(413,),
              responses={422: ("Every petition in the body was rejected (the reasons per line).", Registration)})
    async def register(call: Call) -> web.StreamResponse:
        raw = await call.request.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return problem(400, f"the body is not UTF-8 text (byte {exc.start})")
        stripped = text.lstrip()
        if not stripped:
            return problem(400, "the body is empty: send one petition, an array of them, or JSON lines")
        if stripped.startswith("["):
            try:
                items: Any = json.loads(text)
            except json.JSONDecodeError as exc:
                return problem(400, f"the body is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")
            if not items:
                return problem(400, "the array is empty: send at least one petition")
            text = "\n".join(json.dumps(i, ensure_ascii=False) for i in items)
        results = await asyncio.to_thread(submit, text)
        body = {
            "registered": sum(r.status == "registered" for r in results),
            "duplicates": sum(r.status == "duplicate" for r in results),
            "rejected": sum(r.status == "rejected" for r in results),
            "results": [r.to_dict() for r in results],
        }
        return json_response(body, status=422 if results and body["rejected"] == len(results) else 200)

    return api


def make_web_app(service: IntakeService) -> web.Application:
    return make_api(service.submit_lines).application(TokenStore(service.bus.settings.tokens_path), client_max_size=MAX_BODY,
                                         health=lambda: {"cases": len(service.registry.by_key)})
