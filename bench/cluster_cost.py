#!/usr/bin/python3
"""Redis cost per unit of work on one Redis vs a 3+3 Redis Cluster, and of
plugin_opt_redis_wait_replicas 1 (issue #16), per primary (shard). For each
setup, one broker (flood limits off, presence_grace_ms 0 so that a logout's
presence write falls inside its phase) and these phases, each measured as
the deltas of INFO commandstats calls (every command, FCALLs and their
inner calls counted by Redis as it does) and of used_cpu_user +
used_cpu_sys on every primary, divided by the phase's units:

  users     M `mqchat user add` (the CLI)            per user added
  direct    N messages alice -> bob, one direct      per message
            conversation, at most 64 unanswered
  group     G messages alice -> a group of M members  per message
            (all connected), at most 64 unanswered;
            until the last member has the last one
  login-pw  M members connect (password; the auth    per login+logout
            cache is warm), subscribe their inbox,
            then all disconnect, until presence is
            offline for all
  login-tok the same with device session tokens       per login+logout

Each setup first measures every primary's idle CPU for 5 s; the table
gives CPU per unit both raw and with that idle rate times the phase's
duration subtracted (the work itself; slow phases otherwise carry the
idle cost of cron and replication).

and memory: used_memory summed over the primaries, growth over `users`
divided by M (bytes per user account) and over `direct` divided by N
(bytes per stored direct message, its log entry and dedupe key).

    MQCHAT_PLUGIN=build/mqchat_plugin.so MQCHAT_CLI=build/cli/mqchat \\
        /usr/bin/python3 bench/cluster_cost.py [N [G [M]]]

Defaults N=2000, G=200, M=100. MQC_COST_TOP=1 adds, per phase, its
commands by Redis' own time (INFO commandstats usec) per unit;
MQC_COST_SETUPS=single,cluster,wait picks the setups. Prints one table row per (setup, phase,
primary), then the memory rows. Uses tests/integration's harness (real
redis-server, mosquitto, paho clients)."""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))


def info(call):
    """(total calls, cpu seconds, used_memory bytes, {command: [calls,
    usec]}) of one server."""
    stats = call("INFO", "commandstats").decode()
    calls = 0
    per = {}
    for line in stats.splitlines():
        if line.startswith("cmdstat_"):
            name, rest = line[len("cmdstat_"):].split(":", 1)
            kv = dict(x.split("=") for x in rest.split(","))
            calls += int(kv["calls"])
            per[name] = [int(kv["calls"]), int(kv["usec"])]
    cpu = 0.0
    for line in call("INFO", "cpu").decode().splitlines():
        if line.startswith("used_cpu_user:") or line.startswith("used_cpu_sys:"):
            cpu += float(line.split(":")[1])
    mem = 0
    for line in call("INFO", "memory").decode().splitlines():
        if line.startswith("used_memory:"):
            mem = int(line.split(":")[1])
    return calls, cpu, mem, per


def burst(chat, conv, n, prefix="m"):
    pending, acked, nxt, retried = set(), 0, 0, 0
    while acked < n:
        while nxt < n and len(pending) < 64:
            mid = "%s%d" % (prefix, nxt)
            chat.send(conv, mid, "hello %d" % nxt, wait=False)
            pending.add(mid)
            nxt += 1
        e = chat.event(lambda e: e.get("id") in pending and e.get("t") in ("msg", "err"),
                       timeout=60, what="an answer")
        if e["t"] == "msg":
            pending.discard(e["id"])
            acked += 1
        else:
            retried += 1
            chat.send(conv, e["id"], "hello " + e["id"][len(prefix):], wait=False)
    return retried


class Meter:
    """INFO deltas over a phase on every primary."""

    def __init__(self, servers):
        self.servers = servers
        self.idle = {p: 0.0 for p, _ in servers}  # cpu seconds per second

    def calibrate(self, secs=5.0):
        """Each primary's CPU per second with no client work (cron,
        replication pings, the brokers' map checks): subtracted from the
        phases' CPU, so the figures are the work itself."""
        with self:
            time.sleep(secs)
        for p, _ in self.servers:
            self.idle[p] = (self.after[p][1] - self.before[p][1]) / self.took

    def __enter__(self):
        self.before = {p: info(call) for p, call in self.servers}
        self.t0 = time.monotonic()
        return self

    def __exit__(self, *exc):
        self.took = time.monotonic() - self.t0
        self.after = {p: info(call) for p, call in self.servers}
        return False

    def rows(self, label, phase, units):
        for p, _ in self.servers:
            calls = self.after[p][0] - self.before[p][0]
            cpu = self.after[p][1] - self.before[p][1]
            net = cpu - self.idle[p] * self.took
            print("| %s | %s | %d | %.2f | %.1f | %.1f | %.0f |" %
                  (label, phase, p, calls / units, cpu / units * 1e6, net / units * 1e6,
                   units / self.took), flush=True)

    def top(self, label, phase, units, n=8):
        """MQC_COST_TOP=1: the phase's commands by Redis' own time (usec,
        inner calls of FCALLs included in the FCALL's time as well),
        summed over the primaries, per unit."""
        if not os.environ.get("MQC_COST_TOP"):
            return
        tot = {}
        for p, _ in self.servers:
            b, a = self.before[p][3], self.after[p][3]
            for cmd, (c, u) in a.items():
                c0, u0 = b.get(cmd, [0, 0])
                if c > c0:
                    t = tot.setdefault(cmd, [0, 0])
                    t[0] += c - c0
                    t[1] += u - u0
        best = sorted(tot.items(), key=lambda kv: -kv[1][1])[:n]
        print("|   %s | %s: top commands per unit | %s |" % (label, phase, ", ".join(
            "%s %.2f calls %.0f µs" % (cmd, c / units, u / units) for cmd, (c, u) in best)),
            flush=True)

    def mem(self):
        return sum(self.after[p][2] - self.before[p][2] for p, _ in self.servers)


