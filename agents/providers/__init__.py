"""Model providers behind one small interface (`complete`, `stream`)."""

from agents.providers.base import Message, ModelRequest, ModelResponse, Provider, StreamItem, Usage
from agents.providers.fallback import FallbackProvider
from agents.providers.function import FunctionProvider, scripted
from agents.providers.offline import OfflineProvider

__all__ = [
    "FallbackProvider",
    "FunctionProvider",
    "Message",
    "ModelRequest",
    "ModelResponse",
    "OfflineProvider",
    "Provider",
    "StreamItem",
    "Usage",
    "scripted",
]
