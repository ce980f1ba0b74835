/* 'yunbak-agent wipe': what a decommissioned system leaves on its host, cleared (docs/cli.md,
 * "yunbak-agent wipe"; docs/decommission.md, "`yunbak-agent wipe`").
 *
 * Two things go. The agent's state for the system, by name, under the state directory:
 * cache/<system>/ (signature indexes, agents/sigcache.c), wal/<system>/ (the replicator's WAL
 * spools, agents/replicate-wal.c), wal-archive/<system>/ (wal-archive's record of the files it
 * archived, agents/wal-seen.c) and replicate-<system>.lock (the replicator's lock, which must not
 * be held: a running replicator is refused); never the agent's key, never another system's. And
 * every PATH given, cleared below (the directory itself stays: it may be a mount point) with
 * core/erase, overwritten first where the medium makes that mean something. A PATH is cleared
 * through the directory its check found (opened again without following a symlink and compared),
 * never through whatever its name leads to by then; PATHs given twice or nested are cleared once.
 *
 * Every PATH is checked before anything is touched (agents/wipe-check.c): if one is refused,
 * nothing at all is done and each says why. After clearing, each path is read again: it must be
 * empty ("verified"). One JSON object on stdout with --json (yunbakd's decommission keeps it as
 * the artifact of its agent step), else a summary for people. Exit 0 when every path was wiped or
 * already absent and the state is gone; 1 otherwise; 2 for a bad command line. */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agents/agent.h"
#include "core/base/buf.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/base/pathutil.h"
#include "core/erase/erase.h"

typedef enum PathResult {
        PATH_WIPE,       /* to be wiped (then wiped or incomplete) */
        PATH_ABSENT,     /* does not exist */
        PATH_REFUSED,    /* refused by the checks */
        PATH_UNTOUCHED,  /* fine, but another path was refused: nothing is done */
        PATH_WIPED,      /* cleared and verified empty */
        PATH_INCOMPLETE, /* something is left in it (named), or the erase failed */
        PATH_COVERED,    /* the same directory as another PATH, or inside one: cleared with it */
} PathResult;

typedef struct WipePath {
        const char *arg;
        char *path; /* cleaned */
        AgentWipeTarget t;
        size_t covered_by; /* PATH_COVERED: the index of the PATH that clears it */
        PathResult result;
        char why[1024];
        YbEraseReport report;
        bool erased;   /* report is filled */
        bool erase_ok; /* the erase returned no error */
        bool verified;
} WipePath;

typedef struct Wipe {
        const char *system, *state_dir;
        bool json, dry_run;
        char host[256];
        WipePath *paths;
        size_t n_paths;
        json_t *state_removed; /* the state entries removed (or that would be) */
        uint64_t state_bytes;
        char state_error[1024];
        int lock_fd;  /* the replicator's lock, held while we work */
        bool touched; /* the checks passed and the wipe ran (not a dry run) */
} Wipe;

/* The agent's state of a system, by name under the state directory: prefix, system, suffix. */
static const struct {
        const char *prefix, *suffix;
} state_entries[] = {
        { "cache/", "" },
        { "wal/", "" },
        { "wal-archive/", "" },
        { "replicate-", ".lock" },
};

/* snprintf into a fixed field: a message longer than the field is cut, not refused. */
_printf_(3, 4) static void say(char *buf, size_t size, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(buf, size, fmt, ap);
        va_end(ap);
}

static void usage(FILE *f) {
        fputs("Usage: yunbak-agent wipe --system ID [--state-dir DIR] [--json] [--dry-run] "
              "PATH...\n"
              "\n"
              "Removes what system ID leaves on this host, for its decommission: the agent's\n"
              "state for it (signature caches, the replicator's WAL spools and lock, "
              "wal-archive's\n"
              "record; never the agent's key or another system's state), and everything below\n"
              "each PATH (the directory itself stays: it may be a mount point). Files are\n"
              "overwritten first where the disk beneath makes that mean something, and the\n"
              "result says which, and what the operator must still do where it does not.\n"
              "\n"
              "Refused, before anything is touched: a relative PATH, '/', a top-level system\n"
              "directory itself (/bin /boot /dev /etc /lib* /proc /run /sbin /sys /usr /var\n"
              "/home /root), the state directory, something that is not a directory, a\n"
              "directory of a running PostgreSQL server, a running replicator of ID, the\n"
              "kernel's trees (/proc, /sys, /dev) and its pseudo filesystems. A PATH that does\n"
              "not exist is already absent. Another filesystem mounted below a PATH is not\n"
              "entered: it is left, and named (give it as a PATH of its own to clear it). A PATH\n"
              "given twice, or inside another PATH, is cleared with that one.\n"
              "\n"
              "  --system ID       the system ([a-z0-9-], at most 63)\n"
              "  --state-dir DIR   the agent's state directory (default: as for backup)\n"
              "  --json            print the result as one JSON object\n"
              "  --dry-run         say what would be removed, remove nothing\n"
              "\n"
              "Exit status: 0 every PATH wiped or absent and the state removed, 1 otherwise,\n"
              "2 usage.\n",
              f);
}

