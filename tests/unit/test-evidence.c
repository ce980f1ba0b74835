/* core/evidence: signed documents (the canonical form is Python's json.dumps, byte for byte),
 * the decommission certificate and the drill record: their checks, their HTML pages, and reading
 * either file back. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "core/base/fileio.h"
#include "core/crypto/keys.h"
#include "core/evidence/certificate.h"
#include "core/evidence/drill.h"
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

/* The certificate ---------------------------------------------------------------------------- */

static json_t *fixture_file(const char *path) {
        json_error_t err;
        json_t *j = json_load_file(path, 0, &err);

        if (!j)
                fail_msg("fixture: %s at line %d", err.text, err.line);
        return j;
}

static json_t *fixture(void) {
        return fixture_file(YB_TEST_DATA "/certificate/unsigned.json");
}

/* Sets the member at path ("artifacts.0.methods": names and array indexes by dots) of doc to
 * the JSON value, or removes it when value is NULL. */
static void set_path(json_t *doc, const char *path, const char *value) {
        _cleanup_free_ char *copy = strdup(path);
        char *p = copy, *dot, *end;
        json_t *o = doc, *v = NULL;

        if (value) {
                v = json_loads(value, JSON_DECODE_ANY, NULL);
                if (!v)
                        fail_msg("test value %s does not parse", value);
        }
        while ((dot = strchr(p, '.'))) {
                *dot = 0;
                o = json_is_array(o) ? json_array_get(o, strtoul(p, &end, 10))
                                     : json_object_get(o, p);
                if (!o)
                        fail_msg("no %s in %s", p, path);
                p = dot + 1;
        }
        if (json_is_array(o))
                ASSERT_OK(json_array_set_new(o, strtoul(p, &end, 10), v));
        else if (v)
                ASSERT_OK(json_object_set_new(o, p, v));
        else
                ASSERT_OK(json_object_del(o, p));
}

TEST(certificate_check_accepts_the_fixture) {
        _cleanup_(json_decrefp) json_t *c = fixture();
        char why[512];

        ASSERT_OK(yb_certificate_check(c, why, sizeof(why)));
        /* A medium not known: deletion only, and the operator told what is left. */
        set_path(c, "artifacts.4.medium", "null");
        ASSERT_OK(yb_certificate_check(c, why, sizeof(why)));
        set_path(c, "artifacts.4.operator_must", "null");
        ASSERT_ERR(yb_certificate_check(c, why, sizeof(why)), EINVAL);
        ASSERT_TRUE(strstr(why, "artifacts[4].operator_must: null"));
}

