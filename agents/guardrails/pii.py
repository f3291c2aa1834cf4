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

_TOKEN = re.compile(
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
    """,
    re.VERBOSE,
)
_TOKEN_HINTS = ("sk-", "k_live_", "k_test_", "AKIA", "ASIA", "gh", "github_pat_", "xox", "AIza", "eyJ")
# A credential named by its key: only the value (group 1) is redacted.
_KEYED = re.compile(
    r"(?i:bearer|token)\s{1,2}([A-Za-z0-9\-._~+/]{16,}=*)"
    r"|(?i:api[_-]?key|secret|password|passwd)[\"']?\s*[:=]\s*[\"']?([^\s\"',;]{8,})"
)
_KEYED_HINTS = ("bearer", "token", "api", "secret", "passw")
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![A-Za-z0-9-])"
)
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])")
_CARD = re.compile(r"(?<![\d-])\d{4}(?:[ -]?\d{2,6}){2,4}(?![\d-])|(?<!\d)\d{13,19}(?!\d)")
_SSN = re.compile(r"(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d)")
_IPV6 = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Fa-f:])")
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


# Issuer prefixes and the lengths their numbers have (ISO/IEC 7812 ranges of the major networks).
_CARD_LENGTHS: tuple[tuple[range, int, frozenset[int]], ...] = (
    (range(4, 5), 1, frozenset({13, 16, 19})),  # Visa
    (range(51, 56), 2, frozenset({16})),  # Mastercard
    (range(2221, 2721), 4, frozenset({16})),  # Mastercard 2-series
    (range(34, 35), 2, frozenset({15})),  # American Express
    (range(37, 38), 2, frozenset({15})),
    (range(300, 306), 3, frozenset(range(14, 20))),  # Diners Club
    (range(36, 37), 2, frozenset(range(14, 20))),
    (range(38, 40), 2, frozenset(range(16, 20))),
    (range(3528, 3590), 4, frozenset(range(16, 20))),  # JCB
    (range(6011, 6012), 4, frozenset(range(16, 20))),  # Discover
    (range(644, 650), 3, frozenset(range(16, 20))),
    (range(65, 66), 2, frozenset(range(16, 20))),
    (range(62, 63), 2, frozenset(range(16, 20))),  # UnionPay
)


def _card(text: str) -> bool:
    separators = {c for c in text if not c.isdigit()}
    if len(separators) > 1:
        return False
    digits = text.replace(" ", "").replace("-", "")
    length = len(digits)
    issued = any(
        int(digits[:size]) in prefixes and length in lengths for prefixes, size, lengths in _CARD_LENGTHS
    )
    return issued and _luhn(digits)


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


# A run of digits with the separators that numbers are written with; every number-shaped kind
# (card, SSN, IBAN, IPv4, phone) contains one, so the other patterns only look near these runs.
_NUMBER_RUN = re.compile(r"\d[\d .\-()/]*\d|\d")
_SEPARATORS = str.maketrans("", "", " .-()/")
_UPPER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_HEX = frozenset("0123456789abcdefABCDEF")


class PiiScanner:
    """Finds and redacts personal data and secrets. Stateless and safe to share.

    Python's regular expressions cost tens of microseconds per pass over a few kilobytes, so the
    full patterns run only where a cheap test (a substring, one pass for runs of digits) says a
    match is possible.
    """

    def __init__(self, kinds: frozenset[PiiKind] | None = None) -> None:
        self._kinds = frozenset(PiiKind) if kinds is None else kinds

    def find(self, text: str) -> list[PiiMatch]:
        """Non-overlapping matches, in text order."""
        found: list[PiiMatch] = []
        if len(text) < 7:
            return found
        kinds = self._kinds
        if PiiKind.SECRET in kinds:
            self._secrets(text, found)
        if PiiKind.EMAIL in kinds and "@" in text:
            self._emails(text, found)
        self._numbers(text, found)
        if PiiKind.IP in kinds and ":" in text:
            self._ipv6(text, found)
        found.sort(key=lambda f: f.start)
        return found

    def _add(self, found: list[PiiMatch], kind: PiiKind, start: int, end: int) -> bool:
        if any(start < f.end and f.start < end for f in found):
            return False
        found.append(PiiMatch(kind, start, end))
        return True

    def _secrets(self, text: str, found: list[PiiMatch]) -> None:
        if any(hint in text for hint in _TOKEN_HINTS):
            for m in _TOKEN.finditer(text):
                self._add(found, PiiKind.SECRET, *m.span())
        lower = text.lower()
        if any(hint in lower for hint in _KEYED_HINTS):
            for m in _KEYED.finditer(text):
                group = 1 if m.group(1) is not None else 2
                self._add(found, PiiKind.SECRET, *m.span(group))

    def _emails(self, text: str, found: list[PiiMatch]) -> None:
        at = text.find("@")
        while at != -1:
            m = _EMAIL.search(text, max(0, at - 64), at + 256)
            if m is not None and m.start() <= at < m.end() and _email(m.group()):
                self._add(found, PiiKind.EMAIL, *m.span())
            at = text.find("@", at + 1)

    def _numbers(self, text: str, found: list[PiiMatch]) -> None:
        kinds = self._kinds
        for run in _NUMBER_RUN.finditer(text):
            start, end = run.span()
            if any(start < f.end and f.start < end for f in found):
                continue
            iban_prefix = start >= 2 and text[start - 2] in _UPPER and text[start - 1] in _UPPER
            if PiiKind.IBAN in kinds and iban_prefix:
                m = _IBAN.match(text, start - 2)
                if m is not None and _iban.is_valid(m.group()) and self._add(found, PiiKind.IBAN, *m.span()):
                    continue
            if PiiKind.IP in kinds and run.group().count(".") >= 3:
                for m in _IPV4.finditer(text, start, end):
                    if _ip(m.group()):
                        self._add(found, PiiKind.IP, *m.span())
            digits = len(run.group().translate(_SEPARATORS))
            if digits < 7:
                continue
            if PiiKind.CARD in kinds and digits >= 13:
                for m in _CARD.finditer(text, start, end):
                    if _card(m.group()):
                        self._add(found, PiiKind.CARD, *m.span())
            if PiiKind.SSN in kinds:
                for m in _SSN.finditer(text, start, end):
                    if _ssn(m):
                        self._add(found, PiiKind.SSN, *m.span())
            if PiiKind.PHONE in kinds:
                lead = start - 1 if start and text[start - 1] in "+(" else start
                for m in _PHONE.finditer(text, lead, end):
                    if _phone(m.group()):
                        self._add(found, PiiKind.PHONE, *m.span())

    def _ipv6(self, text: str, found: list[PiiMatch]) -> None:
        colon = text.find(":")
        limit = len(text) - 1
        while colon != -1:
            before = colon > 0 and text[colon - 1] in _HEX
            after = colon < limit and (text[colon + 1] in _HEX or text[colon + 1] == ":")
            if before or (after and text[colon + 1] == ":"):
                m = _IPV6.search(text, max(0, colon - 40), colon + 40)
                if m is not None and m.start() <= colon < m.end() and _ip(m.group()):
                    self._add(found, PiiKind.IP, *m.span())
                    colon = text.find(":", m.end())
                    continue
            colon = text.find(":", colon + 1)

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
