/* The signature index as a delta against the parent's: what changed is written, the rest is
 * taken from the parent's, and a damaged delta is refused. */
#include <stdio.h>

#include "core/repo/sigdelta.h"
#include "tests/unit/test.h"

#define REC 12 /* weak sum + an 8-byte strong sum */

/* A signature of the shape librsync writes: magic, block length, strong length 8, records. */
static uint8_t *make_sig(size_t blocks, uint8_t strong, unsigned seed, size_t *ret_size) {
        size_t n = 12 + blocks * REC;
        uint8_t *s = malloc(n);

        ASSERT_TRUE(s != NULL);
        memcpy(s, "rs\x01\x47\x00\x00\x10\x00\x00\x00\x00", 11);
        s[11] = strong;
        test_fill_random(s + 12, n - 12, seed);
        *ret_size = n;
        return s;
}

static YbSigEntry entry(const char *path, uint64_t ino, uint8_t *sig, size_t sig_size) {
        YbSigEntry e = { .path = (char *) path,
                         .size = 100 + ino,
                         .mtime_sec = 7,
                         .ctime_sec = -2,
                         .ino = ino,
                         .dev = 0x801,
                         .sig = sig,
                         .sig_size = sig_size };

        memset(e.hash, (int) ino, YB_HASH_SIZE);
        return e;
}

static void encode_whole(const YbSigEntry *e, size_t n, YbBuf *out) {
        ASSERT_OK(yb_buf_append(out, YB_SIGINDEX_MAGIC, 8));
        for (size_t i = 0; i < n; i++)
                ASSERT_OK(yb_sigindex_encode_entry(&e[i], out));
        ASSERT_OK(yb_buf_append_u8(out, 0));
}

static void assert_has(YbSigIndex *x, const YbSigEntry *e) {
        const YbSigEntry *f = yb_sigindex_find(x, e->path);

        if (!f)
                fail_msg("'%s' is missing", e->path);
        if (!yb_sig_entry_same(f, e))
                fail_msg("'%s' differs", e->path);
        ASSERT_TRUE(yb_sigindex_find_inode(x, e->dev, e->ino) == f);
}

/* The parent: five files; the child: one kept, one touched, one with changed blocks, one grown,
 * one of another signature shape, one new, and the fifth gone. */
static uint8_t *sig[16];
static size_t sig_size[16];
static YbSigEntry parent[5], child[6];

static void make_pair(void) {
        sig[0] = make_sig(40, 8, 1, &sig_size[0]);
        sig[1] = make_sig(3, 8, 2, &sig_size[1]);
        sig[2] = make_sig(1000, 8, 3, &sig_size[2]);
        sig[3] = make_sig(5, 8, 4, &sig_size[3]);
        sig[4] = make_sig(9, 8, 5, &sig_size[4]);
        parent[0] = entry("src/kept", 1, sig[0], sig_size[0]);
        parent[1] = entry("src/touched", 2, sig[1], sig_size[1]);
        parent[2] = entry("src/db", 3, sig[2], sig_size[2]);
        parent[3] = entry("src/log", 4, sig[3], sig_size[3]);
        parent[4] = entry("src/gone", 5, sig[4], sig_size[4]);

        /* db: blocks 0, 1, 500 to 502 and 999 changed. */
        sig[5] = malloc(sig_size[2]);
        memcpy(sig[5], sig[2], sig_size[2]);
        for (size_t b = 0; b < 1000; b++)
                if (b <= 1 || (b >= 500 && b <= 502) || b == 999)
                        sig[5][12 + b * REC + 3] ^= 0x5a;
        /* log: grown from 5 to 8 blocks, block 4 changed. */
        sig[6] = make_sig(8, 8, 6, &sig_size[6]);
        memcpy(sig[6] + 12, sig[3] + 12, 4 * REC);
        sig[7] = make_sig(6, 16, 7, &sig_size[7]);
        sig[8] = make_sig(2, 8, 8, &sig_size[8]);

        child[0] = parent[0];
        child[1] = parent[1];
        child[1].ctime_nsec = 5;
        child[2] = parent[2];
        child[2].sig = sig[5];
        child[2].mtime_sec = 8;
        child[3] = parent[3];
        child[3].sig = sig[6];
        child[3].sig_size = sig_size[6];
        child[4] = entry("src/new", 9, sig[8], sig_size[8]);
        child[5] = entry("src/other-shape", 1, sig[7], sig_size[7]);
        child[5].ino = 10;
}

