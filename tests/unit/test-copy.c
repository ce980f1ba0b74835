/* The copy engine (core/repo/copy.h) between two real local stores, with real snapshots: what it
 * copies, that it resumes from an interruption at every point (its own check, a store call that
 * fails, a kill at any write) without re-sending what is there and never commits a snapshot that
 * is not whole, that it refuses a damaged source and a foreign destination, and that it keeps to
 * its rate on a virtual clock. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/timeutil.h"
#include "tests/unit/copy-fixture.h"
#include "tests/unit/test.h"

static char err[1024];

/* A source with a full and two incrementals; their headers in h[0..2]. */
static CopyFixture *chain(YbSnapshotHeader *h[3]) {
        CopyFixture *f = copy_fixture_new();

        h[0] = copy_fixture_backup(f, NULL, 1);
        h[1] = copy_fixture_backup(f, h[0], 2);
        h[2] = copy_fixture_backup(f, h[1], 3);
        return f;
}

static void free3(YbSnapshotHeader *h[3]) {
        for (int i = 0; i < 3; i++)
                yb_header_free(h[i]);
}

static uint64_t chain_bytes(CopyFixture *f, YbSnapshotHeader *h[3]) {
        uint64_t n = 0;

        for (int i = 0; i < 3; i++)
                n += copy_fixture_snapshot_bytes(f, "src", h[i]->id);
        return n;
}

/* Empties the destination store. */
static void wipe_dst(CopyFixture *f) {
        _cleanup_free_ char *p = test_tmpdir_path(f->d, "dst/" SYSTEM);
        char cmd[4200];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p);
        ASSERT_EQ(system(cmd), 0);
}

static void truncate_file(CopyFixture *f, const char *rel, off_t size) {
        _cleanup_free_ char *p = test_tmpdir_path(f->d, rel);

        ASSERT_EQ(truncate(p, size), 0);
}

static void keep_last(void *userdata, const YbCopyProgress *p) {
        YbCopyProgress *last = userdata;

        ASSERT_LE(p->bytes_sent, p->bytes_total);
        ASSERT_GE(p->bytes_sent, last->bytes_sent); /* grows */
        *last = *p;
}

TEST(chain_copied_parents_first_verified_and_identical) {
        YbSnapshotHeader *h[3];
        _cleanup_(copy_fixture_freep) CopyFixture *f = chain(h);
        _cleanup_free_ char *cfg_a = copy_fixture_path("src", "config"),
                            *cfg_b = copy_fixture_path("dst", "config"),
                            *tmp = copy_fixture_path("dst", "tmp");
        _cleanup_(yb_buf_done) YbBuf a = YB_BUF_INIT, b = YB_BUF_INIT;
        YbCopyStats st;

        YbCopyProgress last = { 0 };
        YbCopyOptions o = { .progress = keep_last, .userdata = &last };

        ASSERT_OK(yb_repo_copy(f->src, f->dst, SYSTEM, h[2]->id, &o, &st, err, sizeof(err)));
        ASSERT_EQ(st.snapshots_copied, 3);
        ASSERT_EQ(last.bytes_total, chain_bytes(f, h));
        ASSERT_EQ(last.bytes_sent, st.bytes_sent);
        ASSERT_EQ(last.bytes_verified, st.bytes_verified);
        ASSERT_TRUE(last.file == NULL); /* between files: done */
        ASSERT_EQ(st.snapshots_present, 0);
        ASSERT_EQ(st.bytes_sent, chain_bytes(f, h));
        ASSERT_EQ(st.bytes_reused, 0);
        ASSERT_EQ(st.bytes_verified, st.bytes_sent);          /* every byte read back */
        ASSERT_EQ(copy_fixture_check_all(f->dst, NULL), 3);   /* key-less, as yunbakd can */
        ASSERT_EQ(copy_fixture_check_all(f->dst, f->key), 3); /* and restorable with the key */
        for (int i = 0; i < 3; i++)
                copy_fixture_assert_same(f, h[i]->id);
        test_read_file(f->d->fd, cfg_a, &a);
        test_read_file(f->d->fd, cfg_b, &b);
        ASSERT_EQ(a.size, b.size);
        ASSERT_MEMEQ(a.data, b.data, a.size);
        ASSERT_EQ(test_count_leftovers(f->d->fd, tmp), 0);
        free3(h);
}

