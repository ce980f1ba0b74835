/* yunbakd: the scheduler daemon. Loads yunbakd.yaml and the policies, keeps the catalog, runs
 * each system's tier-1 jobs on its calendars, serves the control API and metrics, and keeps the
 * audit log (docs/operations.md). */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "catalog/audit.h"
#include "core/base/exitcode.h"
#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "core/crypto/hash.h"
#include "orchestrator/daemon.h"

int64_t yb_daemon_now(YbDaemon *d) {
        if (d->test_clock)
                return __atomic_load_n(&d->virtual_now, __ATOMIC_RELAXED);
        return (int64_t) (yb_now_ns() / 1000);
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

void yb_daemon_audit(YbDaemon *d, const YbPerson *actor, const char *action, const char *object,
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

        if (r < 0)
                log_error_errno((int) r, "Cannot write the audit record '%s %s': %m", action,
                                rec.object);
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
                if (r < 0)
                        return log_error_errno(r, "Cannot schedule system '%s': %m", p->id);
                systems[i].status.next_full = systems[i].status.next_differential =
                        systems[i].status.next_incremental = INT64_MAX;
        }
        yb_daemon_refresh_next(d);
        return 0;
}

int yb_daemon_load_policies(YbDaemon *d, const YbPerson *by) {
        _cleanup_(yb_diagnostics_done) YbDiagnostics diag = {};
        YbSystem *systems = NULL;
        char **files = NULL;
        size_t n_files = 0, n = 0;
        int r;

        r = list_policy_files(d->config->policies, &files, &n_files);
        if (r < 0)
                yb_diagnostics_addf(&diag, "%s: cannot read the policy directory: %s",
                                    d->config->policies, strerror(-r));
        else if (n_files > 0 && !(systems = new0(YbSystem, n_files)))
                r = -ENOMEM;
        for (size_t i = 0; r >= 0 && i < n_files; i++) {
                YbSystem *s = &systems[n];
                uint8_t h[YB_HASH_SIZE];
                _cleanup_free_ char *key = NULL;
                int k;

                k = read_text_file(files[i], &s->text);
                if (k < 0) {
                        yb_diagnostics_addf(&diag, "%s: cannot read: %s", files[i], strerror(-k));
                        continue;
                }
                k = yb_policy_parse(files[i], s->text, strlen(s->text), &s->policy, &diag);
                if (k < 0) {
                        free(s->text);
                        s->text = NULL;
                        continue;
                }
                yb_hash_buf(s->text, strlen(s->text), h);
                yb_hex_encode(h, sizeof(h), s->hash);
                (void) yb_daemon_config_check_policy(d->config, s->policy, &diag);
                for (size_t j = 0; j < n; j++)
                        if (streq(systems[j].policy->id, s->policy->id))
                                yb_diagnostics_addf(
                                        &diag, "%s:%u:%u: system id '%s' is also used by %s",
                                        files[i], s->policy->id_line, s->policy->id_column,
                                        s->policy->id, systems[j].policy->file);
                if (asprintf(&key, "%s/%s.pub", d->config->keys, s->policy->id) < 0) {
                        r = -ENOMEM;
                        break;
                }
                k = yb_public_key_read(key, &s->pub);
                if (k >= 0 && !streq(s->pub.system, s->policy->id))
                        yb_diagnostics_addf(&diag,
                                            "%s:%u:%u: the public key %s belongs to system "
                                            "'%s', not '%s'",
                                            files[i], s->policy->id_line, s->policy->id_column, key,
                                            s->pub.system, s->policy->id);
                else if (k < 0)
                        yb_diagnostics_addf(
                                &diag,
                                "%s:%u:%u: no usable public key for system '%s' at %s (%s): the "
                                "department makes it with 'yunbak key init' and hands over "
                                "%s.pub",
                                files[i], s->policy->id_line, s->policy->id_column, s->policy->id,
                                key, strerror(-k), s->policy->id);
                n++;
        }
        for (size_t i = 0; i < n_files; i++)
                free(files[i]);
        free(files);

        pthread_mutex_lock(&d->lock);
        if (r < 0 || diag.n > 0) {
                char **errs = new0(char *, diag.n + 2);
                _cleanup_free_ char *detail = NULL;

                if (r < 0 && diag.n == 0)
                        yb_diagnostics_addf(&diag, "%s: %s", d->config->policies, strerror(-r));
                for (size_t i = 0; i < diag.n; i++)
                        log_error("%s", diag.lines[i]);
                log_error("The policies were not loaded (%zu problem%s); %s.", diag.n,
                          diag.n == 1 ? "" : "s",
                          d->n_systems > 0 ? "the policies loaded before stay in force"
                                           : "no system is scheduled");
                if (errs) {
                        for (size_t i = 0; i < diag.n; i++)
                                errs[i] = TAKE_PTR(diag.lines[i]);
                        strv_free(d->policy_errors);
                        d->policy_errors = errs;
                }
                if (asprintf(&detail, "%zu problems; first: %s", diag.n,
                             errs && errs[0] ? errs[0] : "") < 0)
                        detail = NULL;
                yb_daemon_audit(d, by, "policy.load", d->config->policies, "failed", detail);
                pthread_mutex_unlock(&d->lock);
                systems_free(systems, n);
                return -EINVAL;
        }
        strv_free(d->policy_errors);
        d->policy_errors = NULL;
        r = install_systems(d, systems, n, by);
        if (r >= 0)
                r = yb_daemon_load_status(d);
        pthread_mutex_unlock(&d->lock);
        if (r >= 0)
                log_info("Loaded %zu polic%s from %s.", n, n == 1 ? "y" : "ies",
                         d->config->policies);
        return r;
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

int yb_daemon_load_status(YbDaemon *d) {
        int r;

        r = yb_catalog_query(d->catalog,
                             "SELECT system, id, state, started_usec, finished_usec,"
                             " coalesce(bytes_stored, 0) FROM jobs WHERE id IN (SELECT max(id)"
                             " FROM jobs WHERE tier = 1 AND finished_usec IS NOT NULL"
                             " GROUP BY system)",
                             status_last_job, d, "");
        if (r >= 0)
                r = yb_catalog_query(d->catalog,
                                     "SELECT system, max(finished_usec), snapshot FROM jobs"
                                     " WHERE tier = 1 AND state IN ('succeeded', 'partial')"
                                     " GROUP BY system",
                                     status_last_success, d, "");
        if (r >= 0)
                r = yb_catalog_query(d->catalog,
                                     "SELECT system, count(*) FROM snapshots GROUP BY system",
                                     status_snapshots, d, "");
        if (r < 0)
                log_error_errno(r, "Cannot read the last results from the catalog: %m");
        return r;
}

/* The main loop ---------------------------------------------------------------------------- */

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
        }
}

