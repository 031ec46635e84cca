"""The store on a Redis Cluster (issue #16): a broker whose store goes
through the slot router (plugin_opt_redis_cluster_nodes) against a real
3 primaries + 3 replicas cluster (cluster_harness.py, shared by this
module through harness.py's cluster mode). Users whose keys live on
different shards exchange messages, history and sync work, `mqchat
--redis-cluster user add` creates users, and with
plugin_opt_redis_wait_replicas 1 a kill -9 of the primary serving a
conversation's slot in the middle of a 5,000-send burst makes senders see
`unavailable`, then succeed on retry once a replica took over, with every
acknowledged message in the conversation's log exactly once and each
member's sync gapless with exactly those messages.

Label `cluster` (`ctest -L cluster`)."""
import os
import subprocess
import threading
import time
import unittest

os.environ["MQC_TEST_REDIS"] = "cluster"  # before harness reads it

import harness  # noqa: E402
from harness import (DEFAULT_TIMEOUT, Chat, Stack, log_ids, main, slot_of,  # noqa: E402
                     sync_all_events, wait_for)

PREFIX = "mqchat:"


def user_slot(user):
    return slot_of(("%s{u:%s}:user" % (PREFIX, user)).encode())


def conv_slot(conv):
    return slot_of(("%s{c:%s}:log" % (PREFIX, conv)).encode())


def users_on_distinct_shards(cluster, n):
    """n user names whose keys are served by n different primaries."""
    picked, owners = [], set()
    for i in range(1000):
        name = "u%d" % i
        owner = cluster.owner(user_slot(name))
        if owner not in owners:
            owners.add(owner)
            picked.append(name)
        if len(picked) == n:
            return picked
    raise AssertionError("could not spread users over %d shards" % n)


