#!/bin/bash
# First start on an empty volume: make the system tables, the database, its user and the
# root password from the *_FILE secrets; then (every start) run the server.
set -euo pipefail
read_secret() { if [ -n "$1" ]; then tr -d "\n" <"$1"; fi; }
sql_quote() { printf "'%s'" "${1//\'/\'\'}"; }
if [ ! -d /var/lib/mysql/mysql ]; then
  mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null
  mariadbd --skip-networking --socket=/run/mysqld/init.sock &
  pid=$!
  for _ in $(seq 60); do mariadb-admin --socket=/run/mysqld/init.sock ping >/dev/null 2>&1 && break; sleep 0.5; done
  root=$(read_secret "${MARIADB_ROOT_PASSWORD_FILE:-}")
  password=$(read_secret "${MARIADB_PASSWORD_FILE:-}")
  {
    echo "DELETE FROM mysql.global_priv WHERE User='';"
    if [ -n "$root" ]; then echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $(sql_quote "$root");"; fi
    if [ -n "${MARIADB_DATABASE:-}" ]; then
      echo "CREATE DATABASE IF NOT EXISTS \`$MARIADB_DATABASE\` CHARACTER SET utf8mb4;"
    fi
    if [ -n "${MARIADB_USER:-}" ]; then
      echo "CREATE USER '$MARIADB_USER'@'%' IDENTIFIED BY $(sql_quote "$password");"
      if [ -n "${MARIADB_DATABASE:-}" ]; then
        echo "GRANT ALL ON \`$MARIADB_DATABASE\`.* TO '$MARIADB_USER'@'%';"
      fi
    fi
    echo "FLUSH PRIVILEGES;"
  } | mariadb --socket=/run/mysqld/init.sock -umysql  # unix_socket: the OS user mysql
  kill "$pid"
  wait "$pid" || true
fi
if [ "${1:-}" = mariadbd ]; then
  shift
  exec mariadbd --bind-address=0.0.0.0 --skip-name-resolve "$@"
fi
exec "$@"
