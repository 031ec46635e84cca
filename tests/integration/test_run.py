"""`make run` / `make cluster` (scripts/run.sh) end to end, on free loopback
ports, with the already-built binaries and WEB=0 (no web bundle):
- from a checkout in a private (0700) directory, as whoever runs the tests
  (root included: mosquitto must not drop to a user that cannot read it),
  the stack comes up and alice and bob chat;
- every listening socket of the broker (MQTT and WebSockets) is on loopback
  (/proc/net/tcp and tcp6);
- a second start (make cluster) with the first still running refuses, says
  what runs, and leaves the first untouched;
- killing one node of a cluster leaves the other nodes and Redis running, and
  the script names the node that died;
- stopping the script stops every process it started;
- `make cluster REDIS=cluster`: three brokers and mqchat-push on a 3+3
  Redis Cluster (scripts/redis-cluster.sh); alice and bob chat across two
  brokers, the message is in the conversation's log on the cluster, the
  `mqchat doctor` command it prints passes, and stopping the script stops
  the brokers, the bridge and every Redis node.
Everything (processes, temp dirs) is removed whatever the outcome."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from harness import (CLI, PLUGIN, SANITIZE, Chat, _ephemeral_low, free_port, main, port_open,
                     wait_for)

PUSH = os.environ.get("MQCHAT_PUSH", "")
SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
START_TIMEOUT = 30


def free_block(n):
    """A port p with p..p+n-1 all free on 127.0.0.1."""
    for _ in range(100):
        p = free_port()
        ok = True
        for q in range(p + 1, p + n):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", q))
                except OSError:
                    ok = False
                    break
        if ok:
            return p
    raise AssertionError("no block of %d free ports" % n)


def free_cluster_base(n, avoid):
    """A port p with p..p+n-1 and their cluster bus ports (+10000) free, the
    bus ports below the kernel's ephemeral range, none of them in avoid."""
    import random
    high = min(_ephemeral_low(), 65536) - 10000 - n
    for _ in range(200):
        p = random.randint(10000, max(10001, high))
        ports = list(range(p, p + n)) + list(range(p + 10000, p + 10000 + n))
        if any(q in avoid for q in ports):
            continue
        ok = True
        for q in ports:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", q))
                except OSError:
                    ok = False
                    break
        if ok:
            return p
    raise AssertionError("no free ports for a %d-node Redis Cluster" % n)


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[-1][0] != "Z"
    except OSError:
        return False


