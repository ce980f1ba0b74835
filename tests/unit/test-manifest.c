#include <stdio.h>

#include "core/base/pathutil.h"
#include "core/repo/format.h"
#include "tests/unit/test.h"

static YbXattr sample_xattrs[] = {
        { (char *) "user.comment", (void *) "hello", 5 },
        { (char *) "system.posix_acl_access", (void *) "\x02\x00\x00\x00\x01\x00\x06\x00", 8 },
        { (char *) "user.empty", (void *) "", 0 },
};

/* One record of every type and content kind, with awkward values (filled by make_entries). */
#define N_SAMPLES 11
static YbEntry samples[N_SAMPLES];

static void make_entries(void) {
        static const YbEntry templates[N_SAMPLES] = {
                { .type = YB_ENTRY_DIR,
                  .path = (char *) "src",
                  .mode = 0755,
                  .uid = 0,
                  .gid = 0,
                  .uname = (char *) "root",
                  .gname = (char *) "root",
                  .mtime_sec = 1795255200,
                  .mtime_nsec = 999999999,
                  .xattrs = sample_xattrs,
                  .n_xattrs = 3 },
                { .type = YB_ENTRY_FILE,
                  .path = (char *) "src/empty",
                  .mode = 0600,
                  .content = YB_CONTENT_EMPTY,
                  .size = 0 },
                { .type = YB_ENTRY_FILE,
                  .path = (char *) "src/whole.db",
                  .mode = 04755,
                  .uid = UINT32_MAX,
                  .gid = 65534,
                  .uname = (char *) "nobody",
                  .gname = (char *) "",
                  .mtime_sec = -1,
                  .mtime_nsec = 1,
                  .content = YB_CONTENT_WHOLE,
                  .size = UINT64_MAX,
                  .volume = 7,
                  .entry = UINT32_MAX,
                  .stored = 123456789012ULL,
                  .sparse = true,
                  .xattrs = sample_xattrs,
                  .n_xattrs = 1 },
                { .type = YB_ENTRY_FILE,
                  .path = (char *) "src/delta.log",
                  .mode = 0644,
                  .content = YB_CONTENT_DELTA,
                  .size = 1 << 20,
                  .volume = 1,
                  .entry = 3,
                  .stored = 4242,
                  .base_path = (char *) "src/old-name.log" },
                { .type = YB_ENTRY_FILE,
                  .path = (char *) "src/same\nline",
                  .mode = 0644,
                  .content = YB_CONTENT_UNCHANGED,
                  .size = 10,
                  .base_path = (char *) "src/same\nline",
                  .mtime_sec = INT64_MIN / 2 },
                { .type = YB_ENTRY_SYMLINK,
                  .path = (char *) "src/link",
                  .mode = 0777,
                  .target = (char *) "/etc/../etc/hosts" }, /* targets are stored as they are */
                { .type = YB_ENTRY_HARDLINK,
                  .path = (char *) "src/\xff\xfe",
                  .mode = 0644,
                  .target = (char *) "src/whole.db" },
                { .type = YB_ENTRY_FIFO, .path = (char *) "src/fifo", .mode = 0600 },
                { .type = YB_ENTRY_CHARDEV,
                  .path = (char *) "src/null",
                  .mode = 0666,
                  .rdev = 0x103 },
                { .type = YB_ENTRY_BLOCKDEV,
                  .path = (char *) "src/sda",
                  .mode = 0660,
                  .rdev = UINT64_MAX },
                { .type = YB_ENTRY_DIR,
                  .path = (char *) "src/sub",
                  .mode = 0,
                  .mtime_sec = INT64_MAX },
        };

        for (size_t i = 0; i < N_SAMPLES; i++) {
                samples[i] = templates[i];
                if (samples[i].type == YB_ENTRY_FILE && samples[i].content != YB_CONTENT_EMPTY) {
                        test_fill_random(samples[i].hash, YB_HASH_SIZE, i);
                        test_fill_random(samples[i].stored_hash, YB_HASH_SIZE, 100 + i);
                }
        }
        /* Fields a kind does not store must be zero for a field-by-field comparison. */
        memset(samples[2].stored_hash, 0, YB_HASH_SIZE);
        memset(samples[4].stored_hash, 0, YB_HASH_SIZE);
}

