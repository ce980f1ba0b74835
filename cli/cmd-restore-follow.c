/* yunbak restore --follow --store S --system X --key K --target DIR [--interval D] [--json]
 *
 * A warm standby. The newest point of the tier-2 store is restored into DIR, then each segment
 * is applied as it lands (restore/apply.c: the tree equals the committed point after each one),
 * and a new chain root is followed when the replicator starts one. Progress lives in
 * DIR/.yunbak-follow/state, written before a step touches the target ("applying": the segment in
 * hand) and after it, so that a run cut in the middle of a step finishes that step when it
 * starts again instead of applying it to a tree it already changed. */
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/follow.h"
#include "core/base/exitcode.h"
#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "core/repo/segment.h"
#include "restore/restore.h"

#define FOLLOW_DIR ".yunbak-follow"
#define CHECK_EVERY_USEC (10 * YB_USEC_PER_SEC) /* a look at the whole target when idle */

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) {
        stop_signal = sig;
}

/* What DIR/.yunbak-follow/state says. */
typedef struct State {
        char root[YB_SNAPSHOT_ID_MAX + 1]; /* "" before the first restore */
        uint64_t seq;                      /* the point: segment seq of root's chain, 0 = root */
        uint64_t applying;                 /* a segment being applied (seq), or 0 */
        bool initial;                      /* the first restore (of root up to seq) is under way */
} State;

typedef struct Follow {
        const CliFollow *f;
        int dir_fd; /* DIR/.yunbak-follow */
        State st;
        YbSnapshotList roots;
        YbRestoreChain *chain;
        char *bad;           /* the damage reported last, so that it is said once */
        bool pending;        /* the chain's last segment, half applied by a run that was cut,
                              * could not be finished yet */
        uint64_t failed_seq; /* the segment whose failure was said last */
        bool store_away;     /* reading the store failed (said once until it answers) */
} Follow;

static int state_read(Follow *fo) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        json_t *o, *v;
        int k = yb_read_file_at(fo->dir_fd, "state", 64 * 1024, &b);

        if (k == -ENOENT)
                return 0;
        if (k < 0)
                return log_error_errno(k, "Cannot read '%s/" FOLLOW_DIR "/state': %m",
                                       fo->f->target);
        o = json_loadb((const char *) b.data, b.size, 0, NULL);
        v = o ? json_object_get(o, "root") : NULL;
        if (!json_is_string(v) || strlen(json_string_value(v)) > YB_SNAPSHOT_ID_MAX) {
                json_decref(o);
                log_error("'%s/" FOLLOW_DIR "/state' is damaged; remove the target and start a "
                          "new standby.",
                          fo->f->target);
                return -EBADMSG;
        }
        snprintf(fo->st.root, sizeof(fo->st.root), "%s", json_string_value(v));
        fo->st.seq = (uint64_t) json_integer_value(json_object_get(o, "seq"));
        fo->st.applying = (uint64_t) json_integer_value(json_object_get(o, "applying"));
        fo->st.initial = json_is_true(json_object_get(o, "initial"));
        json_decref(o);
        return 1;
}

static int state_write(Follow *fo) {
        json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:b}", "system", fo->f->system, "root",
                              fo->st.root, "seq", (json_int_t) fo->st.seq, "applying",
                              (json_int_t) fo->st.applying, "initial", fo->st.initial);
        char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        int k;

        json_decref(o);
        if (!text)
                return -ENOMEM;
        k = yb_write_file_atomic_at(fo->dir_fd, "state", text, strlen(text), 0600);
        free(text);
        if (k < 0)
                log_error("Cannot write '%s/" FOLLOW_DIR "/state': %s", fo->f->target,
                          strerror(-k));
        return k;
}

static void report(void *userdata, const char *path, const char *problem) {
        const Follow *fo = userdata;

        log_warning("'%s' in '%s': %s", path, fo->f->target, problem);
        if (fo->f->json) {
                json_t *o = json_pack("{s:s, s:I, s:s, s:s}", "event", "problem", "time_ns",
                                      (json_int_t) yb_usec_to_ns(yb_now_usec()), "path", path,
                                      "problem", problem);

                json_dumpf(o, stdout, JSON_COMPACT);
                fputc('\n', stdout);
                fflush(stdout);
                json_decref(o);
        }
}

