/* tests/unit/test-pg-restore.c: the WAL of a PostgreSQL restore gathered from a real
 * repository. Base backups and segments are written with the repository's own writer, as the
 * agent (bases: data/pg_wal), wal-archive (whole WAL files) and the replicator (pieces at
 * offsets) write them; yb_pg_wal_gather must lay out exactly the WAL PostgreSQL wrote, say
 * where two sources disagree, where WAL is missing and which piece is damaged. Also the base
 * choice, the recovery settings, the tablespace map, and pg_waldump's output read back. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/fileio.h"
#include "core/repo/segment.h"
#include "core/repo/writer.h"
#include "restore/pg-restore.h"
#include "tests/unit/copy-fixture.h"
#include "tests/unit/test.h"

#define SEG (1024 * 1024) /* the smallest WAL segment size PostgreSQL allows */
#define HOOK "db"

/* What a WAL file "really" holds: bytes PostgreSQL wrote, by segment number. */
static uint8_t *wal_bytes(uint64_t segno) {
        uint8_t *p = malloc(SEG);

        ASSERT_TRUE(p);
        test_fill_random(p, SEG, 1000 + segno);
        return p;
}

static void wal_name(uint64_t segno, char ret[YB_PG_WAL_NAME_LEN + 1]) {
        yb_pg_wal_name(1, segno * SEG, SEG, ret);
}

typedef struct W {
        CopyFixture *f;
        YbSnapshotWriter *w;
} W;

static W begin(CopyFixture *f, YbLevel level, const YbSnapshotHeader *parent,
               const YbSnapshotHeader *root, uint64_t seq) {
        YbWriterOptions opts = { .host = "db01", .seq = seq };
        W w = { .f = f };

        ASSERT_OK(yb_repo_lock(f->repo));
        ASSERT_OK(yb_snapshot_writer_new(f->repo, f->agent, level, parent, root, &opts, &w.w));
        return w;
}

static void put(W *w, const char *path, const void *data, size_t n) {
        YbEntry e = { .type = YB_ENTRY_FILE, .path = (char *) path, .mode = 0600, .size = n };
        YbPaxEntry pe = { .mode = 0600, .size = n };
        _cleanup_free_ char *name = NULL;

        e.content = n ? YB_CONTENT_WHOLE : YB_CONTENT_EMPTY;
        if (n) {
                ASSERT_TRUE(asprintf(&name, "tree/%s", path) > 0);
                pe.name = name;
                ASSERT_OK(yb_snapshot_writer_begin_entry(w->w, &pe, &e.volume, &e.entry));
                ASSERT_OK(yb_snapshot_writer_data(w->w, data, n));
                ASSERT_OK(yb_snapshot_writer_end_entry(w->w));
                e.stored = n;
        }
        yb_hash_buf(data, n, e.hash);
        ASSERT_OK(yb_snapshot_writer_add(w->w, &e));
}

/* A piece of WAL file segno from off (n bytes) in a segment; off < 0: the whole file. */
static void put_wal(W *w, uint64_t segno, int64_t off, size_t n, const uint8_t *bytes) {
        char name[YB_PG_WAL_NAME_LEN + 1];
        _cleanup_free_ char *path = NULL;

        wal_name(segno, name);
        path = yb_pg_path_wal(HOOK, name, off);
        ASSERT_TRUE(path);
        put(w, path, bytes + MAX(off, 0), off < 0 ? SEG : n);
}

static YbSnapshotHeader *commit(W *w, YbPgBackup *pg) {
        static char *srcs[] = { (char *) "/srv/pg" };
        YbSnapshotHeader h = { .sources = srcs, .n_sources = 1, .pg = pg, .n_pg = pg ? 1 : 0 };
        YbSnapshotHeader *ret = NULL;

        ASSERT_OK(yb_snapshot_writer_commit(w->w, &h, &ret));
        w->w = yb_snapshot_writer_free(w->w);
        yb_repo_unlock(w->f->repo);
        /* The writer takes the header's base records over, or copies them. */
        if (pg && ret->pg != pg) {
                yb_pg_backup_done(pg);
                free(pg);
        }
        return ret;
}

/* A base of HOOK: data/PG_VERSION and data/pg_wal from start to stop; the stop file holds
 * other bytes after stop (what the server wrote later, or an old recycled file). */