TEST(certificate_check_refuses_inconsistent_claims) {
        static const struct {
                const char *path, *value, *why;
        } cases[] = {
                { "artifacts.0.methods", "[\"delete\"]",
                  "artifacts[0].methods: inconsistent for a backups artifact" },
                { "artifacts.3.medium.overwrite_effective", "false",
                  "an overwrite that proves nothing is never claimed" },
                { "artifacts.1.operator_must", "null",
                  "artifacts[1].operator_must: null, but no effective overwrite is claimed" },
                { "artifacts.0.claim", "\"cryptographic erase + overwrite + deletion\"",
                  "artifacts[0].claim: \"cryptographic erase + overwrite + deletion\", but its "
                  "methods make it \"cryptographic erase + deletion\"" },
                { "artifacts.0.nist_category", "\"clear\"", "artifacts[0].nist_category" },
                { "artifacts.7.verification.result", "\"passed\"",
                  "an attested copy is never verified" },
                { "artifacts.7.methods", "[\"delete\"]", "artifacts[7].methods: inconsistent" },
                { "artifacts.6.methods", "[\"overwrite\", \"delete\"]",
                  "artifacts[6].methods: claim an overwrite" },
                { "artifacts.4.methods", "[\"delete\", \"delete\"]", "\"delete\" twice" },
                { "artifacts.0.methods", "[\"cryptographic-erase\", \"shred\"]",
                  "item 1 is not one of" },
                { "artifacts.2.tiers", NULL, "artifacts[2].tiers: missing" },
                { "artifacts.0.size_bytes", "1.5", "artifacts[0].size_bytes: not an integer" },
                { "artifacts.5.state", "\"lost\"", "artifacts[5].state" },
                { "artifacts.3.medium", "null",
                  "artifacts[3].methods: claim an overwrite, but the medium is not known" },
                { "artifacts.5.medium", "null", "artifacts[5].methods: claim an overwrite" },
                { "artifacts", "[]", "artifacts: missing, empty" },
                { "decommission.approved.by", "\"zhangwei\"", "it takes two people" },
                { "decommission.export.key_id", "\"4fa832ef3ff37fd7\"",
                  "the system's own key (4fa832ef3ff37fd7)" },
                { "handed_over", "null", "handed_over: null, but the export names store" },
                { "handed_over.snapshot", "\"20261121T020000Z-ffffff\"",
                  "handed_over: does not name the export's" },
                { "decommission.export.state", "\"skipped\"", "decommission.export.state" },
                { "decommission.verified.result", "\"failed\"",
                  "issued only when verification passed" },
                { "decommission.verified", NULL, "decommission.verified: missing" },
                { "decommission.executed.finished", "\"2026-12-06T14:00:00Z\"",
                  "before it started" },
                { "issued", "\"2026-12-06 15:04:05\"", "issued: \"2026-12-06 15:04:05\" is not" },
                { "system.name", "\"a\\u0007b\"", "system.name: a control character (U+0007)" },
                { "system.key_id", "\"4FA832EF3FF37FD7\"", "system.key_id" },
                { "system.id", "\"HR portal\"", "system.id" },
                { "version", "2", "version: 2; this yunbak reads version 1" },
                { "type", "\"yunbak-drill-report\"", "type: \"yunbak-drill-report\"" },
                { "issuer.tool", "\"other\"", "issuer.tool" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(json_decrefp) json_t *c = fixture();
                char why[512];

                set_path(c, cases[i].path, cases[i].value);
                ASSERT_ERR(yb_certificate_check(c, why, sizeof(why)), EINVAL);
                if (!strstr(why, cases[i].why))
                        fail_msg("%s = %s: \"%s\" does not say \"%s\"", cases[i].path,
                                 cases[i].value ?: "(removed)", why, cases[i].why);
        }
}

TEST(certificate_set_methods_is_the_rule_check_holds) {
        _cleanup_(json_decrefp) json_t *c = fixture();
        json_t *a;
        size_t i;
        char why[512];

        json_array_foreach(json_object_get(c, "artifacts"), i, a) {
                _cleanup_(json_decrefp) json_t *copy = json_deep_copy(a);

                json_object_del(copy, "methods");
                json_object_del(copy, "claim");
                json_object_set_new(copy, "nist_category", json_string("?"));
                ASSERT_OK(yb_certificate_set_methods(copy, true));
                if (!json_equal(copy, a))
                        fail_msg("artifact %zu: set_methods gives another claim", i);
        }
        /* No overwrite done where it would have been effective: deletion only. */
        a = json_array_get(json_object_get(c, "artifacts"), 3);
        ASSERT_OK(yb_certificate_set_methods(a, false));
        ASSERT_STREQ(json_string_value(json_object_get(a, "claim")), "deletion only");
        ASSERT_STREQ(json_string_value(json_object_get(a, "nist_category")), "none");
        ASSERT_ERR(yb_certificate_check(c, why, sizeof(why)), EINVAL);
        ASSERT_TRUE(strstr(why, "artifacts[3].operator_must"));
        json_object_set_new(a, "operator_must", json_string("destroy the volume (sdb)"));
        ASSERT_OK(yb_certificate_check(c, why, sizeof(why)));
        json_object_set_new(a, "kind", json_string("other"));
        ASSERT_ERR(yb_certificate_set_methods(a, true), EINVAL);
}

TEST(certificate_waived_export) {
        _cleanup_(json_decrefp) json_t *c = fixture();
        _cleanup_free_ char *s = NULL;
        char why[512];

        set_path(c, "decommission.export.state", "\"waived\"");
        set_path(c, "decommission.export.note", "null");
        set_path(c, "decommission.export.store", "null");
        set_path(c, "decommission.export.snapshot", "null");
        set_path(c, "decommission.export.key_id", "null");
        set_path(c, "handed_over", "null");
        ASSERT_ERR(yb_certificate_check(c, why, sizeof(why)), EINVAL);
        ASSERT_TRUE(strstr(why, "waived only with the department's reason"));
        set_path(c, "decommission.export.note",
                 "\"the new platform restored it from its own copy\"");
        ASSERT_OK(yb_certificate_check(c, why, sizeof(why)));
        ASSERT_OK(yb_certificate_summary(c, &s));
        ASSERT_TRUE(strstr(s, "The department waived the final export: the new platform"));
}

TEST(certificate_summary) {
        _cleanup_(json_decrefp) json_t *c = fixture();
        _cleanup_free_ char *s = NULL, *one = NULL;

        ASSERT_OK(yb_certificate_summary(c, &s));
        ASSERT_STREQ(s, "Every copy of 人事门户网站's data in 3 stores and on 1 host was destroyed "
                        "and verified; 3 key copies destroyed (1 attested). The cloud operator "
                        "must still act on 5 of the 8 artifacts below, as each says. The final "
                        "export stays with 市人力资源和社会保障局: store handover, snapshot "
                        "20261120T020000Z-1a2b3c, sealed to its key 9d0e5c21aa07b3f4.");
        /* Two hosts, one store, one key copy, none attested. */
        set_path(c, "artifacts.4.location", "\"hr-db-01:/var/lib/yunbak-agent\"");
        ASSERT_OK(json_array_remove(json_object_get(c, "artifacts"), 7));
        ASSERT_OK(json_array_remove(json_object_get(c, "artifacts"), 6));
        ASSERT_OK(json_array_remove(json_object_get(c, "artifacts"), 2));
        ASSERT_OK(json_array_remove(json_object_get(c, "artifacts"), 1));
        ASSERT_OK(yb_certificate_summary(c, &one));
        ASSERT_TRUE(strstr(one, "data in 1 store and on 2 hosts was destroyed and verified; 1 key "
                                "copy destroyed. The cloud operator must still act on 2 of the "
                                "4 artifacts"));
}

TEST(certificate_host_attested) {
        _cleanup_(json_decrefp) json_t *c = fixture();
        _cleanup_free_ char *s = NULL;
        json_t *arts = json_object_get(c, "artifacts"), *a;
        char why[512];
        size_t i;

        /* Everything of the host rests on the operator's attestation that it was destroyed. */
        json_array_foreach(arts, i, a) {
                const char *kind = json_string_value(json_object_get(a, "kind"));

                if (!streq(kind, "source-path") && !streq(kind, "agent-state"))
                        continue;
                json_object_set_new(a, "state", json_string("attested"));
                json_object_set_new(a, "medium", json_null());
                json_object_set_new(a, "operator_must", json_null());
                json_object_set_new(json_object_get(a, "verification"), "result",
                                    json_string("passed"));
                ASSERT_OK(yb_certificate_set_methods(a, true));
                ASSERT_STREQ(json_string_value(json_object_get(a, "claim")),
                             YB_CERTIFICATE_HOST_ATTESTED);
                ASSERT_STREQ(json_string_value(json_object_get(a, "nist_category")), "none");
                ASSERT_EQ(json_array_size(json_object_get(a, "methods")), 1);
                /* Never "passed": it is someone's word. */
                ASSERT_ERR(yb_certificate_check(c, why, sizeof(why)), EINVAL);
                ASSERT_TRUE(strstr(why, "verification.result"));
                json_object_set_new(json_object_get(a, "verification"), "result",
                                    json_string("attested"));
        }
        ASSERT_OK(yb_certificate_check(c, why, sizeof(why)));
        ASSERT_OK(yb_certificate_summary(c, &s));
        ASSERT_TRUE(strstr(s, "data in 3 stores was destroyed and verified, and on 1 host "
                              "destroyed by the operator's word (attested); 3 key copies "
                              "destroyed (1 attested). 2 of the 8 artifacts rest on the "
                              "operator's attestation that the host was destroyed"));
        /* An attested source path claims nothing else, and says nothing but "attested". */
        a = json_array_get(arts, 3);
        set_path(c, "artifacts.3.methods", "[\"attested\", \"delete\"]");
        ASSERT_ERR(yb_certificate_check(c, why, sizeof(why)), EINVAL);
        set_path(c, "artifacts.3.methods", "[\"attested\"]");
        set_path(c, "artifacts.3.state", "\"destroyed\"");
        ASSERT_ERR(yb_certificate_check(c, why, sizeof(why)), EINVAL);
        ASSERT_TRUE(strstr(why, "artifacts[3].state"));
        json_object_del(a, "state");
        ASSERT_ERR(yb_certificate_check(c, why, sizeof(why)), EINVAL);
        set_path(c, "artifacts.3.state", "\"attested\"");
        ASSERT_OK(yb_certificate_check(c, why, sizeof(why)));
        /* A backup is never attested. */
        set_path(c, "artifacts.0.methods", "[\"attested\"]");
        ASSERT_ERR(yb_certificate_check(c, why, sizeof(why)), EINVAL);
        ASSERT_TRUE(strstr(why, "artifacts[0].methods"));
}

/* A signed fixture, its JSON and HTML files in d: the paths in *ret_json and *ret_html. */
static json_t *signed_files(TestTmpdir *d, char **ret_json, char **ret_html) {
        _cleanup_(yb_agent_identity_freep) YbAgentIdentity *k = identity(d, "yunbakd");
        _cleanup_free_ char *b64 = NULL, *file = NULL, *page = NULL;
        json_t *c = fixture();

        ASSERT_OK(yb_base64_encode(k->sign_pk, 32, &b64));
        set_path(c, "issuer.ed25519", NULL);
        json_object_set_new(json_object_get(c, "issuer"), "ed25519", json_string(b64));
        /* Text that must not end or confuse the page's script element. */
        set_path(c, "decommission.reason", "\"迁移 </script><!-- <script> & \\\"x\\\"\"");
        ASSERT_OK(yb_signed_sign(c, k));
        ASSERT_OK(yb_signed_dump(c, &file));
        ASSERT_OK(yb_certificate_html(c, &page));
        ASSERT_TRUE(asprintf(ret_json, "%s/cert.json", d->path) > 0);
        ASSERT_TRUE(asprintf(ret_html, "%s/cert.html", d->path) > 0);
        ASSERT_OK(yb_write_file_atomic_at(AT_FDCWD, *ret_json, file, strlen(file), 0644));
        ASSERT_OK(yb_write_file_atomic_at(AT_FDCWD, *ret_html, page, strlen(page), 0644));
        return c;
}

/* Replaces the first occurrence of from (after the first occurrence of after, if not NULL) in
 * the file at path with to, into path2. */
static void edit(const char *path, const char *after, const char *from, const char *to,
                 const char *path2) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT, out = YB_BUF_INIT;
        char *s, *at;

        ASSERT_OK(yb_read_file_at(AT_FDCWD, path, 1 << 24, &b));
        ASSERT_OK(yb_buf_append_u8(&b, 0));
        s = (char *) b.data;
        at = strstr(after ? strstr(s, after) : s, from);
        if (!at)
                fail_msg("no '%s' in %s", from, path);
        ASSERT_OK(yb_buf_append(&out, s, (size_t) (at - s)));
        ASSERT_OK(yb_buf_append(&out, to, strlen(to)));
        ASSERT_OK(yb_buf_append(&out, at + strlen(from), strlen(at + strlen(from))));
        ASSERT_OK(yb_write_file_atomic_at(AT_FDCWD, path2, out.data, out.size, 0644));
}

