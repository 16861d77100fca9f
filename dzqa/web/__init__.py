"""The web app: citizens' chat, embed, hotline desk, report reader and JSON API (``dzqa.web.server``).

Nothing heavy is imported here; ``dzqa.web.server`` imports FastAPI and Gradio when the server starts.
"""

import os
import tempfile

#: set before Gradio is first imported: no telemetry or version checks (the server has no internet)
GRADIO_ENV = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "GRADIO_RUN_HISTORY": "False",
    "GRADIO_SSR_MODE": "False",
}


def _private_temp() -> str:
    """Gradio's file cache (it holds desk exports with citizens' questions): a folder only we can enter."""
    path = os.path.join(tempfile.gettempdir(), f"dzqa-gradio-{os.getuid()}")
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    return path


for _key, _value in GRADIO_ENV.items():  # this package is imported before any of its modules imports gradio
    os.environ.setdefault(_key, _value)
if "GRADIO_TEMP_DIR" not in os.environ:
    os.environ["GRADIO_TEMP_DIR"] = _private_temp()
