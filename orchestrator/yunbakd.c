/* yunbakd: the scheduler daemon. Loads yunbakd.yaml and the policies, keeps the catalog, runs
 * each system's tier-1 jobs on its calendars, serves the control API and metrics, and keeps the
 * audit log (docs/operations.md).
 *
 * This file holds main(): the options, start-up and detaching, the signals, and the main loop
 * that runs the scheduler and seals the audit log. The daemon's state and services are in
 * orchestrator/daemon.c, the job queue in jobs.c, the API in api.c, metrics in metrics.c. Where
 * the state and the queue meet, the decision is made here, so that daemon.c never calls the
 * queue: on_due() queues what the scheduler finds due, and main() stops the workers before it
 * frees the state. */
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "orchestrator/api.h"
#include "orchestrator/copies.h"
#include "orchestrator/daemon-guard.h"
#include "orchestrator/daemon.h"
#include "orchestrator/decommission.h"
#include "orchestrator/jobs.h"
#include "orchestrator/metrics.h"
#include "orchestrator/repairs.h"
#include "orchestrator/replicators.h"
#include "orchestrator/storage-usage.h"
#include "orchestrator/wal-archive-watch.h"

/* The main loop ---------------------------------------------------------------------------- */

static int on_due(void *ud, const YbDue *due) {
        YbDaemon *d = ud;
        YbSystem *s = yb_daemon_system(d, due->system);
        int64_t now = yb_daemon_now(d), job;
        int r;

        /* A system being decommissioned: nothing runs for it (its schedule just moves on). */
        if (!s || yb_system_stopped(s))
                return 0;
        if (streq(due->kind, "tier3"))
                return yb_copies_on_due(d, due);
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

static void notify_status(YbDaemon *d) {
        if (d->foreground || getenv("NOTIFY_SOCKET"))
                sd_notifyf(0, "STATUS=%zu systems, %d jobs running, %d queued%s", d->n_systems,
                           d->n_running, d->n_queued,
                           d->policy_files_broken > 0 ? "; policy files left out (yunbak status)"
                                                      : "");
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
                /* Job ends the catalog could not take: tried again every second. */
                if (d->pending_ends && yb_jobs_flush_pending(d) > 0 && !d->test_clock)
                        next = MIN(next, now + YB_USEC_PER_SEC);
                if (yb_scheduler_next_wakeup(d->scheduler) <= now) {
                        (void) yb_scheduler_run_due(d->scheduler, now, on_due, d);
                        yb_daemon_refresh_next(d);
                }
                next = MIN(next, yb_scheduler_next_wakeup(d->scheduler));
                next = MIN(next, yb_replicators_tick(d, now));
                next = MIN(next, yb_walwatch_tick(d, now));
                next = MIN(next, yb_storage_usage_tick(d, now));
                /* Under the test clock, seal at every step rather than step every interval. */
                if (d->test_clock || now - d->last_seal_usec >= d->config->seal_interval_usec)
                        yb_daemon_seal_audit(d, now);
                if (!d->test_clock)
                        next = MIN(next, d->last_seal_usec + d->config->seal_interval_usec);
                idle = d->n_queued == 0 && d->n_running == 0 && !yb_decommissions_busy(d);
                if (d->test_clock && idle && !d->test_hold) {
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
                        timeout_ms = idle && !d->test_hold ? 0 : -1;
                else if (next == INT64_MAX)
                        timeout_ms = -1;
                else
                        timeout_ms = yb_usec_to_ms_ceil(next - now);
                if (watchdog) {
                        int64_t half = (int64_t) watchdog_usec / 2 / YB_USEC_PER_MSEC;

                        timeout_ms = timeout_ms < 0 ? half : MIN(timeout_ms, half);
                }
                if (timeout_ms > 60 * 60 * YB_MSEC_PER_SEC)
                        timeout_ms =
                                60 * 60 * YB_MSEC_PER_SEC; /* look at the clock at least hourly */
                if (poll(pfd, 2, (int) timeout_ms) < 0 && errno != EINTR)
                        return log_error_errno(-errno, "poll: %m");
                if (watchdog && yb_now_usec() - last_ping >= (int64_t) watchdog_usec / 2) {
                        sd_notify(0, "WATCHDOG=1");
                        last_ping = yb_now_usec();
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
        }
}

/* Start-up --------------------------------------------------------------------------------- */

static void usage(FILE *f) {
        fputs("Usage: yunbakd --config FILE [--foreground] [--check] [--accept-new-catalog]\n"
              "\n"
              "The yunbak scheduler daemon: runs every information system's tier-1 backups on\n"
              "its policy's calendars, keeps the catalog and the audit log, and serves the\n"
              "control API (docs/api.md) and metrics.\n"
              "\n"
              "  --config FILE   yunbakd.yaml (docs/operations.md, \"Configuration\")\n"
              "  --foreground    stay in the foreground (as under systemd); otherwise yunbakd\n"
              "                  detaches once it is ready\n"
              "  --check         check the configuration, the policies and the catalog (only\n"
              "                  reading it), then exit\n"
              "  --accept-new-catalog\n"
              "                  start although the catalog lacks the audit history this\n"
              "                  yunbakd sealed last (emptied, replaced or an older copy);\n"
              "                  the loss is written to the audit log\n"
              "\n"
              "Signals: SIGHUP reloads the policies (a set with an error keeps the old one in\n"
              "force); SIGTERM and SIGINT stop, cancelling running jobs.\n"
              "Exit status: 0 stopped, 1 failed, 2 usage, 8 another yunbakd runs on the state\n"
              "directory, 9 the catalog is damaged or lacks its history, 78 yunbakd.yaml is\n"
              "invalid (a broken policy file is left out and reported; --check exits 3 for one).\n",
              f);
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

/* yunbakd --check, once the catalog has been read and checked (daemon-guard.c; a catalog not made
 * yet is fine): reads the policy files, and writes nothing, so that it works before the first
 * start and never changes what a running yunbakd uses. Exit 0 all valid, 3 some policy files would
 * be left out (each problem printed), 78 the policy directory cannot be read. */
static int check_policies(YbDaemon *d) {
        _cleanup_(yb_diagnostics_done) YbDiagnostics diag = {};
        size_t loaded = 0, broken = 0;
        int r = yb_daemon_check_policies(d, &diag, &loaded, &broken);

        for (size_t i = 0; i < diag.n; i++)
                log_error("%s", diag.lines[i]);
        if (r < 0)
                return r == -ENOMEM ? YB_EXIT_FAILED : YB_EXIT_CONFIG;
        if (broken > 0) {
                printf("%s is valid; %zu policy file%s %s errors and would be left out (the "
                       "last good version of each stays in force where yunbakd has one); %zu "
                       "polic%s would be in force.\n",
                       d->config_path, broken, broken == 1 ? "" : "s", broken == 1 ? "has" : "have",
                       loaded, loaded == 1 ? "y" : "ies");
                return YB_EXIT_PARTIAL;
        }
        printf("%s and its %zu polic%s are valid.\n", d->config_path, loaded,
               loaded == 1 ? "y" : "ies");
        return YB_EXIT_OK;
}

/* yunbakd opens its S3 stores with their credentials files, and the agents of its local hosts
 * run as its user: a file it cannot read would fail every job there, so it is said at start (and
 * by --check), naming the store and the file. Agents on other hosts read their own copy. */
static void warn_unreadable_credentials(const YbDaemonConfig *c) {
        for (size_t i = 0; i < c->n_stores; i++) {
                const YbConfigStore *st = &c->stores[i];

                if (st->kind == YB_CONFIG_STORE_S3 && st->s3.credentials &&
                    access(st->s3.credentials, R_OK) < 0)
                        log_warning_errno(
                                errno,
                                "Store '%s': yunbakd (uid %u) cannot read its credentials file "
                                "%s (%m): its work on the store and the jobs of agents on "
                                "local hosts fail until it can; give its user read access "
                                "(and no one else).",
                                st->name, (unsigned) geteuid(), st->s3.credentials);
        }
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "config", required_argument, NULL, 'c' },
                { "foreground", no_argument, NULL, 'f' },
                { "check", no_argument, NULL, 'C' },
                { "accept-new-catalog", no_argument, NULL, 'A' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {},
        };
        _cleanup_(yb_daemon_freep) YbDaemon *d = yb_daemon_new();
        _cleanup_(yb_diagnostics_done) YbDiagnostics diag = {};
        _cleanup_free_ char *lost = NULL;
        bool check = false, accept_new = false;
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
                case 'A':
                        accept_new = true;
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
                for (size_t i = 0; i < diag.n; i++)
                        log_error("%s", diag.lines[i]);
                if (diag.n == 0)
                        log_error_errno(r, "Cannot load %s: %m", d->config_path);
                return YB_EXIT_CONFIG;
        }
        warn_unreadable_credentials(d->config);
        if (check) {
                /* Only reads: the catalog (its health and its history), then the policies. */
                r = yb_daemon_check_catalog(d);
                if (r < 0)
                        return r == -EBADMSG || r == -ENODATA ? YB_EXIT_CATALOG : YB_EXIT_FAILED;
                return check_policies(d);
        }
        r = yb_daemon_use_test_clock(d, getenv("YUNBAKD_TEST_CLOCK"), getenv("YUNBAKD_TEST_UNTIL"));
        if (r < 0)
                return YB_EXIT_USAGE;
        d->test_hold = d->test_clock && getenv("YUNBAKD_TEST_HOLD") &&
                       streq(getenv("YUNBAKD_TEST_HOLD"), "1");
        if (d->test_hold)
                log_warning("The test clock stands still (YUNBAKD_TEST_HOLD=1).");
        if (!d->foreground) {
                r = detach(&ready_fd);
                if (r < 0)
                        return log_error_errno(r, "Cannot detach: %m"), YB_EXIT_FAILED;
        }
        d->started_usec = yb_daemon_now(d);

        /* Nothing is touched before the lock is ours. */
        r = yb_daemon_lock_state(d);
        if (r >= 0)
                r = yb_daemon_load_key(d);
        if (r >= 0)
                r = yb_daemon_open_catalog(d, accept_new, &lost);
        if (r >= 0)
                r = yb_scheduler_new(&d->scheduler);
        if (r < 0) {
                int status = r == -EBUSY                      ? YB_EXIT_BUSY
                             : r == -EBADMSG || r == -ENODATA ? YB_EXIT_CATALOG
                                                              : YB_EXIT_FAILED;

                report_ready(&ready_fd, status);
                return status;
        }
        /* A policy file with a problem leaves out that file only (its last good version stays in
         * force): one department's typo never stops the others. An unreadable policy directory
         * is yunbakd.yaml's problem. */
        r = yb_daemon_load_policies(d, NULL);
        if (r < 0 && r != -EINVAL) {
                report_ready(&ready_fd, r == -ENOMEM ? YB_EXIT_FAILED : YB_EXIT_CONFIG);
                return r == -ENOMEM ? YB_EXIT_FAILED : YB_EXIT_CONFIG;
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
        if (lost)
                yb_daemon_audit(d, NULL, "catalog.accept-new", d->config->catalog, "ok", lost);
        yb_daemon_audit(d, NULL, "daemon.start", d->config_path, "ok", YB_VERSION);
        (void) yb_daemon_load_status(d);
        /* A decommission's steps that a killed yunbakd left running: interrupted. */
        (void) yb_decommissions_interrupted(d);
        (void) yb_copies_load_status(d);
        /* A copy that a killed or stopped yunbakd left unfinished goes on now, where it stopped. */
        yb_copies_resume(d);
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

        r = yb_replicators_new(d);
        if (r >= 0)
                r = yb_walwatch_new(d);
        if (r >= 0)
                r = yb_jobs_start(d);
        if (r >= 0) {
                YbHttpGate gate = { yb_api_admit, yb_api_refused, d };

                r = yb_httpd_start_unix(d->config->socket, d->config->socket_mode,
                                        d->config->socket_gid, &gate, yb_api_handle, d, &d->api);
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
                yb_replicators_stop(d);
                yb_walwatch_stop(d);
                yb_jobs_stop(d);
                report_ready(&ready_fd, YB_EXIT_FAILED);
                return YB_EXIT_FAILED;
        }
        if (!d->config->socket_group && !(d->config->socket_mode & 0002))
                log_warning("The control socket %s has the daemon's own group (there is no group "
                            "'%s' and yunbakd.yaml names no socket_group): only that group "
                            "reaches it. Create the group and add the people to it (docs/"
                            "operations.md).",
                            d->config->socket, YB_CONFIG_DEFAULT_SOCKET_GROUP);
        log_info("yunbakd %s ready: %zu systems, control API on %s (group %s, mode %04o)%s%s.",
                 YB_VERSION, d->n_systems, d->config->socket,
                 d->config->socket_group ? d->config->socket_group : "the daemon's own",
                 (unsigned) d->config->socket_mode,
                 d->config->metrics_listen ? ", metrics on " : "",
                 d->config->metrics_listen ? d->config->metrics_listen : "");
        if (!d->foreground)
                leave_terminal(); /* before anything it runs could log to the starter's stderr */
        sd_notify(0, "READY=1");
        report_ready(&ready_fd, YB_EXIT_OK);

        r = main_loop(d, sig_fd);
        sd_notify(0, "STOPPING=1");
        d->api = yb_httpd_stop(d->api);
        d->metrics = yb_httpd_stop(d->metrics);
        yb_decommissions_stop(d);
        yb_repairs_stop(d);
        yb_replicators_stop(d);
        yb_walwatch_stop(d);
        yb_jobs_stop(d);
        pthread_mutex_lock(&d->lock);
        yb_daemon_audit(d, NULL, "daemon.stop", d->config_path, r < 0 ? "failed" : "ok", "");
        yb_daemon_seal_audit(d, yb_daemon_now(d));
        pthread_mutex_unlock(&d->lock);
        close(sig_fd);
        return r < 0 ? YB_EXIT_FAILED : YB_EXIT_OK;
}
