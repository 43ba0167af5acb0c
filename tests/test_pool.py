"""The parsing pool: a memory cap per process, and a pool that replaces a dead process."""

from __future__ import annotations

import os
import signal

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
