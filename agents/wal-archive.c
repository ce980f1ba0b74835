/* yunbak-agent wal-archive: PostgreSQL's archive_command for a system without tier 2
 * (docs/postgresql.md, "WAL archive without tier 2"; docs/format.md, "WAL archive chains").
 *
 * Each call commits one file as a segment of the tier-1 store holding one regular file,
 * "_pg/<hook>/wal/<name>", whole, in the chain of the base backup that needs it
 * (core/repo/walarchive.h): the newest base of the cluster whose start WAL file is at or before
 * it. It takes the repository lock, waiting for a backup that holds it (a bounded poll), so that
 * a WAL file never lands in an older chain while a newer base is being written: once the lock is
 * ours, the listing holds every base committed before. It exits 0 only once the segment is
 * committed and synced, or when nothing needs storing (said why), as PostgreSQL's rule for
 * archive_command asks: on any other exit PostgreSQL keeps the file and runs the command again.
 * Everything it says goes to standard error, and so into PostgreSQL's log. */
#include "agents/wal-archive.h"

#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "agents/backup-internal.h"
#include "core/base/exitcode.h"
#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "core/repo/segment.h"
#include "core/repo/walarchive.h"

#define LOCK_TIMEOUT_DEFAULT_USEC (10 * YB_USEC_PER_MINUTE)
#define COPY_CHUNK (1024 * 1024)

typedef struct Archive {
        AgentBackupArgs args; /* store, SSH options, system, public key, state directory */
        const char *hook, *path, *name;
        int64_t lock_timeout_usec;
        AgentWalKind kind;
        uint32_t history_timeline;
        AgentWalFile f;
        AgentBackup b; /* the store, the repository, the agent's identity, owner names */
} Archive;

static void archive_done(Archive *a) {
        safe_close(a->f.fd);
        agent_owners_done(&a->b.owners);
        yb_repo_free(a->b.repo); /* lets the lock go, if held */
        yb_store_close(a->b.store);
        yb_agent_identity_free(a->b.agent);
}

static void usage(FILE *f) {
        fputs("Usage: yunbak-agent wal-archive --store STORE --system ID --public-key ID.pub\n"
              "                               --postgresql NAME [--state-dir DIR]\n"
              "                               [--lock-timeout D] WALPATH WALNAME\n"
              "\n"
              "PostgreSQL's archive_command for a system without tier 2 (archive_command =\n"
              "'yunbak-agent wal-archive ... %p %f'): commits the WAL file WALPATH (named\n"
              "WALNAME) of the cluster of physical hook NAME into STORE, the system's tier-1\n"
              "store, in the chain of the newest base backup that needs it. Timeline history\n"
              "files are archived too; backup history (.backup) and .partial files are\n"
              "acknowledged without storing. Exits 0 only once the file is committed and\n"
              "synced (or nothing needs it); PostgreSQL keeps the file and retries otherwise.\n"
              "\n"
              "  --store STORE           the tier-1 store: a directory, file:///path,\n"
              "                          sftp://user@host[:port]/path or "
              "s3://bucket[/prefix]\n" AGENT_STORE_OPTIONS_HELP
              "  --system ID             the information system's id\n"
              "  --public-key FILE       the system's ID.pub from 'yunbak key init'\n"
              "  --postgresql NAME       the physical hook's name (as the base backups have it)\n"
              "  --state-dir DIR         the agent's key and its record of archived files (as\n"
              "                          for backup; the server's user must be able to write it)\n"
              "  --lock-timeout D        how long to wait for a backup that holds the\n"
              "                          repository's lock (default 10min)\n"
              "\n"
              "Durations take a unit: ms, s, min, h, d.\n"
              "Exit status: 0 archived (or not needed, said why), 1 failed, 2 usage, 4 key\n"
              "problem, 5 damaged chain, 6 store unreachable, 7 out of space or write error, 8\n"
              "the lock stayed held for --lock-timeout.\n",
              f);
}

