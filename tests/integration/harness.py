"""Integration test harness: a real redis-server and a real mosquitto loading
the mqchat plugin, on free loopback ports in a temporary directory, driven by
real MQTT clients (Debian's python3-paho-mqtt). Everything is torn down
whatever the outcome. No fixed sleeps: every wait is a condition with a
deadline.

Paths come from the environment (set by ctest): MQCHAT_PLUGIN, MQCHAT_CLI,
MQCHAT_SANITIZE (ON when the plugin is built with ASan/UBSan; the broker is
then started with the sanitizer runtimes preloaded).

MQC_TEST_REDIS=cluster runs the same tests on a Redis Cluster (3 primaries +
3 replicas, tests/integration/cluster_harness.py) started once per test
module (the first Stack/Cluster starts it, the process's exit stops it):
brokers get plugin_opt_redis_cluster_nodes, the CLI --redis-cluster, and
every Stack/Cluster starts from an empty store (FLUSHALL on every primary).
stack.redis.call follows MOVED; SCAN/KEYS/DBSIZE cover every primary."""

import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import paho.mqtt.client as mqtt

PLUGIN = os.environ.get("MQCHAT_PLUGIN", "")
CLI = os.environ.get("MQCHAT_CLI", "")
SANITIZE = os.environ.get("MQCHAT_SANITIZE", "OFF") == "ON"
CLUSTER_MODE = os.environ.get("MQC_TEST_REDIS", "") == "cluster"
DEFAULT_TIMEOUT = 10.0 * (3 if SANITIZE else 1)

V311 = mqtt.MQTTv311
V5 = mqtt.MQTTv5


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def crc16(data):
    """CRC16-CCITT (XMODEM), the Redis Cluster key hash (core/slot.c)."""
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xffff if crc & 0x8000 else (crc << 1) & 0xffff
    return crc


_SLOT_TAGS = {}


def slot_tag(slot):
    """The "j<n>" hash tag core/slot.c picks for slot: the first n that lands there."""
    if slot not in _SLOT_TAGS:
        n = 0
        while crc16(b"j%d" % n) % 16384 != slot:
            n += 1
        _SLOT_TAGS[slot] = "j%d" % n
    return _SLOT_TAGS[slot]


def conv_slot(conv):
    return crc16(("c:" + conv).encode()) % 16384


def jobs_key(conv, prefix="mqchat:"):
    """The job stream of conv's slot (store/keys.h mqc_key_conv_jobs)."""
    return "%s{%s}:jobs" % (prefix, slot_tag(conv_slot(conv)))


def conv_jobs(redis, conv, prefix="mqchat:"):
    """conv's jobs in its slot's stream, oldest first, as dicts of str."""
    out = []
    for _id, f in redis.call("XRANGE", jobs_key(conv, prefix), "-", "+"):
        j = {f[i].decode(): f[i + 1].decode() for i in range(0, len(f), 2)}
        if j.get("c") == conv:
            out.append(j)
    return out


def has_function(redis, name):
    """Is Redis function name loaded (e.g. mqchat-push's side of #15)?"""
    for lib in redis.call("FUNCTION", "LIST"):
        d = dict(zip(lib[::2], lib[1::2]))
        for fn in d.get(b"functions", []):
            if dict(zip(fn[::2], fn[1::2])).get(b"name") == name.encode():
                return True
    return False



def free_port():
    """A free loopback port below the kernel's ephemeral range: a port the
    kernel may hand to some outgoing connection (tests open thousands) could
    be taken between this check and the server's bind."""
    import random
    high = min(_ephemeral_low(), 65536) - 1
    for _ in range(200):
        port = random.randint(10000, max(10001, high))
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_ids(stack, conv, prefix="mqchat:"):
    """The client ids of the msg entries in conv's log, in log order."""
    ids = []
    for _eid, fields in stack.redis.call("XRANGE", "%s{c:%s}:log" % (prefix, conv), "-", "+"):
        f = dict(zip(fields[::2], fields[1::2]))
        k = f.get(b"k")
        if k and b"\n" in k:
            ids.append(k.split(b"\n", 1)[1].decode())
    return ids


