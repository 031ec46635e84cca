#!/usr/bin/env bash
# `make run`: start a local mqchat stack on loopback (Redis, Mosquitto with the
# plugin), create the demo users alice and bob, print how to chat, and stop
# everything on Ctrl-C. With NODES=3 (`make cluster`) it starts three brokers
# (nodes local1..local3 on MQTT_PORT, MQTT_PORT+1, MQTT_PORT+2) sharing the
# Redis: a cluster to try cross-node chat on; the WebSockets listener stays on
# the first. Runtime files live in .run/ and are reused by the next
# run (users and messages survive in Redis' AOF).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
RUN_DIR=${RUN_DIR:-$ROOT/.run}
MQTT_PORT=${MQTT_PORT:-1883}
WS_PORT=${WS_PORT:-8080}
REDIS_PORT=${REDIS_PORT:-6379}
NODES=${NODES:-1}
case "$NODES" in [1-9]) ;; *) echo "run: NODES must be 1-9" >&2; exit 2 ;; esac
PLUGIN=$BUILD/mqchat_plugin.so
CLI=$BUILD/cli/mqchat
PUSH=$BUILD/bridge/mqchat-push
WEB_DIR=$BUILD/web/dist

mkdir -p "$RUN_DIR"
chmod 755 "$RUN_DIR"