static void say_changing(void *userdata, const char *path, const YbSnapshotHeader *segment,
                         int64_t read_started_ns) {
        const Follow *fo = userdata;

        cli_say_changing(path, segment, read_started_ns, NULL);
        if (fo->f->json) {
                json_t *o = json_pack("{s:s, s:I, s:s, s:s, s:I, s:I}", "event", "changing",
                                      "time_ns", (json_int_t) yb_usec_to_ns(yb_now_usec()), "path",
                                      path, "segment", segment->id, "read_started_ns",
                                      (json_int_t) read_started_ns, "finished_ns",
                                      (json_int_t) segment->finished_ns);

                json_dumpf(o, stdout, JSON_COMPACT);
                fputc('\n', stdout);
                fflush(stdout);
                json_decref(o);
        }
}

/* Names the files of the point (point_only: that its own segment brought) that hold content read
 * while they were being written. 0 or an exit code. */
static int name_changing(Follow *fo, bool point_only) {
        int k = yb_restore_changing(fo->chain, point_only, NULL, 0, say_changing, fo);

        if (k < 0) {
                log_error("Cannot tell which files of the standby '%s' were read while being "
                          "written: %s",
                          fo->f->target, strerror(-k));
                return yb_exit_code_from_errno(k);
        }
        return 0;
}

/* Says once that the chain is damaged at bad (taken). */
static void say_damage(Follow *fo, char *bad) {
        if (fo->bad && streq(fo->bad, bad)) {
                free(bad);
                return;
        }
        free(fo->bad);
        fo->bad = bad;
        log_error("The segment chain of %s (system '%s') is damaged: %s. The standby stays at "
                  "the point before it until a new chain root comes; run 'yunbak verify'.",
                  fo->st.root, fo->f->system, bad);
        if (fo->f->json) {
                json_t *o = json_pack("{s:s, s:I, s:s, s:s}", "event", "error", "time_ns",
                                      (json_int_t) yb_usec_to_ns(yb_now_usec()), "root",
                                      fo->st.root, "message", bad);

                json_dumpf(o, stdout, JSON_COMPACT);
                fputc('\n', stdout);
                fflush(stdout);
                json_decref(o);
        }
}

/* One line per step: what point the target now holds, how far behind it is. */
static void say_point(Follow *fo, const char *event, const YbApplyStats *st) {
        const YbSnapshotHeader *h = yb_restore_chain_point(fo->chain);
        int64_t now = yb_usec_to_ns(yb_now_usec());
        int64_t behind_ms = (now - h->finished_ns) / 1000000;
        char when[32];

        yb_time_format_iso(h->finished_ns, when);
        if (fo->f->json) {
                json_t *o = json_pack(
                        "{s:s, s:I, s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:I}", "event", event,
                        "time_ns", (json_int_t) now, "point", h->id, "level",
                        yb_level_to_string(h->level), "seq", (json_int_t) h->seq, "root",
                        fo->st.root, "finished_ns", (json_int_t) h->finished_ns, "behind_ms",
                        (json_int_t) behind_ms, "changed", (json_int_t) st->changed, "deleted",
                        (json_int_t) st->deleted, "refetched", (json_int_t) st->refetched);

                json_dumpf(o, stdout, JSON_COMPACT);
                fputc('\n', stdout);
                json_decref(o);
        } else {
                const char *verb = streq(event, "applied")    ? "Applied"
                                   : streq(event, "restored") ? "Restored"
                                   : streq(event, "switched") ? "Switched to"
                                   : streq(event, "resumed")  ? "Resumed at"
                                                              : "Repaired at";

                if (h->level == YB_LEVEL_SEGMENT)
                        printf("%s segment %s (seq %llu of chain %s), finished %s: %llu changed, "
                               "%llu removed, %llu fetched again; %.1f s behind.\n",
                               verb, h->id, (unsigned long long) h->seq, fo->st.root, when,
                               (unsigned long long) st->changed, (unsigned long long) st->deleted,
                               (unsigned long long) st->refetched, (double) behind_ms / 1000);
                else
                        printf("%s chain root %s (%s), finished %s: %llu changed, %llu removed, "
                               "%llu fetched again; %.1f s behind.\n",
                               verb, h->id, yb_level_to_string(h->level), when,
                               (unsigned long long) st->changed, (unsigned long long) st->deleted,
                               (unsigned long long) st->refetched, (double) behind_ms / 1000);
        }
        fflush(stdout);
}

