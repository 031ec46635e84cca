"""Membership in single-slot steps (issue #16, store/member.c): every Redis
call of create / add / remove / leave / block / sync touches one key slot
(checked on what the broker really sends, with MONITOR); the users' index
steps (mqc2_user_conv) are versioned, so concurrent adds and removes of the
same user from two brokers converge on the conversation's truth; a broker
killed (test hook) between the conversation step and the user steps leaves
a stale index that mqchat-push's expansion of the member job, or the next
add, repairs, after which the added user syncs the conversation; readers
skip a conversation of a stale index."""
import json
import os
import re
import socket
import tempfile
import threading
import unittest

from fakepush import FakePushServer, make_apns_key
from fanout import conv_jobs_key, slot_of
from harness import Chat, Cluster, SlotRedis, Stack, main, wait_for
from test_push_bridge import Bridge, remove_dir

P = "mqchat:"
TEAM, KID = "TEAM123456", "ABCDE12345"

# The functions this split made single-slot (and sync_conv, which reads members now).
MINE = {"mqc3_create_direct", "mqc3_create_group", "mqc3_change", "mqc2_user_conv",
        "mqc2_block_mark", "mqc2_sync_conv"}
OLD = {"mqc1_create_direct", "mqc2_create_group", "mqc2_change", "mqc1_block"}
ARG = re.compile(rb'"((?:[^"\\]|\\.)*)"')


def unrepr(b):
    """Undo Redis' sdscatrepr quoting of a MONITOR argument."""
    out, i = bytearray(), 0
    esc = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("a"): 7, ord("b"): 8,
           ord('"'): 34, ord("\\"): 92}
    while i < len(b):
        if b[i] == 92 and i + 1 < len(b):
            c = b[i + 1]
            if c == ord("x"):
                out.append(int(b[i + 2:i + 4], 16))
                i += 4
                continue
            out.append(esc.get(c, c))
            i += 2
            continue
        out.append(b[i])
        i += 1
    return bytes(out)


class Monitor:
    """Every command Redis runs, collected by a MONITOR connection."""

    def __init__(self, port):
        self.sk = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sk.sendall(b"MONITOR\r\n")
        self.f = self.sk.makefile("rb")
        assert self.f.readline().startswith(b"+OK")
        self.lines = []
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        try:
            for line in self.f:
                self.lines.append(line)
        except (OSError, ValueError):
            pass

    def commands(self):
        for line in list(self.lines):
            if line.startswith(b"+"):
                yield [unrepr(a) for a in ARG.findall(line)]

    def close(self):
        try:
            self.sk.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sk.close()


def fcall(redis, name, keys, args):
    return redis.call("FCALL", name, len(keys), *(list(keys) + list(args)))


def in_index(redis, user, conv):
    return redis.call("SISMEMBER", P + "{u:%s}:convs" % user, conv) == 1


def is_member(redis, user, conv):
    return redis.call("HEXISTS", P + "{c:%s}:members" % conv, user) == 1


def user_keys(user):
    return [P + "{u:%s}:%s" % (user, part) for part in ("user", "convs", "gone", "cver")]