static int on_due(void *ud, const YbDue *due) {
        YbDaemon *d = ud;
        YbSystem *s = yb_daemon_system(d, due->system);
        int64_t now = yb_daemon_now(d), job;
        int r;

        if (!s)
                return 0;
        /* Remember for every calendar of the system: a covered level is as good as run. */
        (void) yb_catalog_schedule_set(d->catalog, due->system, "full", now);
        if (s->policy->differential)
                (void) yb_catalog_schedule_set(d->catalog, due->system, "differential", now);
        (void) yb_catalog_schedule_set(d->catalog, due->system, "incremental", now);
        r = yb_jobs_queue(d, due->system, due->kind, due->catch_up ? "catch-up" : "schedule",
                          due->due_usec, &job);
        if (r == -EBUSY)
                log_warning("System '%s': the %s backup due now is skipped: job %" PRId64
                            " of the system has not ended yet.",
                            due->system, due->kind, job);
        else if (r < 0)
                log_error_errno(r, "System '%s': cannot queue the %s backup: %m", due->system,
                                due->kind);
        return 0;
}

static void seal_audit(YbDaemon *d, int64_t now) {
        int64_t r = yb_audit_seal(d->catalog, d->key, now);

        if (r < 0)
                log_error_errno((int) r, "Cannot seal the audit log: %m");
        d->last_seal_usec = now;
}

static volatile sig_atomic_t stop_requested;

static void notify_status(YbDaemon *d) {
        if (d->foreground || getenv("NOTIFY_SOCKET"))
                sd_notifyf(0, "STATUS=%zu systems, %d jobs running, %d queued%s", d->n_systems,
                           d->n_running, d->n_queued,
                           d->policy_errors ? "; the last policy load FAILED" : "");
}

