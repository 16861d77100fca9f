"""The web app: citizens' chat, embed, hotline desk, report reader and JSON API (``dzqa.web.server``).

Nothing heavy is imported here; ``dzqa.web.server`` imports FastAPI and Gradio when the server starts.
"""

import os

#: set before Gradio is first imported: no telemetry or version checks (the server has no internet)
GRADIO_ENV = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "GRADIO_RUN_HISTORY": "False",
    "GRADIO_SSR_MODE": "False",
}

for _key, _value in GRADIO_ENV.items():  # this package is imported before any of its modules imports gradio
    os.environ.setdefault(_key, _value)
