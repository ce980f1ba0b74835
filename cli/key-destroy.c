/* yunbak key destroy FILE: destroys one copy of a system's private key and reports it
 * (key-copies.h; docs/decommission.md, "Key copies"). yunbakd is asked first which copy the file
 * is (an unregistered one is recorded and warned about there), then the file is overwritten in
 * place, fsynced, unlinked, its directory fsynced, and checked not to open any more
 * (yb_erase_file), and what was done is reported as the copy's evidence. What the overwrite
 * proves is said as the medium beneath allows: on a copy-on-write, flash, virtual or network
 * medium it proves nothing, and the destruction rests on the deletion.
 *
 * The file's directory and the file itself are opened once, at the first check, and kept: the
 * erase goes through the directory's descriptor (/proc/self/fd/N/NAME), so a directory of the
 * path swapped for a link cannot send it elsewhere, and the result is checked on the file's own
 * descriptor (no name left, its bytes changed), so a file swapped in its place is noticed and
 * never reported destroyed. What could only be done halfway is refused before anything is done:
 * a second name (hard link), a directory the caller may not write (the key would be overwritten
 * and left), a file the caller may not write (it would be unlinked without its overwrite). */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/key-copies.h"
#include "cli/output.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/erase/erase.h"

static void usage(FILE *f) {
        fputs("Usage: yunbak key destroy FILE [--no-daemon] [--socket PATH] [--json]\n"
              "\n"
              "Destroys the private key file FILE, one copy of a system's private key: asks\n"
              "yunbakd which registered copy it is (a copy nobody registered is recorded and\n"
              "warned about), overwrites it in place with random bytes, fsyncs, unlinks it,\n"
              "fsyncs its directory, checks it can no longer be opened, and reports all that to\n"
              "yunbakd as the copy's evidence. It says what the overwrite proves on the medium\n"
              "beneath: on a copy-on-write, flash, virtual or network medium nothing, and the\n"
              "destruction then rests on the deletion.\n"
              "The checks are made on the very file examined, held open throughout: no name of\n"
              "it is left, its bytes are no longer the key's; a file swapped meanwhile is named\n"
              "and not reported. Refuses, doing nothing: a symbolic link, a file that is not a\n"
              "yunbak private key file, a file with other names (hard links), a file you may not\n"
              "both overwrite and remove, and a copy destroyed already. Without yunbakd it\n"
              "refuses, unless --no-daemon: then it destroys the file and prints the evidence to\n"
              "hand to the operations unit.\n"
              "\n"
              "Options:\n"
              "  --no-daemon     destroy without telling yunbakd\n" CLI_CTL_OPTIONS_HELP,
              f);
}

/* The key file as examined: its directory and the file itself are held open from the check to
 * the end, so that what is destroyed is what was checked, and the result is checked on the very
 * inode that held the key. */
typedef struct Target {
        char abs[PATH_MAX]; /* its real path */
        char *base;         /* its name, within abs */
        int dfd, fd;        /* its directory; the file itself, read-only */
        struct stat st;
        YbBuf bytes; /* what it held, to tell afterwards whether it was overwritten */
        YbPublicKey pub;
} Target;

static void target_done(Target *t) {
        if (t->bytes.data)
                sodium_memzero(t->bytes.data, t->bytes.size);
        yb_buf_done(&t->bytes);
        if (t->fd >= 0)
                close(t->fd);
        if (t->dfd >= 0)
                close(t->dfd);
}

/* Whether the caller may overwrite and then remove t's file, so that it is never overwritten
 * and then left (a directory they may not write) nor unlinked without its overwrite (a file
 * they may not write). Returns 0 or an exit code having said why and what to do. */
