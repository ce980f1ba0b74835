/* orchestrator/job-spec.h: what a tier-1 job (or a tier-2 replicator) needs to run
 * (orchestrator/job-spec.c), copied from the daemon's state under its lock, so that the job can run
 * without the lock and a policy reload cannot pull anything away: the store and host, the hooks,
 * the retention, which of the system's snapshots the catalog quarantines, and the agent's command
 * line. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "core/store/store.h"
#include "orchestrator/daemon.h"
#include "orchestrator/runner.h"
#include "policies/policy.h"

/* What a job needs, copied under the lock so that a reload cannot pull it away. Owns its strings.
 */
typedef struct YbJobSpec {
        char *system, *level, *store_name, *store_url, *key_json, *agent, *state_dir, *host;
        YbRunTarget target;
        char *user, *address, *ssh_key, *known_hosts;
        /* An sftp:// store: the key and known_hosts its stores entry gives (else NULL), for
         * yunbakd's own connections and the agent's --ssh-key and --known-hosts. */
        char *store_ssh_key, *store_known_hosts;
        /* An s3:// store: its stores entry's `s3:` block (owned), for yunbakd's own connections
         * and the agent's --s3-* flags; zeroed for other stores. */
        YbS3Options store_s3;
        bool has_agent_key; /* hosts.NAME.agent_key pins the agent's identity */
        uint8_t agent_key[32];
        YbNames quarantined; /* the system's snapshots in the store that the catalog quarantines */
        YbNames trusted;     /* ... and those it holds unquarantined */
        char **argv;         /* the agent's command line */
        size_t argc, alloc;
        YbHook *hooks; /* a copy of the policy's, strings included */
        size_t n_hooks;
        YbRetention retention;
        int64_t lock_until_usec, timeout_usec;
} YbJobSpec;

/* Fills the zeroed *s for a job of system at level; under lock. On failure the reason, in a
 * sentence for the job's error, goes to error: -ENOENT (the system has no policy any more, or its
 * store or host is not in yunbakd.yaml), the catalog's -errno, or -ENOMEM (error not set). *s
 * may be partly filled even then: free it with yb_job_spec_done in any case. */
int yb_job_spec_make(YbDaemon *d, const char *system, const char *level, YbJobSpec *s, char *error,
                     size_t error_size);
/* The same for a tier-1 backup into another store than the policy's (NULL: the policy's),
 * sealed to another public key (key_json: the key file's JSON; NULL: the system's), with no
 * retention: a decommission's final export (orchestrator/export-job.h). */
int yb_job_spec_make_to(YbDaemon *d, const char *system, const char *level, const char *store,
                        const char *key_json, YbJobSpec *s, char *error, size_t error_size);
/* Fills the zeroed *s for system's replicator (yunbak-agent replicate to its tier-2 store, with
 * its interval, excludes and sources; level "segment"), as yb_job_spec_make does. -ENOENT also
 * when the policy has no tier2. */
int yb_replicate_spec_make(YbDaemon *d, const char *system, YbJobSpec *s, char *error,
                           size_t error_size);
/* Frees what *s holds. */
void yb_job_spec_done(YbJobSpec *s);
/* Opens the job's store with its stores entry's options. On failure says why in
 * error (for people, naming the store) and returns -errno. */
int yb_job_spec_open_store(const YbJobSpec *s, YbStore **ret, char *error, size_t error_size);

/* An agent's public key as the catalog and the messages write it (base64), or NULL when out of
 * memory. The caller frees it. */
char *yb_job_agent_key_text(const uint8_t pk[32]);
