/* The decommission certificate where S3 Object Lock kept backups (core/evidence/certificate.h;
 * docs/decommission.md, "Certificate"; docs/s3.md, "Object Lock"): a "backups" artifact with
 * "state": "locked" is crypto-erased alone, never deleted nor overwritten, its claim says until
 * when, it is verified "locked", the operator is told what is left, and the certificate states
 * the latest date once (object_lock_until). */
#include "core/evidence/certificate.h"
#include "tests/unit/test.h"

static json_t *fixture(void) {
        json_error_t err;
        json_t *j = json_load_file(YB_TEST_DATA "/certificate/unsigned.json", 0, &err);

        if (!j)
                fail_msg("fixture: %s at line %d", err.text, err.line);
        return j;
}

/* The fixture's store "offsite" (artifact 2) as if Object Lock had kept some of it until
 * until: a second artifact for what is left, its methods set by the rule. */
static json_t *locked_artifact(json_t *c, const char *until) {
        json_t *a = json_deep_copy(json_array_get(json_object_get(c, "artifacts"), 2));

        ASSERT_TRUE(a);
        ASSERT_OK(json_object_set_new(a, "state", json_string("locked")));
        ASSERT_OK(json_object_set_new(a, "locked_until", json_string(until)));
        ASSERT_OK(json_object_set_new(a, "files", json_integer(12)));
        ASSERT_OK(json_object_set_new(a, "when", json_null()));
        ASSERT_OK(json_object_set_new(a, "operator_must",
                                      json_string("delete what is left once Object Lock lets it")));
        ASSERT_OK(json_object_set_new(
                a, "verification",
                json_pack("{s:s, s:s, s:s}", "method", "each object left listed", "result",
                          "locked", "detail", "hr/snapshots/x/header until 2027-03-06T20:10:30Z")));
        ASSERT_OK(yb_certificate_set_methods(a, true)); /* an overwrite is never claimed */
        ASSERT_OK(json_array_append_new(json_object_get(c, "artifacts"), a));
        return a;
}

TEST(locked_backups_are_crypto_erased_alone_until_their_date) {
        _cleanup_(json_decrefp) json_t *c = fixture();
        json_t *a = locked_artifact(c, "2027-03-06T20:10:30Z");
        _cleanup_free_ char *s = NULL;
        char why[512];

        ASSERT_EQ(json_array_size(json_object_get(a, "methods")), 1u);
        ASSERT_STREQ(json_string_value(json_array_get(json_object_get(a, "methods"), 0)),
                     "cryptographic-erase");
        ASSERT_STREQ(json_string_value(json_object_get(a, "claim")),
                     "cryptographic erase; deletion blocked by Object Lock (compliance) until "
                     "2027-03-06T20:10:30Z");
        ASSERT_STREQ(json_string_value(json_object_get(a, "nist_category")), "purge");
        /* The latest date, once for the whole, is required. */
        ASSERT_ERR(yb_certificate_check(c, why, sizeof(why)), EINVAL);
        ASSERT_TRUE(strstr(why, "object_lock_until: missing"));
        ASSERT_OK(json_object_set_new(c, "object_lock_until", json_string("2027-03-06T20:10:30Z")));
        ASSERT_OK(yb_certificate_check(c, why, sizeof(why)));
        ASSERT_OK(yb_certificate_summary(c, &s));
        ASSERT_TRUE(strstr(s, "was destroyed and verified, except what Object Lock keeps "
                              "(below); "));
        ASSERT_TRUE(strstr(s, "In 1 store, 12 objects are kept by Object Lock (compliance) until "
                              "2027-03-06T20:10:30Z at the latest: crypto-erased (the key is "
                              "destroyed), their deletion blocked until then."));
        /* "offsite" counts once among the stores. */
        ASSERT_TRUE(strstr(s, "data in 3 stores and on 1 host"));
}