TEST(copied_snapshot_is_not_sent_again) {
        YbSnapshotHeader *h[3];
        _cleanup_(copy_fixture_freep) CopyFixture *f = chain(h);
        _cleanup_(yb_header_freep) YbSnapshotHeader *h3 = NULL;
        YbCopyStats st;

        ASSERT_OK(yb_repo_copy(f->src, f->dst, SYSTEM, h[1]->id, NULL, &st, err, sizeof(err)));
        ASSERT_EQ(st.snapshots_copied, 2);
        ASSERT_OK(yb_repo_copy(f->src, f->dst, SYSTEM, h[1]->id, NULL, &st, err, sizeof(err)));
        ASSERT_EQ(st.snapshots_copied, 0);
        ASSERT_EQ(st.snapshots_present, 1);
        ASSERT_EQ(st.bytes_sent, 0);

        /* The next ones: only what the destination lacks goes, down to what it has. */
        h3 = copy_fixture_backup(f, h[2], 4);
        ASSERT_OK(yb_repo_copy(f->src, f->dst, SYSTEM, h3->id, NULL, &st, err, sizeof(err)));
        ASSERT_EQ(st.snapshots_copied, 2);
        ASSERT_EQ(st.snapshots_present, 2); /* h[3]'s base and h[2]'s parent */
        ASSERT_EQ(st.bytes_sent, copy_fixture_snapshot_bytes(f, "src", h[2]->id) +
                                         copy_fixture_snapshot_bytes(f, "src", h3->id));
        ASSERT_EQ(copy_fixture_check_all(f->dst, NULL), 4);
        free3(h);
}

/* A check that stops the copy at its fail_at-th call (0: never), or once it has sent quota
 * bytes (0: never), as a closing window or a dropped link would; counts the calls. */
typedef struct Stop {
        unsigned calls, fail_at;
        uint64_t quota, sent;
        int64_t now; /* a virtual clock */
} Stop;

static int stop_check(void *userdata) {
        Stop *s = userdata;

        s->calls++;
        if ((s->fail_at && s->calls == s->fail_at) || (s->quota && s->sent >= s->quota))
                return -ECANCELED;
        return 0;
}

static void stop_progress(void *userdata, const YbCopyProgress *p) {
        ((Stop *) userdata)->sent = p->bytes_sent;
}

/* What a cut may send twice: on an object store, which has no append, the file in flight is
 * sent again whole; elsewhere only what was in flight. */
static uint64_t resent_at_most(YbSnapshotHeader *h[3], uint64_t elsewhere) {
        uint64_t most = 0;

        if (!test_store_objects())
                return elsewhere;
        for (size_t i = 0; i < 3; i++)
                for (size_t j = 0; j < h[i]->n_files; j++)
                        most = MAX(most, h[i]->files[j].size);
        return most + elsewhere;
}

