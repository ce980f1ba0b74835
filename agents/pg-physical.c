/* A PostgreSQL base backup inside a tier-1 snapshot (docs/format.md "PostgreSQL",
 * docs/postgresql.md "Physical backups"): on one libpq session (pg-session.c), a temporary
 * replication slot and pg_backup_start; then the ordinary walk of the data directory as
 * "_pg/<hook>/data" and of each tablespace as "_pg/<hook>/tablespaces/<oid>", leaving out what
 * PostgreSQL documents as not to be copied (pg_basebackup's list) and keeping a file that changes
 * while read as it was read; then pg_backup_stop, whose backup_label and tablespace_map go into
 * the data directory, with the WAL from the start LSN's file to the stop LSN's, read from the
 * server's pg_wal (the slot kept it there), so that the restored data directory alone starts and
 * is consistent. Any failure ends the session, and with it the server's backup, before the
 * snapshot is dropped. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "agents/backup-internal.h"
#include "agents/pg-session.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/base/pathutil.h"
#include "core/base/timeutil.h"

int agent_pg_check_names(const AgentBackupArgs *args, char *const *roots) {
        if (args->n_pg == 0)
                return YB_EXIT_OK;
        for (size_t i = 0; i < args->n_pg; i++) {
                if (!yb_pg_name_valid(args->pg[i].name)) {
                        log_error("--postgresql NAME=CONNINFO: '%s' is not a valid hook name; use "
                                  "1 to %d of A-Z, a-z, 0-9, '_', '.' and '-', not starting with "
                                  "'.'.",
                                  args->pg[i].name, YB_PG_NAME_MAX);
                        return YB_EXIT_USAGE;
                }
                for (size_t j = 0; j < i; j++)
                        if (streq(args->pg[i].name, args->pg[j].name)) {
                                log_error("--postgresql '%s' is given twice: give each cluster "
                                          "once.",
                                          args->pg[i].name);
                                return YB_EXIT_USAGE;
                        }
        }
        for (size_t j = 0; j < args->n_paths; j++)
                if (streq(roots[j], YB_PG_DIR)) {
                        log_error("Source '%s' would be kept under the name '" YB_PG_DIR "', "
                                  "where the snapshot keeps the PostgreSQL clusters: back up its "
                                  "parent directory, or rename it.",
                                  args->paths[j]);
                        return YB_EXIT_USAGE;
                }
        for (size_t j = 0; j < args->n_streams; j++)
                if (yb_path_startswith(args->streams[j].name, YB_PG_DIR)) {
                        log_error("Stream '%s' lies under '" YB_PG_DIR "', where the snapshot "
                                  "keeps the PostgreSQL clusters: give it another name (such as "
                                  "_streams/...).",
                                  args->streams[j].name);
                        return YB_EXIT_USAGE;
                }
        return YB_EXIT_OK;
}

/* One hook's base backup as it goes. */
typedef struct PgBase {
        AgentBackup *b;
        const AgentPgHook *hook;
        AgentPgSession *session;
        AgentPgInfo info;
        AgentPgStop stop;
        YbPgBackup rec;    /* what the header will say */
        struct stat data;  /* the data directory's */
        size_t root_len;   /* of the walk's snapshot root ("_pg/<hook>/data") */
        bool in_data;      /* walking the data directory (not a tablespace) */
        uint64_t excluded; /* entries left out as PostgreSQL says */
        uint64_t unlogged; /* files of unlogged relations left out */
} PgBase;

static void pg_base_done(PgBase *p) {
        agent_pg_session_free(p->session);
        agent_pg_info_done(&p->info);
        agent_pg_stop_done(&p->stop);
        yb_pg_backup_done(&p->rec);
}

/* Fails the backup for a reason of the cluster's (what says it): exit 1, whatever r is (an
 * -EIO of the server's is no full disk of ours, a refused connection no lost store). */
static int pg_failed(PgBase *p, int r, const char *what) {
        log_error("Backup of system '%s' failed, nothing was committed: %s", p->b->args->system,
                  what);
        return YB_EXIT_FAILED;
}

