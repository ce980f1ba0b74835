/* The replicator's life (docs/replication.md): one per system per host (an flock in the state
 * directory); the tier-2 store opened, its leftovers removed under the repository lock, which is
 * then let go; change capture set up before anything reads the tree; a chain root made; then
 * every interval a segment of what changed, until standard input ends, a signal or a stop
 * command comes. Around that: reconciliation scans (after an overflow, every hour, after the store
 * comes back), retries with backoff while the store is unreachable, and new roots on a checkpoint
 * command or when the chain is --max-chain segments long. */
#include "agents/replicate.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/signalfd.h>

#include "core/base/exitcode.h"
#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"

#define BACKOFF_MIN_USEC YB_USEC_PER_SEC
#define BACKOFF_MAX_USEC (30 * YB_USEC_PER_SEC)
#define SCHEDULE_USEC YB_USEC_PER_HOUR
#define ROOT_RETRY_USEC YB_USEC_PER_MINUTE

/* The flock that keeps a second replicator of the system off this host. Returns an exit code. */
static int lock_instance(AgentReplicator *rp, int *ret_fd) {
        const AgentBackupArgs *a = &rp->args->backup;
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        char pid[32];
        int r;

        r = yb_mkdir_p_at(AT_FDCWD, a->state_dir, 0700);
        if (r < 0)
                return agent_fail(r, "Cannot create the state directory '%s': %s", a->state_dir,
                                  strerror(-r));
        if (asprintf(&path, "%s/replicate-%s.lock", a->state_dir, a->system) < 0)
                return YB_EXIT_FAILED;
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
                return agent_fail(-errno, "Cannot open '%s': %m", path);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                ssize_t k = pread(fd, pid, sizeof(pid) - 1, 0);

                pid[k > 0 ? k : 0] = 0;
                pid[strcspn(pid, "\n")] = 0;
                log_error("Another replicator of system '%s' runs on this host (pid %s, holding "
                          "'%s'); stop it first.",
                          a->system, *pid ? pid : "?", path);
                return YB_EXIT_BUSY;
        }
        snprintf(pid, sizeof(pid), "%d\n", (int) getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, strlen(pid), 0) < 0)
                log_debug_errno(errno, "Cannot write our pid into '%s': %m", path);
        *ret_fd = TAKE_FD(fd);
        return YB_EXIT_OK;
}

static void close_store(AgentBackup *b) {
        b->repo = yb_repo_free(b->repo);
        b->store = yb_store_close(b->store);
}

/* Opens the store and the repository, removes leftovers under the lock, and lets the lock go;
 * while the store cannot be reached (or is locked), tries again with backoff for up to
 * --start-timeout. Returns an exit code; *ret_stop when a command stopped it. */
static int open_at_start(AgentReplicator *rp, char **ret_stop) {
        AgentBackup *b = &rp->b;
        int64_t deadline = yb_monotonic_usec() + rp->args->start_timeout_usec;
        int64_t backoff = BACKOFF_MIN_USEC;
        bool told = false;

        for (;;) {
                bool checkpoint = false;
                const char *stop;
                int code = agent_backup_open(b);

                if (code == YB_EXIT_OK) {
                        yb_repo_unlock(b->repo);
                        if (told)
                                agent_out_emit(&rp->out, "store",
                                               json_pack("{s:b}", "reachable", 1));
                        return YB_EXIT_OK;
                }
                close_store(b);
                b->agent = yb_agent_identity_free(b->agent);
                if (code != YB_EXIT_UNREACHABLE && code != YB_EXIT_BUSY)
                        return code;
                if (yb_monotonic_usec() >= deadline) {
                        log_error("The tier-2 store '%s' of system '%s' was %s for the whole "
                                  "--start-timeout; giving up.",
                                  b->args->store, b->args->system,
                                  code == YB_EXIT_BUSY ? "locked by a backup" : "unreachable");
                        return code == YB_EXIT_BUSY ? YB_EXIT_FAILED : code;
                }
                if (!told && code == YB_EXIT_UNREACHABLE) {
                        _cleanup_free_ char *msg = NULL;

                        if (asprintf(&msg,
                                     "store '%s' cannot be reached at start (the replicator's "
                                     "log says why); trying again for --start-timeout",
                                     b->args->store) < 0)
                                msg = NULL;
                        agent_out_emit(
                                &rp->out, "store",
                                json_pack("{s:b, s:s}", "reachable", 0, "message",
                                          msg ? msg : "the store cannot be reached at start"));
                        told = true;
                }
                stop = agent_replicate_wait(rp, MIN(backoff, deadline - yb_monotonic_usec()),
                                            &checkpoint);
                if (stop) {
                        *ret_stop = strdup(stop);
                        return YB_EXIT_OK;
                }
                backoff = MIN(2 * backoff, BACKOFF_MAX_USEC);
        }
}

