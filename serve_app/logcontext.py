"""Who and what a log line is about: `tenant`, `agent`, `run_id` (and Serve's own `request_id`) on every
record logged while a call is handled, so that Serve's JSON logs carry them as fields. Values are ids,
never inputs, prompts or secrets."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_fields: ContextVar[dict[str, str] | None] = ContextVar("log_fields", default=None)
_RUN_STEP = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-")
_installed = False


def run_of(request_id: str) -> str | None:
    """The workflow run a step's call belongs to (its request id starts with the run id)."""
    match = _RUN_STEP.match(request_id)
    return match[1] if match else None


@contextmanager
def bound(**fields: str | None) -> Iterator[None]:
    """Add `fields` (those not None) to every record logged inside the block, in this task."""
    current = _fields.get() or {}
    token = _fields.set({**current, **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _fields.reset(token)


def install() -> None:
    """Wrap the process's log record factory once."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        for key, value in (_fields.get() or {}).items():
            setattr(record, key, value)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