TEST(the_latest_date_is_the_certificates) {
        _cleanup_(json_decrefp) json_t *c = fixture();
        char why[512];

        (void) locked_artifact(c, "2027-03-06T20:10:30Z");
        (void) locked_artifact(c, "2027-05-01T00:00:00Z");
        ASSERT_OK(json_object_set_new(c, "object_lock_until", json_string("2027-03-06T20:10:30Z")));
        ASSERT_ERR(yb_certificate_check(c, why, sizeof(why)), EINVAL);
        ASSERT_TRUE(strstr(why, "the latest locked_until of the artifacts is "
                                "\"2027-05-01T00:00:00Z\""));
        ASSERT_OK(json_object_set_new(c, "object_lock_until", json_string("2027-05-01T00:00:00Z")));
        ASSERT_OK(yb_certificate_check(c, why, sizeof(why)));
}

/* Each way a locked artifact could say more than happened is refused. */
TEST(locked_backups_never_claim_a_deletion) {
        static const struct {
                const char *key, *value, *why;
        } cases[] = {
                { "methods", "[\"cryptographic-erase\", \"delete\"]", "methods: inconsistent" },
                { "methods", "[\"cryptographic-erase\", \"overwrite\", \"delete\"]",
                  "methods: inconsistent" },
                { "claim", "\"cryptographic erase + deletion\"", "claim: \"cryptographic erase +" },
                { "claim", "\"" YB_CERTIFICATE_LOCKED_CLAIM "\"", "claim:" },
                { "locked_until", "\"2027-04-06T20:10:30Z\"", "claim:" },
                { "locked_until", "null", "locked_until: null" },
                { "state", "\"deleted\"", "only \"locked\" is written here" },
                { "operator_must", "null", "operator_must: null" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(json_decrefp) json_t *c = fixture();
                json_t *a = locked_artifact(c, "2027-03-06T20:10:30Z");
                char why[512];

                ASSERT_OK(json_object_set_new(c, "object_lock_until",
                                              json_string("2027-03-06T20:10:30Z")));
                ASSERT_OK(json_object_set_new(a, cases[i].key,
                                              json_loads(cases[i].value, JSON_DECODE_ANY, NULL)));
                ASSERT_ERR(yb_certificate_check(c, why, sizeof(why)), EINVAL);
                if (!strstr(why, cases[i].why))
                        fail_msg("%s = %s: \"%s\" lacks \"%s\"", cases[i].key, cases[i].value, why,
                                 cases[i].why);
        }
}

TEST(locked_results_and_dates_go_together) {
        _cleanup_(json_decrefp) json_t *c = fixture();
        json_t *a = locked_artifact(c, "2027-03-06T20:10:30Z");
        char why[512];

        ASSERT_OK(json_object_set_new(c, "object_lock_until", json_string("2027-03-06T20:10:30Z")));
        ASSERT_OK(json_object_set_new(json_object_get(a, "verification"), "result",
                                      json_string("passed")));
        ASSERT_ERR(yb_certificate_check(c, why, sizeof(why)), EINVAL);
        ASSERT_TRUE(strstr(why, "verification.result: \"passed\", but it must be \"locked\""));
        /* A date on an artifact Object Lock does not keep, or on a certificate without one. */
        ASSERT_OK(json_array_remove(json_object_get(c, "artifacts"),
                                    json_array_size(json_object_get(c, "artifacts")) - 1));
        ASSERT_ERR(yb_certificate_check(c, why, sizeof(why)), EINVAL);
        ASSERT_TRUE(
                strstr(why, "object_lock_until: given, but no artifact is kept by Object Lock"));
        ASSERT_OK(json_object_del(c, "object_lock_until"));
        ASSERT_OK(yb_certificate_check(c, why, sizeof(why)));
        ASSERT_OK(json_object_set_new(json_array_get(json_object_get(c, "artifacts"), 0),
                                      "locked_until", json_string("2027-03-06T20:10:30Z")));
        ASSERT_ERR(yb_certificate_check(c, why, sizeof(why)), EINVAL);
        ASSERT_TRUE(strstr(why, "artifacts[0].locked_until: given, but the artifact's state is "
                                "not \"locked\""));
}
