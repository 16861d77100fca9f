"""``python app.py`` starts the same server as ``dzqa serve`` and ``make run`` (http://127.0.0.1:7860)."""

from dzqa.web.server import serve

if __name__ == "__main__":
    serve()
