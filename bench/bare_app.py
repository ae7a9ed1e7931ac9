"""The baseline for HTTP benchmarks: a bare Flask app with one small HTML page.

Served by the same gunicorn settings as the real app, it measures what the server, Flask and the
load generator cost on this machine, so a benchmark can report the real page as a ratio of it.
"""

from flask import Flask, request

app = Flask(__name__)

PAGE = (
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Bare</title></head>"
    "<body><h1>Bare Flask</h1><p>The baseline page.</p></body></html>"
)


@app.get("/")
def index() -> str:
    return PAGE


@app.post("/hooks/stripe")
def webhook() -> dict:
    """The webhook benchmark's baseline: read the body, answer 200 (bench/webhooks.py)."""
    request.get_data()
    return {"received": True}
