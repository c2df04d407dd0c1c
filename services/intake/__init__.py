"""Intake (登记): petitions enter once, from every channel, and get a case number.

Topics in:  liandong.bureau.petitions (rebuild), liandong.bureau.triage, liandong.bureau.answers (closures,
            opinions), liandong.bureau.callbacks
Topics out: liandong.bureau.petitions, liandong.bureau.callbacks (回访: the petitioner's evaluation)
HTTP:       POST /petitions, POST /callbacks, GET /healthz
"""

from .registry import IntakeRegistry, Registration
from .service import CallbackRefused, IntakeService, LineResult
from .submission import Submission

__all__ = ["CallbackRefused", "IntakeRegistry", "IntakeService", "LineResult", "Registration", "Submission"]
