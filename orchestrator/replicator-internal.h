/* orchestrator/replicator-internal.h: what yunbakd knows of one system's replicator (OrchRepl),
 * shared by its supervision (replicators.c, which writes it from the replicator's reports) and
 * its lag (replicator-lag.c, which reads it for samples, status and metrics). Everything in an
 * OrchRepl is guarded by the daemon's lock, but for the fields marked as the thread's. */
#pragma once

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/base/buf.h"
#include "orchestrator/daemon.h"

/* A report older than this plus the interval leaves the lag unknown (the design's 3 s). */
#define ORCH_REPL_STALE_USEC (3 * YB_USEC_PER_SEC)

typedef struct OrchRepl {
        struct OrchRepl *next;
        YbDaemon *d;
        char *system;
        char *store;  /* the tier-2 store it replicates to */
        char *host;   /* the host it runs on, for messages */
        char *config; /* its command line and target: a reload that changes them restarts it */
        int64_t interval_usec, max_lag_usec;
        bool wanted; /* the policy in force has tier2 (else it was stopped for that) */

        /* The supervising thread. */
        pthread_t thread;
        bool thread_started, thread_done;
        bool stop;          /* end the thread once the replicator ended */
        bool restart;       /* end this run and start again at once (the policy changed) */
        bool cancelled;     /* cancel_fd was written: the replicator is being killed */
        int64_t kill_at;    /* monotonic usec: past it, a replicator told to stop is killed */
        int input_w;        /* our end of the running replicator's stdin, or -1 */
        int cancel_fd;      /* eventfd: stop the replicator now (SIGTERM, then SIGKILL) */
        int wake_fd;        /* eventfd: wake the thread out of its backoff */
        char stop_why[256]; /* why it was stopped, for status ("" while wanted) */

        /* Its runs. */
        bool running;               /* a replicator process runs (or is being started) */
        int64_t run_started;        /* monotonic usec */
        int64_t restart_at;         /* monotonic usec of the next start while waiting; 0: not */
        int64_t restart_at_wall;    /* the same in daemon time, for status */
        int64_t backoff_usec;       /* the wait before the next start */
        unsigned restarts;          /* starts after the first */
        int last_exit, last_signal; /* of the last run: exit status (-1: none) and signal */
        char last_error[512];       /* why the last run ended, or its last error event */
        char last_stderr[256];      /* the replicator's last stderr line */

        /* What it reported (kept across runs: the lag's lower bound goes on from there). */
        bool started; /* the run sent "started" */
        int pid;
        char capture[16];
        int64_t watches;
        bool have_report;  /* a "lag" event came */
        int64_t report_at; /* monotonic usec it came at */
        bool known;
        int64_t lag_ms, pending;
        char why[32]; /* "" or the report's why */
        /* The report's "postgresql": per --postgresql hook its WAL positions (server, received,
         * shipped, slot), as the replicator said them; NULL when it said none. */
        json_t *postgresql;
        bool scanning, root_running, store_unreachable;
        char store_message[256];
        uint64_t segments; /* committed since yunbakd started */
        char last_segment[64];
        int64_t last_segment_ns; /* its finished_ns */
        char last_root[64];

        /* The lag in yunbakd's eyes (replicator-lag.c). */
        bool exceeded;     /* max_lag is exceeded now (audited when it changes) */
        int64_t hour_usec; /* the hour being sampled (daemon time), 0: none yet */
        uint32_t *samples; /* the known lags of the hour, ms */
        size_t n_samples, alloc_samples;
        int64_t unknown_seconds, max_lower_ms;
        int64_t next_checkpoint_usec; /* daemon time; INT64_MAX: none */
        int64_t next_prune_usec;      /* daemon time of the next daily retention */

        /* tier2.retention (replicator-prune.c): its thread, and a checkpoint that asks for it. */
        pthread_t prune_thread;
        bool prune_running, prune_done, prune_due;

        /* The thread's own, not under the lock: the partial lines of stdout and stderr. */
        YbBuf line_out, line_err;
} OrchRepl;

struct YbReplicators {
        OrchRepl *list;
        uint64_t generation; /* d->policy_generation last matched */
};

/* The replicator of system, or NULL. Under lock. */
static inline OrchRepl *orch_repl_find(YbDaemon *d, const char *system) {
        for (OrchRepl *rp = d->replicators ? d->replicators->list : NULL; rp; rp = rp->next)
                if (streq(rp->system, system))
                        return rp;
        return NULL;
}

/* The lag now (monotonic usec now): *ret_known whether it is known, *ret_usec the lag or, while
 * unknown, its lower bound (docs/api.md). */
void orch_repl_lag(const OrchRepl *rp, int64_t mono, bool *ret_known, int64_t *ret_usec);
/* Whether it runs and reports: a run whose last report is fresh. */
bool orch_repl_reporting(const OrchRepl *rp, int64_t mono);
/* Takes this second's sample of the lag (now: daemon time), audits max_lag when it is passed
 * or comes back, and writes the hour's row when the hour is over. Under lock. */
void orch_repl_sample(YbDaemon *d, OrchRepl *rp, int64_t now, int64_t mono);
/* Starts applying tier2.retention to the system's tier-2 store in a thread of its own (nothing
 * when it runs already, or the rules keep everything); why ("checkpoint", "daily") goes to the
 * audit. Under lock; 0 or -errno (logged). */
int orch_repl_prune_start(YbDaemon *d, OrchRepl *rp, const char *why);
/* Joins the retention thread once it has ended. Under lock. */
void orch_repl_prune_reap(OrchRepl *rp);
/* Writes the hour being sampled to the catalog (if it has samples) and starts it afresh. */
void orch_repl_flush_hour(YbDaemon *d, OrchRepl *rp);
