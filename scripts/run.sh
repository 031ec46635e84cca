#!/usr/bin/env bash
# `make run`: start a local mqchat stack on loopback (Redis, Mosquitto with the
# plugin), create the demo users alice and bob, print how to chat, and stop
# everything on Ctrl-C. With NODES=3 (`make cluster`) it starts three brokers
# (nodes local1..local3 on MQTT_PORT, MQTT_PORT+1, MQTT_PORT+2) sharing the
# Redis: a cluster to try cross-node chat on; the WebSockets listener stays on
# the first, and a node that dies leaves the others running. Runtime files live
# in .run/ (RUN_DIR) and are reused by the next run (users and messages survive
# in Redis' AOF); one stack at a time per RUN_DIR: a second start refuses and
# says what is running. WEB=0 skips building the web client. Attachments: an
# s3rver (the fake S3 server from web/'s npm packages) on S3_PORT (default
# 4568), path-style, bucket "mqchat", its data in .run/s3data; the plugin
# gets its plugin_opt_s3_* options, so uploads work out of the box (S3=0, or
# no s3rver installed: upload/download answer unavailable). Every process
# runs as the invoking user (so a checkout in a private directory works as
# root too). With REDIS=cluster (`make cluster REDIS=cluster`) the store is a
# Redis Cluster of 3 primaries + 3 replicas instead of one Redis
# (scripts/redis-cluster.sh, ports from REDIS_PORT up, a fresh cluster in
# .run/redis-cluster each time): the brokers get plugin_opt_redis_cluster_nodes,
# mqchat-push redis_cluster_nodes (.run/push-cluster.conf, made from
# .run/push.conf each time), the demo users are made with --redis-cluster;
# WAIT_REPLICAS sets plugin_opt_redis_wait_replicas and the bridge's
# redis_wait_replicas (default 0), NODE_TIMEOUT_MS the cluster-node-timeout.
# A cluster node that dies does not stop the stack (its replica takes over).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
RUN_DIR=${RUN_DIR:-$ROOT/.run}
MQTT_PORT=${MQTT_PORT:-1883}
WS_PORT=${WS_PORT:-8080}
REDIS_PORT=${REDIS_PORT:-6379}
NODES=${NODES:-1}
WEB=${WEB:-1}
S3=${S3:-1}
S3_PORT=${S3_PORT:-4568}
S3RVER=$ROOT/web/node_modules/s3rver/bin/s3rver.js
REDIS=${REDIS:-single}
case "$REDIS" in single|cluster) ;; *) echo "run: REDIS must be single or cluster" >&2; exit 2 ;; esac
WAIT_REPLICAS=${WAIT_REPLICAS:-0}
case "$WAIT_REPLICAS" in [0-9]) ;; *) echo "run: WAIT_REPLICAS must be 0-9" >&2; exit 2 ;; esac
export NODE_TIMEOUT_MS=${NODE_TIMEOUT_MS:-2000}
case "$NODES" in [1-9]) ;; *) echo "run: NODES must be 1-9" >&2; exit 2 ;; esac
PLUGIN=$BUILD/mqchat_plugin.so
CLI=$BUILD/cli/mqchat
PUSH=$BUILD/bridge/mqchat-push
WEB_DIR=$BUILD/web/dist

mkdir -p "$RUN_DIR"
# Redis' AOF (password hashes) and the demo passwords live here.
chmod 700 "$RUN_DIR"

# One stack per RUN_DIR. The lock is held on fd 7 for as long as this script
# runs; the services are started with fd 7 closed, so if this script is killed
# (kill -9 of make) the lock is free and what it left behind is stopped below.
exec 7>>"$RUN_DIR/run.lock"
if ! flock -n 7; then
  echo "run: mqchat is already running from $RUN_DIR:" >&2
  sed 's/^/run:   /' "$RUN_DIR/running" >&2 2>/dev/null || echo "run:   (starting up)" >&2
  echo "run: stop it first (Ctrl-C in its terminal), then start again." >&2
  exit 1
fi