static bool streq_or_empty(const char *a, const char *b) {
        return streq(a ? a : "", b ? b : "");
}

/* Compares what the format stores; NULL and "" strings are the same thing on disk. */
static void assert_entry_eq(const YbEntry *a, const YbEntry *b) {
        _cleanup_free_ char *esc = yb_path_escape(a->path);

        if (a->type != b->type || !streq(a->path, b->path) || a->mode != b->mode ||
            a->uid != b->uid || a->gid != b->gid || !streq_or_empty(a->uname, b->uname) ||
            !streq_or_empty(a->gname, b->gname) || a->mtime_sec != b->mtime_sec ||
            a->mtime_nsec != b->mtime_nsec || a->n_xattrs != b->n_xattrs || a->size != b->size ||
            a->content != b->content || a->volume != b->volume || a->entry != b->entry ||
            a->stored != b->stored || a->sparse != b->sparse || a->changing != b->changing ||
            a->read_started_ns != b->read_started_ns || a->rdev != b->rdev ||
            !streq_or_empty(a->base_path, b->base_path) || !streq_or_empty(a->target, b->target))
                fail_msg("record '%s' changed in a round trip", esc);
        ASSERT_MEMEQ(a->hash, b->hash, YB_HASH_SIZE);
        ASSERT_MEMEQ(a->stored_hash, b->stored_hash, YB_HASH_SIZE);
        for (size_t i = 0; i < a->n_xattrs; i++) {
                ASSERT_STREQ(a->xattrs[i].name, b->xattrs[i].name);
                ASSERT_EQ(a->xattrs[i].size, b->xattrs[i].size);
                ASSERT_MEMEQ(a->xattrs[i].value, b->xattrs[i].value, a->xattrs[i].size);
        }
}

/* "YBMANIF1", the records, the end marker. */
static void encode_manifest(const YbEntry *e, size_t n, YbBuf *out) {
        ASSERT_OK(yb_buf_append(out, YB_MANIFEST_MAGIC, 8));
        for (size_t i = 0; i < n; i++)
                ASSERT_OK(yb_manifest_encode_entry(&e[i], out));
        ASSERT_OK(yb_buf_append_u8(out, 0));
}

static int decode_one(const YbBuf *b, YbEntry *ret) {
        YbCursor c = yb_cursor(b->data, b->size);

        return yb_manifest_decode_entry(&c, ret);
}

TEST(every_entry_type_round_trips) {
        make_entries();
        for (size_t i = 0; i < N_SAMPLES; i++) {
                _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
                _cleanup_(yb_entry_clear) YbEntry e = { 0 };

                ASSERT_OK(yb_manifest_encode_entry(&samples[i], &b));
                YbCursor c = yb_cursor(b.data, b.size);
                ASSERT_EQ(yb_manifest_decode_entry(&c, &e), 1);
                ASSERT_EQ(c.left, 0); /* the record is consumed exactly */
                assert_entry_eq(&e, &samples[i]);
        }
}

TEST(manifest_parse_and_find) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        _cleanup_(yb_manifest_freep) YbManifest *m = NULL;

        make_entries();
        encode_manifest(samples, N_SAMPLES, &b);
        ASSERT_OK(yb_manifest_parse(b.data, b.size, &m));
        ASSERT_EQ(m->n, N_SAMPLES);
        for (size_t i = 0; i < N_SAMPLES; i++) {
                const YbEntry *e = yb_manifest_find(m, samples[i].path);

                ASSERT_TRUE(e == &m->entries[i]); /* walk order is kept */
                assert_entry_eq(e, &samples[i]);
        }
        ASSERT_TRUE(yb_manifest_find(m, "src/missing") == NULL);
        ASSERT_TRUE(yb_manifest_find(m, "sr") == NULL);
        ASSERT_TRUE(yb_manifest_find(m, "") == NULL);
}