def sync_all_events(chat, since, limit=1000):
    """Every event of chat's user after token since, through the sync op
    (no reset expected)."""
    events, token = [], since
    for _ in range(100):
        r = chat.ok("sync", since=token, limit=limit)
        assert not r.get("reset"), r
        events += r["events"]
        token = r["next"]
        if not r["more"]:
            return events
    raise AssertionError("sync did not end in 100 pages")


def wait_for(cond, timeout=DEFAULT_TIMEOUT, what="condition", interval=0.01):
    """Poll cond() until it returns a truthy value; fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def sanitizer_env():
    env = dict(os.environ)
    if SANITIZE:
        libs = []
        for name in ("libasan.so", "libubsan.so"):
            out = subprocess.run(["gcc", "-print-file-name=" + name], capture_output=True,
                                 text=True).stdout.strip()
            if out and os.path.exists(out):
                libs.append(out)
        env["LD_PRELOAD"] = " ".join(libs)
        # mosquitto's own allocations at exit are not ours to judge.
        env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1"
        env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    return env


class Redis:
    def __init__(self, workdir):
        self.dir = workdir
        self.port = free_port()
        self.proc = None

    def start(self):
        log = open(os.path.join(self.dir, "redis.log"), "ab")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", self.dir, "--appendonly", "yes", "--appendfsync", "always",
             "--save", "", "--protected-mode", "yes"],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_for(self.ping, what="redis to answer PING")

    def ping(self):
        if self.proc and self.proc.poll() is not None:
            raise AssertionError("redis-server exited: see %s/redis.log" % self.dir)
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def call(self, *args):
        """One Redis command over a fresh connection (RESP2); returns the
        decoded reply: int, bytes, list, None; an error reply raises."""
        enc = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            enc += b"$%d\r\n%s\r\n" % (len(a), a)
        with socket.create_connection(("127.0.0.1", self.port), timeout=DEFAULT_TIMEOUT) as s:
            s.sendall(enc)
            f = s.makefile("rb")
            return _resp_read(f)

    def snapshot(self, skip=(":presence", "{n:")):
        """Every key (but those containing one of `skip`: presence and node
        heartbeats change by themselves) -> its DUMP, to compare before and
        after something that must change nothing."""
        out = {}
        cursor = b"0"
        while True:
            cursor, keys = self.call("SCAN", cursor, "COUNT", 1000)
            for k in keys:
                if not any(x.encode() in k for x in skip):
                    out[k] = self.call("DUMP", k)
            if cursor == b"0":
                return out

    def kill(self):
        """SIGKILL redis-server (no shutdown save; the AOF is what survives)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


_CLUSTER = None


def _shared_cluster():
    """The module's Redis Cluster (MQC_TEST_REDIS=cluster), started on first
    use and stopped when the process exits."""
    global _CLUSTER
    if _CLUSTER is None:
        import atexit
        from cluster_harness import RedisCluster
        c = RedisCluster()
        try:
            c.start()
        except BaseException:
            c.stop()
            raise
        atexit.register(c.stop)
        _CLUSTER = c
    return _CLUSTER


