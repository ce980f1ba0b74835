/* orchestrator/daemon.h: yunbakd's state and the services its parts share (orchestrator/daemon.c):
 * the clock, waking the main loop, the audit log, the systems and their status, loading the
 * policies. Its users are the main loop (yunbakd.c), the job queue and workers (jobs.h), the
 * control API (api.h), metrics (metrics.h) and the catalog rebuild (rebuild.h); this file calls
 * none of them.
 *
 * Threads: the main thread runs the scheduler and timers; libmicrohttpd's thread runs API and
 * metrics requests; max_jobs worker threads run jobs. Everything in YbDaemon below `lock` is
 * guarded by it, the catalog connection included. Nobody holds the lock while a job runs. */
#pragma once

#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "core/crypto/keys.h"
#include "orchestrator/access.h"
#include "orchestrator/daemon-config.h"
#include "orchestrator/httpd.h"
#include "orchestrator/scheduler.h"
#include "policies/policy.h"

/* What the daemon knows of one system's tier 3, its off-site copies (orchestrator/copies.c). */
typedef struct YbTier3Status {
        int64_t job;           /* the copy job queued, running or waiting; 0: none */
        bool running;          /* that job is copying now */
        int64_t paused_until;  /* the job waits for its store's window to open then; 0: not */
        bool has_last;         /* a copy job has ended */
        int last_state;        /* the YbJobState it ended in */
        int64_t last_end_usec; /* when */
        uint64_t last_sent, last_reused, last_verified; /* its bytes */
        char last_error[512];
        char newest[64];     /* the newest snapshot off-site, "" if none */
        int64_t newest_usec; /* when that snapshot was made (its header) */
        uint64_t sent_total; /* bytes written off-site since yunbakd started */
        uint64_t progress_sent, progress_reused, progress_total; /* of the running copy */
        int64_t next_usec;       /* the next scheduled copy; INT64_MAX: none */
        int64_t missed_due_usec; /* the oldest scheduled copy not done yet; 0: none */
        int64_t period_usec;     /* the schedule's period, as its last two elapses say */
} YbTier3Status;

/* What the daemon knows of one system's tier 1 between catalog reads. */
typedef struct YbSystemStatus {
        int64_t last_success_usec;  /* 0: never */
        int last_state;             /* a YbJobState, or -1 before the first job */
        char last_snapshot[64];     /* of the last success */
        int64_t last_job;           /* the last job that ended */
        int64_t running_job;        /* queued or running, 0 if none */
        int64_t last_duration_usec; /* of the last job that ended */
        uint64_t last_bytes_stored; /* likewise */
        int64_t snapshots;          /* in the catalog, all stores */
        /* The last retention that S3 Object Lock stopped: how many snapshots it kept, and the
         * latest date it keeps one until ("" and 0: none). */
        int64_t prune_locked;
        char prune_locked_until[24];
        int64_t next_full, next_differential, next_incremental; /* INT64_MAX: none */
        YbTier3Status tier3;
        int64_t offsite_requests_pending; /* requests for off-site copies awaiting a decision */
        /* Its live decommission (catalog/decommissions.h; neither refused nor withdrawn), as the
         * catalog says at each status load and the execution (decommission-run.c) as it moves
         * on: 0 when none. From "executing" on the system's tiers are stopped
         * (yb_system_stopped). */
        int64_t decommission;
        char decommission_state[24];
        int64_t decommission_certificate; /* certified: the certificate's id */
        /* Its drills (orchestrator/drill-due.h), as the catalog says at each status load and the
         * drill routes as they record one: times 0 when none. */
        int64_t drill_last_passed_usec; /* the start of the last drill that passed */
        int drill_last_passed_tier;
        int64_t drill_last_usec; /* the start of the newest drill, whatever its state */
        char drill_last_state[12];
        int64_t drill_policy_since_usec; /* when yunbakd first loaded its policy */
        /* As status last judged them, so that its JSON is remade when they flip. */
        bool drill_overdue, drill_abandoned;
} YbSystemStatus;

