"""The web app: citizens' chat, embed, hotline desk, report reader and JSON API (``dzqa.web.server``).

Nothing heavy is imported here; ``dzqa.web.server`` imports FastAPI and Gradio when the server starts.
"""

import atexit
import os
import shutil
import tempfile


def _private_temp() -> str:
    """Gradio's file cache, private to this process: a fresh folder only our user can enter (mkdtemp
    makes it 0700), never a shared or predictable one that another process, a restart or an inherited
    GRADIO_TEMP_DIR would share. No page takes uploads and exports never touch it; it is removed at exit
    (:func:`remove_temp`, also called on SIGTERM by ``dzqa serve``)."""
    path = tempfile.mkdtemp(prefix=f"dzqa-gradio-{os.getpid()}-")
    atexit.register(remove_temp)
    return path


def remove_temp() -> None:
    """Remove this process's Gradio temp folder (idempotent)."""
    shutil.rmtree(TEMP_DIR, ignore_errors=True)


# set before any of this package's modules imports gradio, which reads it for every cached file
TEMP_DIR = _private_temp()
os.environ["GRADIO_TEMP_DIR"] = TEMP_DIR
