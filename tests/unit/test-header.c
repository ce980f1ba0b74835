#include <stdio.h>

#include "core/base/timeutil.h"
#include "core/repo/repo.h"
#include "tests/unit/test.h"

#define T0 (1795255200LL * YB_NSEC_PER_SEC + 123456789) /* 2026-11-21T10:00:00.123456789Z */

static YbAgentIdentity *new_agent(const TestTmpdir *d, const char *name) {
        _cleanup_free_ char *dir = test_tmpdir_path(d, name);
        YbAgentIdentity *a = NULL;

        ASSERT_OK(yb_agent_identity_load(dir, &a));
        return a;
}

static char *xstrdup(const char *s) {
        char *p = strdup(s);

        ASSERT_TRUE(p);
        return p;
}

/* A header with every field set to something distinct. */
static YbSnapshotHeader *sample_header(const YbAgentIdentity *a, YbLevel level) {
        YbSnapshotHeader *h = new0(YbSnapshotHeader, 1);
        static const char *const names[] = { "vol-000001", "manifest", "sigindex" };

        ASSERT_TRUE(h);
        yb_snapshot_id_new(T0, h->id);
        strcpy(h->system, "hr-portal");
        h->level = level;
        h->seq = level == YB_LEVEL_SEGMENT ? 42 : 0; /* a segment's alone */
        if (level != YB_LEVEL_FULL) {
                yb_snapshot_id_new(T0 - YB_NSEC_PER_SEC, h->parent);
                yb_snapshot_id_new(T0 - 2 * YB_NSEC_PER_SEC, h->base);
        }
        h->started_ns = T0;
        h->finished_ns = T0 + 5 * YB_NSEC_PER_SEC;
        strcpy(h->host, "app01.example");
        memcpy(h->agent_pk, a->sign_pk, 32);
        test_fill_random(h->key_id, YB_KEY_ID_SIZE, 1);
        memcpy(h->state_key_id, a->state.pub.id, YB_KEY_ID_SIZE);
        h->counts = (YbSnapshotCounts){ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0 };
        h->bytes_source = 887091;
        h->bytes_read = 877158;
        h->bytes_stored = 5324;
        h->partial = true;
        h->files = new0(YbFileRef, ELEMENTSOF(names));
        ASSERT_TRUE(h->files);
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                strcpy(h->files[i].name, names[i]);
                h->files[i].size = 1000 * (i + 1);
                test_fill_random(h->files[i].hash, YB_HASH_SIZE, 10 + i);
        }
        h->n_files = ELEMENTSOF(names);
        h->sources = new0(char *, 2);
        ASSERT_TRUE(h->sources);
        h->sources[0] = xstrdup("/srv/hr-portal");
        h->sources[1] = xstrdup("/etc/hr \"quoted\"\n");
        h->n_sources = 2;
        return h;
}

static void assert_header_eq(const YbSnapshotHeader *a, const YbSnapshotHeader *b) {
        ASSERT_STREQ(a->id, b->id);
        ASSERT_STREQ(a->system, b->system);
        ASSERT_EQ(a->level, b->level);
        ASSERT_EQ(a->seq, b->seq);
        ASSERT_STREQ(a->parent, b->parent);
        ASSERT_STREQ(a->base, b->base);
        ASSERT_EQ(a->started_ns, b->started_ns);
        ASSERT_EQ(a->finished_ns, b->finished_ns);
        ASSERT_STREQ(a->host, b->host);
        ASSERT_MEMEQ(a->agent_pk, b->agent_pk, 32);
        ASSERT_MEMEQ(a->key_id, b->key_id, YB_KEY_ID_SIZE);
        ASSERT_MEMEQ(a->state_key_id, b->state_key_id, YB_KEY_ID_SIZE);
        ASSERT_MEMEQ(&a->counts, &b->counts, sizeof(a->counts));
        ASSERT_TRUE(a->bytes_source == b->bytes_source && a->bytes_read == b->bytes_read &&
                    a->bytes_stored == b->bytes_stored);
        ASSERT_EQ(a->partial, b->partial);
        ASSERT_EQ(a->n_files, b->n_files);
        for (size_t i = 0; i < a->n_files; i++) {
                ASSERT_STREQ(a->files[i].name, b->files[i].name);
                ASSERT_EQ(a->files[i].size, b->files[i].size);
                ASSERT_MEMEQ(a->files[i].hash, b->files[i].hash, YB_HASH_SIZE);
        }
        ASSERT_EQ(a->n_sources, b->n_sources);
        for (size_t i = 0; i < a->n_sources; i++)
                ASSERT_STREQ(a->sources[i], b->sources[i]);
}

