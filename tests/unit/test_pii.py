"""PII detection and redaction: every kind found and replaced whole, look-alikes and clean text untouched."""

from __future__ import annotations

import pytest

from agents.errors import GuardrailError
from agents.guardrails import GuardrailPolicy, PiiScanner, StreamFilter

SCANNER = PiiScanner()


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        ("mail john.doe@mail.corp.co.uk today", "mail [REDACTED_EMAIL] today", "email"),
        ("to: a+b@x.io.", "to: [REDACTED_EMAIL].", "email"),
        ("call (415) 555-2671 now", "call [REDACTED_PHONE] now", "phone"),
        ("ring +44 20 7946 0958", "ring [REDACTED_PHONE]", "phone"),
        ("card 4111111111111111 ok", "card [REDACTED_CARD] ok", "card_number"),
        ("card 4111 1111 1111 1111 ok", "card [REDACTED_CARD] ok", "card_number"),
        ("card 5500-0000-0000-0004 ok", "card [REDACTED_CARD] ok", "card_number"),
        ("amex 3782 822463 10005", "amex [REDACTED_CARD]", "card_number"),
        ("ssn 123-45-6789.", "ssn [REDACTED_SSN].", "ssn"),
        ("iban DE89 3704 0044 0532 0130 00 here", "iban [REDACTED_IBAN] here", "iban"),
        ("iban GB82WEST12345698765432", "iban [REDACTED_IBAN]", "iban"),
        ("host 10.20.30.40 down", "host [REDACTED_IP] down", "ip_address"),
        ("v6 2607:f8b0:4005:80a::200e up", "v6 [REDACTED_IP] up", "ip_address"),
        ("key sk-ant-api03-abcdefghijklmnopqrstuv", "key [REDACTED_SECRET]", "secret"),
        (
            "Authorization: Bearer abcdefghijklmnop0123456789",
            "Authorization: Bearer [REDACTED_SECRET]",
            "secret",
        ),
        ("aws AKIAIOSFODNN7EXAMPLE", "aws [REDACTED_SECRET]", "secret"),
        ("gh ghp_abcdefghijklmnopqrstuvwxyz0123456789", "gh [REDACTED_SECRET]", "secret"),
        ("password=hunter2hunter2", "password=[REDACTED_SECRET]", "secret"),
    ],
)
def test_each_kind_is_found_and_replaced_whole(text: str, expected: str, kind: str) -> None:
    redacted, counts = SCANNER.redact(text)
    assert redacted == expected
    assert counts == {kind: 1}


@pytest.mark.parametrize(
    "text",
    [
        "Revenue grew 12.5% to $3,400,000 in 2024; 1,500 units shipped on 2024-01-15 (v1.2.3).",
        "card 4111 1111 1111 1112 fails Luhn",
        "iban DE89 3704 0044 0532 0130 01 fails its checksum",
        "ssn 000-12-3456 and 666-12-3456 are never issued",
        "version 999.1.2.3 is not an address",
        "docs at help@example.com and 192.0.2.10 are for documentation",
        "order 12345 shipped to warehouse 7",
        "",
    ],
)
def test_look_alikes_and_clean_text_are_untouched(text: str) -> None:
    assert SCANNER.redact(text) == (text, {})


def test_several_kinds_in_one_text_keep_the_rest_intact() -> None:
    text = "Jane (jane@acme.io, 415-555-2671) paid with 4111-1111-1111-1111 from 10.0.0.7."
    redacted, counts = SCANNER.redact(text)
    assert (
        redacted == "Jane ([REDACTED_EMAIL], [REDACTED_PHONE]) paid with [REDACTED_CARD] from [REDACTED_IP]."
    )
    assert counts == {"email": 1, "phone": 1, "card_number": 1, "ip_address": 1}


def _stream(text: str, step: int, policy: GuardrailPolicy) -> str:
    f = StreamFilter(SCANNER, policy)
    out = [f.feed(text[i : i + step]) for i in range(0, len(text), step)]
    out.append(f.finish())
    return "".join(out)


@pytest.mark.parametrize("step", [1, 2, 5, 17, 1000])
def test_streamed_text_never_leaks_a_split_item(step: int) -> None:
    text = (
        "Customer record follows. " * 6
        + "Card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, mail jane@acme.io, "
        + "token sk-ant-api03-abcdefghijklmnopqrstuvwxyz and phone +44 20 7946 0958. Thanks!"
    )
    policy = GuardrailPolicy(pii="redact", scan_input=False, blocked=None)
    assert _stream(text, step, policy) == SCANNER.redact(text)[0]


def test_stream_in_block_mode_stops_at_the_first_item() -> None:
    policy = GuardrailPolicy(pii="block", scan_input=False, blocked=None)
    with pytest.raises(GuardrailError):
        _stream("hello " * 40 + "my ssn is 123-45-6789 " + "bye " * 40, 7, policy)
