#!/usr/bin/python3
"""Redis cost of a direct message on one Redis vs a 3+3 Redis Cluster, and
of plugin_opt_redis_wait_replicas 1 (issue #16). For each setup: one broker,
two users, N messages alice -> bob in one direct conversation, at most 64
unanswered; per Redis primary, the deltas over the burst of INFO
commandstats calls (every command, FCALLs and their inner calls counted
by Redis as it does) and of used_cpu_user + used_cpu_sys, divided by N.

    MQCHAT_PLUGIN=build/mqchat_plugin.so MQCHAT_CLI=build/cli/mqchat \\
        /usr/bin/python3 bench/cluster_cost.py [N]

Prints one table row per (setup, primary). Uses tests/integration's
harness (real redis-server, mosquitto, paho clients)."""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))


def info(call):
    """(total calls, cpu seconds) of one server."""
    stats = call("INFO", "commandstats").decode()
    calls = 0
    for line in stats.splitlines():
        if line.startswith("cmdstat_"):
            for kv in line.split(":", 1)[1].split(","):
                k, v = kv.split("=")
                if k == "calls":
                    calls += int(v)
    cpu = 0.0
    for line in call("INFO", "cpu").decode().splitlines():
        if line.startswith("used_cpu_user:") or line.startswith("used_cpu_sys:"):
            cpu += float(line.split(":")[1])
    return calls, cpu


def burst(chat, conv, n):
    pending, acked, nxt, retried = set(), 0, 0, 0
    while acked < n:
        while nxt < n and len(pending) < 64:
            mid = "m%d" % nxt
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
            chat.send(conv, e["id"], "hello " + e["id"][1:], wait=False)
    return retried


def run(label, cluster_mode, wait, n):
    os.environ["MQC_TEST_REDIS"] = "cluster" if cluster_mode else ""
    import harness
    harness.CLUSTER_MODE = cluster_mode
    opts = {"rate_msgs": 0}
    if wait:
        opts["redis_wait_replicas"] = wait
    with harness.Stack(options=opts) as st:
        st.add_user("alice", "a-pw")
        st.add_user("bob", "b-pw")
        a = harness.Chat(st, "alice", "a-pw")
        b = harness.Chat(st, "bob", "b-pw")
        conv = a.direct("bob")
        burst(a, conv, 50)  # warm up: connections, caches
        if cluster_mode:
            c = harness._shared_cluster()
            servers = [(p, c.node(p).call) for p in c.primary_ports()]
        else:
            servers = [(st.redis.port, st.redis.call)]
        before = {p: info(call) for p, call in servers}
        t0 = time.monotonic()
        retried = burst(a, conv, n)
        took = time.monotonic() - t0
        after = {p: info(call) for p, call in servers}
        b.close()
        for p, _ in servers:
            calls = after[p][0] - before[p][0]
            cpu = after[p][1] - before[p][1]
            print("| %s | %d | %.2f | %.1f | %.0f | %d |" %
                  (label, p, calls / n, cpu / n * 1e6, n / took, retried))


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    print("| setup | primary port | Redis calls / msg | Redis CPU µs / msg | msgs/s | retried |")
    print("|---|---|---|---|---|---|")
    run("1 Redis", False, 0, n)
    run("cluster 3+3", True, 0, n)
    run("cluster 3+3, wait_replicas 1", True, 1, n)


if __name__ == "__main__":
    main()
