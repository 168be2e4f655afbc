"""Provider profiles: what differs between providers, as data.

A profile is a frozen dataclass returned by one small function per provider,
the way pydantic-ai's ``profiles/deepseek.py`` does it. The HTTP client reads
the profile; nowhere else does code branch on a provider's name. Sources for
every value are in ``shared/R1-PROTOCOL.md`` (section in the comments).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import urlparse

__all__ = [
    "PROFILE_NAMES",
    "JsonMode",
    "ProviderProfile",
    "ReplayPolicy",
    "detect_profile",
    "get_profile",
]

ReplayPolicy = Literal["never", "current_turn", "tool_turns"]
"""What reasoning is sent back on earlier assistant messages.

- ``never``: strip it everywhere (legacy R1 answers 400 otherwise).
- ``current_turn``: only on assistant messages after the last user message,
  i.e. inside the tool loop of the turn in progress.
- ``tool_turns``: on every assistant message that carries tool calls, in all
  later requests (DeepSeek V4 thinking mode answers 400 otherwise).
"""

JsonMode = Literal["json_object", "json_schema"]
SchemaShape = Literal["openai", "llamacpp"]
ThinkingSwitch = Literal["none", "deepseek", "chat_template_kwargs", "ollama", "openrouter"]
PrefixStyle = Literal["none", "deepseek", "continue_final_message", "trailing_assistant"]
ToolPrompt = Literal["native", "dsml_v4"]
NamedToolChoiceStyle = Literal["object", "required_one"]


@dataclass(frozen=True)
class ProviderProfile:
    """How one provider or engine speaks the OpenAI-compatible wire."""

    name: str
    default_base_url: str | None = None
    default_model: str | None = None
    needs_api_key: bool = False

    # reasoning on the way in
    reasoning_fields: tuple[str, ...] = ("reasoning_content", "reasoning")
    """Fields of ``message``/``delta`` that may carry reasoning, in order."""
    inline_think: bool = True
    """Content may carry ``<think>…</think>``; split it out."""
    template_opens_think: bool = False
    """The prompt template already opened ``<think>``: output starts mid-thought."""
    raw_tool_tokens: bool = True
    """Content may carry R1's raw ``<｜tool▁calls▁begin｜>`` tokens; parse them."""

    # reasoning on the way out
    replay: ReplayPolicy = "never"
    replay_field: str = "reasoning_content"
    replay_placeholder: bool = False
    """Send ``""`` on assistant messages whose reasoning is unknown."""

    # tools
    native_tools: bool = True
    tool_prompt: ToolPrompt = "native"
    """``native``: OpenAI ``tools`` and ``tool`` messages. ``dsml_v4``: a raw
    DeepSeek V4 engine with no tool role: tools described in the system
    prompt, earlier calls written as DSML, results sent inside the user turn
    as ``<tool_result>`` blocks (DeepSeek's ``encoding_dsv4.py``)."""
    tool_choice_modes: frozenset[str] = frozenset({"auto", "none", "required", "named"})
    named_tool_choice: NamedToolChoiceStyle = "object"
    """``object``: OpenAI's ``{"type": "function", …}``. ``required_one``: the
    server takes strings only, so a named choice is sent as ``"required"``
    with that one tool offered."""
    leaked_tool_markers: tuple[str, ...] = ()
    """Template text some servers stream as a content delta in tool turns;
    dropped when a tool call follows, kept as text otherwise."""
    strict_tools: bool = False
    strict_base_url: str | None = None
    parallel_tool_calls_field: bool = False
    """Send ``parallel_tool_calls: true`` when tools are present (llama.cpp)."""

    # JSON mode
    json_modes: frozenset[JsonMode] = frozenset({"json_object", "json_schema"})
    json_needs_word: bool = False
    """The prompt must contain the word "json" for ``json_object``."""
    schema_shape: SchemaShape = "openai"

    # sampling and extra fields
    ignored_params: frozenset[str] = frozenset()
    """Accepted but without effect: not sent, so nobody is misled."""
    rejected_params: frozenset[str] = frozenset()
    """Answered with an error: never sent."""
    thinking_ignored_params: frozenset[str] = frozenset()
    """Accepted but without effect while thinking is on: not sent then."""
    effort_aliases: dict[str, str | None] = field(default_factory=dict)
    """``reasoning_effort`` names -> the value sent (``None``: thinking off).
    Empty: sent as given. Names missing from a non-empty map are not sent."""
    thinking_switch: ThinkingSwitch = "none"
    prefix_style: PrefixStyle = "none"
    stream_usage: bool = True
    """Send ``stream_options: {"include_usage": true}`` when streaming."""
    extra_body: dict[str, Any] = field(default_factory=dict)
    retired_models: dict[str, tuple[str, bool]] = field(default_factory=dict)
    """Retired model name -> (successor, thinking on?); used with a one-time warning."""

    def with_overrides(self, **changes: Any) -> ProviderProfile:
        """A copy with some fields changed, e.g. ``replay="never"``."""
        return replace(self, **changes)


