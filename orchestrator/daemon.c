/* orchestrator/daemon.c: yunbakd's state and the services its parts share: the clock (virtual
 * under the test clock), waking the main loop, the audit log and its seals, the systems by id,
 * loading the policy directory, each system's status, and the daemon's signing key.
 *
 * Nothing here reaches the job queue (orchestrator/jobs.h) or the control API: the decisions that
 * involve both the state and the queue (queueing a run that is due, stopping the workers before
 * the state goes) are made in yunbakd.c, which calls both. So jobs.c, api.c, metrics.c and
 * rebuild.c call into this file, and it calls none of them. */
#include "orchestrator/daemon.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "catalog/audit.h"
#include "catalog/decommissions.h"
#include "catalog/requests.h"
#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "core/crypto/hash.h"
#include "orchestrator/daemon-guard.h"
#include "orchestrator/drill-due.h"

int64_t yb_daemon_now(YbDaemon *d) {
        if (d->test_clock)
                return __atomic_load_n(&d->virtual_now, __ATOMIC_RELAXED);
        return yb_now_usec();
}

int yb_daemon_use_test_clock(YbDaemon *d, const char *start, const char *until) {
        int64_t ns;

        if (!start || !*start)
                return 0;
        if (yb_time_parse(start, &ns) < 0)
                return log_error_errno(-EINVAL, "YUNBAKD_TEST_CLOCK: bad time '%s'", start);
        d->test_clock = true;
        d->virtual_now = yb_ns_to_usec(ns);
        d->test_until = INT64_MAX;
        if (until && *until) {
                if (yb_time_parse(until, &ns) < 0)
                        return log_error_errno(-EINVAL, "YUNBAKD_TEST_UNTIL: bad time '%s'", until);
                d->test_until = yb_ns_to_usec(ns);
        }
        log_warning("Running on a test clock from %s%s%s: time is simulated.", start,
                    until ? " until " : "", until ? until : "");
        return 0;
}

void yb_daemon_wake(YbDaemon *d) {
        uint64_t one = 1;

        (void) !write(d->wake_fd, &one, sizeof(one));
}

YbSystem *yb_daemon_system(YbDaemon *d, const char *id) {
        for (size_t i = 0; i < d->n_systems; i++)
                if (streq(d->systems[i].policy->id, id))
                        return &d->systems[i];
        return NULL;
}

int yb_daemon_audit(YbDaemon *d, const YbPerson *actor, const char *action, const char *object,
                    const char *result, const char *detail) {
        YbAuditRecord rec = {
                .actor = actor ? actor->name : "yunbakd",
                .role = actor ? yb_role_to_string(actor->role) : "system",
                .action = action,
                .object = object ? object : "",
                .result = result ? result : "ok",
                .detail = detail ? detail : "",
        };
        int64_t r = yb_audit_append(d->catalog, yb_daemon_now(d), &rec);

        d->catalog_error = r < 0 ? (int) r : 0;
        if (r < 0)
                return log_error_errno((int) r,
                                       "Cannot write the audit record '%s %s' to the catalog %s: "
                                       "%m",
                                       action, rec.object, d->config->catalog);
        return 0;
}

void yb_daemon_seal_audit(YbDaemon *d, int64_t now) {
        int64_t r = yb_audit_seal(d->catalog, d->key, now);

        if (r < 0)
                log_error_errno((int) r, "Cannot seal the audit log: %m");
        else if (r > 0)
                (void) yb_daemon_save_sealed_head(d);
        d->last_seal_usec = now;
}

/* Policies ------------------------------------------------------------------------------- */

static void systems_free(YbSystem *s, size_t n) {
        for (size_t i = 0; i < n; i++) {
                yb_policy_free(s[i].policy);
                free(s[i].text);
                free(s[i].json_cache);
        }
        free(s);
}

static void strv_free(char **v) {
        for (char **p = v; p && *p; p++)
                free(*p);
        free(v);
}