TEST(empty_manifest) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        _cleanup_(yb_manifest_freep) YbManifest *m = NULL;

        encode_manifest(NULL, 0, &b);
        ASSERT_EQ(b.size, 9);
        ASSERT_OK(yb_manifest_parse(b.data, b.size, &m));
        ASSERT_EQ(m->n, 0);
        ASSERT_TRUE(yb_manifest_find(m, "a") == NULL);
}

TEST(many_records_all_found) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        _cleanup_(yb_manifest_freep) YbManifest *m = NULL;
        const size_t n = 5000;

        ASSERT_OK(yb_buf_append(&b, YB_MANIFEST_MAGIC, 8));
        for (size_t i = 0; i < n; i++) {
                char path[32];
                YbEntry e = { .type = YB_ENTRY_DIR, .path = path, .mode = 0700 };

                snprintf(path, sizeof(path), "d/%zu", i);
                ASSERT_OK(yb_manifest_encode_entry(&e, &b));
        }
        ASSERT_OK(yb_buf_append_u8(&b, 0));
        ASSERT_OK(yb_manifest_parse(b.data, b.size, &m));
        ASSERT_EQ(m->n, n);
        for (size_t i = 0; i < n; i++) {
                char path[32];
                const YbEntry *e;

                snprintf(path, sizeof(path), "d/%zu", i);
                e = yb_manifest_find(m, path);
                ASSERT_TRUE(e == &m->entries[i]);
        }
        ASSERT_TRUE(yb_manifest_find(m, "d/5000") == NULL);
}

TEST(duplicate_path_first_wins) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        _cleanup_(yb_manifest_freep) YbManifest *m = NULL;
        YbEntry e[2] = {
                { .type = YB_ENTRY_DIR, .path = (char *) "x", .mode = 0700 },
                { .type = YB_ENTRY_FIFO, .path = (char *) "x", .mode = 0600 },
        };

        encode_manifest(e, 2, &b);
        ASSERT_OK(yb_manifest_parse(b.data, b.size, &m));
        ASSERT_EQ(m->n, 2);
        ASSERT_EQ(yb_manifest_find(m, "x")->type, YB_ENTRY_DIR);
}

TEST(entry_copy_is_deep) {
        _cleanup_(yb_entry_clear) YbEntry a = { 0 }, b = { 0 };
        _cleanup_(yb_buf_done) YbBuf enc = YB_BUF_INIT;

        make_entries();
        ASSERT_OK(yb_manifest_encode_entry(&samples[2], &enc));
        ASSERT_EQ(decode_one(&enc, &a), 1); /* a heap-owned record */
        ASSERT_OK(yb_entry_copy(&a, &b));
        ASSERT_TRUE(b.path != a.path);
        ASSERT_TRUE(b.xattrs != a.xattrs);
        yb_entry_clear(&a); /* the copy outlives the original */
        ASSERT_EQ(a.n_xattrs, 0);
        ASSERT_TRUE(a.path == NULL);
        assert_entry_eq(&b, &samples[2]);
}