/* Signs line (without newline) as a header: "line\ned25519 <sig>\n". */
static void sign_line(const YbAgentIdentity *a, const char *line, YbBuf *out) {
        _cleanup_free_ char *b64 = NULL;
        uint8_t sig[64];

        yb_sign(a, line, strlen(line), sig);
        ASSERT_OK(yb_base64_encode(sig, sizeof(sig), &b64));
        ASSERT_OK(yb_buf_printf(out, "%s\ned25519 %s\n", line, b64));
}

/* The header's JSON line with the first occurrence of old replaced by new, signed again by a,
 * so that only the content check can refuse it. */
static int parse_changed(const YbSnapshotHeader *h, const YbAgentIdentity *a, const char *old,
                         const char *new) {
        _cleanup_free_ char *line = yb_header_to_json(h), *changed = NULL;
        _cleanup_(yb_header_freep) YbSnapshotHeader *back = NULL;
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        const char *at;

        ASSERT_TRUE(line);
        at = strstr(line, old);
        if (!at)
                fail_msg("'%s' not in the header line %s", old, line);
        ASSERT_TRUE(asprintf(&changed, "%.*s%s%s", (int) (at - line), line, new, at + strlen(old)) >
                    0);
        sign_line(a, changed, &b);
        return yb_header_parse(b.data, b.size, &back);
}

TEST(format_parse_round_trip) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_agent_identity_freep) YbAgentIdentity *a = new_agent(d, "agent");

        for (YbLevel l = 0; l < _YB_LEVEL_MAX; l++) {
                _cleanup_(yb_header_freep) YbSnapshotHeader *h = sample_header(a, l), *back = NULL;
                _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;

                ASSERT_OK(yb_header_format(h, a, &b));
                ASSERT_OK(yb_header_parse(b.data, b.size, &back));
                assert_header_eq(back, h);
                ASSERT_TRUE(yb_header_find_file(back, "manifest") == &back->files[1]);
                ASSERT_TRUE(yb_header_find_file(back, "header") == NULL);
        }
}

TEST(header_is_two_lines_json_then_signature) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_agent_identity_freep) YbAgentIdentity *a = new_agent(d, "agent");
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = sample_header(a, YB_LEVEL_FULL);
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        _cleanup_free_ char *line = yb_header_to_json(h);
        const char *nl;

        ASSERT_OK(yb_header_format(h, a, &b));
        ASSERT_OK(yb_buf_append_u8(&b, 0));
        nl = strchr((char *) b.data, '\n');
        ASSERT_TRUE(nl);
        ASSERT_EQ((size_t) (nl - (char *) b.data), strlen(line));
        ASSERT_MEMEQ(b.data, line, strlen(line)); /* the signed line is the JSON */
        ASSERT_MEMEQ(nl + 1, "ed25519 ", 8);
        ASSERT_EQ(strlen(nl + 1), 8 + 88 + 1); /* base64 of 64 bytes and a newline */
        ASSERT_TRUE(strstr(line, "\"type\":\"yunbak-snapshot\",\"format\":1,"));
        ASSERT_TRUE(strstr(line, "\"parent\":null"));
        ASSERT_TRUE(strstr(line, "\"started\":\"2026-11-21T10:00:00.123456789Z\""));
}

