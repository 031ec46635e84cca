/* core/sigv4: AWS Signature Version 4 against the examples AWS publishes
 * with its documented example credentials (AKIAIOSFODNN7EXAMPLE /
 * wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, 2013-05-24, us-east-1, s3):
 * the S3 API Reference's "Authenticating Requests: Using Query Parameters"
 * presigned GET and "Signature Calculations for the Authorization Header"
 * GET Object, PUT Object, GET Bucket lifecycle and GET Bucket (list
 * objects); and the IAM guide's signing key example. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/sigv4.h"
#include "test.h"

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define HOST "examplebucket.s3.amazonaws.com"
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const struct mqc_sigv4 ex = {AKID, SECRET, "us-east-1", "s3", "20130524T000000Z"};

/* The signature of a header-signed request, checking the hash of its
 * canonical request too when creq_sha is given (the last line of the
 * string to sign AWS prints). */
static void check_sig(const char *method, const char *path, const struct mqc_sigv4_kv *q, size_t nq,
                      const struct mqc_sigv4_kv *h, size_t nh, const char *payload,
                      const char *creq_sha, const char *want)
{
    char *c = mqc_sigv4_canonical_request(method, path, q, nq, h, nh, payload);
    char *sts = c ? mqc_sigv4_string_to_sign(&ex, c) : NULL;
    char sig[MQC_SIGV4_HEX_LEN + 1] = "";
    if (!CHECK(sts != NULL))
        goto out;
    if (creq_sha)
        CHECK(strstr(sts, creq_sha) != NULL);
    const char *head = "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n";
    CHECK(strncmp(sts, head, strlen(head)) == 0);
    CHECK_EQ_INT(mqc_sigv4_signature(&ex, sts, sig, sizeof sig), MQC_OK);
    CHECK_STR(sig, want);
out:
    free(c);
    free(sts);
}

