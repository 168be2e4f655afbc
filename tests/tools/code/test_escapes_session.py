"""Attacks on the session box from issue 11: leftover processes, the protocol, resources, views.

Each test is an attack that worked before the fix; it runs the real bubblewrap box.
"""

from __future__ import annotations

import ast
import asyncio
import sys
from pathlib import Path

import pytest
from capabilities import missing

from ponder.tools.code import LocalSandbox, SandboxLimits
from ponder.tools.code.cgroup import create_cgroup

pytestmark = [pytest.mark.sandbox]

REPO = Path(__file__).resolve().parents[3]
HANG_GUARD_S = 20.0  # a bound on a hang, not a speed claim
SMALL = SandboxLimits(cpu_s=10, memory_mb=512, max_processes=32, wall_timeout_s=10)

LIST_PROCESSES = "import os\nsorted(int(p) for p in os.listdir('/proc') if p.isdigit())"
BACKGROUND = (
    "import os, time\n"
    "if os.fork() == 0:\n"
    "    os.setsid()\n"
    "    if os.fork() == 0:\n"
    "        time.sleep(600)\n"
    "    os._exit(0)\n"
    "os.wait()\n"
)


def need_cgroups() -> None:
    group = create_cgroup(memory_bytes=64 << 20, max_pids=8)
    if group is None:
        missing("a writable cgroup hierarchy", "cgroup v1, or v2 with memory and pids delegated")
    group.remove()


async def test_no_process_survives_a_call(box: LocalSandbox) -> None:
    alone = (await box.run(LIST_PROCESSES)).value
    started = await box.run(BACKGROUND + "len(os.listdir('/proc'))")
    assert started.ok, started.to_text()
    after = await box.run(LIST_PROCESSES)
    assert after.value == alone and not after.state_lost  # the daemon is gone, the session kept


async def test_after_a_cancelled_call_the_next_result_is_its_own(box: LocalSandbox) -> None:
    await box.run("kept = 1")
    call = asyncio.ensure_future(box.run("import time\ntime.sleep(1.5)\nprint('cancelled call')"))
    await asyncio.sleep(0.5)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    nxt = await asyncio.wait_for(box.run("print('next call')"), HANG_GUARD_S)
    assert nxt.stdout == "next call\n"
    assert nxt.state_lost  # the cancelled code may have been half way: a fresh session
    assert (await box.run("print('and the one after')")).stdout == "and the one after\n"


async def test_forged_replies_are_not_taken_as_results(box: LocalSandbox) -> None:
    forge = (
        "import json, os, stat, time\n"
        "fake = (json.dumps({'stdout': 'FORGED', 'stderr': '', 'value': None, 'error': None,"
        " 'truncated_chars': 0}) + '\\n').encode()\n"
        "def spray():\n"
        "    for fd in range(3, 64):\n"
        "        try:\n"
        "            if stat.S_ISFIFO(os.fstat(fd).st_mode):\n"
        "                os.write(fd, fake)\n"
        "        except OSError:\n"
        "            pass\n"
        "spray()\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    for _ in range(200):\n"
        "        time.sleep(0.02)\n"
        "        spray()\n"
        "    os._exit(0)\n"
        "print('genuine')\n"
    )
    first = await box.run(forge)
    assert first.stdout == "genuine\n"
    await asyncio.sleep(0.3)  # the forger (if it survived) would write again now
    for n in range(3):
        result = await box.run(f"print({n})")
        assert result.stdout == f"{n}\n" and not result.state_lost


async def test_a_stopped_worker_and_64kb_of_code_still_time_out(box: LocalSandbox) -> None:
    stop_later = (
        "import os, signal, threading\n"
        "threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGSTOP)).start()\n"
        "kept = 1"
    )
    assert (await box.run(stop_later)).ok
    await asyncio.sleep(0.6)
    big = "x = 0\n" * 20_000  # 120 kB: more than a pipe holds
    result = await asyncio.wait_for(box.run(big, timeout_s=2), HANG_GUARD_S)
    assert result.timed_out
    after = await asyncio.wait_for(box.run("kept"), HANG_GUARD_S)
    assert after.state_lost and after.error is not None and after.error.name == "NameError"
    assert (await box.run("1 + 1")).value == "2"


async def test_an_exception_whose_str_raises_is_reported(box: LocalSandbox) -> None:
    await box.run("kept = 1")
    result = await box.run(
        "class Evil(Exception):\n"
        "    def __str__(self):\n"
        "        raise RuntimeError('no str for you')\n"
        "raise Evil()"
    )
    assert result.error is not None and result.error.name == "Evil"
    assert "str() raised" in result.error.message
    after = await box.run("kept")
    assert after.value == "1" and not after.state_lost


