/* orchestrator/export-job.c: a decommission's final export (export-job.h): the rules its store
 * and key follow, the decommission's state when its job ends, and how the export ended
 * (confirmed or waived). The job itself is an ordinary tier-1 full (jobs.c) with another store
 * and key; its snapshot is recorded in the catalog with that store like any other, which is how
 * execution knows to leave it alone. */
#include "orchestrator/export-job.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/base/log.h"

/* path without repeated '/', "." components or a trailing '/' (ret: PATH_MAX bytes). */
static const char *normal_path(const char *path, char *ret) {
        size_t n = 0;

        for (const char *p = path; *p && n < PATH_MAX - 2;) {
                size_t len = strcspn(p, "/");

                if (len > 0 && !(len == 1 && p[0] == '.')) {
                        n += (size_t) snprintf(ret + n, PATH_MAX - n, "/%.*s", (int) len, p);
                        n = MIN(n, (size_t) PATH_MAX - 1);
                }
                p += len;
                p += strspn(p, "/");
        }
        if (n == 0)
                snprintf(ret, PATH_MAX, "/");
        return ret;
}

/* Whether path a is path b or lies inside it (both normal). */
static bool path_within(const char *a, const char *b) {
        size_t n = strlen(b);

        return streq(b, "/") || (strncmp(a, b, n) == 0 && (a[n] == 0 || a[n] == '/'));
}

/* Whether stores a and b of yunbakd.yaml overlap: one place under two names (the same directory
 * by device and inode when both can be reached: a symbolic link or another spelling is the same
 * place; the same directory of the same SFTP server and port; the same bucket of the same S3
 * endpoint), or one store's directory (or prefix) inside the other's (an export there would
 * land in, or around, the repository execution erases). */
