"""The user-side store operations in single-slot steps (issue #16): `convs`,
presence contacts, node reset, `mqchat user add/list/del` and `mqchat store
upgrade`, run against a redis-server started with `cluster-enabled yes` and
all 16384 slots assigned to it. Such a Redis refuses (CROSSSLOT, or "Script
attempted to access keys that do not hash to the same slot") any command or
function call that touches two slots, so every step these paths take is
proven single-slot with every key declared. Conversations are written with
raw commands (their creation is another part of #16). Also: convs with 200
conversations and a stale index entry, user del re-run after a crash
half-way (its first step done by hand), node reset with users on several
conversations and nodes, the users index repaired after a creation stopped
between its two steps."""
import json
import tempfile
import unittest

from harness import (Broker, Chat, SlotRedis, Stack, conv_jobs, crc16, inbox_barrier, jobs_key, main,
                     wait_for)

P = "mqchat:"


def slot(key):
    """The Redis Cluster slot of key (hash tags as core/slot.c)."""
    k = key.encode() if isinstance(key, str) else key
    a = k.find(b"{")
    if a >= 0:
        b = k.find(b"}", a + 1)
        if b > a + 1:
            k = k[a + 1:b]
    return crc16(k) % 16384


class SlotStack(Stack):
    """Stack on a SlotRedis; Redis starts first (data can be written before
    the broker starts: start_broker)."""

    def __init__(self, options=None):
        self.dir = tempfile.mkdtemp(prefix="mqchat-slot-")
        self.redis = SlotRedis(self.dir)
        self.options = options
        self.broker = None
        self.clients = []

    def __enter__(self):
        try:
            self.redis.start()
        except BaseException:
            self.close(failed=True)
            raise
        return self

    def start_broker(self):
        self.broker = Broker(self.dir, self.redis.port, self.options)
        self.broker.start()


def member_ev(conv, seq, op, users, by):
    return json.dumps({"t": "member", "conv": conv, "seq": seq, "op": op, "users": users,
                       "by": by, "ts": 1000}, separators=(",", ":"))


def write_conv(r, conv, kind, members, msgs=0, reads=None, index=True):
    """A conversation as the create functions write it, with msgs messages
    after it (seq 2.. for a group, 1.. for a direct) and read cursors."""
    first = members[0]
    base = P + "{c:%s}:" % conv
    seq = 0
    if kind == "group":
        seq = 1
        r("XADD", base + "log", "1-0", "e", member_ev(conv, 1, "added", members, first),
          "t", 1000, "m", 0)
    for i in range(msgs):
        seq += 1
        ev = json.dumps({"t": "msg", "conv": conv, "seq": seq, "from": first, "id": "m%d" % seq,
                         "body": "hi", "ts": 1000 + seq})
        r("XADD", base + "log", "%d-0" % seq, "e", ev, "t", 1000 + seq, "m", i + 1)
    r("HSET", base + "meta", "kind", kind, "title", conv if kind == "group" else "",
      "created", 1000, "creator", first, "seq", seq, "mver", 1, "mc", msgs, "lt", 1000 + seq)
    for u in members:
        r("HSET", base + "members", u, "admin" if (u == first and kind == "group") else "member")
        if index:
            r("SADD", P + "{u:%s}:convs" % u, conv)
    for u, s in (reads or {}).items():
        r("HSET", base + "rcpt", "r:" + u, s, "d:" + u, s)
    return seq


def left_events(r, conv):
    out = []
    for _id, f in r("XRANGE", P + "{c:%s}:log" % conv, "-", "+"):
        e = json.loads(dict(zip(f[::2], f[1::2]))[b"e"])
        if e.get("t") == "member" and e.get("op") == "left":
            out.append(e)
    return out


