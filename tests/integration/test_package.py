"""The Debian package (`make package`): built with cpack from this build,
installed with apt-get (as root, dependencies from Debian), its files where
they belong (conffiles in /etc, an all-commented Mosquitto snippet, a unit
systemd-analyze accepts), then a real chat through the installed files only:
redis-server and mosquitto on free loopback ports with the snippet's lines
uncommented, users made with the installed `mqchat`, which also passes its
own doctor; mosquitto_pub/mosquitto_sub carry the chat. Purged at the end,
every file gone.

It changes the machine (installs a package), so it runs only with
MQCHAT_PACKAGE_TEST=1 (ctest -L package; .ci/run sets it) and as root, and
never when an mqchat package is installed already."""
import glob
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from harness import PLUGIN, Redis, free_port, port_open, wait_for

ENABLED = os.environ.get("MQCHAT_PACKAGE_TEST") == "1"
BUILD = os.path.dirname(PLUGIN)
FILES = [
    "/usr/lib/mqchat/mqchat_plugin.so",
    "/usr/bin/mqchat",
    "/usr/bin/mqchat-push",
    "/etc/mosquitto/conf.d/mqchat.conf",
    "/etc/mqchat/mqchat-push.conf",
    "/lib/systemd/system/mqchat-push.service",
    "/usr/share/doc/mqchat/README.md",
    "/usr/share/doc/mqchat/CONFIG.md",
    "/usr/share/doc/mqchat/OPERATIONS.md",
]
CONFFILES = ["/etc/mosquitto/conf.d/mqchat.conf", "/etc/mqchat/mqchat-push.conf"]
# Snippet lines the test turns on, with the value it needs (None: as shipped).
ENABLE = {
    "per_listener_settings": None, "allow_anonymous": None, "set_tcp_nodelay": None,
    "max_packet_size": None, "plugin": None, "plugin_opt_redis_host": None,
    "plugin_opt_key_prefix": None, "plugin_opt_node_id": None,
}


def installed():
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "mqchat"], capture_output=True,
                       text=True)
    return "install ok installed" in r.stdout


def run(args, **kw):
    r = subprocess.run(args, capture_output=True, text=True, timeout=kw.pop("timeout", 120),
                       **kw)
    assert r.returncode == 0, "%s failed (%d):\n%s\n%s" % (args, r.returncode, r.stdout,
                                                           r.stderr)
    return r.stdout