def listening_addrs(pid):
    """(address, port) of every TCP socket in LISTEN that process pid owns."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", link)
        if m:
            inodes.add(m.group(1))
    out = []
    for name, v6 in (("tcp", False), ("tcp6", True)):
        try:
            with open("/proc/%d/net/%s" % (pid, name)) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[3] != "0A" or cols[9] not in inodes:  # 0A = LISTEN
                continue
            hexaddr, hexport = cols[1].split(":")
            raw = bytes.fromhex(hexaddr)
            # /proc prints each 32-bit word in host (little-endian) order.
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            addr = socket.inet_ntop(socket.AF_INET6 if v6 else socket.AF_INET, raw)
            out.append((addr, int(hexport, 16)))
    return out


def loopback(addr):
    return addr.startswith("127.") or addr == "::1" or addr.startswith("::ffff:127.")


class RunScript:
    """One scripts/run.sh process (its own session) and what it started."""

    def __init__(self, root, build, run_dir, nodes=1, redis="single"):
        self.root, self.build, self.run_dir, self.nodes = root, build, run_dir, nodes
        self.redis_mode = redis
        self.mqtt = free_block(nodes)
        self.ws = free_port()
        self.s3 = free_port()
        if redis == "cluster":
            # Six nodes from here up (redis-cluster.sh skips busy ports).
            avoid = set(range(self.mqtt, self.mqtt + nodes)) | {self.ws, self.s3}
            self.redis = free_cluster_base(8, avoid)
        else:
            self.redis = free_port()
        self.out_path = os.path.join(os.path.dirname(run_dir), "run-%d-%d.out" %
                                     (nodes, self.mqtt))
        self.proc = None
        self.pids = {}

    def start(self):
        env = dict(os.environ, MQTT_PORT=str(self.mqtt), WS_PORT=str(self.ws),
                   REDIS_PORT=str(self.redis), NODES=str(self.nodes), WEB="0",
                   REDIS=self.redis_mode, NODE_TIMEOUT_MS="2000", WAIT_REPLICAS="0",
                   S3_PORT=str(self.s3),
                   BUILD=self.build, RUN_DIR=self.run_dir)
        env.pop("MQCHAT_REDIS", None)
        env.pop("MQCHAT_REDIS_CLUSTER", None)
        with open(self.out_path, "wb") as out:
            self.proc = subprocess.Popen(["bash", os.path.join(self.root, "scripts", "run.sh")],
                                         stdout=out, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True, cwd=self.root)
        return self

    def output(self):
        try:
            with open(self.out_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def wait_ready(self):
        def ready():
            if "Press Ctrl-C" in self.output():
                return True
            if self.proc.poll() is not None:
                raise AssertionError("run.sh exited with %s:\n%s\n%s" %
                                     (self.proc.returncode, self.output(), self.logs()))
            return False
        wait_for(ready, timeout=START_TIMEOUT, what="run.sh to start the stack", interval=0.05)
        for name in os.listdir(self.run_dir):
            if name.endswith(".pid"):
                with open(os.path.join(self.run_dir, name)) as f:
                    self.pids[name[:-4]] = int(f.read())
        # A Redis Cluster's nodes (daemons, pid files per port).
        cdir = os.path.join(self.run_dir, "redis-cluster")
        for port in os.listdir(cdir) if os.path.isdir(cdir) else []:
            pidfile = os.path.join(cdir, port, "redis.pid")
            if os.path.exists(pidfile):
                with open(pidfile) as f:
                    self.pids["redis-" + port] = int(f.read())
        return self

    def logs(self):
        text = ""
        for name in sorted(os.listdir(self.run_dir)) if os.path.isdir(self.run_dir) else []:
            if name.endswith(".log"):
                with open(os.path.join(self.run_dir, name), errors="replace") as f:
                    text += "--- %s\n%s" % (name, f.read()[-2000:])
        return text

    def password(self, user):
        with open(os.path.join(self.run_dir, "demo-passwords")) as f:
            for line in f:
                u, pw = line.split()
                if u == user:
                    return pw
        raise AssertionError("no demo password for " + user)

    def stop(self):
        """SIGTERM the script (it stops its services); SIGKILL anything of
        ours still there after a deadline. Returns the pids that outlived
        the script's own cleanup."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        survivors = []
        deadline = time.monotonic() + 5
        for pid in self.pids.values():
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if pid_alive(pid):
                survivors.append(pid)
                os.kill(pid, signal.SIGKILL)
        return survivors


