"""Reference departments: simulated units built on the department SDK (``liandong_sdk``), one
service per unit, used by the district simulation and the tests.

Topics in:  liandong.unit.<unit>.inbox
Topics out: liandong.unit.<unit>.replies
"""

from .reference import Behaviour, ReferenceDepartment
from .reference_coordination import CoordinationBehaviour

__all__ = ["Behaviour", "CoordinationBehaviour", "ReferenceDepartment"]
