/* yunbak: the command people type. */
#include <stdio.h>

#include "cli/cli.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/repo/format.h"

static const struct {
        const char *name;
        CliCommandFn fn;
        const char *help;
} commands[] = {
        { "key", cli_key, "make (init) or show a system's key pair" },
        { "snapshots", cli_snapshots,
          "list a system's snapshots (in a store, or yunbakd's catalog)" },
        { "verify", cli_verify, "check snapshots against their signed headers (no key needed)" },
        { "restore", cli_restore, "restore a snapshot, a point in time, or chosen paths" },
        { "decrypt", cli_decrypt, "print the plaintext of one sealed repository file" },
        { "policy", cli_policy, "check policy files; explain their schedules" },
        { "prune", cli_prune, "remove the snapshots a retention policy does not keep" },
        { "copy", cli_copy, "copy a snapshot and its chain to another store, byte for byte" },
        { "status", cli_status, "yunbakd and every system: last backup, next run, RPO" },
        { "jobs", cli_jobs, "yunbakd's recent jobs; cancel one" },
        { "backup", cli_backup, "back up a system now through yunbakd ('backup now')" },
        { "audit", cli_audit, "verify yunbakd's audit log; print its records" },
        { "catalog", cli_catalog, "rebuild yunbakd's catalog from the stores" },
        { "offsite", cli_offsite, "ask for an off-site copy through yunbakd; approve, list" },
        { "repair", cli_repair,
          "replace a snapshot's damaged files with twins from another store" },
        { "decommission", cli_decommission,
          "take a system out of service: request, approve, export, execute, certify" },
        { "certificate", cli_certificate,
          "show or verify a decommission certificate (offline, with yunbakd's public key)" },
        { "drill", cli_drill,
          "a restore drill under a stopwatch, recorded and signed by yunbakd; list, show" },
};

static void usage(FILE *f) {
        fputs("Usage: yunbak COMMAND [OPTIONS]\n\nCommands:\n", f);
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].help);
        fputs("\nRun 'yunbak COMMAND --help' for a command's options. Exit codes: docs/cli.md.\n",
              f);
}

int main(int argc, char **argv) {
        yb_log_set_program("yunbak");
        yb_log_parse_env();
        if (yb_crypto_init() < 0) {
                log_error("Cannot initialise libsodium.");
                return YB_EXIT_FAILED;
        }
        if (argc < 2) {
                usage(stderr);
                return YB_EXIT_USAGE;
        }
        if (streq(argv[1], "--help") || streq(argv[1], "-h") || streq(argv[1], "help")) {
                usage(stdout);
                return YB_EXIT_OK;
        }
        if (streq(argv[1], "--version")) {
                printf("yunbak %s (repository format %d)\n", YB_VERSION, YB_FORMAT_VERSION);
                return YB_EXIT_OK;
        }
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (streq(argv[1], commands[i].name))
                        return commands[i].fn(argc - 1, argv + 1);
        log_error("Unknown command '%s'.", argv[1]);
        usage(stderr);
        return YB_EXIT_USAGE;
}