class SingleSlotTest(unittest.TestCase):
    def test_every_call_of_membership_block_and_sync_is_single_slot(self):
        with Stack(options={"presence_grace_ms": 0}) as st:
            for u in ("alice", "bob", "carol", "dave"):
                st.add_user(u, u + "-pw")
            a, b, c = (Chat(st, u, u + "-pw") for u in ("alice", "bob", "carol"))
            tok = c.ok("sync")["next"]
            mon = Monitor(st.redis.port)
            try:
                a.ok("block", user="bob")
                a.direct("bob")  # marked: bob's sends refused; alice hidden from bob
                a.ok("unblock", user="bob")
                conv = a.group("slots", ["bob", "carol"])
                d = Chat(st, "dave", "dave-pw")
                d.ok("block", user="alice")
                self.assertEqual(a.req("add", conv=conv, members=["dave"])["code"], "forbidden")
                d.ok("unblock", user="alice")
                d.ok("block", user="carol")
                a.ok("add", conv=conv, members=["dave"])
                a.ok("add", conv=conv, members=["dave"])  # noop: re-applies dave's index
                a.ok("remove", conv=conv, members=["carol"])
                b.ok("leave", conv=conv)
                a.send(conv, "m1", "hello")
                a.msg(conv, "m1")
                c.ok("sync", since=tok)
                d.ok("sync")
                a.ok("unblock", user="dave")
                a.barrier()
            finally:
                mon.close()
            seen, bad = set(), []
            for cmd in mon.commands():
                if not cmd:
                    continue
                name = cmd[0].upper()
                if name == b"FCALL":
                    fn, nkeys = cmd[1].decode(), int(cmd[2])
                    self.assertNotIn(fn, OLD)
                    if fn not in MINE:
                        continue
                    seen.add(fn)
                    keys = [k.decode() for k in cmd[3:3 + nkeys]]
                    if len({slot_of(k) for k in keys}) != 1:
                        bad.append((fn, keys))
                elif name in (b"SMISMEMBER", b"SMEMBERS", b"SISMEMBER", b"SADD", b"SREM",
                              b"EXISTS"):
                    if name == b"EXISTS" and len(cmd) != 2:
                        bad.append(cmd)
            self.assertEqual(bad, [])
            self.assertEqual(seen, MINE)
            # the users' indexes are the conversations' truth
            for u in ("alice", "bob", "carol", "dave"):
                self.assertEqual(in_index(st.redis, u, conv), is_member(st.redis, u, conv), u)


class UserStepTest(unittest.TestCase):
    def test_user_conv_is_versioned_and_idempotent(self):
        """Out at mver 6 then in at mver 5 (arriving late) stays out; the
        same step twice changes nothing; a deleted user gets no keys."""
        with Stack() as st:
            st.add_user("ed", "ed-pw")
            r = st.redis
            k = user_keys("ed")
            self.assertEqual(fcall(r, "mqc2_user_conv", k, ["g-x", 5, "in", 100]), [b"ok", 1])
            self.assertEqual(fcall(r, "mqc2_user_conv", k, ["g-x", 5, "in", 100]), [b"ok", 0])
            self.assertTrue(in_index(r, "ed", "g-x"))
            self.assertEqual(fcall(r, "mqc2_user_conv", k, ["g-x", 7, "out", 200]), [b"ok", 1])
            self.assertEqual(fcall(r, "mqc2_user_conv", k, ["g-x", 6, "in", 100]), [b"ok", 0])
            self.assertFalse(in_index(r, "ed", "g-x"))
            self.assertEqual(r.call("ZSCORE", P + "{u:ed}:gone", "g-x"), b"200")
            self.assertEqual(fcall(r, "mqc2_user_conv", k, ["g-x", 8, "in", 300]), [b"ok", 1])
            self.assertTrue(in_index(r, "ed", "g-x"))
            self.assertIsNone(r.call("ZSCORE", P + "{u:ed}:gone", "g-x"))
            ghost = user_keys("ghost")
            self.assertEqual(fcall(r, "mqc2_user_conv", ghost, ["g-x", 1, "in", 1]), [b"ok", 0])
            self.assertEqual(r.call("EXISTS", *ghost), 0)

    def test_sync_skips_a_conversation_of_a_stale_index(self):
        """A conversation listed in a user's index where the user is neither
        a member nor removed yields nothing to the user's sync."""
        with Stack() as st:
            for u in ("fay", "gus", "hal"):
                st.add_user(u, u + "-pw")
            f, h = Chat(st, "fay", "fay-pw"), Chat(st, "hal", "hal-pw")
            tok = h.ok("sync")["next"]
            conv = f.direct("gus")
            f.send(conv, "s1", "secret")
            f.msg(conv, "s1")
            st.redis.call("SADD", P + "{u:hal}:convs", conv)
            res = h.ok("sync", since=tok)
            self.assertEqual([e for e in res["events"] if e.get("conv") == conv], [])