static void free_pair(void) {
        for (size_t i = 0; i < ELEMENTSOF(sig); i++)
                free(TAKE_PTR(sig[i]));
}

/* The delta of child against the parent's index, as the writer makes it. */
static void encode_delta(YbSigIndex *px, YbBuf *out) {
        uint8_t named[ELEMENTSOF(parent)] = { 0 };

        ASSERT_OK(yb_sigdelta_begin("20261206T230337Z-c16805", out));
        for (size_t i = 0; i < ELEMENTSOF(child); i++) {
                const YbSigEntry *p = yb_sigindex_find(px, child[i].path);

                if (p)
                        named[p - px->entries] = 1;
                if (!p || !yb_sig_entry_same(p, &child[i]))
                        ASSERT_OK(yb_sigdelta_put_changed(p, &child[i], out));
        }
        for (size_t i = 0; i < px->n; i++)
                if (!named[i])
                        ASSERT_OK(yb_sigdelta_put_gone(px->entries[i].path, out));
        ASSERT_OK(yb_buf_append_u8(out, 0));
}

TEST(sigdelta_round_trip) {
        _cleanup_(yb_buf_done) YbBuf pb = YB_BUF_INIT, db = YB_BUF_INIT, wb = YB_BUF_INIT;
        _cleanup_(yb_sigindex_freep) YbSigIndex *x = NULL;
        char id[YB_SNAPSHOT_ID_MAX + 1];

        make_pair();
        encode_whole(parent, ELEMENTSOF(parent), &pb);
        encode_whole(child, ELEMENTSOF(child), &wb);
        ASSERT_EQ(yb_sigdelta_parent(pb.data, pb.size, id), 0);
        ASSERT_OK(yb_sigindex_parse(pb.data, pb.size, &x));
        encode_delta(x, &db);
        ASSERT_EQ(yb_sigdelta_parent(db.data, db.size, id), 1);
        ASSERT_STREQ(id, "20261206T230337Z-c16805");
        /* Only what changed: db's six blocks, not its thousand. */
        if (db.size * 4 > wb.size)
                fail_msg("the delta is %zu bytes, the whole index %zu", db.size, wb.size);

        ASSERT_OK(yb_sigdelta_apply(db.data, db.size, &x));
        ASSERT_EQ(x->n, ELEMENTSOF(child));
        for (size_t i = 0; i < ELEMENTSOF(child); i++)
                assert_has(x, &child[i]);
        ASSERT_TRUE(yb_sigindex_find(x, "src/gone") == NULL);
        free_pair();
}

TEST(sigdelta_nothing_changed) {
        _cleanup_(yb_buf_done) YbBuf pb = YB_BUF_INIT, db = YB_BUF_INIT;
        _cleanup_(yb_sigindex_freep) YbSigIndex *x = NULL;

        make_pair();
        encode_whole(parent, ELEMENTSOF(parent), &pb);
        ASSERT_OK(yb_sigindex_parse(pb.data, pb.size, &x));
        ASSERT_OK(yb_sigdelta_begin("p", &db));
        ASSERT_OK(yb_buf_append_u8(&db, 0));
        ASSERT_EQ(db.size, 8 + 1 + 1 + 1);
        ASSERT_OK(yb_sigdelta_apply(db.data, db.size, &x));
        ASSERT_EQ(x->n, ELEMENTSOF(parent));
        for (size_t i = 0; i < ELEMENTSOF(parent); i++)
                assert_has(x, &parent[i]);
        free_pair();
}

