/* orchestrator/daemon-guard.c: one yunbakd per state directory, a catalog that reads through,
 * and a catalog that still holds the history yunbakd last sealed (daemon-guard.h).
 *
 * The lock is a POSIX record lock on <state>/yunbakd.lock: the kernel drops it when the process
 * dies, however it dies, and F_GETLK names the holder, so a stale lock file never stops a start.
 * The sealed head is "<seq> <hex hash>\n" in <state>/audit-head, written (atomically) after each
 * seal that sealed something new. */
#include "orchestrator/daemon-guard.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/audit.h"
#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/crypto/hash.h"

#define HEAD_FILE "audit-head"

int yb_daemon_lock_state(YbDaemon *d) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        char pid[32];
        int r;

        r = yb_mkdir_p_at(AT_FDCWD, d->config->state, 0700);
        if (r < 0)
                return log_error_errno(r, "Cannot create the state directory %s: %m",
                                       d->config->state);
        if (asprintf(&path, "%s/yunbakd.lock", d->config->state) < 0)
                return log_oom();
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return log_error_errno(-errno, "Cannot open the lock file %s: %m", path);
        if (fcntl(fd, F_SETLK, &fl) < 0) {
                if (errno != EAGAIN && errno != EACCES)
                        return log_error_errno(-errno, "Cannot lock %s: %m", path);
                fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET };
                if (fcntl(fd, F_GETLK, &fl) < 0 || fl.l_type == F_UNLCK)
                        fl.l_pid = 0;
                log_error("Another yunbakd (pid %ld) already runs on the state directory %s "
                          "(it holds %s). Stop it first ('systemctl stop yunbakd', or kill %ld); "
                          "two daemons on one catalog would each take the other's jobs for "
                          "interrupted ones.",
                          (long) fl.l_pid, d->config->state, path, (long) fl.l_pid);
                return -EBUSY;
        }
        snprintf(pid, sizeof(pid), "%ld\n", (long) getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, strlen(pid), 0) < 0)
                return log_error_errno(-errno, "Cannot write %s: %m", path);
        d->lock_fd = TAKE_FD(fd);
        return 0;
}

/* The sealed head recorded in the state directory: 0 with *ret_seq 0 when there is none. */
static int read_head(YbDaemon *d, const char *path, int64_t *ret_seq,
                     uint8_t ret_hash[YB_HASH_SIZE]) {
        YbBuf b = YB_BUF_INIT;
        char hex[2 * YB_HASH_SIZE + 1];
        long long seq;
        int r;

        r = yb_read_file_at(AT_FDCWD, path, 4096, &b);
        if (r == -ENOENT) {
                *ret_seq = 0;
                return 0;
        }
        if (r < 0)
                return log_error_errno(r, "Cannot read %s: %m", path);
        r = yb_buf_append(&b, "", 1);
        if (r >= 0 && (sscanf((const char *) b.data, "%lld %64s", &seq, hex) != 2 || seq < 1 ||
                       yb_hex_decode(hex, ret_hash, YB_HASH_SIZE) < 0))
                r = log_error_errno(-EBADMSG,
                                    "%s is damaged (it should hold the sequence number and hash "
                                    "of the audit record sealed last); remove it only if you "
                                    "are sure the catalog %s is the one yunbakd last wrote",
                                    path, d->config->catalog);
        yb_buf_done(&b);
        if (r < 0)
                return r;
        *ret_seq = seq;
        return 0;
}

/* Whether the catalog c (NULL: there is none) holds the sealed head. */
static int check_history(YbDaemon *d, YbCatalog *c, bool accept_new, char **ret_lost) {
        _cleanup_free_ char *path = NULL;
        uint8_t hash[YB_HASH_SIZE];
        int64_t seq = 0, last = 0;
        uint8_t last_hash[YB_HASH_SIZE];
        int r;

        if (asprintf(&path, "%s/" HEAD_FILE, d->config->state) < 0)
                return log_oom();
        r = read_head(d, path, &seq, hash);
        if (r < 0 || seq == 0)
                return r; /* a first start, or a yunbakd that never sealed */
        r = c ? yb_audit_find(c, seq, hash) : -ENOENT;
        if (r == 0)
                return 0;
        if (r != -ENOENT && r != -EBADMSG)
                return log_error_errno(r, "Cannot read the audit log in the catalog %s: %m",
                                       d->config->catalog);
        if (c)
                (void) yb_audit_sealed_head(c, &last, last_hash);
        if (accept_new) {
                log_warning("The catalog %s lacks the audit history yunbakd sealed last (record "
                            "%" PRId64 "); starting with it as --accept-new-catalog says. The "
                            "earlier jobs and audit records are not in it.",
                            d->config->catalog, seq);
                if (asprintf(ret_lost,
                             "the catalog lacked the audit history sealed up to record %" PRId64
                             " (%s); started anyway with --accept-new-catalog",
                             seq,
                             r == -ENOENT ? "missing: emptied, new or an older copy"
                                          : "a different record there: replaced") < 0)
                        return log_oom();
                return 1;
        }
        log_error("The catalog %s does not hold the audit history yunbakd sealed last: record "
                  "%" PRId64 " %s (%s says so; the catalog's newest seal is at record %" PRId64
                  "). The catalog was emptied, replaced, or restored from an older copy, and "
                  "its jobs and audit records would be lost silently. Put the right catalog back "
                  "(with its -wal file), or, to start with this one and keep the loss on record, "
                  "start yunbakd once with --accept-new-catalog (docs/operations.md, \"The "
                  "catalog\").",
                  d->config->catalog, seq, r == -ENOENT ? "is missing" : "has another content",
                  path, last);
        return -ENODATA;
}

