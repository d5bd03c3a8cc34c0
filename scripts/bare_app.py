"""The benchmark's yardstick: a bare Flask app, no middleware, served like the service."""

from flask import Flask

app = Flask(__name__)


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