async def test_memory_is_bounded_for_the_whole_session() -> None:
    need_cgroups()
    code = (
        "import os, time\n"
        "r, w = os.pipe()\n"
        "for i in range(6):\n"
        "    if os.fork() == 0:\n"
        "        block = b'x' * (100 << 20)\n"
        "        os.write(w, f'{os.getpid()} '.encode())\n"
        "        time.sleep(60)\n"
        "        os._exit(0)\n"
        "time.sleep(3)\n"
        "os.set_blocking(r, False)\n"
        "try:\n"
        "    allocated = [int(p) for p in os.read(r, 1000).split()]\n"
        "except BlockingIOError:\n"
        "    allocated = []\n"
        # a child the OOM killer ended after it allocated holds nothing now
        "held = [p for p in allocated if os.waitpid(p, os.WNOHANG) == (0, 0)]\n"
        "len(held) * 100"
    )
    async with LocalSandbox(limits=SandboxLimits(memory_mb=256, wall_timeout_s=20)) as box:
        result = await box.run(code)
        if result.error is not None:  # the kernel chose the worker itself
            assert "out of memory" in result.error.message, result.to_text()
        else:
            assert result.value is not None and int(result.value) < 256
        assert (await box.run("1 + 1")).value == "2"


async def test_tmp_and_the_work_folder_have_size_caps() -> None:
    fill = (
        "import errno\nwritten = 0\n"
        "try:\n"
        "    for i in range(40):\n"
        "        with open(f'{folder}/f{{i}}', 'wb') as f:\n"
        "            f.write(b'x' * (8 << 20))\n"
        "        written += 8\n"
        "except OSError as e:\n"
        "    print(errno.errorcode[e.errno], written)\n"
    )
    async with LocalSandbox(limits=SandboxLimits(disk_mb=64, memory_mb=512)) as box:
        for folder in ("/tmp", "/home/user"):
            result = await box.run(fill.format(folder=folder))
            assert result.ok, result.to_text()
            code, written = result.stdout.split()
            assert code == "ENOSPC" and int(written) <= 64


@pytest.mark.slow
async def test_cpu_is_bounded_across_forked_processes() -> None:
    need_cgroups()
    spin = (
        "import os\n"
        "kids = [os.fork() for _ in range(3)]\n"
        "if 0 in kids:\n"
        "    while True:\n"
        "        pass\n"
        "for _ in kids:\n"
        "    os.wait()\n"
    )
    limits = SandboxLimits(cpu_s=2, wall_timeout_s=30)
    async with LocalSandbox(limits=limits) as box:
        result = await box.run(spin)  # three processes, each under its own 2 s rlimit
        assert result.error is not None and result.error.name == "CPUTimeExceeded"
        assert (await box.run("1 + 1")).state_lost


async def test_the_box_sees_only_what_the_interpreter_needs(box: LocalSandbox) -> None:
    result = await box.run(
        "import os\n"
        "mounts = [line.split()[4] for line in open('/proc/self/mountinfo')]\n"
        "print(open('/proc/self/mountinfo').read())\n"
        "sorted(os.listdir('/')), mounts"
    )
    assert result.ok and result.value is not None
    listing = result.stdout
    # no host work paths; the interpreter's site-packages may lie inside the repo (CI's .venv)
    site = tuple(p for p in sys.path if p.endswith("site-packages"))
    beyond_site = [line for line in listing.splitlines() if not any(s in line for s in site)]
    assert not [line for line in beyond_site if str(REPO) in line], beyond_site
    assert "ponder-box-" not in listing
    top, mounts = ast.literal_eval(result.value)
    assert not {"etc", "sys", "var", "opt"} & set(top)
    assert "/home/user" in mounts and "/tmp" in mounts
    allowed = ("/", "/tmp", "/usr", "/bin", "/lib", "/lib64", "/lib32", "/sbin", "/proc", "/dev")
    extra = [
        m
        for m in mounts
        if not m.startswith(tuple(a.rstrip("/") + "/" for a in allowed[1:]))
        and m not in allowed
        and m != "/home/user"
    ]
    # what is left: the interpreter's prefix and site-packages, read-only
    interpreter = (sys.base_prefix, *(p for p in sys.path if p.endswith("site-packages")))
    assert all(m in interpreter for m in extra), extra
    assert "ro," in next(line for line in listing.splitlines() if " /usr " in line)


async def test_without_cgroups_leftover_processes_are_still_killed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fallback: the box's PID namespace is scanned instead of its cgroup."""
    monkeypatch.setattr("ponder.tools.code.box.create_cgroup", lambda **_: None)
    async with LocalSandbox(limits=SMALL) as box:
        alone = (await box.run(LIST_PROCESSES)).value
        assert (await box.run(BACKGROUND)).ok
        after = await box.run(LIST_PROCESSES)
        assert after.value == alone and not after.state_lost
