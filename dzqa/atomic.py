"""Folders that appear whole or not at all (the model cache, the ONNX export, the index), made by one
process at a time."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_folder(target: Path, prefix: str = ".tmp-") -> Iterator[Path]:
    """Yield a temporary folder beside ``target`` to fill; when the block ends without an error it takes
    ``target``'s place (a folder already there is moved aside, then removed), otherwise it is removed.

    Readers see the old folder or the complete new one, never a half-written one, whatever crashes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
    try:
        yield tmp
        trash = None
        if target.exists():
            trash = target.with_name(f".trash-{target.name}-{os.getpid()}")
            os.replace(target, trash)
        os.replace(tmp, target)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if needed): server workers that start together build a
    model, an export or an index once; the others wait, then find it made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
