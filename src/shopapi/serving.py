"""Development serving with Werkzeug; requests are logged by the app (see `shopapi.logs`)."""

from __future__ import annotations

from werkzeug.serving import WSGIRequestHandler


class QuietRequestHandler(WSGIRequestHandler):
    """No request line of Werkzeug's own: it would print query strings, where a token
    pasted by mistake would land. The app logs method, path, status and duration."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return