/* The exit code of a step that has said what went wrong, after saying what it means. */
static int failed_step(const Archive *a, int code) {
        log_error("%s of cluster '%s' was not archived into store '%s' (system '%s'): "
                  "PostgreSQL keeps it in pg_wal and runs archive_command again.",
                  a->name, a->hook, a->args.store, a->args.system);
        return code;
}

/* Logs the message, then what it means for the file; returns the exit code for r. */
static int fail(const Archive *a, int r, const char *fmt, ...) _printf_(3, 4);
static int fail(const Archive *a, int r, const char *fmt, ...) {
        char msg[2048];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (r == -EACCES || r == -EPERM) {
                /* archive_command runs as the server's user, not as the agent's usual one. */
                struct passwd *pw = getpwuid(geteuid());
                size_t n = strlen(msg);

                log_error("%s%s archive_command runs as the PostgreSQL server's user ('%s'), which "
                          "must be able to write the store '%s' and the state directory '%s': "
                          "give it that access, or give --state-dir a directory of its own.",
                          msg, n > 0 && msg[n - 1] == '.' ? "" : ".", pw ? pw->pw_name : "?",
                          a->args.store, a->args.state_dir);
        } else
                log_error("%s", msg);
        return failed_step(a, yb_exit_code_from_errno(r));
}

/* Takes the repository lock, waiting (polling) while another writer holds it: a backup can hold
 * it for hours, archive_command must not fail at once for that. */
static int lock_waiting(Archive *a) {
        YbRepo *repo = a->b.repo;
        char what[256];
        int r;

        snprintf(what, sizeof(what), "%s of cluster '%s'", a->name, a->hook);
        r = agent_repo_lock_wait(repo, a->args.store, a->lock_timeout_usec, what);
        if (r == -EBUSY)
                return fail(a, r,
                            "The repository of system '%s' in store '%s' stayed locked by "
                            "%s for the whole --lock-timeout: a backup or prune runs "
                            "longer than that, or the lock's owner hangs (see its log).",
                            a->args.system, a->args.store, repo->lock_owner);
        if (r < 0)
                return fail(a, r, "Cannot lock the repository of system '%s' in store '%s': %s",
                            a->args.system, a->args.store, strerror(-r));
        r = yb_repo_cleanup_tmp(repo);
        if (r < 0)
                log_warning("Cannot remove leftovers under tmp/ of system '%s' in store '%s': %s",
                            a->args.system, a->args.store, strerror(-r));
        return YB_EXIT_OK;
}

/* Copies the file into the open volume entry, checking that it is still the bytes hashed. */
static int copy_file(Archive *a, YbSnapshotWriter *w) {
        _cleanup_free_ uint8_t *buf = malloc(COPY_CHUNK);
        uint8_t hash[YB_HASH_SIZE];
        uint64_t off = 0;
        YbHash h;
        int r;

        if (!buf)
                return -ENOMEM;
        yb_hash_init(&h);
        while (off < (uint64_t) a->f.st.st_size) {
                ssize_t n = yb_pread_all(a->f.fd, buf,
                                         MIN((uint64_t) COPY_CHUNK, a->f.st.st_size - off), off);

                if (n <= 0)
                        return n < 0 ? (int) n : -EAGAIN;
                yb_hash_update(&h, buf, (size_t) n);
                r = yb_snapshot_writer_data(w, buf, (size_t) n);
                if (r < 0)
                        return r;
                off += (uint64_t) n;
        }
        yb_hash_final(&h, hash);
        return memcmp(hash, a->f.hash, YB_HASH_SIZE) == 0 ? 0 : -EAGAIN;
}

/* Writes and commits the segment: a record of the directory "_pg/<hook>/wal" and one of the
 * file, whole. */
