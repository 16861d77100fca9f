"""dzqa: cited, offline answers from the 2021 Dezhou government work report.

The front door is :class:`dzqa.engine.Engine` (``Engine.open()``, ``.search()``, ``.ask()``); it is not
imported here so that ``import dzqa`` and ``dzqa --help`` stay instant.
"""

import os

__version__ = "0.1.0"

# Nothing is downloaded at run time: a model named with DZQA_EMBED_MODEL must already be in the local cache.
# Set before anything imports huggingface_hub (Gradio does), which reads it once.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
