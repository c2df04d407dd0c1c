"""Written notices (告知书): which decision calls for which notice, its words, and the ledger's record
of it, with the real templates and codec and the services' declarations run in memory."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from liandong_sdk import StartupError, topic_matches
from liandong_sdk.events import (
    CaseAccepted,
    CaseExtensionApproved,
    CaseNotAccepted,
    CaseRef,
    CaseResolved,
    Channel,
    DeliveryChannel,
    DiversionChannel,
    MatterCategory,
    NoticeDelivered,
    NoticeIssued,
    NoticeKind,
    PetitionDiverted,
    Petitioner,
    PetitionRegistered,
    ResolutionOutcome,
    ResolutionTag,
    Unit,
)

from liandong import Codec, SchemaCatalogue, get_settings, load_clocks
from liandong.domain import ClockConfig
from liandong.domain.case import state_to_json
from liandong.domain.notices import Notices
from liandong.domain.triage import Triage
from liandong.service import InMemory
from services.ledger.api import CASES
from services.ledger.app import LEDGER, Recorder
from services.ledger.stats import statistics
from services.notices.app import NOTICES
from services.notices.templates import NOTICES_FILE, NoticeSettings, Templates, load_notice_settings
from services.triage.app import TRIAGE, load_routing

CODEC = Codec(SchemaCatalogue(get_settings().schemas_dir))
T0 = datetime(2026, 8, 20, 1, 30, tzinfo=UTC)  # 09:30 in the bureau's time zone
NAME = "赵建国"


class Bus:
    """Triage, notices and the ledger in memory; what one publishes reaches the others that read it."""

    def __init__(self) -> None:
        self.triage = InMemory(TRIAGE, Triage(load_routing(), ClockConfig()), CODEC)
        self.notices = InMemory(NOTICES, Notices(Templates(load_notice_settings()), load_clocks()), CODEC)
        self.ledger = InMemory(LEDGER, Recorder.unsealed(ClockConfig()), CODEC)
        self.issued: list[NoticeIssued] = []

    def send(self, event: object, *, to: tuple[InMemory, ...] | None = None) -> None:
        for service in to or (self.triage, self.notices, self.ledger):
            reads = any(topic_matches(t, getattr(event, "topic", "")) for t in service.service.topics_in)
            if hasattr(event, "topic") and not reads:
                continue
            if not hasattr(event, "topic") and not _reads_type(service, event):
                continue
            for out in service.send(event):  # type: ignore[arg-type]
                if isinstance(out.payload, NoticeIssued):
                    self.issued.append(out.payload)
                self.send(out, to=tuple(s for s in (self.triage, self.notices, self.ledger) if s is not service))

    def register(self, summary: str, category: MatterCategory, channel: Channel = Channel.VISIT, n: int = 1) -> CaseRef:
        case = CaseRef(case_number=f"140214-2026-00000{n}", petition_id=uuid.uuid4(), district_code="140214")
        self.send(PetitionRegistered(
            event_id=uuid.uuid4(), occurred_at=T0, case=case, deadline=None, channel=channel,
            petitioner=Petitioner(name=NAME, phone="13500001111", address="某区某路1号"), summary=summary,
            category_hint=category, idempotency_key=f"visit-{n}", received_at=T0 - timedelta(minutes=5)))
        return case


def _reads_type(service: InMemory, event: object) -> bool:
    return any(t.handler(event.TYPE) is not None for t in service.service.tables)  # type: ignore[attr-defined]


def accepted(case: CaseRef, unit: Unit, at: datetime) -> CaseAccepted:
    return CaseAccepted(event_id=uuid.uuid4(), occurred_at=at, case=case, deadline=None, unit=unit, notice_no="SL-1")


def resolved(case: CaseRef, unit: Unit, at: datetime) -> CaseResolved:
    return CaseResolved(event_id=uuid.uuid4(), occurred_at=at, case=case, deadline=None, unit=unit,
                        outcome=ResolutionOutcome.SUPPORTED, tag=next(iter(ResolutionTag)), opinion="责令物业公司十日内修复漏水。")


def test_the_lead_units_acceptance_and_opinion_are_written_to_the_petitioner() -> None:
    bus = Bus()
    case = bus.register("房屋漏水墙皮脱落", MatterCategory.HOUSING_QUALITY)
    lead = bus.ledger.state(case.case_number, CASES).lead_unit
    assert lead == "HOUSING" and bus.issued == []  # routing alone is not a decision the petitioner is told of
    bus.send(accepted(case, Unit.HOUSING, T0 + timedelta(days=2)))
    # Resolved on 1 September: the review window's last day, 1 October, is National Day: it ends on 8 October.
    bus.send(resolved(case, Unit.HOUSING, datetime(2026, 9, 1, 2, 0, tzinfo=UTC)))
    acceptance, opinion = bus.issued
    assert (acceptance.kind, opinion.kind) == (NoticeKind.ACCEPTANCE, NoticeKind.OPINION)
    assert acceptance.notice_no == f"{case.case_number}-SL-1" and opinion.notice_no == f"{case.case_number}-YJ-2"
    assert acceptance.delivery_channel == DeliveryChannel.IN_PERSON  # came to the counter
    assert acceptance.recipient.name == NAME and acceptance.unit == Unit.HOUSING
    for line in ("某区信访局", "受理告知书", f"{NAME}：", case.case_number, "2026年8月20日", "予以受理",
                 "区住房和城乡建设局", "2026年8月22日", "（信访局印章）"):
        assert line in acceptance.text, line
    for line in ("信访事项处理意见书", "处理结果：支持", "责令物业公司十日内修复漏水。", "30日内（至2026年10月8日）",
                 "向区人民政府请求复查"):
        assert line in opinion.text, line
    # The ledger has both on the case's timeline, without the text or the recipient.
    state = bus.ledger.state(case.case_number, CASES)
    assert {n: v["kind"] for n, v in state.notices.items()} == {acceptance.notice_no: "ACCEPTANCE", opinion.notice_no: "OPINION"}
    assert [t.event for t in state.timeline].count("notice.issued") == 2
    assert NAME not in state_to_json(state).decode() and "13500001111" not in state_to_json(state).decode()


def test_not_accepted_extension_and_diversion_notices_give_the_reason_and_the_channel() -> None:
    bus = Bus()
    case = bus.register("公司拖欠工资三个月", MatterCategory.WAGE_ARREARS, channel=Channel.ONLINE)
    assert bus.ledger.state(case.case_number, CASES).lead_unit == "HRSS"
    bus.send(CaseExtensionApproved(event_id=uuid.uuid4(), occurred_at=T0 + timedelta(days=3), case=case, deadline=None,
                                   unit=Unit.HRSS, extra_days=30, reason="需要调取用人单位三年的工资台账"))
    bus.send(CaseNotAccepted(event_id=uuid.uuid4(), occurred_at=T0 + timedelta(days=4), case=case, deadline=None,
                             unit=Unit.HRSS, reason="已进入劳动仲裁程序"))
    extension, refusal = bus.issued
    assert extension.kind == NoticeKind.EXTENSION and extension.delivery_channel == DeliveryChannel.ONLINE
    assert "因需要调取用人单位三年的工资台账" in extension.text and "延长办理期限30日" in extension.text
    assert "区人力资源和社会保障局" in extension.text
    assert refusal.kind == NoticeKind.NOT_ACCEPTED and "不予受理告知书" in refusal.text and "理由：已进入劳动仲裁程序" in refusal.text

    diverted = bus.register("不服法院判决", MatterCategory.LITIGATION, channel=Channel.LETTER, n=2)
    bus.send(PetitionDiverted(event_id=uuid.uuid4(), occurred_at=T0, case=diverted, deadline=None,
                              category=MatterCategory.LITIGATION, diversion_channel=DiversionChannel.ARBITRATION,
                              explanation="劳动争议应先行仲裁。", matched=[]), to=(bus.notices,))
    notice = bus.issued[-1]
    assert notice.kind == NoticeKind.DIVERSION and notice.unit is None and notice.delivery_channel == DeliveryChannel.POST
    assert "向劳动人事争议仲裁委员会申请仲裁" in notice.text and "劳动争议应先行仲裁。" in notice.text
    assert "某区信访局\n" in notice.text  # signed by the bureau, not by a unit


def test_a_co_units_answer_calls_for_no_notice_and_a_decision_read_twice_for_one() -> None:
    bus = Bus()
    case = bus.register("房屋漏水墙皮脱落", MatterCategory.HOUSING_QUALITY)
    answer = accepted(case, Unit.HOUSING, T0 + timedelta(days=1))
    bus.send(answer, to=(bus.notices,))
    bus.send(answer, to=(bus.notices,))
    bus.send(accepted(case, Unit.POLICE, T0 + timedelta(days=1)), to=(bus.notices,))  # not the lead
    assert [n.kind for n in bus.issued] == [NoticeKind.ACCEPTANCE]


def test_a_decision_read_before_the_registration_waits_for_it() -> None:
    """The answers topic may be read ahead of the petitions topic (a notices service catching up)."""
    notices = InMemory(NOTICES, Notices(Templates(load_notice_settings()), load_clocks()), CODEC)
    triage = InMemory(TRIAGE, Triage(load_routing(), ClockConfig()), CODEC)
    case = CaseRef(case_number="140214-2026-000009", petition_id=uuid.uuid4(), district_code="140214")
    petition = PetitionRegistered(
        event_id=uuid.uuid4(), occurred_at=T0, case=case, deadline=None, channel=Channel.HOTLINE_12345,
        petitioner=Petitioner(name=NAME), summary="房屋漏水墙皮脱落", category_hint=MatterCategory.HOUSING_QUALITY,
        idempotency_key="hotline-9", received_at=T0)
    assert notices.send(accepted(case, Unit.HOUSING, T0 + timedelta(days=1))) == []
    assert notices.send(petition) == []  # the lead is not known yet
    handoffs = [e for e in triage.send(petition) if e.type == "case.handoff.requested"]
    issued = [e for h in handoffs for e in notices.send(h)]
    assert [e.payload.kind for e in issued] == [NoticeKind.ACCEPTANCE]
    assert issued[0].payload.delivery_channel == DeliveryChannel.SMS and issued[0].topic == "liandong.bureau.notices"


def test_a_delivery_confirmation_is_on_the_timeline() -> None:
    bus = Bus()
    case = bus.register("房屋漏水墙皮脱落", MatterCategory.HOUSING_QUALITY)
    bus.send(accepted(case, Unit.HOUSING, T0 + timedelta(days=1)))
    (notice,) = bus.issued
    at = T0 + timedelta(days=1, hours=2)
    bus.send(NoticeDelivered(event_id=uuid.uuid4(), occurred_at=at, case=case, deadline=None, notice_no=notice.notice_no,
                             kind=notice.kind, delivery_channel=DeliveryChannel.IN_PERSON, receipt="送达回证 0042"),
             to=(bus.ledger,))
    state = bus.ledger.state(case.case_number, CASES)
    assert state.notices[notice.notice_no]["delivered_at"] == at
    assert state.timeline[-1].event == "notice.delivered" and "送达回证 0042" in state.timeline[-1].detail
    assert statistics([state], at, 2026)["notices"] == {"issued": {"ACCEPTANCE": 1}, "delivered": 1}


def test_a_notice_with_a_missing_word_fails_rather_than_leaving_a_gap() -> None:
    templates = Templates(load_notice_settings())
    with pytest.raises(Exception, match="reason"):
        templates(NoticeKind.NOT_ACCEPTED, {"notice_no": "n", "case_number": "c", "recipient": Petitioner(name=NAME),
                                            "received_on": "", "issued_on": "", "unit": "HRSS"})


def test_bad_notice_settings_stop_the_service_naming_the_fault(tmp_path: Path) -> None:
    data = (NOTICES_FILE.read_text(encoding="utf-8")).replace("  POLICE: {name: 区公安分局, reviewer: 市公安局}\n", "")
    bad = tmp_path / "notices.yaml"
    bad.write_text(data, encoding="utf-8")
    with pytest.raises(StartupError, match="POLICE"):
        load_notice_settings(bad)
    (tmp_path / "t").mkdir()
    with pytest.raises(StartupError, match=r"ACCEPTANCE\.txt\.j2"):
        Templates(NoticeSettings.from_data(json.loads(json.dumps({"bureau": "b", "units": {
            u: {"name": u, "reviewer": "r"} for u in ("JUSTICE", "HRSS", "HOUSING", "POLICE", "STREET_OFFICE")},
            "diversion": {c.value: c.value for c in DiversionChannel},
            "outcomes": {o.value: o.value for o in ResolutionOutcome}}))), tmp_path / "t")


def test_a_petition_on_a_rechecked_matter_gets_the_bureaus_not_accepted_notice_and_a_repeat_none() -> None:
    from liandong_sdk.events import PetitionRepeatDetected

    bus = Bus()
    earlier = "140214-2026-000001"

    def repeat(case: CaseRef, reason: str | None) -> PetitionRepeatDetected:
        return PetitionRepeatDetected(event_id=uuid.uuid4(), occurred_at=T0, case=case, deadline=None,
                                      earlier_case_number=earlier, earlier_closed=True, reason="same matter",
                                      not_accepted_reason=reason)

    ordinary = bus.register("又来反映欠薪", MatterCategory.WAGE_ARREARS, n=2)
    bus.send(repeat(ordinary, None), to=(bus.notices,))
    assert bus.issued == []  # an ordinary repeat is linked to its earlier case: nothing decided to tell
    final = bus.register("仍反映欠薪", MatterCategory.WAGE_ARREARS, channel=Channel.HOTLINE_12345, n=3)
    bus.send(repeat(final, "该信访事项已经复核，依据第三十六条不再受理。"), to=(bus.notices,))
    [notice] = bus.issued
    assert notice.kind == NoticeKind.NOT_ACCEPTED and notice.unit is None and notice.delivery_channel == DeliveryChannel.SMS
    assert notice.notice_no == f"{final.case_number}-BSL-1" and notice.recipient.name == NAME
    assert "理由：该信访事项已经复核，依据第三十六条不再受理。" in notice.text
    assert "某区信访局\n" in notice.text.split("不予受理告知书", 1)[1]  # signed by the bureau, not by a unit
