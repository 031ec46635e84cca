"""plugin_opt_redis_wait_replicas on ONE Redis with a replica (issue #16):
a send is acknowledged only once the replica holds it (one WAIT per batch,
store/batch.c); with the replica gone the send answers `unavailable` (the
message is stored, not confirmed) and the retry with the same id, once the
replica is back, is deduplicated: stored exactly once, delivered to the
other member once."""
import os
import subprocess
import unittest

from harness import DEFAULT_TIMEOUT, Chat, Stack, free_port, main, wait_for


class Replica:
    """A redis-server replicating the stack's Redis."""

    def __init__(self, workdir, primary_port):
        self.dir = os.path.join(workdir, "replica")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.primary_port = primary_port
        self.proc = None

    def start(self):
        log = open(os.path.join(self.dir, "redis.log"), "ab")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
             "--save", "", "--appendonly", "no", "--replicaof", "127.0.0.1",
             str(self.primary_port)], stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def connected_replicas(stack):
    """Replicas online (done with their first sync: WAIT counts only those)."""
    text = stack.redis.call("INFO", "replication").decode()
    return sum(1 for line in text.splitlines()
               if line.startswith("slave") and "state=online" in line)


class WaitReplicasTest(unittest.TestCase):
    def test_send_confirmed_by_replica_then_unavailable_then_deduplicated(self):
        with Stack(options={"redis_wait_replicas": 1, "rate_msgs": 0}) as st:
            rep = Replica(st.dir, st.redis.port)
            # the replica's full sync starts at once (default: 5 s later)
            st.redis.call("CONFIG", "SET", "repl-diskless-sync-delay", "0")
            try:
                rep.start()
                wait_for(lambda: connected_replicas(st) == 1, what="the replica to attach")
                st.add_user("alice", "a")
                st.add_user("bob", "b")
                a, b = Chat(st, "alice", "a"), Chat(st, "bob", "b")
                conv = a.direct("bob")
                for i in range(50):
                    a.send(conv, "ok%d" % i, "x")
                for i in range(50):
                    self.assertEqual(a.msg(conv, "ok%d" % i)["seq"], i + 1)
                rep.stop()
                wait_for(lambda: connected_replicas(st) == 0, what="the replica to be gone")
                a.send(conv, "lost", "y")
                e = a.event(lambda e: e.get("id") == "lost", what="the answer to 'lost'")
                self.assertEqual((e["t"], e.get("code")), ("err", "unavailable"), e)
                rep.start()
                wait_for(lambda: connected_replicas(st) == 1, what="the replica to come back")
                # retry with the same id until confirmed (a replica resync
                # may take a moment; each answer is a condition, not a sleep)
                got = None
                for _ in range(50):
                    a.send(conv, "lost", "y")
                    e = a.event(lambda e: e.get("id") == "lost", timeout=DEFAULT_TIMEOUT)
                    if e["t"] == "msg":
                        got = e
                        break
                self.assertIsNotNone(got, "the retry was never confirmed")
                self.assertEqual(got["seq"], 51)  # stored once, by the first attempt
                self.assertEqual(b.msg(conv, "lost")["seq"], 51)
                h = b.ok("history", conv=conv, limit=5)
                self.assertEqual([x.get("id") for x in h["items"]].count("lost"), 1)
            finally:
                rep.stop()


if __name__ == "__main__":
    main()