typedef struct YbSystem {
        YbPolicy *policy; /* owned */
        char *text;       /* the policy file as loaded */
        char hash[65];    /* hex BLAKE2b-256 of text */
        YbPublicKey pub;  /* keys/ID.pub as read with the policy: the agent gets its text */
        YbSystemStatus status;
        /* The system's JSON for /v1/status, and the status it was made from: remade only when
         * the status has changed, so that status with 1,000 systems stays well under 10 ms. */
        char *json_cache;
        YbSystemStatus json_status;
        int64_t json_sec; /* the second it was made in, for the ages it says */
} YbSystem;

typedef struct YbJob YbJob;
typedef struct YbRepairs YbRepairs;
typedef struct YbReplicators YbReplicators;
typedef struct YbWalWatch YbWalWatch;
typedef struct YbDecommissions YbDecommissions;

typedef struct YbDaemon {
        YbDaemonConfig *config;
        char *config_path;
        YbAgentIdentity *key;   /* signs audit seals */
        int lock_fd;            /* holds <state>/yunbakd.lock (daemon-guard.h), or -1 */
        int64_t saved_head_seq; /* the seal last recorded in <state>/audit-head */
        int64_t started_usec;
        bool foreground;

        /* the test clock: when set, time is virtual, starts at YUNBAKD_TEST_CLOCK and jumps to
         * the next event whenever no job is queued or running; yunbakd exits at test_until. */
        bool test_clock;
        int64_t virtual_now, test_until;
        /* YUNBAKD_TEST_HOLD=1 with the test clock: time stands still at YUNBAKD_TEST_CLOCK and
         * yunbakd runs until it is stopped, so that a test reads status at a time it chose. */
        bool test_hold;

        YbHttpd *api, *metrics;
        int wake_fd; /* eventfd: the main loop has something to look at */

        pthread_mutex_t lock;
        pthread_cond_t work; /* a job was queued, or we are stopping */
        pthread_cond_t idle; /* a job ended */
        YbCatalog *catalog;
        YbSystem *systems;
        size_t n_systems;
        char **policy_errors;       /* of the last load, NULL-terminated, or NULL: none */
        size_t policy_files_broken; /* policy files the last load left out */
        YbScheduler *scheduler;
        YbJob *queue, *running, *delayed; /* lists */
        int n_queued, n_running;
        bool stopping;
        int64_t last_seal_usec;
        /* The catalog's health: the error of the last write that failed, 0 once one succeeds
         * again; ends of jobs not yet written (jobs.c), kept until they are. */
        int catalog_error;
        struct YbPendingEnd *pending_ends;
        int n_pending_ends;
        pthread_t *workers;
        int n_workers;
        YbRepairs *repairs; /* repairs.h: started by the API, stopped by yb_repairs_stop */
        /* replicators.h: tier 2, matched to the policies by the main loop whenever
         * policy_generation (one more at every policy load) moves; stopped by
         * yb_replicators_stop. */
        YbReplicators *replicators;
        /* wal-archive-watch.h: the physical hooks' WAL archives, checked by the main loop
         * (its own thread reads the stores); freed by yb_walwatch_stop. */
        YbWalWatch *walwatch;
        uint64_t policy_generation;
        /* decommission.h: executions and verifications of decommissions, each in its own
         * thread; stopped by yb_decommissions_stop. */
        YbDecommissions *decommissions;
} YbDaemon;

/* A new daemon with nothing loaded (no config, no catalog, wake_fd -1), its lock and conditions
 * made. NULL when out of memory. The caller owns it. */
YbDaemon *yb_daemon_new(void);
/* Stops the API and metrics servers and frees the systems, catalog, key and config. The job
 * workers must have been stopped first (yb_jobs_stop, orchestrator/jobs.h). Accepts NULL; returns
 * NULL. */