# Stop whatever a previous run left behind (its script was killed without
# cleaning up): only processes that still are what the pid file names.
for pidfile in "$RUN_DIR"/*.pid; do
  [ -e "$pidfile" ] || continue
  pid=$(cat "$pidfile" 2>/dev/null || true)
  name=$(basename "$pidfile" .pid)
  case "$name" in redis) comm=redis-server ;; mosquitto*) comm=mosquitto ;; push) comm=mqchat-push ;; s3rver) comm=node ;; *) comm= ;; esac
  if [ -n "$pid" ] && [ -n "$comm" ] && [ "$(ps -o comm= -p "$pid" 2>/dev/null)" = "$comm" ]; then
    echo "run: stopping process $pid ($name) left behind by an earlier run"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$pidfile"
done
rm -f "$RUN_DIR/running"
CLUSTER_DIR=$RUN_DIR/redis-cluster
# Redis Cluster nodes a killed earlier run left behind (their pid files).
[ -d "$CLUSTER_DIR" ] && bash "$ROOT/scripts/redis-cluster.sh" stop "$CLUSTER_DIR"

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
specs=("MQTT_PORT:$MQTT_PORT" "WS_PORT:$WS_PORT")
# A Redis Cluster's nodes skip busy ports (scripts/redis-cluster.sh).
[ "$REDIS" = cluster ] || specs+=("REDIS_PORT:$REDIS_PORT")
[ "$S3" = 0 ] || specs+=("S3_PORT:$S3_PORT")
for i in $(seq 2 "$NODES"); do specs+=("MQTT_PORT:$((MQTT_PORT + i - 1))"); done
for spec in "${specs[@]}"; do
  name=${spec%%:*}; port=${spec#*:}
  if port_busy "$port"; then
    echo "run: port $port is already in use (another Redis or broker?)." >&2
    echo "run: pick another one, e.g.  make run $name=$((port + 1))" >&2
    exit 1
  fi
done

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "run: stopping"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ "$REDIS" = single ] || bash "$ROOT/scripts/redis-cluster.sh" stop "$CLUSTER_DIR"
  rm -f "$RUN_DIR"/*.pid "$RUN_DIR/running"
}
trap 'cleanup; exit 0' INT TERM
trap cleanup EXIT

# The store: one Redis (started below with the other services), or a fresh
# Redis Cluster now (its nodes are daemons with pid files in CLUSTER_DIR,
# stopped by cleanup): the configs below need its seeds. CLI_REDIS is how
# mqchat reaches either.
if [ "$REDIS" = cluster ]; then
  BASE_PORT=$REDIS_PORT bash "$ROOT/scripts/redis-cluster.sh" start "$CLUSTER_DIR" 7>&-
  SEEDS=$(bash "$ROOT/scripts/redis-cluster.sh" seeds "$CLUSTER_DIR")
  FIRST=${SEEDS%% *}
  CLI_REDIS=(--redis-cluster "${SEEDS// /,}")
else
  CLI_REDIS=(--redis "redis://127.0.0.1:$REDIS_PORT/0")
fi

# The web client: npm packages (once) and the bundle, served by mosquitto's
# WebSockets listener. Without them the listener still carries MQTT.
mkdir -p "$WEB_DIR"
if [ "$WEB" = 0 ]; then
  echo "run: WEB=0: the web client is not built; MQTT over WebSockets still works"
elif ! MQCHAT_S3_ORIGIN=$([ "$S3" = 0 ] || echo "http://127.0.0.1:$S3_PORT") \
     bash "$ROOT/web/tools/prepare.sh" "$WEB_DIR"; then
  echo "run: the web client could not be built (see above); MQTT over WebSockets still works" >&2
fi

render() { # template output
  # mosquitto started as root drops to the user `mosquitto`, which cannot
  # read a checkout in a private directory (e.g. root's home): the plugin
  # would not load. `user root` keeps it as the invoking user (it warns in
  # its log); for any other user mosquitto ignores `user`.
  local user_line="# user: not started as root, so mosquitto runs as the invoking user"
  [ "$(id -u)" = 0 ] && user_line="user root"
  sed -e "s#@REDIS_PORT@#$REDIS_PORT#g" -e "s#@MQTT_PORT@#$MQTT_PORT#g" \
      -e "s#@WS_PORT@#$WS_PORT#g" -e "s#@WEB_DIR@#$WEB_DIR#g" \
      -e "s#@RUN_DIR@#$RUN_DIR#g" -e "s#@PLUGIN@#$PLUGIN#g" \
      -e "s%@USER_LINE@%$user_line%g" "$1" > "$2"
}
render "$ROOT/config/redis.conf.in" "$RUN_DIR/redis.conf"
render "$ROOT/config/mosquitto.conf.in" "$RUN_DIR/mosquitto.conf"
if [ "$REDIS" = cluster ]; then
  sed -i -e '/^plugin_opt_redis_host /d' -e '/^plugin_opt_redis_port /d' "$RUN_DIR/mosquitto.conf"
  cat >> "$RUN_DIR/mosquitto.conf" <<EOC
plugin_opt_redis_cluster_nodes $SEEDS
plugin_opt_redis_wait_replicas $WAIT_REPLICAS
EOC
fi
# Attachments: s3rver's built-in account (S3RVER / S3RVER) signs the URLs.
if [ "$S3" != 0 ] && [ ! -f "$S3RVER" ]; then
  echo "run: s3rver is not installed (bash web/tools/prepare.sh installs it): attachments are off"
  S3=0
fi
if [ "$S3" != 0 ]; then
  (umask 077; echo S3RVER > "$RUN_DIR/s3.secret")
  cat >> "$RUN_DIR/mosquitto.conf" <<EOC
plugin_opt_s3_endpoint http://127.0.0.1:$S3_PORT
plugin_opt_s3_bucket mqchat
plugin_opt_s3_access_key S3RVER
plugin_opt_s3_secret_key_file $RUN_DIR/s3.secret
plugin_opt_s3_path_style true
EOC
fi
# Nodes 2..N: their own MQTT port and node id, no WebSockets listener.
for i in $(seq 2 "$NODES"); do
  sed -e "s#^listener $MQTT_PORT #listener $((MQTT_PORT + i - 1)) #" \
      -e "/^listener $WS_PORT /d" -e "/^socket_domain /d" \
      -e "/^protocol websockets/d" -e "/^http_dir /d" \
      -e "s#^plugin_opt_node_id local1#plugin_opt_node_id local$i#" \
      -e "s#mosquitto.log#mosquitto-$i.log#" \
      "$RUN_DIR/mosquitto.conf" > "$RUN_DIR/mosquitto-$i.conf"
done
# The bridge's config is written once: edit .run/push.conf to add credentials.
[ -f "$RUN_DIR/push.conf" ] || render "$ROOT/config/push.conf.in" "$RUN_DIR/push.conf"
PUSH_CONF=$RUN_DIR/push.conf
if [ "$REDIS" = cluster ]; then
  # On the cluster: push.conf (with its credentials) plus this run's seeds;
  # its redis_url (TCP, database 0) then gives only the password.
  PUSH_CONF=$RUN_DIR/push-cluster.conf
  { sed -e '/^[[:space:]]*redis_cluster_nodes[[:space:]]/d' \
        -e '/^[[:space:]]*redis_wait_replicas[[:space:]]/d' "$RUN_DIR/push.conf"
    echo "# make cluster REDIS=cluster: the cluster of this run"
    echo "redis_cluster_nodes $SEEDS"
    echo "redis_wait_replicas $WAIT_REPLICAS"
  } > "$PUSH_CONF"
fi

declare -A names # pid -> what it is, for the messages below
start() { # name pidfile command... (fd 7, the lock, is not inherited)
  local name=$1 pidfile=$2; shift 2
  "$@" 7>&- &
  pids+=($!); names[$!]=$name; echo $! > "$RUN_DIR/$pidfile"
}
wait_until() { # seconds description pid command...
  local t=$1 what=$2 pid=$3; shift 3
  for _ in $(seq $((t * 10))); do
    "$@" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "run: $what did not come up; see $RUN_DIR/*.log" >&2
  exit 1
}

[ "$REDIS" = cluster ] ||
  start "redis (127.0.0.1:$REDIS_PORT)" redis.pid redis-server "$RUN_DIR/redis.conf"
if [ "$S3" != 0 ]; then
  mkdir -p "$RUN_DIR/s3data"
  start "s3rver (http://127.0.0.1:$S3_PORT, data $RUN_DIR/s3data, log $RUN_DIR/s3rver.log)" s3rver.pid \
    bash -c 'exec node "$0" -d "$1" -a 127.0.0.1 -p "$2" --no-vhost-buckets --configure-bucket mqchat "$3" >> "$4" 2>&1' \
    "$S3RVER" "$RUN_DIR/s3data" "$S3_PORT" "$ROOT/config/s3rver-cors.xml" "$RUN_DIR/s3rver.log"
  wait_until 10 "s3rver" "${pids[-1]}" bash -c "exec 3<>/dev/tcp/127.0.0.1/$S3_PORT"
fi
[ "$REDIS" = cluster ] || wait_until 10 "redis" "${pids[-1]}" redis-cli -p "$REDIS_PORT" ping

unset MQCHAT_REDIS MQCHAT_REDIS_CLUSTER # CLI_REDIS says where
PWFILE=$RUN_DIR/demo-passwords
if [ ! -s "$PWFILE" ]; then
  umask 077
  for u in alice bob; do echo "$u $(head -c 9 /dev/urandom | base64 | tr '+/' 'xy')"; done > "$PWFILE"
  umask 022
fi
while read -r u pw; do
  if ! echo "$pw" | "$CLI" "${CLI_REDIS[@]}" user add "$u" --password-stdin >/dev/null 2>&1; then
    echo "$pw" | "$CLI" "${CLI_REDIS[@]}" user passwd "$u" --password-stdin >/dev/null
  fi
done < "$PWFILE"
ALICE_PW=$(awk '$1=="alice"{print $2}' "$PWFILE")
BOB_PW=$(awk '$1=="bob"{print $2}' "$PWFILE")

brokers=() # pids of the brokers still running
start "mosquitto node local1 (127.0.0.1:$MQTT_PORT, log $RUN_DIR/mosquitto.log)" mosquitto.pid \
  mosquitto -c "$RUN_DIR/mosquitto.conf"
brokers+=("${pids[-1]}")
wait_until 10 "mosquitto" "${pids[-1]}" \
  bash -c "exec 3<>/dev/tcp/127.0.0.1/$MQTT_PORT && exec 4<>/dev/tcp/127.0.0.1/$WS_PORT"
for i in $(seq 2 "$NODES"); do
  start "mosquitto node local$i (127.0.0.1:$((MQTT_PORT + i - 1)), log $RUN_DIR/mosquitto-$i.log)" \
    "mosquitto-$i.pid" mosquitto -c "$RUN_DIR/mosquitto-$i.conf"
  brokers+=("${pids[-1]}")
  wait_until 10 "mosquitto node $i" "${pids[-1]}" \
    bash -c "exec 3<>/dev/tcp/127.0.0.1/$((MQTT_PORT + i - 1))"
done

start "mqchat-push (log $RUN_DIR/push.log)" push.pid \
  bash -c 'exec "$0" --config "$1" >> "$2" 2>&1' "$PUSH" "$PUSH_CONF" "$RUN_DIR/push.log"

# A direct conversation between the demo users, so the instructions below
# can name it. Creating it again returns the same id.
CONV=$(mosquitto_rr -p "$MQTT_PORT" -u alice -P "$ALICE_PW" -t chat/u/alice/req \
        -e chat/u/alice/inbox -W 5 \
        -m '{"op":"create","req":"setup","kind":"direct","with":"bob"}' 2>/dev/null |
       sed -n 's/.*"conv":"\([^"]*\)".*/\1/p')
