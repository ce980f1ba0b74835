/* yunbak key destroy FILE: destroys one copy of a system's private key and reports it
 * (key-copies.h; docs/decommission.md, "Key copies"). yunbakd is asked first which copy the file
 * is (an unregistered one is recorded and warned about there), then the file is overwritten in
 * place, fsynced, unlinked, its directory fsynced, and checked not to open any more
 * (yb_erase_file), and what was done is reported as the copy's evidence. What the overwrite
 * proves is said as the medium beneath allows: on a copy-on-write, flash, virtual or network
 * medium it proves nothing, and the destruction rests on the deletion. */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/key-copies.h"
#include "cli/output.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/erase/erase.h"

static void usage(FILE *f) {
        fputs("Usage: yunbak key destroy FILE [--no-daemon] [--socket PATH] [--json]\n"
              "\n"
              "Destroys the private key file FILE, one copy of a system's private key: asks\n"
              "yunbakd which registered copy it is (a copy nobody registered is recorded and\n"
              "warned about), overwrites it in place with random bytes, fsyncs, unlinks it,\n"
              "fsyncs its directory, checks it can no longer be opened, and reports all that to\n"
              "yunbakd as the copy's evidence. It says what the overwrite proves on the medium\n"
              "beneath: on a copy-on-write, flash, virtual or network medium nothing, and the\n"
              "destruction then rests on the deletion.\n"
              "Refuses a symbolic link, a file that is not a yunbak private key file, and a copy\n"
              "destroyed already. Without yunbakd it refuses, unless --no-daemon: then it\n"
              "destroys the file and prints the evidence to hand to the operations unit.\n"
              "\n"
              "Options:\n"
              "  --no-daemon     destroy without telling yunbakd\n" CLI_CTL_OPTIONS_HELP,
              f);
}

/* Refuses what is not a regular file of its own (a link, a directory, a device). Returns 0 or
 * an exit code having said why. */
static int plain_file(const char *path) {
        char target[PATH_MAX];
        struct stat st;
        ssize_t n;

        if (lstat(path, &st) < 0) {
                log_error("Cannot destroy '%s': %s", path, strerror(errno));
                return YB_EXIT_FAILED;
        }
        if (S_ISLNK(st.st_mode)) {
                n = readlink(path, target, sizeof(target) - 1);
                target[n < 0 ? 0 : n] = 0;
                log_error("'%s' is a symbolic link (to '%s'): give the key file itself; key "
                          "destroy never follows a link, which could destroy another file.",
                          path, target);
                return YB_EXIT_USAGE;
        }
        if (!S_ISREG(st.st_mode)) {
                log_error("'%s' is not a regular file: key destroy destroys key files only.", path);
                return YB_EXIT_USAGE;
        }
        return 0;
}

/* Asks yunbakd which copy the file is; the held copy in *ret. Returns 0 or an exit code having
 * said why. */
static int which_copy(const CliCtl *ctl, const YbPublicKey *pub, const char *host, const char *abs,
                      json_t **ret) {
        _cleanup_(json_decrefp) json_t *body = NULL, *answer = NULL;
        _cleanup_free_ char *api = NULL;
        char kid[2 * YB_KEY_ID_SIZE + 1], why[1200], when[64];
        json_t *copy;
        int64_t id = 0;
        int r;

        yb_key_id_hex(pub->id, kid);
        body = json_pack("{s:s, s:s, s:s}", "key_id", kid, "host", host, "path", abs);
        if (!body || asprintf(&api, "/v1/systems/%s/key-copies/seen", pub->system) < 0)
                return log_oom(), YB_EXIT_FAILED;
        r = cli_key_post(ctl, api, body, &answer, why, sizeof(why));
        if (r == YB_EXIT_UNREACHABLE) {
                log_error("Not destroyed: %s. key destroy reports every destruction to yunbakd: "
                          "run it again once yunbakd answers, or with --no-daemon (then hand the "
                          "evidence it prints to the operations unit).",
                          why);
                return r;
        }
        if (r != 0) {
                log_error("Not destroyed: %s. Only a copy of the key yunbakd holds for system "
                          "'%s' is destroyed through it; a file of another key (an old one, a "
                          "handover key) is destroyed with --no-daemon.",
                          why, pub->system);
                return r;
        }
        copy = json_object_get(answer, "copy");
        (void) cli_json_int(copy, "id", &id);
        if (!streq(cli_json_str(copy, "state") ?: "", "held")) {
                snprintf(when, sizeof(when), "%s", cli_json_str(copy, "destroyed") ?: "?");
                log_error("Not destroyed: yunbakd records key copy %" PRId64 " at %s:%s as %s "
                          "already (by %s at %s).",
                          id, host, abs, cli_json_str(copy, "state") ?: "?",
                          cli_json_str(copy, "destroyed_by") ?: "?", when);
                return YB_EXIT_FAILED;
        }
        if (!json_is_true(json_object_get(answer, "registered")))
                log_warning("'%s' on %s was not a registered copy of system '%s''s key: yunbakd "
                            "recorded it now as copy %" PRId64 " (found) and warned in its audit "
                            "log. Register every copy you make ('yunbak key copy').",
                            abs, host, pub->system, id);
        *ret = json_incref(copy);
        return 0;
}

