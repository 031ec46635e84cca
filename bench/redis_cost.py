#!/usr/bin/env python3
"""Redis cost per message: CPU microseconds and calls, from INFO cpu and
INFO commandstats deltas over N direct messages (recipient online) and N
group messages to a group of G offline members; then the same for message
relations (#18): an edit of each of those messages by its sender and a
reaction to each by another member (a relation must cost no more than a
message), and deletes of messages with 0 to 3N entries after them. Run
with /usr/bin/python3 and MQCHAT_PLUGIN / MQCHAT_CLI pointing at a build (any version: compare two
builds in the same run). Talks to 127.0.0.1 only; bounded by N."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
import harness  # noqa: E402

N = int(os.environ.get("N", "2000"))
G = int(os.environ.get("G", "100"))
OPTS = {"rate_msgs": "0", "rate_bytes": "0", "rate_reqs": "0", "max_group_members": "1000"}


def info(redis):
    cpu = 0.0
    calls = 0
    for line in redis.call("INFO", "cpu").decode().splitlines():
        if line.startswith(("used_cpu_sys:", "used_cpu_user:")):
            cpu += float(line.split(":")[1])
    for line in redis.call("INFO", "commandstats").decode().splitlines():
        if line.startswith("cmdstat_"):
            calls += int(line.split("calls=")[1].split(",")[0])
    return cpu, calls


def fcall_usec(redis):
    """Time Redis spent inside FCALL so far (INFO commandstats), in us."""
    for line in redis.call("INFO", "commandstats").decode().splitlines():
        if line.startswith("cmdstat_fcall:"):
            return int(line.split("usec=")[1].split(",")[0])
    return 0


def msg(i):
    return {"id": f"m{i}", "body": "hello"}


def measure(stack, sender, conv, n, done, payload=msg):
    c0, k0 = info(stack.redis)
    for i in range(n):
        sender.publish(f"chat/c/{conv}/send", json.dumps(payload(i)), wait=False)
    done()
    c1, k1 = info(stack.redis)
    return (c1 - c0) * 1e6 / n, (k1 - k0) / n


def main():
    with harness.Stack(OPTS) as s:
        s.add_user("alice", "pw-alice")
        s.add_user("bob", "pw-bob")
        for i in range(G):
            s.add_user(f"m{i}", "pw")
        a = s.client("alice", "pw-alice")
        b = s.client("bob", "pw-bob")
        a.subscribe("chat/u/alice/inbox")
        b.subscribe("chat/u/bob/inbox")
        a.publish("chat/u/alice/req", json.dumps({"op": "create", "req": "r1", "kind": "direct",
                                                  "with": "bob"}))
        res = a.expect(lambda m: b'"req":"r1"' in m.payload, what="create res")
        conv = json.loads(res.payload)["conv"]
        last = f'"id":"m{N - 1}"'.encode()

        def direct_done():
            b.expect(lambda m: last in m.payload, timeout=120, what="last direct message")
        us, calls = measure(s, a, conv, N, direct_done)
        print(f"direct, recipient online: {us:.1f} us Redis CPU/msg, {calls:.2f} Redis calls/msg")

        # Relations of those messages (seqs 1..N: a direct conversation has
        # no creation event): alice edits each once, bob reacts to each.
        def relation_done(who, mid):
            tail = f'"id":"{mid}"'.encode()
            return lambda: who.expect(lambda m: tail in m.payload, timeout=120,
                                      what="the last " + mid)
        us, calls = measure(s, a, conv, N, relation_done(b, f"e{N - 1}"),
                            lambda i: {"id": f"e{i}", "edit": i + 1, "body": "hello, edited"})
        print(f"direct, edit: {us:.1f} us Redis CPU/edit, {calls:.2f} Redis calls/edit")
        us, calls = measure(s, b, conv, N, relation_done(a, f"x{N - 1}"),
                            lambda i: {"id": f"x{i}", "react": i + 1, "emojis": ["\U0001F44D"]})
        print(f"direct, react: {us:.1f} us Redis CPU/reaction, {calls:.2f} Redis calls/reaction")

        # Deletes erase by rewriting the log from 100 entries before the
        # target (docs/ARCHITECTURE.md): the newest message is cheap, the
        # oldest costs the whole log after it (3N entries here).
        measure(s, a, conv, 1, relation_done(b, "fresh"), lambda i: {"id": "fresh", "body": "x"})
        for name, target, after in (("newest", 3 * N + 1, 0), ("middle", N, 2 * N + 1),
                                    ("oldest", 1, 3 * N)):
            f0 = fcall_usec(s.redis)
            us, calls = measure(s, a, conv, 1, relation_done(b, f"d{target}"),
                                lambda i, t=target: {"id": f"d{t}", "delete": t})
            inside = fcall_usec(s.redis) - f0
            print(f"direct, delete of the {name} message ({after} entries after it): "
                  f"{inside} us in the function ({us:.0f} us Redis CPU in all), "
                  f"{calls:.0f} Redis calls")

        members = [f"m{i}" for i in range(G)]
        a.publish("chat/u/alice/req", json.dumps({"op": "create", "req": "r2", "kind": "group",
                                                  "name": "g", "members": members}))
        res = a.expect(lambda m: b'"req":"r2"' in m.payload and b'"res"' in m.payload,
                       what="group res")
        gconv = json.loads(res.payload)["conv"]
        n = max(1, N // 4)
        glast = f'"id":"m{n - 1}"'.encode()

        def group_done():
            a.expect(lambda m: glast in m.payload and gconv.encode() in m.payload, timeout=120,
                     what="own copy of the last group message")
        us, calls = measure(s, a, gconv, n, group_done)
        print(f"group of {G} offline + sender: {us:.1f} us Redis CPU/msg, "
              f"{calls:.2f} Redis calls/msg")
        # the group's messages are seqs 2..n+1 (seq 1: its creation)
        us, calls = measure(s, a, gconv, n, relation_done(a, f"e{n - 1}"),
                            lambda i: {"id": f"e{i}", "edit": i + 2, "body": "hello, edited"})
        print(f"group of {G}, edit: {us:.1f} us Redis CPU/edit, {calls:.2f} Redis calls/edit")
        us, calls = measure(s, a, gconv, n, relation_done(a, f"x{n - 1}"),
                            lambda i: {"id": f"x{i}", "react": i + 2, "emojis": ["\U0001F44D"]})
        print(f"group of {G}, react: {us:.1f} us Redis CPU/reaction, "
              f"{calls:.2f} Redis calls/reaction")


if __name__ == "__main__":
    main()