class ClusterNodeTest(unittest.TestCase):
    def test_functions_run_on_a_cluster_node(self):
        """The steps, called with the keys the store gives them, run on a
        cluster node (no undeclared key of another slot is touched); the
        node does refuse a cross-slot call."""
        d = tempfile.mkdtemp(prefix="mqchat-member-cl-")
        self.addCleanup(remove_dir, d)
        r = SlotRedis(d)
        r.start()
        self.addCleanup(r.stop)
        lib = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "store",
                           "mqchat.lua")
        with open(lib, "rb") as f:
            r.call("FUNCTION", "LOAD", "REPLACE", f.read())
        for u in ("ada", "bo", "cy"):
            r.call("HSET", P + "{u:%s}:user" % u, "created", 1)
        conv = "g-cluster0001"

        def ck(part):
            return P + "{c:%s}:%s" % (conv, part)
        ckeys = [ck("meta"), ck("members"), ck("log"), ck("rcpt"), conv_jobs_key(conv)]
        out = fcall(r, "mqc3_create_group", ckeys, ["ada", conv, "t", 1, 10, "ada", "0", "bo", "0"])
        self.assertEqual(out[:3], [b"ok", 1, 1])
        out = fcall(r, "mqc3_change", ckeys, ["ada", "add", conv, 2, 10, "cy", "0"])
        self.assertEqual(out[0], b"ok")
        mver = out[2]
        self.assertEqual(fcall(r, "mqc2_user_conv", user_keys("cy"), [conv, mver, "in", 5]),
                         [b"ok", 1])
        out = fcall(r, "mqc3_change", ckeys, ["ada", "remove", conv, 3, 10, "cy", "0"])
        self.assertEqual(out[0], b"ok")
        self.assertEqual(fcall(r, "mqc2_user_conv", user_keys("cy"), [conv, out[2], "out", 6]),
                         [b"ok", 1])
        self.assertEqual(fcall(r, "mqc3_change", ckeys, ["ada", "add", conv, 4, 10, "bo", "0"])[0],
                         b"noop")
        self.assertEqual(fcall(r, "mqc3_change", ckeys, ["bo", "leave", conv, 5, 10, "bo", "0"])[0],
                         b"ok")
        direct = "d-cluster0002"
        dk = [P + "{c:%s}:meta" % direct, P + "{c:%s}:members" % direct]
        self.assertEqual(fcall(r, "mqc3_create_direct", dk,
                               ["ada", "bo", direct, 1, "0", "0", "1"])[:2], [b"ok", 1])
        self.assertEqual(fcall(r, "mqc2_block_mark", dk[:1], ["bo", "unblock"]), [b"ok"])
        out = fcall(r, "mqc2_sync_conv", [ck("meta"), ck("rcpt"), ck("log"), ck("tomb"),
                                          ck("members")], ["cy", 0, 0, 1 << 50, 10, 65536])
        self.assertEqual(out[0], b"ok")
        self.assertEqual(len(out[2::3]), 2)  # cy saw its add and removal
        with self.assertRaises(AssertionError) as e:
            fcall(r, "mqc2_user_conv", [P + "{u:ada}:user", P + "{u:bo}:convs",
                                        P + "{u:ada}:gone", P + "{u:ada}:cver"],
                  [conv, 9, "in", 1])
        self.assertIn("CROSSSLOT", str(e.exception))