TEST(unsafe_paths_rejected) {
        static const char *const bad[] = { "../x", "/x",  "a/../b", "",   "a//b",
                                           ".",    "a/.", "x/",     "..", "./x" };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                YbEntry as_path = { .type = YB_ENTRY_DIR, .path = (char *) bad[i] };
                YbEntry as_link = { .type = YB_ENTRY_HARDLINK,
                                    .path = (char *) "ok",
                                    .target = (char *) bad[i] };
                YbEntry as_base = { .type = YB_ENTRY_FILE,
                                    .path = (char *) "ok",
                                    .content = YB_CONTENT_UNCHANGED,
                                    .size = 1,
                                    .base_path = (char *) bad[i] };
                const YbEntry *records[] = { &as_path, &as_link, &as_base };

                for (size_t j = 0; j < ELEMENTSOF(records); j++) {
                        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
                        _cleanup_(yb_manifest_freep) YbManifest *m = NULL;
                        YbEntry e = { 0 };

                        encode_manifest(records[j], 1, &b);
                        ASSERT_ERR(yb_manifest_parse(b.data, b.size, &m), EBADMSG);
                        ASSERT_TRUE(m == NULL);
                        ASSERT_ERR(
                                decode_one(&(YbBuf){ .data = b.data + 8, .size = b.size - 8 }, &e),
                                EBADMSG);
                        ASSERT_TRUE(e.path == NULL);
                }
        }
}

/* Builds a record by hand, field by field, for values the encoder cannot produce. */
typedef struct Raw {
        uint8_t type;
        const char *path;
        uint64_t mode, nsec, n_xattrs;
        uint8_t content, flags;
        uint64_t size;
        const char *target;
} Raw;

static void encode_raw(const Raw *r, YbBuf *b) {
        uint8_t hash[YB_HASH_SIZE] = { 0 };

        ASSERT_OK(yb_buf_append_u8(b, r->type));
        ASSERT_OK(yb_buf_append_bytes(b, r->path, strlen(r->path)));
        ASSERT_OK(yb_buf_append_varint(b, r->mode));
        ASSERT_OK(yb_buf_append_varint(b, 0));    /* uid */
        ASSERT_OK(yb_buf_append_varint(b, 0));    /* gid */
        ASSERT_OK(yb_buf_append_bytes(b, "", 0)); /* user */
        ASSERT_OK(yb_buf_append_bytes(b, "", 0)); /* group */
        ASSERT_OK(yb_buf_append_varint(b, 0));    /* mtime */
        ASSERT_OK(yb_buf_append_varint(b, r->nsec));
        ASSERT_OK(yb_buf_append_varint(b, r->n_xattrs));
        if (r->type == YB_ENTRY_FILE) {
                ASSERT_OK(yb_buf_append_varint(b, r->size));
                ASSERT_OK(yb_buf_append_u8(b, r->content));
                ASSERT_OK(yb_buf_append_u8(b, r->flags));
                ASSERT_OK(yb_buf_append(b, hash, sizeof(hash)));
                if (r->content == YB_CONTENT_WHOLE)
                        for (int i = 0; i < 3; i++)
                                ASSERT_OK(yb_buf_append_varint(b, 1));
        }
        if (r->type == YB_ENTRY_SYMLINK)
                ASSERT_OK(yb_buf_append_bytes(b, r->target, strlen(r->target)));
}

TEST(invalid_field_values_rejected) {
        static const Raw ok = { .type = YB_ENTRY_FILE,
                                .path = "f",
                                .mode = 0644,
                                .content = YB_CONTENT_WHOLE,
                                .size = 1 };
        Raw bad[10];

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                bad[i] = ok;
        bad[0].type = _YB_ENTRY_MAX; /* unknown type */
        bad[1].type = 0xff;
        bad[2].mode = 010000;              /* beyond permission bits */
        bad[3].mode = 1ULL << 32;          /* beyond 32 bits */
        bad[4].nsec = 1000000000;          /* not a fraction of a second */
        bad[5].content = _YB_CONTENT_MAX;  /* unknown content kind */
        bad[6].flags = 4;                  /* unknown flag */
        bad[7].content = YB_CONTENT_EMPTY; /* "empty" with a size */
        bad[8].size = 0;                   /* "whole" without a size */
        bad[9].n_xattrs = YB_XATTR_MAX_COUNT + 1;
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
                YbEntry e = { 0 };

                encode_raw(&bad[i], &b);
                if (decode_one(&b, &e) != -EBADMSG)
                        fail_msg("bad record %zu was not rejected", i);
        }

        _cleanup_(yb_buf_done) YbBuf good = YB_BUF_INIT, link = YB_BUF_INIT;
        _cleanup_(yb_entry_clear) YbEntry e = { 0 };
        YbEntry l = { 0 };
        encode_raw(&ok, &good);
        ASSERT_EQ(decode_one(&good, &e), 1); /* the control decodes */
        encode_raw(&(Raw){ .type = YB_ENTRY_SYMLINK, .path = "l", .target = "" }, &link);
        ASSERT_ERR(decode_one(&link, &l), EBADMSG); /* a symlink needs a target */
}