static int may_destroy(const Target *t, const char *dir) {
        _cleanup_close_ int w = -EBADF;
        struct stat dst;
        uid_t me = geteuid();

        if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) < 0) {
                int e = errno;

                log_error("Not destroyed: '%s' cannot be removed from its directory '%s' (%s), "
                          "so it would be overwritten and left there. %s Nothing was done.",
                          t->abs, dir, strerror(e),
                          e == EROFS ? "Remount the filesystem read-write first."
                                     : "Run key destroy as a user who may write that directory "
                                       "(its owner, or root).");
                return YB_EXIT_FAILED;
        }
        if (fstat(t->dfd, &dst) >= 0 && (dst.st_mode & S_ISVTX) && me != 0 && t->st.st_uid != me &&
            dst.st_uid != me) {
                log_error("Not destroyed: '%s' is in the sticky directory '%s', where only its "
                          "owner (uid %u) may remove it. Run key destroy as that user or root. "
                          "Nothing was done.",
                          t->abs, dir, (unsigned) t->st.st_uid);
                return YB_EXIT_FAILED;
        }
        /* Opening for writing changes nothing; the erase gives a file of ours write permission
         * itself. */
        w = openat(t->dfd, t->base, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (w < 0 && !(errno == EACCES && t->st.st_uid == me)) {
                int e = errno;

                log_error("Not destroyed: '%s' cannot be opened for writing (%s), so it could "
                          "only be unlinked, not overwritten. %s Nothing was done.",
                          t->abs, strerror(e),
                          e == EPERM   ? "It is immutable or append-only ('lsattr'): clear that "
                                         "first ('chattr -i -a')."
                          : e == EROFS ? "Remount the filesystem read-write first."
                                       : "Run key destroy as its owner or root.");
                return YB_EXIT_FAILED;
        }
        return 0;
}

/* Examines path: a regular private key file of its own (no symlink, no other hard link), which
 * the caller may overwrite and remove. Fills t. Returns 0 or an exit code having said why. */
static int examine(const char *path, Target *t) {
        _cleanup_free_ char *dir = NULL;
        char target[PATH_MAX];
        struct stat st;
        ssize_t n;
        int r;

        if (lstat(path, &st) < 0) {
                log_error("Not destroyed: cannot find '%s': %s", path, strerror(errno));
                return YB_EXIT_FAILED;
        }
        if (S_ISLNK(st.st_mode)) {
                n = readlink(path, target, sizeof(target) - 1);
                target[n < 0 ? 0 : n] = 0;
                log_error("'%s' is a symbolic link (to '%s'): give the key file itself; key "
                          "destroy never follows a link, which could destroy another file.",
                          path, target);
                return YB_EXIT_USAGE;
        }
        if (!S_ISREG(st.st_mode)) {
                log_error("'%s' is a %s, not a key file: key destroy destroys private key files "
                          "(ID.key) only. Nothing was done.",
                          path, cli_key_file_kind(st.st_mode));
                return YB_EXIT_USAGE;
        }
        if (!realpath(path, t->abs)) {
                log_error("Not destroyed: cannot resolve '%s': %s", path, strerror(errno));
                return YB_EXIT_FAILED;
        }
        dir = strdup(t->abs);
        if (!dir)
                return log_oom(), YB_EXIT_FAILED;
        t->base = strrchr(t->abs, '/') + 1;
        dir[t->base - t->abs - (t->base - t->abs > 1)] = 0; /* "/k" -> "/", "/a/k" -> "/a" */
        t->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (t->dfd < 0) {
                log_error("Not destroyed: cannot open the directory '%s': %s", dir,
                          strerror(errno));
                return YB_EXIT_FAILED;
        }
        r = cli_key_read(t->dfd, t->base, t->abs, O_NOFOLLOW, "key destroy", &t->bytes, &t->st,
                         &t->fd);
        if (r != 0)
                return r;
        if (t->st.st_nlink > 1) {
                log_error("Not destroyed: '%s' has %ju names (hard links to the same file), so "
                          "removing this one would leave the key readable under the others. Find "
                          "them ('find / -xdev -samefile %s'), remove the other names, then run "
                          "key destroy again. Nothing was done.",
                          t->abs, (uintmax_t) t->st.st_nlink, t->abs);
                return YB_EXIT_FAILED;
        }
        r = cli_key_bytes_public(t->abs, t->bytes.data, t->bytes.size, "key destroy", &t->pub);
        if (r != 0)
                return r;
        return may_destroy(t, dir);
}

/* Asks yunbakd which copy the file is; the held copy in *ret. Returns 0 or an exit code having
 * said why. */
