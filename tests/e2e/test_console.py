"""The console in a real browser (Debian's chromium through chromium-driver), on the real broker:
the bureau registers a petition, the unit signs for it, accepts and resolves it in its own browser
session, and the bureau's open case page shows the resolution arrive without a reload; a late
objection is refused with its reason on screen; a unit cannot open another unit's case by URL and
sees none of its personal data; a wrong password, throttled sign-ins and a form without its CSRF
token are refused. Each page is saved as a screenshot (LIANDONG_SCREENSHOTS, else a temporary folder)."""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from liandong import BUREAU_TZ, Bus
from liandong.clock import now
from services.console.accounts import AccountStore, accounts_file
from services.console.app import build as build_console
from services.coordination.app import build as build_coordination
from services.intake.app import build as build_intake
from services.ledger.app import build as build_ledger
from services.triage.app import build as build_triage
from tests.conftest import ServiceHost, api

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER) and not os.environ.get("CI"),
                                reason="chromium and chromium-driver (make browser installs them)")
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def console(bus: Bus) -> Iterator[dict[str, Any]]:
    tag = uuid.uuid4().hex[:6]
    store = AccountStore(accounts_file(bus.settings.secrets_path))
    for name, principal in ((f"bureau-{tag}", "svc-bureau"), (f"hrss-{tag}", "unit-hrss"), (f"justice-{tag}", "unit-justice")):
        store.add(name, principal, PASSWORD)
    store.add(f"inspector-{tag}", "unit-hrss", PASSWORD, group="wages/inspection")  # a task team's group, staffed by 人社
    host = ServiceHost()
    try:
        intake = host.start(build_intake(bus.as_principal("svc-intake"), port=0)).bound["http"]
        host.start(build_triage(bus.as_principal("svc-triage"), app_id=f"triage-{tag}"))
        host.start(build_coordination(bus.as_principal("svc-coordination"), app_id=f"coordination-{tag}"))
        ledger = host.start(build_ledger(bus.as_principal("svc-ledger"), port=0, app_id=f"ledger-{tag}")).bound["http"]
        urls = {"intake_url": f"http://127.0.0.1:{intake}", "ledger_url": f"http://127.0.0.1:{ledger}"}
        port = host.start(build_console(bus, port=0, units=("HRSS", "JUSTICE"), **urls)).bound["http"]
        # the same desk ten days on: past every handoff's five working days to object
        late = host.start(build_console(bus, port=0, units=("HRSS",), clock=lambda: now() + timedelta(days=10),
                                        **urls)).bound["http"]
        yield {"url": f"http://127.0.0.1:{port}", "late_url": f"http://127.0.0.1:{late}", "tag": tag, "intake": intake}
    finally:
        host.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("LIANDONG_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def browser(tmp: Path) -> WebDriver:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,1000", f"--user-data-dir={tmp}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(DRIVER or "/usr/bin/chromedriver"), options=options)


@pytest.fixture
def browsers(tmp_path: Path) -> Iterator[list[WebDriver]]:
    opened: list[WebDriver] = []

    def open_one() -> WebDriver:
        opened.append(browser(tmp_path / f"profile-{len(opened)}"))
        return opened[-1]

    try:
        yield [open_one(), open_one()]
    finally:
        for b in opened:
            b.quit()


def sign_in(b: WebDriver, url: str, name: str, password: str = PASSWORD) -> None:
    """Signs in, and waits for the answer (the next page, or the sign-in page with its error)."""
    b.get(f"{url}/login")
    b.find_element(By.ID, "name").send_keys(name)
    b.find_element(By.ID, "password").send_keys(password)
    b.find_element(By.ID, "sign-in").click()
    WebDriverWait(b, 30).until(lambda d: not d.find_elements(By.ID, "sign-in") or d.find_elements(By.ID, "login-error"))


def text_of(b: WebDriver, element_id: str, timeout: float = 30) -> str:
    # a page being replaced by the next one leaves stale elements: looked for again
    wait = WebDriverWait(b, timeout, ignored_exceptions=(StaleElementReferenceException,))
    return wait.until(lambda d: ((e := d.find_elements(By.ID, element_id)) and e[0].text) or None)


def mark_page(b: WebDriver) -> None:
    """Marks the page now shown, so that ``wait_next_page`` can tell when another has replaced it."""
    b.execute_script("window.__replaced_page = true;")


def wait_next_page(b: WebDriver, timeout: float = 30) -> None:
    """Waits until the marked page is gone (the answer to a form). A marker in the page's script
    state, not a stale element: chromedriver may answer a stale element's query with an inspector
    error instead of StaleElementReferenceException while the new document loads."""
    WebDriverWait(b, timeout, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script("return window.__replaced_page !== true;"))


def submit(b: WebDriver, find_form: Any, **fields: str) -> None:
    """Fills the form ``find_form()`` finds (a select by value, any other field typed in), sends it,
    and waits for "sent". A form in a page's live part can be replaced while it is being filled (what
    arrived meanwhile): then it is found and filled again, never sent twice."""
    mark_page(b)
    for attempt in range(5):
        try:
            form = find_form()
            for name, value in fields.items():
                element = form.find_element(By.NAME, name)
                if element.tag_name == "select":
                    Select(element).select_by_value(value)
                else:
                    element.clear()
                    element.send_keys(value)
            form.find_element(By.TAG_NAME, "button").click()
            break
        except StaleElementReferenceException:
            if attempt == 4:
                raise
    wait_next_page(b)  # the answer's page, not the one the form was on
    assert "已发送" in text_of(b, "done"), b.page_source[:500]


def test_the_bureau_registers_the_unit_answers_and_the_bureau_sees_it_live(console: dict[str, Any], browsers: list[WebDriver],
                                                                             shots: Path) -> None:
    desk, unit = browsers
    url, tag = console["url"], console["tag"]
    sign_in(desk, url, f"bureau-{tag}")
    WebDriverWait(desk, 30).until(lambda d: d.current_url.endswith("/desk"))
    desk.save_screenshot(str(shots / "console-desk.png"))

    # a field intake refuses is named under the field
    desk.find_element(By.ID, "f-name").send_keys("赵某")
    desk.find_element(By.ID, "f-phone").send_keys("abc")
    desk.find_element(By.ID, "f-summary").send_keys("拖欠工资三个月")
    desk.find_element(By.ID, "register-submit").click()
    error = WebDriverWait(desk, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".field-error[data-field=phone]"))
    assert error[0].text, "no message under the phone field"
    desk.save_screenshot(str(shots / "console-register-error.png"))
    phone = desk.find_element(By.ID, "f-phone")
    phone.clear()
    phone.send_keys("13900001234")
    Select(desk.find_element(By.ID, "f-category")).select_by_value("WAGE_ARREARS")
    desk.find_element(By.ID, "register-submit").click()
    number = text_of(desk, "registered").split()[-1]
    assert number.startswith("140214-"), number

    # the unit, in its own browser, sees the handoff arrive, with the petitioner's contact details
    sign_in(unit, url, f"hrss-{tag}")
    WebDriverWait(unit, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, f"tr[data-case='{number}']"))
    unit.save_screenshot(str(shots / "console-inbox.png"))
    unit.get(f"{url}/cases/{number}")
    assert "13900001234" in text_of(unit, "petitioner")

    # the bureau opens the case and keeps the page open: a marker tells a reload apart
    desk.get(f"{url}/cases/{number}")
    WebDriverWait(desk, 30).until(lambda d: d.find_elements(By.ID, "case-status"))
    desk.execute_script("window.__stayed = true;")

    def act(action: str, **fields: str) -> None:
        submit(unit, lambda: unit.find_element(By.ID, f"act-{action}"), **fields)

    act("sign_for", signed_by="李科长")
    act("accept")
    act("report_progress", percent="50", note="已约谈施工方")
    act("request_extension", days="10", reason="涉及多个分包单位")
    act("resolve", outcome="SUPPORTED", tag="SOLVED", opinion="工资已足额支付")
    assert text_of(unit, "handoff-status") == "已办结"
    unit.save_screenshot(str(shots / "console-case-unit.png"))

    live = WebDriverWait(desk, 60, ignored_exceptions=(StaleElementReferenceException,))  # parts swapped live
    live.until(lambda d: d.find_element(By.ID, "case-status").text == "已办结")
    assert desk.execute_script("return window.__stayed === true;"), "the bureau's page was reloaded"
    desk.save_screenshot(str(shots / "console-case-bureau.png"))
    live.until(lambda d: "case.progress" in (t := d.find_element(By.ID, "timeline").text)
               and "case.extension.approved" in t)

    # the callback (回访): intake records it once it knows the opinion
    def callback() -> str:
        desk.get(f"{url}/cases/{number}")
        form = desk.find_element(By.ID, "order-callback")
        Select(form.find_element(By.NAME, "evaluation")).select_by_value("SATISFIED")
        mark_page(desk)
        form.find_element(By.TAG_NAME, "button").click()
        wait_next_page(desk)
        done = desk.find_elements(By.ID, "done")
        return done[0].text if done else ""

    WebDriverWait(desk, 60, poll_frequency=2).until(lambda _: "已记录回访评价" in callback())


