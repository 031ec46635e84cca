"""Redis unreachable at connect: new connections are refused (fail closed),
the broker keeps running, and logins work again once Redis returns, with no
broker restart."""
import unittest

from harness import Stack, main, wait_for


class RedisOutageTest(unittest.TestCase):
    def test_fail_closed_and_recover(self):
        with Stack() as st:
            st.add_user("alice", "pw")
            pid = st.broker.proc.pid
            c = st.client("alice", "pw")  # connected before the outage
            st.redis.stop()

            refused = st.client("alice", "pw", connect=False)
            rc = refused.connect()
            self.assertNotEqual(rc, 0, "login accepted while Redis is down")
            refused.close()
            self.assertTrue(st.broker.alive())

            st.redis.start()  # same port, AOF keeps the users

            def login_ok():
                t = st.client("alice", "pw", connect=False)
                ok = t.connect() == 0
                t.close()
                return ok

            wait_for(login_ok, what="login after Redis came back")
            self.assertEqual(st.broker.proc.pid, pid)
            self.assertIn("redis unavailable", st.broker.log_text())
            c.close()

    def test_broker_starts_without_redis(self):
        st = Stack()
        with st:
            st.add_user("bob", "pw")
            st.broker.stop()
            st.redis.stop()
            st.broker.start()  # must come up even though Redis is down
            t = st.client("bob", "pw", connect=False)
            self.assertNotEqual(t.connect(), 0)
            t.close()
            st.redis.start()

            def login_ok():
                t2 = st.client("bob", "pw", connect=False)
                ok = t2.connect() == 0
                t2.close()
                return ok

            wait_for(login_ok, what="login once Redis is up")


if __name__ == "__main__":
    main()