TEST(sigdelta_damage_rejected) {
        _cleanup_(yb_buf_done) YbBuf pb = YB_BUF_INIT, db = YB_BUF_INIT, other = YB_BUF_INIT;
        _cleanup_(yb_sigindex_freep) YbSigIndex *x = NULL, *y = NULL;
        char id[YB_SNAPSHOT_ID_MAX + 1];
        YbSigEntry e;

        make_pair();
        encode_whole(parent, ELEMENTSOF(parent), &pb);
        ASSERT_OK(yb_sigindex_parse(pb.data, pb.size, &x));
        encode_delta(x, &db);
        /* Cut anywhere: refused, and the parent's index is left as it was. */
        for (size_t n = 0; n < db.size; n++) {
                if (yb_sigdelta_apply(db.data, n, &x) != -EBADMSG)
                        fail_msg("a delta cut to %zu of %zu bytes was accepted", n, db.size);
                ASSERT_EQ(x->n, ELEMENTSOF(parent));
        }
        ASSERT_OK(yb_buf_append_u8(&db, 0)); /* after the end marker */
        ASSERT_ERR(yb_sigdelta_apply(db.data, db.size, &x), EBADMSG);
        ASSERT_ERR(yb_sigdelta_parent("YBSIGIX3", 8, id), EBADMSG);
        /* A whole index is not a delta. */
        ASSERT_ERR(yb_sigdelta_apply(pb.data, pb.size, &x), EBADMSG);

        /* A path the parent does not have cannot be gone, nor patched. */
        ASSERT_OK(yb_sigdelta_begin("p", &other));
        ASSERT_OK(yb_sigdelta_put_gone("src/never", &other));
        ASSERT_OK(yb_buf_append_u8(&other, 0));
        ASSERT_ERR(yb_sigdelta_apply(other.data, other.size, &x), EBADMSG);
        yb_buf_clear(&other);
        ASSERT_OK(yb_sigdelta_begin("p", &other));
        e = parent[2];
        e.path = (char *) "src/never";
        ASSERT_OK(yb_sigdelta_put_changed(&parent[2], &e, &other));
        ASSERT_OK(yb_buf_append_u8(&other, 0));
        ASSERT_ERR(yb_sigdelta_apply(other.data, other.size, &x), EBADMSG);
        /* A patch that keeps blocks the parent's signature does not have. */
        ASSERT_OK(yb_sigindex_parse(pb.data, pb.size, &y));
        yb_buf_clear(&other);
        ASSERT_OK(yb_sigdelta_begin("p", &other));
        ASSERT_OK(yb_sigdelta_put_changed(&parent[3], &child[3], &other));
        ASSERT_OK(yb_buf_append_u8(&other, 0));
        y->entries[3].sig_size = 12 + 2 * REC; /* the parent's log had 2 blocks, not 5 */
        ASSERT_ERR(yb_sigdelta_apply(other.data, other.size, &y), EBADMSG);
        y->entries[3].sig_size = sig_size[3];
        ASSERT_EQ(x->n, ELEMENTSOF(parent));
        free_pair();
}

/* Applied with files new and gone, the index is in the walk's order again: the next walk finds
 * each entry at its cursor and builds no table. */
