"""Development serving with Werkzeug, with an access log that never prints query strings."""

from __future__ import annotations

import logging

from werkzeug.serving import WSGIRequestHandler

log = logging.getLogger("shopapi.access")


class QuietRequestHandler(WSGIRequestHandler):
    """Logs method, path and status only: a token pasted into a query string stays out."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = self.path.split("?", 1)[0]
        log.info('%s "%s %s" %s', self.address_string(), self.command, path, code)