bool orch_export_same_place(const YbConfigStore *a, const YbConfigStore *b) {
        char pa[PATH_MAX], pb[PATH_MAX], ra[PATH_MAX], rb[PATH_MAX];
        struct stat sa, sb;

        if (a->kind != b->kind)
                return false;
        /* S3: the same bucket at the same endpoint (as written: two names of one service are
         * not found out), then the prefixes compare as paths. */
        if (a->kind == YB_CONFIG_STORE_S3 &&
            (!a->s3.endpoint || !b->s3.endpoint ||
             strcasecmp(a->s3.endpoint, b->s3.endpoint) != 0 || !streq(a->bucket, b->bucket)))
                return false;
        if (a->kind == YB_CONFIG_STORE_LOCAL && stat(a->path, &sa) == 0 &&
            stat(b->path, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino)
                return true;
        if (a->kind == YB_CONFIG_STORE_SFTP &&
            (strcasecmp(a->address, b->address) != 0 || a->port != b->port))
                return false;
        normal_path(a->kind == YB_CONFIG_STORE_LOCAL && realpath(a->path, ra) ? ra : a->path, pa);
        normal_path(b->kind == YB_CONFIG_STORE_LOCAL && realpath(b->path, rb) ? rb : b->path, pb);
        return path_within(pa, pb) || path_within(pb, pa);
}

/* The search for a store the system has used that is the export store (or at its place). */
typedef struct UsedCtx {
        YbDaemon *d;
        const YbConfigStore *export; /* the store named for the export */
        const char *allowed;         /* dc's earlier export store: its snapshots may stay */
        char what[64];               /* how the store at hand was used */
        char found[160];             /* "'local' (the tier-1 store of its policy)", "" */
        bool same_name;              /* found is the export store itself, not another name */
        char found_what[96];         /* how that store was used, "the tier-1 store of its policy" */
} UsedCtx;

/* Notes store name (used as u->what) when it is the export store or at its place. */
static void used_store(UsedCtx *u, const char *name) {
        const YbConfigStore *c;

        if (!name || u->found[0])
                return;
        c = yb_daemon_config_store(u->d->config, name);
        if (streq(name, u->export->name) || (c && orch_export_same_place(c, u->export))) {
                snprintf(u->found, sizeof(u->found), "'%s' (%s)", name, u->what);
                snprintf(u->found_what, sizeof(u->found_what), "%s", u->what);
                u->same_name = streq(name, u->export->name);
        }
}

static void used_policy(UsedCtx *u, const YbPolicy *p, bool current) {
        const char *tiers[3] = { p->tier1_store, p->tier2_store, p->tier3_store };

        for (int i = 0; i < 3; i++) {
                snprintf(u->what, sizeof(u->what), "the tier-%d store of %s", i + 1,
                         current ? "its policy" : "an earlier version of its policy");
                used_store(u, tiers[i]);
        }
}

static int version_row(void *ud, struct sqlite3_stmt *row) {
        const char *text = (const char *) sqlite3_column_text(row, 0);
        _cleanup_(yb_diagnostics_done) YbDiagnostics diag = {};
        _cleanup_(yb_policy_freep) YbPolicy *p = NULL;

        /* An earlier version that no longer parses names no store we can compare. */
        if (text && yb_policy_parse("policy_versions", text, strlen(text), &p, &diag) >= 0)
                used_policy(ud, p, false);
        return 0;
}

static int store_row(void *ud, struct sqlite3_stmt *row) {
        UsedCtx *u = ud;

        const char *name = (const char *) sqlite3_column_text(row, 0);

        snprintf(u->what, sizeof(u->what), "where the catalog lists snapshots of it");
        if (!(u->allowed && name && streq(name, u->allowed)))
                used_store(u, name);
        return 0;
}

int orch_export_check_store(YbDaemon *d, const YbSystem *s, const YbDecommission *dc,
                            const char *store, char *why, size_t why_size) {
        const YbConfigStore *st = yb_daemon_config_store(d->config, store);
        const YbPolicy *p = s->policy;
        char repo[PATH_MAX];
        bool again = dc->export_store && streq(dc->export_store, store);
        UsedCtx u = { .d = d, .allowed = dc->export_store };
        struct stat sb;
        int r;

        if (!st) {
                snprintf(why, why_size,
                         "store '%s' is not in %s: the export goes to a store yunbakd knows; name "
                         "one of its stores, or add one there and restart yunbakd",
                         store, d->config->file);
                return -ENOENT;
        }
        /* Every store the system has used, as execution erases them (by name and by place):
         * the tiers of its policy and of its earlier versions, and its catalog snapshots'. */
        u.export = st;
        used_policy(&u, p, true);
        r = yb_catalog_query(d->catalog,
                             "SELECT text FROM policy_versions WHERE system = ?1 ORDER BY "
                             "loaded_usec",
                             version_row, &u, "t", p->id);
        if (r >= 0)
                r = yb_catalog_query(d->catalog,
                                     "SELECT DISTINCT store FROM snapshots WHERE system = ?1",
                                     store_row, &u, "t", p->id);
        if (r < 0) {
                snprintf(why, why_size, "cannot read the catalog: %s", strerror(-r));
                return r;
        }
        if (u.found[0]) {
                if (u.same_name)
                        snprintf(why, why_size,
                                 "store '%s' is %s (system '%s'), whose repository there the "
                                 "decommission destroys: the export must go to a store that "
                                 "holds nothing of the system",
                                 store, u.found_what, p->id);
                else
                        snprintf(why, why_size,
                                 "store '%s' is at the same place as (or inside or around) store "
                                 "%s of system '%s', whose repository there the decommission "
                                 "destroys: the export must go to a store that holds nothing of "
                                 "the system",
                                 store, u.found, p->id);
                return -EPERM;
        }
        /* A repository of the system the catalog does not know (an older one, or one put
         * there by hand) would be taken for the department's and left. */
        snprintf(repo, sizeof(repo), "%s/%s", st->path, p->id);
        if (st->kind == YB_CONFIG_STORE_LOCAL && !again && lstat(repo, &sb) == 0) {
                snprintf(why, why_size,
                         "store '%s' already holds a repository of system '%s' (%s) that the "
                         "catalog does not list: the export must go where nothing of the system "
                         "is. Move it away (or erase it) after checking what it is, or name "
                         "another store",
                         store, p->id, repo);
                return -EPERM;
        }
        return 0;
}

int orch_export_check(YbDaemon *d, const YbSystem *s, const YbDecommission *dc, const char *store,
                      const YbPublicKey *key, char *why, size_t why_size) {
        const YbPolicy *p = s->policy;
        char own[2 * YB_KEY_ID_SIZE + 1];
        int r = orch_export_check_store(d, s, dc, store, why, why_size);

        if (r < 0)
                return r;
        if (!streq(key->system, p->id)) {
                snprintf(why, why_size,
                         "the public key is of system '%s', not of '%s': make the handover's key "
                         "with 'yunbak key init --system %s --out DIR --no-register' in a "
                         "directory of its own",
                         key->system, p->id, p->id);
                return -EPERM;
        }
        if (memcmp(key->id, s->pub.id, sizeof(key->id)) == 0) {
                yb_key_id_hex(key->id, own);
                snprintf(why, why_size,
                         "the public key is system '%s''s own key (key id %s), which the "
                         "decommission destroys: an export sealed to it could not be read "
                         "afterwards. Make a new key pair for the handover with 'yunbak key init "
                         "--system %s --out DIR --no-register' in a directory of its own, and name "
                         "its .pub",
                         p->id, own, p->id);
                return -EPERM;
        }
        return 0;
}

static int count_row(void *ud, struct sqlite3_stmt *row) {
        *(int64_t *) ud = sqlite3_column_int64(row, 0);
        return 0;
}

/* Moves dc on by its export job's end, writes it back and audits it. */
static int apply_end(YbDaemon *d, YbDecommission *dc, YbJobState state, const char *snapshot,
                     const char *error) {
        bool made = (state == YB_JOB_SUCCEEDED || state == YB_JOB_PARTIAL) && snapshot && *snapshot;
        _cleanup_free_ char *last = NULL, *snap = NULL, *new_state = NULL;
        char detail[2600];
        int r;

        if (made && state == YB_JOB_PARTIAL &&
            asprintf(&last,
                     "export snapshot %s is partial: %s. Check what it lacks before confirming it, "
                     "or name another export",
                     snapshot, error ? error : "entries were left out") < 0)
                return -ENOMEM;
        if (!made && asprintf(&last,
                              "export job %" PRId64 " ended %s%s%s: no export was made. Name the "
                              "export again (yunbak decommission export %" PRId64 "), or waive it "
                              "with a reason",
                              dc->export_job, yb_job_state_to_string(state), error ? ": " : "",
                              error ? error : "", dc->id) < 0)
                return -ENOMEM;
        new_state = strdup(made ? YB_DECOM_EXPORTED : YB_DECOM_APPROVED);
        snap = made ? strdup(snapshot) : NULL;
        if (!new_state || (made && !snap))
                return -ENOMEM;
        free(dc->state);
        dc->state = TAKE_PTR(new_state);
        free(dc->export_snapshot);
        dc->export_snapshot = TAKE_PTR(snap);
        free(dc->last_error);
        dc->last_error = TAKE_PTR(last);
        dc->updated_usec = yb_daemon_now(d);
        r = yb_decommissions_update(d->catalog, dc);
        (void) yb_daemon_load_decommissions(d);
        snprintf(detail, sizeof(detail),
                 "decommission %" PRId64 ": export job %" PRId64 " ended %s; %s%s%s%s%s", dc->id,
                 dc->export_job, yb_job_state_to_string(state), made ? "snapshot " : "",
                 made ? snapshot : "", made ? " in store " : "", made ? dc->export_store : "",
                 dc->last_error ? dc->last_error : "");
        if (r < 0) {
                log_error_errno(r, "Cannot record the end of decommission %" PRId64 "'s export: %m",
                                dc->id);
                return r;
        }
        (void) yb_daemon_audit(d, NULL, "decommission.export", dc->system,
                               !made                     ? "failed"
                               : state == YB_JOB_PARTIAL ? "partial"
                                                         : "ok",
                               detail);
        return 0;
}

void orch_export_job_ended(YbDaemon *d, int64_t job, YbJobState state, const char *snapshot,
                           const char *error) {
        YbDecommission dc = {};
        int64_t id = 0;
        int r;

        r = yb_catalog_query(d->catalog,
                             "SELECT id FROM decommissions WHERE export_job = ?1 AND state = "
                             "'" YB_DECOM_EXPORTING "'",
                             count_row, &id, "I", job);
        if (r < 0 || id == 0)
                return;
        r = yb_decommissions_get(d->catalog, id, &dc);
        if (r >= 0)
                (void) apply_end(d, &dc, state, snapshot, error);
        yb_decommission_done(&dc);
}

typedef struct JobRow {
        char state[16], snapshot[64], error[1024];
} JobRow;

static int job_row(void *ud, struct sqlite3_stmt *row) {
        JobRow *j = ud;
        const char *t;

        snprintf(j->state, sizeof(j->state), "%s", sqlite3_column_text(row, 0));
        t = (const char *) sqlite3_column_text(row, 1);
        snprintf(j->snapshot, sizeof(j->snapshot), "%s", t ? t : "");
        t = (const char *) sqlite3_column_text(row, 2);
        snprintf(j->error, sizeof(j->error), "%s", t ? t : "");
        return 0;
}

int orch_export_reconcile(YbDaemon *d, YbDecommission *dc) {
        JobRow j = {};
        YbDecommission again = {};
        int r, state = -1;

        if (!streq(dc->state, YB_DECOM_EXPORTING) || dc->export_job <= 0)
                return 0;
        r = yb_catalog_query(d->catalog, "SELECT state, snapshot, error FROM jobs WHERE id = ?1",
                             job_row, &j, "I", dc->export_job);
        if (r < 0)
                return r;
        for (int s = YB_JOB_SUCCEEDED; s < _YB_JOB_STATE_MAX; s++)
                if (streq(j.state, yb_job_state_to_string(s)))
                        state = s;
        /* Queued or running (or waiting to retry): not ended. A job the catalog lost ends. */
        if (state < 0 && j.state[0])
                return 0;
        r = apply_end(d, dc, state < 0 ? YB_JOB_FAILED : state, j.snapshot,
                      state < 0    ? "the catalog has no record of it"
                      : j.error[0] ? j.error
                                   : NULL);
        if (r < 0)
                return r;
        r = yb_decommissions_get(d->catalog, dc->id, &again);
        if (r < 0)
                return r;
        yb_decommission_done(dc);
        *dc = again;
        return 0;
}

/* After execution started, the state no longer says: the stop step's artifact keeps it. */
const char *orch_export_end_state(const YbDecommission *dc, json_t *steps) {
        json_t *s;
        size_t i;

        if (streq(dc->state, YB_DECOM_EXPORT_CONFIRMED))
                return "confirmed";
        if (streq(dc->state, YB_DECOM_EXPORT_WAIVED))
                return "waived";
        json_array_foreach(steps, i, s) {
                const char *e = json_string_value(
                        json_object_get(json_object_get(s, "artifact"), "export"));

                if (streq(json_string_value(json_object_get(s, "step")) ?: "", "stop") && e &&
                    (streq(e, "confirmed") || streq(e, "waived")))
                        return e;
        }
        return NULL;
}
