"""Server-sent events: one `event:` / `data:` block per message."""

from __future__ import annotations

from typing import Any

import orjson

MEDIA_TYPE = "text/event-stream"


def event(kind: str, data: Any, *, event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {kind}\ndata: {orjson.dumps(data).decode()}\n\n"


def wants_stream(accept: str | None, stream: bool) -> bool:
    return stream or (accept is not None and MEDIA_TYPE in accept)
