"""dzqa: cited, offline answers from the 2021 Dezhou government work report.

The front door is :class:`dzqa.engine.Engine` (``Engine.open()``, ``.search()``, ``.ask()``); it is not
imported here so that ``import dzqa`` and ``dzqa --help`` stay instant.
"""

__version__ = "0.1.0"