static bool trusted(Follow *fo, const YbSnapshotHeader *h) {
        if (cli_trust_allows(fo->f->trust, h->agent_pk))
                return true;
        log_error("%s %s (host %s) is signed by an agent that is not trusted; the standby does "
                  "not take it.",
                  h->level == YB_LEVEL_SEGMENT ? "Segment" : "Snapshot", h->id, h->host);
        return false;
}

/* A chain at root (from roots) with its segments up to seq upto. -ENOENT if the root is gone,
 * -ENOLINK if a segment up to upto is missing or damaged (said). */
static int chain_upto(Follow *fo, const YbSnapshotList *roots, const char *root, uint64_t upto,
                      YbRestoreChain **ret) {
        _cleanup_(yb_restore_chain_freep) YbRestoreChain *c = NULL;
        _cleanup_(yb_snapshot_list_done) YbSnapshotList segs = { 0 };
        const YbSnapshotHeader *h = yb_snapshot_list_find(roots, root);
        char *bad = NULL;
        int k;

        if (!h)
                return -ENOENT;
        if (!trusted(fo, h))
                return -EPERM;
        k = yb_restore_chain_new(fo->f->repo, roots, h, fo->f->key, &c);
        if (k < 0)
                return k;
        if (upto > 0) {
                k = yb_segments_load(fo->f->repo, root, 1, INT64_MAX, &segs, &bad);
                if (k < 0 && k != -ENOENT)
                        return k;
        }
        for (size_t i = 0; i < segs.n && segs.items[i]->seq <= upto; i++) {
                if (!trusted(fo, segs.items[i])) {
                        free(bad);
                        return -EPERM;
                }
                k = yb_restore_chain_add(c, TAKE_PTR(segs.items[i]));
                if (k < 0) {
                        free(bad);
                        return k;
                }
        }
        if (yb_restore_chain_segments(c) < upto) {
                if (bad)
                        say_damage(fo, bad);
                else
                        free(bad);
                return -ENOLINK;
        }
        free(bad);
        *ret = TAKE_PTR(c);
        return 0;
}

