"""Liandong (联动): a coordination bus for petition bureaus and the departments they work with.

The bus core that every service builds on. The contract a department shares with the bus (the
event catalogue, schemas, wire codec, plain clients, clocks, the exception tree) lives in the
``liandong_sdk`` distribution and is re-exported here, so it is defined once; the core adds the
service settings, logs, topic provisioning and the operator's ``Bus``.

Public modules beside this one: ``liandong.streams`` (the faust service skeleton),
``liandong.runtime``, ``liandong.metrics``, ``liandong.security``, ``liandong.clock``,
``liandong.asyncapi``, ``liandong.compat``, ``liandong.examples`` and ``liandong.domain``. A
module whose name starts with ``_`` is private to this package (tests/unit/test_layers.py).
"""

import liandong_sdk
from liandong_sdk import *  # noqa: F403  (the contract, defined once: see the docstring)

from ._bus import Bus
from ._logging import configure_logging, get_logger
from ._provisioning import ProvisionReport, provision_topics
from ._settings import Settings, get_settings, load_clocks, load_config_file

__all__ = [
    *liandong_sdk.__all__,
    "Bus",
    "ProvisionReport",
    "Settings",
    "configure_logging",
    "get_logger",
    "get_settings",
    "load_clocks",
    "load_config_file",
    "provision_topics",
]
