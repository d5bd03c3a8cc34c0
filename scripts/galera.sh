#!/usr/bin/env bash
# A three-node MariaDB Galera cluster on the loopback, from Debian's packages
# (docs/operations/galera.md). Node N listens for SQL on 127.0.0.1:331N; its Galera traffic
# uses 4567+10(N-1) (group), 4568+10(N-1) (incremental state transfer) and 4444+N (full
# state transfer, rsync). Data, sockets, logs and pid files live under GALERA_DIR.
#
#   scripts/galera.sh start          start the cluster (node 1 bootstraps it), wait until synced
#   scripts/galera.sh stop           stop every node (by its pid file)
#   scripts/galera.sh status         each node's state and the cluster's size
#   scripts/galera.sh kill N         SIGKILL node N (as a crash would)
#   scripts/galera.sh start-node N   start node N again: it rejoins and catches up
#   scripts/galera.sh wipe           stop, then delete GALERA_DIR
#
# root has no password and is reachable from 127.0.0.1 only (every node binds to it).
set -euo pipefail

GALERA_DIR="${GALERA_DIR:-/tmp/shopapi-galera}"
NODES=(1 2 3)
PROVIDER="${GALERA_PROVIDER:-/usr/lib/galera/libgalera_smm.so}"
WAIT_SECONDS="${GALERA_WAIT_SECONDS:-120}"
# As root, the nodes run as Debian's `mysql` user: the state transfer's rsync daemon, started
# by a node, would otherwise switch to `nobody` and be refused its own data directory.
if [ "$(id -u)" -eq 0 ]; then RUN_AS=mysql; else RUN_AS=$(id -un); fi

sql_port() { echo $((3310 + $1)); }
group_port() { echo $((4567 + 10 * ($1 - 1))); }
ist_port() { echo $((4568 + 10 * ($1 - 1))); }
sst_port() { echo $((4444 + $1)); }
node_dir() { echo "$GALERA_DIR/node$1"; }
pid_file() { echo "$GALERA_DIR/node$1.pid"; }
config_file() { echo "$GALERA_DIR/node$1.cnf"; }

say() { echo "galera: $*"; }
die() { echo "galera: $*" >&2; exit 1; }

