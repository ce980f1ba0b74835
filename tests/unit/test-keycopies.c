/* The key copies of the catalog (catalog/keycopies.c) on a real catalog file: registered, found,
 * listed per system, destroyed or attested once and only while held, withdrawn only when a
 * withdrawal was asked, and still there when the catalog is opened again; and a withdrawn copy
 * as the certificate's rules (core/evidence/certificate.c) take it: named withdrawn, never
 * destroyed, withdrawn by two people. */
#include <jansson.h>
#include <sqlite3.h>
#include <string.h>

#include "catalog/keycopies.h"
#include "core/evidence/certificate.h"
#include "tests/unit/test.h"

static YbCatalog *open_catalog(const TestTmpdir *d) {
        _cleanup_free_ char *path = NULL;
        YbCatalog *c = NULL;

        assert_true(asprintf(&path, "%s/catalog.db", d->path) > 0);
        ASSERT_OK(yb_catalog_open(path, &c));
        return c;
}

static int64_t add_file(YbCatalog *c, const char *system, const char *host, const char *path,
                        bool found) {
        YbKeyCopy k = { .system = (char *) system,
                        .key_id = (char *) "4fa832ef3ff37fd7",
                        .kind = (char *) YB_KEY_COPY_FILE,
                        .holder = (char *) "alice",
                        .host = (char *) host,
                        .path = (char *) path,
                        .registered_by = (char *) "alice",
                        .found = found };
        int64_t id = 0;

        ASSERT_OK(yb_key_copies_add(c, &k, 1000, &id));
        ASSERT_GT(id, 0);
        return id;
}

static int64_t add_offline(YbCatalog *c, const char *system, const char *note) {
        YbKeyCopy k = { .system = (char *) system,
                        .key_id = (char *) "4fa832ef3ff37fd7",
                        .kind = (char *) YB_KEY_COPY_OFFLINE,
                        .holder = (char *) "bob",
                        .note = (char *) note,
                        .registered_by = (char *) "alice" };
        int64_t id = 0;

        ASSERT_OK(yb_key_copies_add(c, &k, 2000, &id));
        return id;
}

TEST(add_get_and_fields) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);
        YbKeyCopy k = {};
        int64_t f = add_file(c, "hr-portal", "hr-app-1", "/etc/yunbak/keys/hr-portal.key", false),
                o = add_offline(c, "hr-portal", "paper, safe 3, room 402");

        ASSERT_OK(yb_key_copies_get(c, f, &k));
        ASSERT_EQ(k.id, f);
        ASSERT_STREQ(k.system, "hr-portal");
        ASSERT_STREQ(k.key_id, "4fa832ef3ff37fd7");
        ASSERT_STREQ(k.kind, YB_KEY_COPY_FILE);
        ASSERT_STREQ(k.host, "hr-app-1");
        ASSERT_STREQ(k.path, "/etc/yunbak/keys/hr-portal.key");
        ASSERT_TRUE(k.note == NULL);
        ASSERT_STREQ(k.state, YB_KEY_COPY_HELD);
        ASSERT_EQ(k.registered_usec, 1000);
        ASSERT_EQ(k.destroyed_usec, 0);
        ASSERT_TRUE(k.destroyed_by == NULL && k.evidence == NULL);
        ASSERT_FALSE(k.found);
        yb_key_copy_done(&k);

        ASSERT_OK(yb_key_copies_get(c, o, &k));
        ASSERT_STREQ(k.kind, YB_KEY_COPY_OFFLINE);
        ASSERT_STREQ(k.holder, "bob");
        ASSERT_STREQ(k.note, "paper, safe 3, room 402");
        ASSERT_TRUE(k.host == NULL && k.path == NULL);
        yb_key_copy_done(&k);

        ASSERT_ERR(yb_key_copies_get(c, 999, &k), ENOENT);
}