TEST(sigdelta_apply_keeps_the_walks_order) {
        static const char *const before[] = { "s", "s/a", "s/b/x", "s/b/y", "s/c", "s-z" };
        static const char *const after[] = { "s",   "s/a", "s/a0", "s/b/x", "s/b/x/new",
                                             "s/c", "s/d", "s-z",  "t" };
        _cleanup_(yb_buf_done) YbBuf pb = YB_BUF_INIT, db = YB_BUF_INIT;
        _cleanup_(yb_sigindex_freep) YbSigIndex *x = NULL;
        YbSigEntry p[ELEMENTSOF(before)], c[ELEMENTSOF(after)], added;
        size_t cursor = 0;

        for (size_t i = 0; i < ELEMENTSOF(before); i++)
                p[i] = entry(before[i], i + 1, NULL, 0);
        for (size_t i = 0; i < ELEMENTSOF(after); i++)
                c[i] = entry(after[i], 100 + i, NULL, 0);
        encode_whole(p, ELEMENTSOF(p), &pb);
        ASSERT_OK(yb_sigindex_parse(pb.data, pb.size, &x));
        /* In the walk's order, as the writer records: "s/a" and "s-z" changed, four new, "s/b/y"
         * gone (its record comes last); the rest as it was. */
        ASSERT_OK(yb_sigdelta_begin("p", &db));
        for (size_t i = 0; i < ELEMENTSOF(after); i++) {
                const YbSigEntry *old = NULL;

                for (size_t j = 0; j < ELEMENTSOF(before); j++)
                        if (streq(before[j], after[i]))
                                old = &p[j];
                if (old && !streq(after[i], "s/a") && !streq(after[i], "s-z"))
                        c[i] = *old;
                else
                        ASSERT_OK(yb_sigdelta_put_changed(old, &c[i], &db));
        }
        ASSERT_OK(yb_sigdelta_put_gone("s/b/y", &db));
        ASSERT_OK(yb_buf_append_u8(&db, 0));

        ASSERT_OK(yb_sigdelta_apply(db.data, db.size, &x));
        ASSERT_EQ(x->n, ELEMENTSOF(after));
        for (size_t i = 0; i < ELEMENTSOF(after); i++) {
                ASSERT_STREQ(x->entries[i].path, after[i]);
                ASSERT_TRUE(yb_sigindex_find_next(x, after[i], &cursor) == &x->entries[i]);
                ASSERT_TRUE(yb_sig_entry_same(&x->entries[i], &c[i]));
        }
        ASSERT_TRUE(x->index == NULL); /* every one found at its cursor */
        /* A lookup out of order builds the tables, and an entry added drops them. */
        ASSERT_TRUE(yb_sigindex_find(x, "s/c") == &x->entries[5]);
        ASSERT_TRUE(x->index != NULL);
        ASSERT_TRUE(yb_sigindex_find_inode(x, 0x801, 1) == &x->entries[0]);
        ASSERT_TRUE(yb_sigindex_find(x, "s/b/y") == NULL);
        added = entry(strdup("s/zz"), 99, NULL, 0); /* the index takes its path */
        ASSERT_TRUE(added.path != NULL);
        ASSERT_OK(yb_sigindex_add(x, &added));
        ASSERT_TRUE(x->index == NULL);
        ASSERT_TRUE(yb_sigindex_find(x, "s/zz") == &x->entries[x->n - 1]);
}

/* Sources are walked in the order they were given, not by name: "srv" before "etc", new files
 * of each among its own. */
TEST(sigdelta_apply_keeps_the_sources_order) {
        static const char *const before[] = { "srv", "srv/a", "srv/c", "etc", "etc/b" };
        static const char *const after[] = { "srv", "srv/a", "srv/b", "srv/c",
                                             "etc", "etc/a", "etc/b", "etc/c" };
        _cleanup_(yb_buf_done) YbBuf pb = YB_BUF_INIT, db = YB_BUF_INIT;
        _cleanup_(yb_sigindex_freep) YbSigIndex *x = NULL;
        YbSigEntry p[ELEMENTSOF(before)], c;
        size_t cursor = 0;

        for (size_t i = 0; i < ELEMENTSOF(before); i++)
                p[i] = entry(before[i], i + 1, NULL, 0);
        encode_whole(p, ELEMENTSOF(p), &pb);
        ASSERT_OK(yb_sigindex_parse(pb.data, pb.size, &x));
        ASSERT_OK(yb_sigdelta_begin("p", &db));
        c = entry("srv/b", 20, NULL, 0);
        ASSERT_OK(yb_sigdelta_put_changed(NULL, &c, &db));
        c = entry("etc/a", 21, NULL, 0);
        ASSERT_OK(yb_sigdelta_put_changed(NULL, &c, &db));
        c = entry("etc/c", 22, NULL, 0);
        ASSERT_OK(yb_sigdelta_put_changed(NULL, &c, &db));
        ASSERT_OK(yb_buf_append_u8(&db, 0));

        ASSERT_OK(yb_sigdelta_apply(db.data, db.size, &x));
        ASSERT_EQ(x->n, ELEMENTSOF(after));
        for (size_t i = 0; i < ELEMENTSOF(after); i++) {
                ASSERT_STREQ(x->entries[i].path, after[i]);
                ASSERT_TRUE(yb_sigindex_find_next(x, after[i], &cursor) == &x->entries[i]);
        }
        ASSERT_TRUE(x->index == NULL);
}

