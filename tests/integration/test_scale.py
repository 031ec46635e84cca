"""Scale: a message to a 1000-member group reaches every online member, and
Redis holds its body once (the conversation's log; its job for mqchat-push
carries the push preview), and nothing per member (lazy fan-out, #15).

The 999 members other than the sender are bare MQTT 3.1.1 connections driven
by one selector loop in this process (paho would need a thread per client);
the sender is an ordinary harness Chat. The 1000 users get the record
`mqchat user add` writes (store/users.c: HSET {u:NAME}:user pw HASH created
TS, SADD users NAME), with the hash of one user made by the CLI: the same
password, so every login still runs argon2id in the plugin, but the test does
not spend 1000 CLI hashes on setting up."""
import json
import os
import resource
import selectors
import socket
import time
import unittest

from harness import (DEFAULT_TIMEOUT, SANITIZE, Chat, Stack, connect_packet, conv_jobs, jobs_key,
                     main, mqtt_packet, mqtt_str)

MEMBERS = 1000  # the sender included
PASSWORD = "scale-pw"
# Every first login runs argon2id (~10-20 ms each here), on the plugin's
# worker thread during the storm.
CONNECT_TIMEOUT = MEMBERS * 0.1 * (3 if SANITIZE else 1)


def _parse(buf):
    """(first byte, body, size) of the packet at the start of buf, or None
    when it is not all there yet."""
    mult, n, i = 1, 0, 1
    while True:
        if i >= len(buf):
            return None
        b = buf[i]
        n += (b & 0x7F) * mult
        mult *= 128
        i += 1
        if not b & 0x80:
            break
    if len(buf) < i + n:
        return None
    return buf[0], bytes(buf[i:i + n]), i + n


class RawMember:
    """One member's connection: CONNECT and SUBSCRIBE to its inbox are sent at
    once; QoS 1 PUBLISHes are acknowledged and their JSON kept. A connection
    the broker closes before its CONNACK (busy: the login storm's password
    checks are queued for its worker thread) is opened again 50 ms later, as
    a real client would retry."""

    RETRY_S = 0.05

    def __init__(self, port, user, sel):
        self.port = port
        self.user = user
        self.sel = sel
        self.sock = None
        self.retry_at = None
        self.retries = 0
        self.connack = None
        self.suback = None
        self.events = []
        self.open()

    def open(self):
        self.buf = bytearray()
        self.retry_at = None
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=DEFAULT_TIMEOUT)
        sub = (1).to_bytes(2, "big") + mqtt_str("chat/u/%s/inbox" % self.user) + b"\x01"
        self.sock.sendall(connect_packet(self.user, PASSWORD, "scale-" + self.user,
                                         keepalive=300) + mqtt_packet(0x82, sub))
        self.sock.setblocking(False)
        self.sel.register(self.sock, selectors.EVENT_READ, self)

    def retry_if_due(self, now):
        if self.retry_at is not None and now >= self.retry_at:
            self.retries += 1
            self.open()

    def on_readable(self):
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        except ConnectionResetError:
            data = b""
        if not data:
            if self.connack is not None:
                raise AssertionError("broker closed %s's connection" % self.user)
            self.sel.unregister(self.sock)
            self.sock.close()
            self.retry_at = time.monotonic() + self.RETRY_S
            return
        self.buf += data
        while True:
            p = _parse(self.buf)
            if not p:
                return
            first, body, size = p
            del self.buf[:size]
            kind = first >> 4
            if kind == 2:
                self.connack = body[1]
            elif kind == 9:
                self.suback = body[2]
            elif kind == 3:
                tlen = int.from_bytes(body[:2], "big")
                pos = 2 + tlen
                if (first >> 1) & 3:
                    self.sock.sendall(mqtt_packet(0x40, body[pos:pos + 2]))
                    pos += 2
                self.events.append(json.loads(body[pos:]))

    def close(self):
        try:
            self.sock.setblocking(True)
            self.sock.sendall(b"\xe0\x00")
        except OSError:
            pass
        self.sock.close()


# Every occurrence of ARGV[1] in any value Redis holds: returns the keys, one
# entry per occurrence.
FIND_LUA = """
local hits, cursor = {}, '0'
repeat
  local r = redis.call('SCAN', cursor, 'COUNT', 1000)
  cursor = r[1]
  for _, k in ipairs(r[2]) do
    local t, vals = redis.call('TYPE', k)['ok'], {}
    if t == 'string' then vals = {redis.call('GET', k)}
    elseif t == 'hash' then vals = redis.call('HGETALL', k)
    elseif t == 'set' then vals = redis.call('SMEMBERS', k)
    elseif t == 'list' then vals = redis.call('LRANGE', k, 0, -1)
    elseif t == 'zset' then vals = redis.call('ZRANGE', k, 0, -1)
    elseif t == 'stream' then
      for _, e in ipairs(redis.call('XRANGE', k, '-', '+')) do
        for _, f in ipairs(e[2]) do vals[#vals + 1] = f end
      end
    end
    for _, v in ipairs(vals) do
      local from = 1
      while true do
        local i = string.find(v, ARGV[1], from, true)
        if not i then break end
        hits[#hits + 1] = k
        from = i + 1
      end
    end
  end
until cursor == '0'
return hits
"""