CONV=${CONV:-<conv>}

cat <<EOT

mqchat is running on loopback:
  Web    http://127.0.0.1:$WS_PORT/   (open it in a browser; MQTT over WebSockets at ws://127.0.0.1:$WS_PORT/mqtt)
  MQTT   127.0.0.1:$MQTT_PORT   (mosquitto + mqchat plugin, log: $RUN_DIR/mosquitto.log)
$(if [ "$REDIS" = cluster ]; then
  echo "  Redis  Redis Cluster, 3 primaries + 3 replicas: $SEEDS"
  echo "         (a fresh one each start; data in $CLUSTER_DIR/<port>)"
else
  echo "  Redis  127.0.0.1:$REDIS_PORT   (AOF in $RUN_DIR)"
fi)
  Push   mqchat-push (config: $PUSH_CONF, log: $RUN_DIR/push.log;
         pushes stay disabled until you add APNs/FCM credentials there)
$(if [ "$S3" != 0 ]; then echo "  Files  s3rver http://127.0.0.1:$S3_PORT (bucket mqchat, data in $RUN_DIR/s3data): photos and files"; else echo "  Files  off (S3=0 or no s3rver): upload/download answer unavailable"; fi)

Demo users (passwords kept in $PWFILE):
  alice  $ALICE_PW
  bob    $BOB_PW