static int write_segment(Archive *a, const YbSnapshotHeader *root, const YbSnapshotHeader *last,
                         YbSnapshotHeader **ret) {
        _cleanup_(yb_snapshot_writer_freep) YbSnapshotWriter *w = NULL;
        _cleanup_free_ char *dir = yb_pg_path_wal_dir(a->hook), *file = NULL, *tree = NULL;
        YbWriterOptions o = { .zstd_level = a->args.zstd_level,
                              .host = a->b.host,
                              .seq = last ? last->seq + 1 : 1 };
        char *sources[1] = { dir };
        YbSnapshotHeader h = { .counts = { .files = 1, .dirs = 1 },
                               .bytes_source = (uint64_t) a->f.st.st_size,
                               .bytes_read = (uint64_t) a->f.st.st_size,
                               .sources = sources,
                               .n_sources = 1 };
        AgentWalkEntry we;
        YbEntry de, fe;
        YbPaxEntry pe;
        int r;

        file = a->kind == AGENT_WAL_HISTORY ? yb_pg_path_history(a->hook, a->history_timeline)
                                            : yb_pg_path_wal(a->hook, a->name, -1);
        if (!dir || !file || asprintf(&tree, "tree/%s", file) < 0)
                return -ENOMEM;
        r = yb_snapshot_writer_new(a->b.repo, a->b.agent, YB_LEVEL_SEGMENT, last ? last : root,
                                   root, &o, &w);
        if (r < 0)
                return r;
        agent_meta_own(&a->b.owners, dir, yb_now_ns(), &de);
        de.type = YB_ENTRY_DIR;
        r = yb_snapshot_writer_add(w, &de);
        if (r < 0)
                return r;
        we = (AgentWalkEntry){
                .dir_fd = AT_FDCWD, .name = a->path, .path = file, .abs = a->path, .st = &a->f.st
        };
        agent_meta_from_stat(&a->b.owners, &we, &fe);
        fe.type = YB_ENTRY_FILE;
        fe.size = (uint64_t) a->f.st.st_size;
        memcpy(fe.hash, a->f.hash, YB_HASH_SIZE);
        if (fe.size == 0) {
                fe.content = YB_CONTENT_EMPTY;
                h.counts.empty = 1;
        } else {
                fe.content = YB_CONTENT_WHOLE;
                fe.stored = fe.size;
                h.counts.whole = 1;
                agent_pax_from(&fe, tree, fe.size, &pe);
                r = yb_snapshot_writer_begin_entry(w, &pe, &fe.volume, &fe.entry);
                if (r >= 0)
                        r = copy_file(a, w);
                if (r >= 0)
                        r = yb_snapshot_writer_end_entry(w);
                if (r < 0)
                        return r;
        }
        r = yb_snapshot_writer_add(w, &fe);
        if (r < 0)
                return r;
        return yb_snapshot_writer_commit(w, &h, ret);
}

/* After a commit into a new hour: the finished hours get their indexes, as the replicator
 * writes them (segment.h). A failure costs readers speed only. */
static void close_hours(Archive *a, const YbSnapshotHeader *root, const YbSnapshotHeader *last,
                        const YbSnapshotHeader *seg) {
        char open_hour[YB_SEGMENT_HOUR_LEN + 1];
        int r;

        if (!last || strncmp(last->id, seg->id, YB_SEGMENT_HOUR_LEN) == 0)
                return;
        memcpy(open_hour, seg->id, YB_SEGMENT_HOUR_LEN);
        open_hour[YB_SEGMENT_HOUR_LEN] = 0;
        r = yb_segments_close_hours(a->b.repo, root->id, open_hour);
        if (r < 0)
                log_warning("Cannot write the hour indexes of WAL chain %s of system '%s' in store "
                            "'%s' (%s); readers read those hours segment by segment, and the next "
                            "new hour tries again.",
                            root->id, a->args.system, a->args.store, strerror(-r));
}

/* When the store's newest base of the hook is of another cluster than the file's, says so (as a
 * warning: two clusters archiving as one hook, or a new cluster after pg_upgrade or initdb) and
 * returns true; the file is acknowledged as one no base needs. */
