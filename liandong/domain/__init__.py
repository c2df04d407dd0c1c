"""The domain: the case state machine, and the decisions of triage, the ledger, coordination and supervision.

No Kafka, faust, HTTP or file reading here: plain Python over plain data. The regulation's
clocks, the business calendar and a unit's handoff transitions are the rules a department
shares with the bus, so they live in the SDK's pure modules and are re-exported here.
"""

from liandong_sdk.rules import (
    BUREAU_TZ,
    UNIT_TRANSITIONS,
    BusinessCalendar,
    ClockConfig,
    EscalationLadder,
    HandoffStatus,
    IllegalTransition,
    bureau_year,
)

from . import views
from .case import CaseState, CaseStatus, Clocks, Ledger, UnitHandoff

__all__ = [
    "BUREAU_TZ",
    "UNIT_TRANSITIONS",
    "BusinessCalendar",
    "CaseState",
    "CaseStatus",
    "ClockConfig",
    "Clocks",
    "EscalationLadder",
    "HandoffStatus",
    "IllegalTransition",
    "Ledger",
    "UnitHandoff",
    "bureau_year",
    "views",
]
