"""Talking to models, hosted or local, through one typed interface.

``make_backend()`` (or :class:`OpenAICompatibleBackend` /
:class:`OllamaNativeBackend` directly) gives a :class:`ChatBackend`;
:class:`ChatRequest` goes in, :class:`Completion` or stream events come out.
"""

from ponder.backends.client import DEFAULT_TIMEOUT, OpenAICompatibleBackend
from ponder.backends.errors import (
    AuthenticationError,
    BackendError,
    BadRequestError,
    BrokenStreamError,
    ConnectionFailedError,
    ContextLengthError,
    ProtocolError,
    RateLimitError,
    ReasoningBudgetExhausted,
    ResponseTooLargeError,
    ServerError,
)
from ponder.backends.factory import make_backend
from ponder.backends.ollama_native import OllamaNativeBackend
from ponder.backends.profiles import PROFILE_NAMES, ProviderProfile, detect_profile, get_profile
from ponder.backends.protocol import ChatBackend
from ponder.backends.retry import RetryPolicy
from ponder.backends.types import (
    AssistantMessage,
    ChatRequest,
    Completed,
    Completion,
    ContentDelta,
    Message,
    NamedToolChoice,
    ReasoningDelta,
    ResponseFormat,
    RetryNotice,
    StreamEvent,
    SystemMessage,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    ToolMessage,
    ToolSpec,
    Usage,
    UsageUpdate,
    UserMessage,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "PROFILE_NAMES",
    "AssistantMessage",
    "AuthenticationError",
    "BackendError",
    "BadRequestError",
    "BrokenStreamError",
    "ChatBackend",
    "ChatRequest",
    "Completed",
    "Completion",
    "ConnectionFailedError",
    "ContentDelta",
    "ContextLengthError",
    "Message",
    "NamedToolChoice",
    "OllamaNativeBackend",
    "OpenAICompatibleBackend",
    "ProtocolError",
    "ProviderProfile",
    "RateLimitError",
    "ReasoningBudgetExhausted",
    "ReasoningDelta",
    "ResponseFormat",
    "ResponseTooLargeError",
    "RetryNotice",
    "RetryPolicy",
    "ServerError",
    "StreamEvent",
    "SystemMessage",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "ToolMessage",
    "ToolSpec",
    "Usage",
    "UsageUpdate",
    "UserMessage",
    "detect_profile",
    "get_profile",
    "make_backend",
]
