/* orchestrator/daemon-config.h: yunbakd's configuration file, yunbakd.yaml (docs/operations.md,
 * "Configuration (yunbakd.yaml)"): where the catalog, policies and keys are, the daemon's limits,
 * and the stores, hosts and people that policies and the control API refer to.
 *
 * It is read with the typed readers of policies/schema.h: every problem of the file is reported
 * at once as "file:line:col: message" (syntax, duplicate keys, unknown keys with "did you mean",
 * wrong types, bad values, unknown unix users). Relative paths are resolved against the
 * directory of the file. Nothing but the people's unix users and the S3 stores' credentials
 * files (which must exist and be closed to others) is looked up at load: directories, stores and
 * hosts are checked when the daemon uses them. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/base/macro.h"
#include "core/store/store.h"
#include "orchestrator/access.h"
#include "orchestrator/store-limits.h"
#include "policies/policy.h"

#define YB_CONFIG_DEFAULT_SOCKET "/run/yunbak/yunbakd.sock"
#define YB_CONFIG_DEFAULT_SOCKET_MODE 0660
#define YB_CONFIG_DEFAULT_SOCKET_GROUP "yunbak"
#define YB_CONFIG_DEFAULT_STATE "/var/lib/yunbakd"
#define YB_CONFIG_DEFAULT_AGENT "yunbak-agent"
#define YB_CONFIG_DEFAULT_MAX_JOBS 2
#define YB_CONFIG_MAX_JOBS 256
#define YB_CONFIG_DEFAULT_JOB_TIMEOUT_USEC (6 * YB_USEC_PER_HOUR)
#define YB_CONFIG_DEFAULT_RETRIES 3
#define YB_CONFIG_MAX_RETRIES 20
#define YB_CONFIG_DEFAULT_RETRY_BACKOFF_USEC (5 * YB_USEC_PER_MINUTE)
#define YB_CONFIG_DEFAULT_SEAL_INTERVAL_USEC (5 * YB_USEC_PER_MINUTE)

typedef enum YbConfigStoreKind {
        YB_CONFIG_STORE_LOCAL, /* a directory on the daemon's machine (and the agents') */
        YB_CONFIG_STORE_SFTP,  /* a directory on an SFTP server */
        YB_CONFIG_STORE_S3,    /* a prefix in an S3 bucket */
        _YB_CONFIG_STORE_KIND_MAX,
} YbConfigStoreKind;

typedef struct YbConfigStore {
        char *name; /* [a-z0-9-], 1 to 63 characters, not starting with '-' */
        /* Where the store is, as yunbak-agent's --store takes it: the absolute directory of a
         * local store (a relative path resolved, "file://" removed), the URL as written for
         * sftp://user@host[:port]/path and s3://bucket[/prefix]. */
        char *url;
        YbConfigStoreKind kind;
        char *path; /* the directory: local, or on the SFTP server; s3: the prefix ("" for none) */
        char *bucket;           /* s3 only */
        YbS3Options s3;         /* s3 only, required: the `s3:` block; owns its strings */
        char *user, *address;   /* sftp only: the SSH user and host (IPv6 without brackets) */
        int port;               /* sftp only: default 22 */
        char *ssh_key;          /* sftp only, required: the private key yunbakd logs in with */
        char *known_hosts;      /* sftp only, required: the server's host key (known_hosts file) */
        uint64_t rate_bps;      /* `bandwidth`: bytes per second copies write to it; 0: no limit */
        YbStoreWindow *windows; /* `windows`: when copies may write to it; none: always */
        size_t n_windows;
        unsigned line, column; /* where the store's name is written */
} YbConfigStore;

