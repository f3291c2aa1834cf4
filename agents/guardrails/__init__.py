"""Guardrails: PII detection and redaction, blocked topics, on documents and on streamed text."""

from agents.guardrails.pii import PiiKind, PiiMatch, PiiScanner
from agents.guardrails.policy import GuardrailPolicy, Guardrails, StreamFilter

__all__ = ["GuardrailPolicy", "Guardrails", "PiiKind", "PiiMatch", "PiiScanner", "StreamFilter"]