class ConvergeTest(unittest.TestCase):
    def test_concurrent_add_and_remove_from_two_brokers(self):
        with Cluster(n=2, options={"presence_grace_ms": 0}) as cl:
            for u in ("ann", "ben", "dan"):
                cl.add_user(u, u + "-pw")
            a1 = Chat(cl.node(0), "ann", "ann-pw", client_id="ann-1")
            a2 = Chat(cl.node(1), "ann", "ann-pw", client_id="ann-2")
            conv = a1.group("race", ["ben"])
            r = cl.redis

            def req(chat, op):
                chat.n += 1
                rid = "race%d-%s" % (chat.n, id(chat))
                chat.c.publish("chat/u/ann/req", json.dumps(
                    {"op": op, "conv": conv, "members": ["dan"], "req": rid}), wait=False)
                return rid

            def reply(chat, rid):
                return chat.event(lambda e: e.get("req") == rid and e.get("t") in ("res", "err"),
                                  what="reply %s" % rid)

            for i in range(20):
                first, second = ("add", "remove") if i % 2 == 0 else ("remove", "add")
                r1, r2 = req(a1, first), req(a2, second)
                self.assertEqual(reply(a1, r1)["t"], "res")
                self.assertEqual(reply(a2, r2)["t"], "res")
                member = is_member(r, "dan", conv)
                self.assertEqual(in_index(r, "dan", conv), member, "round %d" % i)
                gone = r.call("ZSCORE", P + "{u:dan}:gone", conv) is not None
                self.assertEqual(gone, not member, "round %d" % i)
                mver = r.call("HGET", P + "{c:%s}:meta" % conv, "mver")
                self.assertEqual(r.call("HGET", P + "{u:dan}:cver", conv), mver, "round %d" % i)


class CrashTest(unittest.TestCase):
    """kill -9 of the broker between the conversation step and the user
    steps of an add."""

    def crashed_add(self, st):
        for u in ("ivy", "jon", "kim"):
            st.add_user(u, u + "-pw")
        i = Chat(st, "ivy", "ivy-pw")
        tok = Chat(st, "kim", "kim-pw").ok("sync")["next"]
        conv = i.group("crash", ["jon"])  # membership change 1
        i.c.publish("chat/u/ivy/req", json.dumps(
            {"op": "add", "conv": conv, "members": ["kim"], "req": "crash"}), wait=False)
        wait_for(lambda: not st.broker.alive(), what="the broker to kill itself")
        self.assertTrue(is_member(st.redis, "kim", conv))
        self.assertFalse(in_index(st.redis, "kim", conv))  # the user step never ran
        st.broker.proc = None
        st.broker.options.pop("test_crash_after_member_steps")
        st.broker.start()
        return conv, tok

    def assert_synced(self, st, conv, tok):
        k = Chat(st, "kim", "kim-pw")
        ev = [e for e in k.ok("sync", since=tok)["events"] if e.get("conv") == conv]
        self.assertEqual([(e["seq"], e["op"], e["users"]) for e in ev], [(2, "added", ["kim"])])
        self.assertIn(conv, [c["conv"] for c in k.ok("convs")["items"]])

    def test_bridge_repairs_the_index(self):
        d = tempfile.mkdtemp(prefix="mqchat-member-")
        self.addCleanup(remove_dir, d)
        srv = FakePushServer(workdir=d)
        self.addCleanup(srv.stop)
        p8, _ = make_apns_key(d, key_id=KID)
        with Stack(options={"presence_grace_ms": 0, "test_crash_after_member_steps": 2}) as st:
            conv, tok = self.crashed_add(st)
            br = Bridge(d, {"redis_url": st.redis.url(), "apns_base_url": srv.url,
                            "apns_sandbox_base_url": srv.url, "apns_key_file": p8,
                            "apns_key_id": KID, "apns_team_id": TEAM, "ca_file": srv.ca_file,
                            "stats_interval_seconds": 0, "consumer": "push1"})
            self.addCleanup(br.stop)
            br.start()
            wait_for(lambda: in_index(st.redis, "kim", conv), timeout=20,
                     what="mqchat-push to repair kim's index")
            self.assert_synced(st, conv, tok)

    def test_next_add_repairs_the_index(self):
        with Stack(options={"presence_grace_ms": 0, "test_crash_after_member_steps": 2}) as st:
            conv, tok = self.crashed_add(st)
            i = Chat(st, "ivy", "ivy-pw")
            i.ok("add", conv=conv, members=["kim"])  # noop, and the repair
            self.assertTrue(in_index(st.redis, "kim", conv))
            self.assert_synced(st, conv, tok)


if __name__ == "__main__":
    main()