static int main_loop(YbDaemon *d, int sig_fd) {
        uint64_t watchdog_usec = 0;
        int64_t last_ping = 0;
        bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0;

        for (;;) {
                struct pollfd pfd[2] = { { sig_fd, POLLIN, 0 }, { d->wake_fd, POLLIN, 0 } };
                int64_t now, next, timeout_ms;
                bool idle;

                pthread_mutex_lock(&d->lock);
                now = yb_daemon_now(d);
                next = yb_jobs_promote_delayed(d, now);
                if (yb_scheduler_next_wakeup(d->scheduler) <= now) {
                        (void) yb_scheduler_run_due(d->scheduler, now, on_due, d);
                        yb_daemon_refresh_next(d);
                }
                next = MIN(next, yb_scheduler_next_wakeup(d->scheduler));
                /* Under the test clock, seal at every step rather than step every interval. */
                if (d->test_clock || now - d->last_seal_usec >= d->config->seal_interval_usec)
                        seal_audit(d, now);
                if (!d->test_clock)
                        next = MIN(next, d->last_seal_usec + d->config->seal_interval_usec);
                idle = d->n_queued == 0 && d->n_running == 0;
                if (d->test_clock && idle) {
                        if (next >= d->test_until) {
                                pthread_mutex_unlock(&d->lock);
                                log_info("Test clock reached its end; stopping.");
                                return 0;
                        }
                        /* Nothing runs: jump to the next event. */
                        __atomic_store_n(&d->virtual_now, MAX(now, next), __ATOMIC_RELAXED);
                }
                notify_status(d);
                pthread_mutex_unlock(&d->lock);

                if (d->test_clock)
                        timeout_ms = idle ? 0 : -1;
                else if (next == INT64_MAX)
                        timeout_ms = -1;
                else
                        timeout_ms = MAX((int64_t) 0, (next - now + 999) / 1000);
                if (watchdog) {
                        int64_t half = (int64_t) watchdog_usec / 2000;

                        timeout_ms = timeout_ms < 0 ? half : MIN(timeout_ms, half);
                }
                if (timeout_ms > 60 * 60 * 1000)
                        timeout_ms = 60 * 60 * 1000; /* look at the clock at least hourly */
                if (poll(pfd, 2, (int) timeout_ms) < 0 && errno != EINTR)
                        return log_error_errno(-errno, "poll: %m");
                if (watchdog &&
                    (int64_t) (yb_now_ns() / 1000) - last_ping >= (int64_t) watchdog_usec / 2) {
                        sd_notify(0, "WATCHDOG=1");
                        last_ping = (int64_t) (yb_now_ns() / 1000);
                }
                if (pfd[1].revents & POLLIN) {
                        uint64_t v;

                        (void) !read(d->wake_fd, &v, sizeof(v));
                }
                if (pfd[0].revents & POLLIN) {
                        struct signalfd_siginfo si;

                        if (read(sig_fd, &si, sizeof(si)) != sizeof(si))
                                continue;
                        if (si.ssi_signo == SIGHUP) {
                                log_info("SIGHUP: reloading the policies.");
                                sd_notify(0, "RELOADING=1");
                                (void) yb_daemon_load_policies(d, NULL);
                                sd_notify(0, "READY=1");
                        } else {
                                log_info("%s: stopping.", strsignal((int) si.ssi_signo));
                                return 0;
                        }
                }
                if (stop_requested)
                        return 0;
        }
}

/* Start-up --------------------------------------------------------------------------------- */

static void usage(FILE *f) {
        fputs("Usage: yunbakd --config FILE [--foreground]\n"
              "\n"
              "The yunbak scheduler daemon: runs every information system's tier-1 backups on\n"
              "its policy's calendars, keeps the catalog and the audit log, and serves the\n"
              "control API (docs/api.md) and metrics.\n"
              "\n"
              "  --config FILE   yunbakd.yaml (docs/operations.md, \"Configuration\")\n"
              "  --foreground    stay in the foreground (as under systemd); otherwise yunbakd\n"
              "                  detaches once it is ready\n"
              "  --check         check the configuration and the policies, then exit\n"
              "\n"
              "Signals: SIGHUP reloads the policies (a set with an error keeps the old one in\n"
              "force); SIGTERM and SIGINT stop, cancelling running jobs.\n"
              "Exit status: 0 stopped, 1 failed, 2 usage, 78 bad configuration or policies.\n",
              f);
}

