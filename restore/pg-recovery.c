/* restore/pg-recovery.c: what a restored PostgreSQL data directory needs to recover to a time:
 * the tablespace map pointing at the restored tablespaces, recovery.signal and the recovery
 * settings, and pg_waldump's word on the newest transaction end in the WAL laid out
 * (pg-restore.h).
 *
 * Why pg_waldump: PostgreSQL 14 and later end recovery with FATAL "recovery ended before
 * configured recovery target was reached" when the WAL holds no commit or abort after the
 * target time, although the state at the end of such WAL is exactly the target's. So a target
 * is written only when a transaction ended after it; otherwise the restore recovers to the end
 * of the WAL, which is the same state. */
#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/base/buf.h"
#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/base/spawn.h"
#include "core/base/timeutil.h"
#include "restore/pg-restore.h"

extern char **environ;

char *yb_pg_waldump_find(void) {
        glob_t gl = { 0 };
        char *best = NULL;
        int best_v = -1;

        if (glob("/usr/lib/postgresql/*/bin/pg_waldump", 0, NULL, &gl) == 0)
                for (size_t i = 0; i < gl.gl_pathc; i++) {
                        int v = atoi(gl.gl_pathv[i] + strlen("/usr/lib/postgresql/"));

                        if (v > best_v && access(gl.gl_pathv[i], X_OK) == 0) {
                                free(best);
                                best = strdup(gl.gl_pathv[i]);
                                best_v = v;
                        }
                }
        globfree(&gl);
        if (best)
                return best;
        /* PATH */
        const char *path = getenv("PATH");
        _cleanup_free_ char *copy = strdup(path ? path : "/usr/bin:/bin");
        char *save = NULL;

        for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; d;
             d = strtok_r(NULL, ":", &save)) {
                char *p = NULL;

                if (asprintf(&p, "%s/pg_waldump", d) < 0)
                        return NULL;
                if (access(p, X_OK) == 0)
                        return p;
                free(p);
        }
        return NULL;
}

/* The time of a transaction-end line of `pg_waldump --rmgr=Transaction` run with TZ=UTC:
 * "... desc: COMMIT 2026-12-06 11:40:01.123456 UTC; ..." (COMMIT_PREPARED and the aborts
 * carry the prepared xid first: "ABORT_PREPARED 737: 2026-..."). 1 and *ret_ns, or 0. */
static int xact_end_time(const char *line, int64_t *ret_ns) {
        static const char *const kinds[] = { "COMMIT ", "ABORT ", "COMMIT_PREPARED ",
                                             "ABORT_PREPARED " };
        const char *p = strstr(line, "desc: ");
        char when[40], stamp[48];
        size_t n;

        if (!p)
                return 0;
        p += strlen("desc: ");
        for (n = 0; n < ELEMENTSOF(kinds); n++)
                if (strncmp(p, kinds[n], strlen(kinds[n])) == 0)
                        break;
        if (n == ELEMENTSOF(kinds))
                return 0;
        p += strlen(kinds[n]);
        if (*p >= '0' && *p <= '9' && strchr(p, ':') && p[strspn(p, "0123456789")] == ':')
                p += strspn(p, "0123456789") + 2; /* a prepared transaction's xid */
        if (strlen(p) < 30 || strncmp(p + 26, " UTC", 4) != 0)
                return 0;
        memcpy(when, p, 26);
        when[26] = 0;
        snprintf(stamp, sizeof(stamp), "%sZ", when);
        return yb_time_parse(stamp, ret_ns) < 0 ? 0 : 1;
}

/* Runs waldump over WAL files from..to of waldir; the newest transaction end's time. 1, 0 or
 * -errno as yb_pg_newest_xact_end. */