static void load_fails(const char *path, int err, const char *why_part) {
        json_t *c = NULL;
        YbCertificateFile kind;
        char why[1024];
        int r = yb_certificate_load(path, &c, &kind, why, sizeof(why));

        if (r != -err || !strstr(why, why_part))
                fail_msg("%s: %d \"%s\", expected -%d saying \"%s\"", path, r, why, err, why_part);
        ASSERT_TRUE(c == NULL);
}

TEST(certificate_html_is_deterministic_and_escaped) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *json = NULL, *html = NULL, *a = NULL, *b = NULL;
        _cleanup_(json_decrefp) json_t *c = signed_files(d, &json, &html);

        ASSERT_OK(yb_certificate_html(c, &a));
        ASSERT_OK(yb_certificate_html(c, &b));
        ASSERT_STREQ(a, b);
        /* The reason, escaped as text and in the embedded JSON. */
        ASSERT_TRUE(strstr(a, "迁移 &lt;/script&gt;&lt;!-- &lt;script&gt; &amp; &quot;x&quot;"));
        ASSERT_TRUE(strstr(a, "迁移 <\\/script><\\u0021-- <script> & \\\"x\\\""));
        ASSERT_TRUE(strstr(a, "<td class=\"must\">destroy the volume (vda)"));
        ASSERT_TRUE(strstr(a, "font-family: \"Noto Sans CJK SC\""));
        ASSERT_TRUE(strstr(a, "@page { size: A4"));
        ASSERT_FALSE(strstr(a, "http:"));
        ASSERT_FALSE(strstr(a, "https:"));
        ASSERT_FALSE(strstr(a, "url("));
        /* One script element: the JSON data. */
        ASSERT_TRUE(strstr(a, "<script type=\"application/json\" id=\"yunbak-certificate\">"));
        ASSERT_TRUE(strstr(strstr(a, "<script") + 1, "<script") == NULL ||
                    strstr(strstr(a, "<script") + 1, "<script") < strstr(a, "</script>"));
        ASSERT_EQ(strstr(a, "</script>"), strstr(a, "</script>\n</body>\n</html>\n"));
}