static int check_paths(Wipe *w) {
        const char *refused = NULL;

        for (size_t i = 0; i < w->n_paths; i++) {
                WipePath *p = &w->paths[i];
                int r = agent_wipe_check(p->arg, w->state_dir, &p->t, p->why, sizeof(p->why));

                if (r == -ENOMEM)
                        return r;
                p->path = p->t.clean;
                p->result = r > 0 ? PATH_ABSENT : r == 0 ? PATH_WIPE : PATH_REFUSED;
                if (r < 0) {
                        log_error("Wipe of system '%s': refused: %s.", w->system, p->why);
                        refused = refused ? refused : p->arg;
                }
        }
        if (!refused)
                return 0;
        for (size_t i = 0; i < w->n_paths; i++) {
                WipePath *p = &w->paths[i];
                _cleanup_free_ char *esc = yb_path_escape(refused);

                if (p->result == PATH_REFUSED)
                        continue;
                p->result = PATH_UNTOUCHED;
                say(p->why, sizeof(p->why),
                    "not touched: %s was refused, and wipe does nothing unless every path "
                    "can be wiped",
                    esc ? esc : "a path");
        }
        return 1;
}

/* The directory p stands for: resolved when it exists. */
static const char *where(const WipePath *p) {
        return p->t.real ? p->t.real : p->path;
}

/* A PATH given twice (as written, or through a symlink, "//" or a trailing slash), or one inside
 * another PATH on the same mount, is cleared with that one, not again by its own name (where it
 * was may hold something else by then: a user who may write in the outer one could have put a
 * symlink there). One on a mount of its own below another PATH is wiped as its own: the outer
 * one's erase does not enter it. */
static void fold_paths(Wipe *w) {
        for (size_t i = 0; i < w->n_paths; i++) {
                WipePath *p = &w->paths[i];

                for (size_t j = 0; j < w->n_paths; j++) {
                        WipePath *q = &w->paths[j];
                        bool same = streq(where(p), where(q));
                        _cleanup_free_ char *esc = NULL;

                        if (j == i || q->result != PATH_WIPE ||
                            !(p->result == PATH_WIPE || p->result == PATH_ABSENT))
                                continue;
                        if (same ? j > i : !yb_path_startswith(where(p), where(q)))
                                continue;
                        if (!same && p->t.real &&
                            (p->t.dev != q->t.dev || p->t.mnt_id != q->t.mnt_id))
                                continue; /* a mount of its own */
                        esc = yb_path_escape(q->path);
                        p->result = PATH_COVERED;
                        p->covered_by = j;
                        say(p->why, sizeof(p->why), "%s %s, a PATH given too: cleared with it",
                            same ? "the same directory as" : "inside", esc ? esc : "?");
                        break;
                }
        }
}

/* Takes the replicator's lock of the system, if it exists: a replicator holding it is running,
 * and its state cannot go from under it. 0, or 1 when it is held (said). */
static int lock_replicator(Wipe *w) {
        _cleanup_free_ char *path = NULL, *esc = NULL;
        char pid[32];
        ssize_t k;

        if (asprintf(&path, "%s/replicate-%s.lock", w->state_dir, w->system) < 0)
                return -ENOMEM;
        w->lock_fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (w->lock_fd < 0 || flock(w->lock_fd, LOCK_EX | LOCK_NB) == 0)
                return 0;
        esc = yb_path_escape(path);
        k = pread(w->lock_fd, pid, sizeof(pid) - 1, 0);
        pid[k > 0 ? k : 0] = 0;
        pid[strcspn(pid, "\n")] = 0;
        say(w->state_error, sizeof(w->state_error),
            "a replicator of system %s runs on this host (pid %s, holding %s): stop it "
            "first (yunbakd stops it when the decommission executes)",
            w->system, *pid ? pid : "?", esc ? esc : "?");
        log_error("Wipe of system '%s': refused: %s.", w->system, w->state_error);
        return 1;
}

