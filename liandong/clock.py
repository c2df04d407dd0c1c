"""The bus's notion of "now": the wall clock, or a compressed simulation clock.

When ``LIANDONG_SIM_EPOCH`` (the simulated time at the origin, ISO 8601 with offset) and
``LIANDONG_SIM_ORIGIN`` (the real Unix time of the origin) are set, ``now()`` runs
``86400 / LIANDONG_SIM_SECONDS_PER_DAY`` times faster than the wall clock, starting at the epoch.
The district simulation (`liandong demo`) sets them for every service it starts, so deadlines,
answers and supervision all run on the same compressed days. Unset (the default), ``now()`` is
``datetime.now(UTC)``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from ._settings import get_settings


def simulated() -> bool:
    s = get_settings()
    return s.sim_epoch is not None and s.sim_origin is not None


def speedup() -> float:
    """Simulated seconds per real second (1.0 on the wall clock)."""
    return 86400.0 / get_settings().sim_seconds_per_day if simulated() else 1.0


def now() -> datetime:
    s = get_settings()
    if s.sim_epoch is None or s.sim_origin is None:
        return datetime.now(UTC)
    return s.sim_epoch.astimezone(UTC) + timedelta(seconds=(time.time() - s.sim_origin) * speedup())
