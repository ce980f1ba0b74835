/* yunbak restore, for a store that holds PostgreSQL base backups (restore-pg.h): per hook, the
 * base's data directory at DIR/_pg/<hook>/data (tablespaces beside it), the WAL at
 * DIR/_pg/<hook>/wal, recovery.signal and the recovery settings, then what was written and the
 * command that starts it. docs/postgresql.md, "Restore", says why each step is so. */
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "cli/restore-pg.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "restore/pg-restore.h"

int cli_pg_plan(CliPgRestore *p) {
        int r;

        if (p->mode == CLI_PG_OWN && p->snapshot) {
                p->hooks = new0(char *, p->snapshot->n_pg + 1);
                if (!p->hooks)
                        return YB_EXIT_FAILED;
                for (size_t i = 0; i < p->snapshot->n_pg; i++) {
                        p->hooks[i] = strdup(p->snapshot->pg[i].name);
                        if (!p->hooks[i])
                                return YB_EXIT_FAILED;
                        p->n_hooks = i + 1;
                }
        } else if (yb_pg_hooks(p->l, &p->hooks, &p->n_hooks) < 0)
                return YB_EXIT_FAILED;
        p->base_snap = new0(const YbSnapshotHeader *, p->n_hooks + 1);
        p->base = new0(const YbPgBackup *, p->n_hooks + 1);
        if (!p->base_snap || !p->base)
                return YB_EXIT_FAILED;
        for (size_t i = 0; i < p->n_hooks; i++) {
                const YbPgBackup *oldest = NULL;
                char from[32];

                if (p->mode == CLI_PG_OWN && p->snapshot) {
                        p->base_snap[i] = p->snapshot;
                        p->base[i] = yb_pg_base_of(p->snapshot, p->hooks[i]);
                        continue;
                }
                r = yb_pg_base_pick(p->l, p->hooks[i], p->mode == CLI_PG_AT ? p->at_ns : INT64_MAX,
                                    &p->base_snap[i], &p->base[i], &oldest);
                if (r == -ENOENT && oldest) {
                        yb_time_format_iso(oldest->stopped_ns, from);
                        log_error("--at %s is older than every base backup of PostgreSQL hook "
                                  "'%s' (system '%s'): the oldest is consistent from %s. Give a "
                                  "time at or after it.",
                                  p->at, p->hooks[i], p->system, from);
                        return YB_EXIT_FAILED;
                }
                if (r < 0)
                        return YB_EXIT_FAILED;
        }
        return 0;
}

void cli_pg_done(CliPgRestore *p) {
        for (size_t i = 0; i < p->n_hooks; i++)
                free(p->hooks[i]);
        free(p->hooks);
        free(p->base_snap);
        free(p->base);
        p->hooks = NULL;
        p->n_hooks = 0;
}

static void report(void *userdata, const char *path, const char *problem) {
        const char *hook = userdata;

        log_error("PostgreSQL hook '%s': '%s': %s", hook, path, problem);
}

/* What one hook's restore wrote, for the words and the JSON. */
typedef struct Done {
        const char *hook;
        char datadir[PATH_MAX + 64], waldir[PATH_MAX + 64];
        const YbSnapshotHeader *snap;
        const YbPgBackup *b;
        uint64_t wal_files, end_lsn;
        int64_t target_ns;    /* -1: none */
        const char *recovery; /* "crash", "end" or "time" */
        char why[640];        /* yb_pg_recover's, after "--latest: " */
        char owner[64];
} Done;

/* The base's own files: _pg/<hook> of its snapshot into the target. */
static int restore_base(const CliPgRestore *p, const char *hook, const YbSnapshotHeader *snap) {
        _cleanup_(yb_restore_chain_freep) YbRestoreChain *c = NULL;
        _cleanup_free_ char *root = yb_pg_path_root(hook);
        char *paths[1] = { root };
        YbRestoreOptions ro = { .target = p->target, .paths = paths, .n_paths = 1 };
        YbRestoreStats st = { 0 };
        int r;

        if (!root)
                return YB_EXIT_FAILED;
        r = yb_restore_chain_new(p->repo, p->l, snap, p->key, &c);
        if (r < 0) {
                log_error("Base backup %s of PostgreSQL hook '%s' cannot be restored: a snapshot "
                          "of its chain is missing or damaged. Run 'yunbak verify'.",
                          snap->id, hook);
                return YB_EXIT_DAMAGED;
        }
        r = yb_restore(c, &ro, report, (void *) hook, &st);
        if (r == 0)
                return 0;
        log_error("The data directory of PostgreSQL hook '%s' was not restored whole from base "
                  "backup %s (%s): it cannot be started. Run 'yunbak verify'.",
                  hook, snap->id, r < 0 ? strerror(-r) : "entries named above are missing");
        return r == -EBADMSG || st.damaged ? YB_EXIT_DAMAGED : YB_EXIT_FAILED;
}