/* Removes (or, in a dry run, counts) the state entries of the system that exist. */
static void remove_state(Wipe *w) {
        for (size_t i = 0; i < ELEMENTSOF(state_entries); i++) {
                _cleanup_free_ char *path = NULL, *esc = NULL;
                YbEraseReport rep;
                char err[1024];
                struct stat st;
                int r;

                if (asprintf(&path, "%s/%s%s%s", w->state_dir, state_entries[i].prefix, w->system,
                             state_entries[i].suffix) < 0) {
                        say(w->state_error, sizeof(w->state_error), "out of memory");
                        return;
                }
                if (lstat(path, &st) < 0)
                        continue;
                esc = yb_path_escape(path);
                if (!esc) {
                        say(w->state_error, sizeof(w->state_error), "out of memory");
                        return;
                }
                r = (w->dry_run ? yb_erase_tree_survey : yb_erase_tree)(
                        path, false, YB_OVERWRITE_IF_EFFECTIVE, &rep, err, sizeof(err));
                if (r < 0 || rep.left > 0) {
                        say(w->state_error, sizeof(w->state_error),
                            "the agent's state %s of system %s could not all be removed: %s", esc,
                            w->system, r < 0 ? err : rep.left_first);
                        log_error("Wipe of system '%s': %s.", w->system, w->state_error);
                        continue;
                }
                json_array_append_new(w->state_removed, json_string(esc));
                w->state_bytes += rep.bytes;
        }
}

/* A listing of the directory open as fd (which stays the caller's), or NULL. */
static DIR *list_fd(int fd) {
        int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;

        if (!d)
                safe_close(dfd);
        return d;
}

/* Whether the directory open as fd is empty now. */
static bool empty_now(int fd) {
        DIR *d = list_fd(fd);
        struct dirent *de;
        bool empty = true;

        if (!d)
                return false;
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        empty = false;
        closedir(d);
        return empty;
}

/* Opens the directory p's check found, following no symlink on the way (openat2
 * RESOLVE_NO_SYMLINKS where the kernel has it), and checks it is that very directory. */