class ScaleTest(unittest.TestCase):
    def test_1000_member_group_message_reaches_everyone_body_stored_once(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = 2 * MEMBERS + 256  # ours and the broker's (it inherits the limit)
        if soft < need:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
        with Stack() as st:
            users = ["m%04d" % i for i in range(MEMBERS)]
            st.add_user(users[0], PASSWORD)
            pw_hash = st.redis.call("HGET", "mqchat:{u:%s}:user" % users[0], "pw")
            self.assertTrue(pw_hash.startswith(b"$argon2id$"), pw_hash)
            now = str(int(time.time() * 1000))
            for u in users[1:]:
                st.redis.call("HSET", "mqchat:{u:%s}:user" % u, "pw", pw_hash, "created", now)
            st.redis.call("SADD", "mqchat:users", *users[1:])

            sender = Chat(st, users[0], PASSWORD)
            sel = selectors.DefaultSelector()
            members = []
            try:
                t0 = time.monotonic()
                for u in users[1:]:
                    members.append(RawMember(st.broker.port, u, sel))

                def pump(done, timeout, what):
                    deadline = time.monotonic() + timeout
                    while not done():
                        left = deadline - time.monotonic()
                        if left <= 0:
                            raise AssertionError("timed out after %.0fs waiting for %s" %
                                                 (timeout, what))
                        for key, _ in sel.select(min(left, RawMember.RETRY_S)):
                            key.data.on_readable()
                        now = time.monotonic()
                        for m in members:
                            m.retry_if_due(now)

                pump(lambda: all(m.suback is not None for m in members), CONNECT_TIMEOUT,
                     "%d members to connect and subscribe" % len(members))
                connect_s = time.monotonic() - t0
                self.assertEqual({m.connack for m in members}, {0})
                self.assertEqual({m.suback for m in members}, {1})

                conv = sender.group("scale", users[1:])
                pump(lambda: all(any(e.get("t") == "member" for e in m.events) for m in members),
                     DEFAULT_TIMEOUT * 3, "every member's member event")

                body = "scale-body-%d-%d" % (os.getpid(), time.monotonic_ns())
                t1 = time.monotonic()
                sender.send(conv, "big-1", body)
                own = sender.msg(conv, "big-1", timeout=DEFAULT_TIMEOUT * 3)
                self.assertEqual(own["body"], body)

                def msgs(m):
                    return [e for e in m.events if e.get("t") == "msg"]

                pump(lambda: all(msgs(m) for m in members), DEFAULT_TIMEOUT * 3,
                     "the message at every member")
                fanout_s = time.monotonic() - t1
                for m in members:
                    got = msgs(m)
                    self.assertEqual(len(got), 1, (m.user, got))
                    e = got[0]
                    self.assertEqual((e["conv"], e["seq"], e["id"], e["from"], e["body"]),
                                     (conv, own["seq"], "big-1", users[0], body))
            finally:
                for m in members:
                    m.close()
                sel.close()

            # The body is stored once: in the conversation's log, nowhere else.
            # (and the push preview in its job: a copy of at most 240 bytes,
            # in the job stream of the conversation's slot, aged out after
            # an hour; push_preview is on by default)
            hits = st.redis.call("EVAL", FIND_LUA, 0, body)
            self.assertEqual(sorted(hits), sorted([b"mqchat:{c:%s}:log" % conv.encode(),
                                                   jobs_key(conv).encode()]))
            self.assertEqual(st.redis.call("XLEN", "mqchat:{c:%s}:log" % conv), 2)  # member, msg
            # ... with one job for mqchat-push, whatever the group size (lazy
            # fan-out, #15: nothing per member on the message path).
            jobs = [j for j in conv_jobs(st.redis, conv) if j["k"] == "msg"]
            self.assertEqual([(j["s"], j["f"]) for j in jobs], [(str(own["seq"]), users[0])])
            print("\n  %d members connected in %.1f s (%d retries after busy); the message "
                  "reached all in %.2f s" % (MEMBERS, connect_s, sum(m.retries for m in members),
                                             fanout_s))


if __name__ == "__main__":
    main()
