"""Deployment: replicas sharing one index folder never build under each other's feet."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from dzqa.atomic import file_lock

HOLD = """
import sys, time
from pathlib import Path
from dzqa.atomic import file_lock
with file_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_build_lock_holds_across_processes(tmp_path: Path) -> None:
    """A second process waits for the index build lock another process holds (fcntl, not a thread lock)."""
    lock = tmp_path / "index" / ".lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock), "1.5"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        start = time.monotonic()
        with file_lock(lock):
            waited = time.monotonic() - start
        assert waited >= 1.0, f"got the lock after {waited:.2f} s while another process held it"
    finally:
        holder.wait(timeout=10)