static bool other_cluster(const Archive *a, const YbSnapshotList *l) {
        for (size_t i = l->n; i-- > 0;)
                for (size_t j = 0; j < l->items[i]->n_pg; j++) {
                        const YbPgBackup *b = &l->items[i]->pg[j];

                        if (!streq(b->name, a->hook))
                                continue;
                        if (b->system_identifier == a->f.system_identifier)
                                return false;
                        log_warning("%s is of the cluster with system identifier %" PRIu64
                                    ", but the newest base backup of hook '%s' in store '%s' "
                                    "(system '%s', snapshot %s) is of the cluster %" PRIu64
                                    ". Not archived (exit 0: no base backup needs it; "
                                    "PostgreSQL may recycle it). If this is a new cluster "
                                    "(pg_upgrade, initdb), its archive starts with its first "
                                    "base backup: take one now. If two clusters archive as "
                                    "hook '%s', give each its own --postgresql NAME.",
                                    a->name, a->f.system_identifier, a->hook, a->args.store,
                                    a->args.system, l->items[i]->id, b->system_identifier, a->hook);
                        return true;
                }
        return false;
}

/* Under the lock: the chain, the segment, the record. */
static int archive_locked(Archive *a) {
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        _cleanup_(yb_header_freep) YbSnapshotHeader *last = NULL, *seg = NULL;
        _cleanup_free_ char *bad = NULL;
        const YbSnapshotHeader *root;
        int r;

        r = yb_repo_list(a->b.repo, &l);
        if (r < 0)
                return fail(a, r, "Cannot list the snapshots of system '%s' in store '%s': %s",
                            a->args.system, a->args.store, strerror(-r));
        root = a->kind == AGENT_WAL_HISTORY
                       ? yb_walarchive_root_history(&l, a->hook, a->history_timeline)
                       : yb_walarchive_root(&l, a->hook, a->name, a->f.system_identifier);
        if (!root && a->kind == AGENT_WAL_SEGMENT && other_cluster(a, &l))
                return YB_EXIT_OK;
        if (!root) {
                log_notice("%s of cluster '%s' is not needed by any backup yet: store '%s' holds "
                           "no base backup of it for system '%s' that starts at or before this "
                           "file. Not archived (exit 0: PostgreSQL may recycle it). Point-in-time "
                           "recovery reaches back to the cluster's first physical backup.",
                           a->name, a->hook, a->args.store, a->args.system);
                return YB_EXIT_OK;
        }
        r = yb_walarchive_last_segment(a->b.repo, root->id, &last, &bad);
        if (r == -EBADMSG)
                return fail(a, r,
                            "The WAL chain of base %s of system '%s' in store '%s' ends in a "
                            "damaged segment (%s): nothing can be appended after it. Run 'yunbak "
                            "verify' and 'yunbak repair'; the next base backup starts a new chain.",
                            root->id, a->args.system, a->args.store, bad ? bad : "?");
        if (r < 0)
                return fail(a, r, "Cannot read the WAL chain of base %s in store '%s': %s",
                            root->id, a->args.store, strerror(-r));
        /* Several hooks of one base share its chain; a replicator's chain is never written. */
        if (last && !yb_walarchive_is_archive_segment(last, NULL))
                return fail(a, -EEXIST,
                            "Base %s of system '%s' in store '%s' roots a tier-2 replicator's "
                            "chain (segment %s): archive_command is for a system without tier 2 "
                            "and must name its tier-1 store.",
                            root->id, a->args.system, a->args.store, last->id);
        r = write_segment(a, root, last, &seg);
        if (r == -EAGAIN)
                return fail(a, r, "'%s' changed while it was archived.", a->path);
        if (r < 0 && seg)
                return fail(a, r,
                            "Segment %s was committed, but the store '%s' did not confirm that it "
                            "is on disk (%s).",
                            seg->id, a->args.store, strerror(-r));
        if (r < 0)
                return fail(a, r,
                            "Cannot write a segment to store '%s': %s. Nothing was committed.",
                            a->args.store, strerror(-r));
        close_hours(a, root, last, seg);
        r = agent_wal_seen_put(a->args.state_dir, a->args.system, a->hook, a->name,
                               a->kind == AGENT_WAL_SEGMENT ? a->f.segment_size : 0, a->f.hash,
                               seg->id);
        if (r < 0)
                log_warning("%s is archived, but the agent could not note it in '%s' (%s): if "
                            "PostgreSQL hands it over again, it is archived again.",
                            a->name, a->args.state_dir, strerror(-r));
        log_info("Archived %s of cluster '%s' into store '%s' (system '%s'): segment %s, seq "
                 "%" PRIu64 " of the WAL chain of base %s.",
                 a->name, a->hook, a->args.store, a->args.system, seg->id, seg->seq, root->id);
        return YB_EXIT_OK;
}

