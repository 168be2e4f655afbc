"""Untrusted code stays in its box (DESIGN invariant 4): each escape is contained and reported."""

from __future__ import annotations

import asyncio
import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ponder.tools.code import LocalSandbox

pytestmark = [
    pytest.mark.sandbox,
]

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def host_server() -> Iterator[tuple[str, list[str]]]:
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"secret")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", hits
    finally:
        server.shutdown()
        server.server_close()


def _existing(paths: list[str]) -> list[str]:
    return [p for p in paths if Path(p).exists()]


def _box_processes(uid: int) -> list[int]:
    """Host pids running as ``uid`` (the box's uid when the host is root)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            uids = next(line for line in status.splitlines() if line.startswith("Uid:"))
            if int(uids.split()[1]) == uid:
                pids.append(int(entry.name))
    return pids


async def test_host_loopback_server_is_unreachable(
    box: LocalSandbox, host_server: tuple[str, list[str]]
) -> None:
    url, hits = host_server
    result = await box.run(f"import urllib.request\nurllib.request.urlopen({url!r}, timeout=3)")
    assert result.error is not None
    assert result.error.name == "URLError"
    assert "Connection refused" in result.error.message or "unreachable" in result.error.message
    assert hits == []


async def test_external_dns_fails(box: LocalSandbox) -> None:
    result = await box.run("import socket\nsocket.getaddrinfo('pypi.org', 443)")
    assert result.error is not None and result.error.name == "gaierror"


async def test_writes_outside_the_work_folder_fail(box: LocalSandbox) -> None:
    targets = ["/etc/ponder-escape", str(REPO / "ponder-escape"), "/root/ponder-escape"]
    targets.append(str(Path.home() / "ponder-escape"))
    code = (
        f"for p in {targets!r}:\n"
        "    try:\n"
        "        open(p, 'w').write('x')\n"
        "        print('WROTE', p)\n"
        "    except OSError as e:\n"
        "        print('blocked', p, type(e).__name__)\n"
    )
    result = await box.run(code)
    assert "WROTE" not in result.stdout
    assert result.stdout.count("blocked") == len(targets)
    assert _existing(targets) == []


async def test_parent_environment_is_not_visible(monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {
        "OPENAI_API_KEY": "sk-canary-openai",
        "E2B_API_KEY": "e2b_canary",
        "AWS_SECRET_ACCESS_KEY": "aws-canary",
        "GITHUB_TOKEN": "ghp_canary",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    sandbox = LocalSandbox()
    try:
        result = await sandbox.run(
            "import os\nprint(sorted(os.environ))\n"
            "print(open('/proc/self/environ').read())\n"
            "try:\n    print(open('/proc/1/environ').read())\n"
            "except OSError as e:\n    print('init env:', type(e).__name__)"
        )
    finally:
        await sandbox.aclose()
    assert result.error is None, result.to_text()
    assert "['HOME', 'LANG', 'PATH'" in result.stdout
    for name, value in secrets.items():
        assert name not in result.stdout and value not in result.stdout


async def test_fork_bomb_is_bounded_and_killed(box: LocalSandbox) -> None:
    uid = int((await box.run("import os\nos.getuid()")).value or "0")
    counted = await box.run(
        "import os, time\nn = 0\n"
        "try:\n"
        "    while n < 1000:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(60)\n"
        "            os._exit(0)\n"
        "        n += 1\n"
        "except OSError as e:\n"
        "    print('fork refused after', n, type(e).__name__)\n"
    )
    assert "fork refused after" in counted.stdout
    assert int(counted.stdout.split()[3]) < 32
    bomb = await box.run(
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
        timeout_s=2,
    )
    assert bomb.timed_out
    assert await (await asyncio.create_subprocess_exec("true")).wait() == 0  # host still forks
    if os.geteuid() == 0:
        assert _box_processes(uid) == []  # the whole box is gone
    after = await box.run("n")
    assert after.state_lost and after.error is not None and after.error.name == "NameError"


async def test_allocating_10_gb_fails_and_is_reported(box: LocalSandbox) -> None:
    result = await box.run("x = 1\nblob = bytearray(10 * 1024**3)")
    assert result.error is not None and result.error.name == "MemoryError"
    survivor = await box.run("x")
    assert survivor.value == "1" and not survivor.state_lost


async def test_printing_100_mb_is_capped(box: LocalSandbox) -> None:
    result = await box.run("print('x' * 100_000_000)")
    assert result.error is None
    assert len(result.stdout) < 21_000
    assert result.truncated_chars == 100_000_001 - 20_000
    assert f"[{result.truncated_chars} characters cut]" in result.stdout
    assert "characters were cut" in result.to_text()


async def test_child_process_output_is_captured_and_capped(box: LocalSandbox) -> None:
    result = await box.run(
        "import subprocess\n"
        "subprocess.run(['sh', '-c', 'head -c 3000000 /dev/zero | tr \"\\\\0\" y'])\n"
        "subprocess.run(['echo', 'done'])\nNone"
    )
    assert result.stdout.startswith("yyy") and result.stdout.rstrip().endswith("done")
    assert result.truncated_chars > 2_900_000


async def test_sleeping_forever_hits_the_wall_timeout(box: LocalSandbox) -> None:
    await box.run("kept = 1")
    result = await box.run("import time\ntime.sleep(10**6)", timeout_s=1)
    assert result.timed_out and 1 <= result.duration_s < 5
    assert "Timed out" in result.to_text()
    after = await box.run("kept")
    assert after.state_lost and after.error is not None and after.error.name == "NameError"
    assert "restarted" in after.to_text()


async def test_cpu_spin_hits_the_cpu_limit() -> None:
    from ponder.tools.code import SandboxLimits

    sandbox = LocalSandbox(limits=SandboxLimits(cpu_s=1, wall_timeout_s=20))
    try:
        result = await sandbox.run("while True:\n    pass")
        assert not result.timed_out and result.duration_s < 10
        assert result.error is not None and "SIGXCPU" in result.error.message
        assert (await sandbox.run("1 + 1")).state_lost
    finally:
        await sandbox.aclose()
