#!/usr/bin/env bash
# A local Redis Cluster for development and tests: PRIMARIES primaries (3)
# with REPLICAS replicas each (1) on free loopback ports, all data in DIR.
#
#   scripts/redis-cluster.sh start DIR   start the nodes, create the cluster,
#                                        wait until every node says
#                                        cluster_state:ok; print the seeds
#   scripts/redis-cluster.sh stop DIR    stop the nodes started from DIR
#   scripts/redis-cluster.sh status DIR  CLUSTER NODES of the first node
#   scripts/redis-cluster.sh seeds DIR   the nodes as "host:port host:port ..."
#
# Each node needs its port and port+10000 (the cluster bus) free; ports are
# picked from BASE_PORT (unset: a random base in 10000..20000, so that the
# bus ports stay below the kernel's ephemeral range) upwards, skipping busy
# ones. NODE_TIMEOUT_MS (cluster-node-timeout, default 2000)
# is how long a primary must be unreachable before its replica takes over.
# The nodes run as daemons (pid files in DIR); `stop` kills only the pids
# recorded there, and only while they still are redis-server processes.
set -euo pipefail

cmd=${1:-}
DIR=${2:-}
PRIMARIES=${PRIMARIES:-3}
REPLICAS=${REPLICAS:-1}
NODE_TIMEOUT_MS=${NODE_TIMEOUT_MS:-2000}
usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ -n "$cmd" ] && [ -n "$DIR" ] || usage

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The pids recorded in DIR that still are redis-server processes.
live_pids() {
  for f in "$DIR"/*/redis.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f" 2>/dev/null || true)
    if [ -n "$pid" ] && [ "$(ps -o comm= -p "$pid" 2>/dev/null)" = redis-server ]; then
      echo "$pid"
    fi
  done
}

stop() {
  local pids
  pids=$(live_pids)
  [ -n "$pids" ] || return 0
  for pid in $pids; do kill "$pid" 2>/dev/null || true; done
  for _ in $(seq 100); do
    [ -n "$(live_pids)" ] || return 0
    sleep 0.1
  done
  for pid in $(live_pids); do kill -9 "$pid" 2>/dev/null || true; done
}

seeds() {
  [ -s "$DIR/ports" ] || { echo "redis-cluster: no cluster in $DIR" >&2; exit 1; }
  sed 's/^/127.0.0.1:/' "$DIR/ports" | paste -sd' '
}

# Every node answers CLUSTER INFO with cluster_state:ok and all slots ok,
# and every replica is in sync with its primary.
all_ok() {
  while read -r p; do
    if redis-cli -p "$p" info replication 2>/dev/null | tr -d '\r' | grep -q '^role:slave$'; then
      redis-cli -p "$p" info replication 2>/dev/null | tr -d '\r' |
        grep -q '^master_link_status:up$' || return 1
    fi
    redis-cli -p "$p" cluster info 2>/dev/null | tr -d '\r' |
      grep -q '^cluster_state:ok$' || return 1
    redis-cli -p "$p" cluster info 2>/dev/null | tr -d '\r' |
      grep -q '^cluster_slots_ok:16384$' || return 1
  done < "$DIR/ports"
}

start() {
  local n=$((PRIMARIES * (1 + REPLICAS)))
  [ "$PRIMARIES" -ge 3 ] || { echo "redis-cluster: PRIMARIES must be at least 3" >&2; exit 2; }
  if [ -n "$(live_pids)" ]; then
    echo "redis-cluster: a cluster from $DIR is running; stop it first" >&2
    exit 1
  fi
  mkdir -p "$DIR"
  chmod 700 "$DIR"
  rm -rf "$DIR"/[0-9]*/ "$DIR/ports"
  local port=${BASE_PORT:-$((10000 + RANDOM % 10000))} ports=()
  while [ "${#ports[@]}" -lt "$n" ]; do
    [ "$port" -le 55535 ] || { echo "redis-cluster: no free ports" >&2; exit 1; }
    if ! port_busy "$port" && ! port_busy $((port + 10000)); then ports+=("$port"); fi
    port=$((port + 1))
  done
  for p in "${ports[@]}"; do
    mkdir -p "$DIR/$p"
    redis-server --port "$p" --bind 127.0.0.1 --protected-mode yes --daemonize yes \
      --dir "$DIR/$p" --pidfile "$DIR/$p/redis.pid" --logfile "$DIR/$p/redis.log" \
      --cluster-enabled yes --cluster-config-file nodes.conf \
      --cluster-node-timeout "$NODE_TIMEOUT_MS" \
      --appendonly yes --appendfsync always --save ''
    echo "$p" >> "$DIR/ports"
  done
  for p in "${ports[@]}"; do
    for _ in $(seq 100); do
      redis-cli -p "$p" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
    redis-cli -p "$p" ping >/dev/null 2>&1 ||
      { echo "redis-cluster: node $p did not start ($DIR/$p/redis.log):" >&2
        tail -n 3 "$DIR/$p/redis.log" >&2; stop; exit 1; }
  done
  local addrs=()
  for p in "${ports[@]}"; do addrs+=("127.0.0.1:$p"); done
  if ! redis-cli --cluster create "${addrs[@]}" --cluster-replicas "$REPLICAS" \
       --cluster-yes > "$DIR/create.log" 2>&1; then
    echo "redis-cluster: cluster create failed; see $DIR/create.log" >&2
    stop
    exit 1
  fi
  for _ in $(seq 300); do
    all_ok && break
    sleep 0.1
  done
  all_ok || { echo "redis-cluster: cluster_state did not become ok" >&2; stop; exit 1; }
  echo "redis-cluster: $PRIMARIES primaries + $((PRIMARIES * REPLICAS)) replicas up, data in $DIR"
  echo "redis-cluster: seeds: $(seeds)"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  seeds) seeds ;;
  status) redis-cli -p "$(head -1 "$DIR/ports")" cluster nodes ;;
  *) usage ;;
esac