static int load_daemon_key(YbDaemon *d) {
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

static int parse_test_clock(YbDaemon *d) {
        const char *start = getenv("YUNBAKD_TEST_CLOCK"), *until = getenv("YUNBAKD_TEST_UNTIL");
        int64_t ns;

        if (!start || !*start)
                return 0;
        if (yb_time_parse(start, &ns) < 0)
                return log_error_errno(-EINVAL, "YUNBAKD_TEST_CLOCK: bad time '%s'", start);
        d->test_clock = true;
        d->virtual_now = ns / 1000;
        d->test_until = INT64_MAX;
        if (until && *until) {
                if (yb_time_parse(until, &ns) < 0)
                        return log_error_errno(-EINVAL, "YUNBAKD_TEST_UNTIL: bad time '%s'", until);
                d->test_until = ns / 1000;
        }
        log_warning("Running on a test clock from %s%s%s: time is simulated.", start,
                    until ? " until " : "", until ? until : "");
        return 0;
}

/* Without --foreground: fork, and let the parent exit once the child is ready (0) or has
 * failed (its exit status), so that whoever started yunbakd learns how it went. */
static int detach(int *ret_ready_fd) {
        int p[2];
        pid_t pid;
        uint8_t status = 1;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid > 0) {
                close(p[1]);
                if (read(p[0], &status, 1) != 1)
                        status = 1;
                _exit(status);
        }
        close(p[0]);
        (void) setsid();
        *ret_ready_fd = p[1];
        return 0;
}

/* A detached yunbakd logs to syslog (the journal, where there is one) and lets go of the
 * terminal or files that the command which started it had as its standard streams. */
static void leave_terminal(void) {
        int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

        yb_log_open_syslog();
        if (fd < 0)
                return;
        for (int i = 0; i < 3; i++)
                if (fd != i)
                        (void) dup2(fd, i); /* dup2 clears O_CLOEXEC on the copies */
        if (fd > 2)
                close(fd);
}

static void report_ready(int *fd, uint8_t status) {
        if (*fd >= 0) {
                (void) !write(*fd, &status, 1);
                close(*fd);
                *fd = -1;
        }
}