/* The "changing" flag (2) of a file a replicator kept while it was written: its read's start
 * follows the hash; a record without it is byte for byte what it was before the flag existed. */
TEST(changing_flag_round_trips_and_leaves_other_records_alone) {
        _cleanup_(yb_buf_done) YbBuf plain = YB_BUF_INIT, flagged = YB_BUF_INIT,
                                     expect = YB_BUF_INIT;
        _cleanup_(yb_entry_clear) YbEntry back = { 0 };
        static const Raw raw = { .type = YB_ENTRY_FILE,
                                 .path = "f",
                                 .mode = 0644,
                                 .content = YB_CONTENT_WHOLE,
                                 .size = 1 };
        YbEntry e = { .type = YB_ENTRY_FILE,
                      .path = (char *) "f",
                      .mode = 0644,
                      .uname = (char *) "",
                      .gname = (char *) "",
                      .content = YB_CONTENT_WHOLE,
                      .size = 1,
                      .volume = 1,
                      .entry = 1,
                      .stored = 1 };
        /* The flags byte follows 14 bytes: type, path (2), mode (2), uid, gid, the names'
         * lengths, mtime (2), xattrs, size and kind. */
        const size_t flags_at = 14;

        ASSERT_OK(yb_manifest_encode_entry(&e, &plain));
        encode_raw(&raw, &expect);
        ASSERT_EQ(plain.size, expect.size); /* the hand-made record, before the flag existed */
        ASSERT_MEMEQ(plain.data, expect.data, plain.size);
        ASSERT_EQ(plain.data[flags_at], 0);

        e.changing = true;
        e.read_started_ns = 1795255200123456789LL;
        ASSERT_OK(yb_manifest_encode_entry(&e, &flagged));
        ASSERT_EQ(flagged.data[flags_at], 2);
        ASSERT_MEMEQ(flagged.data, plain.data, flags_at);
        ASSERT_EQ(decode_one(&flagged, &back), 1);
        assert_entry_eq(&e, &back);
        ASSERT_TRUE(back.changing && back.read_started_ns == e.read_started_ns);
        ASSERT_FALSE(back.sparse);

        /* With sparse too: both bits. */
        yb_entry_clear(&back);
        yb_buf_clear(&flagged);
        e.sparse = true;
        ASSERT_OK(yb_manifest_encode_entry(&e, &flagged));
        ASSERT_EQ(flagged.data[flags_at], 3);
        ASSERT_EQ(decode_one(&flagged, &back), 1);
        assert_entry_eq(&e, &back);

        /* Truncated right after the flags byte's hash: no read start, rejected. */
        flagged.size = flags_at + 1 + YB_HASH_SIZE;
        yb_entry_clear(&back);
        ASSERT_ERR(decode_one(&flagged, &back), EBADMSG);
}

TEST(nul_in_strings_rejected) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT, c = YB_BUF_INIT;
        YbEntry e = { 0 };

        /* A path "a\0b": three bytes with a NUL inside. */
        ASSERT_OK(yb_buf_append_u8(&b, YB_ENTRY_DIR));
        ASSERT_OK(yb_buf_append_bytes(&b, "a\0b", 3));
        for (int i = 0; i < 8; i++)
                ASSERT_OK(yb_buf_append_varint(&b, 0)); /* mode..xattrs, strings empty */
        ASSERT_ERR(decode_one(&b, &e), EBADMSG);

        /* The same shape with a clean path decodes: the NUL was the only problem. */
        ASSERT_OK(yb_buf_append_u8(&c, YB_ENTRY_DIR));
        ASSERT_OK(yb_buf_append_bytes(&c, "a_b", 3));
        for (int i = 0; i < 8; i++)
                ASSERT_OK(yb_buf_append_varint(&c, 0));
        ASSERT_EQ(decode_one(&c, &e), 1);
        yb_entry_clear(&e);
}

