"""Structured logs (structlog): key=value on a terminal, JSON lines when LIANDONG_LOG_JSON=1.

The libraries' own logs (kafka-python, aiokafka, faust, aiohttp) go through the same renderer, with
their logger's name, at WARNING and above: one format to read or to parse."""

from __future__ import annotations

import logging
import sys

import structlog

from ._settings import get_settings

_configured = False


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Ours, on the root logger."""


class _Stderr:
    """Whatever ``sys.stderr`` is when a line is written, not what it was when logging was set up: a
    test runner swaps it in and out, and closes the files it swapped in."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str | None = None, *, json: bool | None = None) -> None:
    global _configured
    settings = get_settings()
    level_no = logging.getLevelName((level or settings.log_level).upper())
    as_json = settings.log_json if json is None else json
    renderer = structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=False)
    stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            stamp,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level_no),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    # The standard library's loggers, rendered as ours. kafka-python and aiokafka are chatty at INFO;
    # their warnings still show.
    handler = _Handler(_Stderr())
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name, stamp],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, structlog.processors.format_exc_info,
                    renderer]))
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not isinstance(h, _Handler)]  # configured again: replaced
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    # Their connection-level errors are retried internally (a broker restart, a closed socket);
    # what matters surfaces as an exception to our code.
    for name in ("kafka.net", "kafka.conn", "kafka.cluster", "kafka.client_async", "aiokafka"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    _configured = True


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    if not _configured:
        configure_logging()
    return structlog.get_logger(name)  # type: ignore[no-any-return]