TEST(get_object)
{
    struct mqc_sigv4_kv h[] = {{"Host", HOST},
                               {"Range", "bytes=0-9"},
                               {"x-amz-content-sha256", EMPTY_SHA},
                               {"x-amz-date", "20130524T000000Z"}};
    char *c = mqc_sigv4_canonical_request("GET", "/test.txt", NULL, 0, h, 4, EMPTY_SHA);
    CHECK_STR(
        c,
        "GET\n/test.txt\n\nhost:" HOST "\nrange:bytes=0-9\nx-amz-content-sha256:" EMPTY_SHA
        "\nx-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n" EMPTY_SHA);
    free(c);
    check_sig("GET", "/test.txt", NULL, 0, h, 4, EMPTY_SHA,
              "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
              "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(put_object)
{
    /* SHA-256 of "Welcome to Amazon S3." as AWS prints it. */
    const char *body = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
    struct mqc_sigv4_kv h[] = {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                               {"Host", HOST},
                               {"x-amz-date", "20130524T000000Z"},
                               {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                               {"x-amz-content-sha256", body}};
    /* '$' in the key is encoded once: /test%24file.text */
    char *c = mqc_sigv4_canonical_request("PUT", "/test$file.text", NULL, 0, h, 5, body);
    CHECK(c && strncmp(c, "PUT\n/test%24file.text\n\n", 23) == 0);
    free(c);
    check_sig("PUT", "/test$file.text", NULL, 0, h, 5, body,
              "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
              "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(get_bucket_lifecycle)
{
    struct mqc_sigv4_kv q[] = {{"lifecycle", ""}};
    struct mqc_sigv4_kv h[] = {
        {"Host", HOST}, {"x-amz-content-sha256", EMPTY_SHA}, {"x-amz-date", "20130524T000000Z"}};
    check_sig("GET", "/", q, 1, h, 3, EMPTY_SHA, NULL,
              "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(list_objects_query_sorted)
{
    /* Given out of order: the canonical query sorts them. */
    struct mqc_sigv4_kv q[] = {{"prefix", "J"}, {"max-keys", "2"}};
    struct mqc_sigv4_kv h[] = {
        {"x-amz-date", "20130524T000000Z"}, {"host", HOST}, {"x-amz-content-sha256", EMPTY_SHA}};
    char *c = mqc_sigv4_canonical_request("GET", "/", q, 2, h, 3, EMPTY_SHA);
    CHECK(c && strncmp(c, "GET\n/\nmax-keys=2&prefix=J\nhost:", 31) == 0);
    free(c);
    check_sig("GET", "/", q, 2, h, 3, EMPTY_SHA, NULL,
              "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(presigned_get)
{
    const struct mqc_sigv4 s = {AKID, SECRET, "us-east-1", "s3", "20130524T000000Z"};
    char *url = NULL;
    CHECK_EQ_INT(mqc_sigv4_presign(&s, "GET", "https", HOST, "/test.txt", 86400, NULL, 0, &url),
                 MQC_OK);
    CHECK_STR(url,
              "https://examplebucket.s3.amazonaws.com/test.txt"
              "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
              "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
              "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
              "&X-Amz-Signature="
              "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    free(url);
    /* The hash of its canonical request, as the string to sign shows it. */
    struct mqc_sigv4_kv q[] = {
        {"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
        {"X-Amz-Credential", AKID "/20130524/us-east-1/s3/aws4_request"},
        {"X-Amz-Date", "20130524T000000Z"},
        {"X-Amz-Expires", "86400"},
        {"X-Amz-SignedHeaders", "host"},
    };
    struct mqc_sigv4_kv h[] = {{"host", HOST}};
    char *c = mqc_sigv4_canonical_request("GET", "/test.txt", q, 5, h, 1, "UNSIGNED-PAYLOAD");
    char *sts = c ? mqc_sigv4_string_to_sign(&s, c) : NULL;
    CHECK(sts && strstr(sts, "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04"));
    free(c);
    free(sts);
}

TEST(signing_key_iam_example)
{
    /* IAM guide: secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20120215,
     * us-east-1, iam. */
    unsigned char k[32];
    char hex[65];
    CHECK_EQ_INT(mqc_sigv4_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215",
                                       "us-east-1", "iam", k),
                 MQC_OK);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", k[i]);
    CHECK_STR(hex, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

TEST(presigned_put_signs_type_and_length)
{
    const struct mqc_sigv4 s = {AKID, SECRET, "us-east-1", "s3", "20130524T000000Z"};
    struct mqc_sigv4_kv h[] = {{"content-type", "image/jpeg"}, {"content-length", "1234"}};
    char *a = NULL, *b = NULL;
    CHECK_EQ_INT(
        mqc_sigv4_presign(&s, "PUT", "http", "127.0.0.1:4568", "/bkt/c1/ab/cat.jpg", 900, h, 2, &a),
        MQC_OK);
    CHECK(a && strstr(a, "X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost&"));
    CHECK(a && strncmp(a, "http://127.0.0.1:4568/bkt/c1/ab/cat.jpg?", 40) == 0);
    struct mqc_sigv4_kv h2[] = {{"content-type", "image/jpeg"}, {"content-length", "1235"}};
    CHECK_EQ_INT(mqc_sigv4_presign(&s, "PUT", "http", "127.0.0.1:4568", "/bkt/c1/ab/cat.jpg", 900,
                                   h2, 2, &b),
                 MQC_OK);
    /* Another length, another signature. */
    CHECK(a && b && strcmp(strstr(a, "X-Amz-Signature="), strstr(b, "X-Amz-Signature=")) != 0);
    free(a);
    free(b);
}

TEST(uri_encode)
{
    char *e = mqc_sigv4_uri_encode("a b/c~d_e-f.g+h=é", true);
    CHECK_STR(e, "a%20b/c~d_e-f.g%2Bh%3D%C3%A9");
    free(e);
    e = mqc_sigv4_uri_encode("x/y", false);
    CHECK_STR(e, "x%2Fy");
    free(e);
    char d[20];
    CHECK_EQ_INT(mqc_sigv4_date(1369353600, d, sizeof d), MQC_OK);
    CHECK_STR(d, "20130524T000000Z");
    CHECK_EQ_INT(mqc_sigv4_date(-1, d, sizeof d), MQC_EBADREQ);
}

int main(void)
{
    RUN(get_object);
    RUN(put_object);
    RUN(get_bucket_lifecycle);
    RUN(list_objects_query_sorted);
    RUN(presigned_get);
    RUN(signing_key_iam_example);
    RUN(presigned_put_signs_type_and_length);
    RUN(uri_encode);
    return test_finish();
}
