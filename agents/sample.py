"""Values that fit a JSON Schema, derived deterministically from an input document.

The offline provider answers with these, and test fakes build tool answers with them. A schema is
compiled once into a tree of small generator functions; generating a value is then cheap.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{1,}")
_MAX_SUBJECT_WORDS = 8


@dataclass(frozen=True, slots=True)
class Seed:
    """What a generated value is derived from: a stable number and a few words of the input."""

    number: int
    subject: str

    @classmethod
    def of(cls, document: Any) -> Seed:
        raw = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
        number = int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big")
        words: list[str] = []
        _collect_words(document, words)
        return cls(number, " ".join(words) or "the request")


def _collect_words(value: Any, out: list[str]) -> None:
    if len(out) >= _MAX_SUBJECT_WORDS:
        return
    if isinstance(value, str):
        out.extend(_WORD.findall(value[:200])[: _MAX_SUBJECT_WORDS - len(out)])
    elif isinstance(value, Mapping):
        for v in value.values():
            _collect_words(v, out)
    elif isinstance(value, list):
        for v in value[:4]:
            _collect_words(v, out)


Gen = Callable[[Seed, int], Any]
"""A compiled generator: (seed, salt) -> value. The salt varies values across array items."""


def _salt(path: str) -> int:
    return int.from_bytes(hashlib.blake2b(path.encode(), digest_size=4).digest(), "big")


class Sampler:
    """Generates values that fit one schema."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self._root = schema
        self._gen = self._compile(schema, "", depth=0)

    def __call__(self, document: Any) -> Any:
        return self._gen(Seed.of(document), 0)

    # -- compilation -------------------------------------------------------------------------

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        ref = schema.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#"):
            return schema
        node: Any = self._root
        for part in ref.lstrip("#").strip("/").split("/"):
            if part:
                node = node[part.replace("~1", "/").replace("~0", "~")]
        return {**node, **{k: v for k, v in schema.items() if k != "$ref"}}

    def _compile(self, schema: Any, path: str, depth: int) -> Gen:
        if depth > 12 or not isinstance(schema, Mapping):
            return lambda seed, salt: None
        schema = self._resolve(schema)
        if "const" in schema:
            const = schema["const"]
            return lambda seed, salt: const
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            options = list(schema["enum"])
            h = _salt(path)
            return lambda seed, salt: options[(seed.number + h + salt) % len(options)]
        for key in ("anyOf", "oneOf"):
            if isinstance(schema.get(key), list) and schema[key]:
                branch = next((b for b in schema[key] if b.get("type") != "null"), schema[key][0])
                return self._compile({**_without(schema, key), **branch}, path, depth + 1)
        if isinstance(schema.get("allOf"), list):
            merged: dict[str, Any] = dict(_without(schema, "allOf"))
            for part in schema["allOf"]:
                merged.update(self._resolve(part))
            return self._compile(merged, path, depth + 1)
        kind = _kind(schema)
        if kind == "object":
            return self._object(schema, path, depth)
        if kind == "array":
            return self._array(schema, path, depth)
        if kind == "string":
            return _string(schema, path)
        if kind in ("integer", "number"):
            return _number(schema, path, integer=kind == "integer")
        if kind == "boolean":
            h = _salt(path)
            return lambda seed, salt: (seed.number + h + salt) % 2 == 0
        return lambda seed, salt: None

    def _object(self, schema: Mapping[str, Any], path: str, depth: int) -> Gen:
        props = schema.get("properties") or {}
        fields = [(name, self._compile(sub, f"{path}/{name}", depth + 1)) for name, sub in props.items()]
        for name in schema.get("required") or []:
            if name not in props:
                fields.append((name, _string({}, f"{path}/{name}")))

        def gen(seed: Seed, salt: int) -> dict[str, Any]:
            return {name: g(seed, salt) for name, g in fields}

        return gen

    def _array(self, schema: Mapping[str, Any], path: str, depth: int) -> Gen:
        items = schema.get("items") if isinstance(schema.get("items"), Mapping) else {}
        item = self._compile(items, f"{path}/*", depth + 1)
        lo = int(schema.get("minItems", 0))
        hi = int(schema.get("maxItems", max(lo, 2)))
        count = min(max(lo, 2), hi)
        options = len(items.get("enum") or []) if isinstance(items, Mapping) else 0
        if schema.get("uniqueItems") and options:
            count = min(count, options)

        def gen(seed: Seed, salt: int) -> list[Any]:
            return [item(seed, salt * 31 + i + 1) for i in range(count)]

        return gen


