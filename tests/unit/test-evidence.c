/* core/evidence: signed documents (the canonical form is Python's json.dumps, byte for byte),
 * and the decommission certificate: its checks, its HTML page, and reading either file back. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "core/base/fileio.h"
#include "core/crypto/keys.h"
#include "core/evidence/certificate.h"
#include "core/evidence/signed.h"
#include "test.h"

/* What Python writes for DOC (tests/integration/certificate-sign.sh checks the same with Python
 * itself): json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False) and
 * json.dumps(d, sort_keys=True, indent=2, ensure_ascii=False). */
static const char DOC[] =
        "{\"z\": 1, \"a\": \"人事门户网站 \\\"quoted\\\" back\\\\slash\\nnew\\ttab "
        "/ slash \\u2028\", \"big\": 9223372036854775807, \"neg\": "
        "-9223372036854775808, \"nested\": {\"b\": [], \"a\": {}, \"c\": [true, "
        "false, null]}, \"é\": \"x\", \"A\": 0}";
static const char CANONICAL[] =
        "{\"A\":0,\"a\":\"人事门户网站 \\\"quoted\\\" back\\\\slash\\nnew\\ttab / slash "
        "\xe2\x80\xa8\",\"big\":9223372036854775807,\"neg\":-9223372036854775808,\"nested\":{"
        "\"a\":{},\"b\":[],\"c\":[true,false,null]},\"z\":1,\"é\":\"x\"}";
static const char DUMP[] = "{\n"
                           "  \"A\": 0,\n"
                           "  \"a\": \"人事门户网站 \\\"quoted\\\" back\\\\slash\\nnew\\ttab / "
                           "slash \xe2\x80\xa8\",\n"
                           "  \"big\": 9223372036854775807,\n"
                           "  \"neg\": -9223372036854775808,\n"
                           "  \"nested\": {\n"
                           "    \"a\": {},\n"
                           "    \"b\": [],\n"
                           "    \"c\": [\n"
                           "      true,\n"
                           "      false,\n"
                           "      null\n"
                           "    ]\n"
                           "  },\n"
                           "  \"z\": 1,\n"
                           "  \"é\": \"x\"\n"
                           "}\n";

static json_t *load(const char *text) {
        json_error_t err;
        json_t *j = json_loads(text, 0, &err);

        if (!j)
                fail_msg("test JSON does not parse: %s at %d", err.text, err.position);
        return j;
}

static YbAgentIdentity *identity(TestTmpdir *d, const char *name) {
        _cleanup_free_ char *dir = NULL;
        YbAgentIdentity *a = NULL;

        ASSERT_TRUE(asprintf(&dir, "%s/%s", d->path, name) > 0);
        ASSERT_OK(yb_mkdir_p_at(AT_FDCWD, dir, 0700));
        ASSERT_OK(yb_agent_identity_load(dir, &a));
        return a;
}

TEST(canonical_is_what_python_writes) {
        _cleanup_(json_decrefp) json_t *doc = load(DOC);
        _cleanup_free_ char *c = NULL, *d = NULL;

        ASSERT_OK(yb_signed_canonical(doc, &c));
        ASSERT_STREQ(c, CANONICAL);
        ASSERT_OK(yb_signed_dump(doc, &d));
        ASSERT_STREQ(d, DUMP);
}

TEST(canonical_leaves_out_the_signature_only) {
        _cleanup_(json_decrefp) json_t *doc = load("{\"b\": 2, \"signature\": {\"x\": 1}, "
                                                   "\"a\": {\"signature\": 3}}");
        _cleanup_free_ char *c = NULL;

        ASSERT_OK(yb_signed_canonical(doc, &c));
        ASSERT_STREQ(c, "{\"a\":{\"signature\":3},\"b\":2}");
}

TEST(canonical_refuses_what_tools_write_differently) {
        static const char *bad[] = {
                "{\"a\": 1.5}",
                "{\"a\": [1, 2.0]}",
                "{\"a\": \"carriage\\rreturn\"}",
                "{\"a\": \"bell\\u0007\"}",
                "{\"a\": \"delete\\u007f\"}",
                "{\"a\": \"c1\\u0085\"}",
                "{\"key\\u0001\": 1}",
                "[1, 2]",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(json_decrefp) json_t *doc = load(bad[i]);
                _cleanup_free_ char *c = NULL;

                ASSERT_ERR(yb_signed_canonical(doc, &c), EINVAL);
                ASSERT_TRUE(c == NULL);
        }
}

