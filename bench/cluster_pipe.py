#!/usr/bin/python3
"""`redis-cli --pipe` for a Redis Cluster (bench/run --redis cluster): reads
RESP commands (arrays of bulk strings) from stdin, routes each by the hash
slot of its first key (argument 1, hash tags honoured) to the primary that
serves it (CLUSTER SLOTS of the seed), sends every node its share as one
pipeline and reads all replies. Exit 1 if any reply is an error (MOVED
included: the slot map changed under it).

    ... | /usr/bin/python3 bench/cluster_pipe.py SEED_PORT"""
import socket
import sys


def crc16(data):
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def slot(key):
    s = key.find(b"{")
    if s >= 0:
        e = key.find(b"}", s + 1)
        if e > s + 1:
            key = key[s + 1:e]
    return crc16(key) % 16384


def read_reply(f):
    line = f.readline()
    if not line:
        raise EOFError("connection closed")
    t, rest = line[:1], line[1:-2]
    if t == b"-":
        return Exception(rest.decode())
    if t in (b"+", b":"):
        return rest
    if t == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2]
    if t == b"*":
        n = int(rest)
        return None if n < 0 else [read_reply(f) for _ in range(n)]
    raise ValueError("bad reply %r" % line)


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def commands(f):
    while True:
        line = f.readline()
        if not line:
            return
        if not line.startswith(b"*"):
            raise ValueError("not RESP: %r" % line[:40])
        args = []
        for _ in range(int(line[1:-2])):
            n = int(f.readline()[1:-2])
            args.append(f.read(n + 2)[:-2])
        yield args


def main():
    seed = int(sys.argv[1])
    s = socket.create_connection(("127.0.0.1", seed))
    f = s.makefile("rb")
    s.sendall(encode([b"CLUSTER", b"SLOTS"]))
    owner = [None] * 16384
    for r in read_reply(f):
        port = int(r[2][1])
        for i in range(int(r[0]), int(r[1]) + 1):
            owner[i] = port
    s.close()
    shares = {}
    for args in commands(sys.stdin.buffer):
        port = owner[slot(args[1])]
        shares.setdefault(port, []).append(encode(args))
    errors = 0
    for port, cmds in shares.items():
        c = socket.create_connection(("127.0.0.1", port))
        cf = c.makefile("rb")
        c.sendall(b"".join(cmds))
        for _ in cmds:
            r = read_reply(cf)
            if isinstance(r, Exception):
                errors += 1
                if errors <= 3:
                    sys.stderr.write("cluster_pipe: node %d: %s\n" % (port, r))
        c.close()
    print("cluster_pipe: %d commands, %d errors" % (sum(len(v) for v in shares.values()), errors))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
