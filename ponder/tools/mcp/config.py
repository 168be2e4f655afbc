"""Which MCP servers to connect to: a command line (stdio) or a URL (Streamable HTTP).

Servers come from Python (:class:`StdioServer`, :class:`HttpServer`), from a
``--mcp`` value (:func:`parse_server`) or from a JSON file in the format other
MCP clients use (:func:`load_config`)::

    {"mcpServers": {
        "fs": {"command": "npx",
               "args": ["-y", "@modelcontextprotocol/server-filesystem", "/data"]},
        "docs": {"url": "https://example.com/mcp", "headers": {"Authorization": "Bearer ..."}}
    }}

Every server has a name; its tools reach the model as ``<name>__<tool>``
(see :func:`tool_name`), so tools of different servers never collide.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "HttpServer",
    "McpConfigError",
    "ServerSpec",
    "StdioServer",
    "load_config",
    "parse_server",
    "tool_name",
    "unique_names",
]

_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]+")
_NAMED_VALUE = re.compile(r"^([A-Za-z][A-Za-z0-9_-]{0,31})=(?!\S*=)(.+)$", re.DOTALL)
_LAUNCHERS = {"npx", "uvx", "node", "python", "python3", "bunx", "deno", "pipx", "docker"}
_MAX_NAME = 64
_SEPARATOR = "__"


class McpConfigError(ValueError):
    """An MCP server description that cannot be used; the message says why."""


@dataclass(frozen=True)
class StdioServer:
    """A server started as a subprocess, spoken to over its stdin/stdout.

    The subprocess gets only a safe subset of this process's environment
    (``PATH``, ``HOME`` and the like, the ``mcp`` SDK's default), plus ``env``:
    API keys of this process do not leak into it.
    """

    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    name: str = ""
    """Prefix of its tools' names; derived from the command when empty."""
    timeout_s: float | None = 60.0
    """Wall-clock limit of one tool call."""

    def __post_init__(self) -> None:
        if not self.command.strip():
            raise McpConfigError("an MCP stdio server needs a command")
        if not self.name:
            object.__setattr__(self, "name", _name_from_command(self.command, self.args))
        _check_name(self.name)

    def __repr__(self) -> str:  # env may hold secrets: names only
        keys = ", ".join(sorted(self.env))
        return f"StdioServer(name={self.name!r}, command={self.command!r}, env=[{keys}])"


@dataclass(frozen=True)
class HttpServer:
    """A server at a Streamable HTTP endpoint; ``headers`` go with every request."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    name: str = ""
    """Prefix of its tools' names; derived from the host when empty."""
    timeout_s: float | None = 60.0
    """Wall-clock limit of one tool call."""

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise McpConfigError(f"MCP server URL must be http(s)://host/...: {self.url!r}")
        if not self.name:
            object.__setattr__(self, "name", _clean(parts.hostname.split(".")[0]) or "http")
        _check_name(self.name)

    def __repr__(self) -> str:  # headers may hold tokens: names only
        keys = ", ".join(sorted(self.headers))
        return f"HttpServer(name={self.name!r}, url={self.url!r}, headers=[{keys}])"


ServerSpec = StdioServer | HttpServer


def parse_server(value: str) -> ServerSpec:
    """A server from one ``--mcp`` value: a URL, or a command line.

    ``NAME=`` in front sets the tool-name prefix: ``fs=npx -y
    @modelcontextprotocol/server-filesystem /data``.
    """
    text = value.strip()
    name = ""
    named = _NAMED_VALUE.match(text)
    if named:
        name, text = named.group(1), named.group(2).strip()
    if text.startswith(("http://", "https://")):
        return HttpServer(url=text, name=name)
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise McpConfigError(f"cannot parse the MCP command {value!r}: {exc}") from None
    if not words:
        raise McpConfigError("an empty --mcp value: give a command line or a URL")
    return StdioServer(command=words[0], args=tuple(words[1:]), name=name)


def load_config(path: Path | str) -> list[ServerSpec]:
    """The servers of a ``{"mcpServers": {name: {...}}}`` JSON file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise McpConfigError(f"cannot read the MCP config {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise McpConfigError(f"the MCP config {path} is not valid JSON: {exc}") from None
    servers = data.get("mcpServers") if isinstance(data, dict) else None
    if not isinstance(servers, dict):
        raise McpConfigError(f'the MCP config {path} needs an object "mcpServers": {{name: ...}}')
    return [_from_entry(str(name), entry, path) for name, entry in servers.items()]


def unique_names(servers: Iterable[ServerSpec]) -> list[ServerSpec]:
    """``servers`` with repeated names made distinct (``fs``, ``fs_2``, ...)."""
    seen: set[str] = set()
    result: list[ServerSpec] = []
    for server in servers:
        name, n = server.name, 1
        while name in seen:
            n += 1
            name = f"{server.name}_{n}"
        seen.add(name)
        result.append(server if name == server.name else replace(server, name=name))
    return result


def tool_name(server: str, tool: str) -> str:
    """The name the model sees: ``<server>__<tool>``, cleaned to ``[A-Za-z0-9_-]{1,64}``.

    Characters outside that set become ``_``; a name still too long keeps its
    head and ends with a short hash of the full name, so it stays unique.
    """
    full = f"{server}{_SEPARATOR}{_clean(tool) or 'tool'}"
    if len(full) <= _MAX_NAME:
        return full
    digest = hashlib.sha256(f"{server}/{tool}".encode()).hexdigest()[:8]
    return f"{full[: _MAX_NAME - 9]}_{digest}"


def _from_entry(name: str, entry: Any, path: Path) -> ServerSpec:
    where = f"{path}: mcpServers.{name}"
    if not isinstance(entry, dict):
        raise McpConfigError(f"{where} must be an object")
    timeout = entry.get("timeout", 60.0)
    if timeout is not None and (not isinstance(timeout, int | float) or timeout <= 0):
        raise McpConfigError(f"{where}.timeout must be a positive number of seconds")
    clean = _clean(name)
    if "url" in entry:
        return HttpServer(
            url=_string(entry["url"], f"{where}.url"),
            headers=_strings(entry.get("headers", {}), f"{where}.headers"),
            name=clean,
            timeout_s=timeout,
        )
    if "command" not in entry:
        raise McpConfigError(f'{where} needs "command" (stdio) or "url" (Streamable HTTP)')
    args = entry.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise McpConfigError(f"{where}.args must be a list of strings")
    cwd = entry.get("cwd")
    return StdioServer(
        command=_string(entry["command"], f"{where}.command"),
        args=tuple(args),
        env=_strings(entry.get("env", {}), f"{where}.env"),
        cwd=None if cwd is None else _string(cwd, f"{where}.cwd"),
        name=clean,
        timeout_s=timeout,
    )


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise McpConfigError(f"{where} must be a non-empty string")
    return value


def _strings(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise McpConfigError(f"{where} must be an object of strings")
    return dict(value)


def _name_from_command(command: str, args: tuple[str, ...]) -> str:
    """``npx -y @modelcontextprotocol/server-filesystem /data`` → ``filesystem``."""
    program = Path(command).name
    words = [a for a in args if not a.startswith("-")] if program in _LAUNCHERS else []
    base = words[0] if words else program
    base = base.rsplit("/", 1)[-1].split("@", 1)[0]
    base = re.sub(r"\.(py|js|mjs|ts)$", "", base)
    base = re.sub(r"^(mcp[-_]server[-_]|server[-_]|mcp[-_])|([-_]mcp([-_]server)?)$", "", base)
    return _clean(base)[:32] or "mcp"


def _clean(text: str) -> str:
    return _NAME_CHARS.sub("_", text).strip("_")


def _check_name(name: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", name) or _SEPARATOR in name:
        raise McpConfigError(
            f"MCP server name {name!r} must be 1-32 letters, digits, _ or - (no '__')"
        )
