"""Redis Cluster harness for tests: real redis-server nodes in cluster mode
(3 primaries + 3 replicas by default) on free loopback ports in a temporary
directory, created with `redis-cli --cluster create`, torn down whatever
the outcome. Tests use it to kill -9 a primary and wait for the failover,
to move a slot (step by step, so keys can be left half moved: ASK) and to
reshard a slot range with `redis-cli --cluster reshard` while traffic runs.
Every wait is a condition with a deadline (harness.wait_for).

scripts/redis-cluster.sh does the same for `make cluster REDIS=cluster`."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile

from harness import DEFAULT_TIMEOUT, _ephemeral_low, _resp_read, free_port, wait_for


def _port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_cluster_ports(n):
    """n ports p whose cluster bus port p+10000 is free too (and collides
    with no other chosen port), the bus port below the kernel's ephemeral
    range (an outgoing connection could take it before the node binds it)."""
    chosen, taken = [], set()
    high = min(_ephemeral_low(), 65536)
    for _ in range(10000):
        if len(chosen) == n:
            break
        p = free_port()
        if p + 10000 >= high or p in taken or p + 10000 in taken or not _port_free(p + 10000):
            continue
        chosen.append(p)
        taken.update((p, p + 10000))
    if len(chosen) < n:
        raise AssertionError("no free ports for a %d-node Redis Cluster" % n)
    return chosen


class ClusterNode:
    """One redis-server in cluster mode, its data in its own directory. AOF
    with appendfsync always, as in production (config/redis.conf.in): with
    everysec a write acknowledged just before a kill -9 of a primary and its
    replica can be missing from both after the restart."""

    def __init__(self, root, port, node_timeout_ms):
        self.port = port
        self.dir = os.path.join(root, str(port))
        self.node_timeout_ms = node_timeout_ms
        self.proc = None
        os.makedirs(self.dir, exist_ok=True)

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        log = open(os.path.join(self.dir, "redis.log"), "ab")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--protected-mode", "yes", "--dir", self.dir,
             "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
             "--cluster-node-timeout", str(self.node_timeout_ms),
             "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_for(self.ping, what="redis node %d to answer PING" % self.port)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def ping(self):
        if self.proc and self.proc.poll() is not None:
            raise AssertionError("redis node %d exited: see %s/redis.log" % (self.port, self.dir))
        try:
            return self.call("PING") == b"PONG"
        except (OSError, AssertionError):
            return False

    def call(self, *args, timeout=DEFAULT_TIMEOUT):
        """One command over a fresh connection (RESP2, no redirects
        followed): int, bytes, list or None; an error reply raises
        AssertionError("redis error: ...")."""
        enc = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            enc += b"$%d\r\n%s\r\n" % (len(a), a)
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(enc)
            return _resp_read(s.makefile("rb"))

    def pause(self):
        """SIGSTOP: the node hangs (its sockets stay open, nothing answers)."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def kill9(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        if self.alive():
            self.resume()  # a paused node cannot act on SIGTERM
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class RedisCluster:
    """Usage: `with RedisCluster() as rc: ... rc.seeds() ...`."""

    def __init__(self, primaries=3, replicas=1, node_timeout_ms=1000, workdir=None):
        self.primaries_n = primaries
        self.replicas_n = replicas
        self.node_timeout_ms = node_timeout_ms
        self.own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="mqc-rcluster-")
        self.nodes = []

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        n = self.primaries_n * (1 + self.replicas_n)
        self.nodes = [ClusterNode(self.dir, p, self.node_timeout_ms)
                      for p in free_cluster_ports(n)]
        for node in self.nodes:
            node.start()
        out = subprocess.run(
            ["redis-cli", "--cluster", "create"] + [x.addr for x in self.nodes] +
            ["--cluster-replicas", str(self.replicas_n), "--cluster-yes"],
            capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise AssertionError("cluster create failed:\n%s%s" % (out.stdout, out.stderr))
        self.wait_ok()
        # Every replica attached and in sync (WAIT needs them).
        wait_for(lambda: all(self.replica_of(p) for p in self.primary_ports()),
                 timeout=30, what="every primary to have a replica")

    def stop(self):
        for node in self.nodes:
            node.stop()
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def seeds(self, sep=" "):
        return sep.join(n.addr for n in self.nodes)

    def node(self, port):
        return next(n for n in self.nodes if n.port == port)

    def live(self):
        return [n for n in self.nodes if n.alive()]

    def topology(self, via=None):
        """CLUSTER NODES as seen by node `via` (default: any live node):
        a list of dicts id, port, flags (set), master (id or None), slots
        (list of (lo, hi))."""
        via = via or self.live()[0]
        text = via.call("CLUSTER", "NODES").decode()
        out = []
        for line in text.splitlines():
            f = line.split()
            slots = []
            for s in f[8:]:
                if s.startswith("["):
                    continue  # migrating/importing markers
                lo, _, hi = s.partition("-")
                slots.append((int(lo), int(hi or lo)))
            out.append({"id": f[0], "port": int(f[1].split("@")[0].rsplit(":", 1)[1]),
                        "flags": set(f[2].split(",")),
                        "master": None if f[3] == "-" else f[3], "slots": slots})
        return out

    def primary_ports(self):
        return sorted(t["port"] for t in self.topology()
                      if "master" in t["flags"] and "fail" not in t["flags"] and t["slots"])

    def node_id(self, port):
        return self.node(port).call("CLUSTER", "MYID").decode()

    def owner(self, slot, via=None):
        """The port of the primary serving slot, as node `via` sees it."""
        for t in self.topology(via):
            if "master" in t["flags"] and any(lo <= slot <= hi for lo, hi in t["slots"]):
                return t["port"]
        return None

    def keyslot(self, key):
        return self.live()[0].call("CLUSTER", "KEYSLOT", key)

    def replica_of(self, primary_port):
        """The port of a live replica of primary_port that is in sync, or None."""
        pid = self.node_id(primary_port)
        for t in self.topology():
            if t["master"] == pid and "fail" not in t["flags"] and self.node(t["port"]).alive():
                info = self.node(t["port"]).call("INFO", "replication").decode()
                if "master_link_status:up" in info:
                    return t["port"]
        return None

    def _all_ok(self):
        for n in self.live():
            info = n.call("CLUSTER", "INFO").decode()
            if "cluster_state:ok" not in info or "cluster_slots_ok:16384" not in info:
                return False
        # Every live node agrees on who serves a sample of slots.
        for slot in (0, 5000, 8000, 12000, 16383):
            if len({self.owner(slot, via=n) for n in self.live()}) != 1:
                return False
        return True

    def wait_ok(self, timeout=30):
        wait_for(self._all_ok, timeout=timeout, interval=0.05,
                 what="cluster_state:ok on every node")

    def kill9_primary(self, port):
        """kill -9 the primary on port; returns the port of its replica
        (the one expected to take over)."""
        replica = self.replica_of(port)
        assert replica, "primary %d has no replica in sync" % port
        self.node(port).kill9()
        return replica

    def wait_failover(self, dead_port, slot, timeout=30):
        """Wait until every live node says slot is served by a live primary
        other than dead_port, and the cluster is ok; returns its port."""
        def done():
            owners = {self.owner(slot, via=n) for n in self.live()}
            if len(owners) != 1:
                return None
            port = owners.pop()
            if port is None or port == dead_port or not self.node(port).alive():
                return None
            return port if self._all_ok() else None
        return wait_for(done, timeout=timeout, interval=0.05,
                        what="a replica to take over from %d" % dead_port)

    def restart(self, port):
        """Start a killed node again (same port, same nodes.conf): it
        rejoins, as a replica if it was failed over."""
        self.node(port).start()

    # Slot migration, step by step (the cluster specification's protocol).
    def migrate_begin(self, slot, src, dst):
        self.node(dst).call("CLUSTER", "SETSLOT", slot, "IMPORTING", self.node_id(src))
        self.node(src).call("CLUSTER", "SETSLOT", slot, "MIGRATING", self.node_id(dst))

    def migrate_keys(self, slot, src, dst, keys=None):
        """MIGRATE keys (default: every key left in slot on src) to dst."""
        if keys is None:
            keys = self.node(src).call("CLUSTER", "GETKEYSINSLOT", slot, 100000)
        if keys:
            self.node(src).call("MIGRATE", "127.0.0.1", dst, "", 0, 5000, "KEYS", *keys)
        return len(keys)

    def migrate_end(self, slot, dst):
        """Give slot to dst on every primary (ends the migration)."""
        dst_id = self.node_id(dst)
        self.node(dst).call("CLUSTER", "SETSLOT", slot, "NODE", dst_id)
        for p in self.primary_ports():
            if p != dst:
                self.node(p).call("CLUSTER", "SETSLOT", slot, "NODE", dst_id)

    def move_slot(self, slot, dst):
        src = self.owner(slot)
        self.migrate_begin(slot, src, dst)
        self.migrate_keys(slot, src, dst)
        self.migrate_end(slot, dst)
        wait_for(lambda: all(self.owner(slot, via=n) == dst for n in self.live()),
                 what="every node to see slot %d on %d" % (slot, dst))

    def reshard(self, src, dst, nslots):
        """`redis-cli --cluster reshard` of nslots slots from src to dst,
        started in the background: returns the Popen (the caller waits)."""
        return subprocess.Popen(
            ["redis-cli", "--cluster", "reshard", self.node(src).addr,
             "--cluster-from", self.node_id(src), "--cluster-to", self.node_id(dst),
             "--cluster-slots", str(nslots), "--cluster-yes"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