class ClusterRedis:
    """Stands in for Redis when MQC_TEST_REDIS=cluster: the shared cluster,
    emptied on start (FLUSHALL on every primary; the function library
    stays). port is a primary's (redis-cli -c, the bus); call() follows
    MOVED and runs SCAN/KEYS/DBSIZE/FLUSHALL and CONFIG SET on every
    primary."""

    def __init__(self, workdir):
        self.dir = workdir
        self.port = None
        self.proc = None

    def start(self):
        c = _shared_cluster()
        c.wait_ok()
        for p in c.primary_ports():
            c.node(p).call("FLUSHALL")
        self.port = c.primary_ports()[0]

    def ping(self):
        return True

    def stop(self):
        pass  # shared by the module's tests

    def kill(self):
        raise unittest.SkipTest("kills Redis: not in cluster mode")

    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def _on(self, port, args):
        return _shared_cluster().node(port).call(*args)

    def call(self, *args):
        c = _shared_cluster()
        cmd = str(args[0]).upper()
        if cmd == "CONFIG" and str(args[1]).upper() == "SET":  # every primary alike
            return [self._on(p, args) for p in c.primary_ports()][0]
        if cmd in ("SCAN", "KEYS", "DBSIZE", "FLUSHALL", "FLUSHDB"):
            res = [self._on(p, args if cmd != "SCAN" else ("SCAN", 0) + tuple(args[2:]))
                   for p in c.primary_ports()]
            if cmd == "DBSIZE":
                return sum(res)
            if cmd == "KEYS":
                return [k for r in res for k in r]
            if cmd == "SCAN":  # every primary walked to the end: one page
                keys = []
                for p in c.primary_ports():
                    cur = b"0"
                    while True:
                        cur, ks = self._on(p, ("SCAN", cur) + tuple(args[2:]))
                        keys += ks
                        if cur == b"0":
                            break
                return [b"0", keys]
            return res[0]
        if cmd in ("FCALL", "FCALL_RO", "EVAL", "EVALSHA"):
            key = args[3] if len(args) > 3 and int(args[2]) > 0 else None
        else:
            key = args[1] if len(args) > 1 else None
        port = c.primary_ports()[0]
        if key is not None:
            kb = key if isinstance(key, bytes) else str(key).encode()
            port = c.owner(slot_of(kb))
        for _ in range(5):
            try:
                return self._on(port, args)
            except AssertionError as e:
                text = str(e)
                if "MOVED" not in text and "ASK" not in text:
                    raise
                port = int(text.split()[-1].split(":")[-1])
        return self._on(port, args)

    def snapshot(self, skip=(":presence", "{n:")):
        out = {}
        for k in self.call("SCAN", 0, "COUNT", 1000)[1]:
            if not any(x.encode() in k for x in skip):
                out[k] = self.call("DUMP", k)
        return out


def make_redis(workdir):
    """Redis, or the shared Redis Cluster in cluster mode."""
    return ClusterRedis(workdir) if CLUSTER_MODE else Redis(workdir)


def slot_of(key):
    """The Redis Cluster slot of key (bytes): its hash tag's CRC16."""
    s = key.find(b"{")
    if s >= 0:
        e = key.find(b"}", s + 1)
        if e > s + 1:
            key = key[s + 1:e]
    return crc16(key) % 16384


def _resp_read(f):
    line = f.readline()
    if not line:
        raise OSError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest
    if kind == b"-":
        raise AssertionError("redis error: %s" % rest.decode(errors="replace"))
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_resp_read(f) for _ in range(n)]
    raise AssertionError("bad RESP reply: %r" % line)


