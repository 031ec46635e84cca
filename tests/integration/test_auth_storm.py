"""A cold login storm: many users connect at once with nothing cached, as after
a broker restart. argon2id must not run back to back on the broker thread:
beyond one check per pass the plugin hands checks to its worker thread and
closes the connection without a CONNACK ("busy"); the client's retry finds the
verdict. Every right password ends up accepted, every wrong one refused
(CONNACK 5), nothing is accepted wrongly, and a chat between two connected
users carries on during the storm. With plugin_opt_auth_threads 0 (and login
pacing off) every check is answered at once, on the broker thread."""
import socket
import time
import unittest

from harness import (DEFAULT_TIMEOUT, Chat, Stack, connect_packet, main, read_connack,
                     wait_for)

STORM = 40
WRONG = range(30, STORM)  # these users send a wrong password


def storm_once(port, users):
    """Connect every (user, password) at once: open all sockets, then send
    every CONNECT back to back. Returns {user: CONNACK code or None}."""
    socks = {}
    for user, _ in users:
        socks[user] = socket.create_connection(("127.0.0.1", port), timeout=DEFAULT_TIMEOUT)
    for user, pw in users:
        socks[user].sendall(connect_packet(user, pw, "storm-" + user))
    out = {}
    for user, s in socks.items():
        out[user] = read_connack(s)
        s.close()
    return out


class AuthStormTest(unittest.TestCase):
    def run_storm(self, st, n):
        users = [("s%d" % i, "pw-%d" % i if i not in WRONG else "nope") for i in range(n)]
        for i in range(n):
            st.add_user("s%d" % i, "pw-%d" % i)
        first = storm_once(st.broker.port, users)
        final = dict((u, rc) for u, rc in first.items() if rc is not None)
        pending = [(u, pw) for u, pw in users if first[u] is None]

        def retry():
            for u, pw in list(pending):
                rc = storm_once(st.broker.port, [(u, pw)])[u]
                if rc is not None:
                    final[u] = rc
                    pending.remove((u, pw))
            return not pending
        wait_for(retry, timeout=DEFAULT_TIMEOUT * 3, what="every storm login answered",
                 interval=0.02)
        for i in range(n):
            self.assertEqual(final["s%d" % i], 5 if i in WRONG else 0, "s%d" % i)
        return first

    def test_storm_goes_to_workers_and_everyone_is_answered(self):
        with Stack() as st:
            st.add_user("alice", "alice-pw")
            st.add_user("bob", "bob-pw")
            alice, bob = Chat(st, "alice", "alice-pw"), Chat(st, "bob", "bob-pw")
            conv = alice.direct("bob")
            first = self.run_storm(st, STORM)
            busy = [u for u, rc in first.items() if rc is None]
            # Checks beyond the first of a pass were deferred, not run inline.
            self.assertGreater(len(busy), 0, first)
            # The chat carried on; and verdicts stay cached for reconnects.
            alice.send(conv, "during", "still here")
            self.assertEqual(bob.msg(conv, "during")["body"], "still here")
            again = storm_once(st.broker.port, [("s1", "pw-1"), ("s31", "nope")])
            self.assertEqual(again, {"s1": 0, "s31": 5})
            self.assertTrue(st.broker.alive())

    def test_no_workers_answers_everything_at_once(self):
        # Login pacing off too: an inline argon2id (~12 ms) spends a loop
        # pass's login budget, and the pass's other logins would be paced.
        with Stack({"auth_threads": "0", "login_budget_ms": "0", "login_lag_ms": "0"}) as st:
            first = self.run_storm(st, 12)
            self.assertEqual([u for u, rc in first.items() if rc is None], [])


if __name__ == "__main__":
    main()