typedef struct YbConfigHost {
        char *name;           /* [a-z0-9-], as sources.host of policies names it */
        bool local;           /* local: true: the agent runs as a child process of yunbakd */
        char *user, *address; /* ssh: user@host[:port] (address: IPv6 without brackets) */
        int port;             /* default 22 */
        char *ssh_key;        /* ssh hosts, required: the private key yunbakd logs in with */
        char *known_hosts;    /* ssh hosts, required: the host's key (known_hosts file) */
        char *agent;          /* path of yunbak-agent on that host (absolute, or a name looked up in
                               * PATH); default "yunbak-agent" */
        char *state_dir;    /* optional --state-dir for the agent: an absolute path on that host */
        bool has_agent_key; /* agent_key: the host's agent identity is pinned */
        uint8_t agent_key[32]; /* the Ed25519 key `yunbak-agent identity` prints on that host */
        unsigned line, column; /* where the host's name is written */
} YbConfigHost;

typedef struct YbConfigPerson {
        char *user; /* a unix user of the daemon's machine, resolved at load */
        uid_t uid;
        YbRole role;           /* operator, department or auditor */
        char *department;      /* role department only (required there), else NULL */
        unsigned line, column; /* where the person's user is written */
} YbConfigPerson;

typedef struct YbDaemonConfig {
        char *file;           /* where it was read from (the name given to parse) */
        char *catalog;        /* required: the catalog, an SQLite file */
        char *socket;         /* the control API's Unix socket: default YB_CONFIG_DEFAULT_SOCKET */
        mode_t socket_mode;   /* `socket_mode: "0660"`, default 0660 */
        char *socket_group;   /* `socket_group`: the socket's group, default "yunbak" if that
                               * group exists; NULL: the daemon's own group */
        gid_t socket_gid;     /* socket_group's gid, resolved at load; (gid_t) -1 when NULL */
        char *metrics_listen; /* host:port for /metrics over TCP, or NULL: none */
        char *policies;       /* required: the directory of *.yaml policy files */
        char *keys;           /* required: the directory of ID.pub files */
        char *state;          /* the daemon's own directory (its Ed25519 audit key) */
        int max_jobs;         /* jobs at a time, 1 to 256; default 2 */
        int64_t job_timeout_usec;   /* `job_timeout`, default 6h */
        int retries;                /* a failed job is retried this often, 0 to 20; default 3 */
        int64_t retry_backoff_usec; /* `retry_backoff`: the first delay, doubling; default 5min */
        int64_t seal_interval_usec; /* `audit_seal_interval`, default 5min */
        YbConfigStore *stores;      /* in the order of the file */
        size_t n_stores;
        YbConfigHost *hosts;
        size_t n_hosts;
        YbConfigPerson *people;
        size_t n_people;
} YbDaemonConfig;

/* Reads and checks the configuration file at path; relative paths in it are resolved against
 * its directory (made absolute with the working directory). On success returns 0 and the caller
 * owns *ret. On any error returns -EINVAL with every problem appended to diag (which the caller
 * owns) as "path:line:col: message", sorted by position, and *ret untouched. A file that cannot
 * be read gives its -errno and one line "path: cannot read: reason"; -ENOMEM adds nothing. */
int yb_daemon_config_load(const char *path, YbDaemonConfig **ret, YbDiagnostics *diag);
/* The same from memory: name is used in messages and kept in file; relative paths are resolved
 * against base_dir, which should be absolute (NULL: relative paths are errors). */
int yb_daemon_config_parse(const char *name, const char *text, size_t size, const char *base_dir,
                           YbDaemonConfig **ret, YbDiagnostics *diag);
YbDaemonConfig *yb_daemon_config_free(YbDaemonConfig *c); /* Accepts NULL; always returns NULL. */
DEFINE_FREEP(YbDaemonConfig, yb_daemon_config_free);

/* The store or host of that name, or NULL. Borrowed from c. */
const YbConfigStore *yb_daemon_config_store(const YbDaemonConfig *c, const char *name);
const YbConfigHost *yb_daemon_config_host(const YbDaemonConfig *c, const char *name);

/* Checks a policy against the configuration: its sources.host must be a host, and its tier1,
 * tier2 and tier3 stores stores, named in c. Each problem is appended to diag as
 * "policyfile:line:col: message" at the name in the policy, with "did you mean" for near misses.
 * Returns 0, -EINVAL (problems were appended) or -ENOMEM. */
int yb_daemon_config_check_policy(const YbDaemonConfig *c, const YbPolicy *p, YbDiagnostics *diag);