/* Opens the store again after it was lost. 0 or -errno. */
static int reconnect(AgentReplicator *rp) {
        const AgentBackupArgs *a = &rp->args->backup;
        const YbStoreOptions o = agent_store_options(a);
        char why[1024] = "";
        int r;

        close_store(&rp->b);
        r = yb_store_open_ex(a->store, &o, &rp->b.store, why, sizeof(why));
        if (r >= 0)
                r = yb_repo_open(rp->b.store, a->system, &rp->b.repo);
        if (r < 0) {
                log_debug("The store '%s' is still unreachable: %s", a->store,
                          why[0] ? why : strerror(-r));
                close_store(&rp->b);
        }
        return r;
}

static void store_lost(AgentReplicator *rp, int r) {
        char msg[1024];

        snprintf(msg, sizeof(msg),
                 "the tier-2 store '%s' cannot be reached (%s); changes are kept as dirty "
                 "paths and shipped when it is back",
                 rp->args->backup.store, strerror(-r));
        log_warning("System '%s': %s.", rp->args->backup.system, msg);
        agent_out_emit(&rp->out, "store", json_pack("{s:b, s:s}", "reachable", 0, "message", msg));
        rp->store_down = true;
        agent_out_set_why(&rp->out, "store-unreachable");
}

/* Makes a root, trying again with backoff while it fails. Returns why to stop, or NULL. */
static char *make_root(AgentReplicator *rp, const char *reason) {
        int64_t backoff = BACKOFF_MIN_USEC;

        for (;;) {
                char *stop = NULL;
                bool checkpoint = false;
                const char *s;
                int r = agent_root_make(rp, reason, &stop);

                if (r == 1)
                        return stop ? stop : strdup("stopped");
                if (r >= 0)
                        return NULL;
                if (rp->root && !streq(reason, "start"))
                        return NULL; /* the old chain goes on; the next checkpoint tries again */
                s = agent_replicate_wait(rp, backoff, &checkpoint);
                if (s)
                        return strdup(s);
                backoff = MIN(2 * backoff, BACKOFF_MAX_USEC);
        }
}

/* One interval's work: scans when due, then a segment. */
static void interval(AgentReplicator *rp, int64_t *retry_at, int64_t *backoff) {
        int64_t now = yb_monotonic_usec();
        int r;

        /* pg_receivewal is looked after whether or not the store can be reached: WAL waits in
         * the spool while it cannot. A slot that lost WAL needs a new root. */
        if (agent_wal_tick(rp))
                rp->wal_root_due = true;
        if (rp->store_down) {
                if (now < *retry_at)
                        return;
                r = reconnect(rp);
                if (r < 0) {
                        *retry_at = now + *backoff;
                        *backoff = MIN(2 * *backoff, BACKOFF_MAX_USEC);
                        return;
                }
                rp->store_down = false;
                *backoff = BACKOFF_MIN_USEC;
                agent_out_emit(&rp->out, "store", json_pack("{s:b}", "reachable", 1));
                (void) agent_scan_all(rp, "reconnect", false);
        }
        if (rp->capture && agent_capture_take_overflow(rp->capture)) {
                if (!rp->overflow_pending)
                        agent_out_error(&rp->out,
                                        "The %s event queue overflowed: changes were missed; a "
                                        "scan finds them.",
                                        agent_capture_name(rp->capture));
                rp->overflow_pending = true;
        }
        /* Overflows come in storms: a scan at most every twice its own length, so that scans
         * do not take the machine from the writers. The lag is unknown until it has run. */
        if (rp->overflow_pending && now >= rp->overflow_not_before_usec) {
                int64_t t0 = yb_monotonic_usec();

                rp->overflow_pending = false;
                (void) agent_scan_all(rp, "overflow", false);
                rp->overflow_not_before_usec = yb_monotonic_usec() + 2 * (yb_monotonic_usec() - t0);
        }
        if (now >= rp->next_schedule_usec) {
                rp->next_schedule_usec = now + SCHEDULE_USEC;
                (void) agent_scan_all(rp, "schedule", false);
        }
        /* Collapsed paths are directories to rescan: the scan is the next segment that ships. */
        if (agent_dirty_take_collapsed(rp->dirty) && !rp->budget_scan) {
                agent_out_emit(&rp->out, "scan",
                               json_pack("{s:s, s:s, s:I}", "state", "running", "reason", "budget",
                                         "entries", (json_int_t) 0));
                rp->budget_scan = true;
        }
        agent_out_set_why(&rp->out, rp->overflow_pending || rp->budget_scan ? "rescan" : NULL);
        rp->scanned = 0;
        r = agent_segment_write(rp);
        if (r >= 0 && rp->budget_scan) {
                agent_out_emit(&rp->out, "scan",
                               json_pack("{s:s, s:s, s:I}", "state", "done", "reason", "budget",
                                         "entries", (json_int_t) rp->scanned));
                rp->budget_scan = false;
                agent_out_set_why(&rp->out, rp->overflow_pending ? "rescan" : NULL);
        }
        if (r == -EBUSY)
                log_debug("The repository of system '%s' is locked; the segment waits for the "
                          "next interval.",
                          rp->args->backup.system);
        else if (r < 0 && yb_exit_code_from_errno(r) == YB_EXIT_UNREACHABLE) {
                store_lost(rp, r);
                *retry_at = now + *backoff;
                *backoff = MIN(2 * *backoff, BACKOFF_MAX_USEC);
        } else if (r < 0)
                agent_out_error(&rp->out,
                                "Cannot write a segment of system '%s' into '%s' (%s); its "
                                "changes wait for the next interval.",
                                rp->args->backup.system, rp->args->backup.store, strerror(-r));
}