TEST(file_copy_needs_host_and_path) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);
        YbKeyCopy k = { .system = (char *) "hr-portal",
                        .key_id = (char *) "4fa832ef3ff37fd7",
                        .kind = (char *) YB_KEY_COPY_FILE,
                        .holder = (char *) "alice",
                        .host = (char *) "h" };
        int64_t id = 0;

        ASSERT_ERR(yb_key_copies_add(c, &k, 1, &id), EINVAL);
        ASSERT_EQ(id, 0);
}

TEST(the_old_location_column_says_where) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);
        sqlite3_stmt *st;

        add_file(c, "hr-portal", "hr-app-1", "/k/hr-portal.key", false);
        add_offline(c, "hr-portal", "USB stick, safe 3");
        ASSERT_EQ(sqlite3_prepare_v2(yb_catalog_db(c),
                                     "SELECT location FROM key_copies ORDER BY id", -1, &st, NULL),
                  SQLITE_OK);
        ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
        ASSERT_STREQ((const char *) sqlite3_column_text(st, 0), "hr-app-1:/k/hr-portal.key");
        ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
        ASSERT_STREQ((const char *) sqlite3_column_text(st, 0), "offline: USB stick, safe 3");
        sqlite3_finalize(st);
}

TEST(find_file_only_held_and_exact) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);
        YbKeyCopy k = {};
        int64_t a = add_file(c, "hr-portal", "h1", "/k/hr-portal.key", false);

        add_file(c, "hotline", "h1", "/k/hotline.key", false);
        ASSERT_OK(yb_key_copies_find_file(c, "hr-portal", "h1", "/k/hr-portal.key", &k));
        ASSERT_EQ(k.id, a);
        yb_key_copy_done(&k);
        /* Another host, another path, another system: not this copy. */
        ASSERT_ERR(yb_key_copies_find_file(c, "hr-portal", "h2", "/k/hr-portal.key", &k), ENOENT);
        ASSERT_ERR(yb_key_copies_find_file(c, "hr-portal", "h1", "/k/hotline.key", &k), ENOENT);
        ASSERT_ERR(yb_key_copies_find_file(c, "hotline", "h1", "/k/hr-portal.key", &k), ENOENT);
        /* Destroyed: no longer found (a file there now is another copy). */
        ASSERT_OK(yb_key_copies_destroyed(c, a, YB_KEY_COPY_DESTROYED, "alice", 5000, "{}"));
        ASSERT_ERR(yb_key_copies_find_file(c, "hr-portal", "h1", "/k/hr-portal.key", &k), ENOENT);
}

TEST(list_per_system_oldest_first) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);
        YbKeyCopy *v = NULL;
        size_t n = 99;
        int64_t a = add_file(c, "hr-portal", "h1", "/k/a.key", false),
                b = add_file(c, "hotline", "h1", "/k/b.key", false),
                e = add_file(c, "hr-portal", "h2", "/k/a.key", true);

        ASSERT_OK(yb_key_copies_list(c, "hr-portal", &v, &n));
        ASSERT_EQ(n, 2);
        ASSERT_EQ(v[0].id, a);
        ASSERT_EQ(v[1].id, e);
        ASSERT_TRUE(v[1].found);
        yb_key_copies_free(v, n);

        ASSERT_OK(yb_key_copies_list(c, NULL, &v, &n));
        ASSERT_EQ(n, 3);
        ASSERT_EQ(v[1].id, b);
        yb_key_copies_free(v, n);

        ASSERT_OK(yb_key_copies_list(c, "nobody-here", &v, &n));
        ASSERT_EQ(n, 0);
        yb_key_copies_free(v, n);
}