static int waldump_range(const char *waldump, const char *waldir, const char *from, const char *to,
                         int64_t *ret_ns) {
        _cleanup_free_ char *start = NULL, *end = NULL;
        _cleanup_close_ int out = -EBADF, err = -EBADF;
        char errs[4096];
        ssize_t n_errs;
        _cleanup_free_ char **env = NULL;
        _cleanup_free_ char *line = NULL;
        char *argv[] = { (char *) waldump, (char *) "--rmgr=Transaction", NULL, NULL, NULL };
        YbChild child = YB_CHILD_NULL;
        size_t n_env = 0, cap = 0;
        int64_t newest = INT64_MIN;
        FILE *f;
        int k, status;

        if (asprintf(&start, "%s/%s", waldir, from) < 0 || asprintf(&end, "%s/%s", waldir, to) < 0)
                return -ENOMEM;
        argv[2] = start;
        argv[3] = end;
        for (char **e = environ; *e; e++)
                n_env++;
        env = new0(char *, n_env + 2);
        if (!env)
                return -ENOMEM;
        n_env = 0;
        for (char **e = environ; *e; e++)
                if (strncmp(*e, "TZ=", 3) != 0)
                        env[n_env++] = *e;
        env[n_env] = (char *) "TZ=UTC"; /* its times in UTC, named so */
        out = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        err = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (out < 0 || err < 0)
                return negative_errno();
        k = yb_spawn(&(YbSpawnArgs){ .argv = argv,
                                     .env = env,
                                     .fd = { YB_SPAWN_NULL, out, err },
                                     .group = YB_SPAWN_GROUP_NEW },
                     &child);
        if (k < 0)
                return k;
        k = yb_child_wait(&child, &status);
        yb_child_done(&child);
        if (k < 0)
                return k;
        if (lseek(out, 0, SEEK_SET) < 0 || lseek(err, 0, SEEK_SET) < 0)
                return negative_errno();
        f = fdopen(TAKE_FD(out), "r");
        if (!f)
                return negative_errno();
        while (getline(&line, &cap, f) > 0) {
                int64_t t;

                if (xact_end_time(line, &t) > 0)
                        newest = MAX(newest, t);
        }
        fclose(f);
        /* It always ends with an error at the end of the WAL ("invalid record length"); one
         * that says it could not read the files at all means it told us nothing. */
        n_errs = yb_read_all(err, errs, sizeof(errs) - 1);
        errs[MAX(n_errs, 0)] = 0;
        if (newest == INT64_MIN && strstr(errs, "could not")) {
                log_debug("%s: %s", waldump, errs);
                return -EIO;
        }
        if (newest == INT64_MIN)
                return 0;
        *ret_ns = newest;
        return 1;
}

int yb_pg_newest_xact_end(const char *waldump, const char *waldir, uint32_t timeline,
                          uint32_t segment_size, uint64_t first_segno, uint64_t last_segno,
                          int64_t *ret_ns) {
        /* From the newest file back: each run reads a file and the one after it, so that a
         * record that starts in one file and ends in the next is read whole. */
        for (uint64_t s = last_segno + 1; s-- > first_segno;) {
                char from[YB_PG_WAL_NAME_LEN + 1], to[YB_PG_WAL_NAME_LEN + 1];
                int k;

                yb_pg_wal_name(timeline, s * segment_size, segment_size, from);
                yb_pg_wal_name(timeline, MIN(s + 1, last_segno) * segment_size, segment_size, to);
                k = waldump_range(waldump, waldir, from, to, ret_ns);
                if (k != 0)
                        return k;
        }
        return 0;
}