/* Whether the same bytes were archived under this name before: YB_EXIT_OK to archive, or -1 when
 * done (the exit code in *ret). */
static int check_seen(Archive *a, int *ret) {
        AgentWalSeen seen;
        char hex[2 * YB_HASH_SIZE + 1], was[2 * YB_HASH_SIZE + 1];
        int r;

        r = agent_wal_seen_get(a->args.state_dir, a->args.system, a->hook, a->name, &seen);
        if (r < 0) {
                *ret = fail(a, r, "Cannot read the agent's record of %s in '%s/wal-archive': %s",
                            a->name, a->args.state_dir,
                            r == -EBADMSG ? "it is damaged; move it aside" : strerror(-r));
                return -1;
        }
        if (!seen.found)
                return YB_EXIT_OK;
        if (memcmp(seen.hash, a->f.hash, YB_HASH_SIZE) == 0) {
                log_info("%s of cluster '%s' was archived before with the same bytes (segment %s "
                         "of system '%s'): nothing to do.",
                         a->name, a->hook, seen.segment, a->args.system);
                *ret = YB_EXIT_OK;
                return -1;
        }
        yb_hex_encode(a->f.hash, YB_HASH_SIZE, hex);
        yb_hex_encode(seen.hash, YB_HASH_SIZE, was);
        *ret = fail(a, -EEXIST,
                    "%s of cluster '%s' was archived before with other bytes (BLAKE2b %.16s..., "
                    "segment %s of system '%s'; '%s' now holds %.16s...). It is not archived "
                    "again, so that nothing archived is replaced. Two clusters may archive as "
                    "the same hook, or a cluster was restored and went on without a new "
                    "timeline: give each cluster its own --postgresql NAME, and check "
                    "archive_command.",
                    a->name, a->hook, was, seen.segment, a->args.system, a->path, hex);
        return -1;
}

