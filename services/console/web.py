"""The console's pages (aiohttp, Jinja2 templates in ``templates/``), in Chinese.

Sign-in per person (``accounts``); a session is an encrypted cookie (aiohttp-session), HttpOnly and
SameSite=Strict, with a CSRF token every form carries back; sign-in attempts are throttled.
The bureau's pages (``/desk``, ``/cases/{n}``) and a unit's (``/inbox``, ``/cases/{n}`` of a case
handed to it) act through the desks (``desks``), and ``/live`` streams what arrives (server-sent
events): a page fetches its live part again when told.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from aiohttp_session import get_session, new_session
from aiohttp_session import setup as setup_sessions
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from jinja2 import Environment, FileSystemLoader, select_autoescape
from liandong_sdk import BUREAU_TZ, HANDLING_UNITS, DepartmentError, Handoff, LiandongError
from liandong_sdk.events import (
    ResolutionOutcome,
    ResolutionTag,
    Satisfaction,
    SupervisionNoticeIssued,
    SupervisionRecommendationIssued,
    known,
)
from liandong_sdk.records import case_ref_of

from liandong import load_clocks
from liandong.domain import bureau_year, supervision
from liandong.domain.case import STATUS_WORDS
from services.coordination import requests as rq
from services.coordination.config import load_config as load_coordination

from .accounts import BUREAU, Account, AccountStore, Throttle
from .desks import BureauDesk, Live, UnitDesk

HERE = Path(__file__).parent
WORDS: dict[str, dict[str, str]] = yaml.safe_load((HERE / "words.yaml").read_text(encoding="utf-8"))
UNIT_NAMES: dict[str, str] = {u: v["name"] for u, v in yaml.safe_load(
    (HERE.parent / "notices" / "notices.yaml").read_text(encoding="utf-8"))["units"].items()}
#: A unit's answers from its case page: the SDK call and the form fields it takes.
ANSWERS: dict[str, tuple[str, ...]] = {
    "sign_for": ("signed_by",), "object": ("reason",), "accept": (), "not_accept": ("reason",),
    "report_progress": ("percent", "note"), "request_extension": ("days", "reason"),
    "resolve": ("outcome", "tag", "opinion"),
}
#: A unit's answers on /work: the SDK call, the form field naming what it answers, and the fields it takes.
WORK: dict[str, tuple[str, tuple[str, ...]]] = {
    "join_mediation": ("mediation_id", ()), "decline_mediation": ("mediation_id", ("reason",)),
    "report_package_progress": ("package_id", ("percent", "actions")),
    "acknowledge_task": ("task_number", ("acknowledged_by",)), "complete_task": ("task_number", ("report",)),
    "answer_recommendation": ("recommendation_id", ("adopted", "reason")),
}
SESSION_HOURS = 8

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Console:
    """The pages and what they act through."""

    def __init__(self, accounts: AccountStore, bureau: BureauDesk, units: dict[str, UnitDesk], live: Live,
                 clock: Callable[[], datetime], throttle: Throttle | None = None) -> None:
        self.accounts, self.bureau, self.units, self.live, self.clock = accounts, bureau, units, live, clock
        # Five failures per name; an office's staff share an address, so more for one address.
        self.throttle = throttle or Throttle()
        self.address_throttle = Throttle(limit=50, clock=self.throttle.clock)
        self.calendar = load_clocks().calendar
        self.templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(),
                                     trim_blocks=True, lstrip_blocks=True)
        coordination = load_coordination()
        self.package_roles = list(coordination.package_roles)
        self.templates.globals.update(words=WORDS, unit_names=UNIT_NAMES, status_words=_status_words(),
                                      local=_local, units=list(HANDLING_UNITS), outcomes=known(ResolutionOutcome),
                                      tags=known(ResolutionTag), evaluations=known(Satisfaction),
                                      package_roles=self.package_roles, teams=coordination.teams,
                                      recommendation_kinds=supervision.RECOMMENDATION_KINDS,
                                      triggers=[t for t in supervision.TRIGGERS if t != "OVERDUE"])

    # -- the application ------------------------------------------------------------------
    def application(self) -> web.Application:
        app = web.Application()
        # the session first: the CSRF check reads it
        setup_sessions(app, EncryptedCookieStorage(secrets.token_bytes(32), cookie_name="liandong_console",
                                                   httponly=True, samesite="Strict", max_age=SESSION_HOURS * 3600))
        app.middlewares.append(self._csrf)
        app.add_routes([
            web.get("/login", self.login_page), web.post("/login", self.login), web.post("/logout", self.logout),
            web.get("/", self.home), web.get("/live", self.stream),
            web.get("/desk", self.desk), web.post("/desk/register", self.register),
            web.get("/inbox", self.inbox), web.get("/work", self.work), web.post("/work", self.work_answer),
            web.post("/desk/task", self.team_task), web.post("/cases/{number}/order", self.order),
            web.get("/cases/{number}", self.case), web.post("/cases/{number}/decide", self.decide),
            web.post("/cases/{number}/answer", self.answer),
        ])
        app.router.add_static("/static", HERE / "static")
        return app

    @web.middleware
    async def _csrf(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Every POST carries the session's CSRF token back (a form's hidden ``csrf`` field)."""
        if request.method == "POST":
            session = await get_session(request)
            form = await request.post()
            expected, given = session.get("csrf"), form.get("csrf")
            if not expected or not isinstance(given, str) or not secrets.compare_digest(expected, given):
                return self.render("error.html", None, status=403, message="表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试。")
        return await handler(request)

    def render(self, page: str, account: Account | None, *, status: int = 200, fragment: str | None = None,
               **context: Any) -> web.Response:
        template = self.templates.get_template(page)
        ctx = {"account": account, "now": self.clock(), **context}
        # only the page's live part, when the page fetches it again (told by /live)
        html = "".join(template.blocks[fragment](template.new_context(ctx))) if fragment else template.render(ctx)
        return web.Response(text=html, status=status, content_type="text/html", charset="utf-8",
                            headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY",
                                     "Content-Security-Policy": "default-src 'self'"})

    async def _account(self, request: web.Request) -> tuple[Account | None, Any]:
        session = await get_session(request)
        name, principal = session.get("account"), session.get("principal")
        return (Account(name, principal, group=session.get("group")) if name and principal else None), session

    async def _signed_in(self, request: web.Request) -> Account:
        account, _ = await self._account(request)
        if account is None:
            raise web.HTTPSeeOther("/login")
        return account

    # -- sign-in ----------------------------------------------------------------------------
    async def login_page(self, request: web.Request) -> web.StreamResponse:
        session = await get_session(request)
        session.setdefault("csrf", secrets.token_urlsafe(32))
        return self.render("login.html", None, csrf=session["csrf"])

    async def login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
        by_name, by_address = (self.throttle, f"name:{name}"), (self.address_throttle, f"addr:{request.remote}")
        session = await get_session(request)
        wait = max(t.wait(k) for t, k in (by_name, by_address))
        if wait > 0:
            return self.render("login.html", None, status=429, csrf=session["csrf"], name=name,
                               error=f"登录失败次数过多，请 {int(wait // 60) + 1} 分钟后再试。")
        account = await asyncio.to_thread(self.accounts.verify, name, password)
        if account is None:
            for t, k in (by_name, by_address):
                t.failed(k)
            return self.render("login.html", None, status=401, csrf=session["csrf"], name=name, error="用户名或密码错误。")
        self.throttle.succeeded(by_name[1])
        session = await new_session(request)  # a new session at sign-in (no fixation)
        session.update({"account": account.name, "principal": account.principal, "group": account.group,
                        "csrf": secrets.token_urlsafe(32)})
        raise web.HTTPSeeOther("/")

    async def logout(self, request: web.Request) -> web.StreamResponse:
        session = await get_session(request)
        session.invalidate()
        raise web.HTTPSeeOther("/login")

    async def home(self, request: web.Request) -> web.StreamResponse:
        account = await self._signed_in(request)
        raise web.HTTPSeeOther("/desk" if account.principal == BUREAU else "/work" if account.group else "/inbox")

    # -- the bureau ---------------------------------------------------------------------------
    async def _bureau(self, request: web.Request) -> tuple[Account, Any]:
        account, session = await self._account(request)
        if account is None:
            raise web.HTTPSeeOther("/login")
        if account.principal != BUREAU:
            raise web.HTTPSeeOther("/inbox")
        return account, session

    async def desk(self, request: web.Request) -> web.StreamResponse:
        account, session = await self._bureau(request)
        return await self._desk(request, account, session)

    async def _desk(self, request: web.Request, account: Account, session: Any, *, status: int = 200,
                    **form: Any) -> web.Response:
        find = request.query.get("q", "").strip()
        _, listed = await asyncio.to_thread(self.bureau.ledger, "/cases?limit=1000")
        _, overdue = await asyncio.to_thread(self.bureau.ledger, "/cases?overdue=true&limit=1000")
        cases = sorted((listed or {}).get("cases", []), key=lambda c: c.get("registered_at") or "", reverse=True)
        if find:
            cases = [c for c in cases if find in c["case_number"]]
        return self.render("desk.html", account, status=status, fragment=_fragment(request), csrf=session["csrf"],
                           cases=cases[:50], overdue=(overdue or {}).get("cases", []), find=find,
                           registered=request.query.get("registered"), flash=_flash(request, session), **form)

    async def register(self, request: web.Request) -> web.StreamResponse:
        account, session = await self._bureau(request)
        form = await request.post()
        petition = _petition(form, self.clock())
        _, answer = await asyncio.to_thread(self.bureau.register, petition)
        line = (answer.get("results") or [{}])[0]  # 422 when it is rejected: its errors are on its line
        if line.get("case_number") and line.get("status") in ("registered", "duplicate", "not_accepted"):
            raise web.HTTPSeeOther(f"/desk?registered={line['case_number']}")
        errors = line.get("errors") or [f"{p.get('parameter')}: {p.get('message')}" for p in answer.get("problems", [])] \
            or [str(answer.get("error", answer))]
        return await self._desk(request, account, session, status=422, errors=_by_field(errors), values=dict(form))

    async def decide(self, request: web.Request) -> web.StreamResponse:
        account, session = await self._bureau(request)
        form = await request.post()
        number, unit = request.match_info["number"], str(form.get("unit", ""))
        if unit not in HANDLING_UNITS or not str(form.get("reason", "")).strip():
            session["flash"] = {"error": "请选择承办单位并填写理由。"}
        else:
            await asyncio.to_thread(self.bureau.decide, number, unit, str(form["reason"]), f"信访局 {account.name}")
            session["flash"] = {"done": f"已交 {UNIT_NAMES.get(unit, unit)} 办理。"}
        raise web.HTTPSeeOther(f"/cases/{number}")

    # -- a unit -------------------------------------------------------------------------------
    async def _unit(self, request: web.Request) -> tuple[Account, Any, UnitDesk]:
        account, session = await self._account(request)
        if account is None:
            raise web.HTTPSeeOther("/login")
        if account.unit is None or account.unit not in self.units:
            raise web.HTTPSeeOther("/desk")
        return account, session, self.units[account.unit]

    async def _handler(self, request: web.Request) -> tuple[Account, Any, UnitDesk]:
        """A unit's account that handles its cases (a task team group's sees its tasks only)."""
        account, session, desk = await self._unit(request)
        if account.group:
            raise web.HTTPSeeOther("/work")
        return account, session, desk

    async def inbox(self, request: web.Request) -> web.StreamResponse:
        account, session, desk = await self._handler(request)
        handoffs = await asyncio.to_thread(desk.handoffs)
        return self.render("inbox.html", account, fragment=_fragment(request), csrf=session["csrf"],
                           handoffs=[self._clocks(h) for h in handoffs], refusals=await asyncio.to_thread(desk.refusals))

    async def answer(self, request: web.Request) -> web.StreamResponse:
        _, session, desk = await self._handler(request)
        number = request.match_info["number"]
        form = await request.post()
        action = str(form.get("action", ""))
        if action not in ANSWERS or await asyncio.to_thread(desk.handoff, number) is None:
            raise web.HTTPNotFound(text="没有这个案件或操作")
        fields: dict[str, Any] = {name: str(form.get(name, "")).strip() for name in ANSWERS[action]}
        try:
            for name in ("percent", "days"):
                if name in fields:
                    fields[name] = int(fields[name])
            await asyncio.to_thread(desk.answer, action, number, **fields)
            session["flash"] = {"done": "已发送，等待总线核验。"}
        except (DepartmentError, ValueError) as exc:
            session["flash"] = {"error": f"未发送：{exc}"}
        raise web.HTTPSeeOther(f"/cases/{number}")

    async def work(self, request: web.Request) -> web.StreamResponse:
        """Mediations, packages, team tasks (the task-team view) and recommendations waiting for the unit."""
        account, session, desk = await self._unit(request)
        work = await asyncio.to_thread(desk.work)
        if account.group:  # a task team's group: its own tasks, nothing else of the unit's
            work = {"mediations": [], "packages": [], "recommendations": [],
                    "tasks": [t for t in work["tasks"] if f"{t.team}/{t.group}" == account.group]}
        return self.render("work.html", account, fragment=_fragment(request), csrf=session["csrf"],
                           work=work, flash=_flash(request, session))

    async def work_answer(self, request: web.Request) -> web.StreamResponse:
        account, session, desk = await self._unit(request)
        form = await request.post()
        action = str(form.get("action", ""))
        if action not in WORK:
            raise web.HTTPNotFound(text="没有这个操作")
        if account.group and (WORK[action][0] != "task_number" or not any(
                t.task_number == form.get("task_number") and f"{t.team}/{t.group}" == account.group
                for t in (await asyncio.to_thread(desk.work))["tasks"])):
            raise web.HTTPNotFound(text="没有这个任务")
        about, names = WORK[action]
        fields: dict[str, Any] = {name: str(form.get(name, "")).strip() for name in names}
        try:
            if "percent" in fields:
                fields["percent"] = int(fields["percent"])
            if "actions" in fields:
                fields["actions"] = [a for a in fields["actions"].splitlines() if a.strip()]
            if "adopted" in fields:
                fields["adopted"] = fields["adopted"] == "yes"
                fields["reason"] = fields["reason"] or None
            await asyncio.to_thread(desk.act, action, str(form.get(about, "")), **fields)
            session["flash"] = {"done": "已发送，等待总线核验。"}
        except (DepartmentError, ValueError, KeyError) as exc:
            session["flash"] = {"error": f"未发送：{exc}"}
        raise web.HTTPSeeOther("/work")

    # -- the bureau's orders: mediation, package, recommendation, supervision notice, callback, team task -----
    async def order(self, request: web.Request) -> web.StreamResponse:
        _, session = await self._bureau(request)
        number = request.match_info["number"]
        form = await request.post()
        kind = str(form.get("kind", ""))
        try:
            said = await asyncio.to_thread(self._order, number, kind, form)
            session["flash"] = {"done": said}
        except (ValueError, KeyError, LiandongError) as exc:
            session["flash"] = {"error": f"未发出：{exc}"}
        raise web.HTTPSeeOther(f"/cases/{number}")

    def _order(self, number: str, kind: str, form: Any) -> str:
        at, case = self.clock(), case_ref_of(number)
        text = {k: str(v).strip() for k, v in form.items() if isinstance(v, str)}
        if kind == "mediation":
            participants = [str(u) for u in form.getall("participants", [])]
            self.bureau.publish("svc-bureau", [rq.mediation_proposal(
                number, convener=text["convener"], participants=participants, subject=text["subject"], at=at)])
            return "已发起联合调处，参与单位在各自待办中答复。"
        if kind == "package":
            members = [{"role": role, "person": text.get(f"person-{role}", ""), "unit": text.get(f"unit-{role}", "")}
                       for role in self.package_roles]
            self.bureau.publish("svc-bureau", [rq.package_order(number, members=members, plan=text["plan"],
                                                                expected_on=date.fromisoformat(text["expected_on"]),
                                                                at=at)])
            return "已下达包案。"
        if kind == "recommendation":
            record = supervision.recommendation(case, _unit(text["unit"]), text["recommendation_kind"], text["text"], at,
                                                load_clocks())
            self.bureau.publish("svc-supervision", [(SupervisionRecommendationIssued.TYPE, record)])
            return f"已向 {UNIT_NAMES.get(text['unit'], text['unit'])} 发出建议。"
        if kind == "notice":
            record = supervision.notice(case, _unit(text["unit"]), text["trigger"], text["text"], "HANDLING", at,
                                        bureau_year(at))
            self.bureau.publish("svc-supervision", [(SupervisionNoticeIssued.TYPE, record)])
            return f"已向 {UNIT_NAMES.get(text['unit'], text['unit'])} 发出督办函。"
        if kind == "callback":
            status, answer = self.bureau.callback(number, text["evaluation"], text.get("remark", ""))
            if status != 200:
                raise ValueError(answer.get("error") or answer)
            return "已记录回访评价。"
        raise ValueError(f"unknown order {kind!r}")

    async def team_task(self, request: web.Request) -> web.StreamResponse:
        _, session = await self._bureau(request)
        form = await request.post()
        try:
            tasks = rq.task_publications(str(form.get("team", "")), campaign=str(form.get("campaign", "")).strip(),
                                         description=str(form.get("description", "")).strip(),
                                         due_days=int(str(form.get("due_days", "7"))), at=self.clock())
            await asyncio.to_thread(self.bureau.publish, "svc-bureau", tasks)
            session["flash"] = {"done": f"已向 {len(tasks)} 个工作组发布任务。"}
        except ValueError as exc:
            session["flash"] = {"error": f"未发布：{exc}"}
        raise web.HTTPSeeOther("/desk")

    # -- a case (the bureau's view, or the unit's of a case handed to it) -----------------------
    async def case(self, request: web.Request) -> web.StreamResponse:
        account, session = await self._account(request)
        if account is None:
            raise web.HTTPSeeOther("/login")
        number = request.match_info["number"]
        handoff, refusals = None, []
        if account.group:
            return self.render("error.html", account, status=404, message=f"专班账号不查看案件（{number}）。")
        if account.principal != BUREAU:
            desk = self.units.get(account.unit or "")
            handoff = await asyncio.to_thread(desk.handoff, number) if desk else None
            if desk is None or handoff is None:  # not handed to it: nothing of it is shown
                return self.render("error.html", account, status=404, message=f"没有交给本单位的案件 {number}。")
            refusals = await asyncio.to_thread(desk.refusals, number)
        status, record = await asyncio.to_thread(self.bureau.ledger, f"/cases/{number}")
        if status != 200 and handoff is None:
            return self.render("error.html", account, status=404, message=f"台账中没有案件 {number}。")
        return self.render("case.html", account, fragment=_fragment(request), csrf=session["csrf"], number=number,
                           record=record if status == 200 else None,
                           handoff=self._clocks(handoff) if handoff else None, refusals=refusals,
                           flash=_flash(request, session))

    def _clocks(self, h: Handoff) -> dict[str, Any]:
        """A handoff with its clocks counting down: calendar days, the objection window in working days."""
        now = self.clock()
        today = now.astimezone(BUREAU_TZ).date()

        def days(due: datetime | None, working: bool = False) -> int | None:
            if due is None:
                return None
            end = due.astimezone(BUREAU_TZ).date()
            if working:
                return sum(1 for n in range(1, (end - today).days + 1)
                           if self.calendar.is_working_day(date.fromordinal(today.toordinal() + n)))
            return (end - today).days

        return {"h": h, "acceptance_left": days(h.acceptance_due_at), "objection_left": days(h.objection_due_at, True),
                "handling_left": days(h.handling_due_at), "overdue": now > h.acceptance_due_at and h.status.value in
                ("REQUESTED", "SIGNED")}

    # -- live -----------------------------------------------------------------------------------
    async def stream(self, request: web.Request) -> web.StreamResponse:
        account = await self._signed_in(request)
        audience = "bureau" if account.principal == BUREAU else (account.unit or "")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
        await response.prepare(request)
        queue = self.live.subscribe(audience)
        try:
            await response.write(b": connected\n\n")
            while True:
                try:
                    what = await asyncio.wait_for(queue.get(), timeout=15)
                    await response.write(f"event: update\ndata: {what}\n\n".encode())
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.live.unsubscribe(queue)
        return response