TEST(destroyed_once_and_only_while_held) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);
        YbKeyCopy k = {};
        int64_t f = add_file(c, "hr-portal", "h1", "/k/a.key", false),
                o = add_offline(c, "hr-portal", "paper");

        ASSERT_OK(yb_key_copies_destroyed(c, f, YB_KEY_COPY_DESTROYED, "alice", 5000,
                                          "{\"method\":\"overwrite + unlink\"}"));
        ASSERT_ERR(yb_key_copies_destroyed(c, f, YB_KEY_COPY_DESTROYED, "bob", 6000, "{}"),
                   EALREADY);
        ASSERT_ERR(yb_key_copies_destroyed(c, f, YB_KEY_COPY_ATTESTED, "bob", 6000, "{}"),
                   EALREADY);
        ASSERT_ERR(yb_key_copies_destroyed(c, 999, YB_KEY_COPY_DESTROYED, "bob", 6000, "{}"),
                   ENOENT);
        /* "held" is not a way to be destroyed. */
        ASSERT_ERR(yb_key_copies_destroyed(c, o, YB_KEY_COPY_HELD, "bob", 6000, "{}"), EINVAL);
        ASSERT_OK(yb_key_copies_destroyed(c, o, YB_KEY_COPY_ATTESTED, "bob", 7000,
                                          "{\"statement\":\"shredded\"}"));

        ASSERT_OK(yb_key_copies_get(c, f, &k));
        ASSERT_STREQ(k.state, YB_KEY_COPY_DESTROYED);
        ASSERT_STREQ(k.destroyed_by, "alice"); /* the first report stays */
        ASSERT_EQ(k.destroyed_usec, 5000);
        ASSERT_STREQ(k.evidence, "{\"method\":\"overwrite + unlink\"}");
        yb_key_copy_done(&k);
        ASSERT_OK(yb_key_copies_get(c, o, &k));
        ASSERT_STREQ(k.state, YB_KEY_COPY_ATTESTED);
        ASSERT_STREQ(k.destroyed_by, "bob");
        ASSERT_EQ(k.destroyed_usec, 7000);
        yb_key_copy_done(&k);
}

TEST(withdrawn_only_once_asked_and_while_held) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);
        YbKeyCopy k = {};
        int64_t f = add_file(c, "hr-portal", "h1", "/k/never.key", false),
                g = add_file(c, "hr-portal", "h1", "/k/real.key", false);

        /* Nothing asked: no withdrawal. */
        ASSERT_ERR(yb_key_copies_destroyed(c, f, YB_KEY_COPY_WITHDRAWN, "bob", 3000, "{}"), ENOMSG);
        ASSERT_ERR(yb_key_copies_ask_withdrawal(c, 999, "{}"), ENOENT);
        ASSERT_OK(yb_key_copies_ask_withdrawal(c, f, "{\"withdrawal\":{\"asked_by\":\"alice\"}}"));
        ASSERT_ERR(yb_key_copies_ask_withdrawal(c, f, "{}"), EBUSY);
        /* Asked, the copy is still held and still found at its place. */
        ASSERT_OK(yb_key_copies_find_file(c, "hr-portal", "h1", "/k/never.key", &k));
        ASSERT_EQ(k.id, f);
        ASSERT_STREQ(k.state, YB_KEY_COPY_HELD);
        ASSERT_STREQ(k.evidence, "{\"withdrawal\":{\"asked_by\":\"alice\"}}");
        yb_key_copy_done(&k);
        ASSERT_ERR(yb_key_copies_find_withdrawn(c, "hr-portal", "h1", "/k/never.key", &k), ENOENT);
        ASSERT_OK(yb_key_copies_destroyed(c, f, YB_KEY_COPY_WITHDRAWN, "bob", 4000, "{\"s\":1}"));
        ASSERT_ERR(yb_key_copies_destroyed(c, f, YB_KEY_COPY_WITHDRAWN, "bob", 5000, "{}"),
                   EALREADY);
        ASSERT_ERR(yb_key_copies_destroyed(c, f, YB_KEY_COPY_DESTROYED, "bob", 5000, "{}"),
                   EALREADY);
        ASSERT_ERR(yb_key_copies_ask_withdrawal(c, f, "{}"), EALREADY);
        ASSERT_OK(yb_key_copies_get(c, f, &k));
        ASSERT_STREQ(k.state, YB_KEY_COPY_WITHDRAWN);
        ASSERT_STREQ(k.destroyed_by, "bob");
        ASSERT_EQ(k.destroyed_usec, 4000);
        ASSERT_STREQ(k.evidence, "{\"s\":1}");
        yb_key_copy_done(&k);
        /* No longer held there; found as withdrawn. */
        ASSERT_ERR(yb_key_copies_find_file(c, "hr-portal", "h1", "/k/never.key", &k), ENOENT);
        ASSERT_OK(yb_key_copies_find_withdrawn(c, "hr-portal", "h1", "/k/never.key", &k));
        ASSERT_EQ(k.id, f);
        yb_key_copy_done(&k);

        /* A request dropped (the file was presented) leaves nothing to confirm. */
        ASSERT_EQ(yb_key_copies_drop_withdrawal(c, g), 0);
        ASSERT_OK(yb_key_copies_ask_withdrawal(c, g, "{}"));
        ASSERT_EQ(yb_key_copies_drop_withdrawal(c, g), 1);
        ASSERT_ERR(yb_key_copies_destroyed(c, g, YB_KEY_COPY_WITHDRAWN, "bob", 6000, "{}"), ENOMSG);
        /* A destruction replaces a request asked meanwhile. */
        ASSERT_OK(yb_key_copies_ask_withdrawal(c, g, "{}"));
        ASSERT_OK(yb_key_copies_destroyed(c, g, YB_KEY_COPY_DESTROYED, "alice", 7000, "{\"d\":1}"));
        ASSERT_OK(yb_key_copies_get(c, g, &k));
        ASSERT_STREQ(k.state, YB_KEY_COPY_DESTROYED);
        ASSERT_STREQ(k.evidence, "{\"d\":1}");
        yb_key_copy_done(&k);
}