TEST(any_flipped_byte_breaks_the_header) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_agent_identity_freep) YbAgentIdentity *a = new_agent(d, "agent");
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = sample_header(a, YB_LEVEL_INCREMENTAL);
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        static const uint8_t masks[] = { 0x01, 0x20 }; /* 0x20: letter case, hex digits */

        ASSERT_OK(yb_header_format(h, a, &b));
        for (size_t pos = 0; pos < b.size; pos++) {
                for (size_t m = 0; m < ELEMENTSOF(masks); m++) {
                        YbSnapshotHeader *back = NULL;
                        int r;

                        b.data[pos] ^= masks[m];
                        r = yb_header_parse(b.data, b.size, &back);
                        b.data[pos] ^= masks[m];
                        if (r >= 0) {
                                yb_header_free(back);
                                fail_msg("byte %zu ^ 0x%02x of %zu parsed", pos, masks[m], b.size);
                        }
                        ASSERT_TRUE(back == NULL);
                }
        }
        _cleanup_(yb_header_freep) YbSnapshotHeader *back = NULL;
        ASSERT_OK(yb_header_parse(b.data, b.size, &back)); /* restored: fine again */
}

TEST(signature_from_another_agent_rejected) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_agent_identity_freep) YbAgentIdentity *a = new_agent(d, "a");
        _cleanup_(yb_agent_identity_freep) YbAgentIdentity *other = new_agent(d, "b");
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = sample_header(a, YB_LEVEL_FULL);
        _cleanup_(yb_header_freep) YbSnapshotHeader *back = NULL;
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        _cleanup_free_ char *line = yb_header_to_json(h);

        sign_line(other, line, &b); /* the line names a's key */
        ASSERT_ERR(yb_header_parse(b.data, b.size, &back), EBADMSG);
        yb_buf_clear(&b);
        sign_line(a, line, &b);
        ASSERT_OK(yb_header_parse(b.data, b.size, &back));
}

TEST(other_format_version_unsupported) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_agent_identity_freep) YbAgentIdentity *a = new_agent(d, "agent");
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = sample_header(a, YB_LEVEL_FULL);

        ASSERT_ERR(parse_changed(h, a, "\"format\":1", "\"format\":2"), EPROTONOSUPPORT);
        ASSERT_ERR(parse_changed(h, a, "\"format\":1", "\"format\":0"), EPROTONOSUPPORT);
        ASSERT_ERR(parse_changed(h, a, "\"format\":1", "\"format\":\"1\""), EBADMSG);
        ASSERT_ERR(parse_changed(h, a, "\"type\":\"yunbak-snapshot\"", "\"type\":\"other\""),
                   EBADMSG);
}

TEST(inconsistent_content_rejected_even_when_signed) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_agent_identity_freep) YbAgentIdentity *a = new_agent(d, "agent");
        _cleanup_(yb_header_freep) YbSnapshotHeader *full = sample_header(a, YB_LEVEL_FULL);
        _cleanup_(yb_header_freep) YbSnapshotHeader *incr = sample_header(a, YB_LEVEL_INCREMENTAL);
        _cleanup_free_ char *id = NULL;

        ASSERT_TRUE(asprintf(&id, "\"id\":\"%s\"", full->id) > 0);
        ASSERT_ERR(parse_changed(full, a, id, "\"id\":\"../../etc\""), EBADMSG);
        ASSERT_ERR(parse_changed(full, a, id, "\"id\":\"\""), EBADMSG);
        ASSERT_ERR(parse_changed(full, a, "\"system\":\"hr-portal\"", "\"system\":\"HR\""),
                   EBADMSG);
        ASSERT_ERR(parse_changed(full, a, "\"level\":\"full\"", "\"level\":\"weekly\""), EBADMSG);
        ASSERT_ERR(parse_changed(full, a, "\"level\":\"full\"", "\"level\":\"incremental\""),
                   EBADMSG); /* an incremental needs a parent */
        ASSERT_ERR(parse_changed(incr, a, "\"level\":\"incremental\"", "\"level\":\"full\""),
                   EBADMSG); /* a full has none */
        ASSERT_ERR(parse_changed(full, a, "\"name\":\"manifest\"", "\"name\":\"../manifest\""),
                   EBADMSG);
        ASSERT_ERR(parse_changed(full, a, "\"name\":\"manifest\"", "\"name\":\"x/manifest\""),
                   EBADMSG);
        ASSERT_ERR(parse_changed(full, a, "\"name\":\"manifest\"", "\"name\":\"header\""), EBADMSG);
        ASSERT_ERR(parse_changed(full, a, "\"name\":\"manifest\"", "\"name\":\".hidden\""),
                   EBADMSG);
        ASSERT_ERR(parse_changed(full, a, "\"size\":2000", "\"size\":-1"), EBADMSG);
        ASSERT_ERR(parse_changed(full, a, "\"partial\":true", "\"partial\":1"), EBADMSG);
        ASSERT_ERR(parse_changed(full, a, "\"files\":", "\"files\":{},\"x\":"), EBADMSG);
        ASSERT_ERR(parse_changed(full, a, "\"system\":", "\"system\":\"a\",\"system\":"),
                   EBADMSG); /* duplicate keys */
        ASSERT_ERR(parse_changed(full, a, "\"sources\":[", "\"sources\":[1,"), EBADMSG);
        ASSERT_OK(parse_changed(full, a, "\"host\":\"app01.example\"", "\"host\":\"app02\""));
}

