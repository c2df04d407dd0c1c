"""Departments: the SDK a department's system uses, and reference departments built on it.

Topics in:  liandong.unit.<unit>.inbox
Topics out: liandong.unit.<unit>.replies
"""

from .reference import Behaviour, ReferenceDepartment
from .reference_coordination import CoordinationBehaviour
from .sdk import (
    DeliveryPending,
    DepartmentClient,
    DepartmentError,
    Handoff,
    IllegalTransition,
    InvalidAnswer,
    ObjectionWindowClosed,
    UnknownCase,
)

__all__ = [
    "Behaviour",
    "CoordinationBehaviour",
    "DeliveryPending",
    "DepartmentClient",
    "DepartmentError",
    "Handoff",
    "IllegalTransition",
    "InvalidAnswer",
    "ObjectionWindowClosed",
    "ReferenceDepartment",
    "UnknownCase",
]
