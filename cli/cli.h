/* cli/cli.h: the yunbak command's shared helpers. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "core/crypto/keys.h"
#include "core/repo/repo.h"
#include "core/store/store-options.h"

typedef int (*CliCommandFn)(int argc, char **argv);

int cli_key(int argc, char **argv);
int cli_snapshots(int argc, char **argv);
int cli_verify(int argc, char **argv);
int cli_restore(int argc, char **argv);
int cli_decrypt(int argc, char **argv);
int cli_policy(int argc, char **argv);
int cli_prune(int argc, char **argv);
int cli_copy(int argc, char **argv);
/* The commands that ask yunbakd (cli/ctl.h). */
int cli_status(int argc, char **argv);
int cli_jobs(int argc, char **argv);
int cli_backup(int argc, char **argv);
int cli_audit(int argc, char **argv);
int cli_catalog(int argc, char **argv);
int cli_offsite(int argc, char **argv);
int cli_repair(int argc, char **argv);
int cli_decommission(int argc, char **argv);
/* Offline, or asking yunbakd for a certificate by id (cli/cmd-certificate.c). */
int cli_certificate(int argc, char **argv);
/* yunbak drill: the run (cli/cmd-drill.c), or `drill list|show|verify`, which it hands to
 * cmd_drill_admin. */
int cli_drill(int argc, char **argv);
/* yunbak drill list|show|verify (cli/cmd-drill-show.c): argv[0] is the subcommand ("list",
 * "show" or "verify"), its options and operands follow. Returns the exit code. */
int cmd_drill_admin(int argc, char **argv);
/* The period's report from yunbakd (cli/cmd-report.c). */
int cli_report(int argc, char **argv);

/* Reads the passphrase: from file, else $YUNBAK_PASSPHRASE_FILE, else asked on the terminal
 * (twice when confirm). Returns 0 or an exit code having printed why. *ret is sodium memory. */
int cli_get_passphrase(const char *file, bool confirm, char **ret);
void cli_passphrase_free(char *p);

/* Loads the private key at path with a passphrase. Returns 0 or an exit code (printed). */
int cli_load_secret_key(const char *path, const char *passphrase_file, YbSecretKey **ret);

/* --ssh-key FILE and --known-hosts FILE (for an sftp:// store), --store-timeout, and the --s3-*
 * options (for an s3:// store: core/store/store-options.h, codes CLI_OPT_S3 + YB_S3_OPT_*), which
 * every command taking --store takes too, as getopt_long entries, and their lines in a command's
 * --help. */
enum { CLI_OPT_SSH_KEY = 0x1000, CLI_OPT_KNOWN_HOSTS, CLI_OPT_STORE_TIMEOUT, CLI_OPT_S3 = 0x1100 };
/* clang-format off */
#define CLI_STORE_OPTIONS                                                                          \
        { "ssh-key", required_argument, NULL, CLI_OPT_SSH_KEY },                                   \
        { "known-hosts", required_argument, NULL, CLI_OPT_KNOWN_HOSTS },                           \
        { "store-timeout", required_argument, NULL, CLI_OPT_STORE_TIMEOUT },                       \
        YB_S3_GETOPT_OPTIONS(CLI_OPT_S3)
#define CLI_STORE_OPTIONS_HELP                                                                     \
        "  --ssh-key FILE       an sftp:// store: the private key to log in with (default:\n"      \
        "                       ~/.ssh/id_ed25519, then id_ecdsa, id_rsa)\n"                       \
        "  --known-hosts FILE   an sftp:// store: the known_hosts file that must hold the\n"       \
        "                       server's host key (default: ~/.ssh/known_hosts)\n"                 \
        "  --store-timeout DURATION  sftp:// and s3://: the longest any network wait may\n"        \
        "                       take (30s, 2min; default 30s)\n"                                   \
        "  --s3-endpoint URL    an s3:// store: where the S3 service answers,\n"                   \
        "                       https://HOST[:PORT] (default: $YUNBAK_S3_ENDPOINT)\n"              \
        "  --s3-credentials FILE  an s3:// store: the file with the bucket's keys (AWS's\n"        \
        "                       format), closed to others (default: $YUNBAK_S3_CREDENTIALS)\n"     \
        "  --s3-region R        the SigV4 region (default: $YUNBAK_S3_REGION, else default)\n"     \
        "  --s3-style path|virtual  how the bucket is addressed (default path)\n"                  \
        "  --s3-ca FILE         PEM certificates to trust for https (default: the system's)\n"    \
        "  --s3-object-lock compliance  the bucket has Object Lock: what this writes stays\n"      \
        "                       undeletable for --s3-retention DURATION (such as 90d)\n"          \
        "  --s3-parallel N      requests in flight per file, 1 to 64 (default 4)\n"