# ------------------------------------------------------------ built-ins


# api-docs.deepseek.com/guides/thinking_mode (current): the OpenAI form takes
# low/high/max; the other names map as this table says; the Responses form's
# "none" turns thinking off.
_DEEPSEEK_EFFORT: dict[str, str | None] = {
    "none": None,
    "minimal": "low",
    "low": "low",
    "medium": "high",
    "high": "high",
    "xhigh": "high",
    "max": "max",
    "ultra": "max",
}
_DEEPSEEK_SAMPLING = frozenset({"temperature", "top_p", "presence_penalty", "frequency_penalty"})


def deepseek() -> ProviderProfile:
    """DeepSeek hosted API, V4 (deepseek-v4-pro / -flash, deepseek-flash). §1.

    Thinking is on by default; with it on the sampling parameters have no
    effect (not sent), off (``deepseek-chat``, ``reasoning_effort="none"``)
    they are sent. Tool-call turns' reasoning goes back as ``reasoning_content``,
    ``""`` where it is unknown rather than omitted.
    """
    return ProviderProfile(
        name="deepseek",
        default_base_url="https://api.deepseek.com",
        default_model="deepseek-v4-pro",
        needs_api_key=True,
        reasoning_fields=("reasoning_content",),
        inline_think=False,
        raw_tool_tokens=False,
        replay="tool_turns",
        replay_field="reasoning_content",
        replay_placeholder=True,
        # thinking mode rejects forced tool choice (pydantic-ai#1886, langchainjs#10954)
        tool_choice_modes=frozenset({"auto", "none"}),
        strict_tools=True,
        strict_base_url="https://api.deepseek.com/beta",
        json_modes=frozenset({"json_object"}),
        json_needs_word=True,
        rejected_params=frozenset({"logprobs", "top_logprobs"}),
        thinking_ignored_params=_DEEPSEEK_SAMPLING,
        effort_aliases=_DEEPSEEK_EFFORT,
        thinking_switch="deepseek",
        prefix_style="deepseek",
        # aliases retired 2026-07-24 (§1)
        retired_models={
            "deepseek-reasoner": ("deepseek-v4-pro", True),
            "deepseek-chat": ("deepseek-v4-flash", False),
        },
    )


def deepseek_r1() -> ProviderProfile:
    """The legacy R1 contract (``deepseek-reasoner`` before V3.2). §1."""
    return replace(
        deepseek(),
        name="deepseek-r1",
        default_model="deepseek-reasoner",
        replay="never",
        replay_placeholder=False,
        tool_choice_modes=frozenset({"auto", "none"}),
        strict_tools=False,
        strict_base_url=None,
        thinking_switch="none",
        ignored_params=_DEEPSEEK_SAMPLING,
        effort_aliases={},
        retired_models={},
    )


def openrouter() -> ProviderProfile:
    """OpenRouter: ``reasoning`` plus ``reasoning_details``; echo details. §6."""
    return ProviderProfile(
        name="openrouter",
        default_base_url="https://openrouter.ai/api/v1",
        default_model="deepseek/deepseek-r1-0528",
        needs_api_key=True,
        reasoning_fields=("reasoning", "reasoning_content"),
        inline_think=True,
        raw_tool_tokens=False,
        replay="current_turn",
        replay_field="reasoning_details",
        thinking_switch="openrouter",
    )


def vllm() -> ProviderProfile:
    """vLLM with ``--reasoning-parser deepseek_r1``: ``reasoning`` field. §3."""
    return ProviderProfile(
        name="vllm",
        default_base_url="http://localhost:8000/v1",
        reasoning_fields=("reasoning", "reasoning_content"),
        replay="never",  # the R1 template drops earlier reasoning anyway
        thinking_switch="chat_template_kwargs",
        prefix_style="continue_final_message",
    )


