/* The command line of 'yunbak-agent replicate' (docs/cli.md): the backup's store, key and path
 * options, and the replicator's own (interval, chain length, capture, memory budget, timeouts). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "agents/replicate.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"

static void usage(FILE *f) {
        fputs("Usage: yunbak-agent replicate --store STORE --system ID --public-key ID.pub\n"
              "                              [--interval 2s] [--exclude GLOB]...\n"
              "                              [--postgresql NAME=CONNINFO]... [PATH...]\n"
              "\n"
              "Replicates PATH... of system ID continuously into the tier-2 STORE: a chain\n"
              "root (a tier-1 backup) at start, then every --interval a segment holding what\n"
              "changed. Runs until its standard input ends, SIGTERM or SIGINT, or the command\n"
              "{\"cmd\":\"stop\"} on standard input ({\"cmd\":\"checkpoint\"} makes a new root).\n"
              "Prints its progress as JSON lines (docs/replication.md).\n"
              "\n"
              "  --store STORE           the tier-2 store: a directory, file:///path,\n"
              "                          sftp://user@host[:port]/path or "
              "s3://bucket[/prefix]\n" AGENT_STORE_OPTIONS_HELP
              "  --system ID             the information system's id\n"
              "  --public-key FILE       the system's ID.pub from 'yunbak key init'\n"
              "  --public-key-json JSON  the text of ID.pub itself, instead of --public-key\n"
              "  --interval D            how often a segment is written (default 2s, at least\n"
              "                          100ms)\n"
              "  --max-chain N           segments in a chain before a new root (default 43200)\n"
              "  --capture HOW           auto (fanotify as root, else inotify), fanotify or\n"
              "                          inotify (default auto)\n"
              "  --exclude GLOB          skip matching entries, as 'yunbak-agent backup' does\n"
              "  --state-dir DIR         the agent's key and caches (as for backup)\n"
              "  --memory-budget BYTES   memory for pending paths before they collapse into\n"
              "                          their directories (default 32MiB)\n"
              "  --start-timeout D       how long the store may be unreachable at start\n"
              "                          (default 60s)\n"
              "  --compression-level N   zstd level, 1-19 (default 3)\n"
              "  --postgresql NAME=CONNINFO\n"
              "                          stream the WAL of the PostgreSQL cluster CONNINFO (a\n"
              "                          libpq connection string) with pg_receivewal, hook NAME;\n"
              "                          each root is also its base backup (PATHs optional)\n"
              "  --live-postgresql error|warn\n"
              "                          a running cluster's data directory in a PATH (not a\n"
              "                          --postgresql's): the root fails, or it is copied with a\n"
              "                          warning (as for backup; default error)\n"
              "\n"
              "Durations take a unit: ms, s, min, h, d. Sizes may end in K, M, G (KiB...).\n"
              "Exit status: 0 stopped as asked, 1 failed, 2 usage, 4 key problem, 6 store\n"
              "unreachable at start for longer than --start-timeout, 8 another replicator of\n"
              "the system runs on this host.\n",
              f);
}

/* "32MiB", "32M", "1048576": bytes, or -EINVAL. */
static int parse_size(const char *s, uint64_t *ret) {
        char *end;
        unsigned long long v;
        uint64_t mul = 1;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || end == s || *s == '-')
                return -EINVAL;
        if (*end == 'K' || *end == 'k')
                mul = 1024;
        else if (*end == 'M')
                mul = 1024 * 1024;
        else if (*end == 'G')
                mul = 1024ULL * 1024 * 1024;
        else if (*end)
                return -EINVAL;
        if (*end && !streq(end + 1, "") && !streq(end + 1, "iB") && !streq(end + 1, "B"))
                return -EINVAL;
        if (v > UINT64_MAX / mul)
                return -EINVAL;
        *ret = v * mul;
        return 0;
}

/* NAME=CONNINFO into *ret (the name allocated, the conninfo pointing into arg). -EINVAL unless
 * NAME is 1 to 63 of [A-Za-z0-9_.-] and CONNINFO is not empty. */
static int parse_pg(char *arg, AgentPgHook *ret) {
        char *eq = strchr(arg, '=');
        size_t n = eq ? (size_t) (eq - arg) : 0;
        char *name;

        if (n == 0 || n > YB_PG_NAME_MAX || !eq[1])
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-",
                            arg[i]))
                        return -EINVAL;
        name = strndup(arg, n);
        if (!name)
                return -ENOMEM;
        *ret = (AgentPgHook){ .name = name, .conninfo = eq + 1 };
        return 0;
}

static void pg_hooks_free(AgentPgHook **hooks) {
        for (size_t i = 0; *hooks && (*hooks)[i].name; i++)
                free((char *) (*hooks)[i].name);
        free(*hooks);
}

static int bad(const char *opt, const char *what, const char *value) {
        log_error("--%s must be %s, not '%s'.", opt, what, value);
        return YB_EXIT_USAGE;
}