def fake_build(build):
    """The binaries run.sh expects under BUILD, copied from ctest's build."""
    for src, rel in ((PLUGIN, "mqchat_plugin.so"), (CLI, "cli/mqchat"),
                     (PUSH, "bridge/mqchat-push")):
        dst = os.path.join(build, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(src, dst)


class _Stack:
    """What Chat needs of a Stack, over a running make-run stack."""

    def __init__(self, port):
        self.port = port
        self.clients = []

    def client(self, user=None, password=None, protocol=None, client_id=None, connect=True,
               clean=True):
        from harness import V311, Client
        c = Client(self.port, user, password, protocol or V311, client_id, clean)
        self.clients.append(c)
        assert c.connect() == 0
        return c

    def close(self):
        for c in self.clients:
            c.close()


@unittest.skipIf(SANITIZE, "run.sh starts mosquitto without the sanitizer runtimes")
class MakeRunTest(unittest.TestCase):
    """The stack from a checkout in a 0700 directory."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mqchat-run-")  # mode 0700
        cls.rs = None
        try:
            os.chmod(cls.tmp, 0o700)
            cls.root = os.path.join(cls.tmp, "mqchat")
            # The scripts and configs as they stand in this tree (a clone of
            # the committed state would miss uncommitted edits).
            for d in ("scripts", "config"):
                shutil.copytree(os.path.join(SRC, d), os.path.join(cls.root, d))
            fake_build(os.path.join(cls.root, "build"))
            # s3rver from this tree's npm packages (installed by the
            # web_bundle fixture): run.sh starts it for attachments.
            mods = os.path.join(SRC, "web", "node_modules")
            if os.path.isdir(os.path.join(mods, "s3rver")):
                os.makedirs(os.path.join(cls.root, "web"))
                os.symlink(mods, os.path.join(cls.root, "web", "node_modules"))
            cls.rs = RunScript(cls.root, os.path.join(cls.root, "build"),
                                os.path.join(cls.root, ".run")).start().wait_ready()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.rs:
                cls.rs.stop()
        finally:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_alice_and_bob_chat(self):
        out = self.rs.output()
        m = re.search(r"share the direct conversation (\S+)\.", out)
        self.assertTrue(m and m.group(1) != "<conv>", out)
        conv = m.group(1)
        st = _Stack(self.rs.mqtt)
        try:
            a = Chat(st, "alice", self.rs.password("alice"))
            b = Chat(st, "bob", self.rs.password("bob"))
            a.send(conv, "hello-1", "hello bob")
            self.assertEqual(b.msg(conv, "hello-1")["body"], "hello bob")
        finally:
            st.close()

    def test_uploads_work_out_of_the_box(self):
        if not os.path.exists(os.path.join(self.root, "web", "node_modules", "s3rver")):
            self.skipTest("s3rver not installed (web/tools/prepare.sh)")
        import urllib.request
        self.assertIn("Files  s3rver http://127.0.0.1:%d" % self.rs.s3, self.rs.output())
        conv = re.search(r"share the direct conversation (\S+)\.", self.rs.output()).group(1)
        st = _Stack(self.rs.mqtt)
        try:
            a = Chat(st, "alice", self.rs.password("alice"))
            r = a.ok("upload", conv=conv, name="hi.txt", type="text/plain", size=5)
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            put = urllib.request.Request(r["put_url"], data=b"hello", method="PUT",
                                         headers=r["headers"])
            self.assertEqual(opener.open(put, timeout=10).status, 200)
            url = Chat(st, "bob", self.rs.password("bob")).ok("download", conv=conv,
                                                            key=r["key"])["url"]
            self.assertEqual(opener.open(url, timeout=10).read(), b"hello")
            self.assertTrue(os.path.isdir(os.path.join(self.rs.run_dir, "s3data", "mqchat")))
        finally:
            st.close()
        addrs = listening_addrs(self.rs.pids["s3rver"])
        self.assertTrue(addrs and all(loopback(a) for a, _ in addrs), addrs)

    def test_broker_listens_on_loopback_only(self):
        addrs = listening_addrs(self.rs.pids["mosquitto"])
        ports = sorted(p for _, p in addrs)
        self.assertIn(self.rs.mqtt, ports, addrs)
        self.assertIn(self.rs.ws, ports, addrs)
        for addr, port in addrs:
            self.assertTrue(loopback(addr), "mosquitto listens on %s port %d" % (addr, port))
        self.assertTrue(port_open(self.rs.ws))

    def test_second_start_refuses_and_leaves_the_first_running(self):
        second = RunScript(self.root, os.path.join(self.root, "build"),
                           os.path.join(self.root, ".run"), nodes=3).start()
        try:
            second.proc.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
        finally:
            extra = second.stop()
        out = second.output()
        self.assertEqual(second.proc.returncode, 1, out)
        self.assertIn("already running", out)
        self.assertIn("pid %d" % self.rs.pids["mosquitto"], out)
        self.assertEqual(extra, [])
        for name, pid in self.rs.pids.items():
            self.assertTrue(pid_alive(pid), "%s (pid %d) was stopped:\n%s" % (name, pid, out))
        self.assertIsNone(self.rs.proc.poll())
        self.assertTrue(port_open(self.rs.mqtt))
        self.assertFalse(port_open(second.mqtt + 1))


@unittest.skipIf(SANITIZE, "run.sh starts mosquitto without the sanitizer runtimes")
class MakeClusterTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mqchat-cluster-run-")
        self.rs = None
        build = os.path.join(self.tmp, "build")
        fake_build(build)
        self.rs = RunScript(SRC, build, os.path.join(self.tmp, "run"), nodes=3)

    def tearDown(self):
        try:
            if self.rs:
                self.rs.stop()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def test_a_dead_node_leaves_the_others_running(self):
        r = self.rs.start().wait_ready()
        s3 = os.path.exists(os.path.join(SRC, "web", "node_modules", "s3rver"))
        self.assertEqual(sorted(r.pids), ["mosquitto", "mosquitto-2", "mosquitto-3", "push",
                                          "redis"] + (["s3rver"] if s3 else []))
        os.kill(r.pids["mosquitto-2"], signal.SIGKILL)
        try:
            wait_for(lambda: "node local2" in r.output() and "keep running" in r.output(),
                     what="run.sh to report node local2")
        except AssertionError:
            raise AssertionError("run.sh did not report node local2:\n" + r.output())
        self.assertIn("127.0.0.1:%d" % (r.mqtt + 1), r.output())
        self.assertIsNone(r.proc.poll(), r.output())
        for name in ("mosquitto", "mosquitto-3", "redis", "push"):
            self.assertTrue(pid_alive(r.pids[name]), "%s stopped:\n%s" % (name, r.output()))
        st = _Stack(r.mqtt + 2)
        try:
            Chat(st, "alice", r.password("alice")).ok("convs")
        finally:
            st.close()
        self.assertEqual(r.stop(), [], "processes outlived the script's cleanup")
        self.assertEqual(r.proc.returncode, 0, r.output())


@unittest.skipIf(SANITIZE, "run.sh starts mosquitto without the sanitizer runtimes")
class MakeClusterOnRedisClusterTest(unittest.TestCase):
    """`make cluster REDIS=cluster`, from a checkout in a 0700 directory."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mqchat-rcluster-run-")  # mode 0700
        self.rs = None
        root = os.path.join(self.tmp, "mqchat")
        for d in ("scripts", "config"):
            shutil.copytree(os.path.join(SRC, d), os.path.join(root, d))
        fake_build(os.path.join(root, "build"))
        self.rs = RunScript(root, os.path.join(root, "build"), os.path.join(root, ".run"),
                            nodes=3, redis="cluster")

    def tearDown(self):
        try:
            if self.rs:
                self.rs.stop()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def redis_cli(self, *args):
        out = subprocess.run(["redis-cli", "-c", "-p", str(self.rs.redis)] + list(args),
                             capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout

    def test_alice_and_bob_chat_across_brokers_on_the_cluster(self):
        r = self.rs.start().wait_ready()
        out = r.output()
        nodes = sorted(k for k in r.pids if k.startswith("redis-"))
        self.assertEqual(len(nodes), 6, r.pids)
        self.assertEqual(sorted(k for k in r.pids if not k.startswith("redis-")),
                         ["mosquitto", "mosquitto-2", "mosquitto-3", "push"], r.pids)
        self.assertIn("cluster_size:3", self.redis_cli("cluster", "info"))
        self.assertIn("plugin_opt_redis_cluster_nodes 127.0.0.1:%d " % r.redis,
                      open(os.path.join(r.run_dir, "mosquitto-2.conf")).read())
        self.assertIn("redis_cluster_nodes 127.0.0.1:%d " % r.redis,
                      open(os.path.join(r.run_dir, "push-cluster.conf")).read())
        self.assertIn("--redis-cluster 127.0.0.1:%d," % r.redis, out)
        self.assertIn("share the Redis Cluster", out)
        m = re.search(r"share the direct conversation (\S+)\.", out)
        self.assertTrue(m and m.group(1) != "<conv>", out)
        conv = m.group(1)
        # alice on local1, bob on local2.
        sa, sb = _Stack(r.mqtt), _Stack(r.mqtt + 1)
        try:
            a = Chat(sa, "alice", r.password("alice"))
            b = Chat(sb, "bob", r.password("bob"))
            a.send(conv, "across-1", "hello bob, via the cluster")
            self.assertEqual(b.msg(conv, "across-1")["body"], "hello bob, via the cluster")
        finally:
            sa.close()
            sb.close()
        # Stored in the conversation's log on the cluster (redis-cli -c
        # follows the redirect to the slot's primary).
        log = self.redis_cli("xrange", "mqchat:{c:%s}:log" % conv, "-", "+")
        self.assertIn("hello bob, via the cluster", log)
        self.assertIn("across-1", log)
        # The doctor command it prints passes on this stack.
        m = re.search(r"^  (\S+ doctor --config \S+ --push-config \S+)$", out, re.M)
        self.assertTrue(m, out)
        doc = subprocess.run(m.group(1).split(), capture_output=True, text=True, timeout=60)
        self.assertEqual(doc.returncode, 0, doc.stdout + doc.stderr)
        self.assertIn("ok: Redis Cluster map loaded from the seeds: 3 primaries", doc.stdout)
        self.assertEqual(r.stop(), [], "processes outlived the script's cleanup:\n" + r.output())
        self.assertEqual(r.proc.returncode, 0, r.output())
        for name, pid in r.pids.items():
            self.assertFalse(pid_alive(pid), "%s (pid %d) still runs" % (name, pid))


if __name__ == "__main__":
    main()
