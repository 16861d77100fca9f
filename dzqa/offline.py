"""Nothing phones home: every telemetry, analytics and update check switched off, in one place.

:func:`apply` runs when the ``dzqa`` package is imported (``dzqa/__init__.py``), so every entry point —
``dzqa …``, ``python -m dzqa``, ``python app.py``, the tests — passes through it before any module
imports onnxruntime, Gradio, huggingface_hub or transformers. Those libraries read these variables
once, at import or at initialisation, so setting them later would be too late.

The values are forced, not defaults: an offline government server must not start sending usage data
because someone's shell exported ``GRADIO_ANALYTICS_ENABLED=True``. ``tests/test_offline.py`` traces
``connect()`` of a real ``dzqa serve`` to prove it.
"""

from __future__ import annotations

import os
from typing import Any

#: what each library reads
OFFLINE_ENV: dict[str, str] = {
    # onnxruntime ≥ 1.2x on Linux sends 1DS events to mobile.events.data.microsoft.com every 30–45 s;
    # this stops the uploader, the events and the persistent device id before the runtime initialises
    "ORT_DISABLE_TELEMETRY": "1",
    # Hugging Face: no downloads, no telemetry, no implicit token (models come from the local cache)
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "DISABLE_TELEMETRY": "1",  # older transformers / diffusers spelling
    # Gradio: no analytics or version check (api.gradio.app), no run history, no Node SSR server
    "GRADIO_ANALYTICS_ENABLED": "False",
    "GRADIO_RUN_HISTORY": "False",
    "GRADIO_SSR_MODE": "False",
    # the cross-tool convention (https://consoledonottrack.com), honoured by several libraries
    "DO_NOT_TRACK": "1",
}


def apply() -> None:
    """Set :data:`OFFLINE_ENV` in this process (and so in every process it starts)."""
    os.environ.update(OFFLINE_ENV)


def onnxruntime() -> Any:
    """``import onnxruntime`` with its telemetry off: the environment variable (set by :func:`apply`)
    stops 1DS entirely; the API call also silences the non-essential events of builds that ignore it."""
    apply()
    import onnxruntime as ort

    ort.disable_telemetry_events()
    return ort
