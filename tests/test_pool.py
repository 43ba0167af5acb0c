"""The parsing pool: a memory cap per process, and a pool that replaces a dead process."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from tpr_ws.errors import ServerError, UploadRejected
from tpr_ws.pool import ParsePool


def _allocate(n_bytes: int) -> int:
    return len(bytearray(n_bytes))


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


async def test_a_file_that_needs_too_much_memory_is_refused_and_the_pool_keeps_working() -> None:
    pool = ParsePool(1, 1024**3)
    try:
        with pytest.raises(UploadRejected) as info:
            await pool.run(_allocate, 2 * 1024**3)
        assert info.value.code == "too_large"
        assert await pool.run(_allocate, 1024) == 1024
    finally:
        pool.shutdown()


async def test_a_dead_parser_process_is_replaced() -> None:
    pool = ParsePool(1, 0)
    try:
        with pytest.raises(ServerError):
            await pool.run(_die)
        assert await pool.run(_allocate, 10) == 10
    finally:
        pool.shutdown()


def test_pool_processes_die_with_their_worker(tmp_path) -> None:
    """A worker killed with SIGKILL cannot shut its pool down; its pool processes must go too."""
    import subprocess
    import sys
    import time

    script = tmp_path / "worker.py"
    script.write_text(
        "import asyncio, os, sys\n"
        "from tpr_ws.pool import ParsePool\n"
        "async def main():\n"
        "    pool = ParsePool(1, 0)\n"
        "    pid = await pool.run(os.getpid)\n"
        "    print(pid, flush=True)\n"
        "    await asyncio.sleep(60)\n"
        "if __name__ == '__main__':\n"
        "    asyncio.run(main())\n"
    )
    worker = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert worker.stdout is not None
    child = int(worker.stdout.readline())
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    worker.stdout.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(child, signal.SIGKILL)
    raise AssertionError("the pool process outlived its worker")


def _sleep(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


async def test_a_call_past_the_time_limit_is_refused_and_only_its_process_replaced() -> None:
    pool = ParsePool(2, 0, timeout_s=1.0)
    try:
        before = set(pool.pids)
        slow = asyncio.create_task(pool.run(_sleep, 3600))
        quick = await pool.run(_sleep, 0)  # the other process keeps serving meanwhile
        with pytest.raises(UploadRejected) as info:
            await slow
        assert info.value.code == "parse_timeout"
        assert "longer than" in info.value.problems[0]
        after = set(pool.pids)
        assert quick in before & after  # untouched
        (killed,) = before - after
        deadline = time.monotonic() + 30
        while _alive(killed):
            assert time.monotonic() < deadline, "the timed-out process still runs"
            await asyncio.sleep(0.05)
        assert await pool.run(_allocate, 10) == 10  # its replacement works
    finally:
        pool.shutdown()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is dead too
        return f.read().split(")")[-1].split()[0] != "Z"