TEST(malformed_framing_rejected) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_agent_identity_freep) YbAgentIdentity *a = new_agent(d, "agent");
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = sample_header(a, YB_LEVEL_FULL);
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT, extra = YB_BUF_INIT;
        YbSnapshotHeader *back = NULL;

        ASSERT_OK(yb_header_format(h, a, &b));
        ASSERT_ERR(yb_header_parse(b.data, b.size - 1, &back), EBADMSG); /* no final newline */
        for (size_t n = 0; n < b.size; n += 37)
                ASSERT_ERR(yb_header_parse(b.data, n, &back), EBADMSG);
        ASSERT_OK(yb_buf_append(&extra, b.data, b.size));
        ASSERT_OK(yb_buf_append(&extra, "more\n", 5));
        ASSERT_ERR(yb_header_parse(extra.data, extra.size, &back), EBADMSG);
        b.data[10] = 0; /* a NUL anywhere */
        ASSERT_ERR(yb_header_parse(b.data, b.size, &back), EBADMSG);
        ASSERT_TRUE(back == NULL);
}

/* Text that is not UTF-8 (a Latin-1 source path, a host name) is kept, escaped, in the signed
 * header; nothing is dropped silently. */
TEST(non_utf8_source_kept_or_refused) {
        TestTmpdir *d = test_tmpdir_new();
        YbAgentIdentity *a = new_agent(d, "agent");
        YbSnapshotHeader *h = sample_header(a, YB_LEVEL_FULL), *back = NULL;
        YbBuf b = YB_BUF_INIT;
        size_t n_back = 0;
        int r;

        free(h->sources[1]);
        h->sources[1] = xstrdup("/srv/caf\xe9");
        r = yb_header_format(h, a, &b);
        if (r >= 0 && yb_header_parse(b.data, b.size, &back) >= 0)
                n_back = back->n_sources;
        yb_header_free(back);
        yb_buf_done(&b);
        yb_header_free(h);
        yb_agent_identity_free(a);
        test_tmpdir_free(d); /* before the assertion: a failure leaks nothing */
        ASSERT_TRUE(r < 0 || n_back == 2);
}

TEST(snapshot_ids) {
        char id[YB_SNAPSHOT_ID_MAX + 1], first[YB_SNAPSHOT_ID_MAX + 1];
        char longest[YB_SNAPSHOT_ID_MAX + 2] = { 0 };
        bool differ = false;

        /* "<compact UTC time>-<6 random hex digits>": ids of the same second still differ. */
        for (int i = 0; i < 8; i++) {
                yb_snapshot_id_new(T0, id);
                ASSERT_EQ(strlen(id), 23);
                ASSERT_MEMEQ(id, "20261121T100000Z-", 17);
                ASSERT_EQ(strspn(id + 17, "0123456789abcdef"), 6);
                ASSERT_TRUE(yb_snapshot_id_valid(id));
                if (i == 0)
                        strcpy(first, id);
                differ = differ || !streq(id, first);
        }
        ASSERT_TRUE(differ);

        memset(longest, 'a', YB_SNAPSHOT_ID_MAX);
        ASSERT_TRUE(yb_snapshot_id_valid(longest));
        longest[YB_SNAPSHOT_ID_MAX] = 'a';
        ASSERT_FALSE(yb_snapshot_id_valid(longest));
        ASSERT_FALSE(yb_snapshot_id_valid(""));
        ASSERT_FALSE(yb_snapshot_id_valid(".."));
        ASSERT_FALSE(yb_snapshot_id_valid("a/b"));
        ASSERT_FALSE(yb_snapshot_id_valid("a b"));
        ASSERT_FALSE(yb_snapshot_id_valid("a_b"));
}

