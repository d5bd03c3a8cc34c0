#!/bin/bash
# As the official image's `healthcheck.sh --connect`: the server takes connections over
# TCP, as the service's do (mariadb-admin ping succeeds even when the login is refused).
exec mariadb-admin --protocol=tcp -h 127.0.0.1 -u healthcheck --connect-timeout=2 ping >/dev/null 2>&1
