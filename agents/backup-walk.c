/* The walk step of a backup: every source walked (agents/walk.c), and each entry it meets recorded
 * by its kind, with its metadata and extended attributes: directories, symlinks and special files
 * here, regular files by agents/file.c; a running PostgreSQL cluster met in a source is looked at
 * first (agents/pg-live.c). Then what the parent had and the walk did not see is
 * counted as deleted. */
#include <limits.h>
#include <stdlib.h>

#include "agents/backup-internal.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"

static void walk_error(void *userdata, const char *abs, int error) {
        if (error == -ESTALE)
                agent_backup_error(userdata, abs, 0, "it was replaced while being read");
        else
                agent_backup_error(userdata, abs, error, "cannot read it");
}

/* Reads the symlink e into me->target (freed by the caller). 0; 1 when it could not be read
 * (reported); -ENOMEM. */
static int read_symlink(AgentBackup *b, const AgentWalkEntry *e, YbEntry *me) {
        size_t size = (size_t) e->st->st_size + 1;

        for (;;) {
                ssize_t k;

                free(me->target);
                me->target = malloc(size);
                if (!me->target)
                        return -ENOMEM;
                k = readlinkat(e->dir_fd, e->name, me->target, size);
                if (k < 0) {
                        agent_backup_error(b, e->abs, negative_errno(), "cannot read the symlink");
                        return 1;
                }
                if ((size_t) k < size) {
                        me->target[k] = 0;
                        return 0;
                }
                size *= 2;
        }
}

/* Records the entry of a kind other than a regular file. */
static int backup_other(AgentBackup *b, const AgentWalkEntry *e, YbEntry *me) {
        const struct stat *st = e->st;
        int r;

        switch (st->st_mode & S_IFMT) {
        case S_IFDIR:
                me->type = YB_ENTRY_DIR;
                r = yb_snapshot_writer_add(b->w, me);
                b->hdr.counts.dirs++;
                return r;
        case S_IFLNK:
                r = read_symlink(b, e, me);
                if (r != 0)
                        return r < 0 ? r : 0;
                me->type = YB_ENTRY_SYMLINK;
                r = yb_snapshot_writer_add(b->w, me);
                b->hdr.counts.symlinks++;
                return r;
        case S_IFIFO:
        case S_IFCHR:
        case S_IFBLK:
                me->type = S_ISFIFO(st->st_mode)  ? YB_ENTRY_FIFO
                           : S_ISCHR(st->st_mode) ? YB_ENTRY_CHARDEV
                                                  : YB_ENTRY_BLOCKDEV;
                me->rdev = st->st_rdev;
                r = yb_snapshot_writer_add(b->w, me);
                b->hdr.counts.special++;
                return r;
        default:
                /* Sockets belong to a running process; there is nothing to keep. */
                return 0;
        }
}

int agent_backup_entry(void *userdata, const AgentWalkEntry *e) {
        AgentBackup *b = userdata;
        YbEntry me;
        int r;

        agent_meta_from_stat(&b->owners, e, &me);
        /* An unchanged file that had none has none: not asked again (54,000 system calls on the
         * bench corpus, a third of a no-change incremental's CPU). Nor a directory the walk
         * ahead found without any, when it read it. */
        if ((S_ISREG(e->st->st_mode) && agent_xattrs_known_none(b, e)) || e->dir_no_xattrs)
                r = 0;
        else
                r = agent_xattrs_read(b, e, &me);
        if (r >= 0)
                r = S_ISREG(e->st->st_mode) ? agent_backup_file(b, e, &me)
                                            : backup_other(b, e, &me);
        free(me.target);
        agent_xattrs_free(me.xattrs, me.n_xattrs);
        return r;
}

/* The walk of a source: a running PostgreSQL cluster's files are not taken for ordinary ones. */
static int source_entry(void *userdata, const AgentWalkEntry *e) {
        int r = agent_pg_live_check(userdata, e);

        if (r != 0)
                return r;
        return agent_backup_entry(userdata, e);
}

