/* A running PostgreSQL cluster met by the ordinary walk of a source: its data directory holds
 * PG_VERSION and a postmaster.pid whose process is alive. Copied as plain files it would restore
 * without error and hold a torn, inconsistent database (issue 12's 891,635 rows of 2,000,000), so
 * the agent refuses it (--live-postgresql error, the default) or warns and copies it all the same
 * (warn), unless it is the data directory of a --postgresql of this same backup: then it is
 * already in the snapshot, consistent, as _pg/<hook>/data, and the walk leaves it out. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "agents/backup-internal.h"
#include "core/base/log.h"
#include "core/base/pathutil.h"

long agent_pg_live_pid(int dir_fd, const char *name) {
        _cleanup_free_ char *pid_path = NULL, *version_path = NULL;
        _cleanup_close_ int fd = -EBADF;
        char buf[32], *end;
        struct stat st;
        ssize_t k;
        long pid;

        if (asprintf(&version_path, "%s/PG_VERSION", name) < 0 ||
            asprintf(&pid_path, "%s/postmaster.pid", name) < 0)
                return 0;
        if (fstatat(dir_fd, version_path, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                return 0;
        fd = openat(dir_fd, pid_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return 0;
        k = read(fd, buf, sizeof(buf) - 1);
        if (k <= 0)
                return 0;
        buf[k] = 0;
        pid = strtol(buf, &end, 10);
        if (pid <= 0 || (*end != '\n' && *end != 0))
                return 0;
        if (kill((pid_t) pid, 0) < 0 && errno != EPERM)
                return 0;
        return pid;
}

/* The hook whose data directory is e (the same directory, by device and inode), or NULL. */
static const char *covering_hook(const AgentBackup *b, const AgentWalkEntry *e) {
        for (size_t i = 0; i < b->hdr.n_pg; i++) {
                struct stat st;

                if (b->hdr.pg[i].data_directory && stat(b->hdr.pg[i].data_directory, &st) == 0 &&
                    st.st_dev == e->st->st_dev && st.st_ino == e->st->st_ino)
                        return b->hdr.pg[i].name;
        }
        return NULL;
}

int agent_pg_live_check(AgentBackup *b, const AgentWalkEntry *e) {
        _cleanup_free_ char *esc = NULL;
        const char *hook;
        long pid;

        if (!S_ISDIR(e->st->st_mode) || e->dir_no_pg_version)
                return 0;
        pid = agent_pg_live_pid(e->dir_fd, e->name);
        if (pid == 0)
                return 0;
        hook = covering_hook(b, e);
        if (hook) {
                log_info("'%s' is the data directory of PostgreSQL hook '%s', in the snapshot as "
                         "%s/%s/data: not copied again as files.",
                         e->abs, hook, YB_PG_DIR, hook);
                return 1;
        }
        esc = yb_path_escape(e->abs);
        if (b->args->live_postgresql_warn) {
                log_warning("'%s' is the data directory of a running PostgreSQL server (pid %ld, "
                            "postmaster.pid): backed up as plain files, as --live-postgresql warn "
                            "asks, it will not be consistent. Add a postgresql hook with mode: "
                            "physical for it (docs/postgresql.md), or exclude it.",
                            esc ? esc : e->abs, pid);
                return 0;
        }
        log_error("Backup of system '%s' failed, nothing was committed: '%s' is the data directory "
                  "of a running PostgreSQL server (pid %ld, postmaster.pid), which copied as plain "
                  "files would not be consistent. Add a postgresql hook with mode: physical for it "
                  "(docs/postgresql.md), or exclude it.",
                  b->args->system, esc ? esc : e->abs, pid);
        b->walk_stopped_said = true;
        return -ECANCELED;
}