static int which_copy(const CliCtl *ctl, const YbPublicKey *pub, const char *host, const char *abs,
                      json_t **ret) {
        _cleanup_(json_decrefp) json_t *body = NULL, *answer = NULL;
        _cleanup_free_ char *api = NULL;
        char kid[2 * YB_KEY_ID_SIZE + 1], why[1200], when[64];
        json_t *copy;
        int64_t id = 0;
        int r;

        yb_key_id_hex(pub->id, kid);
        body = json_pack("{s:s, s:s, s:s}", "key_id", kid, "host", host, "path", abs);
        if (!body || asprintf(&api, "/v1/systems/%s/key-copies/seen", pub->system) < 0)
                return log_oom(), YB_EXIT_FAILED;
        r = cli_key_post(ctl, api, body, &answer, why, sizeof(why));
        if (r == YB_EXIT_UNREACHABLE) {
                log_error("Not destroyed: %s. key destroy reports every destruction to yunbakd: "
                          "run it again once yunbakd answers, or with --no-daemon (then hand the "
                          "evidence it prints to the operations unit).",
                          why);
                return r;
        }
        if (r == YB_EXIT_USAGE) /* 400: not the key yunbakd holds for the system */
                log_error("Not destroyed: %s. Only a copy of the key yunbakd holds for system "
                          "'%s' is destroyed through it; a file of another key (an old one, a "
                          "handover key) is destroyed with --no-daemon.",
                          why, pub->system);
        else if (r == YB_EXIT_KEY) /* 403 */
                log_error("Not destroyed: %s. The system's department or an operator destroys "
                          "its key copies.",
                          why);
        else if (r != 0)
                log_error("Not destroyed: %s. If system '%s' is one yunbakd does not back up (or "
                          "no more), its key file is destroyed with --no-daemon; a key of another "
                          "department's system is destroyed by that department.",
                          why, pub->system);
        if (r != 0)
                return r;
        copy = json_object_get(answer, "copy");
        (void) cli_json_int(copy, "id", &id);
        if (!streq(cli_json_str(copy, "state") ?: "", "held")) {
                snprintf(when, sizeof(when), "%s", cli_json_str(copy, "destroyed") ?: "?");
                log_error("Not destroyed: yunbakd records key copy %" PRId64 " at %s:%s as %s "
                          "already (by %s at %s).",
                          id, host, abs, cli_json_str(copy, "state") ?: "?",
                          cli_json_str(copy, "destroyed_by") ?: "?", when);
                return YB_EXIT_FAILED;
        }
        if (!json_is_true(json_object_get(answer, "registered")))
                log_warning("'%s' on %s was not a registered copy of system '%s''s key: yunbakd "
                            "recorded it now as copy %" PRId64 " (found) and warned in its audit "
                            "log. Register every copy you make ('yunbak key copy').",
                            abs, host, pub->system, id);
        *ret = json_incref(copy);
        return 0;
}

/* What was done, as the copy's evidence (docs/decommission.md, "Key copies"): only the checks
 * that were made and passed. */
static json_t *evidence_of(const YbEraseReport *rep, bool read_back, const char *host,
                           const char *abs) {
        json_t *medium = yb_medium_json(&rep->medium), *checks = json_array();

        if (!medium || !checks) {
                json_decref(medium);
                json_decref(checks);
                return NULL;
        }
        if (rep->overwritten) {
                json_array_append_new(checks, json_string("overwrite in place"));
                json_array_append_new(checks, json_string("fdatasync file"));
        }
        json_array_append_new(checks, json_string("unlink"));
        json_array_append_new(checks, json_string("fsync directory"));
        json_array_append_new(checks, json_string("no name left: link count 0"));
        if (read_back)
                json_array_append_new(checks, json_string("read back: the key's bytes are gone"));
        json_array_append_new(checks, json_string("open fails: ENOENT"));
        return json_pack("{s:s, s:I, s:b, s:o, s:o, s:s, s:s}", "method",
                         rep->overwritten ? "overwrite + unlink" : "unlink", "bytes",
                         (json_int_t) rep->bytes, "overwritten", rep->overwritten, "medium", medium,
                         "checks", checks, "host", host, "path", abs);
}