class ClusterStoreTest(unittest.TestCase):
    def test_a_sharded_users_message_history_sync(self):
        cluster = harness._shared_cluster()
        a, b, c = users_on_distinct_shards(cluster, 3)
        with Stack(options={"rate_msgs": 0}) as st:
            for u in (a, b, c):
                st.add_user(u, u + "-pw")  # mqchat --redis-cluster user add
            listed = st.cli("user", "list")
            self.assertEqual(listed.returncode, 0, listed.stderr)
            self.assertEqual(sorted(listed.stdout.split()), sorted((a, b, c)))
            # each user's record is on its own primary
            owners = {cluster.owner(user_slot(u)) for u in (a, b, c)}
            self.assertEqual(len(owners), 3)
            ca, cb, cc = (Chat(st, u, u + "-pw") for u in (a, b, c))
            since_b = cb.ok("sync")["next"]
            d = ca.direct(b)
            g = ca.group("spread", [b, c])
            for i in range(20):
                ca.send(d, "d%d" % i, "hello %d" % i)
                ca.send(g, "g%d" % i, "all %d" % i)
            for i in range(20):
                self.assertEqual(cb.msg(d, "d%d" % i)["body"], "hello %d" % i)
                self.assertEqual(cc.msg(g, "g%d" % i)["seq"], cb.msg(g, "g%d" % i)["seq"])
            h = cb.ok("history", conv=d, limit=50)
            self.assertEqual([x["id"] for x in h["items"] if x["t"] == "msg"],
                             ["d%d" % i for i in range(20)])
            events, token = [], since_b
            for _ in range(20):
                r = cb.ok("sync", since=token, limit=100)
                events += r["events"]
                token = r["next"]
                if not r["more"]:
                    break
            got = {(e.get("conv"), e.get("id")) for e in events if e.get("t") == "msg"}
            for i in range(20):
                self.assertIn((d, "d%d" % i), got)
                self.assertIn((g, "g%d" % i), got)
            self.assertIn("store: connected to redis (cluster=", st.broker.log_text())

    def test_b_bad_cluster_options_refused(self):
        with Stack() as st:
            bad = harness.Broker(st.dir, st.redis.port, {"redis_cluster_nodes": "nohostport"},
                                 name="bad")
            bad.start(wait=False)
            try:
                wait_for(lambda: bad.proc.poll() is not None, what="the bad broker to exit")
                self.assertIn("redis_cluster_nodes", bad.log_text())
            finally:
                bad.stop()
            r = subprocess.run([harness.CLI, "--redis-cluster", "x:notaport", "user", "list"],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 2)
            self.assertIn("--redis-cluster", r.stderr)

    def test_c_doctor_on_a_cluster(self):
        with Stack() as st:
            r = subprocess.run([harness.CLI, "doctor", "--config", st.broker.conf_path],
                               capture_output=True, text=True, timeout=60)
            out = r.stdout + r.stderr
            self.assertIn("Redis Cluster map loaded from the seeds: 3 primaries", out)
            self.assertEqual(out.count("reachable, cluster state ok"), 3, out)
            self.assertEqual(out.count("function library mqchat_v2 loaded on"), 3, out)

    def test_z_wait_replicas_failover_burst(self):
        """Last: it kills a primary of the module's cluster (restarted after,
        as a replica). 5,000 sends (2,000 in the sanitizer build), window
        64, WAIT 1: a kill -9 of the conversation's primary a quarter in.
        Senders see `unavailable` and succeed on retry with the same id;
        every acknowledged message is in the log exactly once, and each
        member's sync (the real op, from a token taken before the burst) is
        gapless and holds exactly the acknowledged messages, once each."""
        cluster = harness._shared_cluster()
        n = int(os.environ.get("MQC_FAILOVER_SENDS", "2000" if harness.SANITIZE else "5000"))
        with Stack(options={"rate_msgs": 0, "redis_wait_replicas": 1}) as st:
            st.add_user("alice", "alice-pw")
            st.add_user("bob", "bob-pw")
            ca, cb = Chat(st, "alice", "alice-pw"), Chat(st, "bob", "bob-pw")
            conv = ca.direct("bob")
            tokens = {"alice": ca.ok("sync")["next"], "bob": cb.ok("sync")["next"]}
            victim = cluster.owner(conv_slot(conv))
            acked, unavailable = set(), 0
            refused = set()  # ids answered `unavailable` at least once
            pending = {}  # id -> time sent
            window, next_i, killed = 64, 0, False
            healed = {}
            times = {}

            def heal():
                try:
                    healed["port"] = cluster.wait_failover(victim, conv_slot(conv), timeout=60)
                    healed["promoted"] = time.monotonic()
                    cluster.restart(victim)
                    healed["ok"] = True
                except BaseException as e:  # reported by the main thread
                    healed["error"] = e

            healer = threading.Thread(target=heal, daemon=True)
            started = time.monotonic()
            deadline = started + 240
            while len(acked) < n:
                self.assertLess(time.monotonic(), deadline,
                                "burst stuck: %d of %d acknowledged\n%s" %
                                (len(acked), n, st.broker.log_tail()))
                while next_i < n and len(pending) < window:
                    mid = "m%d" % next_i
                    ca.send(conv, mid, "b%d" % next_i, wait=False)
                    pending[mid] = time.monotonic()
                    next_i += 1
                if not killed and len(acked) >= n // 4:
                    cluster.kill9_primary(victim)
                    times["kill"] = time.monotonic()
                    killed = True
                    # The shard's replica takes over and has no replica of
                    # its own: WAIT 1 cannot be met until the dead node is
                    # back (as a replica), as a supervisor would restart it.
                    healer.start()
                e = ca.event(lambda e: e.get("conv") == conv and e.get("t") in ("msg", "err") or
                             (e.get("t") == "err" and e.get("id") in pending),
                             timeout=DEFAULT_TIMEOUT * 3, what="an answer to a send")
                mid = e.get("id")
                if mid not in pending:
                    continue
                if e["t"] == "msg":
                    self.assertEqual(e.get("body"), "b%s" % mid[1:])
                    acked.add(mid)
                    del pending[mid]
                    if refused and "first_ok" not in times:
                        times["first_ok"] = time.monotonic()
                elif e.get("code") == "unavailable":
                    unavailable += 1
                    refused.add(mid)
                    times.setdefault("first_unavailable", time.monotonic())
                    ca.send(conv, mid, "b%s" % mid[1:], wait=False)  # same id, same body
                    pending[mid] = time.monotonic()
                else:
                    self.fail("unexpected answer %r" % e)
            burst_s = time.monotonic() - started
            self.assertTrue(killed)
            healer.join(timeout=60)
            self.assertTrue(healed.get("ok"), "failover or restart failed: %r" % healed)
            self.assertGreater(unavailable, 0, "the failover was not seen by any sender")
            # every send refused once succeeded on a retry with its id
            self.assertEqual(refused - acked, set())
            ids = log_ids(st, conv)
            self.assertEqual(len(ids), len(set(ids)), "a message stored twice")
            self.assertEqual(set(ids), acked)
            for who, chat in (("alice", ca), ("bob", cb)):
                events = sync_all_events(chat, tokens[who])
                mine = [e for e in events if e.get("conv") == conv]
                seqs = [e["seq"] for e in mine]
                self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))),
                                 "%s's sync has a gap or a repeat" % who)
                got = [e["id"] for e in mine if e.get("t") == "msg"]
                self.assertEqual(len(got), len(set(got)), "%s's sync repeats a message" % who)
                self.assertEqual(set(got), acked, "%s's sync is not the acked set" % who)
            h = cb.ok("history", conv=conv, limit=5)
            self.assertTrue(h["items"])
            print("failover burst: %d sends in %.1f s (the first %d in %.1f s, before the "
                  "kill), %d unavailable answers retried "
                  "(%d distinct ids), first success %.2f s after the kill "
                  "(first unavailable %.2f s after), replica serving the slot %.2f s "
                  "after the kill" %
                  (n, burst_s, n // 4, times["kill"] - started, unavailable, len(refused),
                   times["first_ok"] - times["kill"],
                   times["first_unavailable"] - times["kill"],
                   healed["promoted"] - times["kill"]))
        cluster.wait_ok()


if __name__ == "__main__":
    main()