/* The loop, until something says stop. Returns why. */
static char *run(AgentReplicator *rp) {
        int64_t next = yb_monotonic_usec() + rp->args->interval_usec;
        int64_t retry_at = 0, backoff = BACKOFF_MIN_USEC, root_retry_at = 0;
        char *stop;

        rp->next_schedule_usec = yb_monotonic_usec() + SCHEDULE_USEC;
        for (;;) {
                int64_t now = yb_monotonic_usec();
                bool checkpoint = false;
                const char *s = agent_replicate_poll(
                        rp, -1, now < next ? yb_usec_to_ms_ceil(next - now) : 0, &checkpoint);

                if (s)
                        return strdup(s);
                if (checkpoint && rp->store_down)
                        agent_out_error(&rp->out,
                                        "A checkpoint was asked for while the store '%s' cannot "
                                        "be reached: none is made. Ask again once it is back.",
                                        rp->args->backup.store);
                else if (checkpoint) {
                        stop = make_root(rp, "checkpoint");
                        if (stop)
                                return stop;
                        agent_out_set_why(&rp->out, NULL);
                }
                now = yb_monotonic_usec();
                if (now < next)
                        continue;
                next += rp->args->interval_usec;
                if (next < now)
                        next = now + rp->args->interval_usec;
                interval(rp, &retry_at, &backoff);
                if (!rp->store_down && rp->wal_root_due) {
                        rp->wal_root_due = false;
                        stop = make_root(rp, "wal-lost");
                        if (stop)
                                return stop;
                        agent_out_set_why(&rp->out, NULL);
                }
                if (!rp->store_down && rp->seq >= rp->args->max_chain && now >= root_retry_at) {
                        stop = make_root(rp, "max-chain");
                        if (stop)
                                return stop;
                        /* A root that failed leaves the chain going on; try again later. */
                        if (rp->seq >= rp->args->max_chain)
                                root_retry_at = now + ROOT_RETRY_USEC;
                        agent_out_set_why(&rp->out, NULL);
                }
        }
}

static int setup(AgentReplicator *rp) {
        const AgentBackupArgs *a = &rp->args->backup;
        sigset_t mask;
        int code;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        /* Blocked before any thread starts, so that only the signalfd sees them. */
        pthread_sigmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
        rp->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (rp->sig_fd < 0)
                return agent_fail(-errno, "Cannot set up signal handling: %m");
        (void) fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);
        rp->b.errors = json_array();
        rp->b.streams = json_array();
        rp->b.buf = malloc(AGENT_READ_BUF_SIZE);
        rp->b.roots = new0(char *, a->n_paths + 1);
        rp->sources = new0(AgentSource, a->n_paths + 1);
        if (!rp->b.errors || !rp->b.streams || !rp->b.buf || !rp->b.roots || !rp->sources)
                return agent_fail(-ENOMEM, "Out of memory.");
        code = agent_backup_name_sources(&rp->b);
        if (code != YB_EXIT_OK)
                return code;
        for (size_t i = 0; i < a->n_paths; i++) {
                rp->sources[i].name = rp->b.roots[i];
                rp->sources[i].real = realpath(a->paths[i], NULL);
                if (!rp->sources[i].real)
                        return agent_fail(-errno,
                                          "Cannot replicate '%s': %m. Give the path of an "
                                          "existing directory or file.",
                                          a->paths[i]);
        }
        rp->n_sources = a->n_paths;
        if (agent_dirty_new(rp->args->memory_budget, &rp->dirty) < 0 ||
            agent_state_new(&rp->state) < 0)
                return agent_fail(-ENOMEM, "Out of memory.");
        agent_out_init(&rp->out, rp->dirty);
        return YB_EXIT_OK;
}