static YbDaemon *daemon_free(YbDaemon *d) {
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
        pthread_mutex_destroy(&d->lock);
        pthread_cond_destroy(&d->work);
        pthread_cond_destroy(&d->idle);
        free(d);
        return NULL;
}
DEFINE_FREEP(YbDaemon, daemon_free);

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "config", required_argument, NULL, 'c' },
                { "foreground", no_argument, NULL, 'f' },
                { "check", no_argument, NULL, 'C' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {},
        };
        _cleanup_(daemon_freep) YbDaemon *d = new0(YbDaemon, 1);
        _cleanup_(yb_diagnostics_done) YbDiagnostics diag = {};
        bool check = false;
        int c, r, sig_fd, ready_fd = -1, n;
        sigset_t mask;

        yb_log_set_program("yunbakd");
        yb_log_parse_env();
        /* Started with a standard stream closed, the first socket or signalfd would take its
         * number, and later be overwritten by leave_terminal(): fill 0-2 first. */
        for (int fd = 0; fd >= 0;) {
                fd = open("/dev/null", O_RDWR);
                if (fd > 2) {
                        close(fd);
                        break;
                }
        }
        if (!d)
                return log_oom(), YB_EXIT_FAILED;
        if (yb_crypto_init() < 0)
                return log_error("Cannot initialise libsodium."), YB_EXIT_FAILED;
        d->wake_fd = -1;
        pthread_mutex_init(&d->lock, NULL);
        pthread_cond_init(&d->work, NULL);
        pthread_cond_init(&d->idle, NULL);
        while ((c = getopt_long(argc, argv, "c:fh", opts, NULL)) >= 0)
                switch (c) {
                case 'c':
                        free(d->config_path);
                        d->config_path = strdup(optarg);
                        break;
                case 'f':
                        d->foreground = true;
                        break;
                case 'C':
                        check = true;
                        break;
                case 'h':
                        usage(stdout);
                        return YB_EXIT_OK;
                case 'V':
                        puts("yunbakd " YB_VERSION);
                        return YB_EXIT_OK;
                default:
                        usage(stderr);
                        return YB_EXIT_USAGE;
                }
        if (!d->config_path || optind < argc) {
                log_error(!d->config_path ? "--config FILE is required."
                                          : "Unexpected argument '%s'.",
                          argv[optind]);
                usage(stderr);
                return YB_EXIT_USAGE;
        }
        r = yb_daemon_config_load(d->config_path, &d->config, &diag);
        if (r < 0) {
                yb_diagnostics_print(&diag, stderr);
                if (diag.n == 0)
                        log_error_errno(r, "Cannot load %s: %m", d->config_path);
                return YB_EXIT_CONFIG;
        }
        r = parse_test_clock(d);
        if (r < 0)
                return YB_EXIT_USAGE;
        if (!d->foreground && !check) {
                r = detach(&ready_fd);
                if (r < 0)
                        return log_error_errno(r, "Cannot detach: %m"), YB_EXIT_FAILED;
        }
        d->started_usec = yb_daemon_now(d);

        r = yb_catalog_open(d->config->catalog, &d->catalog);
        if (r < 0) {
                log_error_errno(r, "Cannot open the catalog %s: %m%s", d->config->catalog,
                                r == -EPROTONOSUPPORT
                                        ? " (it was written by a newer yunbakd; never downgrade)"
                                        : "");
                report_ready(&ready_fd, YB_EXIT_FAILED);
                return YB_EXIT_FAILED;
        }
        r = yb_scheduler_new(&d->scheduler);
        if (r >= 0 && !check)
                r = load_daemon_key(d);
        if (r < 0) {
                report_ready(&ready_fd, YB_EXIT_FAILED);
                return YB_EXIT_FAILED;
        }
        r = yb_daemon_load_policies(d, NULL);
        if (check || r < 0) {
                if (r >= 0)
                        printf("%s and its %zu polic%s are valid.\n", d->config_path, d->n_systems,
                               d->n_systems == 1 ? "y" : "ies");
                /* At start there is no older set to fall back on. */
                report_ready(&ready_fd, r < 0 ? YB_EXIT_CONFIG : YB_EXIT_OK);
                return r < 0 ? YB_EXIT_CONFIG : YB_EXIT_OK;
        }

        pthread_mutex_lock(&d->lock);
        n = yb_catalog_jobs_interrupted(d->catalog, d->started_usec);
        if (n > 0) {
                log_warning("%d job%s left unfinished by the last yunbakd marked failed or "
                            "cancelled; scheduled runs they missed run once now.",
                            n, n == 1 ? "" : "s");
                yb_daemon_audit(d, NULL, "daemon.recover", "jobs", "ok",
                                "jobs of the previous run marked interrupted");
        }
        yb_daemon_audit(d, NULL, "daemon.start", d->config_path, "ok", YB_VERSION);
        (void) yb_daemon_load_status(d);
        pthread_mutex_unlock(&d->lock);

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &mask, NULL); /* before any thread starts: they inherit it */
        sigdelset(&mask, SIGPIPE);
        sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        d->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (sig_fd < 0 || d->wake_fd < 0) {
                log_error_errno(-errno, "Cannot set up signals: %m");
                report_ready(&ready_fd, YB_EXIT_FAILED);
                return YB_EXIT_FAILED;
        }

        r = yb_jobs_start(d);
        if (r >= 0) {
                r = yb_httpd_start_unix(d->config->socket, d->config->socket_mode, yb_api_handle, d,
                                        &d->api);
                if (r < 0)
                        log_error_errno(r, "Cannot serve the control API on %s: %m",
                                        d->config->socket);
        }
        if (r >= 0 && d->config->metrics_listen) {
                r = yb_httpd_start_tcp(d->config->metrics_listen, yb_metrics_handle, d,
                                       &d->metrics);
                if (r < 0)
                        log_error_errno(r, "Cannot serve metrics on %s: %m",
                                        d->config->metrics_listen);
        }
        if (r < 0) {
                yb_jobs_stop(d);
                report_ready(&ready_fd, YB_EXIT_FAILED);
                return YB_EXIT_FAILED;
        }
        log_info("yunbakd %s ready: %zu systems, control API on %s%s%s.", YB_VERSION, d->n_systems,
                 d->config->socket, d->config->metrics_listen ? ", metrics on " : "",
                 d->config->metrics_listen ? d->config->metrics_listen : "");
        if (!d->foreground)
                leave_terminal(); /* before anything it runs could log to the starter's stderr */
        sd_notify(0, "READY=1");
        report_ready(&ready_fd, YB_EXIT_OK);

        r = main_loop(d, sig_fd);
        sd_notify(0, "STOPPING=1");
        d->api = yb_httpd_stop(d->api);
        d->metrics = yb_httpd_stop(d->metrics);
        yb_jobs_stop(d);
        pthread_mutex_lock(&d->lock);
        yb_daemon_audit(d, NULL, "daemon.stop", d->config_path, r < 0 ? "failed" : "ok", "");
        seal_audit(d, yb_daemon_now(d));
        pthread_mutex_unlock(&d->lock);
        close(sig_fd);
        return r < 0 ? YB_EXIT_FAILED : YB_EXIT_OK;
}