YbDaemon *yb_daemon_free(YbDaemon *d);
DEFINE_FREEP(YbDaemon, yb_daemon_free);

/* Time as the daemon sees it (virtual under the test clock), in usec since the epoch. */
int64_t yb_daemon_now(YbDaemon *d);
/* Puts the daemon on the test clock (see test_clock above) when start is a time (as
 * yb_time_parse reads it); until (NULL or "": never) is when yunbakd stops. Nothing when start is
 * NULL or empty. -EINVAL, logged, if either is not a time. */
int yb_daemon_use_test_clock(YbDaemon *d, const char *start, const char *until);
/* Wakes the main loop. */
void yb_daemon_wake(YbDaemon *d);

/* A system by id, or NULL; under lock. The pointer lives until the next policy load. */
YbSystem *yb_daemon_system(YbDaemon *d, const char *id);

/* Appends an audit record; under lock. actor NULL: the daemon itself. A failure is logged, kept
 * in catalog_error and returned as -errno. */
int yb_daemon_audit(YbDaemon *d, const YbPerson *actor, const char *action, const char *object,
                    const char *result, const char *detail);
/* Seals the audit log with the daemon's key as of now (a failure is logged), remembers when, in
 * last_seal_usec, and records the sealed head outside the catalog (daemon-guard.h); under
 * lock. */
void yb_daemon_seal_audit(YbDaemon *d, int64_t now);

/* Loads the daemon's signing key from the state directory (config->state), making the directory
 * and the key if there are none, and writes the key's public half to yunbakd.pub there. Logs and
 * returns -errno on failure. */
int yb_daemon_load_key(YbDaemon *d);

/* (Re)loads the policy directory, file by file: every file that passes its checks is put in
 * force; one that does not is left out, and the last good version of it (the one in force, or at
 * start the catalog's) stays in force where there is one. Each problem is logged and kept in
 * policy_errors for status, each file left out is counted in policy_files_broken and gets a
 * "policy.load" audit record. Returns 0 when every file loaded, -EINVAL when some were left out
 * (the others are in force), another -errno when the directory cannot be read (nothing changed)
 * or the systems cannot be scheduled. Takes the lock. */
int yb_daemon_load_policies(YbDaemon *d, const YbPerson *by);
/* Checks the policy directory as yb_daemon_load_policies would load it, without touching the
 * daemon's state or catalog (d->catalog may be NULL): every problem is appended to diag, with a
 * line per file left out. *ret_loaded: the policies that would be in force; *ret_broken: the files
 * left out. -errno (and a line in diag) if the directory cannot be read. */
int yb_daemon_check_policies(YbDaemon *d, YbDiagnostics *diag, size_t *ret_loaded,
                             size_t *ret_broken);

/* Whether the system's tiers are stopped for its decommission (executing, executed or
 * certified: docs/decommission.md, "Execution"): nothing is scheduled, queued, replicated or
 * watched for it. */
bool yb_system_stopped(const YbSystem *s);
/* "system ID is being decommissioned (decommission N)" (or "was decommissioned (certificate
 * N)") into buf, for refusals. */
void yb_system_stopped_why(const YbSystem *s, char *buf, size_t size);

/* Copies each system's next due times from the scheduler into its status; under lock. */
void yb_daemon_refresh_next(YbDaemon *d);

/* Reads the latest tier-1 results from the catalog into each system's status, and the pending
 * off-site requests (yb_daemon_load_requests); under lock. */
int yb_daemon_load_status(YbDaemon *d);
/* Reads each system's live decommission (id, state, certificate) from the catalog into its
 * status; under lock. A failure is logged and returned as -errno. */
int yb_daemon_load_decommissions(YbDaemon *d);
/* Reads each system's count of pending off-site requests from the catalog into its status
 * (offsite_requests_pending); under lock. A failure is logged and returned as -errno. */
int yb_daemon_load_requests(YbDaemon *d);