static int session_failed(PgBase *p, int r) {
        return pg_failed(p, r, agent_pg_session_error(p->session));
}

static int store_failed(PgBase *p, int r, const char *path) {
        char msg[1024];

        snprintf(msg, sizeof(msg), "PostgreSQL hook '%s': cannot store '%s': %s", p->hook->name,
                 path, r == -ENOSPC ? "the store is full" : strerror(-r));
        return agent_fail(r, "Backup of system '%s' failed, nothing was committed: %s",
                          p->b->args->system, msg);
}

/* Files of the data directory's top level that a base backup leaves out: the running server's,
 * a previous backup's or recovery's, and our own two, which pg_backup_stop gives. */
static const char *const TOP_FILES[] = {
        "postmaster.pid",   "postmaster.opts",          "backup_label",
        "backup_label.old", "tablespace_map",           "recovery.signal",
        "standby.signal",   "postgresql.auto.conf.tmp", "backup_manifest",
};
/* Directories of the data directory's top level kept empty: what they hold is rebuilt at start,
 * or (pg_wal) comes from pg_backup_stop's range. */
static const char *const TOP_DIRS[] = {
        "pg_wal",    "pg_replslot",  "pg_dynshmem", "pg_notify",
        "pg_serial", "pg_snapshots", "pg_stat_tmp", "pg_subtrans",
};

/* 2: leave the entry out; 1: record it, not what it holds; 0: as any other. rel is the entry's
 * path below the walk's root ("" for the root, else "/x/y"). */
static int exclusion(const PgBase *p, const char *rel) {
        const char *name = strrchr(rel, '/');

        if (!name)
                return 0;
        name++;
        /* Anywhere: temporary files of queries, and the relation cache rebuilt at start. */
        if (strncmp(name, "pgsql_tmp", 9) == 0 || streq(name, "pg_internal.init"))
                return 2;
        if (!p->in_data || name != rel + 1)
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(TOP_FILES); i++)
                if (streq(name, TOP_FILES[i]))
                        return 2;
        for (size_t i = 0; i < ELEMENTSOF(TOP_DIRS); i++)
                if (streq(name, TOP_DIRS[i]))
                        return 1;
        return 0;
}

/* Whether rel ("/x/y/z" below the walk's root) lies directly in a database directory:
 * base/<dboid>/ of the data directory, <version dir>/<dboid>/ of a tablespace. */
static bool in_database_dir(const PgBase *p, const char *rel) {
        const char *top = rel + 1, *db, *end;

        db = strchr(top, '/');
        if (!db)
                return false;
        if (p->in_data ? (db - top != 4 || strncmp(top, "base", 4) != 0)
                       : strncmp(top, "PG_", 3) != 0)
                return false;
        db++;
        end = strchr(db, '/');
        if (!end || end == db || strchr(end + 1, '/'))
                return false;
        for (const char *c = db; c < end; c++)
                if (*c < '0' || *c > '9')
                        return false;
        return true;
}

/* Whether the file e is a fork of an unlogged relation other than its init fork: a relation file
 * "<relfilenode>[_fsm|_vm][.<segment>]" of a database directory beside "<relfilenode>_init".
 * pg_basebackup leaves these out: PostgreSQL rebuilds the relation from its init fork at start,
 * so their contents would be thrown away. */