int yb_pg_tablespace_map_rewrite(const char *datadir, const char *tsroot) {
        _cleanup_(yb_buf_done) YbBuf in = YB_BUF_INIT, out = YB_BUF_INIT;
        _cleanup_close_ int dfd = open(datadir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct stat st;
        char *p, *end;
        int k;

        if (dfd < 0)
                return negative_errno();
        k = yb_read_file_at(dfd, "tablespace_map", 1024 * 1024, &in);
        if (k == -ENOENT)
                return 0;
        if (k < 0)
                return k;
        if (in.size == 0)
                return 0; /* no tablespace but the two of every cluster */
        if (fstatat(dfd, "tablespace_map", &st, AT_SYMLINK_NOFOLLOW) < 0)
                return negative_errno();
        p = (char *) in.data;
        end = p + in.size;
        while (p < end) {
                char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t n = nl ? (size_t) (nl - p) : (size_t) (end - p);
                size_t digits = strspn(p, "0123456789");

                if (n == 0) {
                        p += 1;
                        continue;
                }
                if (digits == 0 || digits > 10 || digits >= n || p[digits] != ' ')
                        return -EBADMSG;
                k = yb_buf_printf(&out, "%.*s %s/%.*s\n", (int) digits, p, tsroot, (int) digits, p);
                if (k < 0)
                        return k;
                p += n + 1;
        }
        k = yb_write_file_atomic_at(dfd, "tablespace_map", out.data, out.size, st.st_mode & 07777);
        if (k < 0)
                return k;
        if (fchownat(dfd, "tablespace_map", st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 &&
            geteuid() == 0)
                return negative_errno();
        return 0;
}

void yb_pg_time_format(int64_t ns, char ret[32]) {
        int64_t sec = yb_floor_div(ns, 1000000000), usec = (ns - sec * 1000000000) / 1000;
        time_t t = (time_t) sec;
        struct tm tm;
        size_t n;

        gmtime_r(&t, &tm);
        n = strftime(ret, 20, "%Y-%m-%d %H:%M:%S", &tm);
        snprintf(ret + n, 32 - n, ".%06u+00", (unsigned) (usec % 1000000));
}

/* The characters a path may not hold in restore_command, as it is quoted there: within
 * "..." for the shell, within '...' in postgresql.auto.conf. */
static bool quotable(const char *s) {
        return !strpbrk(s, "\"'`$\\\n\r");
}

int yb_pg_chown_like(const char *datadir, const char *path) {
        struct stat st;
        DIR *d;
        struct dirent *de;
        int fd, k = 0;

        if (geteuid() != 0)
                return 0;
        if (stat(datadir, &st) < 0)
                return negative_errno();
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return negative_errno();
        if (fchown(fd, st.st_uid, st.st_gid) < 0) {
                k = negative_errno();
                safe_close(fd);
                return k;
        }
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return 0; /* not a directory */
        }
        while (k >= 0 && (de = readdir(d)))
                if (de->d_name[0] != '.' &&
                    fchownat(dirfd(d), de->d_name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
                        k = negative_errno();
        closedir(d);
        return k;
}

int yb_pg_recovery_write(const char *datadir, const char *waldir, int64_t target_ns,
                         int64_t now_ns) {
        _cleanup_(yb_buf_done) YbBuf conf = YB_BUF_INIT, old = YB_BUF_INIT;
        _cleanup_close_ int dfd = -EBADF, fd = -EBADF;
        char now[32], target[32];
        struct stat st;
        int k;

        if (!quotable(waldir))
                return -EINVAL;
        dfd = open(datadir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fstat(dfd, &st) < 0)
                return negative_errno();
        fd = openat(dfd, "recovery.signal", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                    0600);
        if (fd < 0 || (geteuid() == 0 && fchown(fd, st.st_uid, st.st_gid) < 0))
                return negative_errno();
        fd = safe_close(fd);

        /* Later lines win in postgresql.auto.conf: what a restore of this cluster wrote
         * before is overridden, and every other target is set empty (only one may be set). */
        k = yb_read_file_at(dfd, "postgresql.auto.conf", 16 * 1024 * 1024, &old);
        if (k < 0 && k != -ENOENT)
                return k;
        yb_time_format_iso(now_ns, now);
        k = yb_buf_printf(&conf,
                          "%s# Written by yunbak restore at %s: recover from the WAL it laid "
                          "out in %s.\n"
                          "restore_command = 'cp \"%s/%%f\" \"%%p\"'\n"
                          "recovery_target = ''\n"
                          "recovery_target_lsn = ''\n"
                          "recovery_target_name = ''\n"
                          "recovery_target_xid = ''\n",
                          old.size > 0 && ((char *) old.data)[old.size - 1] != '\n' ? "\n" : "",
                          now, waldir, waldir);
        if (k >= 0 && target_ns >= 0) {
                yb_pg_time_format(target_ns, target);
                k = yb_buf_printf(&conf,
                                  "recovery_target_time = '%s'\n"
                                  "recovery_target_action = 'promote'\n",
                                  target);
        } else if (k >= 0)
                k = yb_buf_printf(&conf, "recovery_target_time = ''\n");
        if (k < 0)
                return k;
        fd = openat(dfd, "postgresql.auto.conf",
                    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return negative_errno();
        if (old.size == 0 && geteuid() == 0 && fchown(fd, st.st_uid, st.st_gid) < 0)
                return negative_errno();
        k = yb_write_all(fd, conf.data, conf.size);
        if (k >= 0)
                k = yb_fsync(fd);
        return k;
}