TEST(config_round_trip) {
        YbSecretKey *key = NULL;
        YbRepoConfig c = { .format = YB_FORMAT_VERSION, .created_ns = T0 }, back;
        _cleanup_free_ char *text = NULL;

        ASSERT_OK(yb_key_generate("hr-portal", &key));
        strcpy(c.system, "hr-portal");
        c.pub = key->pub;
        yb_secret_key_free(key);
        ASSERT_OK(yb_repo_config_format(&c, &text));
        ASSERT_TRUE(strstr(text, "\"created\": \"2026-11-21T10:00:00.123456789Z\""));
        ASSERT_OK(yb_repo_config_parse(text, strlen(text), &back));
        ASSERT_EQ(back.format, YB_FORMAT_VERSION);
        ASSERT_STREQ(back.system, "hr-portal");
        ASSERT_EQ(back.created_ns, T0);
        ASSERT_STREQ(back.pub.system, c.pub.system);
        ASSERT_MEMEQ(back.pub.pk, c.pub.pk, 32);
        ASSERT_MEMEQ(back.pub.id, c.pub.id, YB_KEY_ID_SIZE);
}

/* The config text with the first occurrence of old replaced by new, parsed. */
static int parse_config_changed(const char *text, const char *old, const char *new) {
        _cleanup_free_ char *changed = NULL;
        const char *at = strstr(text, old);
        YbRepoConfig c;

        if (!at)
                fail_msg("'%s' not in the config", old);
        ASSERT_TRUE(asprintf(&changed, "%.*s%s%s", (int) (at - text), text, new, at + strlen(old)) >
                    0);
        return yb_repo_config_parse(changed, strlen(changed), &c);
}

TEST(config_damage_rejected) {
        YbSecretKey *key = NULL;
        YbRepoConfig c = { .format = YB_FORMAT_VERSION, .created_ns = T0 };
        _cleanup_free_ char *text = NULL;
        YbRepoConfig back;

        ASSERT_OK(yb_key_generate("hr-portal", &key));
        strcpy(c.system, "hr-portal");
        c.pub = key->pub;
        yb_secret_key_free(key);
        ASSERT_OK(yb_repo_config_format(&c, &text));

        ASSERT_ERR(parse_config_changed(text, "\"format\": 1", "\"format\": 2"), EPROTONOSUPPORT);
        ASSERT_ERR(parse_config_changed(text, "\"system\": \"hr-portal\"", "\"system\": \"crm\""),
                   EBADMSG); /* the key belongs to another system */
        ASSERT_ERR(parse_config_changed(text, "\"type\": \"yunbak-repository\"",
                                        "\"type\": \"yunbak-snapshot\""),
                   EBADMSG);
        ASSERT_ERR(parse_config_changed(text, "\"created_ns\": ", "\"created_ns\": \"x\", \"y\": "),
                   EBADMSG);
        ASSERT_ERR(parse_config_changed(text, "\"x25519\": \"", "\"x25519\": \"AAAA"), EBADMSG);
        ASSERT_ERR(parse_config_changed(text, "\"version\": 1", "\"version\": 2"),
                   EPROTONOSUPPORT); /* the embedded public key's version */
        ASSERT_ERR(yb_repo_config_parse(text, strlen(text) - 3, &back), EBADMSG);
        ASSERT_ERR(yb_repo_config_parse("", 0, &back), EBADMSG);
        ASSERT_OK(yb_repo_config_parse(text, strlen(text), &back));
}