def test_a_late_objection_is_refused_with_its_reason_and_another_units_case_stays_closed(
        console: dict[str, Any], browsers: list[WebDriver], bus: Bus) -> None:
    hrss, justice = browsers
    url, tag = console["url"], console["tag"]
    # a petitioner of this run only: the same person on the same matter would be a repeat (Art. 19)
    name, phone = f"钱{tag}", f"137{uuid.uuid4().int % 10**8:08d}"
    status, body = api(console["intake"], "/petitions", json.dumps({
        "idempotency_key": f"late-{uuid.uuid4()}", "channel": "LETTER",
        "received_at": now().astimezone(BUREAU_TZ).isoformat(),
        "petitioner": {"name": name, "phone": phone}, "summary": "拖欠工资两个月", "category": "WAGE_ARREARS"},
        ensure_ascii=False).encode())
    assert status == 200, body
    number = body["results"][0]["case_number"]

    # 人社 ten days later (the console whose clock runs ten days ahead)
    late = console["late_url"]
    sign_in(hrss, late, f"hrss-{tag}")
    WebDriverWait(hrss, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, f"tr[data-case='{number}']"))
    hrss.get(f"{late}/cases/{number}")
    form = hrss.find_element(By.ID, "act-object")
    form.find_element(By.NAME, "reason").send_keys("不属于本单位职责")
    form.find_element(By.TAG_NAME, "button").click()
    refused = text_of(hrss, "error")
    assert "未发送" in refused and "objection" in refused.lower(), refused

    # 司法 opens 人社's case by its URL: not found, and nothing of the petitioner
    sign_in(justice, url, f"justice-{tag}")
    justice.get(f"{url}/cases/{number}")
    assert "没有交给本单位的案件" in text_of(justice, "error")
    assert name not in justice.page_source and phone not in justice.page_source