static int quick_check(YbDaemon *d, YbCatalog *c) {
        _cleanup_free_ char *problem = NULL;
        int r = yb_catalog_quick_check(c, &problem);

        for (char *p = problem; p && *p; p++)
                if (*p == '\n')
                        *p = ' '; /* one line in the journal */
        if (r == -EBADMSG)
                log_error("The catalog %s is damaged (SQLite's quick_check: %s). yunbakd will not "
                          "run jobs it cannot record. Stop here, keep a copy of the file, then "
                          "restore the catalog from a backup, or recover what can be read "
                          "('sqlite3 %s .recover >recovered.sql') and rebuild the snapshots with "
                          "'yunbak catalog rebuild' (docs/operations.md, \"The catalog\").",
                          d->config->catalog, problem ? problem : "?", d->config->catalog);
        else if (r < 0)
                log_error_errno(r, "Cannot check the catalog %s: %m", d->config->catalog);
        return r;
}

static int open_error(YbDaemon *d, int r) {
        if (r == -EBADMSG)
                log_error("The catalog %s is not an SQLite database (damaged or overwritten). "
                          "Keep a copy of it, then restore it from a backup, or move it away and "
                          "start with --accept-new-catalog (docs/operations.md, \"The "
                          "catalog\").",
                          d->config->catalog);
        else
                log_error_errno(r, "Cannot open the catalog %s: %m%s", d->config->catalog,
                                r == -EPROTONOSUPPORT
                                        ? " (it was written by a newer yunbakd; never downgrade)"
                                        : "");
        return r;
}

int yb_daemon_open_catalog(YbDaemon *d, bool accept_new, char **ret_lost) {
        int r;

        r = yb_catalog_open(d->config->catalog, &d->catalog);
        if (r < 0)
                return open_error(d, r);
        r = quick_check(d, d->catalog);
        if (r < 0)
                return r;
        return check_history(d, d->catalog, accept_new, ret_lost);
}

int yb_daemon_check_catalog(YbDaemon *d) {
        _cleanup_(yb_catalog_closep) YbCatalog *live = NULL;
        int r;

        if (access(d->config->catalog, F_OK) == 0) {
                r = yb_catalog_open_readonly(d->config->catalog, &live);
                if (r == -EBADMSG) {
                        struct stat st;

                        /* Empty: a fresh catalog is acceptable only if nothing was sealed. */
                        if (stat(d->config->catalog, &st) < 0 || st.st_size > 0)
                                return open_error(d, r);
                } else if (r < 0)
                        return open_error(d, r);
                if (live) {
                        r = quick_check(d, live);
                        if (r < 0)
                                return r;
                }
        }
        r = check_history(d, live, false, NULL);
        if (r < 0)
                return r;
        /* The policies are checked against an empty catalog: nothing reaches the live one. */
        r = yb_catalog_open(":memory:", &d->catalog);
        if (r < 0)
                return log_error_errno(r, "Cannot make a catalog in memory: %m");
        return 0;
}

int yb_daemon_save_sealed_head(YbDaemon *d) {
        _cleanup_free_ char *path = NULL;
        uint8_t hash[YB_HASH_SIZE];
        char hex[2 * YB_HASH_SIZE + 1], line[128];
        int64_t seq = 0;
        int r;

        r = yb_audit_sealed_head(d->catalog, &seq, hash);
        if (r < 0)
                return log_error_errno(r, "Cannot read the audit log's last seal: %m");
        if (seq == 0 || seq == d->saved_head_seq)
                return 0;
        if (asprintf(&path, "%s/" HEAD_FILE, d->config->state) < 0)
                return log_oom();
        yb_hex_encode(hash, sizeof(hash), hex);
        snprintf(line, sizeof(line), "%" PRId64 " %s\n", seq, hex);
        r = yb_write_file_atomic_at(AT_FDCWD, path, line, strlen(line), 0600);
        if (r < 0)
                return log_error_errno(r, "Cannot write %s: %m", path);
        d->saved_head_seq = seq;
        return 0;
}
