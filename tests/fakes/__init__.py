"""Fake model APIs on loopback, driven through the real SDKs: latency and fault injection included."""

from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.server import FakeServer, Fault

__all__ = ["FakeAnthropic", "FakeOpenAI", "FakeServer", "Fault"]
