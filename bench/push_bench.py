#!/usr/bin/python3
"""Push bridge throughput: N push jobs for one APNs device, sent by
mqchat-push to the local fake APNs endpoint (HTTP/2 over TLS, one multiplexed
connection, tests/integration/fakepush.py). Prints pushes/s from the bridge's
start to the last answered request. Talks only to 127.0.0.1; bounded in time.

usage: bench/push_bench.py [--build-dir build] [--jobs 5000] [--in-flight 100]
"""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from fakepush import FakePushServer, make_apns_key  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--jobs", type=int, default=5000)
    ap.add_argument("--in-flight", type=int, default=100)
    ap.add_argument("--timeout", type=float, default=120)
    a = ap.parse_args()
    push = os.path.join(a.build_dir, "bridge", "mqchat-push")
    work = tempfile.mkdtemp(prefix="mqc-pushbench-")
    port = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--dir", work],
                             stdout=subprocess.DEVNULL)
    bridge = None
    srv = FakePushServer(workdir=work)
    try:
        cli = ["redis-cli", "-p", str(port)]
        deadline = time.monotonic() + 10
        while subprocess.run(cli + ["ping"], capture_output=True).stdout.strip() != b"PONG":
            if time.monotonic() > deadline:
                raise SystemExit("redis did not start")
            time.sleep(0.05)
        token = "ab" * 32
        subprocess.run(cli + ["HSET", "mqchat:{u:bench}:devices", token, "apns\ncom.bench\n0"],
                       check=True, capture_output=True)
        now = int(time.time() * 1000)
        script = "".join("XADD mqchat:{push} * user bench conv d-bench seq %d kind msg from alice "
                         "badge 1 ts %d preview \"message %d\"\n" % (i + 1, now, i)
                         for i in range(a.jobs))
        subprocess.run(cli, input=script.encode(), check=True, capture_output=True)
        p8, _ = make_apns_key(work, key_id="ABCDE12345")
        conf = os.path.join(work, "push.conf")
        with open(conf, "w") as f:
            f.write("redis_url redis://127.0.0.1:%d/0\napns_base_url %s\n"
                    "apns_sandbox_base_url %s\napns_key_file %s\napns_key_id ABCDE12345\n"
                    "apns_team_id TEAM123456\nca_file %s\nmax_in_flight %d\n"
                    "stats_interval_seconds 0\n" % (port, srv.url, srv.url, p8, srv.ca_file,
                                                   a.in_flight))
        t0 = time.monotonic()
        bridge = subprocess.Popen([push, "--config", conf], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        # Count through the bridge's own counter (polling the fake's request
        # list would slow the fake down as it grows).
        end = t0 + a.timeout
        while True:
            sent = subprocess.run(cli + ["HGET", "mqchat:push:stats", "sent"],
                                  capture_output=True, text=True).stdout.strip()
            if sent and int(sent) >= a.jobs:
                break
            if time.monotonic() > end:
                raise SystemExit("timed out: %s of %d sent" % (sent or 0, a.jobs))
            time.sleep(0.02)
        t1 = time.monotonic()
        reqs = srv.requests(kind="apns")
        conns = len({r.conn_id for r in reqs})
        ok = sum(1 for r in reqs if r.status == 200)
        print("push_jobs=%d answered_200=%d connections=%d seconds=%.2f pushes_per_s=%.0f"
              % (a.jobs, ok, conns, t1 - t0, ok / (t1 - t0)))
    finally:
        if bridge:
            bridge.terminate()
            bridge.wait(timeout=30)
        srv.stop()
        redis.terminate()
        redis.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