class SingleSlotUserTest(unittest.TestCase):
    def stack(self, options=None):
        st = SlotStack(options).__enter__()
        self.addCleanup(st.__exit__, None, None, None)
        self.r = st.redis.call
        return st

    def no_cross_slot(self, st, *outputs):
        text = (st.broker.log_text() if st.broker else "") + "".join(outputs)
        for bad in ("CROSSSLOT", "same slot", "non local key"):
            self.assertNotIn(bad, text)

    def test_convs_contacts_and_node_reset(self):
        st = self.stack({"node_id": "n1", "presence_grace_ms": 0})
        for u in ("alice", "bob", "carol", "dave", "erin"):
            st.add_user(u, u + "-pw")
        # 198 groups and 2 direct conversations of alice's; bob and carol
        # share many of them (users on several conversations).
        convs = {}
        for i in range(198):
            c = "g%03d" % i
            members = ["alice", "bob"] + (["carol"] if i % 2 else [])
            convs[c] = write_conv(self.r, c, "group", members, msgs=i % 7,
                                  reads={"alice": min(3, 1 + i % 7)})
        convs["dab"] = write_conv(self.r, "dab", "direct", ["alice", "bob"], msgs=4,
                                  reads={"alice": 1})
        convs["dae"] = write_conv(self.r, "dae", "direct", ["alice", "erin"], msgs=0)
        # Stale index entries: a conversation alice was removed from (x:
        # cursor, not a member) and one that no longer exists.
        write_conv(self.r, "gone1", "group", ["bob", "carol"], msgs=2, index=False)
        self.r("HSET", P + "{c:gone1}:rcpt", "x:alice", 2)
        self.r("SADD", P + "{u:alice}:convs", "gone1", "nosuch")
        # erin blocks alice; alice blocks dave (dave shares g000 with alice).
        self.r("SADD", P + "{u:erin}:blocked", "alice")
        self.r("SADD", P + "{u:alice}:blocked", "dave")
        self.r("HSET", P + "{c:g000}:members", "dave", "member")
        self.r("SADD", P + "{u:dave}:convs", "g000")
        # Node n1 "crashed" showing bob, carol and dave present; carol is
        # also online on n2.
        self.r("SADD", P + "{n:n1}:users", "bob", "carol", "dave")
        self.r("HSET", P + "{u:bob}:presence", "s:n1", "online", "d:n1", 1, "state", "online",
               "devices", 1, "last_seen", 111, "node", "n1")
        self.r("HSET", P + "{u:carol}:presence", "s:n1", "online", "d:n1", 1, "s:n2", "online",
               "d:n2", 1, "state", "online", "devices", 2, "last_seen", 222, "node", "n2")
        self.r("HSET", P + "{u:dave}:presence", "s:n1", "away", "d:n1", 1, "state", "away",
               "devices", 1, "last_seen", 333, "node", "n1")

        st.start_broker()  # node reset of n1 at start
        wait_for(lambda: self.r("EXISTS", P + "{n:n1}:users") == 0 and
                 self.r("HGET", P + "{u:bob}:presence", "state") == b"offline",
                 what="node n1 reset")
        self.assertEqual(self.r("HMGET", P + "{u:bob}:presence", "state", "last_seen", "s:n1"),
                         [b"offline", b"111", None])
        self.assertEqual(self.r("HMGET", P + "{u:dave}:presence", "state", "s:n1"),
                         [b"offline", None])
        self.assertEqual(self.r("HMGET", P + "{u:carol}:presence", "state", "s:n1", "s:n2"),
                         [b"online", None, b"online"])

        # convs: 200 conversations, sorted, the stale entries skipped, the
        # same shape and unread counts as a single call gave.
        alice = Chat(st, "alice", "alice-pw")
        items = alice.ok("convs")["items"]
        got = [i["conv"] for i in items]
        self.assertEqual(got, sorted(convs))
        by = {i["conv"]: i for i in items}
        g5 = by["g005"]  # 5 msgs (seq 2..6), read 3: msgs at 4, 5, 6 unread
        self.assertEqual((g5["kind"], g5["last_seq"], g5["read_seq"], g5["unread"]),
                         ("group", 6, 3, 3))
        self.assertEqual((sorted(g5["members"]), g5["admins"]), (["alice", "bob", "carol"],
                                                                 ["alice"]))
        dab = by["dab"]
        self.assertEqual((dab["kind"], dab["last_seq"], dab["read_seq"], dab["unread"]),
                         ("direct", 4, 1, 3))

        # contacts: alice sees bob's presence; erin (blocks alice) is hidden.
        aw = st.client("alice", "alice-pw", client_id="alice-w")
        self.assertEqual(aw.subscribe("chat/u/alice/inbox"), [1])
        self.assertEqual(aw.subscribe("chat/presence/bob"), [1])
        self.assertEqual(aw.subscribe("chat/presence/erin"), [1])
        bob = st.client("bob", "bob-pw")
        erin = st.client("erin", "erin-pw")
        bob.publish("chat/presence/bob", '{"state":"away"}')
        erin.publish("chat/presence/erin", '{"state":"away"}')
        aw.expect(lambda m: m.topic == "chat/presence/bob" and not m.retain and
                  json.loads(m.payload)["state"] == "away", what="bob away for alice")
        self.assertEqual([m for m in inbox_barrier(aw, "alice")
                          if m.topic == "chat/presence/erin" and not m.retain], [])
        # dave (blocked by alice) does not see alice's presence.
        dw = st.client("dave", "dave-pw")
        self.assertEqual(dw.subscribe("chat/u/dave/inbox"), [1])
        self.assertEqual(dw.subscribe("chat/presence/alice"), [1])
        alice.c.publish("chat/presence/alice", '{"state":"away"}')
        bw = st.client("bob", "bob-pw", client_id="bob-w")
        self.assertEqual(bw.subscribe("chat/presence/alice"), [1])
        bw.expect(lambda m: m.topic == "chat/presence/alice", what="alice's presence for bob")
        self.assertEqual([m for m in inbox_barrier(dw, "dave")
                          if m.topic == "chat/presence/alice" and not m.retain], [])
        self.no_cross_slot(st)

    def test_device_token_moves_between_users(self):
        """device / undevice in single-slot steps (store/device.c): a token
        registered by another user leaves the first owner's devices and the
        index names the new owner; undevice clears both; a Redis that
        refuses cross-slot calls runs all of it."""
        st = self.stack()
        st.start_broker()
        for u in ("ann", "ben"):
            st.add_user(u, u + "-pw")
        ann = Chat(st, "ann", "ann-pw")
        ann.ok("device", platform="fcm", token="tok-1", app="com.example.chat", sandbox=False)
        self.assertEqual(self.r("GET", P + "devtoken:tok-1"), b"ann")
        self.assertEqual(self.r("HGET", P + "{u:ann}:devices", "tok-1"),
                         b"fcm\ncom.example.chat\n0")
        ben = Chat(st, "ben", "ben-pw")
        ben.ok("device", platform="apns", token="tok-1", app="com.example.chat", sandbox=True)
        self.assertEqual(self.r("GET", P + "devtoken:tok-1"), b"ben")
        self.assertIsNone(self.r("HGET", P + "{u:ann}:devices", "tok-1"))
        self.assertEqual(self.r("HGET", P + "{u:ben}:devices", "tok-1"),
                         b"apns\ncom.example.chat\n1")
        # ann removing a token she no longer owns leaves ben's alone.
        ann.ok("undevice", token="tok-1")
        self.assertEqual(self.r("GET", P + "devtoken:tok-1"), b"ben")
        ben.ok("undevice", token="tok-1")
        self.assertIsNone(self.r("GET", P + "devtoken:tok-1"))
        self.assertIsNone(self.r("HGET", P + "{u:ben}:devices", "tok-1"))
        ann.close()
        ben.close()
        self.no_cross_slot(st)

    def test_user_del_rerun_after_crash(self):
        st = self.stack({"node_id": "n1", "presence_grace_ms": 0})
        for u in ("zed", "alice", "bob"):
            st.add_user(u, u + "-pw")
        write_conv(self.r, "g1", "group", ["zed", "alice", "bob"], msgs=3)
        write_conv(self.r, "g2", "group", ["alice", "zed"], msgs=1)
        write_conv(self.r, "g3", "group", ["zed"], msgs=1)
        write_conv(self.r, "d1", "direct", ["zed", "alice"], msgs=2, reads={"zed": 2})
        self.r("HSET", P + "{u:zed}:devices", "tok-z", "apns\ncom.x\n0")
        self.r("SET", P + "devtoken:tok-z", "zed")
        self.r("HSET", P + "{u:zed}:presence", "s:n1", "online", "d:n1", 1, "state", "online")
        self.r("SADD", P + "{n:n1}:users", "zed")
        self.r("SADD", P + "{u:zed}:blocked", "mallory")
        st.start_broker()
        alice = Chat(st, "alice", "alice-pw")

        # A first run that stopped after its step in g1 (done by hand, the
        # same call store/user_del.c makes).
        res = self.r("FCALL", "mqc2_user_leave", 7,
                     *[P + "{c:g1}:" + p for p in ("meta", "members", "rcpt", "log", "ids",
                                                  "tomb")],
                     jobs_key("g1"),
                     "zed", "g1", 5000)
        self.assertEqual(res[:2], [b"ok", b"left"])

        out = st.cli("user", "del", "zed")
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = out.stdout.splitlines()
        for want in ("already out of conversation g1", "left group g2",
                     "left direct conversation d1", "deleted conversation (no member left) g3",
                     "deleted user zed", "left 1 group(s)"):
            self.assertIn(want, lines)
        # g2's left event reaches alice live (presence says she is on n1).
        ev = alice.event(lambda e: e.get("t") == "member" and e.get("conv") == "g2",
                         what="left event in g2")
        self.assertEqual((ev["op"], ev["users"]), ("left", ["zed"]))
        # Exactly one left event per group, each with its job.
        for c in ("g1", "g2"):
            self.assertEqual(len(left_events(self.r, c)), 1, c)
            self.assertEqual(len([j for j in conv_jobs(st.redis, c) if j.get("u") == "zed"]), 1)
        self.assertEqual(self.r("EXISTS", P + "{c:g3}:meta", P + "{c:g3}:log"), 0)
        self.assertEqual(self.r("HKEYS", P + "{c:d1}:members"), [b"alice"])
        self.assertEqual(self.r("HGET", P + "{c:d1}:rcpt", "r:zed"), None)
        self.assertIsNone(self.r("GET", P + "devtoken:tok-z"))
        self.assertEqual(self.r("SISMEMBER", P + "users", "zed"), 0)
        self.assertEqual(self.r("SISMEMBER", P + "{n:n1}:users", "zed"), 0)
        cursor, keys = self.r("SCAN", 0, "MATCH", P + "{u:zed}:*", "COUNT", 10000)
        self.assertEqual(keys, [])
        # A third run: nothing left to delete.
        again = st.cli("user", "del", "zed")
        self.assertNotEqual(again.returncode, 0)
        self.no_cross_slot(st, out.stderr, again.stderr)

    def test_user_index_and_upgrade(self):
        st = self.stack()
        st.add_user("amy", "amy-pw")
        self.assertEqual(self.r("HGET", P + "{u:amy}:user", "ix"), None)
        # A creation stopped between its steps: record with ix, no index entry.
        self.r("HSET", P + "{u:ned}:user", "pw", "x", "created", 1, "ix", 1)
        # An index entry whose record is gone.
        self.r("SADD", P + "users", "ghost")
        out = st.cli("user", "list")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.split(), ["amy"])
        again = st.cli("user", "add", "ned", "--password-stdin", input="pw\n")
        self.assertNotEqual(again.returncode, 0)  # exists, but its index step is redone
        self.assertEqual(st.cli("user", "list").stdout.split(), ["amy", "ned"])
        self.assertEqual(self.r("HGET", P + "{u:ned}:user", "ix"), None)
        # store upgrade (v1 layout: no mc/lt, no unread hash, a timeline).
        write_conv(self.r, "c1", "group", ["amy", "ned"], msgs=4, reads={"amy": 2})
        self.r("HDEL", P + "{c:c1}:meta", "mc", "lt")
        self.r("ZADD", P + "{u:amy}:tl", 1, "x")
        up = st.cli("store", "upgrade")
        self.assertEqual(up.returncode, 0, up.stderr + up.stdout)
        self.assertEqual(self.r("HMGET", P + "{u:amy}:unread", "c:c1", "r:c1", "total"),
                         [b"5", b"2", b"3"])
        self.assertEqual(self.r("EXISTS", P + "{u:amy}:tl"), 0)
        self.no_cross_slot(st, out.stderr, up.stderr)


if __name__ == "__main__":
    main()
