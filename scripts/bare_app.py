"""The benchmark's yardstick: a bare Flask app, no middleware, served like the service."""

from flask import Flask

from shopapi.config import Settings
from shopapi.serving import body_first

app = Flask(__name__)
rsgi = body_first(app, Settings.read())  # what granian serves, as for the service


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
