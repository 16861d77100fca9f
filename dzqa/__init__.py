"""dzqa: cited, offline answers from the 2021 Dezhou government work report.

The front door is :class:`dzqa.engine.Engine` (``Engine.open()``, ``.search()``, ``.ask()``); it is not
imported here so that ``import dzqa`` and ``dzqa --help`` stay instant.
"""

from . import offline

__version__ = "0.1.0"

# Nothing is downloaded or reported at run time (a model named with DZQA_EMBED_MODEL must already be in the
# local cache): every entry point imports this package first, before onnxruntime, Gradio or the HF libraries.
offline.apply()