TEST(resumes_after_a_stop_at_every_point) {
        YbSnapshotHeader *h[3];
        _cleanup_(copy_fixture_freep) CopyFixture *f = chain(h);
        uint64_t total = chain_bytes(f, h);
        Stop count = { 0 };
        YbCopyOptions o = { .check = stop_check, .userdata = &count };
        YbCopyStats st;

        ASSERT_OK(yb_repo_copy(f->src, f->dst, SYSTEM, h[2]->id, &o, &st, err, sizeof(err)));
        ASSERT_GT(count.calls, 10); /* several blocks per snapshot: many points to stop at */
        for (unsigned k = 1; k <= count.calls; k++) {
                Stop s = { .fail_at = k };
                YbCopyStats st2;
                int r;

                wipe_dst(f);
                o.userdata = &s;
                r = yb_repo_copy(f->src, f->dst, SYSTEM, h[2]->id, &o, &st, err, sizeof(err));
                ASSERT_EQ(r, -ECANCELED);
                ASSERT_TRUE(strstr(err, "resumes"));
                /* Stopped: whatever is committed is whole. */
                ASSERT_LE(copy_fixture_check_all(f->dst, NULL), 3);
                ASSERT_OK(yb_repo_copy(f->src, f->dst, SYSTEM, h[2]->id, NULL, &st2, err,
                                       sizeof(err)));
                ASSERT_EQ(copy_fixture_check_all(f->dst, f->key), 3);
                /* Nothing was sent twice but a header that was written when the stop came. */
                ASSERT_LE(st.bytes_sent + st2.bytes_sent, total + resent_at_most(h, 2048));
                ASSERT_GE(st.bytes_sent + st2.bytes_sent + st2.bytes_reused, total);
                ASSERT_EQ(st.snapshots_copied + st2.snapshots_copied, 3);
        }
        free3(h);
}

static int64_t stop_now(void *userdata) {
        return ((Stop *) userdata)->now;
}

static void stop_sleep(void *userdata, int64_t ns) {
        ((Stop *) userdata)->now += ns;
}

TEST(ten_interruptions_send_at_most_a_tenth_more) {
        /* On an object store a cut file is sent again whole (no append): a cut every fifteenth
         * of a chain whose volume is larger never ends. resent_at_most bounds it there. */
        if (test_store_objects())
                skip();
        YbSnapshotHeader *h[3];
        _cleanup_(copy_fixture_freep) CopyFixture *f = chain(h);
        uint64_t total = chain_bytes(f, h), sent = 0;
        unsigned interruptions = 0;
        int r;

        do {
                /* Cut after about a fifteenth each time, in steps of 256 KiB (a rate limit on
                 * the virtual clock of rate_limit_on_a_virtual_clock). */
                Stop s = { .quota = total / 15 };
                YbCopyOptions o = { .check = stop_check,
                                    .progress = stop_progress,
                                    .userdata = &s,
                                    .rate_bps = 256 * 1024,
                                    .now_ns = stop_now,
                                    .sleep_ns = stop_sleep };
                YbCopyStats st;

                r = yb_repo_copy(f->src, f->dst, SYSTEM, h[2]->id, &o, &st, err, sizeof(err));
                sent += st.bytes_sent;
                if (r == -ECANCELED)
                        interruptions++;
                else
                        ASSERT_OK(r);
                ASSERT_LT(interruptions, 1000);
        } while (r < 0);
        ASSERT_GE(interruptions, 10);
        ASSERT_LE(sent, total + total / 10);
        ASSERT_EQ(copy_fixture_check_all(f->dst, f->key), 3);
        free3(h);
}

TEST(resumes_after_a_failed_store_call_at_every_point) {
        YbSnapshotHeader *h[3];
        _cleanup_(copy_fixture_freep) CopyFixture *f = chain(h);
        Flaky k = FLAKY_INIT(f->dst);
        uint64_t total = chain_bytes(f, h);
        bool done = false;
        unsigned failed = 0;

        for (k.fail_at = 1; !done; k.fail_at++) {
                YbCopyStats st, st2;
                int r;

                wipe_dst(f);
                k.calls = 0;
                r = yb_repo_copy(f->src, &k.base, SYSTEM, h[2]->id, NULL, &st, err, sizeof(err));
                done = k.calls < k.fail_at; /* the failure never came */
                if (done) {
                        ASSERT_OK(r);
                        break;
                }
                /* A failed call whose failure does not matter (removing a leftover that is
                 * not there) may end in success: then all of it is there. */
                if (r >= 0) {
                        ASSERT_EQ(copy_fixture_check_all(f->dst, NULL), 3);
                        continue;
                }
                ASSERT_TRUE(strstr(err, "flaky"));
                failed++;
                ASSERT_LE(copy_fixture_check_all(f->dst, NULL), 3);
                ASSERT_OK(yb_repo_copy(f->src, f->dst, SYSTEM, h[2]->id, NULL, &st2, err,
                                       sizeof(err)));
                ASSERT_EQ(copy_fixture_check_all(f->dst, NULL), 3);
                ASSERT_LE(st.bytes_sent + st2.bytes_sent,
                          total + resent_at_most(h, 1024 * 1024 + 4096));
        }
        ASSERT_GT(failed, 30);
        free3(h);
}