TEST(every_truncation_rejected) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;

        make_entries();
        encode_manifest(samples, N_SAMPLES, &b);
        for (size_t n = 0; n < b.size; n++) {
                YbManifest *m = NULL;
                int r = yb_manifest_parse(b.data, n, &m);

                if (r != -EBADMSG)
                        fail_msg("a manifest cut to %zu of %zu bytes gave %d", n, b.size, r);
                ASSERT_TRUE(m == NULL);
        }
        _cleanup_(yb_manifest_freep) YbManifest *m = NULL;
        ASSERT_OK(yb_manifest_parse(b.data, b.size, &m));
}

TEST(bytes_after_end_marker_rejected) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        YbManifest *m = NULL;

        make_entries();
        encode_manifest(samples, 3, &b);
        ASSERT_OK(yb_buf_append_u8(&b, 0));
        ASSERT_ERR(yb_manifest_parse(b.data, b.size, &m), EBADMSG);
        b.size--;
        ASSERT_OK(yb_manifest_encode_entry(&samples[3], &b)); /* a record after the end */
        ASSERT_ERR(yb_manifest_parse(b.data, b.size, &m), EBADMSG);
        ASSERT_TRUE(m == NULL);
}

TEST(bad_magic_rejected) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        YbManifest *m = NULL;

        encode_manifest(NULL, 0, &b);
        b.data[7] = '2'; /* "YBMANIF2" */
        ASSERT_ERR(yb_manifest_parse(b.data, b.size, &m), EBADMSG);
        memcpy(b.data, YB_SIGINDEX_MAGIC, 8); /* another kind of file */
        ASSERT_ERR(yb_manifest_parse(b.data, b.size, &m), EBADMSG);
        ASSERT_TRUE(m == NULL);
}

TEST(levels_to_and_from_strings) {
        ASSERT_STREQ(yb_level_to_string(YB_LEVEL_FULL), "full");
        ASSERT_STREQ(yb_level_to_string(YB_LEVEL_DIFFERENTIAL), "differential");
        ASSERT_STREQ(yb_level_to_string(YB_LEVEL_INCREMENTAL), "incremental");
        ASSERT_TRUE(yb_level_to_string(_YB_LEVEL_MAX) == NULL);
        ASSERT_TRUE(yb_level_to_string((YbLevel) -1) == NULL);
        for (int l = 0; l < _YB_LEVEL_MAX; l++)
                ASSERT_EQ(yb_level_from_string(yb_level_to_string(l)), l);
        ASSERT_ERR(yb_level_from_string("Full"), EINVAL);
        ASSERT_ERR(yb_level_from_string(""), EINVAL);
}

/* Signature index: the agent's per-file record, found by path or by inode. */

static uint8_t sig_a[300];

static const YbSigEntry sig_samples[] = {
        { .path = (char *) "src/a.db",
          .size = 1 << 20,
          .mtime_sec = 1795255200,
          .mtime_nsec = 5,
          .ctime_sec = -3,
          .ctime_nsec = 999999999,
          .ino = 12,
          .dev = 0x801,
          .sig = sig_a,
          .sig_size = sizeof(sig_a) },
        { .path = (char *) "src/small", .size = 10, .ino = 13, .dev = 0x801 },
        { .path = (char *) "src/other-fs", .size = 0, .ino = 12, .dev = 0x802 },
        { .path = (char *) "src/\xff", .size = UINT64_MAX, .ino = UINT64_MAX, .dev = UINT64_MAX },
};