TEST(sigdelta_in_place) {
        _cleanup_(yb_buf_done) YbBuf pb = YB_BUF_INIT, db = YB_BUF_INIT;
        _cleanup_(yb_sigindex_freep) YbSigIndex *x = NULL;
        YbSigIndex *before;

        make_pair();
        encode_whole(parent, ELEMENTSOF(parent), &pb);
        ASSERT_OK(yb_sigindex_parse(pb.data, pb.size, &x));
        /* Only files changed where they are (same paths, same inodes). */
        ASSERT_OK(yb_sigdelta_begin("p", &db));
        ASSERT_OK(yb_sigdelta_put_changed(&parent[1], &child[1], &db));
        ASSERT_OK(yb_sigdelta_put_changed(&parent[2], &child[2], &db));
        ASSERT_OK(yb_buf_append_u8(&db, 0));
        before = x;
        ASSERT_OK(yb_sigdelta_apply(db.data, db.size, &x));
        ASSERT_TRUE(x == before);
        ASSERT_EQ(x->n, ELEMENTSOF(parent));
        assert_has(x, &parent[0]);
        assert_has(x, &child[1]);
        assert_has(x, &child[2]);
        assert_has(x, &parent[3]);
        assert_has(x, &parent[4]);
        free_pair();
}

TEST(sigdelta_whole_and_no_xattrs) {
        _cleanup_(yb_buf_done) YbBuf wb = YB_BUF_INIT, db = YB_BUF_INIT;
        _cleanup_(yb_sigindex_freep) YbSigIndex *x = NULL;
        char id[YB_SNAPSHOT_ID_MAX + 1];

        make_pair();
        /* A whole index of form 2: no parent; some entries say they had no xattrs. */
        parent[0].no_xattrs = parent[2].no_xattrs = true;
        ASSERT_OK(yb_sigdelta_begin("", &wb));
        for (size_t i = 0; i < ELEMENTSOF(parent); i++)
                ASSERT_OK(yb_sigdelta_put_changed(NULL, &parent[i], &wb));
        ASSERT_OK(yb_buf_append_u8(&wb, 0));
        ASSERT_EQ(yb_sigdelta_parent(wb.data, wb.size, id), 1);
        ASSERT_STREQ(id, "");
        ASSERT_OK(yb_sigindex_parse_any(wb.data, wb.size, &x));
        for (size_t i = 0; i < ELEMENTSOF(parent); i++)
                assert_has(x, &parent[i]);
        ASSERT_TRUE(yb_sigindex_find(x, "src/kept")->no_xattrs);
        ASSERT_FALSE(yb_sigindex_find(x, "src/touched")->no_xattrs);

        /* The flag alone changed: a record, patched or whole, carries it. */
        child[1].no_xattrs = true;  /* touched: the same signature */
        child[2].no_xattrs = false; /* db: blocks changed too */
        ASSERT_OK(yb_sigdelta_begin("p", &db));
        ASSERT_OK(yb_sigdelta_put_changed(&parent[1], &child[1], &db));
        ASSERT_OK(yb_sigdelta_put_changed(&parent[2], &child[2], &db));
        ASSERT_OK(yb_buf_append_u8(&db, 0));
        ASSERT_ERR(yb_sigindex_parse_any(db.data, db.size, &x), EBADMSG); /* needs its chain */
        ASSERT_OK(yb_sigdelta_apply(db.data, db.size, &x));
        assert_has(x, &child[1]);
        assert_has(x, &child[2]);
        assert_has(x, &parent[0]);
        free_pair();
}

/* A chain of 60 generations of 30 files with random changes (blocks rewritten, grown, cut, of
 * another shape, renamed, gone, new, the flag), each written as the writer does and applied to
 * the index resolved so far: every generation resolves to exactly its entries. */
static uint32_t rng_state = 12345;
static uint32_t rng(uint32_t n) {
        rng_state = rng_state * 1103515245u + 12345u;
        return (rng_state >> 8) % n;
}