static YbSnapshotHeader *base(CopyFixture *f, uint64_t start_lsn, uint64_t stop_lsn,
                              int64_t stopped_ns) {
        YbPgBackup *pg = new0(YbPgBackup, 1);
        W w = begin(f, YB_LEVEL_FULL, NULL, NULL, 0);

        ASSERT_TRUE(pg);
        snprintf(pg->name, sizeof(pg->name), HOOK);
        pg->version = 150018;
        pg->system_identifier = 7;
        pg->timeline = 1;
        pg->wal_segment_size = SEG;
        pg->start_lsn = start_lsn;
        pg->stop_lsn = stop_lsn;
        pg->started_ns = stopped_ns - 1000;
        pg->stopped_ns = stopped_ns;
        pg->data_directory = strdup("/var/lib/postgresql/15/main");
        put(&w, "_pg/db/data/PG_VERSION", "15\n", 3);
        for (uint64_t s = start_lsn / SEG; s <= stop_lsn / SEG; s++) {
                _cleanup_free_ uint8_t *b = wal_bytes(s);
                char name[YB_PG_WAL_NAME_LEN + 1], path[128];

                if (s == stop_lsn / SEG)
                        memset(b + stop_lsn % SEG, 0xEE, SEG - stop_lsn % SEG);
                wal_name(s, name);
                snprintf(path, sizeof(path), "_pg/db/data/pg_wal/%s", name);
                put(&w, path, b, SEG);
        }
        return commit(&w, pg);
}

static void write_text(TestTmpdir *d, const char *path, const char *s) {
        test_write_file(d->fd, path, s, strlen(s));
}

static void list(CopyFixture *f, YbSnapshotList *l) {
        yb_snapshot_list_done(l);
        ASSERT_OK(yb_repo_list(f->repo, l));
}

typedef struct Problems {
        char text[4096];
        int n;
} Problems;

static void collect(void *userdata, const char *path, const char *problem) {
        Problems *p = userdata;
        size_t len = strlen(p->text);

        snprintf(p->text + len, sizeof(p->text) - len, "%s: %s\n", path, problem);
        p->n++;
}

static void assert_wal(TestTmpdir *d, const char *dir, uint64_t segno, size_t valid) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        _cleanup_free_ uint8_t *want = wal_bytes(segno);
        char name[YB_PG_WAL_NAME_LEN + 1], path[256];

        wal_name(segno, name);
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        test_read_file(d->fd, path, &b);
        ASSERT_EQ(b.size, SEG);
        memset(want + valid, 0, SEG - valid);
        ASSERT_MEMEQ(b.data, want, SEG);
}

static void assert_no_wal(TestTmpdir *d, const char *dir, uint64_t segno) {
        char name[YB_PG_WAL_NAME_LEN + 1], path[256];

        wal_name(segno, name);
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        ASSERT_EQ(faccessat(d->fd, path, F_OK, 0) < 0 ? errno : 0, ENOENT);
}

static int gather(CopyFixture *f, const YbSnapshotList *l, const YbSnapshotHeader *b,
                  const char *out, Problems *p, YbPgWal *w) {
        _cleanup_free_ char *dir = test_tmpdir_path(f->d, out);

        return yb_pg_wal_gather(f->repo, l, f->key, b, yb_pg_base_of(b, HOOK), false, dir, collect,
                                p, w);
}

/* Base 1 (WAL 2..3, stopping inside 3), its chain: pieces of 3 (overlapping the base's), the
 * rest of 3 and the start of 4, 4 whole (archived too), the start of 5; base 2 (WAL 5, whole
 * up to its stop) and its chain: the rest of 5, the start of 6. All of it, in order, as whole
 * files; the last padded with zeros; the base's bytes after its stop ignored. */