class SlotRedis(Redis):
    """A one-node Redis Cluster owning every slot: Redis refuses a call whose
    keys are in several slots, and a function touching a key of another
    slot than its declared keys' (what a sharded cluster would refuse)."""

    def start(self):
        log = open(os.path.join(self.dir, "redis.log"), "ab")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", self.dir, "--cluster-enabled", "yes", "--cluster-port", str(free_port()),
             "--cluster-config-file", os.path.join(self.dir, "nodes-%d.conf" % self.port),
             "--save", "", "--appendonly", "no"], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_for(self.ping, what="redis to answer PING")
        self.call("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
        wait_for(lambda: b"cluster_state:ok" in self.call("CLUSTER", "INFO"),
                 what="the one-node cluster to be ok")


class Broker:
    def __init__(self, workdir, redis_port, options=None, name="broker"):
        self.dir = workdir
        self.name = name
        if CLUSTER_MODE:
            # The shared cluster picks its ports when it starts: start it
            # before this broker picks one, or both may take the same.
            _shared_cluster()
        self.port = free_port()
        self.redis_port = redis_port
        self.options = dict(options or {})
        self.proc = None
        self.log_path = os.path.join(workdir, name + ".log")
        self.conf_path = os.path.join(workdir, name + ".conf")

    def write_conf(self):
        lines = [
            "listener %d 127.0.0.1" % self.port,
            "allow_anonymous false",
            "user root",
            "set_tcp_nodelay true",
            "persistence false",
            # docs/CONFIG.md, "Packet size": max_message_bytes + 16384.
            "max_packet_size %d" % max_packet_size(self.options.get("max_message_bytes")),
            "log_dest stderr",
            "log_type all",
            "plugin " + PLUGIN,
            "plugin_opt_redis_port %d" % self.redis_port,
        ] + ([
            # the store through the slot router; redis_port (a primary) is
            # where the bus subscribes until it speaks sharded pub/sub
            "plugin_opt_redis_cluster_nodes %s" % _shared_cluster().seeds(" "),
        ] if CLUSTER_MODE else []) + [
            "plugin_opt_redis_timeout_ms 500",
            "plugin_opt_redis_retry_ms 100",
        ]
        for k, v in self.options.items():
            lines.append("plugin_opt_%s %s" % (k, v))
        with open(self.conf_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, wait=True):
        self.write_conf()
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["mosquitto", "-c", self.conf_path], stdout=log,
                                     stderr=subprocess.STDOUT, env=sanitizer_env())
        log.close()
        if wait:
            wait_for(lambda: self.alive_or_raise() and port_open(self.port),
                     what="mosquitto to listen")

    def alive_or_raise(self):
        if self.proc.poll() is not None:
            raise AssertionError("mosquitto exited with %s:\n%s" % (self.proc.returncode,
                                                                    self.log_tail()))
        return True

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log_tail(self, n=40):
        return "\n".join(self.log_text().splitlines()[-n:])

    def check_sanitizers(self):
        text = self.log_text()
        for bad in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer"):
            if bad in text:
                raise AssertionError("sanitizer report in broker log:\n" + self.log_tail(80))

    def kill9_restart(self):
        """SIGKILL the broker (no cleanup runs) and start it again with the
        same config on the same port. Returns the new pid."""
        self.stop(sig=signal.SIGKILL)
        self.start()
        return self.proc.pid

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def max_packet_size(max_message_bytes):
    """The max_packet_size that goes with plugin_opt_max_message_bytes (its
    default when unset or not a number, its bounds when outside them: bad
    values are test_config's, refused by the plugin itself)."""
    try:
        n = min(max(int(max_message_bytes), 256), 16777216)
    except (TypeError, ValueError):
        n = 65536
    return n + 16384


def connect_packet(user, password, client_id, keepalive=30, will=None):
    """The bytes of an MQTT 3.1.1 CONNECT (clean session). will = (topic,
    payload, retain) sets a QoS 1 will."""
    flags = 0xC2
    payload = mqtt_str(client_id)
    if will:
        flags |= 0x04 | (1 << 3) | (0x20 if will[2] else 0)
        payload += mqtt_str(will[0]) + mqtt_str(will[1])
    payload += mqtt_str(user) + mqtt_str(password)
    body = mqtt_str("MQTT") + bytes([4, flags]) + keepalive.to_bytes(2, "big") + payload
    return mqtt_packet(0x10, body)


def read_connack(s):
    """The CONNACK return code read from socket s, or None if the server
    closed the connection without one."""
    ack = b""
    while len(ack) < 4:
        try:
            part = s.recv(4 - len(ack))
        except ConnectionResetError:
            return None
        if not part:
            return None
        ack += part
    if ack[:2] != b"\x20\x02":
        raise AssertionError("not a CONNACK: %r" % ack)
    return ack[3]


def mqtt_str(s):
    """An MQTT length-prefixed string."""
    b = s.encode() if isinstance(s, str) else s
    return len(b).to_bytes(2, "big") + b


def mqtt_packet(first, body):
    """One raw MQTT packet: fixed header byte, remaining length, body."""
    n, rem = len(body), b""
    while True:
        byte, n = n % 128, n // 128
        rem += bytes([byte | (0x80 if n else 0)])
        if not n:
            break
    return bytes([first]) + rem + body


def raw_connect(port, user, password, client_id, keepalive=30, will=None):
    """Open a bare MQTT 3.1.1 connection (no client library, no thread) and
    return the socket after a successful CONNACK. will = (topic, payload,
    retain) sets a QoS 1 will. Closing the socket is a connection that dies
    without DISCONNECT."""
    s = socket.create_connection(("127.0.0.1", port), timeout=DEFAULT_TIMEOUT)
    s.sendall(connect_packet(user, password, client_id, keepalive, will))
    rc = read_connack(s)
    if rc != 0:
        s.close()
        raise AssertionError("raw connect refused: %r" % rc)
    return s