/* Says what was done and what it proves. */
static void print_done(const YbEraseReport *rep, const YbPublicKey *pub, json_t *copy,
                       const char *host, const char *abs) {
        const YbMedium *m = &rep->medium;
        char kid[2 * YB_KEY_ID_SIZE + 1], which[48] = "";
        int64_t id;

        yb_key_id_hex(pub->id, kid);
        if (cli_json_int(copy, "id", &id))
                snprintf(which, sizeof(which), " (key copy %" PRId64 ")", id);
        printf("Destroyed %s:%s%s, a copy of the private key of system '%s' (key id %s):\n", host,
               abs, which, pub->system, kid);
        if (rep->overwritten)
                printf("  overwritten in place with random bytes (%" PRIu64 " bytes), fsynced,\n",
                       rep->bytes);
        else
                printf("  NOT overwritten: the overwrite in place failed;\n");
        printf("  unlinked, its directory fsynced; no name of it is left, and opening it now "
               "fails (ENOENT).\n");
        if (!rep->overwritten)
                printf("The file is deleted, not overwritten, so the copy's destruction rests on "
                       "its deletion.\n");
        else if (m->overwrite_effective)
                printf("The overwrite reached the blocks that held the key (%s%s%s): %s\n",
                       m->fstype, m->device[0] ? " on " : "", m->device, m->why);
        else
                printf("The file is deleted; an overwrite on %s%s%s%s proves nothing (%s), so the "
                       "copy's destruction rests on its deletion.\n",
                       m->fstype[0] ? m->fstype : "this filesystem", m->kind[0] ? " (" : "",
                       m->kind, m->kind[0] ? ")" : "",
                       m->why[0] ? m->why : "what lies beneath could not be told");
        if (m->operator_must[0])
                printf("Still to do, by the operations unit: %s.\n", m->operator_must);
}

/* Whether t's file, read through the descriptor kept open (the inode's bytes as they are now),
 * no longer holds what it held when examined. *oom (when given) is set when that could not be
 * read for want of memory. */
static bool changed(const Target *t, bool *oom) {
        _cleanup_free_ uint8_t *now = malloc(t->bytes.size ? t->bytes.size : 1);

        if (!now) {
                if (oom)
                        *oom = true;
                return false;
        }
        return pread(t->fd, now, t->bytes.size, 0) == (ssize_t) t->bytes.size &&
               memcmp(now, t->bytes.data, t->bytes.size) != 0;
}

/* text with each via (the descriptor's path the erase was given) replaced by abs, the path
 * people know; NULL for an empty text or without memory. The caller frees it. */
static char *named(const char *text, const char *via, const char *abs) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        const char *p = text, *hit;

        if (!text[0])
                return NULL;
        while ((hit = strstr(p, via))) {
                if (yb_buf_append(&b, p, (size_t) (hit - p)) < 0 ||
                    yb_buf_printf(&b, "%s", abs) < 0)
                        return NULL;
                p = hit + strlen(via);
        }
        if (yb_buf_printf(&b, "%s", p) < 0 || yb_buf_append_u8(&b, 0) < 0)
                return NULL;
        return (char *) TAKE_PTR(b.data);
}

/* Destroys t's file through the directory held open (so that a directory of its path swapped
 * since cannot redirect it), then checks on the inode held open that the file examined is the
 * one that went: no name left, and (when overwritten) its bytes gone. Returns 0 with *rep and
 * *read_back filled, or an exit code having said what happened. */
static int destroy(Target *t, YbEraseReport *rep, bool *read_back) {
        _cleanup_free_ char *via = NULL;
        char err[1024] = "";
        struct stat st;
        int r;

        if (asprintf(&via, "/proc/self/fd/%d/%s", t->dfd, t->base) < 0)
                return log_oom(), YB_EXIT_FAILED;
        if (access("/proc/self/fd", F_OK) < 0) {
                free(via);
                via = strdup(t->abs);
                if (!via)
                        return log_oom(), YB_EXIT_FAILED;
        }
        r = yb_erase_file(via, YB_OVERWRITE_ALWAYS, rep, err, sizeof(err));
        if (fstat(t->fd, &st) < 0)
                return log_error("Cannot examine '%s' after destroying it: %s", t->abs,
                                 strerror(errno)),
                       YB_EXIT_FAILED;
        if (r == -ENOENT && st.st_nlink == 0) {
                log_error("'%s' was removed meanwhile by another process (another key destroy?), "
                          "not by this one, which reports nothing: 'yunbak key list --system %s' "
                          "shows whether its removal was reported.",
                          t->abs, t->pub.system);
                return YB_EXIT_FAILED;
        }
        if (r < 0) {
                _cleanup_free_ char *why = named(err, via, t->abs);

                log_error("Not destroyed: '%s' %s: %s. The key copy is not reported destroyed.",
                          t->abs,
                          st.st_nlink == 0   ? "was unlinked, but"
                          : changed(t, NULL) ? "is still there, overwritten with random bytes "
                                               "(the key is no longer in it; remove it)"
                                             : "is still there, unchanged",
                          r == -ENOSYS ? "destroying files is not built into this yunbak"
                          : why        ? why
                                       : strerror(-r));
                return YB_EXIT_FAILED;
        }
        if (st.st_nlink > 0) {
                log_error("'%s' was replaced while it was being destroyed: another file was "
                          "removed at that path, and the key file examined (inode %ju) still has "
                          "a name. Find it ('find / -xdev -inum %ju') and destroy it. Key copy "
                          "not reported destroyed.",
                          t->abs, (uintmax_t) t->st.st_ino, (uintmax_t) t->st.st_ino);
                return YB_EXIT_FAILED;
        }
        *read_back = false;
        if (rep->overwritten) {
                bool oom = false;

                *read_back = changed(t, &oom);
                if (oom)
                        return log_oom(), YB_EXIT_FAILED;
                if (!*read_back)
                        rep->overwritten = false; /* not as the erase said: claim nothing */
        }
        return 0;
}