TEST(gathers_pieces_whole_files_and_later_bases) {
        _cleanup_(copy_fixture_freep) CopyFixture *f = copy_fixture_new();
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        _cleanup_free_ uint8_t *w3 = wal_bytes(3), *w4 = wal_bytes(4), *w5 = wal_bytes(5),
                               *w6 = wal_bytes(6);
        YbSnapshotHeader *b1, *b2, *s[6];
        const YbSnapshotHeader *pick = NULL;
        const YbPgBackup *pb = NULL, *oldest = NULL;
        Problems p = { 0 };
        YbPgWal w = { 0 };
        W x;

        b1 = base(f, 2 * SEG + 0x100, 3 * SEG + 0x4000, 1000);
        x = begin(f, YB_LEVEL_SEGMENT, b1, b1, 1);
        put_wal(&x, 3, 0, 0x8000, w3);
        s[0] = commit(&x, NULL);
        x = begin(f, YB_LEVEL_SEGMENT, s[0], b1, 2);
        put_wal(&x, 3, 0x8000, SEG - 0x8000, w3);
        put_wal(&x, 4, 0, 0x1000, w4);
        put(&x, "app/other", "x", 1); /* not WAL */
        s[1] = commit(&x, NULL);
        x = begin(f, YB_LEVEL_SEGMENT, s[1], b1, 3);
        put_wal(&x, 4, -1, 0, w4);
        s[2] = commit(&x, NULL);
        x = begin(f, YB_LEVEL_SEGMENT, s[2], b1, 4);
        put_wal(&x, 5, 0, 0x2000, w5);
        s[3] = commit(&x, NULL);
        b2 = base(f, 5 * SEG + 0x10, 5 * SEG + 0x3000, 2000);
        x = begin(f, YB_LEVEL_SEGMENT, b2, b2, 1);
        put_wal(&x, 5, 0x3000, SEG - 0x3000, w5);
        put_wal(&x, 6, 0, 100, w6);
        s[4] = commit(&x, NULL);
        list(f, &l);

        /* the base for a time: the newest consistent by then */
        ASSERT_ERR(yb_pg_base_pick(&l, HOOK, 999, &pick, &pb, &oldest), ENOENT);
        ASSERT_EQ(oldest->stopped_ns, 1000);
        ASSERT_OK(yb_pg_base_pick(&l, HOOK, 1999, &pick, &pb, &oldest));
        ASSERT_STREQ(pick->id, b1->id);
        ASSERT_OK(yb_pg_base_pick(&l, HOOK, INT64_MAX, &pick, &pb, &oldest));
        ASSERT_STREQ(pick->id, b2->id);

        ASSERT_OK(gather(f, &l, yb_snapshot_list_find(&l, b1->id), "wal", &p, &w));
        ASSERT_STREQ(p.text, "");
        ASSERT_STREQ(w.gap, "");
        ASSERT_EQ(w.files, 5);
        ASSERT_EQ(w.first_segno, 2);
        ASSERT_EQ(w.last_segno, 6);
        ASSERT_EQ(w.end_lsn, 6 * SEG + 100);
        ASSERT_EQ(w.newest_ns, s[4]->finished_ns);
        assert_wal(f->d, "wal", 2, SEG);
        assert_wal(f->d, "wal", 3, SEG);
        assert_wal(f->d, "wal", 4, SEG);
        assert_wal(f->d, "wal", 5, SEG);
        assert_wal(f->d, "wal", 6, 100);
        assert_no_wal(f->d, "wal", 1);

        /* With the base's own WAL only (a --snapshot restore's): up to its stop. */
        {
                _cleanup_free_ char *dir = test_tmpdir_path(f->d, "own");
                YbPgWal own = { 0 };

                ASSERT_OK(yb_pg_wal_gather(f->repo, &l, f->key, yb_snapshot_list_find(&l, b1->id),
                                           yb_pg_base_of(b1, HOOK), true, dir, collect, &p, &own));
                ASSERT_EQ(own.files, 2);
                ASSERT_EQ(own.end_lsn, 3 * SEG + 0x4000);
                assert_wal(f->d, "own", 3, 0x4000);
        }

        /* A piece that says other bytes than the whole file: named, and the gathering stops. */
        x = begin(f, YB_LEVEL_SEGMENT, s[4], b2, 2);
        w6[50] ^= 1;
        put_wal(&x, 6, 0, 60, w6);
        s[5] = commit(&x, NULL);
        list(f, &l);
        ASSERT_ERR(gather(f, &l, yb_snapshot_list_find(&l, b1->id), "wal-bad", &p, &w), EBADMSG);
        ASSERT_EQ(p.n, 1);
        ASSERT_TRUE(strstr(p.text, "_pg/db/wal/000000010000000000000006.00000000: its bytes from "
                                   "0 on differ"));
        ASSERT_TRUE(strstr(p.text, s[4]->id) || strstr(p.text, s[5]->id));

        yb_header_free(b1);
        yb_header_free(b2);
        for (size_t i = 0; i < 6; i++)
                yb_header_free(s[i]);
}