def _without(schema: Mapping[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != key}


def _kind(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "string"


_FORMATS: dict[str, Callable[[int, str], str]] = {
    "date": lambda n, name: f"2025-{n % 12 + 1:02d}-{n % 28 + 1:02d}",
    "date-time": lambda n, name: f"2025-{n % 12 + 1:02d}-{n % 28 + 1:02d}T{n % 24:02d}:{n % 60:02d}:00Z",
    "time": lambda n, name: f"{n % 24:02d}:{n % 60:02d}:00Z",
    "email": lambda n, name: f"{name.replace('_', '.') or 'contact'}@example.com",
    "uri": lambda n, name: f"https://example.com/{name or 'resource'}/{n % 1000}",
    "url": lambda n, name: f"https://example.com/{name or 'resource'}/{n % 1000}",
    "uuid": lambda n, name: f"{n % 16**8:08x}-0000-4000-8000-{n % 16**12:012x}",
    "ipv4": lambda n, name: f"192.0.2.{n % 254 + 1}",
    "ipv6": lambda n, name: f"2001:db8::{n % 65535:x}",
    "hostname": lambda n, name: "host.example.com",
}


def _string(schema: Mapping[str, Any], path: str) -> Gen:
    name = path.rsplit("/", 1)[-1].strip("*") or "value"
    if name == "*":
        name = "item"
    h = _salt(path)
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS:
        make = _FORMATS[fmt]
        return lambda seed, salt: make(seed.number + h + salt, name)
    label = name.replace("_", " ").strip().capitalize() or "Value"
    lo = int(schema.get("minLength", 0))
    hi = schema.get("maxLength")

    def gen(seed: Seed, salt: int) -> str:
        text = f"{label} for {seed.subject}" if not salt else f"{label} {salt % 97} for {seed.subject}"
        text = text.ljust(lo, ".")
        return text[: int(hi)] if hi is not None else text

    return gen


def _number(schema: Mapping[str, Any], path: str, *, integer: bool) -> Gen:
    lo = schema.get("minimum", schema.get("exclusiveMinimum"))
    hi = schema.get("maximum", schema.get("exclusiveMaximum"))
    exclusive_lo = "minimum" not in schema and "exclusiveMinimum" in schema
    exclusive_hi = "maximum" not in schema and "exclusiveMaximum" in schema
    base = float(lo) if lo is not None else 0.0
    top = float(hi) if hi is not None else base + 100.0
    step = 1.0 if integer else 0.5
    if exclusive_lo:
        base += step if integer else (top - base) / 4
    if exclusive_hi:
        top -= step if integer else (top - base) / 4
    if integer:
        base = float(int(-(-base // 1)))
        top = float(int(top // 1))
    span = max(top - base, 0.0)
    h = _salt(path)
    multiple = schema.get("multipleOf")

    def gen(seed: Seed, salt: int) -> int | float:
        slots = int(span // step) + 1
        value = base + ((seed.number + h + salt) % slots) * step if span else base
        if multiple:
            value = (value // float(multiple)) * float(multiple)
            if value < base:
                value += float(multiple)
        return int(value) if integer else round(value, 4)

    return gen


class SamplerCache:
    """Samplers for recently seen schemas, keyed by identity; bounded."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._items: OrderedDict[int, tuple[object, Sampler]] = OrderedDict()

    def get(self, key: object, schema: Mapping[str, Any]) -> Sampler:
        found = self._items.get(id(key))
        if found is not None and found[0] is key:
            self._items.move_to_end(id(key))
            return found[1]
        sampler = Sampler(schema)
        self._items[id(key)] = (key, sampler)
        if len(self._items) > self._size:
            self._items.popitem(last=False)
        return sampler