alice and bob share the direct conversation $CONV.

Chat in the browser: open http://127.0.0.1:$WS_PORT/ in two windows (one private),
sign in as alice and as bob.

Or chat in two terminals with the terminal client:
  MQCHAT_PASSWORD='$ALICE_PW' $CLI chat --user alice --mqtt 127.0.0.1:$MQTT_PORT
  MQCHAT_PASSWORD='$BOB_PW' $CLI chat --user bob --mqtt 127.0.0.1:$MQTT_PORT
(type /join $CONV, then write; /help lists the commands)

Or with the stock Mosquitto clients: watch bob's inbox, then send as alice:
  mosquitto_sub -p $MQTT_PORT -u bob -P '$BOB_PW' -t chat/u/bob/inbox -v
  mosquitto_pub -p $MQTT_PORT -u alice -P '$ALICE_PW' -t chat/c/$CONV/send -m '{"id":"m1","body":"hello bob"}'

Requests are answered to the device that asked, so use the request/response client:
  mosquitto_rr -p $MQTT_PORT -u alice -P '$ALICE_PW' -t chat/u/alice/req -e chat/u/alice/inbox -m '{"op":"convs","req":"r1"}'

Manage users:
  $CLI ${CLI_REDIS[*]} user add carol --password-stdin
  $CLI ${CLI_REDIS[*]} user list
