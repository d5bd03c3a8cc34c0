"""Gunicorn settings for `make serve` (production serving).

Worker model: gthread, two processes per core with 6 threads each (WEB_CONCURRENCY and
THREADS override). Measured with `make bench` on 2 cores:
- Threads overlap database waits. A sign-in waiting for its Argon2 hash (which runs
  outside the GIL, in a low-priority thread: see shopapi.security) holds a thread, so
  there must be threads to spare: with 1-2 threads a burst of sign-ins took them all and
  read p99 rose 10-20x, with 4 it rose 25-30x (also with 6 processes x 4 threads), with
  5 it rose 7.5x; with 6 it stayed within 1.3x.
- Fewer threads would serve quiet reads faster: with one-round-trip reads, 4 threads gave
  one product 0.50x the floor against 0.44x with 6. The sign-in isolation wins.
- More threads per process make the readers fight over the GIL: 8 threads x 2 processes
  served reads 15-25% slower than 4-6 threads x 4 processes.
"""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count()))
worker_class = "gthread"
threads = int(os.environ.get("THREADS", "6"))

# A request that runs longer than this is killed; in-flight requests get this long to
# finish on SIGTERM (graceful shutdown) before workers are stopped.
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
