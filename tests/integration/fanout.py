"""Helpers for tests and benches of lazy fan-out's deferred half (mqchat-push
expanding per-slot jobs): Redis Cluster key slots and the per-slot job
stream keys exactly as core/slot.c and store/keys.c compute them, and the
broker's writes (a slot job, its hint) done by hand, as the broker does."""

_TAGS = {}   # slot -> first "j<n>" in it (core/slot.c)
_NEXT = [0]  # next n to try


def crc16(data):
    """CRC16-CCITT (XMODEM), the Redis Cluster key hash."""
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xffff if crc & 0x8000 else (crc << 1) & 0xffff
    return crc


def slot_of(key):
    """The key slot of key (str): its hash tag's when it has a non-empty one."""
    b = key.encode()
    o = b.find(b"{")
    if o >= 0:
        c = b.find(b"}", o + 1)
        if c > o + 1:
            b = b[o + 1:c]
    return crc16(b) % 16384


def slot_tag(slot):
    """The tag of slot: the first "j<n>" (n = 0, 1, ...) whose slot it is."""
    while slot not in _TAGS:
        t = "j%d" % _NEXT[0]
        _NEXT[0] += 1
        _TAGS.setdefault(crc16(t.encode()) % 16384, t)
    return _TAGS[slot]


def conv_slot(conv):
    return slot_of("{c:%s}" % conv)


def conv_jobs_key(conv, prefix="mqchat:"):
    """store/keys.c mqc_key_conv_jobs: the job stream of conv's slot."""
    return "%s{%s}:jobs" % (prefix, slot_tag(conv_slot(conv)))


def write_job(redis, conv, seq, m, kind="msg", frm="", ts=None, preview=None, gone=None,
              hint=True, prefix="mqchat:"):
    """XADD one slot job as the broker's send / change does (fields c, s, m,
    k, f, ts, p, u) and PUBLISH its slot on "<p>jobs" (hint=False: a lost
    hint). redis: a harness.Redis. Returns the entry id."""
    import time
    f = ["c", conv, "s", seq, "m", m, "k", kind, "f", frm,
         "ts", ts if ts is not None else int(time.time() * 1000)]
    if preview is not None:
        f += ["p", preview]
    if gone:
        f += ["u", ",".join(gone)]
    eid = redis.call("XADD", conv_jobs_key(conv, prefix), "*", *f)
    if hint:
        redis.call("PUBLISH", prefix + "jobs", str(conv_slot(conv)))
    return eid