/* The WAL of an --at or --latest restore, and the recovery settings (yb_pg_recover). */
static int recover(const CliPgRestore *p, Done *d) {
        YbPgRecovery rc;
        char t[32] = "", lsn[YB_PG_LSN_MAX + 1], when[32] = "";
        int r;

        r = yb_pg_recover(p->repo, p->l, p->key, d->snap, d->b, d->datadir, d->waldir,
                          p->mode == CLI_PG_AT ? p->at_ns : INT64_MAX, report, (void *) d->hook,
                          &rc);
        d->wal_files = rc.wal.files;
        d->end_lsn = rc.wal.end_lsn;
        d->target_ns = rc.target_ns;
        d->recovery = rc.recovery;
        if (p->mode == CLI_PG_AT)
                snprintf(d->why, sizeof(d->why), "%s", rc.why);
        else
                snprintf(d->why, sizeof(d->why), "--latest: %s", rc.why);
        if (p->mode == CLI_PG_AT)
                yb_pg_time_format(p->at_ns, t);
        if (rc.xend_known > 0)
                yb_pg_time_format(rc.xend_ns, when);
        if (rc.failed == YB_PG_RECOVER_GATHER) {
                log_error("The WAL of PostgreSQL hook '%s' after base backup %s cannot be "
                          "gathered (%s; each problem named above); the restore stops rather "
                          "than recover to an earlier time in silence. Run 'yunbak verify "
                          "--deep'.",
                          d->hook, d->snap->id,
                          r == -EBADMSG ? "damaged or inconsistent" : strerror(-r));
                return r == -EBADMSG ? YB_EXIT_DAMAGED : yb_exit_code_from_errno(r);
        }
        if (rc.failed == YB_PG_RECOVER_GAP) {
                yb_pg_lsn_format(rc.wal.end_lsn, lsn);
                log_error("PostgreSQL hook '%s' (system '%s') cannot be recovered %s: the stored "
                          "WAL has a gap: %s. The WAL before it ends at LSN %s%s%s%s Find the "
                          "missing WAL (yunbak verify; the server's pg_wal) to go further.",
                          d->hook, p->system,
                          p->mode == CLI_PG_AT ? "to --at" : "to the newest WAL", rc.wal.gap, lsn,
                          rc.xend_known > 0 ? "; the latest time it reaches is " : ".", when,
                          rc.xend_known > 0 ? " (its last transaction's end): --at a time before "
                                              "that is reached exactly."
                                            : "");
                return YB_EXIT_FAILED;
        }
        if (rc.wal.gap[0])
                log_warning("PostgreSQL hook '%s': the stored WAL has a gap (%s); the WAL "
                            "before it reaches --at %s.",
                            d->hook, rc.wal.gap, p->at);
        if (rc.target_unsure)
                log_warning("PostgreSQL hook '%s': %s, so whether a transaction ended after %s "
                            "in the WAL is not known. If none did, PostgreSQL stops with FATAL "
                            "\"recovery ended before configured recovery target was reached\": "
                            "then remove the recovery_target_time line from "
                            "%s/postgresql.auto.conf and start it again (the end of the WAL is "
                            "then the state at %s).",
                            d->hook,
                            rc.xend_known == -ENOENT
                                    ? "pg_waldump was not found (install PostgreSQL's client "
                                      "programs)"
                                    : "pg_waldump could not read the WAL laid out",
                            t, d->datadir, t);
        if (p->mode == CLI_PG_AT && !streq(d->recovery, "time"))
                log_warning("PostgreSQL hook '%s': recovering to the end of the WAL, not to a "
                            "target: %s.",
                            d->hook, d->why);
        if (r == -EINVAL) {
                log_error("The target '%s' holds a character (quote, $, backslash, newline) that "
                          "restore_command cannot quote; restore into another directory.",
                          p->target);
                return YB_EXIT_USAGE;
        }
        if (r < 0) {
                log_error("Cannot write the recovery settings of PostgreSQL hook '%s' in '%s': %s",
                          d->hook, d->datadir, strerror(-r));
                return yb_exit_code_from_errno(r);
        }
        return 0;
}

