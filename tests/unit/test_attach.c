/* core/attach and core/preview: keys (format, randomness, what a key of
 * another conversation or a made-up path looks like), names, types, the
 * store's address in both styles, the URLs, and push previews. */
#include <stdlib.h>
#include <string.h>

#include "core/attach.h"
#include "core/err.h"
#include "core/preview.h"
#include "test.h"

TEST(keys)
{
    char a[MQC_ATTACH_KEY_MAX + 1], b[MQC_ATTACH_KEY_MAX + 1];
    CHECK_EQ_INT(mqc_attach_key_new("c1", "my cat.jpg", a, sizeof a), MQC_OK);
    CHECK_EQ_INT(mqc_attach_key_new("c1", "my cat.jpg", b, sizeof b), MQC_OK);
    CHECK(strcmp(a, b) != 0);
    CHECK_EQ_INT((int)strlen(a), 2 + 1 + 32 + 1 + 10);
    CHECK(strncmp(a, "c1/", 3) == 0 && strcmp(a + 35, "/my_cat.jpg") == 0);
    CHECK(mqc_attach_key_valid("c1", a));
    CHECK(!mqc_attach_key_valid("c2", a));
    CHECK(!mqc_attach_key_valid("c", a));
    CHECK_EQ_INT(mqc_attach_key_new("c1", "../../", a, sizeof a), MQC_OK);
    CHECK_EQ_INT((int)strlen(a), 35); /* no name part at all */
    CHECK(mqc_attach_key_valid("c1", a));
    CHECK_EQ_INT(mqc_attach_key_new("bad/conv", "x", a, sizeof a), MQC_EBADREQ);
    CHECK(!mqc_attach_key_valid("c1", "c1/../c2/0123456789abcdef0123456789abcdef"));
    CHECK(!mqc_attach_key_valid("c1", "c1/0123456789abcdef0123456789abcdef/../x"));
    CHECK(!mqc_attach_key_valid("c1", "c1/0123456789abcdef0123456789abcdef/a/b"));
    CHECK(!mqc_attach_key_valid("c1", "c1/0123456789ABCDEF0123456789abcdef"));
    CHECK(!mqc_attach_key_valid("c1", "c1/0123456789abcdef0123456789abcdef/"));
    CHECK(mqc_attach_key_valid("c1", "c1/0123456789abcdef0123456789abcdef/a.b-c_d"));
}

TEST(names)
{
    char n[MQC_ATTACH_NAME_MAX + 1];
    mqc_attach_sanitise_name("Ünïcode photo (1).JPG", n, sizeof n);
    CHECK_STR(n, "n_code_photo_1_.JPG");
    mqc_attach_sanitise_name("../../etc/passwd", n, sizeof n);
    CHECK_STR(n, "etc_passwd");
    mqc_attach_sanitise_name("...", n, sizeof n);
    CHECK_STR(n, "");
    char longname[300];
    memset(longname, 'a', 290);
    strcpy(longname + 290, ".pdf");
    mqc_attach_sanitise_name(longname, n, sizeof n);
    CHECK_EQ_INT((int)strlen(n), MQC_ATTACH_NAME_MAX);
    CHECK(strcmp(n + MQC_ATTACH_NAME_MAX - 4, ".pdf") == 0);
}

TEST(types_and_options)
{
    CHECK(mqc_attach_type_valid("image/jpeg"));
    CHECK(mqc_attach_type_valid("application/vnd.openxmlformats-officedocument.wordprocessingml"));
    CHECK(!mqc_attach_type_valid("image/jpeg; charset=x"));
    CHECK(!mqc_attach_type_valid("image"));
    CHECK(!mqc_attach_type_valid("/x"));
    CHECK(!mqc_attach_type_valid("text/\nx"));
    CHECK(mqc_attach_check_endpoint("http://127.0.0.1:4568") == NULL);
    CHECK(mqc_attach_check_endpoint("https://s3.eu-west-1.amazonaws.com/") == NULL);
    CHECK(mqc_attach_check_endpoint("ftp://x") != NULL);
    CHECK(mqc_attach_check_endpoint("http://user@x") != NULL);
    CHECK(mqc_attach_check_endpoint("http://x/?a=b") != NULL);
    CHECK(mqc_attach_check_bucket("my-bucket.1") == NULL);
    CHECK(mqc_attach_check_bucket("My_Bucket") != NULL);
    CHECK(mqc_attach_check_bucket("-ab") != NULL);
}