TEST(certificate_load_and_each_changed_byte) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *json = NULL, *html = NULL, *changed = NULL;
        _cleanup_(json_decrefp) json_t *c = signed_files(d, &json, &html);
        YbCertificateFile kind;
        char why[1024];

        ASSERT_TRUE(asprintf(&changed, "%s/changed", d->path) > 0);
        {
                _cleanup_(json_decrefp) json_t *j = NULL, *h = NULL;

                ASSERT_OK(yb_certificate_load(json, &j, &kind, why, sizeof(why)));
                ASSERT_EQ(kind, YB_CERTIFICATE_FILE_JSON);
                ASSERT_TRUE(json_equal(j, c));
                ASSERT_OK(yb_signed_verify(j, NULL, why, sizeof(why)));
                ASSERT_OK(yb_certificate_load(html, &h, &kind, why, sizeof(why)));
                ASSERT_EQ(kind, YB_CERTIFICATE_FILE_HTML);
                ASSERT_TRUE(json_equal(h, c));
        }
        /* A content byte of the JSON, its layout kept: the file reads, the signature fails. */
        edit(json, NULL, "\"files\": 45", "\"files\": 46", changed);
        {
                _cleanup_(json_decrefp) json_t *j = NULL;

                ASSERT_OK(yb_certificate_load(changed, &j, &kind, why, sizeof(why)));
                ASSERT_ERR(yb_signed_verify(j, NULL, why, sizeof(why)), EBADMSG);
                ASSERT_TRUE(strstr(why, "changed after it was signed"));
        }
        /* Whitespace of the JSON. */
        edit(json, NULL, "\"id\": 3,", "\"id\":  3,", changed);
        load_fails(changed, EBADMSG, "was changed at line ");
        load_fails(changed, EBADMSG, "although its signed content is intact");
        edit(json, NULL, "\n}\n", "\n}\n\n", changed);
        load_fails(changed, EBADMSG, "its bytes are not what yunbak writes");
        /* Content and layout both. */
        edit(json, NULL, "\"files\": 45", "\"files\":46", changed);
        load_fails(changed, EBADMSG, "was changed after it was signed");
        /* The page's visible text. */
        edit(html, NULL, "<h2>System</h2>", "<h2>Sistem</h2>", changed);
        load_fails(changed, EBADMSG, "the page differs at line ");
        /* The JSON embedded in the page: content, then whitespace. */
        edit(html, "yunbak-certificate\">", "\"files\": 45", "\"files\": 46", changed);
        load_fails(changed, EBADMSG,
                   "the certificate embedded in the page was changed after it "
                   "was signed");
        edit(html, "yunbak-certificate\">", "\"id\": 3,", "\"id\": 3 ,", changed);
        load_fails(changed, EBADMSG, "the certificate embedded in the page was changed at line ");
        edit(html, "yunbak-certificate\">", "</script>", "", changed);
        load_fails(changed, EBADMSG, "no end");
        /* No certificate. */
        edit(html, NULL, "id=\"yunbak-certificate\"", "id=\"other\"", changed);
        load_fails(changed, EINVAL, "without a yunbak certificate");
        edit(json, NULL, "yunbak-decommission-certificate", "yunbak-drill-report", changed);
        load_fails(changed, EINVAL, "is not a yunbak decommission certificate");
        edit(json, NULL, "\"claim\": \"cryptographic erase + deletion\"",
             "\"claim\": \"cryptographic erase + overwrite + deletion\"", changed);
        load_fails(changed, EBADMSG,
                   "changed after it was signed (its signature does not check "
                   "out), and it is no longer a valid certificate");
        edit(json, NULL, "{", "[", changed);
        load_fails(changed, EINVAL, "not a certificate: neither JSON");
        load_fails("/nonexistent/cert.json", ENOENT, "cannot read /nonexistent/cert.json");
}