TEST(kept_across_reopen) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        YbCatalog *c = open_catalog(d);
        YbKeyCopy k = {};
        int64_t f = add_file(c, "hr-portal", "h1", "/k/a.key", true);

        ASSERT_OK(yb_key_copies_destroyed(c, f, YB_KEY_COPY_DESTROYED, "alice", 5000, "{}"));
        c = yb_catalog_close(c);
        c = open_catalog(d);
        ASSERT_OK(yb_key_copies_get(c, f, &k));
        ASSERT_STREQ(k.state, YB_KEY_COPY_DESTROYED);
        ASSERT_TRUE(k.found);
        yb_key_copy_done(&k);
        yb_catalog_close(c);
}

/* The certificate fixture with its attested key copy (artifacts[7]) turned into one withdrawn
 * as yunbakd fills it (orchestrator/decommission-cert.c). */
static json_t *certificate_with_withdrawn(void) {
        json_error_t err;
        json_t *c = json_load_file(YB_TEST_DATA "/certificate/unsigned.json", 0, &err), *a;

        if (!c)
                fail_msg("fixture: %s at line %d", err.text, err.line);
        a = json_array_get(json_object_get(c, "artifacts"), 7);
        json_object_set_new(a, "state", json_string(YB_KEY_COPY_WITHDRAWN));
        json_object_set_new(a, "verification",
                            json_pack("{s:s, s:s, s:s}", "method", "withdrawn by two people",
                                      "result", "withdrawn", "detail", "never made"));
        json_object_set_new(a, "withdrawal",
                            json_pack("{s:s, s:{s:s, s:s}, s:{s:s, s:s}}", "reason", "never made",
                                      "asked", "by", "zhangwei", "at", "2026-12-01T13:00:00Z",
                                      "confirmed", "by", "bob", "at", "2026-12-01T14:00:00Z"));
        ASSERT_OK(yb_certificate_set_methods(a, true));
        return c;
}

