"""Fault injection, all on loopback and bounded in time: the broker killed -9
in the middle of a burst, Redis killed mid-burst and restarted, Redis hung
with a send written (reply lost), the push bridge killed mid-batch in a full
chain, and slow or hostile clients (one that never reads, half packets,
thousands of connections opened and dropped, huge history requests never
read) while others keep talking. Senders retry with the same ids
until they see their own copy (the app-level ack); afterwards every message
is stored exactly once with gapless seqs and every recipient syncs all of
them exactly once. The number of faults survived is printed at the end."""
import json
import os
import signal
import socket
import threading
import time
import unittest

import paho.mqtt.client as mqtt

import harness
from harness import (DEFAULT_TIMEOUT, SANITIZE, Chat, Stack, connect_packet, main,
                     mqtt_packet, mqtt_str, raw_connect, wait_for)

# 10k messages in both builds (about 8 s each under ASan); MQCHAT_FAULT_BURST
# overrides it for a quick run.
BURST = int(os.environ.get("MQCHAT_FAULT_BURST", 10000))
SLOW = 3 if SANITIZE else 1
FAULTS = []


def fault(name):
    FAULTS.append(name)


def tearDownModule():
    print("\nfaults survived: %d (%s)" % (len(FAULTS), "; ".join(FAULTS)))


def redis_events(redis, conv):
    """The conversation log as stored: [(seq, event dict)]."""
    out = []
    for sid, fields in redis.call("XRANGE", "mqchat:{c:%s}:log" % conv, "-", "+"):
        f = dict(zip(fields[::2], fields[1::2]))
        out.append((int(sid.split(b"-")[0]), json.loads(f[b"e"])))
    return out


class Sender:
    """A device that sends ids[] into conv and resends every id it has not
    seen echoed (its own copy of the stored message) after `resend` seconds,
    or soon after an err, through disconnects: the client side of
    exactly-once. Its own paho thread; pump() is called from the test."""

    WINDOW = 100

    def __init__(self, port, user, password, conv, n, resend):
        self.user, self.conv, self.resend = user, conv, resend
        self.ids = ["%s-%05d" % (user, i) for i in range(n)]
        self.next = 0
        self.due = {}        # id -> monotonic time of the next (re)send
        self.echo = {}       # id -> seq
        self.conflicts = []  # (id, seq, other seq): a second copy stored
        self.errs = {}
        self.resent = 0
        self.disconnects = 0
        self.ready = False
        self.lock = threading.Lock()
        self.inbox = "chat/u/%s/inbox" % user
        self.c = mqtt.Client(client_id="burst-%s-%d" % (user, os.getpid()), clean_session=True)
        self.c.username_pw_set(user, password)
        self.c.max_inflight_messages_set(self.WINDOW)
        self.c.reconnect_delay_set(min_delay=0.05, max_delay=0.5)
        self.c.on_connect = self.on_connect
        self.c.on_subscribe = lambda c, u, mid, q: setattr(self, "ready", q == (1,))
        self.c.on_disconnect = self.on_disconnect
        self.c.on_message = self.on_message
        self.c.connect_async("127.0.0.1", port, keepalive=30)
        self.c.loop_start()

    def on_connect(self, c, u, flags, rc):
        if rc == 0:
            c.subscribe(self.inbox, 1)

    def on_disconnect(self, c, u, rc):
        self.ready = False
        self.disconnects += 1

    def on_message(self, c, u, m):
        e = json.loads(m.payload)
        with self.lock:
            if e.get("t") == "msg" and e.get("from") == self.user and e["conv"] == self.conv:
                old = self.echo.setdefault(e["id"], e["seq"])
                if old != e["seq"]:
                    self.conflicts.append((e["id"], old, e["seq"]))
                self.due.pop(e["id"], None)
            elif e.get("t") == "err" and e.get("id") in self.due:
                self.errs[e["code"]] = self.errs.get(e["code"], 0) + 1
                self.due[e["id"]] = min(self.due[e["id"]], time.monotonic() + 0.2)

    def pump(self):
        if not self.ready:
            return
        now = time.monotonic()
        with self.lock:
            again = [i for i, t in self.due.items() if t <= now]
            self.resent += len(again)
            while len(self.due) < self.WINDOW and self.next < len(self.ids):
                again.append(self.ids[self.next])
                self.next += 1
            for i in again:
                self.due[i] = now + self.resend
        for i in again:
            self.c.publish("chat/c/%s/send" % self.conv,
                           json.dumps({"id": i, "body": "body of " + i}), qos=1)

    def done(self):
        with self.lock:
            return len(self.echo) == len(self.ids)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


