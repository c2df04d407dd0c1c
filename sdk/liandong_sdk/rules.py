"""The regulation's rules that a department shares with the bus, in plain Python (no I/O): the
business calendar, the clocks of 《信访工作条例》, the units that answer on the bus and the
answers a unit's handoff allows.

The bus's domain layer (``liandong.domain``) builds its decisions on this module alone.
"""

from ._calendar import BUREAU_TZ, BusinessCalendar, bureau_year
from ._catalogue import BUS_UNITS, HANDLING_UNITS, REVIEWING_BODIES, replies_unit
from ._clocks import ClockConfig, EscalationLadder
from ._errors import IllegalTransition, Refused
from ._handoff import UNIT_TRANSITIONS, HandoffStatus, check_unit_transition

__all__ = [
    "BUREAU_TZ",
    "BUS_UNITS",
    "HANDLING_UNITS",
    "REVIEWING_BODIES",
    "UNIT_TRANSITIONS",
    "BusinessCalendar",
    "ClockConfig",
    "EscalationLadder",
    "HandoffStatus",
    "IllegalTransition",
    "Refused",
    "bureau_year",
    "check_unit_transition",
    "replies_unit",
]
