/* Unit tests for bridge/fcm_auth.h: service-account JSON accepted and each
 * way of refusing it (with the reason the operator sees), loading from a
 * file naming the path, the token request body, and token replies (good,
 * refused with and without an OAuth error, junk). */
#include <cjson/cJSON.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/fcm_auth.h"
#include "core/err.h"
#include "tests/unit/test.h"

static char *pem_of(EVP_PKEY *key)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL, *data = NULL;
    long n = b && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)
                 ? BIO_get_mem_data(b, &data)
                 : 0;
    if (n > 0 && (out = malloc((size_t)n + 1))) {
        memcpy(out, data, (size_t)n);
        out[n] = '\0';
    }
    BIO_free(b);
    return out;
}

/* A service account JSON with key (PEM, may be NULL = left out) and uri. */
static char *account(const char *pem, const char *uri)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "service_account");
    cJSON_AddStringToObject(o, "project_id", "proj-1");
    if (pem)
        cJSON_AddStringToObject(o, "private_key", pem);
    cJSON_AddStringToObject(o, "client_email", "push@proj-1.iam.example");
    cJSON_AddStringToObject(o, "token_uri", uri);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static EVP_PKEY *rsa, *ec;
static char *rsa_pem, *ec_pem;

TEST(parse_good_account_and_form)
{
    char *text = account(rsa_pem, "https://oauth.example/token");
    struct mqc_fcm_account a;
    char why[256] = "";
    if (!CHECK_EQ_INT(mqc_fcm_account_parse(text, strlen(text), &a, why, sizeof why), MQC_OK))
        fprintf(stderr, "  why: %s\n", why);
    else {
        CHECK_STR(a.project, "proj-1");
        CHECK_STR(a.email, "push@proj-1.iam.example");
        CHECK_STR(a.token_uri, "https://oauth.example/token");
        char *form = NULL;
        if (CHECK_EQ_INT(mqc_fcm_token_form(&a, 1700000000, &form), MQC_OK)) {
            const char *want = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
                               "&assertion=";
            CHECK(strncmp(form, want, strlen(want)) == 0);
            const char *jwt = form + strlen(want);
            int dots = 0;
            for (const char *p = jwt; *p; p++) {
                dots += *p == '.';
                CHECK(*p == '.' || *p == '-' || *p == '_' || (*p >= '0' && *p <= '9') ||
                      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'));
            }
            CHECK_EQ_INT(dots, 2);
        }
        free(form);
    }
    mqc_fcm_account_cleanup(&a);
    mqc_fcm_account_cleanup(&a); /* twice is fine */
    mqc_fcm_account_cleanup(NULL);
    free(text);
}

static void expect_refused(const char *text, const char *reason)
{
    struct mqc_fcm_account a;
    char why[256] = "";
    CHECK_EQ_INT(mqc_fcm_account_parse(text, strlen(text), &a, why, sizeof why), MQC_EBADREQ);
    if (!CHECK(test_contains(why, reason)))
        fprintf(stderr, "  why: %s\n", why);
    CHECK(a.key == NULL && a.project == NULL);
}

TEST(parse_refusals)
{
    expect_refused("", "is not JSON");
    expect_refused("not json at all", "is not JSON");
    expect_refused("[1,2]", "is not JSON");
    char *t = account(NULL, "https://oauth.example/token");
    expect_refused(t, "lacks private_key");
    free(t);
    t = account(rsa_pem, "http://oauth.example/token");
    expect_refused(t, "token_uri that is not https://");
    free(t);
    t = account("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n",
                "https://oauth.example/token");
    expect_refused(t, "private_key that is not an RSA private key");
    free(t);
    t = account(ec_pem, "https://oauth.example/token"); /* RS256 needs RSA */
    expect_refused(t, "private_key that is not an RSA private key");
    free(t);
}

TEST(load_names_the_path)
{
    struct mqc_fcm_account a;
    char why[512] = "";
    CHECK_EQ_INT(mqc_fcm_account_load("/nonexistent/sa.json", &a, why, sizeof why), MQC_ENOTFOUND);
    CHECK(test_contains(why, "cannot read '/nonexistent/sa.json'") &&
          test_contains(why, "No such file"));
    const char *t = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/mqc-fcm-auth-XXXXXX", t && t[0] ? t : "/tmp");
    int fd = mkstemp(path);
    if (!CHECK(fd >= 0))
        return;
    CHECK_EQ_INT(write(fd, "{\"broken\":", 10), 10);
    close(fd);
    CHECK_EQ_INT(mqc_fcm_account_load(path, &a, why, sizeof why), MQC_EBADREQ);
    CHECK(test_contains(why, path) && test_contains(why, "is not JSON"));
    unlink(path);
}

TEST(token_replies)
{
    char *tok = NULL;
    int64_t life = 0;
    char why[256] = "";
    CHECK_EQ_INT(mqc_fcm_token_reply(200, "{\"access_token\":\"ya29.x\",\"expires_in\":3599}", &tok,
                                     &life, why, sizeof why),
                 MQC_OK);
    CHECK_STR(tok, "ya29.x");
    CHECK_EQ_INT(life, 3539000);
    free(tok);
    CHECK_EQ_INT(mqc_fcm_token_reply(200, "{\"access_token\":\"t\"}", &tok, &life, why, sizeof why),
                 MQC_OK);
    CHECK_EQ_INT(life, 3540000); /* no expires_in: an hour, less the margin */
    free(tok);
    CHECK_EQ_INT(mqc_fcm_token_reply(400,
                                     "{\"error\":\"invalid_grant\",\"error_description\":"
                                     "\"Invalid JWT Signature.\"}",
                                     &tok, &life, why, sizeof why),
                 MQC_EUNAVAIL);
    CHECK_STR(why, "HTTP 400 invalid_grant: Invalid JWT Signature.");
    CHECK(tok == NULL);
    CHECK_EQ_INT(mqc_fcm_token_reply(503, "<html>down</html>", &tok, &life, why, sizeof why),
                 MQC_EUNAVAIL);
    CHECK_STR(why, "HTTP 503");
    CHECK_EQ_INT(mqc_fcm_token_reply(200, "{}", &tok, &life, why, sizeof why), MQC_EUNAVAIL);
    CHECK_STR(why, "HTTP 200 without an access_token");
    CHECK_EQ_INT(mqc_fcm_token_reply(200, NULL, &tok, &life, why, sizeof why), MQC_EUNAVAIL);
    CHECK_EQ_INT(
        mqc_fcm_token_reply(401, "{\"error\":\"a\\u0001b\"}", &tok, &life, why, sizeof why),
        MQC_EUNAVAIL);
    CHECK_STR(why, "HTTP 401 a?b"); /* printable only */
}

int main(void)
{
    rsa = EVP_RSA_gen(2048);
    ec = EVP_EC_gen("P-256");
    rsa_pem = rsa ? pem_of(rsa) : NULL;
    ec_pem = ec ? pem_of(ec) : NULL;
    if (!rsa_pem || !ec_pem) {
        fprintf(stderr, "cannot make test keys\n");
        return 1;
    }
    RUN(parse_good_account_and_form);
    RUN(parse_refusals);
    RUN(load_names_the_path);
    RUN(token_replies);
    free(rsa_pem);
    free(ec_pem);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    return test_finish();
}