static void encode_sigindex(const YbSigEntry *e, size_t n, YbBuf *out) {
        ASSERT_OK(yb_buf_append(out, YB_SIGINDEX_MAGIC, 8));
        for (size_t i = 0; i < n; i++)
                ASSERT_OK(yb_sigindex_encode_entry(&e[i], out));
        ASSERT_OK(yb_buf_append_u8(out, 0));
}

static void assert_sig_entry_eq(const YbSigEntry *a, const YbSigEntry *b) {
        ASSERT_STREQ(a->path, b->path);
        ASSERT_TRUE(a->size == b->size && a->ino == b->ino && a->dev == b->dev);
        ASSERT_TRUE(a->mtime_sec == b->mtime_sec && a->mtime_nsec == b->mtime_nsec);
        ASSERT_TRUE(a->ctime_sec == b->ctime_sec && a->ctime_nsec == b->ctime_nsec);
        ASSERT_MEMEQ(a->hash, b->hash, YB_HASH_SIZE);
        ASSERT_EQ(a->sig_size, b->sig_size);
        ASSERT_EQ(a->sig == NULL, b->sig == NULL);
        ASSERT_MEMEQ(a->sig, b->sig, a->sig_size);
}

TEST(sigindex_round_trip_and_lookups) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        _cleanup_(yb_sigindex_freep) YbSigIndex *x = NULL;
        const size_t n = ELEMENTSOF(sig_samples);

        test_fill_random(sig_a, sizeof(sig_a), 1);
        encode_sigindex(sig_samples, n, &b);
        ASSERT_OK(yb_sigindex_parse(b.data, b.size, &x));
        ASSERT_EQ(x->n, n);
        for (size_t i = 0; i < n; i++) {
                assert_sig_entry_eq(&x->entries[i], &sig_samples[i]);
                ASSERT_TRUE(yb_sigindex_find(x, sig_samples[i].path) == &x->entries[i]);
                ASSERT_TRUE(yb_sigindex_find_inode(x, sig_samples[i].dev, sig_samples[i].ino) ==
                            &x->entries[i]);
        }
        ASSERT_TRUE(yb_sigindex_find(x, "src/missing") == NULL);
        ASSERT_TRUE(yb_sigindex_find_inode(x, 0x801, 14) == NULL);
        ASSERT_TRUE(yb_sigindex_find_inode(x, 0x803, 12) == NULL); /* same inode, other device */
        /* A device that differs only in high bits: it may share a hash slot, never a match. */
        ASSERT_TRUE(yb_sigindex_find_inode(x, 0x801 + (1ULL << 40), 12) == NULL);
        ASSERT_TRUE(yb_sigindex_find_inode(x, 0x801 + (1ULL << 20), 12) == NULL);
}

TEST(sigindex_empty_and_many) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        _cleanup_(yb_sigindex_freep) YbSigIndex *empty = NULL, *x = NULL;
        const size_t n = 3000;

        encode_sigindex(NULL, 0, &b);
        ASSERT_OK(yb_sigindex_parse(b.data, b.size, &empty));
        ASSERT_EQ(empty->n, 0);
        ASSERT_TRUE(yb_sigindex_find(empty, "a") == NULL);
        ASSERT_TRUE(yb_sigindex_find_inode(empty, 1, 1) == NULL);

        yb_buf_clear(&b);
        ASSERT_OK(yb_buf_append(&b, YB_SIGINDEX_MAGIC, 8));
        for (size_t i = 0; i < n; i++) {
                char path[32];
                YbSigEntry e = { .path = path, .ino = i * 4096, .dev = i % 3 };

                snprintf(path, sizeof(path), "f/%zu", i);
                ASSERT_OK(yb_sigindex_encode_entry(&e, &b));
        }
        ASSERT_OK(yb_buf_append_u8(&b, 0));
        ASSERT_OK(yb_sigindex_parse(b.data, b.size, &x));
        for (size_t i = 0; i < n; i++) {
                char path[32];

                snprintf(path, sizeof(path), "f/%zu", i);
                ASSERT_TRUE(yb_sigindex_find(x, path) == &x->entries[i]);
                ASSERT_TRUE(yb_sigindex_find_inode(x, i % 3, i * 4096) == &x->entries[i]);
        }
}

