"""The first process inside the box: a notebook kernel, or a command's launcher.

Run by the host with ``python -I -S -c`` (stdlib only; it never imports
ponder). argv[1] is a JSON config. Before anything else it lowers its own
rlimits (kernel enforced and inherited by every child) and copies the
read-only seed folder, if any, into the box's private work folder.

``mode == "command"``: it then ``exec``s the command, whose exit status the
host reads with its own ``waitpid`` of the box.

``mode == "session"``: it moves the protocol off fds 0/1 so subprocesses
cannot read or corrupt it by accident, points fds 1/2 at unlinked files
whose contents are appended to each call's output, and answers one JSON
line per request, tagged with the request's id. Code run here shares this
process, so it *can* reach the protocol: the host trusts nothing a session
says beyond "this is what the code printed" (see ``local.py``).
"""

from __future__ import annotations

import ast
import io
import json
import linecache
import os
import resource
import shutil
import site
import sys
import tempfile
import traceback
from collections import deque
from types import TracebackType
from typing import IO, Any

_MB = 1024 * 1024


def _set_limits(limits: dict[str, int]) -> None:
    cpu = limits["cpu_s"]
    for name, soft, hard in (
        # SIGXCPU at the soft limit names the cause; SIGKILL follows a second later
        ("RLIMIT_CPU", cpu, cpu + 1),
        ("RLIMIT_AS", limits["memory_mb"] * _MB, limits["memory_mb"] * _MB),
        ("RLIMIT_NPROC", limits["max_processes"], limits["max_processes"]),
        ("RLIMIT_NOFILE", limits["max_open_files"], limits["max_open_files"]),
        ("RLIMIT_FSIZE", limits["max_file_mb"] * _MB, limits["max_file_mb"] * _MB),
    ):
        resource.setrlimit(getattr(resource, name), (soft, hard))


class _Capture(io.TextIOBase):
    """A text stream keeping the first and last ``limit // 2`` characters written."""

    def __init__(self, limit: int) -> None:
        self._half = limit // 2
        self._head: list[str] = []
        self._head_len = 0
        self._tail: deque[str] = deque()
        self._tail_len = 0
        self.total = 0
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        n = len(s)
        self.total += n
        room = self._half - self._head_len
        if room > 0:
            self._head.append(s[:room])
            self._head_len += min(room, n)
            s = s[room:]
        if s:
            self._tail.append(s[-self._half :])
            self._tail_len += len(self._tail[-1])
            while self._tail_len - len(self._tail[0]) >= self._half:
                self._tail_len -= len(self._tail.popleft())
        return n

    def result(self) -> tuple[str, int]:
        """The kept text, with a marker where characters were cut; and the count cut."""
        head = "".join(self._head)
        tail = "".join(self._tail)
        if self.total <= 2 * self._half and not self.dropped:
            return head + tail, 0
        tail = tail[len(tail) - self._half :]
        cut = self.total + self.dropped - len(head) - len(tail)
        return f"{head}\n… [{cut} characters cut] …\n{tail}", cut


def _drain(fd_file: IO[bytes], into: _Capture, limit: int) -> None:
    """Move what child processes wrote to a redirected fd into ``into``; empty the file."""
    size = fd_file.seek(0, os.SEEK_END)
    keep = 4 * limit  # bytes: enough for ``limit`` characters of any UTF-8
    fd_file.seek(0)
    if size <= 2 * keep:
        into.write(fd_file.read().decode("utf-8", "replace"))
    else:
        into.write(fd_file.read(keep).decode("utf-8", "replace"))
        fd_file.seek(size - keep)
        into.write(fd_file.read(keep).decode("utf-8", "replace"))
        into.dropped += size - 2 * keep
    fd_file.seek(0)
    fd_file.truncate()


def _user_frames(tb: TracebackType | None) -> TracebackType | None:
    while tb is not None and not tb.tb_frame.f_code.co_filename.startswith("<cell-"):
        tb = tb.tb_next
    return tb