static int archive(Archive *a) {
        YbPublicKey pub;
        int r, code;

        a->kind = agent_wal_kind(a->name);
        switch (a->kind) {
        case AGENT_WAL_BACKUP:
                log_notice("%s is a backup history file: acknowledged without storing it. "
                           "Recovery never reads it; each base backup keeps its own "
                           "backup_label.",
                           a->name);
                return YB_EXIT_OK;
        case AGENT_WAL_PARTIAL:
                log_notice("%s is the unfinished last WAL file of a timeline that a promotion "
                           "ended: acknowledged without storing it. Recovery does not read "
                           ".partial files; the new timeline's first WAL file holds the same "
                           "records.",
                           a->name);
                return YB_EXIT_OK;
        case AGENT_WAL_OTHER:
                return fail(a, -EINVAL,
                            "'%s' is not the name of a file PostgreSQL archives (a WAL file, "
                            "a .history, .backup or .partial file): archive_command must end "
                            "with %%p %%f.",
                            a->name);
        case AGENT_WAL_HISTORY:
                (void) yb_pg_history_name_parse(a->name, &a->history_timeline);
                break;
        case AGENT_WAL_SEGMENT:
                break;
        }
        r = agent_wal_file_open(a->path, a->name, a->kind == AGENT_WAL_SEGMENT, &a->f);
        if (r < 0)
                return failed_step(a, yb_exit_code_from_errno(r));
        if (check_seen(a, &code) < 0)
                return code;

        a->b.args = &a->args;
        r = yb_agent_identity_load(a->args.state_dir, &a->b.agent);
        if (r < 0)
                return fail(a, r, "Cannot load or create the agent key in '%s': %s",
                            a->args.state_dir, strerror(-r));
        code = agent_backup_open_store(&a->b, &pub);
        if (code != YB_EXIT_OK)
                return failed_step(a, code);
        r = yb_repo_open(a->b.store, a->args.system, &a->b.repo);
        if (r == -ENOENT) {
                log_notice("%s of cluster '%s' is not needed by any backup yet: store '%s' holds "
                           "no repository of system '%s'. Not archived (exit 0: PostgreSQL may "
                           "recycle it).",
                           a->name, a->hook, a->args.store, a->args.system);
                return YB_EXIT_OK;
        }
        if (r < 0)
                return fail(a, r, "Cannot open the repository of system '%s' in store '%s': %s",
                            a->args.system, a->args.store,
                            r == -EBADMSG ? "its config is damaged" : strerror(-r));
        if (memcmp(a->b.repo->config.pub.id, pub.id, YB_KEY_ID_SIZE) != 0)
                return fail(a, -EKEYREJECTED,
                            "The repository of system '%s' in store '%s' uses another key than "
                            "'%s': give archive_command the system's own public key.",
                            a->args.system, a->args.store, a->args.public_key);
        (void) gethostname(a->b.host, sizeof(a->b.host) - 1);
        code = lock_waiting(a);
        if (code != YB_EXIT_OK)
                return code;
        return archive_locked(a);
}

int agent_wal_archive_main(int argc, char **argv) {
        static const struct option opts[] = {
                AGENT_STORE_OPTIONS,
                { "postgresql", required_argument, NULL, 'p' },
                { "state-dir", required_argument, NULL, 'd' },
                { "lock-timeout", required_argument, NULL, 'l' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(archive_done) Archive a = { .args = { .zstd_level = 3 },
                                              .lock_timeout_usec = LOCK_TIMEOUT_DEFAULT_USEC,
                                              .f = { .fd = -EBADF } };
        _cleanup_free_ char *state = NULL;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'p':
                        a.hook = optarg;
                        break;
                case 'd':
                        a.args.state_dir = optarg;
                        break;
                case 'l':
                        if (agent_parse_duration(optarg, &a.lock_timeout_usec) < 0) {
                                log_error("--lock-timeout must be a duration such as 10min, not "
                                          "'%s'.",
                                          optarg);
                                return YB_EXIT_USAGE;
                        }
                        break;
                case 'h':
                        usage(stdout);
                        return YB_EXIT_OK;
                default:
                        r = agent_store_option(&a.args, c, optarg);
                        if (r > 0)
                                break;
                        if (r < 0)
                                return YB_EXIT_USAGE;
                        fputs("Try 'yunbak-agent wal-archive --help'.\n", stderr);
                        return YB_EXIT_USAGE;
                }
        }
        if (!a.args.store || !a.args.system || !a.args.public_key || !a.hook ||
            optind + 2 != argc) {
                log_error("wal-archive needs --store, --system, --public-key, --postgresql NAME, "
                          "then the WAL file's path and name (archive_command's %%p %%f).");
                fputs("Try 'yunbak-agent wal-archive --help'.\n", stderr);
                return YB_EXIT_USAGE;
        }
        r = agent_args_finish(&a.args, &state);
        if (r != YB_EXIT_OK)
                return r;
        if (!yb_pg_name_valid(a.hook)) {
                log_error("--postgresql takes the physical hook's name (1 to %d of A-Z, a-z, 0-9, "
                          "'_', '.' and '-'), not '%s'.",
                          YB_PG_NAME_MAX, a.hook);
                return YB_EXIT_USAGE;
        }
        a.path = argv[optind];
        a.name = argv[optind + 1];
        return archive(&a);
}
