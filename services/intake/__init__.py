"""Intake (登记): petitions enter once, from every channel, and get a case number.

Topics in:  liandong.bureau.petitions (rebuild), liandong.bureau.triage, liandong.bureau.answers (closures)
Topics out: liandong.bureau.petitions
HTTP:       POST /petitions, GET /healthz
"""

from .registry import IntakeRegistry, Registration
from .service import IntakeService, LineResult
from .submission import Submission

__all__ = ["IntakeRegistry", "IntakeService", "LineResult", "Registration", "Submission"]