static void say(const CliPgRestore *p, const Done *d, json_t *out) {
        char from[32], lsn[YB_PG_LSN_MAX + 1], target[32] = "";

        yb_time_format_iso(d->b->stopped_ns, from);
        yb_pg_lsn_format(d->end_lsn, lsn);
        if (d->target_ns >= 0)
                yb_pg_time_format(d->target_ns, target);
        if (p->json) {
                json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "hook",
                                      d->hook, "data_directory", d->datadir, "base", d->snap->id,
                                      "consistent_from", from, "consistent_from_ns",
                                      (json_int_t) d->b->stopped_ns, "wal_files",
                                      (json_int_t) d->wal_files, "last_lsn", lsn, "recovery",
                                      d->recovery, "why", d->why);

                json_object_set_new(o, "wal_directory",
                                    streq(d->recovery, "crash") ? json_null()
                                                                : json_string(d->waldir));
                json_object_set_new(o, "target", target[0] ? json_string(target) : json_null());
                json_object_set_new(o, "owner", json_string(d->owner));
                json_object_set_new(o, "command",
                                    json_sprintf("pg_ctl -D %s -l LOGFILE start", d->datadir));
                json_array_append_new(out, o);
                return;
        }
        printf("PostgreSQL hook '%s': data directory %s\n", d->hook, d->datadir);
        printf("  from base backup %s, consistent from %s\n", d->snap->id, from);
        if (streq(d->recovery, "crash"))
                printf("  its own %llu WAL %s (in pg_wal), up to LSN %s: crash recovery from "
                       "backup_label reaches the end of the backup\n",
                       (unsigned long long) d->wal_files,
                       cli_plural((int64_t) d->wal_files, "file", "files"), lsn);
        else
                printf("  %llu WAL %s in %s, up to LSN %s; recovery.signal and "
                       "postgresql.auto.conf written\n",
                       (unsigned long long) d->wal_files,
                       cli_plural((int64_t) d->wal_files, "file", "files"), d->waldir, lsn);
        if (target[0])
                printf("  recovers to %s: %s\n", target, d->why);
        else if (!streq(d->recovery, "crash"))
                printf("  recovers to the end of the WAL: %s\n", d->why);
        printf("  archiving is off in it (archive_mode = 'off' in postgresql.auto.conf), so that "
               "it never\n  archives into the store it came from: remove that line when it "
               "becomes the primary\n");
        printf("  start it as user '%s': pg_ctl -D %s -l LOGFILE start\n", d->owner, d->datadir);
}

int cli_pg_restore(CliPgRestore *p, json_t *out) {
        char abs[PATH_MAX];
        int r;

        if (!realpath(p->target, abs)) {
                log_error("Cannot resolve the target '%s': %m", p->target);
                return YB_EXIT_FAILED;
        }
        for (size_t i = 0; i < p->n_hooks; i++) {
                Done d = { .hook = p->hooks[i],
                           .snap = p->base_snap[i],
                           .b = p->base[i],
                           .target_ns = -1,
                           .recovery = "crash" };
                _cleanup_free_ char *tsroot = NULL;
                char hookdir[PATH_MAX + 64];
                struct stat st;
                struct passwd *pw;

                snprintf(d.datadir, sizeof(d.datadir), "%s/%s/%s/data", abs, YB_PG_DIR, d.hook);
                snprintf(d.waldir, sizeof(d.waldir), "%s/%s/%s/wal", abs, YB_PG_DIR, d.hook);
                if (asprintf(&tsroot, "%s/%s/%s/tablespaces", abs, YB_PG_DIR, d.hook) < 0)
                        return YB_EXIT_FAILED;
                r = restore_base(p, d.hook, d.snap);
                if (r != 0)
                        return r;
                if (stat(d.datadir, &st) < 0) {
                        log_error("Base backup %s holds no data directory for PostgreSQL hook "
                                  "'%s' (%s/data). Run 'yunbak verify --deep'.",
                                  d.snap->id, d.hook, d.hook);
                        return YB_EXIT_DAMAGED;
                }
                /* the server's user must reach its data directory, tablespaces and WAL */
                snprintf(hookdir, sizeof(hookdir), "%s/%s/%s", abs, YB_PG_DIR, d.hook);
                r = yb_pg_chown_like(d.datadir, hookdir);
                if (r < 0) {
                        log_error("Cannot give '%s' the owner of its data directory: %s", hookdir,
                                  strerror(-r));
                        return yb_exit_code_from_errno(r);
                }
                pw = getpwuid(st.st_uid);
                if (pw)
                        snprintf(d.owner, sizeof(d.owner), "%s", pw->pw_name);
                else
                        snprintf(d.owner, sizeof(d.owner), "%u", (unsigned) st.st_uid);
                r = yb_pg_tablespace_map_rewrite(d.datadir, tsroot);
                if (r < 0) {
                        log_error("Cannot point the tablespace_map of PostgreSQL hook '%s' at "
                                  "the restored tablespaces in '%s': %s",
                                  d.hook, tsroot,
                                  r == -EBADMSG ? "a line is not '<oid> <path>'" : strerror(-r));
                        return r == -EBADMSG ? YB_EXIT_DAMAGED : yb_exit_code_from_errno(r);
                }
                if (p->mode == CLI_PG_OWN) {
                        uint32_t size = d.b->wal_segment_size;

                        /* The stop WAL file holds the byte before the stop LSN (header.c). */
                        d.wal_files = (d.b->stop_lsn - (d.b->stop_lsn > d.b->start_lsn)) / size -
                                      d.b->start_lsn / size + 1;
                        d.end_lsn = d.b->stop_lsn;
                        snprintf(d.why, sizeof(d.why),
                                 "crash recovery from backup_label to the end of the backup");
                        r = yb_pg_archive_off(d.datadir, yb_usec_to_ns(yb_now_usec()));
                        if (r < 0) {
                                log_error("Cannot turn archiving off in the postgresql.auto.conf "
                                          "of '%s': %s",
                                          d.datadir, strerror(-r));
                                return yb_exit_code_from_errno(r);
                        }
                } else {
                        r = recover(p, &d);
                        if (r != 0)
                                return r;
                }
                say(p, &d, out);
        }
        return 0;
}
