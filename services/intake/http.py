"""Intake's HTTP API: ``POST /petitions`` with one JSON object, a JSON array of them, or JSON lines;
``POST /callbacks``, the petitioner's evaluation of a handling opinion at the bureau's callback (回访);
``POST /reviews``, the petitioner's application for review (复查) or re-check (复核), forwarded to the
body that decides.

Each petition is checked field by field (``Submission``) and registered, or answered with what is
wrong with it; a repeated idempotency key answers with the case it registered the first time.
Only the bureau (``svc-bureau``) and the channels (``channel-<name>``: the online platform, the
12345 hotline bridge) may register petitions; only the bureau records callbacks and applications for review.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from aiohttp import web
from liandong_sdk.events import ReviewStage, Satisfaction, known
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from liandong.api import Api, Call, Problem, ProblemDetail, json_response, problem
from liandong.tokens import Role, TokenStore

from .service import CallbackRefused, IntakeService, LineResult, ReviewRefused
from .submission import Submission

M = TypeVar("M", bound=BaseModel)
#: The schema's symbols a request may name (not their UNKNOWN / OTHER fallbacks), from the schemas.
Evaluation = StrEnum("Evaluation", {s: s for s in known(Satisfaction)})  # type: ignore[misc]
Stage = StrEnum("Stage", {s: s for s in known(ReviewStage)})  # type: ignore[misc]
#: A larger body is answered 413.
MAX_BODY = 16 * 1024 * 1024


class Model(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)


class Line(Model):
    line: int
    """The petition's place in the body, from 1."""
    status: str
    """registered; duplicate (the idempotency key was seen: its case); rejected (not valid: nothing registered);
    not_accepted (registered and not accepted, Art. 36: the same matter after its re-check; the reason in errors,
    and the petitioner receives a not-accepted notice)."""
    case_number: str | None = None
    repeat_of: str | None = None
    """An earlier case of the same petitioner and matter (a repeat petition, Art. 19)."""
    errors: list[str] | None = None
    """For a rejected petition: 'field.path: what is wrong' lines; for one not accepted, why."""


class Registration(Model):
    registered: int
    duplicates: int
    rejected: int
    not_accepted: int = 0
    """Registered but not accepted (Art. 36)."""
    results: list[Line]


class CallbackRequest(Model):
    """The petitioner's evaluation at the callback (回访) after the handling opinion."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    case_number: str = Field(min_length=1, max_length=40)
    evaluation: Evaluation
    """满意, 基本满意 or 不满意."""
    remark: str = Field("", max_length=2000)
    """What the petitioner said, in the bureau's words, without personal data."""
    called_at: AwareDatetime | None = None
    """When the callback took place (default: now); within the callback period after the opinion."""


class CallbackRecorded(Model):
    case_number: str
    unit: str
    """The unit whose opinion was evaluated."""
    evaluation: str
    event_id: str
    """The satisfaction.evaluated event's id."""


class ReviewApplication(Model):
    """The petitioner's application for review (复查, of the unit's opinion, Art. 35) or re-check (复核, of
    the review decision, Art. 36), made at the bureau."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    case_number: str = Field(min_length=1, max_length=40)
    stage: Stage
    """REVIEW (复查) or RECHECK (复核)."""
    grounds: str = Field(min_length=1, max_length=4000)
    """The petitioner's grounds, in the bureau's words, without personal data."""
    applied_at: AwareDatetime | None = None
    """When the petitioner applied (default: now); within 30 days of the decision examined."""


class ReviewForwarded(Model):
    case_number: str
    stage: str
    body: str
    """The reviewing body that decides (its inbox received the request)."""
    reviewed_unit: str
    """Whose decision is examined."""
    due_at: datetime
    """The end of the body's decision period."""
    event_id: str
    """The review.requested event's id."""


#: The application's forwarding: (case number, stage, grounds, applied at) -> the published record.
Review = Callable[[str, str, str, datetime | None], dict[str, Any]]

#: The callback's recording: (case number, evaluation, remark, called at) -> the published record.
Callback = Callable[[str, str, str, datetime | None], dict[str, Any]]

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


def make_api(submit: Callable[[str], list[LineResult]], callback: Callback | None = None,
             review: Review | None = None) -> Api:
    """The API over ``submit`` (JSON lines in, one result per line out), ``callback`` and ``review``."""
    api = Api("intake", "Liandong intake (登记)", __doc__ or "")

    @api.post("/reviews", "Forward the petitioner's application for review (复查) or re-check (复核).",
              response=ReviewForwarded,
              body={"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ReviewApplication"}}}},
              models=(ReviewApplication,), allow=frozenset({Role.BUREAU}),
              responses={409: ("Refused: nothing to examine yet, the application period is over (late), or applied "
                               "before (why).", Problem)})
    async def apply_review(call: Call) -> web.StreamResponse:
        return await _command(call, ReviewApplication, "application for review", review and (
            lambda r: review(r.case_number, r.stage, r.grounds, r.applied_at)), ReviewRefused, lambda r, record: {
            "case_number": r.case_number, "stage": r.stage, "body": record["unit"], "reviewed_unit": record["reviewed_unit"],
            "due_at": record["deadline"]["due_at"], "event_id": str(record["event_id"])})

    @api.post("/callbacks", "Record the petitioner's evaluation at the callback (回访).", response=CallbackRecorded,
              body={"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CallbackRequest"}}}},
              models=(CallbackRequest,), allow=frozenset({Role.BUREAU}),
              responses={409: ("Refused: no handling opinion yet, the callback period is over, or evaluated before (why).",
                               Problem)})
    async def record_callback(call: Call) -> web.StreamResponse:
        return await _command(call, CallbackRequest, "callback", callback and (
            lambda r: callback(r.case_number, r.evaluation, r.remark, r.called_at)), CallbackRefused, lambda r, record: {
            "case_number": r.case_number, "unit": record["unit"], "evaluation": record["evaluation"],
            "event_id": str(record["event_id"])})

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
            "not_accepted": sum(r.status == "not_accepted" for r in results),
            "results": [r.to_dict() for r in results],
        }
        return json_response(body, status=422 if results and body["rejected"] == len(results) else 200)

    return api


async def _command(call: Call, model: type[M], what: str, act: Callable[[M], dict[str, Any]] | None,
                   refused: type[Exception], answer: Callable[[M, dict[str, Any]], dict[str, Any]]) -> web.StreamResponse:
    """One bureau command: the body checked (400 naming the field), done (``act``, in a thread: it waits
    for the broker) or refused with why (409), and answered."""
    try:
        req = model.model_validate_json(await call.request.read())
    except ValidationError as exc:
        return problem(400, f"the {what} is not valid", *(
            ProblemDetail(parameter=".".join(map(str, e["loc"])) or "(body)", message=e["msg"]) for e in exc.errors()))
    if act is None:
        return problem(409, f"this intake takes no {what}")
    try:
        record = await asyncio.to_thread(act, req)
    except refused as exc:
        return problem(409, str(exc))
    return json_response(answer(req, record))


def make_web_app(service: IntakeService) -> web.Application:
    return make_api(service.submit_lines, service.callback, service.apply_review).application(
        TokenStore(service.bus.settings.tokens_path), client_max_size=MAX_BODY,
        health=lambda: {"cases": len(service.registry.by_key)})