static int open_checked(const WipePath *p) {
        struct open_how how = { .flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
                                .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
        int fd = (int) syscall(SYS_openat2, AT_FDCWD, p->t.real, &how, sizeof(how));
        struct stat st;

        if (fd < 0 && errno == ENOSYS)
                fd = open(p->t.real, (int) how.flags);
        if (fd < 0)
                return errno == ELOOP ? -ESTALE : -errno;
        if (fstat(fd, &st) < 0 || st.st_dev != p->t.dev || st.st_ino != p->t.ino) {
                close(fd);
                return -ESTALE;
        }
        return fd;
}

static void wipe_path(Wipe *w, WipePath *p) {
        _cleanup_free_ char *esc = yb_path_escape(p->path), *esc_real = yb_path_escape(p->t.real);
        _cleanup_close_ int fd = open_checked(p);
        char err[1024];
        int r;

        if (fd < 0) {
                p->result = PATH_INCOMPLETE;
                say(p->why, sizeof(p->why),
                    "%s (%s) %s since it was checked: nothing of it was touched; find out who "
                    "changed it, and run the wipe again",
                    esc ? esc : "?", esc_real ? esc_real : "?",
                    fd == -ESTALE ? "was replaced or moved (or a symlink put on its way)"
                                  : strerror(-fd));
                log_error("Wipe of system '%s': %s.", w->system, p->why);
                return;
        }
        r = yb_erase_below_fd(fd, p->t.real, YB_OVERWRITE_IF_EFFECTIVE, w->dry_run, &p->report, err,
                              sizeof(err));
        p->erased = true;
        p->erase_ok = r >= 0;
        if (w->dry_run) {
                p->why[0] = 0;
                if (r < 0)
                        say(p->why, sizeof(p->why), "%s", err);
                return;
        }
        p->verified = r >= 0 && p->report.left == 0 && empty_now(fd);
        if (p->verified) {
                p->result = PATH_WIPED;
                if (p->report.linked > 0)
                        say(p->why, sizeof(p->why),
                            "cleared, but %" PRIu64 " of its files had other hard links, and "
                            "their data lives on under those names, which may lie outside: "
                            "remove them too (the first: %s)",
                            p->report.linked, p->report.linked_first);
                return;
        }
        p->result = PATH_INCOMPLETE;
        if (r < 0)
                say(p->why, sizeof(p->why),
                    "%s; what could be removed was: run the wipe "
                    "again once that is fixed",
                    err);
        else if (p->report.left > 0)
                say(p->why, sizeof(p->why),
                    "%" PRIu64 " entr%s left: %s; unmount it and run the wipe again, or "
                    "wipe it as a PATH of its own",
                    p->report.left, p->report.left == 1 ? "y" : "ies", p->report.left_first);
        else
                say(p->why, sizeof(p->why),
                    "%s is not empty after the wipe: something wrote into it meanwhile; "
                    "stop it and run the wipe again",
                    esc ? esc : "the directory");
        log_error("Wipe of system '%s': %s is not cleared: %s.", w->system, esc ? esc : "?",
                  p->why);
}

/* Whether everything left in directory fd (at path) is a PATH wiped (a mount of its own below it)
 * or a directory on the way to one: nothing else of the system stays there. */
static bool only_wiped_mounts_left(const Wipe *w, int fd, const char *path) {
        DIR *d = list_fd(fd);
        struct dirent *de;
        bool ok = true;

        if (!d)
                return false;
        while (ok && (de = readdir(d))) {
                _cleanup_free_ char *sub = NULL;
                bool wiped = false, above = false;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (asprintf(&sub, "%s/%s", path, de->d_name) < 0) {
                        ok = false;
                        break;
                }
                for (size_t i = 0; i < w->n_paths; i++) {
                        const WipePath *q = &w->paths[i];

                        if (q->result != PATH_WIPED)
                                continue;
                        wiped = wiped || streq(q->t.real, sub);
                        above = above || yb_path_startswith(q->t.real, sub);
                }
                if (wiped)
                        continue;
                if (above) {
                        _cleanup_close_ int sfd =
                                openat(dirfd(d), de->d_name,
                                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

                        ok = sfd >= 0 && only_wiped_mounts_left(w, sfd, sub);
                } else
                        ok = false;
        }
        closedir(d);
        return ok;
}

/* After every PATH had its turn: a PATH whose erase left only the mounts below it that were
 * wiped as PATHs of their own (and the directories holding them) is wiped. */
static void recheck_left_mounts(Wipe *w) {
        for (size_t i = 0; i < w->n_paths; i++) {
                WipePath *p = &w->paths[i];
                _cleanup_close_ int fd = -EBADF;

                if (p->result != PATH_INCOMPLETE || !p->erase_ok || p->report.left == 0)
                        continue;
                fd = open_checked(p);
                if (fd < 0 || !only_wiped_mounts_left(w, fd, p->t.real))
                        continue;
                p->result = PATH_WIPED;
                p->verified = true;
                say(p->why, sizeof(p->why),
                    "all that stays below it is what holds the mounts wiped as PATHs of their own "
                    "(%" PRIu64 " left, the first: %s)",
                    p->report.left, p->report.left_first);
        }
}

static const char *result_name(const Wipe *w, PathResult r);

/* A covered PATH takes the result of the one that clears it. */
static const WipePath *clearer(const Wipe *w, const WipePath *p) {
        return p->result == PATH_COVERED ? &w->paths[p->covered_by] : p;
}

static const char *result_name(const Wipe *w, PathResult r) {
        switch (r) {
        case PATH_WIPE:
                return w->dry_run ? "would-wipe" : "wiped";
        case PATH_ABSENT:
                return "already-absent";
        case PATH_WIPED:
                return "wiped";
        case PATH_INCOMPLETE:
                return "incomplete";
        default:
                return "refused";
        }
}

static bool path_ok(const Wipe *w, const WipePath *p) {
        p = clearer(w, p);
        return p->result == PATH_WIPED || p->result == PATH_ABSENT ||
               (w->dry_run && p->result == PATH_WIPE && !*p->why);
}

static bool all_ok(const Wipe *w) {
        if (*w->state_error)
                return false;
        for (size_t i = 0; i < w->n_paths; i++)
                if (!path_ok(w, &w->paths[i]))
                        return false;
        return true;
}

static json_t *path_json(const Wipe *w, const WipePath *p) {
        const YbEraseReport *r = &p->report;
        _cleanup_free_ char *esc = yb_path_escape(p->path ? p->path : p->arg);
        _cleanup_free_ char *esc_real = p->t.real ? yb_path_escape(p->t.real) : NULL;
        json_t *o = json_pack("{s:s, s:s, s:o}", "path", esc ? esc : "?", "result",
                              result_name(w, clearer(w, p)->result), "why",
                              *p->why ? json_string(p->why) : json_null());

        if (!o)
                return NULL;
        if (esc_real && !streq(esc_real, esc ? esc : ""))
                json_object_set_new(o, "resolved", json_string(esc_real));
        json_object_set_new(o, "files", json_integer((json_int_t) r->files));
        json_object_set_new(o, "dirs", json_integer((json_int_t) r->dirs));
        json_object_set_new(o, "others", json_integer((json_int_t) r->others));
        json_object_set_new(o, "bytes", json_integer((json_int_t) r->bytes));
        json_object_set_new(o, "overwritten", json_boolean(r->overwritten));
        json_object_set_new(o, "left", json_integer((json_int_t) r->left));
        json_object_set_new(o, "left_first",
                            *r->left_first ? json_string(r->left_first) : json_null());
        json_object_set_new(o, "linked", json_integer((json_int_t) r->linked));
        json_object_set_new(o, "linked_first",
                            *r->linked_first ? json_string(r->linked_first) : json_null());
        json_object_set_new(o, "medium", p->erased ? yb_medium_json(&r->medium) : json_null());
        json_object_set_new(o, "verified", json_boolean(clearer(w, p)->verified));
        return o;
}

static int print_json(const Wipe *w) {
        _cleanup_free_ char *state = yb_path_escape(w->state_dir);
        json_t *paths = json_array(), *o;

        for (size_t i = 0; paths && i < w->n_paths; i++)
                json_array_append_new(paths, path_json(w, &w->paths[i]));
        o = json_pack("{s:s, s:s, s:b, s:b, s:{s:s, s:O, s:I, s:o}, s:o, s:b}", "system", w->system,
                      "host", w->host, "dry_run", w->dry_run, "touched", w->touched, "state", "dir",
                      state ? state : "?", w->dry_run ? "would_remove" : "removed",
                      w->state_removed, "bytes", (json_int_t) w->state_bytes, "error",
                      *w->state_error ? json_string(w->state_error) : json_null(), "paths", paths,
                      "ok", all_ok(w));
        if (!o)
                return -ENOMEM;
        json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(o);
        return 0;
}

static void print_text(const Wipe *w) {
        _cleanup_free_ char *state = yb_path_escape(w->state_dir);
        size_t n = json_array_size(w->state_removed);
        char b[32];

        if (w->dry_run || w->touched)
                printf("%s system %s on %s:\n", w->dry_run ? "Would wipe" : "Wiped", w->system,
                       w->host);
        else
                printf("Nothing of system %s on %s was touched: a check refused.\n", w->system,
                       w->host);
        if (*w->state_error)
                printf("  agent state: %s\n", w->state_error);
        else if (!w->touched && !w->dry_run)
                printf("  agent state: not touched\n");
        else if (n == 0)
                printf("  agent state: nothing of %s in %s\n", w->system, state ? state : "?");
        else {
                printf("  agent state: %s", w->dry_run ? "would remove" : "removed");
                for (size_t i = 0; i < n; i++)
                        printf("%s %s", i ? "," : "",
                               json_string_value(json_array_get(w->state_removed, i)));
                printf(" (%s)\n", yb_format_bytes(w->state_bytes, b));
        }
        for (size_t i = 0; i < w->n_paths; i++) {
                const WipePath *p = &w->paths[i];
                const YbEraseReport *r = &p->report;
                _cleanup_free_ char *esc = yb_path_escape(p->path ? p->path : p->arg);

                printf("  %s: %s", esc ? esc : "?", result_name(w, clearer(w, p)->result));
                if (p->erased)
                        printf(", %" PRIu64 " files, %" PRIu64 " directories, %s%s", r->files,
                               r->dirs, yb_format_bytes(r->bytes, b),
                               p->result == PATH_WIPED ? ", verified empty" : "");
                if (*p->why)
                        printf(": %s", p->why);
                putchar('\n');
                if (!p->erased || r->files == 0)
                        continue;
                if (r->overwritten)
                        printf("    overwritten before deletion: %s\n", r->medium.why);
                else if (r->medium.overwrite_effective)
                        printf("    not every file could be overwritten before deletion, where "
                               "the overwrite would count\n");
                else
                        printf("    deletion only, not overwritten: %s\n", r->medium.why);
                if (*r->medium.operator_must)
                        printf("    still to do: %s\n", r->medium.operator_must);
        }
}

static int run(Wipe *w) {
        int r;

        r = check_paths(w);
        if (r < 0)
                return r;
        if (r == 0)
                fold_paths(w);
        if (r == 0 && lock_replicator(w) == 0) {
                w->touched = !w->dry_run;
                remove_state(w);
                for (size_t i = 0; i < w->n_paths; i++)
                        if (w->paths[i].result == PATH_WIPE)
                                wipe_path(w, &w->paths[i]);
                        else if (w->paths[i].result == PATH_ABSENT) /* still? */
                                w->paths[i].verified = !w->dry_run &&
                                                       access(w->paths[i].path, F_OK) < 0 &&
                                                       errno == ENOENT;
                if (!w->dry_run)
                        recheck_left_mounts(w);
        } else if (r == 0) {
                /* A running replicator: nothing is touched. */
                for (size_t i = 0; i < w->n_paths; i++)
                        if (w->paths[i].result == PATH_WIPE) {
                                w->paths[i].result = PATH_UNTOUCHED;
                                say(w->paths[i].why, sizeof(w->paths[i].why), "not touched: %s",
                                    w->state_error);
                        }
        }
        if (w->json)
                return print_json(w);
        print_text(w);
        return 0;
}

int agent_wipe_main(int argc, char **argv) {
        static const struct option opts[] = {
                { "system", required_argument, NULL, 'S' },
                { "state-dir", required_argument, NULL, 'd' },
                { "json", no_argument, NULL, 'j' },
                { "dry-run", no_argument, NULL, 'n' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        AgentBackupArgs a = { 0 };
        Wipe w = { .lock_fd = -EBADF };
        _cleanup_free_ char *state = NULL;
        int c, r, code;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'S':
                        a.system = optarg;
                        break;
                case 'd':
                        a.state_dir = optarg;
                        break;
                case 'j':
                        w.json = true;
                        break;
                case 'n':
                        w.dry_run = true;
                        break;
                case 'h':
                        usage(stdout);
                        return YB_EXIT_OK;
                default:
                        fputs("Try 'yunbak-agent wipe --help'.\n", stderr);
                        return YB_EXIT_USAGE;
                }
        }
        if (!a.system || optind >= argc) {
                log_error("wipe needs --system and at least one PATH.");
                fputs("Try 'yunbak-agent wipe --help'.\n", stderr);
                return YB_EXIT_USAGE;
        }
        code = agent_args_finish(&a, &state);
        if (code != YB_EXIT_OK)
                return code;
        w.system = a.system;
        w.state_dir = a.state_dir;
        (void) gethostname(w.host, sizeof(w.host) - 1);
        w.n_paths = (size_t) (argc - optind);
        w.paths = new0(WipePath, w.n_paths);
        w.state_removed = json_array();
        if (!w.paths || !w.state_removed) {
                free(w.paths);
                json_decref(w.state_removed);
                return YB_EXIT_FAILED;
        }
        for (size_t i = 0; i < w.n_paths; i++)
                w.paths[i].arg = argv[optind + (int) i];
        r = run(&w);
        code = r < 0 ? YB_EXIT_FAILED : all_ok(&w) ? YB_EXIT_OK : YB_EXIT_FAILED;
        if (r < 0)
                log_error("Wipe of system '%s' failed: %s", w.system, strerror(-r));
        for (size_t i = 0; i < w.n_paths; i++) {
                free(w.paths[i].t.clean);
                free(w.paths[i].t.real);
        }
        free(w.paths);
        json_decref(w.state_removed);
        safe_close(w.lock_fd);
        return code;
}