static void teardown(AgentReplicator *rp) {
        agent_capture_free(rp->capture);
        agent_wal_free(rp);
        agent_out_done(&rp->out);
        agent_dirty_free(rp->dirty);
        agent_state_free(rp->state);
        yb_header_free(rp->root);
        yb_header_free(rp->last);
        for (size_t i = 0; rp->sources && i < rp->n_sources; i++)
                free(rp->sources[i].real);
        free(rp->sources);
        yb_buf_done(&rp->in);
        safe_close(rp->sig_fd);
        yb_snapshot_writer_free(rp->b.w);
        yb_sigindex_free(rp->b.index);
        yb_sigdelta_chain_free(rp->b.sig_chain);
        agent_links_done(&rp->b.links);
        agent_owners_done(&rp->b.owners);
        free(rp->b.buf);
        close_store(&rp->b);
        yb_agent_identity_free(rp->b.agent);
        json_decref(rp->b.errors);
        json_decref(rp->b.streams);
        free(rp->b.roots);
}

static void started(AgentReplicator *rp) {
        agent_out_emit(&rp->out, "started",
                       json_pack("{s:s, s:I, s:s, s:I, s:I, s:s}", "system",
                                 rp->args->backup.system, "pid", (json_int_t) getpid(), "capture",
                                 agent_capture_name(rp->capture), "watches",
                                 (json_int_t) agent_capture_watches(rp->capture), "interval_ms",
                                 (json_int_t) (rp->args->interval_usec / YB_USEC_PER_MSEC), "store",
                                 rp->args->backup.store));
}

int agent_replicate(AgentReplicateArgs *args) {
        _cleanup_(teardown)
                AgentReplicator rp = { .args = args, .sig_fd = -EBADF, .in = YB_BUF_INIT };
        _cleanup_close_ int lock_fd = -EBADF;
        _cleanup_free_ char *stop = NULL;
        int code, r;

        rp.b.args = &args->backup;
        rp.b.level = YB_LEVEL_SEGMENT;
        code = setup(&rp);
        if (code == YB_EXIT_OK)
                code = lock_instance(&rp, &lock_fd);
        /* From here on the lag is reported once a second ("starting" until the root). */
        if (code == YB_EXIT_OK) {
                r = agent_out_start_ticker(&rp.out);
                if (r < 0)
                        log_warning_errno(r, "Cannot start the lag reports: %m");
                code = open_at_start(&rp, &stop);
        }
        if (code == YB_EXIT_OK && !stop) {
                agent_xattrs_check(&rp.b);
                (void) gethostname(rp.b.host, sizeof(rp.b.host) - 1);
                /* Before anything reads the tree: whatever changes from here on is noticed. */
                r = agent_capture_start(args->capture, rp.sources, rp.n_sources,
                                        args->backup.excludes, args->backup.n_excludes, rp.dirty,
                                        &rp.out, &rp.capture);
                if (r < 0)
                        code = YB_EXIT_FAILED;
        }
        /* pg_receivewal runs before the root, so that the root's WAL is in the spool. */
        if (code == YB_EXIT_OK && !stop && agent_wal_start(&rp) < 0)
                code = agent_fail(-ENOMEM, "Out of memory.");
        if (code != YB_EXIT_OK || stop) {
                agent_out_stop_ticker(&rp.out);
                if (rp.out.dirty)
                        agent_out_emit(&rp.out, "stopped",
                                       json_pack("{s:s, s:i}", "reason",
                                                 stop ? stop : "cannot start (see the log)",
                                                 "status", code));
                return code;
        }
        started(&rp);
        stop = make_root(&rp, "start");
        if (!stop) {
                agent_out_set_why(&rp.out, NULL);
                stop = run(&rp);
        }
        /* Whatever is pending is not lost: the next start makes a root of the tree as it is (and
         * the WAL waits in the spool and the slot). */
        rp.capture = agent_capture_free(rp.capture);
        agent_wal_free(&rp);
        agent_out_stop_ticker(&rp.out);
        agent_out_emit(
                &rp.out, "stopped",
                json_pack("{s:s, s:i}", "reason", stop ? stop : "stopped", "status", YB_EXIT_OK));
        return YB_EXIT_OK;
}
