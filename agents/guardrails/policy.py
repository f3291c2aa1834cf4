"""Applying an agent's guardrail settings to its input, its output and its streamed text."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from agents.errors import GuardrailError
from agents.guardrails.pii import PiiScanner, apply_matches, count_matches
from agents.spec import AgentSpec, PiiMode

_HOLD = 96  # longer than any PII with inner spaces (a spaced IBAN is at most 42 characters)
_MAX_BUFFER = 8192  # a run with no whitespace this long is flushed anyway (tokens are redacted whole)
_SPACE = re.compile(r"\s")


@dataclass(frozen=True, slots=True)
class GuardrailPolicy:
    pii: PiiMode
    scan_input: bool
    blocked: re.Pattern[str] | None


@lru_cache(maxsize=4096)
def _topics(topics: tuple[str, ...]) -> re.Pattern[str] | None:
    if not topics:
        return None
    alternatives = "|".join(re.escape(t.strip()) for t in sorted(topics, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


class Guardrails:
    """Applies each agent's guardrails; `default_pii` is used where an agent does not set a mode."""

    def __init__(self, *, default_pii: PiiMode = "redact", scanner: PiiScanner | None = None) -> None:
        self.default_pii = default_pii
        self.scanner = scanner or PiiScanner()

    def policy(self, spec: AgentSpec) -> GuardrailPolicy:
        g = spec.guardrails
        return GuardrailPolicy(g.pii or self.default_pii, g.scan_input, _topics(tuple(g.blocked_topics)))

    def check_input(self, spec: AgentSpec, document: Any) -> tuple[Any, dict[str, int]]:
        policy = self.policy(spec)
        if not policy.scan_input or policy.pii == "off":
            return document, {}
        return self._pii(document, policy.pii, where="input")

    def check_output(self, spec: AgentSpec, document: Any) -> tuple[Any, dict[str, int]]:
        policy = self.policy(spec)
        if policy.blocked is not None:
            for text in _strings(document):
                hit = policy.blocked.search(text)
                if hit:
                    raise GuardrailError(
                        "the output touches a topic this agent must not discuss",
                        where="output",
                        kinds={"blocked_topic": 1},
                    )
        if policy.pii == "off":
            return document, {}
        return self._pii(document, policy.pii, where="output")

    def stream_filter(self, spec: AgentSpec) -> StreamFilter:
        return StreamFilter(self.scanner, self.policy(spec))

    def _pii(self, document: Any, mode: PiiMode, *, where: str) -> tuple[Any, dict[str, int]]:
        # One scan over all the strings at once clears most documents; only a hit pays for a walk.
        if not self.scanner.find("\x00".join(_strings(document))):
            return document, {}
        counts: dict[str, int] = {}
        redacted = _walk(document, self.scanner, counts)
        if counts and mode == "block":
            raise GuardrailError(
                f"the {where} contains personal data ({', '.join(sorted(counts))})", where=where, kinds=counts
            )
        return (redacted if counts else document), counts


def _walk(value: Any, scanner: PiiScanner, counts: dict[str, int]) -> Any:
    if isinstance(value, str):
        text, found = scanner.redact(value)
        for kind, n in found.items():
            counts[kind] = counts.get(kind, 0) + n
        return text
    if isinstance(value, dict):
        return {k: _walk(v, scanner, counts) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, scanner, counts) for v in value]
    return value


def _strings(value: Any) -> Sequence[str]:
    out: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return out


class StreamFilter:
    """Redacts streamed text without ever emitting part of a secret or of a number being formed.

    Text is held back until it is followed by at least `_HOLD` more characters and the cut falls on
    whitespace outside any match, so no piece of PII is split across two emitted chunks.
    """

    def __init__(self, scanner: PiiScanner, policy: GuardrailPolicy) -> None:
        self._scanner = scanner
        self._policy = policy
        self._buffer = ""
        self._tail = ""  # the end of what was emitted, to catch blocked phrases across chunks
        self.counts: dict[str, int] = {}

    def feed(self, chunk: str) -> str:
        self._buffer += chunk
        if len(self._buffer) <= _HOLD:
            return ""
        limit = len(self._buffer) - _HOLD
        cut = max((m.start() for m in _SPACE.finditer(self._buffer, 0, limit + 1)), default=-1)
        if cut <= 0:
            if len(self._buffer) < _MAX_BUFFER:
                return ""
            cut = limit
        return self._emit(cut)

    def finish(self) -> str:
        return self._emit(len(self._buffer))

    def _emit(self, cut: int) -> str:
        text = self._buffer
        matches = self._scanner.find(text) if self._policy.pii != "off" else []
        for m in matches:
            if m.start < cut < m.end:
                cut = m.start
        head = [m for m in matches if m.end <= cut]
        segment = text[:cut]
        self._buffer = text[cut:]
        if head:
            found = count_matches(head)
            for kind, n in found.items():
                self.counts[kind] = self.counts.get(kind, 0) + n
            if self._policy.pii == "block":
                raise GuardrailError(
                    f"the output contains personal data ({', '.join(sorted(found))})",
                    where="output",
                    kinds=found,
                )
            segment = apply_matches(segment, head)
        if self._policy.blocked is not None and self._policy.blocked.search(self._tail + segment):
            raise GuardrailError(
                "the output touches a topic this agent must not discuss",
                where="output",
                kinds={"blocked_topic": 1},
            )
        self._tail = (self._tail + segment)[-200:]
        return segment