def sglang() -> ProviderProfile:
    """SGLang with ``--reasoning-parser deepseek-r1``: ``reasoning_content``. §3."""
    return ProviderProfile(
        name="sglang",
        default_base_url="http://localhost:30000/v1",
        reasoning_fields=("reasoning_content", "reasoning"),
        replay="never",
        thinking_switch="chat_template_kwargs",
        prefix_style="continue_final_message",
    )


def ollama() -> ProviderProfile:
    """Ollama's ``/v1`` endpoint: ``reasoning`` field, no ``tool_choice``. §4."""
    return ProviderProfile(
        name="ollama",
        default_base_url="http://localhost:11434/v1",
        reasoning_fields=("reasoning", "reasoning_content", "thinking"),
        replay="never",
        replay_field="reasoning",
        tool_choice_modes=frozenset(),
        thinking_switch="ollama",
    )


def llamacpp() -> ProviderProfile:
    """llama.cpp's ``llama-server`` (``--reasoning-format deepseek`` or none). §5."""
    return ProviderProfile(
        name="llamacpp",
        default_base_url="http://localhost:8080/v1",
        reasoning_fields=("reasoning_content", "reasoning"),
        replay="never",
        schema_shape="llamacpp",
        parallel_tool_calls_field=True,
        # llama-server logs "Wrong type supplied for parameter 'tool_choice'" for the
        # object and ignores it; in tool turns it streams a "<tool_call>" content delta.
        named_tool_choice="required_one",
        leaked_tool_markers=("<tool_call>", "</tool_call>"),
        thinking_switch="chat_template_kwargs",
        prefix_style="trailing_assistant",
    )


def deepseek_v4_raw() -> ProviderProfile:
    """Self-hosted DeepSeek V4 on an engine without a tool parser or tool role.

    Replies carry inline ``<think>`` and DSML tool calls in the text; the
    prompt side speaks V4's own encoding (``tool_prompt="dsml_v4"``).
    """
    return ProviderProfile(
        name="deepseek-v4-raw",
        default_base_url="http://localhost:8000/v1",
        native_tools=False,
        tool_prompt="dsml_v4",
        tool_choice_modes=frozenset(),
        replay="never",
        prefix_style="continue_final_message",
    )


def openai_compatible() -> ProviderProfile:
    """Any other OpenAI-compatible host: detect inline think tags and raw tool tokens."""
    return ProviderProfile(name="openai-compatible")


_BUILTINS: dict[str, Callable[[], ProviderProfile]] = {
    "deepseek": deepseek,
    "deepseek-r1": deepseek_r1,
    "openrouter": openrouter,
    "vllm": vllm,
    "sglang": sglang,
    "ollama": ollama,
    "llamacpp": llamacpp,
    "deepseek-v4-raw": deepseek_v4_raw,
    "openai-compatible": openai_compatible,
}

PROFILE_NAMES: tuple[str, ...] = ("auto", *_BUILTINS)


def get_profile(
    name: str, *, base_url: str | None = None, model: str | None = None
) -> ProviderProfile:
    """The profile called ``name``; ``auto`` detects one from URL and model."""
    if name == "auto":
        return detect_profile(base_url, model)
    try:
        return _BUILTINS[name]()
    except KeyError:
        choices = ", ".join(PROFILE_NAMES)
        raise ValueError(f"unknown provider {name!r}; choose one of: {choices}") from None


_V4_MODEL_IDS = frozenset({"deepseek-v4-pro", "deepseek-v4-flash", "deepseek-flash"})


def detect_profile(base_url: str | None, model: str | None) -> ProviderProfile:
    """Pick a profile from the base URL, then DeepSeek's own model ids; else generic.

    Hugging Face names (``deepseek-ai/DeepSeek-R1-0528``) choose nothing: such
    a model is served by many engines. DeepSeek's API ids do: a host serving
    ``deepseek-v4-*`` speaks the V4 contract, one serving ``deepseek-reasoner``
    anywhere but deepseek.com (where it is retired) the legacy R1 contract.
    """
    host = (urlparse(base_url).hostname or "") if base_url else ""
    port = urlparse(base_url).port if base_url else None
    if host.endswith("deepseek.com"):
        # The legacy R1 aliases are retired there; the V4 profile maps them.
        return deepseek()
    if host.endswith("openrouter.ai"):
        return openrouter()
    if model in _V4_MODEL_IDS:
        return deepseek()
    if model == "deepseek-reasoner":
        return deepseek_r1()
    by_port = {11434: ollama, 8000: vllm, 30000: sglang, 8080: llamacpp}
    if port in by_port and host in {"localhost", "127.0.0.1", "::1"}:
        return by_port[port]()
    return openai_compatible()