int agent_replicate_main(int argc, char **argv) {
        static const struct option opts[] = {
                AGENT_STORE_OPTIONS,
                { "public-key-json", required_argument, NULL, 'K' },
                { "interval", required_argument, NULL, 'i' },
                { "max-chain", required_argument, NULL, 'm' },
                { "capture", required_argument, NULL, 'c' },
                { "exclude", required_argument, NULL, 'x' },
                { "state-dir", required_argument, NULL, 'd' },
                { "memory-budget", required_argument, NULL, 'b' },
                { "start-timeout", required_argument, NULL, 't' },
                { "compression-level", required_argument, NULL, 'z' },
                { "postgresql", required_argument, NULL, 'P' },
                { "live-postgresql", required_argument, NULL, 'L' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        AgentReplicateArgs a = { .backup = { .zstd_level = 3, .level = YB_LEVEL_SEGMENT },
                                 .interval_usec = 2 * YB_USEC_PER_SEC,
                                 .max_chain = 43200,
                                 .capture = AGENT_CAPTURE_AUTO,
                                 .memory_budget = 32 * 1024 * 1024,
                                 .start_timeout_usec = 60 * YB_USEC_PER_SEC };
        _cleanup_free_ char **excludes = new0(char *, (size_t) argc + 1);
        _cleanup_(pg_hooks_free) AgentPgHook *pg = new0(AgentPgHook, (size_t) argc + 1);
        _cleanup_free_ char *state = NULL;
        char *end;
        int c, r;

        if (!excludes || !pg)
                return YB_EXIT_FAILED;
        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'K':
                        a.backup.public_key_json = optarg;
                        break;
                case 'i':
                        if (agent_parse_duration(optarg, &a.interval_usec) < 0 ||
                            a.interval_usec < 100 * YB_USEC_PER_MSEC)
                                return bad("interval", "a duration of at least 100ms (such as 2s)",
                                           optarg);
                        break;
                case 'm':
                        errno = 0;
                        a.max_chain = strtoull(optarg, &end, 10);
                        if (errno || *end || end == optarg || a.max_chain < 1 || *optarg == '-')
                                return bad("max-chain", "a number of segments of at least 1",
                                           optarg);
                        break;
                case 'c':
                        if (streq(optarg, "auto"))
                                a.capture = AGENT_CAPTURE_AUTO;
                        else if (streq(optarg, "fanotify"))
                                a.capture = AGENT_CAPTURE_FANOTIFY;
                        else if (streq(optarg, "inotify"))
                                a.capture = AGENT_CAPTURE_INOTIFY;
                        else
                                return bad("capture", "auto, fanotify or inotify", optarg);
                        break;
                case 'x':
                        excludes[a.backup.n_excludes++] = optarg;
                        break;
                case 'd':
                        a.backup.state_dir = optarg;
                        break;
                case 'b':
                        if (parse_size(optarg, &a.memory_budget) < 0 || a.memory_budget < 64 * 1024)
                                return bad("memory-budget", "a size of at least 64K (such as 32M)",
                                           optarg);
                        break;
                case 't':
                        if (agent_parse_duration(optarg, &a.start_timeout_usec) < 0)
                                return bad("start-timeout", "a duration (such as 60s)", optarg);
                        break;
                case 'z':
                        a.backup.zstd_level = atoi(optarg);
                        if (a.backup.zstd_level < 1 || a.backup.zstd_level > 19)
                                return bad("compression-level", "1 to 19", optarg);
                        break;
                case 'P':
                        /* Not echoed: the connection string may hold a password. */
                        if (parse_pg(optarg, &pg[a.n_pg]) < 0) {
                                log_error("--postgresql needs NAME=CONNINFO, NAME 1 to 63 of "
                                          "A-Z a-z 0-9 _ . - (such as hr-db='host=/run/postgresql "
                                          "dbname=postgres').");
                                return YB_EXIT_USAGE;
                        }
                        for (size_t i = 0; i < a.n_pg; i++)
                                if (streq(pg[i].name, pg[a.n_pg].name)) {
                                        log_error("--postgresql names hook '%s' twice.",
                                                  pg[i].name);
                                        return YB_EXIT_USAGE;
                                }
                        a.n_pg++;
                        break;
                case 'L':
                        if (!streq(optarg, "error") && !streq(optarg, "warn"))
                                return bad("live-postgresql", "error or warn", optarg);
                        a.backup.live_postgresql_warn = streq(optarg, "warn");
                        break;
                case 'h':
                        usage(stdout);
                        return YB_EXIT_OK;
                default:
                        r = agent_store_option(&a.backup, c, optarg);
                        if (r > 0)
                                break;
                        if (r < 0)
                                return YB_EXIT_USAGE;
                        fputs("Try 'yunbak-agent replicate --help'.\n", stderr);
                        return YB_EXIT_USAGE;
                }
        }
        if (a.backup.public_key && a.backup.public_key_json) {
                log_error("Give the system's public key once: --public-key FILE or "
                          "--public-key-json JSON, not both.");
                return YB_EXIT_USAGE;
        }
        if (!a.backup.store || !a.backup.system ||
            !(a.backup.public_key || a.backup.public_key_json) || (optind >= argc && a.n_pg == 0)) {
                log_error("replicate needs --store, --system, --public-key (or "
                          "--public-key-json) and at least one PATH or --postgresql.");
                fputs("Try 'yunbak-agent replicate --help'.\n", stderr);
                return YB_EXIT_USAGE;
        }
        r = agent_args_finish(&a.backup, &state);
        if (r != YB_EXIT_OK)
                return r;
        a.backup.excludes = excludes;
        a.backup.paths = argv + optind;
        a.pg = pg;
        a.backup.n_paths = (size_t) (argc - optind);
        return agent_replicate(&a);
}
