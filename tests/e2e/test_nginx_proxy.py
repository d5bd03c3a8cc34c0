"""deploy/nginx.conf in front of the production server: nginx takes slow bodies, the service
never sees them. Skipped without nginx (`apt-get install nginx-light`), unless
REQUIRE_NGINX=1."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from support import (
    ROOT,
    HttpAuth,
    LiveServer,
    free_port,
    loopback_address,
    server_env,
    start_production,
    stop_production,
)

from shopapi.config import Settings

pytestmark = pytest.mark.e2e
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


@pytest.fixture
def proxied(
    settings: Settings, secrets_env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[str, LiveServer]]:
    """The service (TRUSTED_PROXIES=1) behind nginx with deploy/nginx.conf; nginx's URL."""
    if NGINX is None:
        if os.environ.get("REQUIRE_NGINX") == "1":
            pytest.fail("nginx is not installed (apt-get install nginx-light)")
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    env = server_env(settings, secrets_env, TRUSTED_PROXIES="1")
    server = start_production(env, tmp_path / "server.log", workers=2)
    port = free_port()
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    site = re.sub(r"server 127\.0\.0\.1:8001;\n\s*server 127\.0\.0\.1:8002;", "", site)
    site = site.replace(
        "keepalive 32;", f"server {server.url.removeprefix('http://')};\n keepalive 32;"
    )
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/nginx-error.log;\n"
        "events {}\nhttp {\n access_log off;\n"
        f" client_body_temp_path {tmp_path}/body;\n proxy_temp_path {tmp_path}/proxy;\n"
        f" include {tmp_path}/site.conf;\n}}\n"
    )
    nginx = subprocess.Popen(
        [NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"],
        stderr=subprocess.DEVNULL,  # its errors go to nginx-error.log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert nginx.poll() is None and time.monotonic() < deadline, (
                tmp_path / "nginx-error.log"
            ).read_text()
            time.sleep(0.1)
        yield url, server
    finally:
        nginx.terminate()
        nginx.wait(timeout=20)
        stop_production(server)


def test_a_signed_in_read_goes_through_nginx(proxied: tuple[str, LiveServer]) -> None:
    url, _ = proxied
    _, token = HttpAuth(url, loopback_address()).sign_in()
    r = requests.get(
        f"{url}/api/products", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert r.status_code == 200, r.text


def test_a_stalled_body_stays_at_nginx_and_never_reaches_the_service(
    proxied: tuple[str, LiveServer],
) -> None:
    url, server = proxied
    marker = uuid.uuid4().hex[:12]
    port = int(url.rsplit(":", 1)[1])
    head = (
        f"POST /auth/login HTTP/1.1\r\nHost: localhost\r\nX-Request-ID: {marker}\r\n"
        "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n"
    ).encode()
    slow = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(64)]
    try:
        for conn in slow:
            conn.sendall(head + b'{"username"')
        # While 64 bodies wait at nginx, the service answers as usual.
        for _ in range(5):
            assert requests.get(f"{url}/healthz", timeout=5).status_code == 200
        # nginx gives up on the body after 10 s and closes the connection (it logs a 408
        # but sends nothing).
        assert slow[0].recv(4096) == b""
    finally:
        for conn in slow:
            conn.close()
    time.sleep(0.2)  # the service's log lines are written every 50 ms
    assert marker not in server.log()  # the service never saw the request