TEST(sign_and_verify) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_agent_identity_freep) YbAgentIdentity *k = identity(d, "k"),
                                                           *other = identity(d, "other");
        _cleanup_(json_decrefp) json_t *doc = load(DOC);
        char why[512];

        ASSERT_ERR(yb_signed_verify(doc, k->sign_pk, why, sizeof(why)), EINVAL);
        ASSERT_TRUE(strstr(why, "not signed"));

        ASSERT_OK(yb_signed_sign(doc, k));
        ASSERT_OK(yb_signed_verify(doc, k->sign_pk, why, sizeof(why)));
        ASSERT_STREQ(why, "");
        /* Without a key it checks against the one the document names, and says what that
         * proves. */
        ASSERT_OK(yb_signed_verify(doc, NULL, why, sizeof(why)));
        ASSERT_TRUE(strstr(why, "not who signed it"));

        ASSERT_ERR(yb_signed_verify(doc, other->sign_pk, why, sizeof(why)), EKEYREJECTED);
        ASSERT_TRUE(strstr(why, "not by the key it must be signed with"));

        /* One changed value. */
        json_object_set_new(doc, "z", json_integer(2));
        ASSERT_ERR(yb_signed_verify(doc, k->sign_pk, why, sizeof(why)), EBADMSG);
        ASSERT_TRUE(strstr(why, "changed after it was signed"));
        json_object_set_new(doc, "z", json_integer(1));
        ASSERT_OK(yb_signed_verify(doc, k->sign_pk, why, sizeof(why)));

        /* Signed again by another key, named as such: the key is refused, not the signature. */
        ASSERT_OK(yb_signed_sign(doc, other));
        ASSERT_OK(yb_signed_verify(doc, other->sign_pk, why, sizeof(why)));
        ASSERT_ERR(yb_signed_verify(doc, k->sign_pk, why, sizeof(why)), EKEYREJECTED);
}

TEST(verify_refuses_malformed_signatures) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_agent_identity_freep) YbAgentIdentity *k = identity(d, "k");
        _cleanup_(json_decrefp) json_t *doc = load(DOC);
        _cleanup_free_ char *value = NULL;
        json_t *s;
        char why[512];
        size_t n;

        ASSERT_OK(yb_signed_sign(doc, k));
        s = json_object_get(doc, "signature");
        value = strdup(json_string_value(json_object_get(s, "value")));

        /* Nothing unsigned rides along in the signature. */
        json_object_set_new(s, "comment", json_string("trust me"));
        ASSERT_ERR(yb_signed_verify(doc, k->sign_pk, why, sizeof(why)), EINVAL);
        ASSERT_TRUE(strstr(why, "comment"));
        json_object_del(s, "comment");

        json_object_set_new(s, "alg", json_string("rsa"));
        ASSERT_ERR(yb_signed_verify(doc, k->sign_pk, why, sizeof(why)), EINVAL);
        json_object_set_new(s, "alg", json_string("ed25519"));

        /* The same bytes in another base64 spelling (a padding bit set) are refused. */
        n = strlen(value);
        ASSERT_EQ(value[n - 1], '=');
        ASSERT_EQ(value[n - 2], '=');
        {
                _cleanup_free_ char *odd = strdup(value);
                const char *b64 =
                        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

                odd[n - 3] = b64[(strchr(b64, odd[n - 3]) - b64) ^ 1];
                json_object_set_new(s, "value", json_string(odd));
                ASSERT_ERR(yb_signed_verify(doc, k->sign_pk, why, sizeof(why)), EINVAL);
                ASSERT_TRUE(strstr(why, "signature.value"));
        }
        json_object_set_new(s, "value", json_string("c2hvcnQ="));
        ASSERT_ERR(yb_signed_verify(doc, k->sign_pk, why, sizeof(why)), EINVAL);
        json_object_set_new(s, "value", json_string(value));
        ASSERT_OK(yb_signed_verify(doc, k->sign_pk, why, sizeof(why)));

        json_object_set_new(doc, "signature", json_string("x"));
        ASSERT_ERR(yb_signed_verify(doc, k->sign_pk, why, sizeof(why)), EINVAL);
}

TEST(read_public_key) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_agent_identity_freep) YbAgentIdentity *k = identity(d, "k");
        _cleanup_free_ char *b64 = NULL, *line = NULL, *path = NULL;
        uint8_t pk[32];
        char why[512], fp[YB_SIGNED_FINGERPRINT_MAX];

        ASSERT_OK(yb_base64_encode(k->sign_pk, 32, &b64));
        ASSERT_TRUE(asprintf(&line, "%s\n", b64) > 0);
        ASSERT_TRUE(asprintf(&path, "%s/yunbakd.pub", d->path) > 0);
        ASSERT_ERR(yb_signed_read_public_key(path, pk, why, sizeof(why)), ENOENT);
        ASSERT_TRUE(strstr(why, path));
        ASSERT_OK(yb_write_file_atomic_at(AT_FDCWD, path, line, strlen(line), 0644));
        ASSERT_OK(yb_signed_read_public_key(path, pk, why, sizeof(why)));
        ASSERT_MEMEQ(pk, k->sign_pk, 32);

        ASSERT_OK(yb_write_file_atomic_at(AT_FDCWD, path, "hello\n", 6, 0644));
        ASSERT_ERR(yb_signed_read_public_key(path, pk, why, sizeof(why)), EINVAL);
        ASSERT_TRUE(strstr(why, "not yunbakd's public key"));

        /* The fingerprint is SHA-256 in unpadded base64, as OpenSSH writes them; this one is
         * `printf '\0%.0s' $(seq 32) | openssl dgst -sha256 -binary | base64`. */
        memset(pk, 0, sizeof(pk));
        yb_signed_fingerprint(pk, fp);
        ASSERT_STREQ(fp, "SHA256:Zmh6rfhivXdsj8GLjp+OIAiXFIVu4jOzkCpZHQ1fKSU");
}