static int name_compare(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The *.yaml and *.yml files of dir, sorted. */
static int list_policy_files(const char *dir, char ***ret, size_t *ret_n) {
        DIR *dp = opendir(dir);
        struct dirent *de;
        char **v = NULL;
        size_t n = 0;

        if (!dp)
                return -errno;
        while ((de = readdir(dp))) {
                size_t len = strlen(de->d_name);
                char **nv, *path;

                if (de->d_name[0] == '.' || !((len > 5 && streq(de->d_name + len - 5, ".yaml")) ||
                                              (len > 4 && streq(de->d_name + len - 4, ".yml"))))
                        continue;
                nv = realloc(v, (n + 2) * sizeof(char *));
                if (!nv || asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
                        v = nv ? nv : v;
                        closedir(dp);
                        for (size_t i = 0; i < n; i++)
                                free(v[i]);
                        free(v);
                        return -ENOMEM;
                }
                v = nv;
                v[n++] = path;
                v[n] = NULL;
        }
        closedir(dp);
        if (n > 1)
                qsort(v, n, sizeof(char *), name_compare);
        *ret = v;
        *ret_n = n;
        return 0;
}

static int read_text_file(const char *path, char **ret) {
        YbBuf b = YB_BUF_INIT;
        int r = yb_read_file_at(AT_FDCWD, path, 1024 * 1024, &b);

        if (r < 0)
                return r;
        if (yb_buf_append(&b, "", 1) < 0) {
                yb_buf_done(&b);
                return -ENOMEM;
        }
        *ret = (char *) b.data; /* YbBuf's data is malloc'ed and now NUL-terminated */
        return 0;
}

static int add_schedule(YbDaemon *d, YbSystem *s, const char *kind, const YbCalendar *cal,
                        int64_t now) {
        int64_t last = 0;
        int r;

        if (!cal)
                return 0;
        r = yb_catalog_schedule_get(d->catalog, s->policy->id, kind, &last);
        if (r < 0)
                return r;
        if (last == 0) {
                /* First seen now: a run before now is not "missed". Remember when we started
                 * watching, so that a stop before the first run still catches up. */
                r = yb_catalog_schedule_set(d->catalog, s->policy->id, kind, now);
                if (r < 0)
                        return r;
                last = now;
        }
        return yb_scheduler_add(d->scheduler, s->policy->id, kind, cal, last, now);
}

static bool system_in(const YbSystem *systems, size_t n, const char *id) {
        for (size_t i = 0; i < n; i++)
                if (streq(systems[i].policy->id, id))
                        return true;
        return false;
}

static int install_systems(YbDaemon *d, YbSystem *systems, size_t n, const YbPerson *by) {
        int64_t now = yb_daemon_now(d);
        int r;

        /* The scheduler borrows the calendars of the policies in force: swap both at once. */
        yb_scheduler_clear(d->scheduler);
        for (size_t i = 0; i < n; i++) {
                YbSystem *old = yb_daemon_system(d, systems[i].policy->id);
                YbCatalogSystem cs = {
                        .id = systems[i].policy->id,
                        .name = systems[i].policy->name,
                        .department = systems[i].policy->department,
                        .grade = yb_grade_to_string(systems[i].policy->grade),
                        .policy_file = systems[i].policy->file,
                        .policy_hash = systems[i].hash,
                };

                if (old)
                        systems[i].status = old->status;
                else
                        systems[i].status.last_state = -1;
                if (!old || !streq(old->hash, systems[i].hash)) {
                        r = yb_catalog_put_system(d->catalog, &cs, systems[i].text, now);
                        if (r < 0)
                                log_error_errno(r, "Cannot record system '%s' in the catalog: %m",
                                                cs.id);
                        yb_daemon_audit(d, by, "policy.load", cs.id, "ok", systems[i].hash);
                }
                if (!old) /* its drills, and when its policy was first loaded */
                        (void) orch_drill_due_load(d->catalog, &systems[i], 1);
        }
        for (size_t i = 0; i < d->n_systems; i++)
                if (!system_in(systems, n, d->systems[i].policy->id))
                        yb_daemon_audit(d, by, "policy.unload", d->systems[i].policy->id, "ok",
                                        "its policy file is gone; its snapshots are kept");
        systems_free(d->systems, d->n_systems);
        d->systems = systems;
        d->n_systems = n;
        for (size_t i = 0; i < n; i++) {
                YbPolicy *p = systems[i].policy;

                r = add_schedule(d, &systems[i], "full", p->full, now);
                if (r >= 0)
                        r = add_schedule(d, &systems[i], "differential", p->differential, now);
                if (r >= 0)
                        r = add_schedule(d, &systems[i], "incremental", p->incremental, now);
                if (r >= 0 && p->tier3_store)
                        r = add_schedule(d, &systems[i], "tier3", p->tier3_schedule, now);
                if (r < 0)
                        return log_error_errno(r, "Cannot schedule system '%s': %m", p->id);
                systems[i].status.next_full = systems[i].status.next_differential =
                        systems[i].status.next_incremental = INT64_MAX;
                systems[i].status.tier3.next_usec = INT64_MAX;
        }
        yb_daemon_refresh_next(d);
        return 0;
}

/* Reads, parses and checks the policy text of file (taken: freed on failure) into *s: its
 * syntax, its names against yunbakd.yaml, its public key. Returns 0 when the text is fit to be
 * put in force, -EINVAL when it is not (each problem appended to diag), -ENOMEM. */
static int check_policy(YbDaemon *d, const char *file, char *text, YbSystem *s,
                        YbDiagnostics *diag) {
        size_t before = diag->n;
        uint8_t h[YB_HASH_SIZE];
        _cleanup_free_ char *key = NULL;
        int k;

        *s = (YbSystem){ .text = text };
        k = yb_policy_parse(file, s->text, strlen(s->text), &s->policy, diag);
        if (k >= 0) {
                yb_hash_buf(s->text, strlen(s->text), h);
                yb_hex_encode(h, sizeof(h), s->hash);
                (void) yb_daemon_config_check_policy(d->config, s->policy, diag);
                if (asprintf(&key, "%s/%s.pub", d->config->keys, s->policy->id) < 0)
                        k = -ENOMEM;
        }
        if (key) {
                k = yb_public_key_read(key, &s->pub);
                if (k >= 0 && !streq(s->pub.system, s->policy->id))
                        yb_diagnostics_addf(diag,
                                            "%s:%u:%u: the public key %s belongs to system "
                                            "'%s', not '%s'",
                                            file, s->policy->id_line, s->policy->id_column, key,
                                            s->pub.system, s->policy->id);
                else if (k < 0)
                        yb_diagnostics_addf(
                                diag,
                                "%s:%u:%u: no usable public key for system '%s' at %s (%s): the "
                                "department makes it with 'yunbak key init' and hands over "
                                "%s.pub",
                                file, s->policy->id_line, s->policy->id_column, s->policy->id, key,
                                strerror(-k), s->policy->id);
                k = 0;
        }
        if (k < 0 || diag->n > before) {
                if (k >= 0 && diag->n == before)
                        yb_diagnostics_addf(diag, "%s: cannot load: %s", file, strerror(-k));
                yb_policy_free(s->policy);
                free(s->text);
                *s = (YbSystem){};
                return k == -ENOMEM ? -ENOMEM : -EINVAL;
        }
        return 0;
}

static int last_good_row(void *ud, sqlite3_stmt *row) {
        char **text = ud;
        const char *t = (const char *) sqlite3_column_text(row, 0);

        if (!*text && t && !(*text = strdup(t)))
                return -ENOMEM;
        return 0;
}

/* The text of the version of file last put in force: the one in force now, or, at start, the
 * one the catalog recorded as current for the system read from file. NULL if there is none. */
static char *last_good_text(YbDaemon *d, const char *file) {
        char *text = NULL;

        for (size_t i = 0; i < d->n_systems; i++)
                if (streq(d->systems[i].policy->file, file))
                        return strdup(d->systems[i].text);
        if (d->catalog)
                (void) yb_catalog_query(d->catalog,
                                        "SELECT v.text FROM systems s JOIN policy_versions v"
                                        " ON v.system = s.id AND v.hash = s.policy_hash"
                                        " WHERE s.policy_file = ? ORDER BY s.updated_usec DESC",
                                        last_good_row, &text, "t", file);
        return text;
}

static bool id_taken(const YbSystem *systems, size_t n, const YbSystem *s, const char *file,
                     YbDiagnostics *diag) {
        for (size_t j = 0; j < n; j++)
                if (streq(systems[j].policy->id, s->policy->id)) {
                        yb_diagnostics_addf(diag, "%s:%u:%u: system id '%s' is also used by %s",
                                            file, s->policy->id_line, s->policy->id_column,
                                            s->policy->id, systems[j].policy->file);
                        return true;
                }
        return false;
}

/* Reads every policy file of the directory. A file with a problem is left out, and in its
 * place goes its last good version (last_good_text) if that still passes every check, so that
 * one department's typo never stops another's backups nor its own. *ret_broken counts the files
 * left out; each gets a summary line in diag after its problems. Under lock when d has a
 * catalog (yunbakd --check has none and reads nothing but the files). */
static int collect_policies(YbDaemon *d, YbSystem **ret, size_t *ret_n, size_t *ret_broken,
                            YbDiagnostics *diag) {
        YbSystem *systems = NULL;
        char **files = NULL;
        size_t n_files = 0, n = 0, broken = 0;
        int r;

        r = list_policy_files(d->config->policies, &files, &n_files);
        if (r < 0) {
                yb_diagnostics_addf(diag,
                                    "%s: cannot read the policy directory: %s (yunbakd.yaml "
                                    "names it as 'policies')",
                                    d->config->policies, strerror(-r));
                return r;
        }
        if (n_files > 0 && !(systems = new0(YbSystem, n_files)))
                r = -ENOMEM;
        for (size_t i = 0; r >= 0 && i < n_files; i++) {
                YbSystem *s = &systems[n];
                _cleanup_(yb_diagnostics_done) YbDiagnostics old_diag = {};
                char *text = NULL, *good;
                int k;

                k = read_text_file(files[i], &text);
                if (k < 0)
                        yb_diagnostics_addf(diag, "%s: cannot read: %s", files[i], strerror(-k));
                else
                        k = check_policy(d, files[i], text, s, diag);
                if (k >= 0 && !id_taken(systems, n, s, files[i], diag)) {
                        n++;
                        continue;
                }
                if (k >= 0) { /* a duplicate id: the file stays out */
                        yb_policy_free(s->policy);
                        free(s->text);
                        *s = (YbSystem){};
                }
                if (k == -ENOMEM) {
                        r = k;
                        break;
                }
                broken++;
                good = last_good_text(d, files[i]);
                if (good && check_policy(d, files[i], good, s, &old_diag) >= 0 &&
                    !id_taken(systems, n, s, files[i], &old_diag)) {
                        yb_diagnostics_addf(diag,
                                            "%s: not loaded; its last good version (%.12s, "
                                            "system '%s') stays in force until the file is "
                                            "fixed",
                                            files[i], s->hash, s->policy->id);
                        n++;
                        continue;
                }
                if (s->policy) {
                        yb_policy_free(s->policy);
                        free(s->text);
                        *s = (YbSystem){};
                }
                yb_diagnostics_addf(diag,
                                    "%s: not loaded, and no earlier version of it passes the "
                                    "checks: its system is not scheduled until the file is fixed",
                                    files[i]);
        }
        for (size_t i = 0; i < n_files; i++)
                free(files[i]);
        free(files);
        if (r < 0) {
                systems_free(systems, n);
                return r;
        }
        *ret = systems;
        *ret_n = n;
        *ret_broken = broken;
        return 0;
}

int yb_daemon_check_policies(YbDaemon *d, YbDiagnostics *diag, size_t *ret_loaded,
                             size_t *ret_broken) {
        YbSystem *systems = NULL;
        size_t n = 0, broken = 0;
        int r = collect_policies(d, &systems, &n, &broken, diag);

        if (r < 0)
                return r;
        systems_free(systems, n);
        *ret_loaded = n;
        *ret_broken = broken;
        return 0;
}

/* One audit record per file left out: its problems, and what stays in force. */
static void audit_broken(YbDaemon *d, const YbPerson *by, const YbDiagnostics *diag) {
        size_t first = 0;

        for (size_t i = 0; i < diag->n; i++) {
                const char *line = diag->lines[i], *colon = strchr(line, ':');
                _cleanup_free_ char *file = NULL, *detail = NULL;

                if (!colon || !strstr(line, ": not loaded"))
                        continue;
                file = strndup(line, (size_t) (colon - line));
                if (file && asprintf(&detail, "%zu problem%s; first: %s; %s", i - first,
                                     i - first == 1 ? "" : "s", i > first ? diag->lines[first] : "",
                                     colon + 2) < 0)
                        detail = NULL;
                yb_daemon_audit(d, by, "policy.load", file ? file : line, "failed", detail);
                first = i + 1;
        }
}

int yb_daemon_load_policies(YbDaemon *d, const YbPerson *by) {
        _cleanup_(yb_diagnostics_done) YbDiagnostics diag = {};
        YbSystem *systems = NULL;
        size_t n = 0, broken = 0;
        char **errs;
        int r;

        pthread_mutex_lock(&d->lock);
        r = collect_policies(d, &systems, &n, &broken, &diag);
        for (size_t i = 0; i < diag.n; i++)
                log_error("%s", diag.lines[i]);
        if (r < 0) {
                /* Nothing to go by: the systems in force stay. */
                log_error("The policies were not loaded; %s.",
                          d->n_systems > 0 ? "the policies loaded before stay in force"
                                           : "no system is scheduled");
                yb_daemon_audit(d, by, "policy.load", d->config->policies, "failed",
                                diag.n > 0 ? diag.lines[0] : strerror(-r));
        } else {
                audit_broken(d, by, &diag);
                r = install_systems(d, systems, n, by);
                if (r >= 0)
                        r = yb_daemon_load_status(d);
                d->policy_generation++; /* the main loop matches the replicators to it */
        }
        if (r >= 0 || diag.n > 0) {
                errs = new0(char *, diag.n + 1);
                if (errs) {
                        for (size_t i = 0; i < diag.n; i++)
                                errs[i] = TAKE_PTR(diag.lines[i]);
                        strv_free(d->policy_errors);
                        d->policy_errors = diag.n > 0 ? errs : (free(errs), NULL);
                }
                d->policy_files_broken = broken;
        }
        pthread_mutex_unlock(&d->lock);
        yb_daemon_wake(d);
        if (r >= 0 && broken > 0)
                log_error("Loaded %zu polic%s from %s; %zu file%s not loaded (see above).", n,
                          n == 1 ? "y" : "ies", d->config->policies, broken,
                          broken == 1 ? " was" : "s were");
        else if (r >= 0)
                log_info("Loaded %zu polic%s from %s.", n, n == 1 ? "y" : "ies",
                         d->config->policies);
        return r < 0 ? r : broken > 0 ? -EINVAL : 0;
}

/* Status ---------------------------------------------------------------------------------- */

static int status_last_job(void *ud, sqlite3_stmt *row) {
        YbDaemon *d = ud;
        YbSystem *s = yb_daemon_system(d, (const char *) sqlite3_column_text(row, 0));
        const char *state = (const char *) sqlite3_column_text(row, 2);

        if (!s)
                return 0;
        s->status.last_job = sqlite3_column_int64(row, 1);
        s->status.last_state = -1;
        for (int i = 0; i < _YB_JOB_STATE_MAX; i++)
                if (state && streq(state, yb_job_state_to_string(i)))
                        s->status.last_state = i;
        s->status.last_duration_usec = sqlite3_column_int64(row, 4) - sqlite3_column_int64(row, 3);
        s->status.last_bytes_stored = (uint64_t) sqlite3_column_int64(row, 5);
        return 0;
}

static int status_last_success(void *ud, sqlite3_stmt *row) {
        YbDaemon *d = ud;
        YbSystem *s = yb_daemon_system(d, (const char *) sqlite3_column_text(row, 0));
        const char *snap = (const char *) sqlite3_column_text(row, 2);

        if (!s)
                return 0;
        s->status.last_success_usec = sqlite3_column_int64(row, 1);
        snprintf(s->status.last_snapshot, sizeof(s->status.last_snapshot), "%s", snap ? snap : "");
        return 0;
}

static int status_snapshots(void *ud, sqlite3_stmt *row) {
        YbDaemon *d = ud;
        YbSystem *s = yb_daemon_system(d, (const char *) sqlite3_column_text(row, 0));

        if (s)
                s->status.snapshots = sqlite3_column_int64(row, 1);
        return 0;
}

static void status_requests(void *ud, const char *system, int64_t n) {
        YbSystem *s = yb_daemon_system(ud, system);

        if (s)
                s->status.offsite_requests_pending = n;
}

int yb_daemon_load_requests(YbDaemon *d) {
        int r;

        for (size_t i = 0; i < d->n_systems; i++)
                d->systems[i].status.offsite_requests_pending = 0;
        r = yb_requests_count_pending(d->catalog, status_requests, d);
        if (r < 0)
                log_error_errno(r, "Cannot count the pending off-site requests in the catalog: %m");
        return r;
}

static int status_decommission(void *ud, sqlite3_stmt *row) {
        YbDaemon *d = ud;
        YbSystem *s = yb_daemon_system(d, (const char *) sqlite3_column_text(row, 0));
        const char *state = (const char *) sqlite3_column_text(row, 2);

        if (!s)
                return 0;
        s->status.decommission = sqlite3_column_int64(row, 1);
        snprintf(s->status.decommission_state, sizeof(s->status.decommission_state), "%s",
                 state ? state : "");
        s->status.decommission_certificate = sqlite3_column_int64(row, 3);
        return 0;
}

bool yb_system_stopped(const YbSystem *s) {
        const char *st = s->status.decommission_state;

        return s->status.decommission > 0 && yb_decommission_state_stops(st);
}

void yb_system_stopped_why(const YbSystem *s, char *buf, size_t size) {
        if (streq(s->status.decommission_state, YB_DECOM_CERTIFIED))
                snprintf(buf, size,
                         "system '%s' was decommissioned (decommission %" PRId64
                         ", certificate %" PRId64 "): remove its policy file",
                         s->policy->id, s->status.decommission, s->status.decommission_certificate);
        else
                snprintf(buf, size,
                         "system '%s' is being decommissioned (decommission %" PRId64 ", %s)",
                         s->policy->id, s->status.decommission, s->status.decommission_state);
}

/* A decommission's final export is a tier-1 job into another store (export-job.h): not the
 * tier's result. */
#define EXPORT_TRIGGER "decommission-export"

int yb_daemon_load_decommissions(YbDaemon *d) {
        int r;

        for (size_t i = 0; i < d->n_systems; i++) {
                d->systems[i].status.decommission = 0;
                d->systems[i].status.decommission_state[0] = 0;
                d->systems[i].status.decommission_certificate = 0;
        }
        /* The newest live one last, so that it wins. */
        r = yb_catalog_query(d->catalog,
                             "SELECT system, id, state, coalesce(certificate, 0) FROM"
                             " decommissions WHERE state NOT IN ('refused', 'withdrawn')"
                             " ORDER BY id",
                             status_decommission, d, "");
        if (r < 0)
                log_error_errno(r, "Cannot read the decommissions from the catalog: %m");
        return r;
}

int yb_daemon_load_status(YbDaemon *d) {
        int r;

        (void) yb_daemon_load_decommissions(d);
        r = yb_catalog_query(d->catalog,
                             "SELECT system, id, state, started_usec, finished_usec,"
                             " coalesce(bytes_stored, 0) FROM jobs WHERE id IN (SELECT max(id)"
                             " FROM jobs WHERE tier = 1 AND finished_usec IS NOT NULL"
                             " AND trigger != '" EXPORT_TRIGGER "' GROUP BY system)",
                             status_last_job, d, "");
        if (r >= 0)
                r = yb_catalog_query(d->catalog,
                                     "SELECT system, max(finished_usec), snapshot FROM jobs"
                                     " WHERE tier = 1 AND state IN ('succeeded', 'partial')"
                                     " AND trigger != '" EXPORT_TRIGGER "' GROUP BY system",
                                     status_last_success, d, "");
        if (r >= 0)
                r = yb_catalog_query(d->catalog,
                                     "SELECT system, count(*) FROM snapshots GROUP BY system",
                                     status_snapshots, d, "");
        if (r >= 0)
                r = orch_drill_due_load(d->catalog, d->systems, d->n_systems);
        if (r < 0) {
                log_error_errno(r, "Cannot read the last results from the catalog: %m");
                return r;
        }
        return yb_daemon_load_requests(d);
}

void yb_daemon_refresh_next(YbDaemon *d) {
        size_t n = yb_scheduler_count(d->scheduler), k = 0;

        for (size_t i = 0; i < n; i++) {
                const char *system, *kind;
                YbSystem *s;
                int64_t next;

                yb_scheduler_entry(d->scheduler, i, &system, &kind, &next);
                /* Entries come in the order of the systems: look there first. */
                while (k < d->n_systems && !streq(d->systems[k].policy->id, system))
                        k++;
                s = k < d->n_systems ? &d->systems[k] : yb_daemon_system(d, system);
                if (k >= d->n_systems)
                        k = 0;
                if (!s)
                        continue;
                if (streq(kind, "full"))
                        s->status.next_full = next;
                else if (streq(kind, "differential"))
                        s->status.next_differential = next;
                else if (streq(kind, "incremental"))
                        s->status.next_incremental = next;
                else if (streq(kind, "tier3"))
                        s->status.tier3.next_usec = next;
        }
}

/* Start-up and shut-down ----------------------------------------------------------------- */

int yb_daemon_load_key(YbDaemon *d) {
        _cleanup_free_ char *pub = NULL, *b64 = NULL, *line = NULL;
        int r;

        r = yb_mkdir_p_at(AT_FDCWD, d->config->state, 0700);
        if (r < 0)
                return log_error_errno(r, "Cannot create the state directory %s: %m",
                                       d->config->state);
        r = yb_agent_identity_load(d->config->state, &d->key);
        if (r < 0)
                return log_error_errno(r,
                                       "Cannot load or create the daemon's signing key in %s: %m",
                                       d->config->state);
        /* The public half, for `yunbak audit verify --daemon-key`. */
        if (asprintf(&pub, "%s/yunbakd.pub", d->config->state) < 0 ||
            yb_base64_encode(d->key->sign_pk, sizeof(d->key->sign_pk), &b64) < 0 ||
            asprintf(&line, "%s\n", b64) < 0)
                return log_oom();
        r = yb_write_file_atomic_at(AT_FDCWD, pub, line, strlen(line), 0644);
        if (r < 0)
                return log_error_errno(r, "Cannot write %s: %m", pub);
        return 0;
}

YbDaemon *yb_daemon_new(void) {
        YbDaemon *d = new0(YbDaemon, 1);

        if (!d)
                return NULL;
        d->wake_fd = -1;
        d->lock_fd = -1;
        pthread_mutex_init(&d->lock, NULL);
        pthread_cond_init(&d->work, NULL);
        pthread_cond_init(&d->idle, NULL);
        return d;
}

YbDaemon *yb_daemon_free(YbDaemon *d) {
        if (!d)
                return NULL;
        yb_httpd_stop(d->metrics);
        yb_httpd_stop(d->api);
        yb_scheduler_free(d->scheduler);
        systems_free(d->systems, d->n_systems);
        strv_free(d->policy_errors);
        yb_catalog_close(d->catalog);
        yb_agent_identity_free(d->key);
        yb_daemon_config_free(d->config);
        free(d->config_path);
        if (d->wake_fd >= 0)
                close(d->wake_fd);
        if (d->lock_fd >= 0)
                close(d->lock_fd); /* last: the lock is held until everything is written */
        pthread_mutex_destroy(&d->lock);
        pthread_cond_destroy(&d->work);
        pthread_cond_destroy(&d->idle);
        free(d);
        return NULL;
}