/* The first restore: the newest point of the store into an empty target. */
static int first_restore(Follow *fo) {
        _cleanup_(yb_snapshot_list_done) YbSnapshotList segs = { 0 };
        const YbSnapshotHeader *root = NULL;
        YbRestoreOptions ro = { .target = fo->f->target };
        YbApplyStats st = { 0 };
        char *bad = NULL;
        int k;

        if (!fo->st.initial) {
                k = yb_segments_find(fo->f->repo, &fo->roots, INT64_MAX, &root, &segs, &bad);
                if (k == -ENOENT) {
                        log_error("System '%s' has nothing to restore yet in store '%s'.",
                                  fo->f->system, fo->f->repo->store->location);
                        return YB_EXIT_FAILED;
                }
                if (k < 0)
                        return log_error_errno(k,
                                               "Cannot find the newest point of system '%s' "
                                               "in store '%s': %m",
                                               fo->f->system, fo->f->repo->store->location);
                if (bad)
                        say_damage(fo, bad);
                snprintf(fo->st.root, sizeof(fo->st.root), "%s", root->id);
                fo->st.seq = segs.n ? segs.items[segs.n - 1]->seq : 0;
                fo->st.initial = true;
                k = state_write(fo);
                if (k < 0)
                        return yb_exit_code_from_errno(k);
        }
        k = chain_upto(fo, &fo->roots, fo->st.root, fo->st.seq, &fo->chain);
        if (k < 0) {
                log_error("Cannot read the chain of %s up to seq %llu (system '%s'): %s",
                          fo->st.root, (unsigned long long) fo->st.seq, fo->f->system,
                          strerror(-k));
                return k == -ENOMEM ? YB_EXIT_FAILED : YB_EXIT_DAMAGED;
        }
        k = yb_restore(fo->chain, &ro, report, fo, &st.restore);
        if (k < 0) {
                log_error("Cannot restore the standby's first point into '%s': %s", fo->f->target,
                          strerror(-k));
                return yb_exit_code_from_errno(k);
        }
        if (k > 0) {
                log_error("The standby's first point was not restored whole into '%s' (%d "
                          "entries named above).",
                          fo->f->target, k);
                return st.restore.damaged ? YB_EXIT_DAMAGED : YB_EXIT_PARTIAL;
        }
        fo->st.initial = false;
        k = state_write(fo);
        if (k < 0)
                return yb_exit_code_from_errno(k);
        st.changed = st.restore.files + st.restore.dirs + st.restore.symlinks +
                     st.restore.hardlinks + st.restore.special;
        say_point(fo, "restored", &st);
        return name_changing(fo, false);
}

/* Applies the chain's last segment, whose seq fo->st.applying names: 0 when it is the point
 * now, 1 when it could not be built this time (the target still holds the point before it:
 * tried again at the next interval), or an exit code. */
static int apply_pending(Follow *fo, bool resume) {
        const YbSnapshotHeader *h = yb_restore_chain_point(fo->chain);
        YbApplyStats st = { 0 };
        int k;

        k = yb_restore_apply_segment(fo->chain, fo->f->target, resume, report, fo, &st);
        if (k < 0) {
                log_error("Cannot apply segment %s to '%s': %s", h->id, fo->f->target,
                          strerror(-k));
                return yb_exit_code_from_errno(k);
        }
        if (!st.applied) {
                if (fo->failed_seq != h->seq)
                        log_error("Segment %s (seq %llu of chain %s) cannot be applied to '%s' "
                                  "(%d entries named above); the standby stays at the point "
                                  "before it and tries again.",
                                  h->id, (unsigned long long) h->seq, fo->st.root, fo->f->target,
                                  k);
                fo->failed_seq = h->seq;
                if (resume) {
                        /* what a cut run left half done is finished, with nothing else first */
                        fo->pending = true;
                        return 1;
                }
                /* untouched: out of the chain again, to be read anew (or a new root taken) */
                k = yb_restore_chain_pop(fo->chain);
                fo->st.applying = 0;
                if (k >= 0)
                        k = state_write(fo);
                return k < 0 ? yb_exit_code_from_errno(k) : 1;
        }
        fo->pending = false;
        if (k > 0) {
                log_error("Segment %s was not applied whole to '%s' (%d entries named above); "
                          "the standby stops here.",
                          h->id, fo->f->target, k);
                return st.restore.damaged ? YB_EXIT_DAMAGED : YB_EXIT_PARTIAL;
        }
        fo->st.seq = h->seq;
        fo->st.applying = 0;
        k = state_write(fo);
        if (k < 0)
                return yb_exit_code_from_errno(k);
        say_point(fo, "applied", &st);
        return name_changing(fo, true);
}

/* Adds segment h (taken) to the chain, saying first that it is being applied. A segment whose
 * manifest cannot be read is named, and the standby stays where it is (0). */