static bool unlogged_fork(const PgBase *p, const AgentWalkEntry *e, const char *rel) {
        const char *name = e->name, *c = name;
        char init[64];
        struct stat st;
        size_t n;

        if (!S_ISREG(e->st->st_mode) || !in_database_dir(p, rel))
                return false;
        while (*c >= '0' && *c <= '9')
                c++;
        n = (size_t) (c - name);
        if (n == 0 || n > 10)
                return false;
        if (*c == '_') {
                if (strncmp(c, "_fsm", 4) == 0)
                        c += 4;
                else if (strncmp(c, "_vm", 3) == 0)
                        c += 3;
                else
                        return false; /* _init itself, or no relation file */
        }
        if (*c == '.') {
                c++;
                if (*c < '0' || *c > '9')
                        return false;
                while (*c >= '0' && *c <= '9')
                        c++;
        }
        if (*c != '\0')
                return false;
        snprintf(init, sizeof(init), "%.*s_init", (int) n, name);
        return fstatat(e->dir_fd, init, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

/* The directory path with the metadata of st (pg_wal standing in for where it points), or one
 * the agent makes (_pg, _pg/<hook>, its tablespaces/) when st is NULL: the cluster's owner's,
 * mode 0700, so that the server's user reaches a restored data directory. */
static int add_dir(PgBase *p, const char *path, const struct stat *st) {
        AgentBackup *b = p->b;
        AgentWalkEntry e = { .path = path, .st = st ? st : &p->data };
        YbEntry me;
        int r;

        agent_meta_from_stat(&b->owners, &e, &me);
        if (!st) {
                int64_t ns = yb_now_ns();

                me.mode = 0700;
                me.mtime_sec = ns / YB_NSEC_PER_SEC;
                me.mtime_nsec = (uint32_t) (ns % YB_NSEC_PER_SEC);
        }
        me.type = YB_ENTRY_DIR;
        r = yb_snapshot_writer_add(b->w, &me);
        if (r < 0)
                return r;
        b->hdr.counts.dirs++;
        return 0;
}

/* pg_wal kept empty but for archive_status (as pg_basebackup does); a directory even when the
 * server's is a symlink elsewhere (initdb --waldir), so that the restored data directory holds
 * its WAL itself. */
static int add_pg_wal(PgBase *p, const AgentWalkEntry *e) {
        _cleanup_free_ char *status = NULL;
        struct stat st = *e->st;
        int r;

        if (S_ISLNK(st.st_mode) && fstatat(e->dir_fd, e->name, &st, 0) < 0)
                return log_error_errno(errno, "Cannot read '%s': %m", e->abs);
        r = add_dir(p, e->path, &st);
        if (r < 0)
                return r;
        if (asprintf(&status, "%s/archive_status", e->path) < 0)
                return -ENOMEM;
        return add_dir(p, status, &st);
}

#ifdef YB_FAULT_INJECTION
/* Test hook: YB_TEST_PG_HOLD=FIFO holds the walk when it reaches the data directory's "base":
 * the agent writes "walking" to FIFO (waiting for a reader), then waits for a line back, so that
 * a test can look at the server mid-backup, or kill the agent there, without sleeping. */
static void test_hold(const PgBase *p, const char *rel) {
        const char *fifo = getenv("YB_TEST_PG_HOLD");
        char c;
        int fd;

        if (!fifo || !p->in_data || !streq(rel, "/base"))
                return;
        fd = open(fifo, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        (void) !write(fd, "walking\n", 8);
        close(fd);
        fd = open(fifo, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        (void) !read(fd, &c, 1);
        close(fd);
}
#else
static void test_hold(const PgBase *p, const char *rel) {
}
#endif

/* The walk of a cluster's directory: what PostgreSQL says not to copy is left out, the rest
 * recorded as any walk does. */
static int pg_entry(void *userdata, const AgentWalkEntry *e) {
        PgBase *p = userdata;
        const char *rel = e->path + p->root_len;
        int k = exclusion(p, rel), r;

        test_hold(p, rel);

        if (k == 2) {
                p->excluded++;
                return S_ISDIR(e->st->st_mode) ? 1 : 0;
        }
        if (unlogged_fork(p, e, rel)) {
                p->unlogged++;
                return 0;
        }
        if (k == 1 && streq(rel, "/pg_wal"))
                r = add_pg_wal(p, e);
        else if (k == 1 && !S_ISDIR(e->st->st_mode)) {
                p->excluded++;
                return 0;
        } else
                r = agent_backup_entry(p->b, e);
        if (r < 0)
                return r;
        return k == 1 ? 1 : 0;
}

static void pg_walk_error(void *userdata, const char *abs, int error) {
        PgBase *p = userdata;

        if (error == -ESTALE)
                agent_backup_error(p->b, abs, 0, "it was replaced while being read");
        else
                agent_backup_error(p->b, abs, error, "cannot read it");
}

/* Walks dir (data directory or tablespace) as root in the snapshot. */
static int walk_cluster_dir(PgBase *p, const char *dir, const char *root, bool data) {
        AgentBackup *b = p->b;
        _cleanup_free_ char *real = NULL;
        uint64_t errors = b->hdr.counts.errors;
        struct stat st;
        char msg[1024];
        int r = 0;

        p->root_len = strlen(root);
        p->in_data = data;
        /* The server's data_directory (or a tablespace's location) may be a symlink to another
         * disk: the walk records its root as it finds it, so it is given the directory itself,
         * never the link (which would restore as a link back to the live cluster). */
        real = realpath(dir, NULL);
        /* The location comes from the server, and the server's user may turn a directory on its
         * way into a link: what it leads to must be the cluster's own, as PostgreSQL makes every
         * tablespace (its user's), lest an agent running as root copy what that user may not
         * read into the snapshot. */
        if (real && (stat(real, &st) < 0 || st.st_uid != p->data.st_uid)) {
                snprintf(msg, sizeof(msg),
                         "PostgreSQL hook '%s': '%s' (%s) leads to '%s', which is not owned by "
                         "the data directory's owner (uid %u), as PostgreSQL makes a cluster's "
                         "directories: not backed up, so that no link leads the backup out of "
                         "the cluster. Check where the server's tablespaces are "
                         "(SELECT spcname, pg_tablespace_location(oid) FROM pg_tablespace) and "
                         "the links on their way.",
                         p->hook->name, dir, data ? "its data directory" : "a tablespace", real,
                         (unsigned) p->data.st_uid);
                return pg_failed(p, -EPERM, msg);
        }
        if (real) {
                b->pg_keep_as_read = true;
                /* The policy's excludes are for its paths: inside a cluster only PostgreSQL's
                 * list applies, so that no pattern can take a file the restored cluster needs. */
                r = agent_walk(real, root, NULL, 0, pg_entry, pg_walk_error, p);
                b->pg_keep_as_read = false;
                if (r < 0 && r != -ENOENT && r != -EACCES && r != -ENOTDIR)
                        return agent_backup_failed(b, r); /* the store's, said where it was */
        } else
                r = negative_errno();
        if (r < 0) {
                snprintf(msg, sizeof(msg),
                         "PostgreSQL hook '%s': cannot read '%s' (%s) while backing it up: %s",
                         p->hook->name, dir, data ? "its data directory" : "a tablespace",
                         strerror(-r));
                return pg_failed(p, r, msg);
        }
        /* An ordinary walk skips what it cannot read and commits a partial snapshot; a base
         * without one of the cluster's files would start and lack its rows. */
        if (b->hdr.counts.errors != errors) {
                snprintf(msg, sizeof(msg),
                         "PostgreSQL hook '%s': %" PRIu64 " entr%s of '%s' (%s) could not be "
                         "read (named above), and a base backup without %s would not restore "
                         "the cluster whole. Run the agent as a user that may read every file of "
                         "the cluster (root, or the server's user), or remove from it what that "
                         "user may not read.",
                         p->hook->name, b->hdr.counts.errors - errors,
                         b->hdr.counts.errors - errors == 1 ? "y" : "ies", dir,
                         data ? "its data directory" : "a tablespace",
                         b->hdr.counts.errors - errors == 1 ? "it" : "them");
                return pg_failed(p, -EIO, msg);
        }
        return YB_EXIT_OK;
}

/* Adds a regular file of the snapshot holding data, as the cluster's owner would have it. */
static int add_memory_file(PgBase *p, const char *path, const char *data, int64_t ns) {
        AgentBackup *b = p->b;
        size_t n = strlen(data);
        _cleanup_free_ char *pax_name = NULL;
        AgentWalkEntry e = { .path = path, .st = &p->data };
        YbPaxEntry pe;
        YbEntry me;
        int r;

        agent_meta_from_stat(&b->owners, &e, &me);
        me.mode = 0600;
        me.mtime_sec = ns / YB_NSEC_PER_SEC;
        me.mtime_nsec = (uint32_t) (ns % YB_NSEC_PER_SEC);
        me.type = YB_ENTRY_FILE;
        me.size = n;
        yb_hash_buf(data, n, me.hash);
        if (n > 0) {
                if (asprintf(&pax_name, "tree/%s", path) < 0)
                        return -ENOMEM;
                agent_pax_from(&me, pax_name, n, &pe);
                r = yb_snapshot_writer_begin_entry(b->w, &pe, &me.volume, &me.entry);
                if (r >= 0)
                        r = yb_snapshot_writer_data(b->w, data, n);
                if (r >= 0)
                        r = yb_snapshot_writer_end_entry(b->w);
                if (r < 0)
                        return r;
                me.content = YB_CONTENT_WHOLE;
                me.stored = n;
                b->hdr.counts.whole++;
        } else {
                me.content = YB_CONTENT_EMPTY;
                b->hdr.counts.empty++;
        }
        r = yb_snapshot_writer_add(b->w, &me);
        if (r < 0)
                return r;
        b->hdr.counts.files++;
        b->hdr.bytes_source += n;
        return 0;
}

/* Adds the server's file pg_wal/<name> as data/pg_wal/<name>. */
static int add_wal_file(PgBase *p, int wal_fd, const char *name, const char *wal_dir) {
        _cleanup_free_ char *path = NULL, *abs = NULL;
        AgentWalkEntry e;
        struct stat st;
        int r;

        if (asprintf(&path, "%s/%s/data/pg_wal/%s", YB_PG_DIR, p->hook->name, name) < 0 ||
            asprintf(&abs, "%s/%s", wal_dir, name) < 0)
                return agent_fail(-ENOMEM, "Out of memory.");
        r = fstatat(wal_fd, name, &st, 0) < 0 ? negative_errno() : 0;
        if (r < 0 || !S_ISREG(st.st_mode)) {
                char msg[1024];

                r = r < 0 ? r : -ENOENT;
                snprintf(msg, sizeof(msg),
                         "PostgreSQL hook '%s': the WAL file '%s' that the backup needs cannot "
                         "be read: %s. Check that the agent may read the server's pg_wal.",
                         p->hook->name, abs, strerror(-r));
                return pg_failed(p, r, msg);
        }
        e = (AgentWalkEntry){ .dir_fd = wal_fd, .name = name, .path = path, .abs = abs, .st = &st };
        p->b->pg_keep_as_read = true;
        r = agent_backup_entry(p->b, &e);
        p->b->pg_keep_as_read = false;
        if (r < 0)
                return store_failed(p, r, path);
        return YB_EXIT_OK;
}

/* The WAL from the start LSN's file to the one holding the stop LSN's last byte, and the
 * timeline's history file after the first. A file that could not be read fails the backup: the
 * copy would not start without it. */
static int add_wal(PgBase *p) {
        const YbPgBackup *rec = &p->rec;
        _cleanup_free_ char *wal_dir = NULL;
        _cleanup_close_ int fd = -EBADF;
        uint64_t first = rec->start_lsn / rec->wal_segment_size,
                 last = (rec->stop_lsn > rec->start_lsn ? rec->stop_lsn - 1 : rec->start_lsn) /
                        rec->wal_segment_size;
        size_t errors = p->b->hdr.counts.errors;
        int code;

        if (asprintf(&wal_dir, "%s/pg_wal", p->info.data_directory) < 0)
                return agent_fail(-ENOMEM, "Out of memory.");
        fd = open(wal_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                char msg[1024];

                snprintf(msg, sizeof(msg),
                         "PostgreSQL hook '%s': cannot open the server's WAL directory '%s': %s. "
                         "Run the agent as a user that may read the data directory.",
                         p->hook->name, wal_dir, strerror(errno));
                return pg_failed(p, -errno, msg);
        }
        if (rec->timeline > 1) {
                char name[32];

                snprintf(name, sizeof(name), "%08" PRIX32 ".history", rec->timeline);
                code = add_wal_file(p, fd, name, wal_dir);
                if (code != YB_EXIT_OK)
                        return code;
        }
        for (uint64_t seg = first; seg <= last; seg++) {
                char name[YB_PG_WAL_NAME_LEN + 1];

                yb_pg_wal_name(rec->timeline, seg * rec->wal_segment_size, rec->wal_segment_size,
                               name);
                code = add_wal_file(p, fd, name, wal_dir);
                if (code != YB_EXIT_OK)
                        return code;
        }
        /* A WAL file left out (reported as unreadable) would leave a copy that cannot start. */
        if (p->b->hdr.counts.errors != errors)
                return pg_failed(p, -EIO,
                                 "a WAL file the base backup needs could not be read "
                                 "(named above)");
        return YB_EXIT_OK;
}

/* Connects and checks; records _pg and _pg/<hook>. */
static int pg_open(PgBase *p, size_t i) {
        _cleanup_free_ char *root = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = agent_pg_session_new(p->hook->name, &p->session);
        if (r < 0)
                return agent_fail(r, "Out of memory.");
        log_info("PostgreSQL hook '%s': connecting.", p->hook->name);
        r = agent_pg_session_connect(p->session, p->hook->conninfo, &p->info);
        if (r < 0)
                return session_failed(p, r);
        /* Opened, not only stat'ed: a user that may not list it learns so before
         * pg_backup_start forces its checkpoint. */
        fd = open(p->info.data_directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &p->data) < 0) {
                char msg[1024];

                r = negative_errno();
                snprintf(msg, sizeof(msg),
                         "PostgreSQL hook '%s': the server's data directory '%s' cannot be read "
                         "here: %s. Run the agent on the server's host, as a user that may read "
                         "the data directory (root, or the server's user).",
                         p->hook->name, p->info.data_directory, strerror(-r));
                return pg_failed(p, r, msg);
        }
        snprintf(p->rec.name, sizeof(p->rec.name), "%s", p->hook->name);
        p->rec.version = p->info.version;
        p->rec.system_identifier = p->info.system_identifier;
        p->rec.wal_segment_size = p->info.wal_segment_size;
        root = yb_pg_path_root(p->hook->name);
        if (!root)
                return agent_fail(-ENOMEM, "Out of memory.");
        if (i == 0)
                r = add_dir(p, YB_PG_DIR, NULL);
        if (r >= 0)
                r = add_dir(p, root, NULL);
        if (r < 0)
                return store_failed(p, r, root);
        return YB_EXIT_OK;
}

/* pg_backup_start, the walk, pg_backup_stop. */
static int pg_copy(PgBase *p) {
        AgentBackup *b = p->b;
        _cleanup_free_ char *label = NULL, *data = NULL, *spc = NULL;
        uint64_t label_lsn;
        int code, r;

        if (asprintf(&label, "yunbak %s %s", b->args->system, yb_snapshot_writer_id(b->w)) < 0)
                return agent_fail(-ENOMEM, "Out of memory.");
        r = agent_pg_backup_start(p->session, label, &p->rec.start_lsn, &p->rec.started_ns);
        if (r < 0)
                return session_failed(p, r);
        log_info("PostgreSQL hook '%s': backup started; copying '%s'.", p->hook->name,
                 p->info.data_directory);
        data = yb_pg_path_data(p->hook->name);
        if (!data)
                return agent_fail(-ENOMEM, "Out of memory.");
        code = walk_cluster_dir(p, p->info.data_directory, data, true);
        if (code == YB_EXIT_OK && p->info.n_tablespaces > 0) {
                if (asprintf(&spc, "%s/%s/tablespaces", YB_PG_DIR, p->hook->name) < 0)
                        return agent_fail(-ENOMEM, "Out of memory.");
                r = add_dir(p, spc, NULL);
                if (r < 0)
                        return store_failed(p, r, spc);
        }
        for (size_t i = 0; code == YB_EXIT_OK && i < p->info.n_tablespaces; i++) {
                _cleanup_free_ char *root =
                        yb_pg_path_tablespace(p->hook->name, p->info.tablespace_oids[i]);

                if (!root)
                        return agent_fail(-ENOMEM, "Out of memory.");
                code = walk_cluster_dir(p, p->info.tablespace_paths[i], root, false);
        }
        if (code != YB_EXIT_OK)
                return code;
        r = agent_pg_backup_stop(p->session, &p->stop);
        if (r < 0)
                return session_failed(p, r);
        p->rec.stop_lsn = p->stop.stop_lsn;
        p->rec.stopped_ns = p->stop.stopped_ns;
        r = agent_pg_label_parse(p->stop.labelfile, &label_lsn, &p->rec.timeline);
        if (r < 0 || label_lsn != p->rec.start_lsn || p->rec.stop_lsn < p->rec.start_lsn)
                return pg_failed(p, -EBADMSG,
                                 "the backup label pg_backup_stop returned lacks a START WAL "
                                 "LOCATION matching pg_backup_start's, or a START TIMELINE");
        return YB_EXIT_OK;
}

/* backup_label, tablespace_map and the WAL, into the data directory of the snapshot. */
static int pg_finish(PgBase *p) {
        _cleanup_free_ char *label = NULL, *map = NULL;
        int r;

        if (asprintf(&label, "%s/%s/data/backup_label", YB_PG_DIR, p->hook->name) < 0 ||
            asprintf(&map, "%s/%s/data/tablespace_map", YB_PG_DIR, p->hook->name) < 0)
                return agent_fail(-ENOMEM, "Out of memory.");
        r = add_memory_file(p, label, p->stop.labelfile, p->rec.stopped_ns);
        if (r < 0)
                return store_failed(p, r, label);
        r = add_memory_file(p, map, p->stop.spcmapfile, p->rec.stopped_ns);
        if (r < 0)
                return store_failed(p, r, map);
        return add_wal(p);
}

int agent_backup_pg(AgentBackup *b, size_t i) {
        _cleanup_(pg_base_done) PgBase p = { .b = b, .hook = &b->args->pg[i] };
        YbPgBackup *v;
        char start[YB_PG_LSN_MAX + 1], stop[YB_PG_LSN_MAX + 1];
        uint64_t changed = b->pg_changed;
        int code;

        code = pg_open(&p, i);
        if (code == YB_EXIT_OK)
                code = pg_copy(&p);
        if (code == YB_EXIT_OK)
                code = pg_finish(&p);
        if (code != YB_EXIT_OK)
                return code;

        p.rec.data_directory = TAKE_PTR(p.info.data_directory);
        v = realloc(b->hdr.pg, (b->hdr.n_pg + 1) * sizeof(YbPgBackup));
        if (!v)
                return agent_fail(-ENOMEM, "Out of memory.");
        b->hdr.pg = v;
        b->hdr.pg[b->hdr.n_pg++] = p.rec;
        p.rec = (YbPgBackup){ 0 };

        v = &b->hdr.pg[b->hdr.n_pg - 1];
        yb_pg_lsn_format(v->start_lsn, start);
        yb_pg_lsn_format(v->stop_lsn, stop);
        log_info("PostgreSQL hook '%s': base backup of '%s' from %s to %s (timeline %" PRIu32
                 "), %" PRIu64 " files changed while read (WAL replay repairs them), %" PRIu64
                 " entries left out as PostgreSQL says, %" PRIu64
                 " files of unlogged relations left out (PostgreSQL resets them from their init "
                 "forks).",
                 v->name, v->data_directory, start, stop, v->timeline, b->pg_changed - changed,
                 p.excluded, p.unlogged);
        json_array_append_new(
                b->pg,
                json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "name", v->name, "start_lsn",
                          start, "stop_lsn", stop, "timeline", (json_int_t) v->timeline,
                          "changed_while_read", (json_int_t) (b->pg_changed - changed), "excluded",
                          (json_int_t) p.excluded, "unlogged", (json_int_t) p.unlogged));
        return YB_EXIT_OK;
}