def presence_all(st, users, state):
    return all((st.redis.call("HGET", "mqchat:{u:%s}:presence" % u, "state") or b"").decode()
               == state for u in users)


def login_cycle(harness, st, meter, members, secrets):
    chats = []
    with meter:
        for u in members:
            chats.append(harness.Chat(st, u, secrets[u]))
        for c in chats:
            c.close()
        harness.wait_for(lambda: presence_all(st, members, "offline"), timeout=60,
                         what="every member offline")


def run(label, cluster_mode, wait, n, g, m, memory):
    os.environ["MQC_TEST_REDIS"] = "cluster" if cluster_mode else ""
    import harness
    harness.CLUSTER_MODE = cluster_mode
    opts = {"rate_msgs": 0, "rate_reqs": 0, "presence_grace_ms": 0}
    if wait:
        opts["redis_wait_replicas"] = wait
    with harness.Stack(options=opts) as st:
        if cluster_mode:
            c = harness._shared_cluster()
            servers = [(p, c.node(p).call) for p in c.primary_ports()]
        else:
            servers = [(st.redis.port, st.redis.call)]
        meter = Meter(servers)
        meter.calibrate()
        print("| %s | idle, CPU µs per second | %s |" %
              (label, " / ".join("%d: %.0f" % (p, meter.idle[p] * 1e6) for p, _ in servers)),
              flush=True)
        st.add_user("alice", "a-pw")
        st.add_user("bob", "b-pw")
        members = ["g%d" % i for i in range(m)]
        pw = {u: u + "-pw" for u in members}
        with meter:
            for u in members:
                st.add_user(u, pw[u])
        meter.rows(label, "user add (CLI)", m)
        memory[(label, "user")] = meter.mem() / m

        a = harness.Chat(st, "alice", "a-pw")
        b = harness.Chat(st, "bob", "b-pw")
        conv = a.direct("bob")
        burst(a, conv, 50, "w")  # warm up: connections, caches
        with meter:
            retried = burst(a, conv, n)
        meter.rows(label, "direct message", n)
        meter.top(label, "direct", n)
        memory[(label, "direct")] = meter.mem() / n
        if retried:
            print("| %s | direct: %d sends retried (unavailable) |" % (label, retried))

        # The members log in once with their password (argon2id runs; the
        # auth cache is filled) and take a device session token each.
        chats = [harness.Chat(st, u, pw[u]) for u in members]
        tokens = {}
        for c in chats:
            tokens[c.user] = c.ok("session", device="bench")["token"]
        group = a.group("bench", members)
        for c in chats:
            c.event(lambda e: e.get("conv") == group, timeout=30, what="the group")
        burst(a, group, 20, "v")
        last = chats[-1]
        last.msg(group, "v19", timeout=30)
        with meter:
            retried = burst(a, group, g, "x")
            last.msg(group, "x%d" % (g - 1), timeout=60)
        meter.rows(label, "group of %d message" % m, g)
        meter.top(label, "group", g)
        if retried:
            print("| %s | group: %d sends retried (unavailable) |" % (label, retried))
        for c in chats:
            c.close()
        harness.wait_for(lambda: presence_all(st, members, "offline"), timeout=60,
                         what="every member offline")

        login_cycle(harness, st, meter, members, pw)
        meter.rows(label, "login+logout, password (auth cache warm)", m)
        meter.top(label, "login password", m)
        login_cycle(harness, st, meter, members, tokens)
        meter.rows(label, "login+logout, session token", m)
        meter.top(label, "login token", m)
        b.close()


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    g = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    m = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    only = os.environ.get("MQC_COST_SETUPS", "single,cluster,wait").split(",")
    memory = {}
    print("| setup | unit | primary port | Redis calls / unit | Redis CPU µs / unit | "
          "the same, idle CPU subtracted | units/s |")
    print("|---|---|---|---|---|---|---|", flush=True)
    if "single" in only:
        run("1 Redis", False, 0, n, g, m, memory)
    if "cluster" in only:
        run("cluster 3+3", True, 0, n, g, m, memory)
    if "wait" in only:
        run("cluster 3+3, wait_replicas 1", True, 1, n, g, m, memory)
    print()
    print("| setup | used_memory per user account, bytes | per stored direct message, bytes |")
    print("|---|---|---|")
    for label in ("1 Redis", "cluster 3+3", "cluster 3+3, wait_replicas 1"):
        if (label, "user") in memory:
            print("| %s | %.0f | %.0f |" % (label, memory[(label, "user")],
                                           memory[(label, "direct")]))


if __name__ == "__main__":
    main()