class Client:
    """A paho client running its network loop in a thread. Every wait has a
    deadline; received messages are queued."""

    def __init__(self, port, user=None, password=None, protocol=V311, client_id=None,
                 clean=True):
        self.port = port
        self.protocol = protocol
        cid = client_id or "t-%s-%d-%d" % (user or "anon", os.getpid(), id(self))
        kwargs = {"client_id": cid, "protocol": protocol}
        if protocol != V5:
            kwargs["clean_session"] = clean
        self.c = mqtt.Client(**kwargs)
        if user is not None:
            self.c.username_pw_set(user, password)
        self.messages = queue.Queue()
        self.connack = None
        self.disconnected = threading.Event()
        self.subacks = {}
        self.pubacks = {}
        self.lock = threading.Lock()
        self.acked = threading.Condition()
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = self._on_disconnect
        self.c.on_message = lambda c, u, m: self.messages.put(m)
        self.c.on_subscribe = self._on_subscribe
        self.c.on_publish = self._on_publish
        self.client_id = cid
        self.running = False

    def _on_connect(self, c, u, flags, rc, props=None):
        self.connack = rc if isinstance(rc, int) else rc.value

    def _on_disconnect(self, c, u, rc, props=None):
        self.disconnected.set()

    def _on_subscribe(self, c, u, mid, granted, props=None):
        codes = [g if isinstance(g, int) else g.value for g in granted]
        with self.lock:
            self.subacks[mid] = codes

    def _on_publish(self, c, u, mid, *rest):
        with self.acked:
            self.pubacks[mid] = True
            self.acked.notify_all()

    def connect(self, timeout=DEFAULT_TIMEOUT, keepalive=30):
        """Returns the CONNACK code (0 = accepted), or None if the server
        closed the connection without a CONNACK."""
        self.disconnected.clear()
        try:
            self.c.connect("127.0.0.1", self.port, keepalive=keepalive)
        except OSError:
            return None
        # Drive the network loop by hand until CONNACK: paho's loop thread
        # sleeps a whole reconnect delay after a refusal before it can stop.
        deadline = time.monotonic() + timeout
        while self.connack is None and not self.disconnected.is_set():
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for CONNACK")
            if self.c.loop(timeout=0.05) != mqtt.MQTT_ERR_SUCCESS:
                break
        if self.connack == 0:
            self.c.loop_start()
            self.running = True
        return self.connack

    def subscribe(self, topic, qos=1, timeout=DEFAULT_TIMEOUT):
        """Returns the list of SUBACK codes (granted QoS, or >= 0x80 = refused)."""
        rc, mid = self.c.subscribe(topic, qos)
        assert rc == mqtt.MQTT_ERR_SUCCESS, rc
        return wait_for(lambda: self.subacks.get(mid), timeout, "SUBACK for " + topic)

    def publish(self, topic, payload, qos=1, retain=False, timeout=DEFAULT_TIMEOUT, wait=True):
        """Publish; with wait (and qos > 0) return only after the PUBACK."""
        if isinstance(payload, str):
            payload = payload.encode()
        info = self.c.publish(topic, payload, qos=qos, retain=retain)
        if qos > 0 and wait:
            with self.acked:
                if not self.acked.wait_for(lambda: self.pubacks.get(info.mid) or
                                           info.is_published(), timeout):
                    raise AssertionError("timed out waiting for PUBACK for " + topic)
        return info

    def expect(self, pred=lambda m: True, timeout=DEFAULT_TIMEOUT, what="a message"):
        """Return the first queued message matching pred; the non-matching
        ones received before it are left in self.skipped."""
        deadline = time.monotonic() + timeout
        skipped = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out waiting for %s; got instead: %r" %
                                     (what, [(m.topic, m.payload[:200]) for m in skipped]))
            try:
                m = self.messages.get(timeout=left)
            except queue.Empty:
                continue
            if pred(m):
                self.skipped = skipped
                return m
            skipped.append(m)

    def drain(self):
        out = []
        while True:
            try:
                out.append(self.messages.get_nowait())
            except queue.Empty:
                return out

    def close(self):
        try:
            self.c.disconnect()
        except Exception:
            pass
        if self.running:
            self.c.loop_stop()
            self.running = False


