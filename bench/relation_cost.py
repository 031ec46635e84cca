#!/usr/bin/env python3
"""Redis cost per message: CPU microseconds and calls, from INFO cpu and
INFO commandstats deltas over N direct messages (recipient online) and N
group messages to a group of G offline members; then the same for message
relations (#18): an edit of each of those messages by its sender and a
reaction to each by another member (a relation must cost no more than a
message), and deletes of messages with 0 to 3N entries after them. Run
with /usr/bin/python3 and MQCHAT_PLUGIN / MQCHAT_CLI pointing at a build (any version: compare two
builds in the same run). Talks to 127.0.0.1 only; bounded by N. ONLY=functions: just this last part.

Last, the functions alone (no broker: FCALLs pipelined straight into a
fresh redis-server with store/mqchat.lua loaded), FN_N calls per kind in
ROUNDS x 3 alternating rounds: Redis CPU per mqc2_send, per mqc2_relate edit
and per reaction, the figure least disturbed by a busy machine."""
import json
import os
import shutil
import socket
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
import harness  # noqa: E402

N = int(os.environ.get("N", "2000"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
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


def measure(stack, sender, conv, n, done, payload=msg, inside=None):
    """Redis CPU us and calls per publish (INFO deltas: everything Redis did
    meanwhile); inside (a list) gets the us spent in FCALL per publish too
    (commandstats: wall time inside the functions, less noisy)."""
    f0 = fcall_usec(stack.redis)
    c0, k0 = info(stack.redis)
    for i in range(n):
        sender.publish(f"chat/c/{conv}/send", json.dumps(payload(i)), wait=False)
    done()
    c1, k1 = info(stack.redis)
    if inside is not None:
        inside.append((fcall_usec(stack.redis) - f0) / n)
    return (c1 - c0) * 1e6 / n, (k1 - k0) / n


def run(label, unit, *args, **kw):
    """measure() and print one line: CPU, calls and time in functions per unit."""
    inside = []
    us, calls = measure(*args, inside=inside, **kw)
    print(f"{label}: {us:.1f} us Redis CPU/{unit}, {calls:.2f} Redis calls/{unit}, "
          f"{inside[0]:.1f} us in functions/{unit}")
    return us, calls, inside[0]


def medians(label, unit, rows):
    """One line of the medians over rounds of run()'s figures."""
    cols = list(zip(*rows))
    med = [sorted(c)[len(c) // 2] for c in cols]
    print(f"  median of {len(rows)}, {label}: {med[0]:.1f} us Redis CPU/{unit}, "
          f"{med[1]:.2f} calls/{unit}, {med[2]:.1f} us in functions/{unit}")


def rounds(s, label, conv, sender, other, n, seq0, done_for):
    """ROUNDS rounds, alternating on conv (the machine's noise hits all three
    alike): n messages by sender, an edit of each by sender, a reaction to
    each by other; the first message is seq seq0 + 1, and each round adds
    3n events. done_for(who, id) waits until who got the event of id.
    Prints each round and the medians."""
    rows = {"msg": [], "edit": [], "reaction": []}
    tag = label[0]
    for r in range(ROUNDS):
        b0 = seq0 + 3 * n * r
        pre = f"{tag}{r}"

        def send(i, pre=pre):
            return {"id": f"{pre}m{i}", "body": "hello"}

        def edit(i, pre=pre, b0=b0):
            return {"id": f"{pre}e{i}", "edit": b0 + i + 1, "body": "hello, edited"}

        def react(i, pre=pre, b0=b0):
            return {"id": f"{pre}x{i}", "react": b0 + i + 1, "emojis": ["\U0001F44D"]}

        for unit, who, fn, k in (("msg", sender, send, "m"), ("edit", sender, edit, "e"),
                                 ("reaction", other, react, "x")):
            rows[unit].append(run(f"{label}, {unit} (round {r + 1})", unit, s, who, conv, n,
                                  done_for(sender, f"{pre}{k}{n - 1}"), fn))
    for unit in ("msg", "edit", "reaction"):
        medians(f"{label} {unit}", unit, rows[unit])


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

        def relation_done(who, mid):
            tail = f'"id":"{mid}"'.encode()
            return lambda: who.expect(lambda m: tail in m.payload, timeout=120,
                                      what="the last " + mid)

        rounds(s, "direct", conv, a, b, N, 0, relation_done)

        # Deletes erase by moving the target's log node (the 100 entries
        # either side) into the tomb hash (docs/ARCHITECTURE.md): the same
        # cost whatever the log holds after it (3N x ROUNDS entries here
        # after the oldest).
        measure(s, a, conv, 1, relation_done(b, "fresh"), lambda i: {"id": "fresh", "body": "x"})
        total = 3 * N * ROUNDS
        middle = 3 * N * (ROUNDS // 2) + 1  # a message
        for name, target, after in (("newest", total + 1, 0),
                                    ("middle", middle, total + 1 - middle),
                                    ("oldest", 1, total)):
            run(f"direct, delete of the {name} message ({after} entries after it)", "delete",
                s, a, conv, 1, relation_done(b, f"d{target}"),
                lambda i, t=target: {"id": f"d{t}", "delete": t})

        members = [f"m{i}" for i in range(G)]
        a.publish("chat/u/alice/req", json.dumps({"op": "create", "req": "r2", "kind": "group",
                                                  "name": "g", "members": members}))
        res = a.expect(lambda m: b'"req":"r2"' in m.payload and b'"res"' in m.payload,
                       what="group res")
        gconv = json.loads(res.payload)["conv"]
        n = max(1, N // 4)
        # the group's first event (seq 1) is its creation; bob is not in
        # it: a member reacts (alice's own copies tell when each is done)
        m0 = s.client("m0", "pw")
        rounds(s, f"group of {G} offline", gconv, a, m0, n, 1, relation_done)


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def functions_only():
    """Redis CPU per function call: messages, edits and reactions, alone."""
    n = int(os.environ.get("FN_N", "5000"))
    lua = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "store", "mqchat.lua")
    workdir = tempfile.mkdtemp(prefix="mqchat-fn-")
    redis = harness.Redis(workdir)
    redis.start()
    try:
        redis.call("FUNCTION", "LOAD", "REPLACE", open(lua).read())
        conv = "d-bench"
        k = "mqchat:{c:%s}:" % conv
        redis.call("HSET", k + "meta", "kind", "direct", "seq", 0, "mver", 1, "mc", 0)
        redis.call("HSET", k + "members", "alice", "member", "bob", "member")
        common = [k + "meta", k + "members", k + "log", k + "ids", k + "rcpt"]
        jobs = harness.jobs_key(conv)
        day = 86400000

        def send(i, r):
            return ["FCALL", "mqc2_send", 7] + common + [
                jobs, k + "tomb", "alice", f"m{r}-{i}", '{"t":"msg","conv":"d-bench","seq":',
                f',"id":"m{r}-{i}","from":"alice","ts":1,"body":"hello"}}', 1, day, conv, ""]

        def relate(kind, who, text):
            def build(i, r):
                return ["FCALL", "mqc2_relate", 6] + common + [
                    k + "tomb", who, f"{kind}{r}-{i}", kind, 3 * n * r + i + 1,
                    '{"t":"%s","conv":"d-bench","seq":' % kind,
                    f',"id":"{kind}{r}-{i}","from":"{who}","target":{3 * n * r + i + 1},{text}'
                    ',"ts":1}', 1, day]
            return build

        kinds = (("message", send), ("edit", relate("edit", "alice", '"body":"hello, edited"')),
                 ("reaction", relate("react", "bob", '"emojis":["\U0001F44D"]')))
        rows = {name: [] for name, _ in kinds}
        with socket.create_connection(("127.0.0.1", redis.port)) as sock:
            f = sock.makefile("rb")
            for r in range(ROUNDS * 3):
                for name, build in kinds:
                    c0, _ = info(redis)
                    for i in range(0, n, 500):
                        sock.sendall(b"".join(resp(*build(j, r)) for j in range(i, min(i + 500, n))))
                        for _ in range(i, min(i + 500, n)):
                            reply = harness._resp_read(f)
                            assert reply[0] == b"ok", reply
                    c1, _ = info(redis)
                    rows[name].append((c1 - c0) * 1e6 / n)
        for name, v in rows.items():
            v.sort()
            print(f"functions alone, {name}: median {v[len(v) // 2]:.1f} us Redis CPU/call, "
                  f"min {v[0]:.1f} (of {len(v)} rounds of {n})")
    finally:
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    if os.environ.get("ONLY") != "functions":
        main()
    functions_only()