/* WAL file 4 is nowhere: the gap is named, the WAL before it laid out, the files after it not. */
TEST(a_gap_is_named) {
        _cleanup_(copy_fixture_freep) CopyFixture *f = copy_fixture_new();
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        _cleanup_free_ uint8_t *w3 = wal_bytes(3), *w4 = wal_bytes(4), *w5 = wal_bytes(5),
                               *w6 = wal_bytes(6);
        YbSnapshotHeader *b1, *s1, *s2;
        Problems p = { 0 };
        YbPgWal w = { 0 };
        W x;

        b1 = base(f, 2 * SEG, 3 * SEG + 0x100, 1000);
        x = begin(f, YB_LEVEL_SEGMENT, b1, b1, 1);
        put_wal(&x, 3, -1, 0, w3);
        put_wal(&x, 5, -1, 0, w5);
        s1 = commit(&x, NULL);
        list(f, &l);
        ASSERT_OK(gather(f, &l, yb_snapshot_list_find(&l, b1->id), "wal", &p, &w));
        ASSERT_STREQ(w.gap, "WAL file 000000010000000000000004 is missing (the store holds WAL "
                            "after it)");
        ASSERT_EQ(w.files, 2);
        ASSERT_EQ(w.end_lsn, 4 * SEG);
        assert_wal(f->d, "wal", 3, SEG);
        assert_no_wal(f->d, "wal", 5);

        /* A hole inside a file (pieces that do not follow one another) is a gap too. */
        x = begin(f, YB_LEVEL_SEGMENT, s1, b1, 2);
        put_wal(&x, 4, 0, 0x100, w4);
        put_wal(&x, 4, 0x200, 0x100, w6);
        s2 = commit(&x, NULL);
        list(f, &l);
        ASSERT_OK(gather(f, &l, yb_snapshot_list_find(&l, b1->id), "wal2", &p, &w));
        ASSERT_STREQ(w.gap, "WAL file 000000010000000000000004 holds its first 256 bytes only "
                            "(the store holds WAL after it)");
        ASSERT_EQ(w.end_lsn, 4 * SEG + 0x100);
        ASSERT_STREQ(p.text, "");
        yb_header_free(b1);
        yb_header_free(s1);
        yb_header_free(s2);
}

/* A piece whose volume is damaged: named (path and segment), and the gathering fails rather
 * than lay out a shorter WAL. */