def _flash(request: web.Request, session: Any) -> dict[str, str]:
    """The message of the last action (once), not on a live refresh."""
    return session.pop("flash", {}) if _fragment(request) is None else {}


def _unit(unit: str) -> str:
    if unit not in HANDLING_UNITS:
        raise ValueError(f"unknown unit {unit!r}")
    return unit


def _fragment(request: web.Request) -> str | None:
    return "live" if request.headers.get("X-Fragment") == "live" else None


def _petition(form: Any, now: datetime) -> dict[str, Any]:
    """The registration form as intake's submission (its fields, unchecked: intake checks them)."""
    def text(name: str) -> str | None:
        value = str(form.get(name, "")).strip()
        return value or None

    size = text("group_size")
    return {
        "idempotency_key": f"console-{uuid.uuid4()}", "channel": text("channel") or "VISIT",
        "received_at": now.astimezone(BUREAU_TZ).isoformat(),
        "petitioner": {"name": text("name") or "", "id_number": text("id_number"), "phone": text("phone"),
                       "address": text("address"), "group_size": int(size) if size and size.isdigit() else 1},
        "summary": text("summary") or "", "category": text("category") or "OTHER",
    }


def _by_field(errors: list[str]) -> dict[str, list[str]]:
    """Intake's 'field.path: what is wrong' lines by the form's field (the last part of the path)."""
    out: dict[str, list[str]] = {}
    for line in errors:
        path, _, message = line.partition(": ")
        out.setdefault(path.rsplit(".", 1)[-1] if message else "", []).append(message or line)
    return out


def _status_words() -> dict[str, str]:
    return {s.value: w for s, w in STATUS_WORDS.items()} | {"": "—"}


def _local(value: str | datetime | None) -> str:
    if not value:
        return "—"
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at.astimezone(BUREAU_TZ).strftime("%Y-%m-%d %H:%M")