/* An entry met by the walker that waited this long is statted again before it is backed up
 * (agents/walk-ahead.c): long enough for the parent's index to load, from a cold disk too,
 * while the walker starts; in a full backup, where the walker is far ahead of the files being
 * read, its stats are no older than this. */
#define WALK_AHEAD_MAX_AGE_NS YB_NSEC_PER_SEC

/* Starts the walk of source i under its root name. A source named through a symlink
 * (/var/lib/mysql -> /data/mysql) means what it points to: back that up, under the name given.
 * Below it, links are kept as links. */
static int start_source(AgentBackup *b, size_t i, AgentWalkAhead **ret) {
        const AgentBackupArgs *args = b->args;
        _cleanup_free_ char *target = NULL;
        const char *source = args->paths[i];
        struct stat lst;

        if (lstat(source, &lst) == 0 && S_ISLNK(lst.st_mode)) {
                target = realpath(source, NULL);
                if (target) {
                        log_info("'%s' is a symlink to '%s': backing up what it points to, as "
                                 "'%s'.",
                                 source, target, b->roots[i]);
                        source = target;
                }
        }
        return agent_walk_ahead_start(source, b->roots[i], args->excludes, args->n_excludes,
                                      WALK_AHEAD_MAX_AGE_NS, ret);
}

int agent_backup_walk_begin(AgentBackup *b) {
        int r = b->args->n_paths > 0 ? start_source(b, 0, &b->ahead) : 0;

        return r < 0 ? agent_backup_failed(b, r) : YB_EXIT_OK;
}

/* Walks source i, started already or now. Returns 1 when the source itself cannot be read
 * (reported), else 0 or -errno. */
static int walk_source(AgentBackup *b, size_t i) {
        AgentWalkAhead *a = i == 0 ? TAKE_PTR(b->ahead) : NULL;
        int r = a ? 0 : start_source(b, i, &a);

        if (r >= 0)
                r = agent_walk_ahead_finish(a, source_entry, walk_error, b);
        if (r == -ENOENT || r == -EACCES || r == -ENOTDIR) {
                agent_backup_error(b, b->args->paths[i], r, "cannot read the source");
                return 1;
        }
        return r;
}

/* "'/a', '/b'": the sources, for a message; NULL when out of memory. */
static char *join_paths(const AgentBackupArgs *args) {
        char *s = strdup("");

        for (size_t i = 0; s && i < args->n_paths; i++) {
                char *t = NULL;

                if (asprintf(&t, "%s%s'%s'", s, i ? ", " : "", args->paths[i]) < 0)
                        t = NULL;
                free(s);
                s = t;
        }
        return s;
}

int agent_backup_walk(AgentBackup *b) {
        size_t unread = 0;
        int r = 0;

        for (size_t i = 0; i < b->args->n_paths && r >= 0; i++) {
                r = walk_source(b, i);
                unread += r == 1;
        }
        if (r < 0 && b->walk_stopped_said)
                return YB_EXIT_FAILED;
        if (r < 0)
                return agent_backup_failed(b, r);
        /* A snapshot of nothing would pass for a backup; a restore of it would give back nothing.
         */
        if (b->args->n_paths > 0 && unread == b->args->n_paths && b->args->n_streams == 0 &&
            b->args->n_pg == 0) {
                _cleanup_free_ char *names = join_paths(b->args);

                return agent_fail(-ENOENT,
                                  "Backup of system '%s' failed, nothing was committed: none of "
                                  "its sources can be read (%s). Check the paths given to the "
                                  "backup.",
                                  b->args->system, names ? names : "?");
        }
        if (b->index)
                for (size_t i = 0; i < b->index->n; i++)
                        b->hdr.counts.deleted += !b->seen[i];
        return YB_EXIT_OK;
}