/* The page passes an independent HTML check: Python's html.parser (tests/integration/
 * html-check.py: balanced tags, one <html>, nothing outside the page). */
TEST(certificate_page_passes_the_html_check) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *json = NULL, *html = NULL, *cmd = NULL;
        _cleanup_(json_decrefp) json_t *c = signed_files(d, &json, &html);

        ASSERT_TRUE(c);
        if (system("command -v python3 >/dev/null") != 0)
                skip();
        ASSERT_TRUE(asprintf(&cmd, "python3 %s/integration/html-check.py %s >/dev/null",
                             YB_TEST_DATA "/..", html) > 0);
        ASSERT_EQ(system(cmd), 0);
        /* And it would see a reference outside the page. */
        edit(html, NULL, "</head>", "<link rel=\"icon\" href=\"https://example.org/i\"></head>",
             html);
        ASSERT_NE(system(cmd), 0);
}

/* The drill record of tests/data/drill (Chinese names, markup in its texts, a history with a
 * failed drill), signed by a key made in d, as its JSON file and its page. */
static json_t *drill_files(TestTmpdir *d, char **ret_json, char **ret_html) {
        _cleanup_(yb_agent_identity_freep) YbAgentIdentity *k = identity(d, "yunbakd-drill");
        _cleanup_free_ char *file = NULL, *page = NULL;
        json_t *rec = fixture_file(YB_TEST_DATA "/drill/unsigned.json");

        ASSERT_OK(yb_signed_sign(rec, k));
        ASSERT_OK(yb_signed_dump(rec, &file));
        ASSERT_OK(yb_drill_html(rec, &page));
        ASSERT_TRUE(asprintf(ret_json, "%s/drill.json", d->path) > 0);
        ASSERT_TRUE(asprintf(ret_html, "%s/drill.html", d->path) > 0);
        ASSERT_OK(yb_write_file_atomic_at(AT_FDCWD, *ret_json, file, strlen(file), 0644));
        ASSERT_OK(yb_write_file_atomic_at(AT_FDCWD, *ret_html, page, strlen(page), 0644));
        return rec;
}

