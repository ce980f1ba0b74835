/* orchestrator/daemon.h: yunbakd's state, shared by its parts: the main loop (yunbakd.c), the
 * job queue and workers (jobs.c), the control API (api.c), metrics (metrics.c) and the catalog
 * rebuild (rebuild.c).
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
        int64_t next_full, next_differential, next_incremental; /* INT64_MAX: none */
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
} YbSystem;

typedef struct YbJob YbJob;

typedef struct YbDaemon {
        YbDaemonConfig *config;
        char *config_path;
        YbAgentIdentity *key; /* signs audit seals */
        int64_t started_usec;
        bool foreground;

        /* the test clock: when set, time is virtual, starts at YUNBAKD_TEST_CLOCK and jumps to
         * the next event whenever no job is queued or running; yunbakd exits at test_until. */
        bool test_clock;
        int64_t virtual_now, test_until;

        YbHttpd *api, *metrics;
        int wake_fd; /* eventfd: the main loop has something to look at */

        pthread_mutex_t lock;
        pthread_cond_t work; /* a job was queued, or we are stopping */
        pthread_cond_t idle; /* a job ended */
        YbCatalog *catalog;
        YbSystem *systems;
        size_t n_systems;
        char **policy_errors; /* of the last load that failed; NULL-terminated, or NULL */
        YbScheduler *scheduler;
        YbJob *queue, *running, *delayed; /* lists */
        int n_queued, n_running;
        bool stopping;
        int64_t last_seal_usec;
        pthread_t *workers;
        int n_workers;
} YbDaemon;

/* Time as the daemon sees it (virtual under the test clock), in usec since the epoch. */
int64_t yb_daemon_now(YbDaemon *d);
/* Wakes the main loop. */
void yb_daemon_wake(YbDaemon *d);

/* A system by id, or NULL; under lock. */
YbSystem *yb_daemon_system(YbDaemon *d, const char *id);

/* Appends an audit record; under lock. actor NULL: the daemon itself. */
void yb_daemon_audit(YbDaemon *d, const YbPerson *actor, const char *action, const char *object,
                     const char *result, const char *detail);

/* (Re)loads the policy directory. On any error the systems in force stay, the errors are kept
 * for status and logged, and -EINVAL is returned. Takes the lock. */
int yb_daemon_load_policies(YbDaemon *d, const YbPerson *by);

/* jobs.c */
int yb_jobs_start(YbDaemon *d);
void yb_jobs_stop(YbDaemon *d);
/* Queues a tier-1 job; under lock. -EBUSY with *ret_job the job already queued or running for
 * the system. */
int yb_jobs_queue(YbDaemon *d, const char *system, const char *level, const char *trigger,
                  int64_t scheduled_usec, int64_t *ret_job);
/* Cancels a queued or running job; under lock. -ENOENT if it is neither. */
int yb_jobs_cancel(YbDaemon *d, int64_t job);
/* Moves delayed retries that are due into the queue; the earliest one still waiting, or
 * INT64_MAX. Under lock. */
int64_t yb_jobs_promote_delayed(YbDaemon *d, int64_t now_usec);

/* api.c: the control API handler (docs/api.md); userdata is the YbDaemon. */
void yb_api_handle(void *userdata, const YbHttpRequest *req, YbHttpResponse *resp);
/* metrics.c: /metrics in Prometheus text format. */
void yb_metrics_handle(void *userdata, const YbHttpRequest *req, YbHttpResponse *resp);

/* rebuild.c: recreates systems and snapshots from the stores; counts in *ret (a JSON-ready
 * summary). Under lock. */
typedef struct YbRebuildSummary {
        int systems, snapshots, added, removed, errors;
} YbRebuildSummary;
int yb_catalog_rebuild(YbDaemon *d, YbRebuildSummary *ret);

/* Copies each system's next due times from the scheduler into its status; under lock. */
void yb_daemon_refresh_next(YbDaemon *d);

/* Reads the latest tier-1 results from the catalog into each system's status; under lock. */
int yb_daemon_load_status(YbDaemon *d);