static int add_segment(Follow *fo, YbSnapshotHeader *h) {
        char id[YB_SNAPSHOT_ID_MAX + 1], *bad = NULL;
        uint64_t seq = h->seq;
        int k;

        if (!trusted(fo, h)) {
                yb_header_free(h);
                return YB_EXIT_DAMAGED;
        }
        snprintf(id, sizeof(id), "%s", h->id);
        fo->st.applying = seq;
        k = state_write(fo);
        if (k < 0) {
                yb_header_free(h);
                return yb_exit_code_from_errno(k);
        }
        k = yb_restore_chain_add(fo->chain, h);
        if (k == -ENOMEM)
                return YB_EXIT_FAILED;
        if (k < 0) {
                fo->st.applying = 0;
                k = state_write(fo);
                if (k < 0)
                        return yb_exit_code_from_errno(k);
                if (asprintf(&bad, "segment %s (seq %llu): its manifest cannot be read (%s)", id,
                             (unsigned long long) seq,
                             k == -EBADMSG ? "damaged or altered" : strerror(-k)) >= 0)
                        say_damage(fo, bad);
                return 1;
        }
        return 0;
}

/* Applies the segments of the chain that landed since the point, one by one. */
static int apply_new(Follow *fo, bool *ret_any) {
        _cleanup_(yb_snapshot_list_done) YbSnapshotList segs = { 0 };
        char *bad = NULL;
        int k;

        *ret_any = false;
        k = yb_segments_load(fo->f->repo, fo->st.root, fo->st.seq + 1, INT64_MAX, &segs, &bad);
        if (k == -ENOENT)
                return 0; /* no segment yet */
        if (k < 0) {
                if (!fo->store_away)
                        log_warning("Cannot read the new segments of chain %s in store '%s': "
                                    "%s; trying again every interval.",
                                    fo->st.root, fo->f->repo->store->location, strerror(-k));
                fo->store_away = true;
                return 0;
        }
        if (fo->store_away)
                log_info("Store '%s' answers again.", fo->f->repo->store->location);
        fo->store_away = false;
        for (size_t i = 0; i < segs.n && !stop_signal; i++) {
                k = add_segment(fo, TAKE_PTR(segs.items[i]));
                if (k == 0)
                        k = apply_pending(fo, false);
                if (k != 0) {
                        free(bad);
                        return k == 1 ? 0 : k;
                }
                *ret_any = true;
        }
        if (bad && segs.n == 0)
                say_damage(fo, bad);
        else
                free(bad);
        return 0;
}

/* When a newer chain root than ours is there, the target moves to it. */
static int follow_new_root(Follow *fo, bool *ret_any) {
        _cleanup_(yb_restore_chain_freep) YbRestoreChain *c = NULL;
        const YbSnapshotHeader *cur = yb_restore_chain_root(fo->chain), *newest = NULL;
        YbSnapshotList roots = { 0 };
        YbApplyStats st = { 0 };
        int k;

        *ret_any = false;
        k = yb_repo_list(fo->f->repo, &roots);
        if (k < 0)
                return 0; /* the store is away: next time */
        for (size_t i = 0; i < roots.n; i++)
                if (roots.items[i]->finished_ns > cur->finished_ns &&
                    (!newest || roots.items[i]->finished_ns > newest->finished_ns))
                        newest = roots.items[i];
        if (!newest) {
                yb_snapshot_list_done(&roots);
                return 0;
        }
        k = chain_upto(fo, &roots, newest->id, 0, &c);
        if (k < 0) {
                yb_snapshot_list_done(&roots);
                log_warning("Cannot read the new chain root %s of system '%s': %s; staying on "
                            "chain %s.",
                            newest->id, fo->f->system, strerror(-k), fo->st.root);
                return 0;
        }
        k = yb_restore_apply_switch(fo->chain, c, fo->f->target, report, fo, &st);
        if (k != 0) {
                yb_snapshot_list_done(&roots);
                if (k < 0)
                        log_error("Cannot move the standby '%s' to chain root %s: %s",
                                  fo->f->target, newest->id, strerror(-k));
                return k < 0                ? yb_exit_code_from_errno(k)
                       : st.restore.damaged ? YB_EXIT_DAMAGED
                                            : YB_EXIT_PARTIAL;
        }
        /* The old chain borrows the old list: both go, the new ones stay. */
        fo->chain = yb_restore_chain_free(fo->chain);
        yb_snapshot_list_done(&fo->roots);
        fo->roots = roots;
        fo->chain = TAKE_PTR(c);
        snprintf(fo->st.root, sizeof(fo->st.root), "%s", newest->id);
        fo->st.seq = 0;
        free(fo->bad);
        fo->bad = NULL;
        k = state_write(fo);
        if (k < 0)
                return yb_exit_code_from_errno(k);
        say_point(fo, "switched", &st);
        *ret_any = true;
        return name_changing(fo, false);
}