static void drill_load_fails(const char *path, int err, const char *why_part) {
        json_t *rec = NULL;
        bool html;
        char why[1024];
        int r = yb_drill_load(path, &rec, &html, why, sizeof(why));

        if (r != -err || !strstr(why, why_part))
                fail_msg("%s: %d \"%s\", expected -%d saying \"%s\"", path, r, why, err, why_part);
        ASSERT_TRUE(rec == NULL);
}

static void drill_read_fails(json_t *rec, const char *why_part) {
        YbDrill dr;
        char why[512];
        int r = yb_drill_read(rec, &dr, why, sizeof(why));

        if (r != -EINVAL || !strstr(why, why_part))
                fail_msg("yb_drill_read: %d \"%s\", expected -EINVAL saying \"%s\"", r, why,
                         why_part);
}

TEST(drill_read_types_the_fields) {
        _cleanup_(json_decrefp) json_t *rec = fixture_file(YB_TEST_DATA "/drill/unsigned.json");
        YbDrill dr;
        char why[512];

        ASSERT_OK(yb_drill_read(rec, &dr, why, sizeof(why)));
        ASSERT_EQ(dr.id, 12);
        ASSERT_STREQ(dr.system_name, "人事门户网站");
        ASSERT_STREQ(dr.department, "市人力资源和社会保障局");
        ASSERT_TRUE(dr.passed);
        ASSERT_EQ(dr.n_phases, 5);
        ASSERT_EQ(dr.phases[1].files, 50592);
        ASSERT_EQ(dr.phases[0].files, -1);
        ASSERT_EQ(dr.rto_ms, 624743);
        ASSERT_EQ(dr.rto_target_seconds, 7200);
        ASSERT_EQ(dr.rto_met, YB_DRILL_YES);
        ASSERT_EQ(dr.n_history, 4);
        ASSERT_FALSE(dr.history[1].passed);
        ASSERT_EQ(dr.history[1].rto_ms, -1);
        ASSERT_EQ(dr.n_pg, 1);
        ASSERT_EQ(dr.pg[0].value, 1234);
        ASSERT_TRUE(dr.signature_key == NULL);

        /* What a record must say to say it. */
        set_path(rec, "phases.2.ok", "false");
        drill_read_fails(rec, "\"passed\" although a phase failed");
        set_path(rec, "phases.2.ok", "true");
        set_path(rec, "achieved.rto_ms", "null");
        drill_read_fails(rec, "achieved.rto_ms: null in a drill that passed");
        set_path(rec, "achieved.rto_ms", "1");
        set_path(rec, "result", "\"failed\"");
        drill_read_fails(rec, "failed_phase: missing");
        set_path(rec, "result", "\"ok\"");
        drill_read_fails(rec, "result: neither");
        set_path(rec, "result", "\"passed\"");
        set_path(rec, "phases.1.ms", "-5");
        drill_read_fails(rec, "phases[1].ms: -5 is below 0");
        set_path(rec, "phases.1.ms", "\"5\"");
        drill_read_fails(rec, "phases[1].ms: not an integer");
        set_path(rec, "phases.1.ms", "5");
        set_path(rec, "system.name", NULL);
        drill_read_fails(rec, "system.name: missing");
        set_path(rec, "system.name", "\"x\"");
        set_path(rec, "version", "2");
        drill_read_fails(rec, "version: not 1");
}

