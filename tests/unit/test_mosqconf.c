/* Unit tests for core/mosqconf.h: directives split as mosquitto does,
 * comments and blank lines skipped, file and line kept, last value wins. */
#include <string.h>

#include "core/err.h"
#include "core/mosqconf.h"
#include "tests/unit/test.h"

TEST(directives_in_order)
{
    struct mqc_mosqconf c = {0};
    const char *text = "# comment\n"
                       "\n"
                       "listener 1883 127.0.0.1\r\n"
                       "  plugin /usr/lib/mqchat/mqchat_plugin.so  \n"
                       "plugin_opt_other_topics devices/%u/#  public/#\n"
                       "   # indented comment\n"
                       "per_listener_settings\tfalse";
    if (!CHECK_EQ_INT(mqc_mosqconf_parse(&c, text, "a.conf"), MQC_OK))
        return;
    if (!CHECK_EQ_INT((long)c.n, 4))
        return;
    CHECK_STR(c.v[0].key, "listener");
    CHECK_STR(c.v[0].value, "1883 127.0.0.1");
    CHECK_EQ_INT(c.v[0].line, 3);
    CHECK_STR(c.v[0].file, "a.conf");
    CHECK_STR(c.v[1].key, "plugin");
    CHECK_STR(c.v[1].value, "/usr/lib/mqchat/mqchat_plugin.so");
    CHECK_STR(c.v[2].value, "devices/%u/#  public/#");
    CHECK_STR(c.v[3].key, "per_listener_settings");
    CHECK_STR(c.v[3].value, "false");
    CHECK_EQ_INT(c.v[3].line, 7);
    mqc_mosqconf_cleanup(&c);
}

TEST(appends_and_last_wins)
{
    struct mqc_mosqconf c = {0};
    CHECK_EQ_INT(mqc_mosqconf_parse(&c, "max_packet_size 1000\nlistener\n", "a"), MQC_OK);
    CHECK_EQ_INT(mqc_mosqconf_parse(&c, "max_packet_size 2000\n", "b"), MQC_OK);
    CHECK_EQ_INT((long)c.n, 3);
    CHECK_STR(c.v[1].value, "");
    CHECK_STR(mqc_mosqconf_get(&c, "max_packet_size", 0, c.n), "2000");
    CHECK_STR(mqc_mosqconf_get(&c, "max_packet_size", 0, 1), "1000");
    CHECK(mqc_mosqconf_get(&c, "user", 0, c.n) == NULL);
    CHECK_STR(c.v[2].file, "b");
    mqc_mosqconf_cleanup(&c);
    mqc_mosqconf_cleanup(&c);
    mqc_mosqconf_cleanup(NULL);
    CHECK_EQ_INT((long)c.n, 0);
}

int main(void)
{
    RUN(directives_in_order);
    RUN(appends_and_last_wins);
    return test_finish();
}