def inbox_barrier(client, user, timeout=DEFAULT_TIMEOUT):
    """For a plain Client subscribed to chat/u/{user}/inbox: make the server
    send it an err event (a bad request on its own req topic) and return
    every message it received before that event. Deliveries to one client
    keep their order, so anything queued for it earlier has arrived by then."""
    import json as _json
    client.publish("chat/u/%s/req" % user, b"not json")
    client.expect(lambda m: m.topic == "chat/u/%s/inbox" % user and
                  _json.loads(m.payload).get("t") == "err", timeout, "barrier err event")
    return client.skipped


class _Services:
    """What Stack and Cluster share: the admin CLI against their Redis, and
    the context manager that tears everything down whatever the outcome."""

    def __exit__(self, exc_type, exc, tb):
        self.close(failed=exc_type is not None)
        return False

    def _client(self, broker, user, password, protocol, client_id, connect, clean):
        """A Client of broker, closed with the stack; connected unless told
        not to, retrying while the broker closes without CONNACK (busy, or
        Redis not reachable yet)."""
        c = Client(broker.port, user, password, protocol, client_id, clean)
        self.clients.append(c)
        if connect:
            deadline = time.monotonic() + DEFAULT_TIMEOUT
            rc = c.connect()
            while rc is None and time.monotonic() < deadline:
                time.sleep(0.05)
                rc = c.connect()
            assert rc == 0, "connect as %s refused: %r\n%s" % (user, rc, broker.log_tail())
        return c

    def _brokers(self):
        return []

    def close(self, failed=False):
        """Close every client, stop every broker and Redis, remove the
        directory (unless MQCHAT_KEEP); a sanitizer report in a broker log
        fails the test."""
        for c in self.clients:
            c.close()
        errors = []
        for b in self._brokers():
            if b.proc is None:
                continue
            try:
                b.check_sanitizers()
            except AssertionError as e:
                errors.append(e)
            if failed or os.environ.get("MQCHAT_KEEP"):
                sys.stderr.write("--- %s log (%s) ---\n%s\n" % (b.name, self.dir,
                                                               b.log_text()[-6000:]))
            b.stop()
        self.redis.stop()
        if not os.environ.get("MQCHAT_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)
        if errors:
            raise errors[0]

    def cli(self, *args, input=None):
        where = (["--redis-cluster", _shared_cluster().seeds(",")] if CLUSTER_MODE else
                 ["--redis", self.redis.url()])
        return subprocess.run([CLI] + where + list(args), input=input,
                              capture_output=True, text=True, timeout=60)

    def add_user(self, name, password):
        r = self.cli("user", "add", name, "--password-stdin", input=password + "\n")
        assert r.returncode == 0, r.stderr
        return password


class Stack(_Services):
    """redis + one broker with the plugin in a temp dir."""

    def __init__(self, options=None):
        self.dir = tempfile.mkdtemp(prefix="mqchat-it-")
        self.redis = make_redis(self.dir)
        self.options = options
        self.broker = None
        self.clients = []

    def __enter__(self):
        try:
            self.redis.start()
            self.broker = Broker(self.dir, self.redis.port, self.options)
            self.broker.start()
        except BaseException:
            self.close(failed=True)
            raise
        return self

    def _brokers(self):
        return [self.broker] if self.broker else []

    def client(self, user=None, password=None, protocol=V311, client_id=None, connect=True,
               clean=True):
        return self._client(self.broker, user, password, protocol, client_id, connect, clean)


def main():
    if not PLUGIN or not CLI:
        sys.exit("MQCHAT_PLUGIN and MQCHAT_CLI must be set (run through ctest)")
    unittest.main(verbosity=2, warnings="ignore")


class Cluster(_Services):
    """One redis-server and n brokers (nodes n1..nN, all loading the plugin)
    sharing it, in a temp dir. node(i) is a Stack-like view of node i (for
    Chat and clients); every client is closed and every process stopped on
    exit, whatever the outcome."""

    def __init__(self, n=3, options=None):
        self.dir = tempfile.mkdtemp(prefix="mqchat-cluster-")
        self.redis = make_redis(self.dir)
        self.brokers = []
        for i in range(n):
            opts = dict(options or {})
            opts["node_id"] = "n%d" % (i + 1)
            self.brokers.append(Broker(self.dir, 0, opts, name="n%d" % (i + 1)))
        self.clients = []

    def __enter__(self):
        try:
            self.redis.start()
            for b in self.brokers:
                b.redis_port = self.redis.port
                b.start()
            for b in self.brokers:
                wait_for(lambda: "cluster: joined as" in b.log_text(),
                         what="%s to join the cluster" % b.name)
        except BaseException:
            self.close(failed=True)
            raise
        return self

    def node(self, i):
        return _NodeView(self, self.brokers[i])

    def _brokers(self):
        return self.brokers


class _NodeView:
    """What Chat needs of a Stack, for one node of a Cluster."""

    def __init__(self, cluster, broker):
        self.cluster = cluster
        self.broker = broker

    def client(self, user=None, password=None, protocol=V311, client_id=None, connect=True,
               clean=True):
        return self.cluster._client(self.broker, user, password, protocol, client_id, connect,
                                    clean)


class Chat:
    """A chat user's device: a Client subscribed to its inbox, with JSON
    helpers for requests, sends and waiting on events."""

    def __init__(self, stack, user, password, protocol=V311, client_id=None, clean=True):
        self.user = user
        self.inbox = "chat/u/%s/inbox" % user
        self.c = stack.client(user, password, protocol=protocol, client_id=client_id,
                              clean=clean)
        granted = self.c.subscribe(self.inbox)
        assert granted == [1], granted
        self.n = 0
        self.backlog = []

    def event(self, pred=lambda e: True, timeout=DEFAULT_TIMEOUT, what="an event"):
        """The oldest inbox event (decoded JSON) matching pred. Events that do
        not match stay in self.backlog, in arrival order, for later calls."""
        import json as _json
        for i, e in enumerate(self.backlog):
            if pred(e):
                return self.backlog.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out waiting for %s; unmatched: %r" %
                                     (what, self.backlog[-10:]))
            try:
                m = self.c.expect(lambda m: m.topic == self.inbox, left, what)
            except AssertionError:
                continue
            e = _json.loads(m.payload)
            if pred(e):
                return e
            self.backlog.append(e)

    def req(self, op, timeout=DEFAULT_TIMEOUT, **fields):
        """Send a request and return its res or err event."""
        import json as _json
        self.n += 1
        rid = "r%d-%s" % (self.n, self.user)
        body = dict(fields, op=op, req=rid)
        self.c.publish("chat/u/%s/req" % self.user, _json.dumps(body))
        return self.event(lambda e: e.get("req") == rid and e.get("t") in ("res", "err"),
                          timeout, "reply to %s" % op)

    def ok(self, op, **fields):
        r = self.req(op, **fields)
        assert r["t"] == "res", r
        return r

    def direct(self, other):
        return self.ok("create", kind="direct", **{"with": other})["conv"]

    def group(self, title, members):
        return self.ok("create", kind="group", title=title, members=members)["conv"]

    def send(self, conv, mid, body, qos=1, wait=True, **extra):
        import json as _json
        self.c.publish("chat/c/%s/send" % conv, _json.dumps(dict(extra, id=mid, body=body)),
                       qos=qos, wait=wait)

    def publish_raw(self, topic, payload, qos=1):
        return self.c.publish(topic, payload, qos=qos)

    def msg(self, conv, mid, timeout=DEFAULT_TIMEOUT):
        """Wait for the msg event of client id mid in conv."""
        return self.event(lambda e: e.get("t") == "msg" and e.get("conv") == conv and
                          e.get("id") == mid, timeout, "msg %s" % mid)

    def err(self, timeout=DEFAULT_TIMEOUT, **match):
        return self.event(lambda e: e.get("t") == "err" and
                          all(e.get(k) == v for k, v in match.items()), timeout,
                          "err %r" % (match,))

    def barrier(self):
        """Return (and forget) every unconsumed inbox event received before a
        fresh request's reply: deliveries to one client keep their order, so
        anything the server queued for this device earlier has arrived."""
        self.req("convs")
        out, self.backlog = self.backlog, []
        return out

    def close(self):
        self.c.close()