TEST(drill_html_is_deterministic_and_escaped) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *json = NULL, *html = NULL, *a = NULL, *b = NULL, *f = NULL,
                            *sum = NULL;
        _cleanup_(json_decrefp) json_t *rec = drill_files(d, &json, &html);

        ASSERT_OK(yb_drill_html(rec, &a));
        ASSERT_OK(yb_drill_html(rec, &b));
        ASSERT_STREQ(a, b);
        ASSERT_TRUE(strstr(a, "<div class=\"result verdict ok\">Passed"));
        ASSERT_TRUE(strstr(a, "partial outage &lt;&amp;&gt; 部分中断"));
        ASSERT_TRUE(strstr(a, "&lt;ok&gt; 人事\n&lt;/script&gt;&lt;!-- not markup --&gt;"));
        ASSERT_TRUE(strstr(a, "<line class=\"target\""));
        ASSERT_TRUE(strstr(a, "yunbak drill verify FILE --public-key yunbakd.pub"));
        ASSERT_TRUE(strstr(a, "<script type=\"application/json\" id=\"yunbak-drill\">"));
        ASSERT_EQ(strstr(a, "</script>"), strstr(a, "</script>\n</body>\n</html>\n"));
        ASSERT_FALSE(strstr(a, "http:"));
        ASSERT_FALSE(strstr(a, "No earlier drill"));

        /* A failed drill: its phase and error in the verdict; no RTO, never "0". */
        set_path(rec, "result", "\"failed\"");
        set_path(rec, "failed_phase", "\"verify\"");
        set_path(rec, "error", "\"2 files differ from the snapshot: /srv/hr/a.db\"");
        set_path(rec, "phases.2.ok", "false");
        set_path(rec, "achieved.rto_ms", "null");
        set_path(rec, "met.rto", "null");
        set_path(rec, "history", "[]");
        ASSERT_OK(yb_drill_html(rec, &f));
        ASSERT_TRUE(strstr(f, "<div class=\"result verdict bad\">Failed<span class=\"why\">at "
                              "phase verify: 2 files differ from the snapshot: /srv/hr/a.db"));
        ASSERT_TRUE(strstr(f, "not achieved (the drill failed)"));
        ASSERT_TRUE(strstr(f, "No earlier drill"));
        ASSERT_FALSE(strstr(f, "No check command ran"));
        set_path(rec, "check", "null");
        set_path(rec, "phases",
                 "[{\"name\": \"point\", \"ms\": 5, \"ok\": true}, "
                 "{\"name\": \"verify\", \"ms\": 9, \"ok\": false}]");
        free(f);
        ASSERT_OK(yb_drill_html(rec, &f));
        ASSERT_TRUE(strstr(f, "No check command ran: the drill stopped at phase verify."));
        ASSERT_TRUE(strstr(f, "<rect class=\"bad\""));
        ASSERT_OK(yb_drill_summary(rec, &sum));
        ASSERT_TRUE(strstr(sum, "FAILED at phase verify: 2 files differ"));
        ASSERT_TRUE(strstr(sum, "RTO not achieved (the drill failed); the target 2 h: not "
                                "judged."));
}