/* Killed (SIGKILL) at the n-th write or fsync of the destination store: a killed yunbakd. */
typedef struct Kill {
        CopyFixture *f;
        const char *id;
        char spec[32];
} Kill;

static int child_copy(void *userdata) {
        Kill *k = userdata;
        char e[512];

        CHILD_CHECK(setenv("YB_FAULT", k->spec, 1) == 0);
        CHILD_CHECK(yb_repo_copy(k->f->src, k->f->dst, SYSTEM, k->id, NULL, NULL, e, sizeof(e)) ==
                    0);
        return 0;
}

TEST(resumes_after_a_kill_at_any_write) {
#ifndef YB_FAULT_INJECTION
        skip();
#endif
        YbSnapshotHeader *h[3];
        _cleanup_(copy_fixture_freep) CopyFixture *f = chain(h);
        bool survived = false;
        int n;

        for (n = 1; n < 1000 && !survived; n++) {
                Kill k = { .f = f, .id = h[2]->id };
                int status;

                wipe_dst(f);
                snprintf(k.spec, sizeof(k.spec), "kill:%d", n);
                status = test_run_forked(child_copy, &k);
                if (status != 0 && status != 128 + SIGKILL)
                        fail_msg("%s: the child ended with status %d", k.spec, status);
                survived = status == 0;
                ASSERT_LE(copy_fixture_check_all(f->dst, NULL), 3);
                /* The dead child's lock is stale: the next copy breaks it and resumes. */
                ASSERT_OK(yb_repo_copy(f->src, f->dst, SYSTEM, h[2]->id, NULL, NULL, err,
                                       sizeof(err)));
                ASSERT_EQ(copy_fixture_check_all(f->dst, NULL), 3);
        }
        ASSERT_TRUE(survived);
        ASSERT_GT(n, 10);
        free3(h);
}

TEST(damaged_source_refused_and_nothing_committed) {
        _cleanup_(copy_fixture_freep) CopyFixture *f = copy_fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = copy_fixture_backup(f, NULL, 1);
        _cleanup_free_ char *vol = copy_fixture_snapshot_file("src", h->id, "vol-000001"),
                            *snaps = copy_fixture_path("dst", "snapshots"), *part = NULL;
        YbCopyStats st;

        test_flip_byte(f->d->fd, vol, 2000000, 0x10);
        ASSERT_ERR(yb_repo_copy(f->src, f->dst, SYSTEM, h->id, NULL, &st, err, sizeof(err)),
                   EBADMSG);
        ASSERT_TRUE(strstr(err, h->id));
        ASSERT_TRUE(strstr(err, "vol-000001"));
        ASSERT_TRUE(strstr(err, yb_store_location(f->src)));
        ASSERT_EQ(st.snapshots_copied, 0);
        if (test_store_objects()) {
                /* In place: what was copied before the damage stays, without a header (an
                 * incomplete snapshot, which the next copy resumes), and nothing of the file. */
                _cleanup_free_ char *hdr = copy_fixture_snapshot_file("dst", h->id, "header"),
                                    *v = copy_fixture_snapshot_file("dst", h->id, "vol-000001");

                ASSERT_NE(faccessat(f->d->fd, hdr, F_OK, 0), 0);
                ASSERT_NE(faccessat(f->d->fd, v, F_OK, 0), 0);
        } else
                ASSERT_LE(test_count_entries(f->d->fd, snaps), 0);
        /* and what came of the damaged file is not kept as a prefix to resume from */
        ASSERT_TRUE(asprintf(&part, "dst/" SYSTEM "/tmp/copy-%s/vol-000001", h->id) > 0);
        ASSERT_NE(faccessat(f->d->fd, part, F_OK, 0), 0);

        /* Truncated at the source: refused too. */
        truncate_file(f, vol, 1000);
        ASSERT_ERR(yb_repo_copy(f->src, f->dst, SYSTEM, h->id, NULL, &st, err, sizeof(err)),
                   EBADMSG);
        ASSERT_TRUE(strstr(err, "shorter"));
}