/* clang-format on */
/* Takes getopt's c when it is one of CLI_STORE_OPTIONS (into what cli_open_store and
 * cli_open_repo use): 1 if it was, 0 if it is not one of them, -1 for a bad value (printed). */
int cli_store_option(int c, const char *arg);

/* Opens a store with the CLI_STORE_OPTIONS given. Returns 0 or an exit code (printed). */
int cli_open_store(const char *location, YbStore **ret);

/* Opens store and the system's repository in it, with the CLI_STORE_OPTIONS given. Returns 0 or
 * an exit code (printed). */
int cli_open_repo(const char *location, const char *system, YbStore **ret_store, YbRepo **ret);

/* Picks a snapshot of list: by id, by --at time (newest at or before), or the newest. When a
 * damaged snapshot (header missing or not checking out) may be newer than the pick, refuses,
 * naming it, unless allow_older (then says which it took instead). An --at time in the future
 * is said, with the newest snapshot. Returns 0 or an exit code (printed). */
int cli_pick_snapshot(const YbSnapshotList *l, const char *system, const char *id, const char *at,
                      bool allow_older, const YbSnapshotHeader **ret);

/* Says (on standard error) that snapshot h is partial: how many entries were left out at backup
 * and, with key, which and why, also appended as strings to lacks (a JSON array) if non-NULL.
 * Nothing for a snapshot that is not partial. Returns 0 or an exit code (printed). */
int cli_say_partial(YbRepo *repo, const YbSnapshotHeader *h, const YbSecretKey *key, json_t *lacks);

/* Says (a warning on standard error) that the file at path was restored with the content
 * segment read while the file was being written, from read_started_ns on; appends
 * {"path", "segment", "read_started_ns", "finished_ns"} to changing (a JSON array) if non-NULL. */
void cli_say_changing(const char *path, const YbSnapshotHeader *segment, int64_t read_started_ns,
                      json_t *changing);

/* Agents whose snapshots are accepted (--trust-agent KEY, repeatable). Empty: any agent. */
typedef struct CliTrust {
        uint8_t (*keys)[32];
        size_t n;
} CliTrust;

/* Adds a base64 Ed25519 key (from 'yunbak-agent identity'). Returns 0 or an exit code. */
int cli_trust_add(CliTrust *t, const char *b64);
bool cli_trust_allows(const CliTrust *t, const uint8_t pk[32]);
void cli_trust_done(CliTrust *t);

/* The usage line for errors: prints "Try 'yunbak CMD --help'." and returns YB_EXIT_USAGE. */
int cli_usage_error(const char *cmd);
/* Checks a command's required options, given as (name, value) pairs ended by a NULL name, e.g.
 * ("--system ID", system, "--out DIR", out, NULL): when any value is NULL, logs "CMD needs
 * --system ID and --out DIR." naming only the missing ones, and returns YB_EXIT_USAGE (after
 * "Try 'yunbak CMD --help'."); else 0. */
int cli_need_options(const char *cmd, ...);
/* 0 when system is a valid system id; otherwise says why ("'X' is not a valid system id: ...")
 * and returns YB_EXIT_USAGE. */
int cli_check_system_id(const char *system);
/* one when n is 1, else many: "1 system", "2 systems", "0 systems". */
const char *cli_plural(int64_t n, const char *one, const char *many);
/* Takes in getopt's c when it is one of CLI_CTL_OPTIONS (ctl.h) (into *socket and *json; --help
 * prints usage), or reports any other as a usage error of command. Returns -1 when parsing goes on,
 * else the exit code to return. */
int cli_ctl_option(int c, const char **socket, bool *json, void (*usage)(FILE *f),
                   const char *command);

/* Prints the closing lines of an audit log check (yunbak audit verify, yunbak-catalog). */
void cli_audit_summary(bool ok, int64_t records, int64_t seals, int64_t last_sealed,
                       size_t problems);

/* Replaces this process with the helper program name (found beside yunbak, else in yunbak's
 * libexec directory) run with argv. Returns only on failure: an exit code, having printed why. */
int cli_exec_helper(const char *name, char *const argv[]);
