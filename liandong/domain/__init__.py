"""The domain: the regulation's clocks, the business calendar and the case state machine.

No Kafka, faust or HTTP here: these modules are plain Python so services, the department
SDK and the ledger share one definition of what may happen to a case, and when.
"""

from .calendar import BusinessCalendar
from .case import (
    UNIT_TRANSITIONS,
    CaseState,
    CaseStatus,
    HandoffStatus,
    IllegalTransition,
    UnitHandoff,
)
from .clocks import ClockConfig, EscalationLadder

__all__ = [
    "UNIT_TRANSITIONS",
    "BusinessCalendar",
    "CaseState",
    "CaseStatus",
    "ClockConfig",
    "EscalationLadder",
    "HandoffStatus",
    "IllegalTransition",
    "UnitHandoff",
]