/* What was done, as the copy's evidence (docs/decommission.md, "Key copies"). */
static json_t *evidence_of(const YbEraseReport *rep, const char *host, const char *abs) {
        json_t *medium = yb_medium_json(&rep->medium);

        return json_pack("{s:s, s:I, s:b, s:o, s:[s, s, s, s], s:s, s:s}", "method",
                         rep->overwritten ? "overwrite + unlink" : "unlink", "bytes",
                         (json_int_t) rep->bytes, "overwritten", rep->overwritten, "medium",
                         medium ? medium : json_null(), "checks", "fsync file", "unlink",
                         "fsync directory", "open fails: ENOENT", "host", host, "path", abs);
}

/* Says what was done and what it proves. */
static void print_done(const YbEraseReport *rep, const YbPublicKey *pub, json_t *copy,
                       const char *host, const char *abs) {
        const YbMedium *m = &rep->medium;
        char kid[2 * YB_KEY_ID_SIZE + 1], which[48] = "";
        int64_t id;

        yb_key_id_hex(pub->id, kid);
        if (cli_json_int(copy, "id", &id))
                snprintf(which, sizeof(which), " (key copy %" PRId64 ")", id);
        printf("Destroyed %s:%s%s, a copy of the private key of system '%s' (key id %s):\n", host,
               abs, which, pub->system, kid);
        if (rep->overwritten)
                printf("  overwritten in place with random bytes (%" PRIu64 " bytes), fsynced,\n",
                       rep->bytes);
        printf("  unlinked, its directory fsynced; opening it now fails (ENOENT).\n");
        if (rep->overwritten && m->overwrite_effective)
                printf("The overwrite reached the blocks that held the key (%s%s%s): %s\n",
                       m->fstype, m->device[0] ? " on " : "", m->device, m->why);
        else
                printf("The file is deleted; an overwrite on %s%s%s%s proves nothing (%s), so the "
                       "copy's destruction rests on its deletion.\n",
                       m->fstype[0] ? m->fstype : "this filesystem", m->kind[0] ? " (" : "",
                       m->kind, m->kind[0] ? ")" : "",
                       m->why[0] ? m->why : "what lies beneath could not be told");
        if (m->operator_must[0])
                printf("Still to do, by the operations unit: %s.\n", m->operator_must);
}

int cli_key_destroy(int argc, char **argv) {
        static const struct option opts[] = {
                { "no-daemon", no_argument, NULL, 'N' },
                CLI_CTL_OPTIONS,
                {},
        };
        _cleanup_(json_decrefp) json_t *copy = NULL, *evidence = NULL, *body = NULL, *done = NULL;
        _cleanup_free_ char *api = NULL;
        const char *socket = NULL, *path;
        char host[256], abs[PATH_MAX], why[1200], err[512] = "";
        bool json = false, no_daemon = false;
        YbEraseReport rep;
        YbPublicKey pub;
        int64_t id = 0;
        CliCtl ctl;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                if (c == 'N')
                        no_daemon = true;
                else {
                        r = cli_ctl_option(c, &socket, &json, usage, "key");
                        if (r >= 0)
                                return r;
                }
        }
        if (optind + 1 != argc) {
                log_error("key destroy takes one private key file.");
                return cli_usage_error("key");
        }
        path = argv[optind];
        r = plain_file(path);
        if (r == 0)
                r = cli_key_file_public(path, "key destroy", &pub);
        if (r != 0)
                return r;
        if (!cli_key_host_and_path(path, host, abs, why, sizeof(why))) {
                log_error("Not destroyed: %s", why);
                return YB_EXIT_FAILED;
        }
        cli_ctl_init(&ctl, socket);
        if (!no_daemon) {
                r = which_copy(&ctl, &pub, host, abs, &copy);
                if (r != 0)
                        return r;
                (void) cli_json_int(copy, "id", &id);
        }

        r = yb_erase_file(abs, YB_OVERWRITE_ALWAYS, &rep, err, sizeof(err));
        if (r < 0) {
                log_error("Cannot destroy '%s': %s", abs,
                          r == -ENOSYS ? "destroying files is not built into this yunbak"
                          : err[0]     ? err
                                       : strerror(-r));
                return YB_EXIT_FAILED;
        }
        evidence = evidence_of(&rep, host, abs);
        if (!evidence)
                return log_oom(), YB_EXIT_FAILED;
        if (!no_daemon) {
                body = json_pack("{s:O}", "evidence", evidence);
                if (!body || asprintf(&api, "/v1/key-copies/%" PRId64 "/destroyed", id) < 0)
                        return log_oom(), YB_EXIT_FAILED;
                r = cli_key_post(&ctl, api, body, &done, why, sizeof(why));
                if (r != 0) {
                        log_error("'%s' is destroyed, but yunbakd did not record it: %s. Key copy "
                                  "%" PRId64 " stays 'held' there until it is reported: hand the "
                                  "evidence below to the operations unit.",
                                  abs, why, id);
                        cli_json_print(evidence);
                        return r;
                }
        }
        if (json) {
                _cleanup_(json_decrefp) json_t *out = json_pack(
                        "{s:O, s:O}", "copy", done ? done : json_null(), "evidence", evidence);

                cli_json_print(out);
        } else
                print_done(&rep, &pub, done, host, abs);
        if (no_daemon && !json) {
                printf("yunbakd was not told (--no-daemon): a registered copy stays 'held' there "
                       "until reported. Hand this evidence to the operations unit:\n");
                cli_json_print(evidence);
        }
        return YB_EXIT_OK;
}