/* counts.changing (a segment's files kept while written) is in the header only when not 0: other
 * headers are byte for byte what they were before it existed. */
TEST(changing_count_only_when_not_zero) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_agent_identity_freep) YbAgentIdentity *a = new_agent(d, "agent");

        for (YbLevel l = 0; l < _YB_LEVEL_MAX; l++) {
                _cleanup_(yb_header_freep) YbSnapshotHeader *h = sample_header(a, l), *back = NULL;
                _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
                _cleanup_free_ char *line = yb_header_to_json(h), *flagged = NULL;

                ASSERT_TRUE(line);
                ASSERT_TRUE(strstr(line, "\"errors\":12}")); /* errors stays the last count */
                ASSERT_FALSE(strstr(line, "changing"));
                h->counts.changing = 3;
                flagged = yb_header_to_json(h);
                ASSERT_TRUE(flagged);
                ASSERT_TRUE(strstr(flagged, "\"errors\":12,\"changing\":3}"));
                ASSERT_OK(yb_header_format(h, a, &b));
                ASSERT_OK(yb_header_parse(b.data, b.size, &back));
                assert_header_eq(back, h);
                ASSERT_EQ(back->counts.changing, 3);
        }
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = sample_header(a, YB_LEVEL_SEGMENT);
        h->counts.changing = 3;
        ASSERT_ERR(parse_changed(h, a, "\"changing\":3", "\"changing\":-1"), EBADMSG);
        ASSERT_ERR(parse_changed(h, a, "\"changing\":3", "\"changing\":\"3\""), EBADMSG);
}

/* A PostgreSQL base backup's facts (pg.h) go into the header only when there is one, and come
 * back as they went. */
TEST(postgresql_backups_round_trip) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_agent_identity_freep) YbAgentIdentity *a = new_agent(d, "agent");
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = sample_header(a, YB_LEVEL_INCREMENTAL),
                                                    *back = NULL;
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        _cleanup_free_ char *plain = yb_header_to_json(h), *line = NULL;

        ASSERT_TRUE(plain);
        ASSERT_FALSE(strstr(plain, "postgresql"));
        h->pg = new0(YbPgBackup, 1);
        ASSERT_TRUE(h->pg);
        h->n_pg = 1;
        strcpy(h->pg[0].name, "hr-db");
        h->pg[0].version = 150018;
        h->pg[0].system_identifier = UINT64_C(7312345678901234567);
        h->pg[0].timeline = 1;
        h->pg[0].wal_segment_size = 16 << 20;
        h->pg[0].start_lsn = UINT64_C(0x3000028);
        h->pg[0].stop_lsn = UINT64_C(0x4000100);
        h->pg[0].started_ns = T0;
        h->pg[0].stopped_ns = T0 + YB_NSEC_PER_SEC;
        h->pg[0].data_directory = xstrdup("/var/lib/postgresql/15/main");
        line = yb_header_to_json(h);
        ASSERT_TRUE(line);
        ASSERT_TRUE(strstr(line, "\"start_lsn\":\"0/3000028\",\"stop_lsn\":\"0/4000100\","
                                 "\"start_wal\":\"000000010000000000000003\","
                                 "\"stop_wal\":\"000000010000000000000004\""));
        ASSERT_TRUE(strstr(line, "\"system_identifier\":\"7312345678901234567\""));
        ASSERT_OK(yb_header_format(h, a, &b));
        ASSERT_OK(yb_header_parse(b.data, b.size, &back));
        assert_header_eq(back, h);
        ASSERT_EQ(back->n_pg, 1);
        ASSERT_STREQ(back->pg[0].name, "hr-db");
        ASSERT_EQ(back->pg[0].version, 150018);
        ASSERT_EQ(back->pg[0].system_identifier, UINT64_C(7312345678901234567));
        ASSERT_EQ(back->pg[0].start_lsn, UINT64_C(0x3000028));
        ASSERT_EQ(back->pg[0].stop_lsn, UINT64_C(0x4000100));
        ASSERT_EQ(back->pg[0].stopped_ns, T0 + YB_NSEC_PER_SEC);
        ASSERT_STREQ(back->pg[0].data_directory, "/var/lib/postgresql/15/main");
        ASSERT_ERR(parse_changed(h, a, "\"stop_lsn\":\"0/4000100\"", "\"stop_lsn\":\"0/1\""),
                   EBADMSG);
        ASSERT_ERR(parse_changed(h, a, "\"timeline\":1", "\"timeline\":0"), EBADMSG);
        /* A stop LSN at a file's very start: the stop WAL file is the one before, as
         * PostgreSQL's backup_label names it. */
        free(line);
        h->pg[0].stop_lsn = UINT64_C(0x5000000);
        line = yb_header_to_json(h);
        ASSERT_TRUE(line);
        ASSERT_TRUE(strstr(line, "\"stop_wal\":\"000000010000000000000004\""));
        ASSERT_ERR(parse_changed(h, a, "\"name\":\"hr-db\"", "\"name\":\"../x\""), EBADMSG);
}