static int check_target(Follow *fo) {
        YbApplyStats st = { 0 };
        int k = yb_restore_check(fo->chain, fo->f->target, report, fo, &st);

        if (k < 0)
                log_warning("Cannot check the standby '%s' against point %s: %s", fo->f->target,
                            yb_restore_chain_point(fo->chain)->id, strerror(-k));
        else if (k > 0)
                say_point(fo, "repaired", &st);
        return 0;
}

/* Takes up where an earlier run stopped: its point, and the step it was in. */
static int resume(Follow *fo) {
        _cleanup_(yb_snapshot_list_done) YbSnapshotList segs = { 0 };
        char *bad = NULL;
        int k;

        if (fo->st.initial)
                return first_restore(fo);
        k = chain_upto(fo, &fo->roots, fo->st.root, fo->st.seq, &fo->chain);
        if (k == -ENOENT) {
                log_error("The chain root %s that the standby '%s' holds is no longer in store "
                          "'%s' (pruned?); start a new standby in an empty directory.",
                          fo->st.root, fo->f->target, fo->f->repo->store->location);
                return YB_EXIT_FAILED;
        }
        if (k < 0) {
                log_error("Cannot read the chain of %s up to seq %llu (system '%s'): %s",
                          fo->st.root, (unsigned long long) fo->st.seq, fo->f->system,
                          strerror(-k));
                return k == -ENOMEM ? YB_EXIT_FAILED : YB_EXIT_DAMAGED;
        }
        if (fo->st.applying == 0)
                return 0;
        /* Cut while applying: the same segment, finished from where the target is. */
        k = yb_segments_load(fo->f->repo, fo->st.root, fo->st.applying, INT64_MAX, &segs, &bad);
        free(bad);
        if (k < 0 || segs.n == 0 || segs.items[0]->seq != fo->st.applying) {
                log_error("Segment seq %llu of chain %s, which the standby '%s' was applying, "
                          "cannot be read from store '%s'; the target is between two points. "
                          "Start a new standby in an empty directory.",
                          (unsigned long long) fo->st.applying, fo->st.root, fo->f->target,
                          fo->f->repo->store->location);
                return YB_EXIT_DAMAGED;
        }
        log_info("Finishing segment seq %llu of chain %s, which an earlier run was applying.",
                 (unsigned long long) fo->st.applying, fo->st.root);
        k = add_segment(fo, TAKE_PTR(segs.items[0]));
        if (k == 0)
                k = apply_pending(fo, true);
        return k == 1 ? 0 : k;
}

/* Sleeps usec, or less when a stop signal comes. */
static void nap(int64_t usec) {
        int64_t end = yb_monotonic_usec() + usec;

        while (!stop_signal) {
                int64_t left = end - yb_monotonic_usec();
                struct timespec ts;

                if (left <= 0)
                        break;
                left = MIN(left, (int64_t) 100000);
                ts.tv_sec = 0;
                ts.tv_nsec = (long) left * 1000;
                (void) nanosleep(&ts, NULL);
        }
}

static int target_is_empty(const char *target) {
        DIR *d = opendir(target);
        struct dirent *de;
        int n = 0;

        if (!d)
                return errno == ENOENT ? 1 : negative_errno();
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..") &&
                    !streq(de->d_name, FOLLOW_DIR))
                        n++;
        closedir(d);
        return n == 0;
}