TEST(sigdelta_random_chain) {
        enum { FILES = 30, GENS = 60 };
        YbSigEntry cur[FILES];
        char *paths[FILES];
        uint8_t *sigs[FILES];
        _cleanup_(yb_sigindex_freep) YbSigIndex *x = NULL;
        _cleanup_(yb_buf_done) YbBuf wb = YB_BUF_INIT;
        unsigned names = 0;

        for (size_t i = 0; i < FILES; i++) {
                size_t n;

                ASSERT_TRUE(asprintf(&paths[i], "f%u", names++) > 0);
                sigs[i] = make_sig(rng(50), 8, 100 + (unsigned) i, &n);
                cur[i] = entry(paths[i], i + 1, sigs[i], n);
        }
        encode_whole(cur, FILES, &wb);
        ASSERT_OK(yb_sigindex_parse(wb.data, wb.size, &x));
        for (int g = 0; g < GENS; g++) {
                _cleanup_(yb_buf_done) YbBuf db = YB_BUF_INIT;
                uint8_t *named = calloc(x->n + 1, 1);
                bool in_place_only = rng(4) == 0;

                ASSERT_TRUE(named != NULL);
                for (size_t i = 0; i < FILES; i++) {
                        YbSigEntry *e = &cur[i];
                        size_t m = (e->sig_size - 12) / REC, n = m;
                        uint8_t *s;

                        switch (in_place_only ? rng(2) : rng(8)) {
                        case 0:
                                continue;
                        case 1: /* blocks rewritten */
                                for (int k = rng(4); k >= 0 && m > 0; k--)
                                        e->sig[12 + rng((uint32_t) m) * REC + rng(REC)] ^= 0x33;
                                e->mtime_sec++;
                                break;
                        case 2: /* grown or cut */
                                n = rng(60);
                                s = malloc(12 + n * REC);
                                ASSERT_TRUE(s != NULL);
                                memcpy(s, e->sig, 12 + MIN(m, n) * REC);
                                if (n > m)
                                        test_fill_random(s + 12 + m * REC, (n - m) * REC,
                                                         rng(1000));
                                free(e->sig);
                                e->sig = sigs[i] = s;
                                e->sig_size = 12 + n * REC;
                                e->size++;
                                break;
                        case 3: /* another shape */
                                free(e->sig);
                                e->sig = sigs[i] =
                                        make_sig(rng(20), rng(2) ? 8 : 16, rng(1000), &e->sig_size);
                                if (e->sig[11] == 16)
                                        e->sig_size = 12 + ((e->sig_size - 12) / 20) * 20;
                                e->ino += 1000;
                                break;
                        case 4: /* renamed */
                                free(paths[i]);
                                ASSERT_TRUE(asprintf(&paths[i], "f%u", names++) > 0);
                                e->path = paths[i];
                                break;
                        case 5: /* gone, and another file in its place */
                                free(paths[i]);
                                ASSERT_TRUE(asprintf(&paths[i], "f%u", names++) > 0);
                                free(e->sig);
                                e->sig = sigs[i] = make_sig(rng(10), 8, rng(1000), &e->sig_size);
                                e->path = paths[i];
                                e->ino = 5000 + names;
                                break;
                        case 6:
                                e->no_xattrs = !e->no_xattrs;
                                e->ctime_sec++;
                                break;
                        default:
                                e->ino = 0; /* racily clean */
                                break;
                        }
                }
                ASSERT_OK(yb_sigdelta_begin("p", &db));
                for (size_t i = 0; i < FILES; i++) {
                        const YbSigEntry *p = yb_sigindex_find(x, cur[i].path);

                        if (p)
                                named[p - x->entries] = 1;
                        if (!p || !yb_sig_entry_same(p, &cur[i]))
                                ASSERT_OK(yb_sigdelta_put_changed(p, &cur[i], &db));
                }
                for (size_t i = 0; i < x->n; i++)
                        if (!named[i])
                                ASSERT_OK(yb_sigdelta_put_gone(x->entries[i].path, &db));
                ASSERT_OK(yb_buf_append_u8(&db, 0));
                free(named);
                ASSERT_OK(yb_sigdelta_apply(db.data, db.size, &x));
                ASSERT_EQ(x->n, (size_t) FILES);
                for (size_t i = 0; i < FILES; i++) {
                        const YbSigEntry *f = yb_sigindex_find(x, cur[i].path);

                        if (!f || !yb_sig_entry_same(f, &cur[i]))
                                fail_msg("generation %d: '%s' %s", g, cur[i].path,
                                         f ? "differs" : "is missing");
                }
        }
        for (size_t i = 0; i < FILES; i++) {
                free(paths[i]);
                free(sigs[i]);
        }
}