def _error(exc: BaseException, limit: int) -> dict[str, str]:
    try:
        name = str(type(exc).__name__)
    except BaseException:
        name = "Exception"
    try:
        message = str(exc)
        if not isinstance(message, str):  # a str subclass with tricks
            raise TypeError
        message = "".join(message)
    except BaseException:
        message = f"<exception {name} whose str() raised>"
    try:
        tb = _user_frames(exc.__traceback__)
        text = "".join(traceback.format_exception(type(exc), exc, tb))
    except BaseException:
        text = f"{name}: {message}\n"
    if len(text) > limit:
        half = limit // 2
        text = f"{text[:half]}\n… [{len(text) - 2 * half} characters cut] …\n{text[-half:]}"
    return {"name": name[:200], "message": message[:limit], "traceback": text}


class _Kernel:
    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
        self._count = 0
        self._child_out = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the kernel
        self._child_err = tempfile.TemporaryFile()  # noqa: SIM115
        os.dup2(self._child_out.fileno(), 1)
        os.dup2(self._child_err.fileno(), 2)
        self._idle = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the kernel
        sys.stdout = sys.stderr = self._idle

    def run(self, code: str) -> dict[str, Any]:
        self._count += 1
        filename = f"<cell-{self._count}>"
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        out, err = _Capture(self._limit), _Capture(self._limit)
        value: str | None = None
        error: dict[str, str] | None = None
        value_cut = 0
        sys.stdout, sys.stderr = out, err
        try:
            tree = ast.parse(code, filename, "exec")
            last = tree.body[-1] if tree.body else None
            if isinstance(last, ast.Expr):
                tree.body.pop()
            else:
                last = None
            exec(compile(tree, filename, "exec"), self._namespace)
            if last is not None:
                expr = ast.Expression(last.value)
                result = eval(compile(expr, filename, "eval"), self._namespace)
                if result is not None:
                    value = repr(result)
                    if len(value) > self._limit:
                        value_cut = len(value) - self._limit
                        value = f"{value[: self._limit]}… [{value_cut} characters cut]"
        except BaseException as exc:
            error = _error(exc, self._limit)
            del exc
        finally:
            sys.stdout = sys.stderr = self._idle
        _drain(self._child_out, out, self._limit)
        _drain(self._child_err, err, self._limit)
        stdout, out_cut = out.result()
        stderr, err_cut = err.result()
        return {
            "stdout": stdout,
            "stderr": stderr,
            "value": value,
            "error": error,
            "truncated_chars": out_cut + err_cut + value_cut,
        }


def _copy_seed(seed: str | None) -> None:
    """Copy the read-only seed folder into the work folder (the box's own tmpfs)."""
    if seed is None:
        return
    for entry in os.scandir(seed):  # entry by entry: "." itself is the box's, not ours
        if entry.is_dir(follow_symlinks=False):
            shutil.copytree(entry.path, entry.name, symlinks=True)
        elif entry.is_symlink():
            os.symlink(os.readlink(entry.path), entry.name)
        else:
            shutil.copy2(entry.path, entry.name)


def _exec_command(argv: list[str], site_dirs: list[str]) -> None:
    """Replace this process with ``argv`` (``python``/``pytest`` mean this interpreter)."""
    if argv[0] in ("python", "python3"):
        argv[0] = sys.executable
    elif argv[0] in ("pytest", "py.test"):
        argv[:1] = [sys.executable, "-m", "pytest"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(site_dirs), PYTHONDONTWRITEBYTECODE="1")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as exc:
        print(f"[sandbox] cannot run {argv[0]!r}: {exc}", flush=True)
        os._exit(127)


def _serve(config: dict[str, Any]) -> None:
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    for directory in config["site_dirs"]:
        site.addsitedir(directory)
    kernel = _Kernel(config["limits"]["max_output_chars"])
    replies.write(b'{"ready": true}\n')
    replies.flush()
    for line in requests:
        request = json.loads(line)
        reply = kernel.run(request["code"])
        reply["id"] = request["id"]
        replies.write(json.dumps(reply, ensure_ascii=False).encode("utf-8", "replace") + b"\n")
        replies.flush()


def main() -> None:
    config = json.loads(sys.argv[1])
    _set_limits(config["limits"])
    _copy_seed(config.get("seed"))
    if config["mode"] == "command":
        _exec_command(config["argv"], config["site_dirs"])
    else:
        _serve(config)


if __name__ == "__main__":
    main()
