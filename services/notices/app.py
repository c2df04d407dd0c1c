"""Notices (告知书): writes the petitioner a notice of every decision the regulation says they are
told of, for the bureau's delivery systems (SMS, post, the online platform) to deliver.

Its decisions are ``liandong.domain.notices.Notices``; the words are templates kept as data
(``services/notices/templates``, settings in ``notices.yaml``). This module only declares the service.
Topics in:  liandong.bureau.petitions (the recipient and the channel), .triage (diversions),
            liandong.unit.*.inbox (which unit leads), liandong.bureau.answers (the units' decisions)
Topics out: liandong.bureau.notices (bureau only: the recipient's name and contact, the text)
State:      table notices-cases (case number -> recipient, channel, lead unit, notices issued);
            personal data, on this bureau service's own changelog only.
A delivery system confirms each delivery with notice.delivered on liandong.bureau.deliveries
(no personal data); the ledger puts both on the case's timeline.
"""

from __future__ import annotations

from liandong_sdk.events import CaseHandoffRequested, NoticeIssued, PetitionRegistered

from liandong import BUREAU_ANSWERS, BUREAU_NOTICES, BUREAU_PETITIONS, BUREAU_TRIAGE, UNIT_INBOX, Bus, concrete_topics, load_clocks
from liandong.domain import ClockConfig
from liandong.domain.notices import KINDS, Notices
from liandong.runtime import Runtime
from liandong.service import Service, Table, faust_runtime

from .templates import NoticeSettings, Templates, load_notice_settings

N = Notices

NOTICES = Service(
    "notices",
    topics_in=(BUREAU_PETITIONS, BUREAU_TRIAGE, UNIT_INBOX, BUREAU_ANSWERS),
    topics_out=(BUREAU_NOTICES,),
    emits=(NoticeIssued,),
    tables=(Table("notices-cases", {
        PetitionRegistered: N.registered,  # to whom, and by which channel
        CaseHandoffRequested: N.handed,  # which unit leads: the petitioner hears from the lead
        **dict.fromkeys(KINDS, N.decided),  # acceptance, not accepted, diversion, extension, opinion
    }),),
    unhurried=True,  # no one waits on it for an answer
)
SERVICE = NOTICES.name
TOPICS_IN = concrete_topics(*NOTICES.topics_in)


def build(bus: Bus, *, settings: NoticeSettings | None = None, clocks: ClockConfig | None = None,
          app_id: str = SERVICE) -> Runtime:
    return faust_runtime(NOTICES, bus, Notices(Templates(settings or load_notice_settings()), clocks or load_clocks()),
                         app_id=app_id)