/* Stops the copy in the middle of the volume, damages what the destination has of it, resumes. */
static void resume_damaged_partial(void (*damage)(CopyFixture *f, const char *part)) {
        _cleanup_(copy_fixture_freep) CopyFixture *f = copy_fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = copy_fixture_backup(f, NULL, 1);
        _cleanup_free_ char *part = NULL;
        const YbFileRef *vol = yb_header_find_file(h, "vol-000001");
        Stop s = { .fail_at = 4 }; /* the file, then two blocks of it */
        YbCopyOptions o = { .check = stop_check, .userdata = &s };
        YbCopyStats st, st2;
        struct stat sb;

        ASSERT_TRUE(asprintf(&part, "dst/" SYSTEM "/tmp/copy-%s/vol-000001", h->id) > 0);
        ASSERT_ERR(yb_repo_copy(f->src, f->dst, SYSTEM, h->id, &o, &st, err, sizeof(err)),
                   ECANCELED);
        if (test_store_objects()) {
                /* In place, and a file cut before its end never appears (no append there); a
                 * whole but wrong one is what can be found: the source's, damaged. */
                _cleanup_free_ char *src = NULL;
                YbBuf b = YB_BUF_INIT;

                free(part);
                part = copy_fixture_snapshot_file("dst", h->id, "vol-000001");
                src = copy_fixture_snapshot_file("src", h->id, "vol-000001");
                ASSERT_NE(faccessat(f->d->fd, part, F_OK, 0), 0);
                test_read_file(f->d->fd, src, &b);
                test_write_file(f->d->fd, part, b.data, b.size);
                yb_buf_done(&b);
        } else {
                ASSERT_OK(fstatat(f->d->fd, part, &sb, 0));
                ASSERT_GT(sb.st_size, 0);
                ASSERT_LT((uint64_t) sb.st_size, vol->size);
        }
        damage(f, part);
        ASSERT_OK(yb_repo_copy(f->src, f->dst, SYSTEM, h->id, NULL, &st2, err, sizeof(err)));
        ASSERT_EQ(st2.bytes_reused, 0); /* not a prefix: removed, and all of it sent again */
        ASSERT_GE(st2.bytes_sent, vol->size);
        ASSERT_EQ(copy_fixture_check_all(f->dst, f->key), 1);
        copy_fixture_assert_same(f, h->id);
}

static void flip_partial(CopyFixture *f, const char *part) {
        test_flip_byte(f->d->fd, part, 100, 0x01);
}

static void extend_partial(CopyFixture *f, const char *part) {
        truncate_file(f, part, 10 * 1024 * 1024); /* longer than the source's file */
}

TEST(damaged_partial_file_sent_again) {
        resume_damaged_partial(flip_partial);
}

TEST(partial_file_longer_than_the_source_sent_again) {
        resume_damaged_partial(extend_partial);
}