int cli_follow(const CliFollow *f) {
        Follow fo = { .f = f, .dir_fd = -EBADF };
        struct sigaction sa = { .sa_handler = on_signal };
        _cleanup_close_ int lock_fd = -EBADF;
        _cleanup_free_ char *dir = NULL;
        int64_t last_check;
        int k, r = 0;

        if (asprintf(&dir, "%s/" FOLLOW_DIR, f->target) < 0)
                return YB_EXIT_FAILED;
        k = yb_mkdir_p_at(AT_FDCWD, f->target, 0700);
        if (k >= 0 && mkdir(dir, 0700) < 0 && errno != EEXIST)
                k = negative_errno();
        if (k >= 0 && (fo.dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                k = negative_errno();
        if (k < 0) {
                log_error("Cannot make the standby's directory '%s': %s", dir, strerror(-k));
                return yb_exit_code_from_errno(k);
        }
        lock_fd = openat(fo.dir_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
                log_error("Another 'yunbak restore --follow' keeps the standby '%s' (it holds "
                          "'%s/lock'); stop it first.",
                          f->target, dir);
                safe_close(fo.dir_fd);
                return YB_EXIT_BUSY;
        }
        /* Ours alone now (the lock): what a killed run left in staging goes. */
        k = yb_restore_clean_staging(f->target);
        if (k < 0)
                log_warning("Cannot remove what an earlier run left in staging in '%s': %s",
                            f->target, strerror(-k));
        sigemptyset(&sa.sa_mask);
        (void) sigaction(SIGTERM, &sa, NULL);
        (void) sigaction(SIGINT, &sa, NULL);

        k = state_read(&fo);
        if (k >= 0)
                k = yb_repo_list(f->repo, &fo.roots);
        if (k < 0) {
                r = yb_exit_code_from_errno(k);
                goto out;
        }
        if (k == 0 && fo.st.root[0] == 0) {
                k = target_is_empty(f->target);
                if (k <= 0) {
                        log_error("Target '%s' is not empty and holds no standby of "
                                  "'yunbak restore --follow' (no " FOLLOW_DIR "/state): give an "
                                  "empty directory.",
                                  f->target);
                        r = YB_EXIT_USAGE;
                        goto out;
                }
                r = first_restore(&fo);
        } else {
                r = resume(&fo);
                if (r == 0)
                        (void) check_target(&fo);
                if (r == 0) {
                        YbApplyStats none = { 0 };

                        say_point(&fo, "resumed", &none);
                }
        }
        last_check = yb_monotonic_usec();
        while (r == 0 && !stop_signal) {
                bool any = false, switched = false;

                if (fo.pending) {
                        r = apply_pending(&fo, true);
                        if (r == 1) {
                                r = 0;
                                nap(f->interval_usec);
                                continue;
                        }
                        if (r != 0)
                                break;
                }
                r = apply_new(&fo, &any);
                if (r == 0 && !any && !stop_signal)
                        r = follow_new_root(&fo, &switched);
                if (r != 0 || stop_signal)
                        break;
                if (!any && !switched && yb_monotonic_usec() - last_check >= CHECK_EVERY_USEC) {
                        (void) check_target(&fo);
                        last_check = yb_monotonic_usec();
                }
                if (!any && !switched)
                        nap(f->interval_usec);
        }
        if (r == 0 && stop_signal) {
                int n = yb_restore_changing(fo.chain, false, NULL, 0, NULL, NULL);

                log_info("Stopped on signal %d; the standby '%s' holds %s.", (int) stop_signal,
                         f->target, yb_restore_chain_point(fo.chain)->id);
                if (n > 0) {
                        /* As a partial point: some of what it holds is not of one moment. */
                        log_warning("%d %s of the standby '%s' %s read while being written "
                                    "(named when applied): complete only as of a point where "
                                    "%s not being written.",
                                    n, cli_plural(n, "file", "files"), f->target,
                                    n == 1 ? "was" : "were", n == 1 ? "it was" : "they were");
                        r = YB_EXIT_PARTIAL;
                }
        }
out:
        free(fo.bad);
        yb_restore_chain_free(fo.chain);
        yb_snapshot_list_done(&fo.roots);
        safe_close(fo.dir_fd);
        return r;
}