TEST(drill_load_verify_and_each_changed_byte) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_agent_identity_freep) YbAgentIdentity *other = identity(d, "other");
        _cleanup_free_ char *json = NULL, *html = NULL, *changed = NULL, *cert = NULL,
                            *cert_html = NULL;
        _cleanup_(json_decrefp) json_t *rec = drill_files(d, &json, &html);
        _cleanup_(json_decrefp) json_t *c = signed_files(d, &cert, &cert_html);
        char why[1024];
        bool was_html;

        ASSERT_TRUE(c);
        ASSERT_TRUE(asprintf(&changed, "%s/changed", d->path) > 0);
        {
                _cleanup_(json_decrefp) json_t *j = NULL, *h = NULL;

                ASSERT_OK(yb_drill_load(json, &j, &was_html, why, sizeof(why)));
                ASSERT_FALSE(was_html);
                ASSERT_TRUE(json_equal(j, rec));
                ASSERT_OK(yb_signed_verify(j, NULL, why, sizeof(why)));
                ASSERT_OK(yb_drill_load(html, &h, &was_html, why, sizeof(why)));
                ASSERT_TRUE(was_html);
                ASSERT_TRUE(json_equal(h, rec));
                /* The wrong key: signed by another than the one given. */
                ASSERT_ERR(yb_signed_verify(h, other->sign_pk, why, sizeof(why)), EKEYREJECTED);
        }
        /* One byte of the signed content: the file reads, its signature fails. */
        edit(json, NULL, "\"rto_ms\": 624743", "\"rto_ms\": 624742", changed);
        {
                _cleanup_(json_decrefp) json_t *j = NULL;

                ASSERT_OK(yb_drill_load(changed, &j, &was_html, why, sizeof(why)));
                ASSERT_ERR(yb_signed_verify(j, NULL, why, sizeof(why)), EBADMSG);
        }
        /* The same in the page's JSON, where the page's figures read the same ("10 min 24 s"). */
        edit(html, "yunbak-drill\">", "\"rto_ms\": 624743", "\"rto_ms\": 624742", changed);
        {
                _cleanup_(json_decrefp) json_t *h = NULL;

                ASSERT_OK(yb_drill_load(changed, &h, &was_html, why, sizeof(why)));
                ASSERT_ERR(yb_signed_verify(h, NULL, why, sizeof(why)), EBADMSG);
        }
        /* A change the page shows. */
        edit(html, "yunbak-drill\">", "\"observed_ms\": 751000", "\"observed_ms\": 1", changed);
        drill_load_fails(changed, EBADMSG,
                         "the drill record embedded in the page was changed after it was signed");
        /* One byte of the page's visible text. */
        edit(html, NULL, "<h2>Phases</h2>", "<h2>Phasez</h2>", changed);
        drill_load_fails(changed, EBADMSG, "the page differs at line ");
        /* Not a drill record: a certificate, its page, and a drill record's page that lost it. */
        drill_load_fails(cert, EINVAL,
                         "is not a yunbak drill record (its \"type\" is "
                         "\"yunbak-decommission-certificate\")");
        drill_load_fails(cert_html, EINVAL, "without a yunbak drill record");
        edit(json, NULL, "{", "[", changed);
        drill_load_fails(changed, EINVAL, "not a drill record: neither JSON");
}