def test_a_wrong_password_throttled_sign_ins_and_a_missing_csrf_token_are_refused(
        console: dict[str, Any], browsers: list[WebDriver], shots: Path) -> None:
    b = browsers[0]
    url, tag = console["url"], console["tag"]
    sign_in(b, url, f"justice-{tag}", "not the password")
    assert text_of(b, "login-error") == "用户名或密码错误。"
    b.save_screenshot(str(shots / "console-login-error.png"))
    for _ in range(5):  # the name is throttled after five failures within 15 minutes
        sign_in(b, url, f"throttled-{tag}", "wrong")
        assert text_of(b, "login-error") == "用户名或密码错误。"
    sign_in(b, url, f"throttled-{tag}", "wrong")
    assert "次数过多" in text_of(b, "login-error")
    sign_in(b, url, f"throttled-{tag}", PASSWORD)
    assert "次数过多" in text_of(b, "login-error")

    # a signed-in page's form posted with another token: refused, nothing done
    sign_in(b, url, f"justice-{tag}")
    WebDriverWait(b, 30).until(lambda d: d.current_url.endswith("/inbox"))
    b.execute_script("document.querySelector('input[name=csrf]').value = 'forged';"
                     "document.querySelector('header form').submit();")
    assert "CSRF" in text_of(b, "error")
    # and a request from elsewhere (no session, no token)
    request = urllib.request.Request(f"{url}/login", data=b"name=x&password=y", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403


def test_the_bureau_orders_a_mediation_a_team_task_and_a_recommendation_and_the_unit_answers_them(
        console: dict[str, Any], browsers: list[WebDriver], shots: Path) -> None:
    desk, unit = browsers
    url, tag = console["url"], console["tag"]
    petitioner = f"孙{tag}"  # of this run only (not a repeat of another test's petition)
    status, body = api(console["intake"], "/petitions", json.dumps({
        "idempotency_key": f"work-{uuid.uuid4()}", "channel": "VISIT", "received_at": now().astimezone(BUREAU_TZ).isoformat(),
        "petitioner": {"name": petitioner}, "summary": "拖欠工资四个月", "category": "WAGE_ARREARS"}, ensure_ascii=False).encode())
    assert status == 200, body
    number = body["results"][0]["case_number"]
    campaign = f"wages-{tag}"

    sign_in(desk, url, f"bureau-{tag}")
    WebDriverWait(desk, 30).until(lambda d: d.current_url.endswith("/desk"))
    task = desk.find_element(By.ID, "team-task")
    Select(task.find_element(By.NAME, "team")).select_by_value("wages")
    task.find_element(By.NAME, "campaign").send_keys(campaign)
    task.find_element(By.NAME, "description").send_keys("排查在建工程欠薪")
    task.find_element(By.TAG_NAME, "button").click()
    assert "已向 5 个工作组发布任务" in text_of(desk, "done")

    desk.get(f"{url}/cases/{number}")

    def order(kind: str, **fields: str) -> str:
        form = desk.find_element(By.ID, f"order-{kind}")
        for name, value in fields.items():
            for element in form.find_elements(By.NAME, name):
                if element.tag_name == "select":
                    Select(element).select_by_value(value)
                elif element.get_attribute("type") == "checkbox":
                    if element.get_attribute("value") in value.split(","):
                        element.click()
                else:
                    element.send_keys(value)
        mark_page(desk)
        form.find_element(By.TAG_NAME, "button").click()
        wait_next_page(desk)
        return text_of(desk, "done") if not desk.find_elements(By.ID, "error") else desk.find_element(By.ID, "error").text

    assert "已发起联合调处" in order("mediation", convener="JUSTICE", participants="JUSTICE,HRSS", subject="工资数额争议")
    assert "已向" in order("recommendation", unit="HRSS", recommendation_kind="IMPROVE_WORK", text="建立欠薪预警台账")
    assert "督办函" in order("notice", unit="HRSS", trigger="IRREGULAR_HANDLING", text="请规范办理并报告")
    slots = {"leading_official": "BUREAU", "responsible_unit_head": "HRSS", "street_cadre": "STREET_OFFICE",
             "police_officer": "POLICE", "legal_adviser": "JUSTICE"}
    expected = (now() + timedelta(days=30)).astimezone(BUREAU_TZ).date().isoformat()
    desk.execute_script(f"document.querySelector('#order-package input[name=expected_on]').value = '{expected}';")
    assert "已下达包案" in order("package", plan="分期支付并跟踪",
                                **{f"person-{role}": f"{role}甲" for role in slots},
                                **{f"unit-{role}": unit_ for role, unit_ in slots.items()})
    desk.save_screenshot(str(shots / "console-case-orders.png"))

    sign_in(unit, url, f"hrss-{tag}")
    unit.get(f"{url}/work")

    def item(kind: str, predicate: Any) -> Any:
        def found(d: WebDriver) -> Any:
            return next((e for e in d.find_elements(By.CSS_SELECTOR, f"div.item[data-{kind}]") if predicate(e)), None)
        return WebDriverWait(unit, 60, ignored_exceptions=(StaleElementReferenceException,)).until(found)

    item("mediation", lambda e: number in e.text)  # the mediation arrives on the inbox, the page follows
    item("package", lambda e: number in e.text)
    item("task", lambda e: campaign in e.text)
    item("recommendation", lambda e: number in e.text)
    unit.save_screenshot(str(shots / "console-work.png"))

    def click(kind: str, predicate: Any, action: str, **fields: str) -> None:
        submit(unit, lambda: item(kind, predicate).find_element(By.CSS_SELECTOR, f"form[id^=work-{action}-]"), **fields)

    click("mediation", lambda e: number in e.text, "join_mediation")
    click("package", lambda e: number in e.text, "report_package_progress", percent="30", actions="已走访当事人")
    item("package", lambda e: number in e.text and "已报告 1 次" in e.text)
    click("task", lambda e: campaign in e.text, "acknowledge_task")
    click("recommendation", lambda e: number in e.text, "answer_recommendation", adopted="yes")
    item("mediation", lambda e: number in e.text and "已参加" in e.text)
    item("recommendation", lambda e: number in e.text and "已答复" in e.text)

    # a member of the wages team's inspection group, in the same browser: the group's task only
    sign_in(unit, url, f"inspector-{tag}")
    WebDriverWait(unit, 30).until(lambda d: d.current_url.endswith("/work"))
    click("task", lambda e: campaign in e.text, "complete_task", report="已排查 12 个在建项目")
    item("task", lambda e: campaign in e.text and "已完成" in e.text)
    assert not unit.find_elements(By.CSS_SELECTOR, "div.item[data-mediation], div.item[data-recommendation]")
    unit.save_screenshot(str(shots / "console-team-group.png"))
    unit.get(f"{url}/cases/{number}")
    assert "专班账号不查看案件" in text_of(unit, "error") and petitioner not in unit.page_source