TEST(partial_file_resumed_from_its_end) {
        _cleanup_(copy_fixture_freep) CopyFixture *f = copy_fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = copy_fixture_backup(f, NULL, 1);
        uint64_t total = copy_fixture_snapshot_bytes(f, "src", h->id);
        Stop s = { .fail_at = 4 };
        YbCopyOptions o = { .check = stop_check, .userdata = &s };
        YbCopyStats st, st2;

        ASSERT_ERR(yb_repo_copy(f->src, f->dst, SYSTEM, h->id, &o, &st, err, sizeof(err)),
                   ECANCELED);
        ASSERT_GT(st.bytes_sent, 0);
        ASSERT_OK(yb_repo_copy(f->src, f->dst, SYSTEM, h->id, NULL, &st2, err, sizeof(err)));
        if (test_store_objects()) {
                /* No append on objects: the cut file never appeared, and is sent whole. */
                ASSERT_EQ(st2.bytes_reused, 0);
                ASSERT_EQ(st2.bytes_sent, total);
                ASSERT_EQ(st2.bytes_verified, total);
                copy_fixture_assert_same(f, h->id);
                return;
        }
        ASSERT_EQ(st2.bytes_reused, st.bytes_sent);
        ASSERT_EQ(st.bytes_sent + st2.bytes_sent, total);
        ASSERT_EQ(st2.bytes_verified, total); /* the kept prefix was read back too */
        copy_fixture_assert_same(f, h->id);
}

TEST(destination_with_another_key_refused) {
        _cleanup_(copy_fixture_freep) CopyFixture *f = copy_fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = copy_fixture_backup(f, NULL, 1);
        _cleanup_(yb_secret_key_freep) YbSecretKey *other = NULL;
        _cleanup_(yb_repo_freep) YbRepo *theirs = NULL;
        _cleanup_free_ char *snaps = copy_fixture_path("dst", "snapshots");

        ASSERT_OK(yb_key_generate(SYSTEM, &other));
        ASSERT_OK(yb_repo_open_or_create(f->dst, &other->pub, &theirs));
        ASSERT_ERR(yb_repo_copy(f->src, f->dst, SYSTEM, h->id, NULL, NULL, err, sizeof(err)),
                   EKEYREJECTED);
        ASSERT_TRUE(strstr(err, "another key"));
        ASSERT_TRUE(strstr(err, yb_store_location(f->dst)));
        ASSERT_LT(test_count_entries(f->d->fd, snaps), 0); /* nothing written */

        /* The same key but a config made apart: refused as well. */
        theirs = yb_repo_free(theirs);
        wipe_dst(f);
        ASSERT_OK(yb_repo_open_or_create(f->dst, &f->key->pub, &theirs));
        ASSERT_ERR(yb_repo_copy(f->src, f->dst, SYSTEM, h->id, NULL, NULL, err, sizeof(err)),
                   EKEYREJECTED);
        ASSERT_TRUE(strstr(err, "another config"));
}

TEST(destination_with_another_snapshot_of_that_id_refused) {
        _cleanup_(copy_fixture_freep) CopyFixture *f = copy_fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = copy_fixture_backup(f, NULL, 1);
        _cleanup_free_ char *hdr = copy_fixture_snapshot_file("dst", h->id, "header");

        ASSERT_OK(yb_repo_copy(f->src, f->dst, SYSTEM, h->id, NULL, NULL, err, sizeof(err)));
        test_flip_byte(f->d->fd, hdr, 20, 0x01);
        ASSERT_ERR(yb_repo_copy(f->src, f->dst, SYSTEM, h->id, NULL, NULL, err, sizeof(err)),
                   EEXIST);
        ASSERT_TRUE(strstr(err, "repair"));
}

TEST(missing_snapshot_and_bad_ids_refused) {
        _cleanup_(copy_fixture_freep) CopyFixture *f = copy_fixture_new();

        ASSERT_ERR(yb_repo_copy(f->src, f->dst, SYSTEM, "20261121T182212Z-3fa9c2", NULL, NULL, err,
                                sizeof(err)),
                   ENOENT);
        ASSERT_TRUE(strstr(err, "20261121T182212Z-3fa9c2"));
        ASSERT_ERR(yb_repo_copy(f->src, f->dst, SYSTEM, "../x", NULL, NULL, err, sizeof(err)),
                   EINVAL);
        ASSERT_ERR(yb_repo_copy(f->src, f->dst, "crm", "20261121T182212Z-3fa9c2", NULL, NULL, err,
                                sizeof(err)),
                   ENOENT);
        ASSERT_TRUE(strstr(err, "no repository of system crm"));
}