class FaultTest(unittest.TestCase):
    def burst_stack(self):
        st = Stack(options={"rate_msgs": 0, "rate_bytes": 0, "rate_reqs": 0})
        st.__enter__()
        self.addCleanup(st.close)
        return st

    def run_burst(self, st, on_progress, senders_n=4, recipients_n=2):
        """BURST messages from senders_n users into one group with
        recipients_n more members; on_progress(total echoed, senders) is
        called as the burst goes (it injects the fault). Then checks the
        store and every recipient's sync. Returns the senders."""
        names = ["s%d" % i for i in range(senders_n)]
        rnames = ["r%d" % i for i in range(recipients_n)]
        for u in names + rnames:
            st.add_user(u, u + "-pw")
        recips = [Chat(st, u, u + "-pw") for u in rnames]
        tokens = {r.user: r.ok("sync")["next"] for r in recips}
        creator = Chat(st, names[0], names[0] + "-pw")
        conv = creator.group("burst", names[1:] + rnames)
        creator.close()
        per = BURST // senders_n
        senders = [Sender(st.broker.port, u, u + "-pw", conv, per, resend=2.0 * SLOW)
                   for u in names]
        deadline = time.monotonic() + 150 * SLOW
        while not all(s.done() for s in senders):
            self.assertLess(time.monotonic(), deadline, "burst did not finish: %r" %
                            [(s.user, len(s.echo), s.errs) for s in senders])
            on_progress(sum(len(s.echo) for s in senders), senders)
            for s in senders:
                s.pump()
            time.sleep(0.002)
        on_progress(None, senders)
        total = per * senders_n
        for s in senders:
            self.assertEqual(s.conflicts, [], "a message stored twice")
            s.close()

        # The store: every message once, seqs 1 (the group's creation) .. total+1.
        stored = redis_events(st.redis, conv)
        self.assertEqual([seq for seq, _ in stored], list(range(1, total + 2)))
        self.assertEqual([e["seq"] for _, e in stored], list(range(1, total + 2)))
        msgs = {(e["from"], e["id"]): e["seq"] for _, e in stored if e["t"] == "msg"}
        self.assertEqual(len(msgs), total)
        for s in senders:
            for i, seq in s.echo.items():
                self.assertEqual(msgs[(s.user, i)], seq)
        by_seq = {e["seq"]: e["id"] for _, e in stored if e["t"] == "msg"}

        # Live deliveries: nothing anyone saw is missing or different in the store.
        for r in recips:
            live = [json.loads(m.payload) for m in r.c.drain() if m.topic == r.inbox]
            live += r.backlog
            for e in live:
                if e.get("t") == "msg":
                    self.assertEqual(by_seq.get(e["seq"]), e["id"],
                                     "%s saw a message that is not stored as such" % r.user)
            r.close()

        # Sync from the token taken before the burst: everything, exactly once.
        for u in rnames:
            r = Chat(st, u, u + "-pw")
            got, since = [], tokens[u]
            while True:
                res = r.ok("sync", since=since, limit=1000)
                self.assertFalse(res["reset"])
                got += res["events"]
                since = res["next"]
                if not res["more"]:
                    break
            seqs = [e["seq"] for e in got if e["conv"] == conv]
            self.assertEqual(sorted(seqs), list(range(1, total + 2)), "sync of " + u)
            self.assertEqual(len(got), total + 1)
            r.close()
        return senders

    def test_broker_kill9_mid_burst(self):
        st = self.burst_stack()
        first = st.broker.proc.pid
        killed = []

        def progress(n, senders):
            if n is not None and n >= BURST // 3 and not killed:
                killed.append(st.broker.kill9_restart())
                fault("broker kill -9 after %d of %d messages echoed" % (n, BURST))

        senders = self.run_burst(st, progress)
        self.assertEqual(len(killed), 1, "the broker was never killed")
        for s in senders:  # every sender lost its connection and had to resend
            self.assertGreaterEqual(s.disconnects, 1, s.user)
            self.assertGreater(s.resent, 0, s.user)
        self.assertNotEqual(killed[0], first)
        st.broker.check_sanitizers()

    def test_redis_killed_mid_burst(self):
        st = self.burst_stack()
        pid = st.broker.proc.pid
        phase = ["before"]

        def progress(n, senders):
            if phase[0] == "before" and n is not None and n >= BURST // 3:
                st.redis.kill()
                phase[0] = "down"
            elif phase[0] == "down" and sum(s.errs.get("unavailable", 0)
                                            for s in senders) >= 10:
                st.redis.start()  # same port and dir: the AOF (fsync always) comes back
                phase[0] = "up"
                fault("redis kill -9 mid-burst (%s)" % ", ".join(
                    "%s: %d unavailable" % (s.user, s.errs.get("unavailable", 0))
                    for s in senders))

        senders = self.run_burst(st, progress)
        self.assertEqual(phase[0], "up")
        self.assertGreater(sum(s.errs.get("unavailable", 0) for s in senders), 0)
        self.assertEqual(st.broker.proc.pid, pid)  # the broker never restarted
        self.assertTrue(st.broker.alive())

    def test_push_chain_with_bridge_kill(self):
        from fakepush import FakePushServer, make_apns_key, make_service_account
        from test_push_bridge import KID, PUSH, TEAM, Bridge, remove_dir
        if not PUSH:
            self.skipTest("MQCHAT_PUSH not set")
        import tempfile
        d = tempfile.mkdtemp(prefix="mqchat-fault-push-")
        self.addCleanup(remove_dir, d)  # runs last: after every process stopped
        srv = FakePushServer(workdir=d)
        self.addCleanup(srv.stop)
        p8, _ = make_apns_key(d, key_id=KID)
        sa, _ = make_service_account(d, srv.token_uri)
        st = Stack(options={"presence_grace_ms": 0}).__enter__()
        self.addCleanup(st.close)
        bridge = Bridge(d, {"redis_url": st.redis.url(), "apns_base_url": srv.url,
                            "apns_sandbox_base_url": srv.url, "apns_key_file": p8,
                            "apns_key_id": KID, "apns_team_id": TEAM, "fcm_base_url": srv.url,
                            "fcm_service_account_file": sa, "ca_file": srv.ca_file,
                            "request_timeout_ms": 1500, "stats_interval_seconds": 0,
                            "max_attempts": 8})
        self.addCleanup(bridge.stop)
        users = {"pa": ("apns", "ab" * 32, "com.example.chat"),
                 "pb": ("fcm", "fcm-fault-token", "fault-project")}
        st.add_user("sender", "sender-pw")
        for u, (plat, tok, app) in users.items():
            st.add_user(u, u + "-pw")
            c = Chat(st, u, u + "-pw")
            c.ok("device", platform=plat, token=tok, app=app)
            c.close()
            wait_for(lambda: st.redis.call("HGET", "mqchat:{u:%s}:presence" % u,
                                           "devices") == b"0", what=u + " offline")
        for plat, tok, _ in users.values():
            srv.behave(tok, [("delay", 1.0)] * 3)  # slow: jobs are in flight when killed
        sender = Chat(st, "sender", "sender-pw")
        conv = sender.group("pushes", list(users))
        n = 12
        for i in range(n):
            sender.send(conv, "p%d" % i, "push %d" % i)
            sender.msg(conv, "p%d" % i)
        # one job per stored event (the group's creation and n messages) in
        # the conversation's slot stream: mqchat-push expands them to a push
        # job per offline member with a device
        self.assertEqual(len(harness.conv_jobs(st.redis, conv)), n + 1)
        bridge.start()
        srv.wait_requests(1, timeout=15 * SLOW)
        bridge.stop(sig=signal.SIGKILL)  # mid-batch: some sent, some in flight, none acked
        pending = st.redis.call("XPENDING", "mqchat:{push}", "mqchat-push")[0]
        self.assertGreater(pending, 0, "no job was in flight when the bridge died")
        fault("push bridge kill -9 mid-batch (%d jobs in flight)" % pending)
        bridge.start()

        def delivered():
            ok = set()
            for r in srv.requests():
                if r.status != 200 or r.kind not in ("apns", "fcm"):
                    continue
                j = r.json()
                seq = j["seq"] if r.kind == "apns" else int(j["message"]["data"]["seq"])
                ok.add((r.token, seq))
            return ok

        want = {(tok, seq) for _, tok, _ in users.values() for seq in range(1, n + 2)}
        wait_for(lambda: delivered() >= want, timeout=60 * SLOW,
                 what="every push delivered at least once")
        self.assertEqual(delivered(), want)

    # -- slow and hostile clients ------------------------------------------

    def test_slow_and_hostile_clients(self):
        st = Stack(options={"rate_msgs": 0, "rate_bytes": 0, "rate_reqs": 0})
        st.__enter__()
        self.addCleanup(st.close)
        for u in ("p1", "p2", "flood", "slow", "churn"):
            st.add_user(u, u + "-pw")
        port = st.broker.port
        p1, p2 = Chat(st, "p1", "p1-pw"), Chat(st, "p2", "p2-pw")
        pconv = p1.direct("p2")
        deadline = 10.0 * SLOW  # generous: a round trip is ~1 ms when idle
        probe = {"rounds": 0, "worst": 0.0, "error": None}
        stop = threading.Event()

        def probe_loop():
            i = 0
            try:
                while not stop.is_set():
                    i += 1
                    t0 = time.monotonic()
                    p1.send(pconv, "probe%d" % i, "ping", timeout=deadline)
                    p2.msg(pconv, "probe%d" % i, timeout=deadline)
                    probe["worst"] = max(probe["worst"], time.monotonic() - t0)
                    probe["rounds"] += 1
            except Exception as e:  # reported by the main thread
                probe["error"] = e

        th = threading.Thread(target=probe_loop, daemon=True)
        th.start()
        self.addCleanup(stop.set)

        def rounds_pass(k=3):
            """k more probe round trips complete (or the probe failed)."""
            start = probe["rounds"]
            wait_for(lambda: probe["error"] or probe["rounds"] >= start + k,
                     timeout=deadline * (k + 1), what="probe rounds")
            self.assertIsNone(probe["error"])

        rounds_pass()

        # 1. Two clients that subscribe to their inbox and never read, on a
        #    tiny receive buffer (QoS 1 and QoS 0 subscriptions), flooded.
        readers = []
        for qos in (1, 0):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
            s.settimeout(DEFAULT_TIMEOUT)
            s.connect(("127.0.0.1", port))
            s.sendall(connect_packet("slow", "slow-pw", "slow-q%d" % qos))
            self.assertEqual(s.recv(4), b"\x20\x02\x00\x00")
            s.sendall(mqtt_packet(0x82, b"\x00\x01" + mqtt_str("chat/u/slow/inbox") + bytes([qos])))
            self.assertEqual(s.recv(5), b"\x90\x03\x00\x01" + bytes([qos]))
            readers.append(s)
        flood = Chat(st, "flood", "flood-pw")
        fconv = flood.direct("slow")
        n, body = 3000, "F" * 2000
        for i in range(n):
            flood.send(fconv, "f%d" % i, body, wait=(i % 200 == 199))
        seen = set()

        def echoed():
            for m in flood.c.drain():
                e = json.loads(m.payload)
                if e.get("t") == "msg" and e.get("conv") == fconv:
                    seen.add(e["id"])
            return len(seen) == n

        wait_for(echoed, timeout=60 * SLOW, what="the flood to be stored and echoed")
        fault("two subscribers that never read, flooded with %d x 2 KB" % n)
        rounds_pass()
        log = st.broker.log_text()
        self.assertIn("Outgoing messages are being dropped for client slow-q1", log)

        # 2. Half a CONNECT, and half a PUBLISH after a good CONNECT, then stall.
        half = []
        s = socket.create_connection(("127.0.0.1", port), timeout=DEFAULT_TIMEOUT)
        s.sendall(connect_packet("churn", "churn-pw", "half-connect")[:9])
        half.append(s)
        s = raw_connect(port, "churn", "churn-pw", "half-publish")
        pub = mqtt_packet(0x32, mqtt_str("chat/c/%s/send" % pconv) + b"\x00\x07" +
                          json.dumps({"id": "h", "body": "x" * 1000}).encode())
        s.sendall(pub[:40])
        half.append(s)
        fault("half a CONNECT, stalled")
        fault("half a PUBLISH, stalled")
        rounds_pass()

        # 3. 5000 connections opened and dropped: TCP only, full logins
        #    dropped without DISCONNECT (some with RST), a few bad passwords.
        total, batch, logins = 5000, 250, 0
        for b in range(total // batch):
            socks = []
            for i in range(batch):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.settimeout(DEFAULT_TIMEOUT)
                s.connect(("127.0.0.1", port))
                kind = i % 3
                if kind:
                    pw = "wrong" if (i == 1 and b % 5 == 0) else "churn-pw"
                    s.sendall(connect_packet("churn", pw, "churn-%d-%d" % (b, i)))
                socks.append((s, kind))
            for s, kind in socks:
                if kind:
                    ack = s.recv(4)
                    self.assertIn(ack[:3], (b"\x20\x02\x00", b""), ack)
                    logins += ack == b"\x20\x02\x00\x00"
                if kind == 2:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 (1).to_bytes(4, "little") + (0).to_bytes(4, "little"))
                s.close()
            self.assertIsNone(probe["error"])
        self.assertGreater(logins, total // 2)
        fault("%d connections opened and dropped (%d logins)" % (total, logins))
        rounds_pass()

        stop.set()
        th.join(timeout=deadline * 2)
        self.assertIsNone(probe["error"])
        for s in readers + half:
            s.close()
        self.assertTrue(st.broker.alive())
        # the broker is still fully usable: a new login, a new conversation
        late = Chat(st, "churn", "churn-pw")
        c2 = late.direct("p1")
        late.send(c2, "after", "all of that")
        self.assertEqual(p1.msg(c2, "after")["from"], "churn")
        st.broker.check_sanitizers()
        print("\nprobe: %d round trips, worst %.3f s" % (probe["rounds"], probe["worst"]))

    def test_big_history_requests_do_not_starve_others(self):
        """A user with a conversation of large messages asks for history over
        and over on a socket it never reads. Each page stops at about 512 KB,
        so the pipeline to Redis stays small: nobody else's operations time
        out (before the cap, 30 such requests made one 360 MB reply batch,
        the Redis connection timed out and every operation in flight, other
        users' sends included, was answered unavailable)."""
        st = Stack(options={"rate_msgs": 0, "rate_bytes": 0, "rate_reqs": 0})
        st.__enter__()
        self.addCleanup(st.close)
        for u in ("hoard", "friend", "p1", "p2"):
            st.add_user(u, u + "-pw")
        h = Chat(st, "hoard", "hoard-pw")
        conv = h.direct("friend")
        n, big = 200, "B" * 60000
        for i in range(n):
            h.send(conv, "big%d" % i, big, wait=(i % 20 == 19))
        h.msg(conv, "big%d" % (n - 1), timeout=DEFAULT_TIMEOUT * 3)
        # paging through the whole history: bounded pages, every event once
        seen, before = [], None
        while True:
            kw = {"before": before} if before else {}
            page = h.ok("history", conv=conv, limit=200, **kw)
            size = sum(len(json.dumps(e)) for e in page["items"])
            self.assertLessEqual(size, 600 * 1024)
            seen = [e["seq"] for e in page["items"]] + seen
            if not page["more"]:
                break
            self.assertTrue(page["items"])
            before = page["items"][0]["seq"]
        self.assertEqual(seen, list(range(1, n + 1)))

        p1, p2 = Chat(st, "p1", "p1-pw"), Chat(st, "p2", "p2-pw")
        pconv = p1.direct("p2")
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        s.settimeout(DEFAULT_TIMEOUT)
        s.connect(("127.0.0.1", st.broker.port))
        s.sendall(connect_packet("hoard", "hoard-pw", "hoard-slow"))
        self.assertEqual(s.recv(4), b"\x20\x02\x00\x00")
        s.sendall(mqtt_packet(0x82, b"\x00\x01" + mqtt_str("chat/u/hoard/inbox") + b"\x01"))
        self.assertEqual(s.recv(5), b"\x90\x03\x00\x01\x01")
        self.addCleanup(s.close)
        reqs = b"".join(mqtt_packet(0x30, mqtt_str("chat/u/hoard/req") + json.dumps(
            {"op": "history", "req": "h%d" % i, "conv": conv, "limit": 200}).encode())
            for i in range(30))
        for i in range(20):
            if i == 5:
                s.sendall(reqs)
            p1.send(pconv, "during%d" % i, "x", wait=False)
        for i in range(20):
            e = p1.event(lambda e: e.get("id") == "during%d" % i)
            self.assertEqual(e["t"], "msg", e)
            p2.msg(pconv, "during%d" % i)
        # every history request was answered (not with unavailable) before a
        # fresh request of hoard's: its replies and the barrier share a queue
        h.barrier()
        self.assertNotIn("redis connection lost", st.broker.log_text())
        fault("30 x 200-message history requests of 60 KB messages, never read")
        self.assertTrue(st.broker.alive())

    def test_send_stored_but_reply_lost_reaches_everyone(self):
        """Redis hangs with a send written to it: the broker times out, drops
        the connection and tells the sender unavailable, but Redis runs the
        command when it resumes. The sender's retry finds it stored; the
        other members (and the sender's other devices) were never told, so
        the retry must deliver it to them, once, as stored."""
        st = Stack()
        st.__enter__()
        self.addCleanup(st.close)
        st.add_user("alice", "a")
        st.add_user("bob", "b")
        a, a2, b = Chat(st, "alice", "a"), Chat(st, "alice", "a"), Chat(st, "bob", "b")
        conv = a.direct("bob")
        a.send(conv, "m0", "before")
        b.msg(conv, "m0")
        a2.msg(conv, "m0")
        pid = st.redis.proc.pid
        os.kill(pid, signal.SIGSTOP)
        self.addCleanup(lambda: st.redis.proc and os.kill(pid, signal.SIGCONT))
        a.send(conv, "m1", "while Redis hangs")
        self.assertEqual(a.err(id="m1")["code"], "unavailable")
        os.kill(pid, signal.SIGCONT)
        fault("Redis stopped (SIGSTOP) with a send written, reply lost")
        # Redis runs what it had read before the connection closed
        wait_for(lambda: st.redis.call("HGET", "mqchat:{c:%s}:ids" % conv, "alice\nm1"),
                 what="the first attempt to be stored")

        def retried():
            a.send(conv, "m1", "while Redis hangs")
            e = a.event(lambda e: e.get("id") == "m1")
            return e if e["t"] == "msg" else None

        first = wait_for(retried, what="the retry to be answered")
        self.assertEqual(first["seq"], 2)
        self.assertEqual(b.msg(conv, "m1"), first)
        self.assertEqual(a2.msg(conv, "m1"), first)
        stored = redis_events(st.redis, conv)
        self.assertEqual([e for _, e in stored if e.get("id") == "m1"], [first])
        # a further retry is an ordinary duplicate: the retrying device only
        a.send(conv, "m1", "while Redis hangs")
        self.assertEqual(a.msg(conv, "m1"), first)
        a.send(conv, "m2", "after")
        self.assertEqual(b.msg(conv, "m2")["seq"], 3)
        self.assertEqual([e for e in b.barrier() if e.get("t") == "msg"], [])
        self.assertEqual([e for e in a2.barrier() if e.get("id") == "m1"], [])


if __name__ == "__main__":
    main()
