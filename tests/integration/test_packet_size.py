"""Packet size limit (docs/CONFIG.md, "Packet size"): the broker runs with
max_packet_size = plugin_opt_max_message_bytes + 16384, as every shipped
config says. An oversized packet, a CONNECT before any login or a PUBLISH
after it, gets its connection closed as soon as its fixed header arrives,
without the broker's memory growing (VmHWM of the broker from /proc); the
largest valid send still goes through."""
import json
import os
import re
import socket
import unittest

from harness import (Chat, Stack, connect_packet, main, mqtt_str, raw_connect, read_connack,
                     wait_for)

MAX_BYTES = 4096
OVERSIZE = 48 << 20   # what an attacker announces and streams
CHUNK = 1 << 20
GROWTH_LIMIT_KB = 16 << 10  # VmHWM may move a little; 48 MiB read whole would not fit
SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s in /proc/%d/status" % (field, pid))


def remaining_length(n):
    out = b""
    while True:
        byte, n = n % 128, n // 128
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out


def stream_oversized(s, first_byte, head):
    """Announce an OVERSIZE packet (fixed header, then `head` as the start of
    its body) and stream zeros after it until the broker closes the
    connection. Returns the number of body bytes the kernel accepted; all
    of OVERSIZE means the broker read the whole packet."""
    s.settimeout(10)
    sent = 0
    try:
        s.sendall(bytes([first_byte]) + remaining_length(OVERSIZE) + head)
        sent = len(head)
        zeros = bytes(CHUNK)
        while sent < OVERSIZE:
            n = s.send(zeros[:min(CHUNK, OVERSIZE - sent)])
            sent += n
    except (BrokenPipeError, ConnectionResetError):
        return sent
    except socket.timeout:
        raise AssertionError("the broker neither read nor closed after %d bytes" % sent)
    return sent


def closed_by_peer(s):
    """True once the broker has closed s (EOF or reset)."""
    s.settimeout(10)
    try:
        while True:
            data = s.recv(65536)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


class ShippedConfigTest(unittest.TestCase):
    def test_every_config_sets_max_packet_size_from_max_message_bytes(self):
        for name in ("mosquitto.conf.in", "mosquitto.conf.example"):
            with open(os.path.join(SRC, "config", name)) as f:
                text = f.read()
            mps = re.findall(r"^max_packet_size\s+(\d+)\s*$", text, re.M)
            mmb = re.findall(r"^plugin_opt_max_message_bytes\s+(\d+)\s*$", text, re.M)
            self.assertEqual(len(mps), 1, "%s: one max_packet_size line" % name)
            self.assertEqual(int(mps[0]), int(mmb[0] if mmb else 65536) + 16384, name)


class PacketSizeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(options={"max_message_bytes": MAX_BYTES, "rate_msgs": 0,
                                   "rate_bytes": 0}).__enter__()
        cls.stack.add_user("alice", "alice-pw")
        cls.stack.add_user("bob", "bob-pw")

    @classmethod
    def tearDownClass(cls):
        cls.stack.__exit__(None, None, None)

    def pid(self):
        return self.stack.broker.proc.pid

    def assert_no_growth(self, before_kb, what):
        after = status_kb(self.pid(), "VmHWM")
        self.assertLess(after - before_kb, GROWTH_LIMIT_KB,
                        "%s: broker VmHWM %d kB -> %d kB" % (what, before_kb, after))

    def assert_broker_serves(self):
        s = raw_connect(self.stack.broker.port, "bob", "bob-pw", "ps-check")
        s.close()

    def test_oversized_connect_before_login_is_closed(self):
        before = status_kb(self.pid(), "VmHWM")
        rss_before = status_kb(self.pid(), "VmRSS")
        socks = [socket.create_connection(("127.0.0.1", self.stack.broker.port))
                 for _ in range(2)]
        try:
            # A CONNECT's variable header, then a client id running on.
            head = mqtt_str("MQTT") + bytes([4, 0x02, 0, 30]) + b"\xff\xff"
            for s in socks:
                sent = stream_oversized(s, 0x10, head)
                self.assertLess(sent, OVERSIZE // 2, "the broker read the oversized CONNECT")
                self.assertTrue(closed_by_peer(s))
        finally:
            for s in socks:
                s.close()
        self.assert_no_growth(before, "two oversized CONNECTs")
        self.assertLess(status_kb(self.pid(), "VmRSS") - rss_before, GROWTH_LIMIT_KB)
        self.assert_broker_serves()

    def test_oversized_publish_after_login_is_closed(self):
        s = raw_connect(self.stack.broker.port, "alice", "alice-pw", "ps-big")
        # After the login: verifying a password (argon2id, 19 MiB) moves VmHWM.
        before = status_kb(self.pid(), "VmHWM")
        try:
            head = mqtt_str("chat/u/alice/req")  # QoS 0: no packet id
            sent = stream_oversized(s, 0x30, head)
            self.assertLess(sent, OVERSIZE // 2, "the broker read the oversized PUBLISH")
            self.assertTrue(closed_by_peer(s))
        finally:
            s.close()
        self.assert_no_growth(before, "an oversized PUBLISH")
        self.assert_broker_serves()

    def test_largest_valid_send_and_connect_pass(self):
        a, b = Chat(self.stack, "alice", "alice-pw"), Chat(self.stack, "bob", "bob-pw")
        conv = a.direct("bob")
        frame = json.dumps({"id": "big", "body": ""})
        body = "x" * (MAX_BYTES - len(frame))
        payload = json.dumps({"id": "big", "body": body})
        self.assertEqual(len(payload), MAX_BYTES)
        a.send(conv, "big", body)
        self.assertEqual(b.msg(conv, "big")["body"], body)
        # A CONNECT with an 8 KiB password (a JWT's size) and a long client
        # id is under the limit: refused for the password, not closed.
        s = socket.create_connection(("127.0.0.1", self.stack.broker.port))
        try:
            s.settimeout(10)
            s.sendall(connect_packet("alice", "p" * 8192, "c" * 1024))
            self.assertEqual(read_connack(s), 5)
        finally:
            s.close()
        wait_for(lambda: self.stack.broker.alive(), what="broker alive")


if __name__ == "__main__":
    main()
