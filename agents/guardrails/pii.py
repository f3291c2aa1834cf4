"""Detection and redaction of personal data and secrets in free text.

Each detector is a regular expression that finds candidates cheaply, followed by a check that
rejects look-alikes: Luhn for card numbers, the ISO 13616 checksum for IBANs, libphonenumber for
phone numbers, `ipaddress` for IPs, the SSA's allocation rules for SSNs. A span claimed by one
detector is not looked at by the ones after it. Documentation-only addresses (example.com, the
TEST-NET ranges) are not personal data and are left alone.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from stdnum import iban as _iban


class PiiKind(StrEnum):
    SECRET = "secret"
    EMAIL = "email"
    IBAN = "iban"
    CARD = "card_number"
    SSN = "ssn"
    IP = "ip_address"
    PHONE = "phone"


@dataclass(frozen=True, slots=True)
class PiiMatch:
    kind: PiiKind
    start: int
    end: int


_DOC_DOMAINS = ("example.com", "example.org", "example.net", "example.edu")
_DOC_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)

_SECRET = re.compile(
    r"""
    (?<![A-Za-z0-9])(?:
        sk-(?:ant-|proj-|live-)?[A-Za-z0-9_\-]{16,}        # Anthropic / OpenAI style keys
      | [rsp]k_(?:live|test)_[A-Za-z0-9]{16,}              # Stripe
      | (?:AKIA|ASIA)[0-9A-Z]{16}                          # AWS access key id
      | gh[pousr]_[A-Za-z0-9]{30,}                         # GitHub tokens
      | github_pat_[A-Za-z0-9_]{30,}
      | xox[abprs]-[A-Za-z0-9-]{10,}                       # Slack
      | AIza[0-9A-Za-z_\-]{35}                             # Google API key
      | eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}   # JWT
    )
    | (?i:(?<=bearer\s)|(?<=token\s)|(?<=bearer\s\s))[A-Za-z0-9\-._~+/]{16,}=*
    | (?i:(?<=api_key=)|(?<=api-key=)|(?<=apikey=)|(?<=secret=)|(?<=password=)|(?<=api_key:\s)|(?<=password:\s)|(?<=secret:\s))[^\s"',;]{8,}
    """,
    re.VERBOSE,
)
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![A-Za-z0-9-])"
)
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])")
_CARD = re.compile(r"(?<![\d-])\d{4}(?:([ -]?)\d{4})(?:\1\d{4}){1,2}(?:\1\d{1,3})?(?![\d-])|(?<!\d)\d{13,19}(?!\d)")
_SSN = re.compile(r"(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Fa-f:])")
_IPV6_FULL = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![0-9A-Fa-f:])")
_PHONE = re.compile(
    r"(?<![\w@+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){1,4}(?![\w@])"
)


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(text: str) -> bool:
    digits = text.replace(" ", "").replace("-", "")
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and _luhn(digits)


def _ssn(m: re.Match[str]) -> bool:
    area, group, serial = m.group(1), m.group(3), m.group(4)
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _ip(text: str) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return not any(address in net for net in _DOC_NETWORKS)


def _email(text: str) -> bool:
    domain = text.rsplit("@", 1)[1].lower()
    return not any(domain == d or domain.endswith("." + d) for d in _DOC_DOMAINS)


def _phone(text: str) -> bool:
    digits = sum(c.isdigit() for c in text)
    if not 7 <= digits <= 15:
        return False
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else "US")
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(number))


_DIGIT = re.compile(r"\d")
# Nothing can match unless one of these occurs: a cheap first look that clears most text at once.
_TRIGGER = re.compile(
    r"[\d@]|sk-|[rsp]k_|AKIA|ASIA|gh[pousr]_|github_pat_|xox|AIza|eyJ|(?i:bearer|token|key|secret|password)"
)


@dataclass(frozen=True, slots=True)
class _Detector:
    kind: PiiKind
    pattern: re.Pattern[str]
    check: Callable[[re.Match[str]], bool]
    needs_digit: bool = True
    needs: str = ""  # a substring that must occur in the text


_DETECTORS: tuple[_Detector, ...] = (
    _Detector(PiiKind.SECRET, _SECRET, lambda m: True, needs_digit=False),
    _Detector(PiiKind.EMAIL, _EMAIL, lambda m: _email(m.group()), needs_digit=False, needs="@"),
    _Detector(PiiKind.IBAN, _IBAN, lambda m: bool(_iban.is_valid(m.group()))),
    _Detector(PiiKind.CARD, _CARD, lambda m: _card(m.group())),
    _Detector(PiiKind.SSN, _SSN, _ssn),
    _Detector(PiiKind.IP, _IPV4, lambda m: _ip(m.group()), needs="."),
    _Detector(PiiKind.IP, _IPV6, lambda m: _ip(m.group()), needs_digit=False, needs="::"),
    _Detector(PiiKind.IP, _IPV6_FULL, lambda m: _ip(m.group()), needs_digit=False, needs=":"),
    _Detector(PiiKind.PHONE, _PHONE, lambda m: _phone(m.group())),
)


class PiiScanner:
    """Finds and redacts personal data and secrets. Stateless and safe to share."""

    def __init__(self, kinds: frozenset[PiiKind] | None = None) -> None:
        self._detectors = tuple(d for d in _DETECTORS if kinds is None or d.kind in kinds)

    def find(self, text: str) -> list[PiiMatch]:
        """Non-overlapping matches, in text order."""
        if len(text) < 7 or _TRIGGER.search(text) is None:
            return []
        digits = _DIGIT.search(text) is not None
        found: list[PiiMatch] = []
        for det in self._detectors:
            if (det.needs_digit and not digits) or (det.needs and det.needs not in text):
                continue
            for m in det.pattern.finditer(text):
                start, end = m.span()
                if any(start < f.end and f.start < end for f in found):
                    continue
                if det.check(m):
                    found.append(PiiMatch(det.kind, start, end))
        found.sort(key=lambda f: f.start)
        return found

    def redact(self, text: str) -> tuple[str, dict[str, int]]:
        """`text` with each match replaced by `[REDACTED_<KIND>]`, and counts per kind."""
        matches = self.find(text)
        if not matches:
            return text, {}
        return apply_matches(text, matches), count_matches(matches)


def apply_matches(text: str, matches: list[PiiMatch]) -> str:
    out: list[str] = []
    pos = 0
    for m in matches:
        out.append(text[pos : m.start])
        out.append(placeholder(m.kind))
        pos = m.end
    out.append(text[pos:])
    return "".join(out)


def count_matches(matches: list[PiiMatch]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for m in matches:
        counts[m.kind.value] = counts.get(m.kind.value, 0) + 1
    return counts


def placeholder(kind: PiiKind) -> str:
    return f"[REDACTED_{kind.name}]"