TEST(a_damaged_piece_fails_the_gathering) {
        _cleanup_(copy_fixture_freep) CopyFixture *f = copy_fixture_new();
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        _cleanup_free_ uint8_t *w3 = wal_bytes(3);
        _cleanup_free_ char *vol = NULL, *path = NULL;
        YbSnapshotHeader *b1, *s1;
        Problems p = { 0 };
        YbPgWal w = { 0 };
        struct stat st;
        W x;
        int fd;

        b1 = base(f, 2 * SEG, 2 * SEG + 0x100, 1000);
        x = begin(f, YB_LEVEL_SEGMENT, b1, b1, 1);
        put_wal(&x, 3, 0, 0x10000, w3);
        s1 = commit(&x, NULL);
        list(f, &l);
        vol = yb_segment_path(f->repo, s1, "vol-000001");
        ASSERT_TRUE(vol);
        ASSERT_TRUE(asprintf(&path, "src/%s", vol) > 0);
        fd = openat(f->d->fd, path, O_RDWR | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        ASSERT_OK(fstat(fd, &st));
        ASSERT_EQ(pwrite(fd, "X", 1, st.st_size / 2), 1);
        close(fd);
        ASSERT_ERR(gather(f, &l, yb_snapshot_list_find(&l, b1->id), "wal", &p, &w), EBADMSG);
        ASSERT_EQ(p.n, 1);
        ASSERT_TRUE(strstr(p.text, "_pg/db/wal/000000010000000000000003.00000000: "));
        ASSERT_TRUE(strstr(p.text, s1->id));
        yb_header_free(b1);
        yb_header_free(s1);
}

/* recovery.signal and the settings appended (a line before them without its newline kept
 * apart), the target in UTC with microseconds; the tablespace map pointed at the restore. */
TEST(recovery_settings_and_tablespace_map) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_buf_done) YbBuf conf = YB_BUF_INIT, map = YB_BUF_INIT;
        _cleanup_free_ char *data = test_tmpdir_path(d, "data");
        char t[32];

        ASSERT_OK(mkdirat(d->fd, "data", 0700));
        write_text(d, "data/postgresql.auto.conf", "work_mem = '8MB'");
        write_text(d, "data/tablespace_map", "16385 /srv/ts1\n16390 /srv/ts two\n");
        yb_pg_time_format(INT64_C(1796557201123456789), t);
        ASSERT_STREQ(t, "2026-12-06 11:40:01.123456+00");
        ASSERT_OK(yb_pg_recovery_write(data, "/r/_pg/db/wal", INT64_C(1796557201123456789),
                                       INT64_C(1796557300000000000)));
        test_read_file(d->fd, "data/postgresql.auto.conf", &conf);
        ASSERT_OK(yb_buf_append(&conf, "", 1));
        ASSERT_TRUE(strstr((char *) conf.data, "work_mem = '8MB'\n# Written by yunbak restore at "
                                               "2026-12-06T11:41:40"));
        ASSERT_TRUE(strstr((char *) conf.data,
                           "\nrestore_command = 'cp \"/r/_pg/db/wal/%f\" \"%p\"'\n"));
        ASSERT_TRUE(strstr((char *) conf.data,
                           "\nrecovery_target_time = '2026-12-06 11:40:01.123456+00'\n"
                           "recovery_target_action = 'promote'\n"));
        ASSERT_EQ(faccessat(d->fd, "data/recovery.signal", F_OK, 0), 0);
        ASSERT_ERR(yb_pg_recovery_write(data, "/r/it's", -1, 0), EINVAL);

        ASSERT_OK(yb_pg_tablespace_map_rewrite(data, "/r/_pg/db/tablespaces"));
        test_read_file(d->fd, "data/tablespace_map", &map);
        ASSERT_OK(yb_buf_append(&map, "", 1));
        ASSERT_STREQ((char *) map.data, "16385 /r/_pg/db/tablespaces/16385\n"
                                        "16390 /r/_pg/db/tablespaces/16390\n");
        write_text(d, "data/tablespace_map", "not a map\n");
        ASSERT_ERR(yb_pg_tablespace_map_rewrite(data, "/r"), EBADMSG);
}

/* pg_waldump's lines, as PostgreSQL 15's prints them with TZ=UTC: the newest transaction end
 * among commits, aborts and prepared ones, from the newest WAL file back. */
TEST(newest_transaction_end_from_pg_waldump) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *tool = test_tmpdir_path(d, "waldump"), *dir = test_tmpdir_path(d, "");
        int64_t t = 0;

        /* The newest file (5, read with nothing after it) has no transaction end; 4 (read with
         * 5) has two, the later an abort of a prepared one. */
        write_text(d, "waldump",
                   "#!/bin/sh\n"
                   "[ \"$TZ\" = UTC ] || exit 3\n"
                   "case $2 in\n"
                   "*0005) echo 'rmgr: Transaction len (rec/tot): 8/ 8, tx: 0, lsn: "
                   "0/05000028, prev 0/04FFFFD8, desc: ASSIGNMENT xtop 740: subxacts: 741' ;;\n"
                   "*0004) echo 'rmgr: Transaction len (rec/tot): 34/ 34, tx: 738, lsn: "
                   "0/04000060, prev 0/04000028, desc: COMMIT 2026-12-06 11:40:01.123456 UTC'\n"
                   "       echo 'rmgr: Transaction len (rec/tot): 40/ 40, tx: 0, lsn: "
                   "0/04000090, prev 0/04000060, desc: ABORT_PREPARED 737: 2026-12-06 "
                   "11:40:02.000001 UTC'\n"
                   "       echo 'pg_waldump: error: error in WAL record at 0/40000B8: invalid "
                   "record length at 0/40000B8: wanted 24, got 0' >&2; exit 1 ;;\n"
                   "*) exit 2 ;;\n"
                   "esac\n");
        ASSERT_OK(fchmodat(d->fd, "waldump", 0755, 0));
        ASSERT_EQ(yb_pg_newest_xact_end(tool, dir, 1, 16 * SEG, 2, 5, &t), 1);
        ASSERT_EQ(t, INT64_C(1796557202000001000));
        ASSERT_EQ(yb_pg_newest_xact_end(tool, dir, 1, 16 * SEG, 5, 5, &t), 0);
}