int cli_key_destroy(int argc, char **argv) {
        static const struct option opts[] = {
                { "no-daemon", no_argument, NULL, 'N' },
                CLI_CTL_OPTIONS,
                {},
        };
        _cleanup_(json_decrefp) json_t *copy = NULL, *evidence = NULL, *body = NULL, *done = NULL;
        _cleanup_(target_done) Target t = { .dfd = -EBADF, .fd = -EBADF, .bytes = YB_BUF_INIT };
        _cleanup_free_ char *api = NULL;
        const char *socket = NULL, *path;
        char host[256], why[1200];
        bool json = false, no_daemon = false, read_back = false;
        YbEraseReport rep;
        int64_t id = 0;
        CliCtl ctl;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                if (c == 'N')
                        no_daemon = true;
                else {
                        r = cli_ctl_option(c, &socket, &json, usage, "key");
                        if (r >= 0)
                                return r;
                }
        }
        if (optind + 1 != argc) {
                log_error("key destroy takes one private key file.");
                return cli_usage_error("key");
        }
        path = argv[optind];
        r = examine(path, &t);
        if (r != 0)
                return r;
        if (gethostname(host, sizeof(host)) < 0) {
                log_error("Not destroyed: cannot read this host's name: %s", strerror(errno));
                return YB_EXIT_FAILED;
        }
        host[sizeof(host) - 1] = 0;
        cli_ctl_init(&ctl, socket);
        if (!no_daemon) {
                r = which_copy(&ctl, &t.pub, host, t.abs, &copy);
                if (r != 0)
                        return r;
                (void) cli_json_int(copy, "id", &id);
        }
        r = destroy(&t, &rep, &read_back);
        if (r != 0)
                return r;
        evidence = evidence_of(&rep, read_back, host, t.abs);
        if (!evidence)
                return log_oom(), YB_EXIT_FAILED;
        if (!no_daemon) {
                body = json_pack("{s:O}", "evidence", evidence);
                if (!body || asprintf(&api, "/v1/key-copies/%" PRId64 "/destroyed", id) < 0)
                        return log_oom(), YB_EXIT_FAILED;
                r = cli_key_post(&ctl, api, body, &done, why, sizeof(why));
                if (r != 0) {
                        log_error("'%s' is destroyed, but yunbakd did not record it: %s. Key copy "
                                  "%" PRId64 " stays 'held' there until it is reported: hand the "
                                  "evidence below to the operations unit, who record it (POST "
                                  "/v1/key-copies/%" PRId64 "/destroyed, docs/api.md).",
                                  t.abs, why, id, id);
                        cli_json_print(evidence);
                        return r;
                }
        }
        if (json) {
                _cleanup_(json_decrefp) json_t *out = json_pack(
                        "{s:O, s:O}", "copy", done ? done : json_null(), "evidence", evidence);

                cli_json_print(out);
        } else
                print_done(&rep, &t.pub, done, host, t.abs);
        if (no_daemon && !json) {
                printf("yunbakd was not told (--no-daemon): a registered copy stays 'held' there "
                       "until reported. Hand this evidence to the operations unit:\n");
                cli_json_print(evidence);
        }
        return YB_EXIT_OK;
}