TEST(certificate_names_a_withdrawn_copy_withdrawn) {
        _cleanup_(json_decrefp) json_t *c = certificate_with_withdrawn();
        _cleanup_free_ char *s = NULL;
        json_t *a = json_array_get(json_object_get(c, "artifacts"), 7);
        char why[512];

        /* set_methods: withdrawn alone, whatever overwritten says; no NIST category. */
        ASSERT_EQ(json_array_size(json_object_get(a, "methods")), 1);
        ASSERT_STREQ(json_string_value(json_array_get(json_object_get(a, "methods"), 0)),
                     "withdrawn");
        ASSERT_STREQ(json_string_value(json_object_get(a, "nist_category")), "none");
        ASSERT_STREQ(json_string_value(json_object_get(a, "claim")),
                     YB_CERTIFICATE_WITHDRAWN_CLAIM);
        ASSERT_OK(yb_certificate_check(c, why, sizeof(why)));
        /* The summary counts it apart, never as destroyed. */
        ASSERT_OK(yb_certificate_summary(c, &s));
        ASSERT_TRUE(strstr(s, "2 key copies destroyed."));
        ASSERT_TRUE(strstr(s, "1 key copy registered by mistake was withdrawn by two people"));

        /* Never passed, never destroyed, never with a destruction's method. */
        json_object_set_new(json_object_get(a, "verification"), "result", json_string("passed"));
        ASSERT_ERR(yb_certificate_check(c, why, sizeof(why)), EINVAL);
        ASSERT_TRUE(strstr(why, "artifacts[7].verification.result"));
        json_object_set_new(json_object_get(a, "verification"), "result", json_string("withdrawn"));
        json_object_set_new(a, "methods", json_pack("[s]", "delete"));
        ASSERT_ERR(yb_certificate_check(c, why, sizeof(why)), EINVAL);
        ASSERT_TRUE(strstr(why, "artifacts[7].methods"));
        json_object_set_new(a, "methods", json_pack("[s]", "withdrawn"));
        json_object_set_new(a, "state", json_string(YB_KEY_COPY_DESTROYED));
        ASSERT_ERR(yb_certificate_check(c, why, sizeof(why)), EINVAL);
        ASSERT_TRUE(strstr(why, "artifacts[7].methods"));
        json_object_set_new(a, "state", json_string(YB_KEY_COPY_WITHDRAWN));
        ASSERT_OK(yb_certificate_check(c, why, sizeof(why)));

        /* Two people: the asker does not confirm; who and why are required. */
        json_object_set_new(json_object_get(json_object_get(a, "withdrawal"), "confirmed"), "by",
                            json_string("zhangwei"));
        ASSERT_ERR(yb_certificate_check(c, why, sizeof(why)), EINVAL);
        ASSERT_TRUE(strstr(why, "artifacts[7].withdrawal.confirmed.by"));
        ASSERT_TRUE(strstr(why, "takes two people"));
        json_object_del(json_object_get(a, "withdrawal"), "reason");
        ASSERT_ERR(yb_certificate_check(c, why, sizeof(why)), EINVAL);
        ASSERT_TRUE(strstr(why, "artifacts[7].withdrawal.reason: missing"));
        json_object_del(a, "withdrawal");
        ASSERT_ERR(yb_certificate_check(c, why, sizeof(why)), EINVAL);
        ASSERT_TRUE(strstr(why, "artifacts[7].withdrawal: missing"));
}

TEST(certificate_of_withdrawn_copies_only_is_refused) {
        _cleanup_(json_decrefp) json_t *c = certificate_with_withdrawn();
        json_t *arts = json_object_get(c, "artifacts");
        char why[512];

        /* Only the withdrawn copy left of the key copies: no cryptographic erase is shown. */
        ASSERT_OK(json_array_remove(arts, 6));
        ASSERT_OK(json_array_remove(arts, 5));
        ASSERT_ERR(yb_certificate_check(c, why, sizeof(why)), EINVAL);
        ASSERT_TRUE(strstr(why, "every key copy is withdrawn"));
}
