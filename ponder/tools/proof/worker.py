"""Run CPU-bound checks in child processes that can be killed.

sympy's ``simplify`` or ``solve`` can run for minutes, and a Python thread
cannot be stopped. Each job therefore runs in a long-lived child Python
process and the parent waits at most ``timeout_s``; a child
that overruns is killed and replaced on next use. Children are started lazily,
kept warm, and capped at ``max_workers`` concurrent jobs; their start-up
(imports) is not charged to a job's timeout. A caller that is cancelled (or
whose own timeout fires) stops its job: a job still waiting for a slot never
starts, a running one has its process killed.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

__all__ = ["JobFailed", "JobTimeout", "ProcessPool", "default_pool"]

_START_TIMEOUT_S = 60.0
_SLOT_POLL_S = 0.05
_ROOT = str(Path(__file__).resolve().parents[3])


class JobTimeout(TimeoutError):
    """The job did not finish within its time limit; its process was killed."""


class JobFailed(RuntimeError):
    """The job raised, or its process died; the message names the cause."""


def _child_main(read_fd: int, write_fd: int, preload: list[str]) -> None:
    inbox, outbox = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    for module in preload:
        importlib.import_module(module)
    outbox.send("ready")
    while True:
        try:
            fn, arg = inbox.recv()
        except EOFError:
            return
        try:
            result = ("ok", fn(arg))
        except Exception as exc:
            result = ("error", f"{type(exc).__name__}: {exc}")
        outbox.send(result)


class _Job:
    """One caller's job, as the worker thread and the cancelling caller both see it."""

    def __init__(self) -> None:
        self.cancelled = threading.Event()
        self.child: _Child | None = None
        self.lock = threading.Lock()

    def start(self, child: _Child) -> bool:
        """Record the child running the job; False (nothing recorded) if cancelled."""
        with self.lock:
            if self.cancelled.is_set():
                return False
            self.child = child
            return True

    def cancel(self) -> None:
        """Stop the job: it will not start, or its process is killed now."""
        with self.lock:
            self.cancelled.set()
            child, self.child = self.child, None
        if child is not None:
            child.process.kill()  # the worker thread sees EOF and cleans up


class _Child:
    """One ``python -m ponder.tools.proof.worker`` process, talking over two pipes.

    A plain subprocess rather than ``multiprocessing``: spawn/forkserver would
    re-import the caller's ``__main__``, and fork is unsafe in a threaded host.
    """

    def __init__(self, preload: tuple[str, ...]) -> None:
        job_read, job_write = os.pipe()
        result_read, result_write = os.pipe()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_ROOT, env.get("PYTHONPATH")]))
        command = [sys.executable, "-m", __name__, str(job_read), str(result_write), *preload]
        self.process = subprocess.Popen(
            command,
            pass_fds=(job_read, result_write),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        os.close(job_read)
        os.close(result_write)
        self._jobs = Connection(job_write, readable=False)
        self._results = Connection(result_read, writable=False)
        try:
            ready = self._results.poll(_START_TIMEOUT_S) and self._results.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            self.kill()
            raise JobFailed("proof worker process did not start")

    def alive(self) -> bool:
        return self.process.poll() is None

    def call(self, fn: Callable[[Any], Any], arg: Any, timeout_s: float) -> Any:
        try:
            self._jobs.send((fn, arg))
            finished = self._results.poll(timeout_s)
            reply = self._results.recv() if finished else None
        except (EOFError, OSError) as exc:
            self.kill()
            raise JobFailed(f"worker process died ({exc or type(exc).__name__})") from None
        if reply is None:
            self.kill()
            raise JobTimeout(f"no result within {timeout_s:g} s")
        tag, value = reply
        if tag == "error":
            raise JobFailed(value)
        return value

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(5)
        self._jobs.close()
        self._results.close()


class ProcessPool:
    """Killable child processes for jobs ``fn(arg)`` (``fn`` must be importable by name)."""

    def __init__(self, *, max_workers: int = 2, preload: tuple[str, ...] = ()) -> None:
        self._preload = preload
        self._slots = threading.BoundedSemaphore(max_workers)
        self._lock = threading.Lock()
        self._idle: list[_Child] = []

    async def run(self, fn: Callable[[Any], Any], arg: Any, *, timeout_s: float) -> Any:
        """Run ``fn(arg)`` in a child; raise :class:`JobTimeout` or :class:`JobFailed`."""
        job = _Job()
        try:
            return await asyncio.to_thread(self._run_blocking, job, fn, arg, timeout_s)
        except asyncio.CancelledError:
            job.cancel()
            raise

    def _run_blocking(self, job: _Job, fn: Callable[[Any], Any], arg: Any, timeout_s: float) -> Any:
        while not self._slots.acquire(timeout=_SLOT_POLL_S):
            if job.cancelled.is_set():
                raise JobFailed("cancelled before it started")
        try:
            if job.cancelled.is_set():
                raise JobFailed("cancelled before it started")
            with self._lock:
                child = self._idle.pop() if self._idle else None
            if child is not None and not child.alive():
                child.kill()
                child = None
            if child is None:
                child = _Child(self._preload)
            if not job.start(child):
                self._release(child)
                raise JobFailed("cancelled before it started")
            try:
                result = child.call(fn, arg, timeout_s)
            except JobFailed:
                if child.alive() and not job.cancelled.is_set():
                    self._release(child)
                else:
                    child.kill()
                raise
            self._release(child)
            return result
        finally:
            self._slots.release()

    def _release(self, child: _Child) -> None:
        with self._lock:
            self._idle.append(child)

    def close(self) -> None:
        """Stop the idle children (running jobs finish or time out on their own)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for child in idle:
            child.kill()


_default: ProcessPool | None = None
_default_lock = threading.Lock()


def default_pool() -> ProcessPool:
    """The shared pool the checker uses, created on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = ProcessPool(preload=("ponder.tools.proof.checker",))
        return _default


if __name__ == "__main__":
    _child_main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:])