TEST(urls_both_styles)
{
    struct mqc_attach_store *p =
        mqc_attach_store_new("http://127.0.0.1:4568/", "bkt", "us-east-1", "AK", "SK", true);
    struct mqc_attach_store *v = mqc_attach_store_new("https://s3.eu-west-1.amazonaws.com", "bkt",
                                                      "eu-west-1", "AK", "SK", false);
    if (!CHECK(p && v))
        goto out;
    char *u = NULL;
    const char *key = "c1/0123456789abcdef0123456789abcdef/a.jpg";
    CHECK_EQ_INT(mqc_attach_put_url(p, key, "image/jpeg", 10, 1700000000, 900, &u), MQC_OK);
    const char *want = "http://127.0.0.1:4568/bkt/c1/0123456789abcdef0123456789abcdef/a.jpg?";
    CHECK(u && strncmp(u, want, strlen(want)) == 0);
    CHECK(u && strstr(u, "X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost"));
    CHECK(u && strstr(u, "X-Amz-Expires=900&"));
    free(u);
    CHECK_EQ_INT(mqc_attach_get_url(v, key, 1700000000, 60, &u), MQC_OK);
    CHECK(u && strncmp(u, "https://bkt.s3.eu-west-1.amazonaws.com/c1/", 42) == 0);
    CHECK(u && strstr(u, "%2Feu-west-1%2Fs3%2Faws4_request"));
    CHECK(u && strstr(u, "X-Amz-SignedHeaders=host&"));
    free(u);
    /* A default port is not part of the Host header clients send. */
    struct mqc_attach_store *d =
        mqc_attach_store_new("https://files.example.com:443/base/", "bkt", "r", "AK", "SK", true);
    if (CHECK(d != NULL)) {
        CHECK_STR(d->host, "files.example.com");
        CHECK_STR(d->base, "/base");
        CHECK_EQ_INT(mqc_attach_get_url(d, key, 1700000000, 60, &u), MQC_OK);
        CHECK(u && strncmp(u, "https://files.example.com/base/bkt/c1/", 38) == 0);
        free(u);
    }
    mqc_attach_store_free(d);
out:
    mqc_attach_store_free(p);
    mqc_attach_store_free(v);
}

TEST(previews)
{
    char out[MQC_PREVIEW_MAX + 1];
    mqc_preview_make("hello", "{\"attachment\":{\"name\":\"a.pdf\"}}", out, sizeof out);
    CHECK_STR(out, "hello");
    mqc_preview_make("", "{\"attachment\":{\"name\":\"a.pdf\",\"type\":\"application/pdf\"}}", out,
                     sizeof out);
    CHECK_STR(out, "\xf0\x9f\x93\x8e a.pdf");
    mqc_preview_make("", "{\"attachment\":{\"name\":\"c.jpg\",\"type\":\"image/jpeg\"}}", out,
                     sizeof out);
    CHECK_STR(out, "\xf0\x9f\x93\xb7 Photo");
    mqc_preview_make("", "{\"attachment\":{}}", out, sizeof out);
    CHECK_STR(out, "\xf0\x9f\x93\x8e File");
    mqc_preview_make("", "{\"other\":1}", out, sizeof out);
    CHECK_STR(out, "");
    mqc_preview_make("", "not json", out, sizeof out);
    CHECK_STR(out, "");
    mqc_preview_make("", NULL, out, sizeof out);
    CHECK_STR(out, "");
    /* A long name of 2-byte characters is cut on a character boundary. */
    char attrs[1200] = "{\"attachment\":{\"name\":\"";
    for (int i = 0; i < 300; i++)
        strcat(attrs, "\xc3\xa9");
    strcat(attrs, "\"}}");
    mqc_preview_make("", attrs, out, sizeof out);
    CHECK(strlen(out) <= MQC_PREVIEW_MAX && strlen(out) > 200);
    CHECK((strlen(out) - 5) % 2 == 0);
}

int main(void)
{
    RUN(keys);
    RUN(names);
    RUN(types_and_options);
    RUN(urls_both_styles);
    RUN(previews);
    return test_finish();
}
