"""Authentication against users stored in Redis: the right password connects,
everything else is refused, and admin changes take effect at once."""
import unittest

from harness import V311, V5, Stack, main

NOT_AUTH_V3 = 5
NOT_AUTH_V5 = 135


class AuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack().__enter__()
        cls.stack.add_user("alice", "alice-pw")
        cls.stack.add_user("bob", "bob-pw")

    @classmethod
    def tearDownClass(cls):
        cls.stack.__exit__(None, None, None)

    def connect(self, user, pw, protocol=V311):
        c = self.stack.client(user, pw, protocol=protocol, connect=False)
        rc = c.connect()
        c.close()
        return rc

    def test_right_password_connects_v311_and_v5(self):
        self.assertEqual(self.connect("alice", "alice-pw", V311), 0)
        self.assertEqual(self.connect("alice", "alice-pw", V5), 0)

    def test_wrong_password_refused(self):
        self.assertEqual(self.connect("alice", "bob-pw", V311), NOT_AUTH_V3)
        self.assertEqual(self.connect("alice", "alice-pw ", V5), NOT_AUTH_V5)

    def test_unknown_user_refused(self):
        self.assertEqual(self.connect("mallory", "x", V311), NOT_AUTH_V3)

    def test_missing_or_empty_credentials_refused(self):
        self.assertEqual(self.connect(None, None, V311), NOT_AUTH_V3)
        self.assertEqual(self.connect("", "alice-pw", V311), NOT_AUTH_V3)
        self.assertEqual(self.connect("alice", "", V311), NOT_AUTH_V3)
        self.assertEqual(self.connect("alice", None, V311), NOT_AUTH_V3)

    def test_invalid_usernames_refused(self):
        for name in ("al+ce", "al/ice", "#", "x" * 65, "alice "):
            self.assertEqual(self.connect(name, "alice-pw", V311), NOT_AUTH_V3, name)

    def test_cached_login_is_still_checked_each_time(self):
        # Twice right (second from the cache), then wrong: the cache never
        # lets a wrong password through.
        self.assertEqual(self.connect("bob", "bob-pw"), 0)
        self.assertEqual(self.connect("bob", "bob-pw"), 0)
        self.assertEqual(self.connect("bob", "bob-pw2"), NOT_AUTH_V3)

    def test_deleted_user_locked_out(self):
        self.stack.add_user("carol", "carol-pw")
        self.assertEqual(self.connect("carol", "carol-pw"), 0)
        r = self.stack.cli("user", "del", "carol")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.connect("carol", "carol-pw"), NOT_AUTH_V3)

    def test_password_change_takes_effect_at_once(self):
        self.stack.add_user("dave", "old-pw")
        self.assertEqual(self.connect("dave", "old-pw"), 0)  # now cached
        r = self.stack.cli("user", "passwd", "dave", "--password-stdin", input="new-pw\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.connect("dave", "old-pw"), NOT_AUTH_V3)
        self.assertEqual(self.connect("dave", "new-pw"), 0)

    def test_broker_survives(self):
        self.assertTrue(self.stack.broker.alive())
        self.assertEqual(self.connect("alice", "alice-pw"), 0)


if __name__ == "__main__":
    main()
