"""Gunicorn (gthread) settings, for `make bench` to compare with `make serve`'s granian.

This is how the service was served before granian: 4 processes x 6 threads on 2 cores
(BENCH_SERVERS=gunicorn:4x6; WEB_CONCURRENCY and THREADS set the counts). It keeps the
production settings it had, so the comparison is with a real deployment of it.
"""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count()))
worker_class = "gthread"
threads = int(os.environ.get("THREADS", "6"))

# In-flight requests get this long to finish on SIGTERM (graceful shutdown). With gthread
# the timeout only catches a worker whose main loop stops, not one stuck request.
timeout = 30
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then, with jitter, to cap any slow memory growth.
# MAX_REQUESTS=0 turns this off (the benchmark does, so no restart lands in a measurement).
max_requests = int(os.environ.get("MAX_REQUESTS", "100000"))
max_requests_jitter = max_requests // 10

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