# Stop whatever a previous run left behind (e.g. after kill -9 of make).
for pidfile in "$RUN_DIR"/*.pid; do
  [ -e "$pidfile" ] || continue
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    echo "run: stopping leftover process $pid ($(basename "$pidfile" .pid))"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$pidfile"
done

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
specs=("REDIS_PORT:$REDIS_PORT" "MQTT_PORT:$MQTT_PORT" "WS_PORT:$WS_PORT")
for i in $(seq 2 "$NODES"); do specs+=("MQTT_PORT:$((MQTT_PORT + i - 1))"); done
for spec in "${specs[@]}"; do
  name=${spec%%:*}; port=${spec#*:}
  if port_busy "$port"; then
    echo "run: port $port is already in use (another Redis or broker?)." >&2
    echo "run: pick another one, e.g.  make run $name=$((port + 1))" >&2
    exit 1
  fi
done

# The web client: npm packages (once) and the bundle, served by mosquitto's
# WebSockets listener. Without them the listener still carries MQTT.
mkdir -p "$WEB_DIR"
if ! bash "$ROOT/web/tools/prepare.sh" "$WEB_DIR"; then
  echo "run: the web client could not be built (see above); MQTT over WebSockets still works" >&2
fi

render() { # template output
  local user_line="# user: mosquitto drops to its default user"
  sed -e "s#@REDIS_PORT@#$REDIS_PORT#g" -e "s#@MQTT_PORT@#$MQTT_PORT#g" \
      -e "s#@WS_PORT@#$WS_PORT#g" -e "s#@WEB_DIR@#$WEB_DIR#g" \
      -e "s#@RUN_DIR@#$RUN_DIR#g" -e "s#@PLUGIN@#$PLUGIN#g" \
      -e "s%@USER_LINE@%$user_line%g" "$1" > "$2"
}
render "$ROOT/config/redis.conf.in" "$RUN_DIR/redis.conf"
render "$ROOT/config/mosquitto.conf.in" "$RUN_DIR/mosquitto.conf"
# Nodes 2..N: their own MQTT port and node id, no WebSockets listener.
for i in $(seq 2 "$NODES"); do
  sed -e "s#^listener $MQTT_PORT #listener $((MQTT_PORT + i - 1)) #" \
      -e "/^listener $WS_PORT /d" -e "/^protocol websockets/d" -e "/^http_dir /d" \
      -e "s#^plugin_opt_node_id local1#plugin_opt_node_id local$i#" \
      -e "s#mosquitto.log#mosquitto-$i.log#" \
      "$RUN_DIR/mosquitto.conf" > "$RUN_DIR/mosquitto-$i.conf"
done
# The bridge's config is written once: edit .run/push.conf to add credentials.
[ -f "$RUN_DIR/push.conf" ] || render "$ROOT/config/push.conf.in" "$RUN_DIR/push.conf"
# mosquitto started as root drops to user mosquitto: let it write its log.
for log in "$RUN_DIR/mosquitto.log" $(seq -f "$RUN_DIR/mosquitto-%g.log" 2 "$NODES"); do
  touch "$log"
  if id mosquitto >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    chown mosquitto "$log"
  fi
done

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "run: stopping"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -f "$RUN_DIR"/*.pid
}
trap 'cleanup; exit 0' INT TERM
trap cleanup EXIT

wait_until() { # seconds description command...
  local t=$1 what=$2; shift 2
  for _ in $(seq $((t * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "run: $what did not come up; see $RUN_DIR/*.log" >&2
  exit 1
}

redis-server "$RUN_DIR/redis.conf" &
pids+=($!); echo $! > "$RUN_DIR/redis.pid"
wait_until 10 "redis" redis-cli -p "$REDIS_PORT" ping

export MQCHAT_REDIS="redis://127.0.0.1:$REDIS_PORT/0"
PWFILE=$RUN_DIR/demo-passwords
if [ ! -s "$PWFILE" ]; then
  umask 077
  for u in alice bob; do echo "$u $(head -c 9 /dev/urandom | base64 | tr '+/' 'xy')"; done > "$PWFILE"
  umask 022
fi
while read -r u pw; do
  if ! echo "$pw" | "$CLI" user add "$u" --password-stdin >/dev/null 2>&1; then
    echo "$pw" | "$CLI" user passwd "$u" --password-stdin >/dev/null
  fi
done < "$PWFILE"
ALICE_PW=$(awk '$1=="alice"{print $2}' "$PWFILE")
BOB_PW=$(awk '$1=="bob"{print $2}' "$PWFILE")

mosquitto -c "$RUN_DIR/mosquitto.conf" &
pids+=($!); echo $! > "$RUN_DIR/mosquitto.pid"
wait_until 10 "mosquitto" bash -c "exec 3<>/dev/tcp/127.0.0.1/$MQTT_PORT && exec 4<>/dev/tcp/127.0.0.1/$WS_PORT"
for i in $(seq 2 "$NODES"); do
  mosquitto -c "$RUN_DIR/mosquitto-$i.conf" &
  pids+=($!); echo $! > "$RUN_DIR/mosquitto-$i.pid"
  wait_until 10 "mosquitto node $i" bash -c "exec 3<>/dev/tcp/127.0.0.1/$((MQTT_PORT + i - 1))"
done

"$PUSH" --config "$RUN_DIR/push.conf" >> "$RUN_DIR/push.log" 2>&1 &
pids+=($!); echo $! > "$RUN_DIR/push.pid"

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
  Redis  127.0.0.1:$REDIS_PORT   (AOF in $RUN_DIR)
  Push   mqchat-push (config: $RUN_DIR/push.conf, log: $RUN_DIR/push.log;
         pushes stay disabled until you add APNs/FCM credentials there)

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
  MQCHAT_REDIS=$MQCHAT_REDIS $CLI user add carol --password-stdin
  MQCHAT_REDIS=$MQCHAT_REDIS $CLI user list

Press Ctrl-C to stop.
EOT
if [ "$NODES" -gt 1 ]; then
  cat <<EOT

Cluster: $NODES brokers share the Redis: local1 on $MQTT_PORT$(for i in $(seq 2 "$NODES"); do printf ', local%d on %d' "$i" $((MQTT_PORT + i - 1)); done).
Put bob on another node and chat across them:
  MQCHAT_PASSWORD='$BOB_PW' $CLI chat --user bob --mqtt 127.0.0.1:$((MQTT_PORT + 1))
Tell every connected user on every node something:
  MQCHAT_REDIS=$MQCHAT_REDIS $CLI broadcast --text 'maintenance at 18:00'
EOT
fi

wait -n "${pids[@]}" || true
echo "run: a service exited; see $RUN_DIR/*.log" >&2