ensure_packages() {
  local missing=()
  command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
  [ -f "$PROVIDER" ] || missing+=(galera-4)
  command -v rsync >/dev/null || missing+=(rsync)
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  [ "$(id -u)" -eq 0 ] || die "run as root to install ${missing[*]} (or install them)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

write_config() {  # write_config N
  local n=$1 members=""
  for m in "${NODES[@]}"; do members+="${members:+,}127.0.0.1:$(group_port "$m")"; done
  cat >"$(config_file "$n")" <<EOF
[mysqld]
datadir=$(node_dir "$n")
socket=$(node_dir "$n")/mysqld.sock
pid-file=$(pid_file "$n")
log-error=$GALERA_DIR/node$n.err
port=$(sql_port "$n")
bind-address=127.0.0.1
skip-name-resolve
user=$RUN_AS
# Galera replicates rows, and InnoDB tables only.
binlog_format=ROW
default_storage_engine=InnoDB
# Interleaved auto-increment locks: what lets Galera apply inserts in parallel, and what it
# needs to hand out keys without table-level locks (each node offsets its own).
innodb_autoinc_lock_mode=2
# Each commit is written to the OS at once and flushed to disk once a second: a crashed
# mariadbd loses nothing (the OS still holds the log), and a node that loses its last second
# to a machine crash gets it back from the others when it rejoins (state transfer).
innodb_flush_log_at_trx_commit=2
innodb_buffer_pool_size=64M
innodb_log_file_size=48M
performance_schema=OFF
max_connections=300

wsrep_on=ON
wsrep_provider=$PROVIDER
wsrep_cluster_name=shopapi-galera
wsrep_cluster_address=gcomm://$members
wsrep_node_name=node$n
wsrep_node_address=127.0.0.1:$(group_port "$n")
wsrep_node_incoming_address=127.0.0.1:$(sql_port "$n")
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:$(sst_port "$n")
wsrep_slave_threads=2
# A node that stops answering is dropped from the cluster after 3 s (not the default 5 s),
# so that the others' commits wait that long at most; loopback links need no more.
wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:$(group_port "$n");ist.recv_addr=127.0.0.1:$(ist_port "$n");gcache.size=128M;evs.keepalive_period=PT0.5S;evs.inactive_check_period=PT0.5S;evs.suspect_timeout=PT3S;evs.inactive_timeout=PT6S;evs.install_timeout=PT6S"
EOF
}

pid_of() {  # pid_of N: the pid of node N's mariadbd when it runs, else nothing
  local file pid
  file=$(pid_file "$1")
  [ -f "$file" ] || return 0
  pid=$(cat "$file" 2>/dev/null || true)
  [ -n "$pid" ] || return 0
  # Only a mariadbd started with this node's config counts (never another server).
  if { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -q -- "--defaults-file=$(config_file "$1")"; then
    echo "$pid"
  fi
}

client() {  # client N SQL...: run SQL on node N as root over TCP
  local n=$1; shift
  mariadb --protocol=tcp -h 127.0.0.1 -P "$(sql_port "$n")" -u root --connect-timeout=2 -N -B -e "$*"
}

wsrep_status() {  # wsrep_status N VARIABLE
  client "$1" "SHOW GLOBAL STATUS LIKE '$2'" 2>/dev/null | cut -f2
}

launch() {  # launch N [extra mariadbd options]
  local n=$1; shift
  if [ -n "$(pid_of "$n")" ]; then say "node $n already runs"; return 0; fi
  mkdir -p "$(node_dir "$n")"
  own "$(node_dir "$n")"
  write_config "$n"
  rm -f "$(pid_file "$n")"
  # The pid file is written by mariadbd once it has started; until then, remember ours.
  setsid "$(command -v mariadbd || echo /usr/sbin/mariadbd)" \
    --defaults-file="$(config_file "$n")" "$@" </dev/null >>"$GALERA_DIR/node$n.out" 2>&1 &
  echo $! >"$(pid_file "$n")"
  own "$(pid_file "$n")"
  say "node $n starting (pid $!, port $(sql_port "$n"))"
}

recovered_position() {  # recovered_position N: after a crash, where node N's data stands
  # A node killed mid-flight leaves "seqno: -1" in grastate.dat: without its position it
  # would need a full state transfer (rsync of everything, the donor blocked meanwhile).
  # InnoDB knows it: ask mariadbd (--wsrep-recover, as Debian's galera_recovery does), so
  # that the node rejoins with an incremental transfer of what it missed.
  local n=$1 grastate log
  grastate="$(node_dir "$n")/grastate.dat"
  [ -f "$grastate" ] && grep -q '^seqno: *-1' "$grastate" || return 0
  log=$(mktemp)
  "$(command -v mariadbd || echo /usr/sbin/mariadbd)" --defaults-file="$(config_file "$n")" \
    --wsrep-recover --disable-log-error 2>"$log" >/dev/null || true
  sed -n 's/.*WSREP: Recovered position: *//p' "$log" | tail -n 1
  rm -f "$log"
}

wait_synced() {  # wait_synced N...: until each is Synced in a cluster of 3
  local deadline=$((SECONDS + WAIT_SECONDS)) n state size
  for n in "$@"; do
    while :; do
      state=$(wsrep_status "$n" wsrep_local_state_comment || true)
      size=$(wsrep_status "$n" wsrep_cluster_size || true)
      [ "$state" = Synced ] && [ "$size" = "${#NODES[@]}" ] && break
      if [ -z "$(pid_of "$n")" ]; then
        tail -n 30 "$GALERA_DIR/node$n.err" >&2 || true
        die "node $n stopped while starting (log: $GALERA_DIR/node$n.err)"
      fi
      [ $SECONDS -lt $deadline ] || die "node $n not synced after ${WAIT_SECONDS}s (state ${state:-none}, cluster size ${size:-none})"
      sleep 0.5
    done
    say "node $n synced (cluster size $size)"
  done
}

own() {  # own DIR: the nodes' user may write in it
  [ "$(id -u)" -eq 0 ] && chown -R "$RUN_AS": "$1"
  return 0
}

initialise() {  # the first node's system tables, and root over TCP from 127.0.0.1
  local dir
  dir=$(node_dir 1)
  [ -d "$dir/mysql" ] && return 0
  mkdir -p "$dir"
  own "$dir"
  write_config 1
  say "initialising $dir"
  mariadb-install-db --defaults-file="$(config_file 1)" --auth-root-authentication-method=normal \
    --skip-test-db >"$GALERA_DIR/install.log" 2>&1 || { cat "$GALERA_DIR/install.log" >&2; die "mariadb-install-db failed"; }
  touch "$GALERA_DIR/.needs-root"
}

bootstrap() {
  local grastate
  grastate="$(node_dir 1)/grastate.dat"
  # After `stop`, node 1 (stopped last) is safe to bootstrap from; after a crash of every
  # node it is marked unsafe: this is a development cluster, so node 1's data wins.
  [ -f "$grastate" ] && sed -i 's/^safe_to_bootstrap: 0/safe_to_bootstrap: 1/' "$grastate"
  rejoin 1 --wsrep-new-cluster
  local deadline=$((SECONDS + WAIT_SECONDS))
  until [ "$(wsrep_status 1 wsrep_local_state_comment || true)" = Synced ]; do
    [ -n "$(pid_of 1)" ] || { tail -n 30 "$GALERA_DIR/node1.err" >&2; die "node 1 failed to start"; }
    [ $SECONDS -lt $deadline ] || die "node 1 did not bootstrap in ${WAIT_SECONDS}s"
    sleep 0.5
    # Until root may connect over TCP, only the socket answers.
    if [ -f "$GALERA_DIR/.needs-root" ] && [ -S "$(node_dir 1)/mysqld.sock" ]; then
      if mariadb --socket="$(node_dir 1)/mysqld.sock" -u root -e \
        "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION" 2>/dev/null; then
        rm -f "$GALERA_DIR/.needs-root"
      fi
    fi
  done
  say "node 1 bootstrapped the cluster"
}

start() {
  ensure_packages
  mkdir -p "$GALERA_DIR"
  own "$GALERA_DIR"
  local running=()
  for n in "${NODES[@]}"; do [ -n "$(pid_of "$n")" ] && running+=("$n"); done
  if [ ${#running[@]} -eq 0 ]; then
    initialise
    bootstrap
  fi
  for n in "${NODES[@]}"; do rejoin "$n"; done
  wait_synced "${NODES[@]}"
}

rejoin() {  # rejoin N [options]: start node N from where its data stands
  local n=$1 position=""
  shift
  [ -z "$(pid_of "$n")" ] && position=$(recovered_position "$n")
  if [ -n "$position" ]; then
    say "node $n recovered its position $position"
    launch "$n" --wsrep-start-position="$position" "$@"
  else
    launch "$n" "$@"
  fi
}

start_node() {  # start_node N: node N joins the running cluster again
  local n=$1
  ensure_packages
  rejoin "$n"
  wait_synced "$n"
}

stop_node() {  # stop_node N: SIGTERM, then wait up to 60 s for it to exit
  local n=$1 pid
  pid=$(pid_of "$n")
  [ -n "$pid" ] || return 0
  kill -TERM "$pid"
  for _ in $(seq 1 600); do
    [ -d "/proc/$pid" ] || { say "node $n stopped"; return 0; }
    sleep 0.1
  done
  die "node $n (pid $pid) did not stop within 60 s"
}

stop() {
  # Node 1 last: it is then the one safe to bootstrap from at the next start.
  local n
  for n in 3 2 1; do stop_node "$n"; done
}

kill_node() {
  local n=$1 pid
  pid=$(pid_of "$n")
  [ -n "$pid" ] || die "node $n does not run"
  kill -KILL "$pid"
  while [ -d "/proc/$pid" ]; do sleep 0.05; done
  say "node $n killed (pid $pid)"
}

status() {
  local n pid up=0
  for n in "${NODES[@]}"; do
    pid=$(pid_of "$n")
    if [ -z "$pid" ]; then echo "node $n: stopped"; continue; fi
    echo "node $n: pid $pid, port $(sql_port "$n"), $(wsrep_status "$n" wsrep_local_state_comment || echo '?'), cluster size $(wsrep_status "$n" wsrep_cluster_size || echo '?')"
    up=$((up + 1))
  done
  [ $up -gt 0 ]
}

node_arg() {
  case "${1:-}" in 1 | 2 | 3) ;; *) die "name a node: 1, 2 or 3" ;; esac
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  kill) node_arg "${2:-}"; kill_node "$2" ;;
  start-node) node_arg "${2:-}"; start_node "$2" ;;
  wipe) stop; rm -rf "$GALERA_DIR"; say "removed $GALERA_DIR" ;;
  *) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2 ;;
esac
