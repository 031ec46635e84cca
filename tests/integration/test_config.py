"""Plugin options are validated when the broker starts: a bad value or an
unknown option stops mosquitto with a log line naming both; good values
start it."""
import unittest

from harness import Stack, main, wait_for


class ConfigTest(unittest.TestCase):
    def start_with(self, options):
        st = Stack()
        st.__enter__()
        self.addCleanup(st.close)
        st.broker.stop()
        st.broker.options = options
        st.broker.start(wait=False)
        return st

    def test_bad_values_stop_the_broker(self):
        cases = [
            ({"redis_port": "70000"}, "plugin_opt_redis_port: '70000'"),
            ({"max_message_bytes": "lots"}, "plugin_opt_max_message_bytes: 'lots'"),
            ({"push_preview": "maybe"}, "plugin_opt_push_preview: 'maybe'"),
            ({"node_id": "a/b"}, "plugin_opt_node_id: 'a/b'"),
            ({"other_topics": "#"}, "plugin_opt_other_topics"),
            ({"colour": "blue"}, "plugin_opt_colour: unknown option"),
            ({"jwt_public_key": "/nonexistent/jwt.pem"},
             "plugin_opt_jwt_public_key: cannot read '/nonexistent/jwt.pem'"),
            ({"jwt_leeway_seconds": "-1"}, "plugin_opt_jwt_leeway_seconds: '-1'"),
            ({"redis_password": "s3cr3t-value", "redis_db": "x"}, "plugin_opt_redis_db"),
        ]
        for options, expect in cases:
            with self.subTest(options=options):
                st = self.start_with(options)
                wait_for(lambda: st.broker.proc.poll() is not None, what="broker to exit")
                self.assertNotEqual(st.broker.proc.returncode, 0)
                log = st.broker.log_text()
                self.assertIn(expect, log)
                self.assertNotIn("s3cr3t-value", log)  # secrets are never logged

    def test_per_listener_settings_refused(self):
        """per_listener_settings true: 2.0.11 never fires the tick event then
        (requests would never be answered): the plugin refuses to start."""
        st = Stack()
        st.__enter__()
        self.addCleanup(st.close)
        st.broker.stop()
        write_conf = st.broker.write_conf

        def per_listener():
            write_conf()
            with open(st.broker.conf_path) as f:
                text = f.read()
            with open(st.broker.conf_path, "w") as f:
                f.write("per_listener_settings true\n" + text)

        st.broker.write_conf = per_listener
        st.broker.start(wait=False)
        wait_for(lambda: st.broker.proc.poll() is not None, what="broker to exit")
        self.assertNotEqual(st.broker.proc.returncode, 0)
        self.assertIn("per_listener_settings true is not supported", st.broker.log_text())

    def test_good_values_start(self):
        st = self.start_with({"max_message_bytes": "1024", "retention_days": "7",
                              "other_topics": "devices/%u/#", "node_id": "n-1"})
        wait_for(lambda: st.broker.alive_or_raise() and "plugin: started (node=n-1" in
                 st.broker.log_text(), what="broker to start")


if __name__ == "__main__":
    main()