TEST(rate_limit_on_a_virtual_clock) {
        YbSnapshotHeader *h[3];
        _cleanup_(copy_fixture_freep) CopyFixture *f = chain(h);
        static const uint64_t rates[] = { 256 * 1024, 1024 * 1024, 3000000 };

        for (size_t i = 0; i < ELEMENTSOF(rates); i++) {
                Stop c = { .now = 5 * YB_NSEC_PER_SEC }; /* never stops: a clock only */
                YbCopyOptions o = { .rate_bps = rates[i],
                                    .now_ns = stop_now,
                                    .sleep_ns = stop_sleep,
                                    .userdata = &c };
                YbCopyStats st;
                double secs, ideal;

                wipe_dst(f);
                ASSERT_OK(
                        yb_repo_copy(f->src, f->dst, SYSTEM, h[2]->id, &o, &st, err, sizeof(err)));
                secs = (double) (c.now - 5 * YB_NSEC_PER_SEC) / (double) YB_NSEC_PER_SEC;
                ideal = (double) st.bytes_sent / (double) rates[i];
                /* no faster than the rate allows (the bucket starts with a second of burst) */
                ASSERT_TRUE(secs >= ideal - 1.0);
                /* and within 10% of it, the burst aside */
                ASSERT_TRUE(secs <= ideal * 1.1);
                ASSERT_TRUE(secs >= (ideal - 1.0) * 0.9);
        }
        free3(h);
}

static bool keep_none(void *userdata, const char *id) {
        return userdata && streq(userdata, id);
}

TEST(cleanup_keeps_copies_in_progress) {
        _cleanup_(copy_fixture_freep) CopyFixture *f = copy_fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = copy_fixture_backup(f, NULL, 1);
        _cleanup_(yb_repo_freep) YbRepo *r = NULL;
        _cleanup_free_ char *tmp = copy_fixture_path("dst", "tmp");
        Stop s = { .fail_at = 3 };
        YbCopyOptions o = { .check = stop_check, .userdata = &s };

        ASSERT_ERR(yb_repo_copy(f->src, f->dst, SYSTEM, h->id, &o, NULL, err, sizeof(err)),
                   ECANCELED);
        ASSERT_EQ(test_count_entries(f->d->fd, tmp), 1);
        ASSERT_OK(yb_repo_open(f->dst, SYSTEM, &r));
        ASSERT_OK(yb_repo_lock(r));
        ASSERT_OK(yb_repo_cleanup_tmp(r)); /* a backup's cleanup: the copy stays */
        ASSERT_EQ(test_count_entries(f->d->fd, tmp), 1);
        ASSERT_OK(yb_repo_copy_cleanup(r, keep_none, h->id)); /* still wanted */
        ASSERT_EQ(test_count_entries(f->d->fd, tmp), 1);
        ASSERT_OK(yb_repo_copy_cleanup(r, keep_none, NULL));
        ASSERT_EQ(test_count_leftovers(f->d->fd, tmp), 0);
        if (test_store_objects()) {
                /* and the incomplete snapshot it was writing in place */
                _cleanup_free_ char *in_place = copy_fixture_snapshot_file("dst", h->id, "");

                ASSERT_EQ(test_count_entries(f->d->fd, in_place), -ENOENT);
        }
}

TEST(locked_destination_refused) {
        _cleanup_(copy_fixture_freep) CopyFixture *f = copy_fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = copy_fixture_backup(f, NULL, 1);
        _cleanup_(yb_repo_freep) YbRepo *r = NULL;

        ASSERT_OK(yb_repo_copy(f->src, f->dst, SYSTEM, h->id, NULL, NULL, err, sizeof(err)));
        ASSERT_OK(yb_repo_open(f->dst, SYSTEM, &r));
        ASSERT_OK(yb_repo_lock(r));
        ASSERT_ERR(yb_repo_copy(f->src, f->dst, SYSTEM, h->id, NULL, NULL, err, sizeof(err)),
                   EBUSY);
        ASSERT_TRUE(strstr(err, "locked"));
}