TEST(postgresql_lsn_and_wal_names) {
        char s[YB_PG_LSN_MAX + 1], w[YB_PG_WAL_NAME_LEN + 1], hook[YB_PG_NAME_MAX + 1];
        uint64_t lsn, segno;
        uint32_t tli;
        int64_t off;
        _cleanup_free_ char *p1 = yb_pg_path_wal("hr-db", "0000000200000016000000B3", -1),
                            *p2 = yb_pg_path_wal("hr-db", "0000000200000016000000B3", 0x74D848);

        ASSERT_OK(yb_pg_lsn_parse("16/B374D848", &lsn));
        ASSERT_EQ(lsn, UINT64_C(0x16B374D848));
        yb_pg_lsn_format(lsn, s);
        ASSERT_STREQ(s, "16/B374D848");
        ASSERT_ERR(yb_pg_lsn_parse("16B374D848", &lsn), EINVAL);
        ASSERT_ERR(yb_pg_lsn_parse("1/123456789", &lsn), EINVAL);
        ASSERT_ERR(yb_pg_lsn_parse("/1", &lsn), EINVAL);
        ASSERT_ERR(yb_pg_lsn_parse("1/x", &lsn), EINVAL);
        /* PostgreSQL's own: SELECT pg_walfile_name('16/B374D848') on timeline 2. */
        yb_pg_wal_name(2, UINT64_C(0x16B374D848), 16 << 20, w);
        ASSERT_STREQ(w, "0000000200000016000000B3");
        ASSERT_OK(yb_pg_wal_name_parse(w, 16 << 20, &tli, &segno));
        ASSERT_EQ(tli, 2);
        ASSERT_EQ(segno * (16 << 20), UINT64_C(0x16B3000000));
        yb_pg_wal_name(1, UINT64_C(0x16B374D848), 64 << 20, w); /* --wal-segsize=64 */
        ASSERT_STREQ(w, "00000001000000160000002C");
        ASSERT_ERR(yb_pg_wal_name_parse("000000010000001600000100", 16 << 20, &tli, &segno),
                   EINVAL);
        ASSERT_ERR(yb_pg_wal_name_parse("00000001000000160000002c", 16 << 20, &tli, &segno),
                   EINVAL);
        ASSERT_STREQ(p1, "_pg/hr-db/wal/0000000200000016000000B3");
        ASSERT_STREQ(p2, "_pg/hr-db/wal/0000000200000016000000B3.0074D848");
        ASSERT_EQ(yb_pg_path_wal_parse(p2, hook, w, &off), 1);
        ASSERT_STREQ(hook, "hr-db");
        ASSERT_STREQ(w, "0000000200000016000000B3");
        ASSERT_EQ(off, 0x74D848);
        ASSERT_EQ(yb_pg_path_wal_parse(p1, hook, w, &off), 1);
        ASSERT_EQ(off, -1);
        ASSERT_EQ(yb_pg_path_wal_parse("_pg/hr-db/data/pg_wal/0000000200000016000000B3", hook, w,
                                       &off),
                  0);
        ASSERT_EQ(yb_pg_path_wal_parse("_pg/hr-db/wal/0000000200000016000000B3.74D848", hook, w,
                                       &off),
                  0);
}