/* The walk's lookup: the entry after the last one found first, and every other path as
 * yb_sigindex_find finds it, whatever the order asked in. */
TEST(sigindex_find_next_in_and_out_of_order) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        _cleanup_(yb_sigindex_freep) YbSigIndex *x = NULL;
        const size_t n = 50;
        size_t cursor = 0;
        char path[32];

        ASSERT_OK(yb_buf_append(&b, YB_SIGINDEX_MAGIC, 8));
        for (size_t i = 0; i < n; i++) {
                YbSigEntry e = { .path = path, .ino = i + 1, .dev = 1 };

                snprintf(path, sizeof(path), "d/%02zu", i);
                ASSERT_OK(yb_sigindex_encode_entry(&e, &b));
        }
        ASSERT_OK(yb_buf_append_u8(&b, 0));
        ASSERT_OK(yb_sigindex_parse(b.data, b.size, &x));
        /* In order: each found, the cursor one past it. */
        for (size_t i = 0; i < 10; i++) {
                snprintf(path, sizeof(path), "d/%02zu", i);
                ASSERT_TRUE(yb_sigindex_find_next(x, path, &cursor) == &x->entries[i]);
                ASSERT_EQ(cursor, i + 1);
        }
        /* A path the index does not have: nothing, and the cursor stays. */
        ASSERT_TRUE(yb_sigindex_find_next(x, "d/10-new", &cursor) == NULL);
        ASSERT_EQ(cursor, 10);
        /* Entries skipped (deleted from the tree), then one back (renamed before it). */
        ASSERT_TRUE(yb_sigindex_find_next(x, "d/20", &cursor) == &x->entries[20]);
        ASSERT_EQ(cursor, 21);
        ASSERT_TRUE(yb_sigindex_find_next(x, "d/21", &cursor) == &x->entries[21]);
        ASSERT_TRUE(yb_sigindex_find_next(x, "d/03", &cursor) == &x->entries[3]);
        ASSERT_EQ(cursor, 4);
        /* The last entry, then past the end. */
        ASSERT_TRUE(yb_sigindex_find_next(x, "d/49", &cursor) == &x->entries[49]);
        ASSERT_EQ(cursor, n);
        ASSERT_TRUE(yb_sigindex_find_next(x, "d/00", &cursor) == &x->entries[0]);
        cursor = n;
        ASSERT_TRUE(yb_sigindex_find_next(x, "e", &cursor) == NULL);
        ASSERT_EQ(cursor, n);
}

TEST(sigindex_damage_rejected) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT, bad_path = YB_BUF_INIT;
        YbSigIndex *x = NULL;

        test_fill_random(sig_a, sizeof(sig_a), 1);
        encode_sigindex(sig_samples, ELEMENTSOF(sig_samples), &b);
        for (size_t n = 0; n < b.size; n++)
                if (yb_sigindex_parse(b.data, n, &x) != -EBADMSG)
                        fail_msg("a signature index cut to %zu of %zu bytes was accepted", n,
                                 b.size);
        ASSERT_OK(yb_buf_append_u8(&b, 0)); /* after the end marker */
        ASSERT_ERR(yb_sigindex_parse(b.data, b.size, &x), EBADMSG);
        b.size--;
        b.data[8] = 2; /* a record type other than 1 */
        ASSERT_ERR(yb_sigindex_parse(b.data, b.size, &x), EBADMSG);

        encode_sigindex(&(YbSigEntry){ .path = (char *) "../etc/passwd" }, 1, &bad_path);
        ASSERT_ERR(yb_sigindex_parse(bad_path.data, bad_path.size, &x), EBADMSG);
        ASSERT_TRUE(x == NULL);
}
