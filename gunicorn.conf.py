"""Gunicorn settings for `make serve` (production serving).

Worker model: gthread, one process per core with 8 threads each. Requests spend their
time either waiting on the database (threads overlap that) or in Argon2 hashing, which
argon2-cffi runs outside the GIL, so a burst of sign-ins cannot starve the readers of
a process, and processes use both cores. WEB_CONCURRENCY and THREADS override.
"""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_class = "gthread"
threads = int(os.environ.get("THREADS", "8"))

# A request that runs longer than this is killed; in-flight requests get this long to
# finish on SIGTERM (graceful shutdown) before workers are stopped.
timeout = 30
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then, with jitter, to cap any slow memory growth.
max_requests = 20000
max_requests_jitter = 2000

# Gunicorn's control socket (for `gunicornc`) defaults to one fixed path per user
# (~/.gunicorn/gunicorn.ctl): a second instance on the same machine takes it over, and
# stopping either one deletes it, so `gunicornc` would steer the wrong instance or none.
# It is off unless GUNICORN_CONTROL_SOCKET names a path of this instance's own.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True

# The app logs every request as JSON (without query strings); gunicorn's access log would
# print query strings, so it stays off.
accesslog = None
errorlog = "-"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "shopapi.logs.JsonFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"level": "INFO", "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        "werkzeug": {"level": "WARNING"},
    },
}