class Sub:
    """mosquitto_sub -v on one topic; lines collected by a thread."""

    def __init__(self, port, user, password, topic):
        self.lines = queue.Queue()
        self.p = subprocess.Popen(["stdbuf", "-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p",
                                   str(port), "-u", user, "-P", password, "-t", topic, "-q",
                                   "1", "-d", "-v"],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()
        self.wait(lambda l: "SUBACK" in l, "SUBACK for " + topic)

    def _read(self):
        for line in self.p.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait(self, pred, what, timeout=15):
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            seen.append(line)
            if pred(line):
                return line
        raise AssertionError("timed out waiting for %s; got %r" % (what, seen[-10:]))

    def event(self, pred, what):
        """The first inbox event (JSON after the topic) matching pred."""
        def match(line):
            if not line.startswith("chat/"):
                return False
            return pred(json.loads(line.split(" ", 1)[1]))
        return json.loads(self.wait(match, what).split(" ", 1)[1])

    def close(self):
        self.p.terminate()
        self.p.wait(timeout=10)


@unittest.skipUnless(ENABLED, "set MQCHAT_PACKAGE_TEST=1 to build and install the package")
class PackageTest(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("installing a package needs root")
        if installed():
            self.skipTest("an mqchat package is installed already: not touching it")
        self.dir = tempfile.mkdtemp(prefix="mqchat-pkg-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.procs = []
        self.addCleanup(self.stop_all)

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if installed():
            subprocess.run(["dpkg", "--purge", "mqchat"], capture_output=True, timeout=120)

    def build_deb(self):
        out = os.path.join(self.dir, "pkg")
        run(["cpack", "-G", "DEB", "-B", out, "--config",
             os.path.join(BUILD, "CPackConfig.cmake")], timeout=300)
        debs = glob.glob(os.path.join(out, "mqchat_*.deb"))
        self.assertEqual(len(debs), 1, debs)
        return debs[0]

    def mosquitto_conf(self, mqtt_port, redis_port):
        """The installed snippet with the lines a deployment turns on."""
        with open("/etc/mosquitto/conf.d/mqchat.conf") as f:
            snippet = f.read().splitlines()
        live = [l for l in snippet if l.strip() and not l.lstrip().startswith("#")]
        self.assertEqual(live, [], "the snippet must be all comments until edited")
        lines = ["listener %d 127.0.0.1" % mqtt_port, "log_dest stderr", "log_type all",
                 "persistence false", "plugin_opt_redis_port %d" % redis_port]
        on = set()
        for l in snippet:
            if l.startswith("#") and len(l) > 1 and l[1] != " ":
                key = l[1:].split(" ", 1)[0]
                if key in ENABLE and key not in on:
                    lines.append(l[1:])
                    on.add(key)
        self.assertEqual(on, set(ENABLE), "snippet lacks some lines")
        # plugin_opt_* lines must follow the plugin line.
        lines.append(lines.pop(4))
        path = os.path.join(self.dir, "mosquitto.conf")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def test_install_chat_purge(self):
        t0 = time.monotonic()
        deb = self.build_deb()
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run(["apt-get", "install", "-y", "--no-install-recommends", deb], env=env, timeout=300)
        self.assertTrue(installed())
        for f in FILES:
            self.assertTrue(os.path.isfile(f), f)
        conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", "mqchat"])
        for f in CONFFILES:
            self.assertIn(f, conffiles)
        deps = run(["dpkg-query", "-W", "-f=${Depends}", "mqchat"])
        for d in ("mosquitto", "libhiredis0.14", "libcjson1", "libcurl4", "libsodium23",
                  "libssl3"):
            self.assertIn(d, deps)
        if shutil.which("systemd-analyze"):
            r = subprocess.run(["systemd-analyze", "verify",
                                "/lib/systemd/system/mqchat-push.service"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertNotIn("mqchat-push.service:", r.stderr)

        redis = Redis(self.dir)
        redis.start()
        self.addCleanup(redis.stop)
        mqtt_port = free_port()
        conf = self.mosquitto_conf(mqtt_port, redis.port)
        log = open(os.path.join(self.dir, "mosquitto.log"), "wb")
        broker = subprocess.Popen(["mosquitto", "-c", conf], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.procs.append(broker)
        wait_for(lambda: broker.poll() is None and port_open(mqtt_port), 15, "mosquitto")

        for user in ("alice", "bob"):
            run(["/usr/bin/mqchat", "--redis", redis.url(), "user", "add", user,
                 "--password-stdin"], input="pw-%s\n" % user)
        r = subprocess.run(["/usr/bin/mqchat", "doctor", "--config", conf], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout)

        bob = Sub(mqtt_port, "bob", "pw-bob", "chat/u/bob/inbox")
        self.addCleanup(bob.close)
        # A request's reply goes to the connection that sent it: mosquitto_rr.
        out = run(["mosquitto_rr", "-h", "127.0.0.1", "-p", str(mqtt_port), "-u", "alice",
                   "-P", "pw-alice", "-t", "chat/u/alice/req", "-e", "chat/u/alice/inbox",
                   "-W", "15", "-m", '{"op":"create","req":"r1","kind":"direct","with":"bob"}'])
        res = json.loads(out.splitlines()[0])
        self.assertEqual((res.get("t"), res.get("req")), ("res", "r1"), res)
        conv = res["conv"]
        run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(mqtt_port), "-u", "alice", "-P",
             "pw-alice", "-q", "1", "-t", "chat/c/%s/send" % conv,
             "-m", '{"id":"m1","body":"hello from the package"}'])
        msg = bob.event(lambda e: e.get("t") == "msg" and e.get("id") == "m1", "bob's msg")
        self.assertEqual(msg["body"], "hello from the package")
        self.assertEqual(msg["from"], "alice")
        self.assertEqual(msg["seq"], 1)

        self.stop_all_but_package(broker, bob)
        run(["dpkg", "--purge", "mqchat"])
        self.assertFalse(installed())
        for f in FILES + ["/usr/lib/mqchat", "/etc/mqchat", "/usr/share/doc/mqchat"]:
            self.assertFalse(os.path.exists(f), f + " left behind")
        self.assertLess(time.monotonic() - t0, 300)

    def stop_all_but_package(self, broker, *subs):
        for s in subs:
            s.close()
        broker.terminate()
        broker.wait(timeout=15)


if __name__ == "__main__":
    unittest.main(verbosity=2, warnings="ignore")