EOT
if [ "$NODES" -gt 1 ]; then
  cat <<EOT

Cluster: $NODES brokers share the Redis$([ "$REDIS" = single ] || echo " Cluster"): local1 on $MQTT_PORT$(for i in $(seq 2 "$NODES"); do printf ', local%d on %d' "$i" $((MQTT_PORT + i - 1)); done).
Put bob on another node and chat across them:
  MQCHAT_PASSWORD='$BOB_PW' $CLI chat --user bob --mqtt 127.0.0.1:$((MQTT_PORT + 1))
Tell every connected user on every node something:
  $CLI ${CLI_REDIS[*]} broadcast --text 'maintenance at 18:00'
EOT
fi
if [ "$REDIS" = cluster ]; then
  cat <<EOT

Redis Cluster (cluster-node-timeout $NODE_TIMEOUT_MS ms, wait_replicas $WAIT_REPLICAS; docs/OPERATIONS.md "Redis Cluster"):
  redis-cli -p ${FIRST#*:} cluster shards
  bash $ROOT/scripts/redis-cluster.sh status $CLUSTER_DIR
  $CLI doctor --config $RUN_DIR/mosquitto.conf --push-config $PUSH_CONF
Watch a failover while chatting: kill -9 a primary (pid in $CLUSTER_DIR/<port>/redis.pid).
Its replica takes over within about twice the node timeout; meanwhile sends to the
conversations on that shard answer unavailable (clients retry), the others carry on.
Move slots while chatting:
  redis-cli --cluster reshard $FIRST --cluster-from <node id> --cluster-to <node id> --cluster-slots 500 --cluster-yes
EOT
fi
echo
echo "Press Ctrl-C to stop."

# Tell a second start what is running here.
{
  echo "$(if [ "$NODES" -gt 1 ]; then echo "make cluster"; else echo "make run"; fi)$([ "$REDIS" = single ] || echo " REDIS=cluster") (pid $$, since $(date '+%F %T'))"
  [ "$REDIS" = single ] || echo "redis cluster $SEEDS (pids in $CLUSTER_DIR/*/redis.pid)"
  for pid in "${pids[@]}"; do echo "${names[$pid]}, pid $pid"; done
} > "$RUN_DIR/running"

# A cluster node that dies leaves the others running (its users are shown
# offline once its heartbeat is older than plugin_opt_node_timeout_ms); any
# other service that exits, or the last broker, stops the stack. Redis
# Cluster nodes are not watched: a primary that dies is replaced by its
# replica (kill one to watch a failover).
while :; do
  dead=
  # One that died while this script was still busy starting the others has
  # been reaped already: wait no longer knows it.
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || { dead=$p; break; }; done
  if [ -z "$dead" ]; then
    wait -n -p dead "${pids[@]}" 2>/dev/null || true
    [ -n "$dead" ] || { sleep 0.2; continue; }
  fi
  pids=($(for p in "${pids[@]}"; do [ "$p" = "$dead" ] || echo "$p"; done))
  left=($(for p in "${brokers[@]}"; do [ "$p" = "$dead" ] || echo "$p"; done))
  if [ "${#left[@]}" -lt "${#brokers[@]}" ] && [ "${#left[@]}" -gt 0 ]; then
    brokers=("${left[@]}")
    echo "run: ${names[$dead]} exited; the other ${#brokers[@]} node(s) keep running." >&2
    echo "run: its users are shown offline on the others within plugin_opt_node_timeout_ms (30 s)." >&2
    echo "run: ${names[$dead]}, pid $dead: exited" >> "$RUN_DIR/running"
    continue
  fi
  echo "run: ${names[$dead]} exited; stopping the rest (see $RUN_DIR/*.log)" >&2
  break
done
exit 1
