/* yunbak drill --system ID --key ID.key ...: a restore drill's run (docs/drills.md, "A drill's
 * run"): begun at yunbakd (POST /v1/drills), which says the store, the objectives and the
 * checks; run by the engine (restore/drill-run.h) in a sandbox, phase by phase on a stopwatch;
 * reported once (POST /v1/drills/{id}/result), answered with the signed record, whose summary
 * is printed. `yunbak drill list|show|verify` are cli/cmd-drill-show.c's. */
#include <dirent.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/ctl.h"
#include "cli/drill-summary.h"
#include "cli/output.h"
#include "cli/restore-point.h"
#include "core/base/exitcode.h"
#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "core/evidence/signed.h"
#include "core/repo/segment.h"
#include "restore/drill-run.h"

#define SCENARIO_DEFAULT "restore drill"
#define CHECK_TIMEOUT_DEFAULT_USEC YB_USEC_PER_HOUR
#define EXIT_INTERRUPTED 130

static void usage(FILE *f) {
        fputs("Usage: yunbak drill --system ID --key ID.key [--tier 1|2|3] [--at TIME]\n"
              "                    [--scenario NAME] [--sandbox DIR] [--keep]\n"
              "                    [--store LOCATION] [--allow-older] [--passphrase-file FILE]\n"
              "                    [--socket PATH] [--json] [--no-record]\n"
              "       yunbak drill list|show|verify ... (see 'yunbak drill list --help')\n"
              "\n"
              "A restore drill under a stopwatch: begun at yunbakd, which gives it an id and\n"
              "says the store of the tier, the objectives and the checks of the system's\n"
              "policy; then, phase by phase, the point is picked (the newest, or the newest at\n"
              "or before --at TIME, as 'yunbak restore' picks it), restored into the sandbox,\n"
              "every file read back and checked against its hash, PostgreSQL started (when the\n"
              "policy has drill.postgresql) and the policy's checks run. The result goes to\n"
              "yunbakd, which signs the record; its summary is printed (with --json, the\n"
              "signed record). The sandbox (DIR, a new or empty directory; by default made\n"
              "under $TMPDIR, else /var/tmp) is removed after, unless --keep.\n"
              "Without yunbakd the drill is refused (a drill that leaves no record is not a\n"
              "drill), unless --no-record: then --store is needed, the objectives are unknown,\n"
              "and nothing is recorded.\n"
              "Exit status: 0 the drill passed and was recorded, 10 it failed (and was\n"
              "recorded, with its phase and error), 130 interrupted (recorded as failed);\n"
              "else as docs/cli.md, 'Exit codes' (6: yunbakd cannot be reached).\n"
              "\n"
              "Options:\n"
              "  --tier N             the tier whose store is drilled: 1, 2 or 3 (default 1)\n"
              "  --at TIME            the newest point at or before TIME (ISO 8601)\n"
              "  --scenario NAME      what the drill rehearses (default \"" SCENARIO_DEFAULT "\")\n"
              "  --store LOCATION     read the point from LOCATION instead of the tier's store\n"
              "  --allow-older        when a newer point is damaged, drill the newest sound one\n"
              "  --no-record          run without yunbakd; nothing is recorded\n"
              "  --socket PATH        yunbakd's control socket (default: $YUNBAK_SOCKET, else\n"
              "                       " CLI_CTL_SOCKET_DEFAULT ")\n"
              "  --json               print the signed record, byte for byte\n"
              "  --help               this text\n" CLI_STORE_OPTIONS_HELP,
              f);
}

typedef struct Opts {
        const char *system, *keyfile, *pass, *at, *scenario, *sandbox, *store, *socket;
        int tier;
        int64_t at_usec;
        bool keep, allow_older, json, no_record;
} Opts;

/* ---- the point: picked as `yunbak restore` picks it ---- */

typedef struct Picker {
        const Opts *o;
        const char *location;
        const YbSecretKey *key;
        YbStore *store;
        YbRepo *repo;
        YbSnapshotList l;
        YbDrillStore src;  /* repo, l and key once picked */
        char *first_error; /* the first error logged while picking */
} Picker;

static void tap(void *userdata, int level, const char *message) {
        Picker *p = userdata;

        if (level <= YB_LOG_ERR && !p->first_error)
                p->first_error = strdup(message);
}

static int pick_main(Picker *p, YbRestoreChain **ret) {
        YbSegmentChainList chains = { 0 };
        int r;

        r = cli_open_repo(p->location, p->o->system, &p->store, &p->repo);
        if (r != 0)
                return r;
        r = cli_check_repo_key(p->repo, p->key, p->o->keyfile, p->o->system);
        if (r != 0)
                return r;
        r = yb_repo_list(p->repo, &p->l);
        if (r < 0) {
                log_error("Cannot list the snapshots of system '%s' in store '%s': %s",
                          p->o->system, p->location, strerror(-r));
                return yb_exit_code_from_errno(r);
        }
        r = yb_segments_list(p->repo, &chains);
        if (r < 0) {
                log_error("Cannot list the segment chains of system '%s' in store '%s': %s",
                          p->o->system, p->location, strerror(-r));
                return yb_exit_code_from_errno(r);
        }
        r = cli_restore_point(p->repo, &p->l, chains.n > 0, p->o->system, p->key, NULL, p->o->at,
                              p->o->allow_older, ret);
        yb_segment_chain_list_done(&chains);
        if (r == 0)
                p->src = (YbDrillStore){ .repo = p->repo, .l = &p->l, .key = p->key };
        return r;
}

static int pick(void *userdata, YbRestoreChain **ret, char **ret_error) {
        Picker *p = userdata;
        int r;

        yb_log_set_tap(tap, p);
        r = pick_main(p, ret);
        yb_log_set_tap(NULL, NULL);
        if (r == 0)
                return 0;
        *ret_error = p->first_error;
        p->first_error = NULL;
        if (!*ret_error && asprintf(ret_error, "no point of system '%s' can be read in store '%s'",
                                    p->o->system, p->location) < 0)
                *ret_error = NULL;
        return r == YB_EXIT_DAMAGED ? -EBADMSG : r == YB_EXIT_KEY ? -ENOKEY : -EIO;
}

static void picker_done(Picker *p) {
        yb_snapshot_list_done(&p->l);
        yb_repo_free(p->repo);
        yb_store_close(p->store);
        free(p->first_error);
}

/* ---- signals ---- */

static volatile sig_atomic_t got_signal;

static void on_signal(int sig) {
        got_signal = sig;
}

/* ---- the sandbox ---- */

/* A new empty directory at path (made, or found empty); its absolute path in *ret, and whether
 * it was made in *ret_made. */
static int make_sandbox(const char *path, char **ret, bool *ret_made) {
        *ret_made = true;
        if (mkdir(path, 0700) < 0) {
                *ret_made = false;
                DIR *d;
                struct dirent *de;
                bool empty = true;

                if (errno != EEXIST) {
                        int e = errno;

                        log_error_errno(e, "Cannot make the drill's sandbox '%s': %m. %s", path,
                                        e == ENOENT ? "Its parent directory does not exist: "
                                                      "make it first, or give --sandbox another "
                                                      "path."
                                        : e == EACCES || e == EPERM || e == EROFS
                                                ? "Give --sandbox a new directory in one the "
                                                  "user running the drill may write to, or "
                                                  "leave --sandbox out (one is made under "
                                                  "$TMPDIR, else /var/tmp)."
                                                : "Give --sandbox another path.");
                        return YB_EXIT_FAILED;
                }
                d = opendir(path);
                if (!d) {
                        log_error_errno(errno, "Cannot open the drill's sandbox '%s': %m.", path);
                        return YB_EXIT_FAILED;
                }
                while (empty && (de = readdir(d)))
                        empty = streq(de->d_name, ".") || streq(de->d_name, "..");
                (void) closedir(d);
                if (!empty) {
                        log_error("The drill's sandbox '%s' is not empty: a drill "
                                  "restores into a new or empty directory. Give another "
                                  "--sandbox, or empty this one.",
                                  path);
                        return YB_EXIT_FAILED;
                }
        }
        *ret = realpath(path, NULL);
        if (!*ret) {
                log_error_errno(errno, "Cannot resolve the drill's sandbox '%s': %m.", path);
                return YB_EXIT_FAILED;
        }
        return 0;
}

static int default_sandbox(const Opts *o, const char *id, char **ret) {
        _cleanup_free_ char *path = NULL;
        const char *tmp = getenv("TMPDIR");
        bool made;

        if (asprintf(&path, "%s/yunbak-drill-%s-%s", tmp && *tmp ? tmp : "/var/tmp", o->system,
                     id) < 0)
                return log_oom(), YB_EXIT_FAILED;
        return make_sandbox(path, ret, &made);
}

/* ---- what yunbakd says at the begin ---- */

typedef struct Begin {
        json_t *answer; /* owns the strings below */
        int64_t id;
        const char *location, *check;
        int64_t check_timeout_usec;
        YbDrillPgCheck *pg;
        size_t n_pg;
} Begin;

static void begin_done(Begin *b) {
        json_decref(b->answer);
        free(b->pg);
}

static int parse_begin(const char *socket, Begin *b) {
        json_t *pg = json_object_get(b->answer, "postgresql"), *v;
        int64_t secs;
        size_t i;

        b->location = cli_json_str(json_object_get(b->answer, "store"), "location");
        if (!cli_json_int(b->answer, "id", &b->id) || !b->location) {
                log_error("yunbakd at %s began the drill but its answer lacks the drill's id or "
                          "the store's location; this yunbak and yunbakd do not match.",
                          socket);
                return YB_EXIT_FAILED;
        }
        b->check = cli_json_str(b->answer, "check");
        b->check_timeout_usec = cli_json_int(b->answer, "check_timeout_seconds", &secs) && secs > 0
                                        ? secs * YB_USEC_PER_SEC
                                        : CHECK_TIMEOUT_DEFAULT_USEC;
        if (!json_is_array(pg) || json_array_size(pg) == 0)
                return 0;
        b->pg = calloc(json_array_size(pg), sizeof(YbDrillPgCheck));
        if (!b->pg)
                return log_oom(), YB_EXIT_FAILED;
        json_array_foreach(pg, i, v) {
                YbDrillPgCheck *c = &b->pg[b->n_pg++];

                c->name = cli_json_str(v, "name");
                c->mode = cli_json_str(v, "mode");
                c->database = cli_json_str(v, "database");
                c->query = cli_json_str(v, "query");
                if (!cli_json_int(v, "min", &c->min))
                        c->min = 1;
                if (!c->name || !c->mode || !c->database || !c->query) {
                        log_error("yunbakd at %s gave PostgreSQL check %zu without its name, mode, "
                                  "database or query; this yunbak and yunbakd do not match.",
                                  socket, i + 1);
                        return YB_EXIT_FAILED;
                }
        }
        return 0;
}

static json_t *begin_body(const Opts *o) {
        char host[256] = "";

        (void) gethostname(host, sizeof(host) - 1);
        return json_pack("{s:s, s:i, s:s, s:o, s:s}", "system", o->system, "tier", o->tier,
                         "scenario", o->scenario, "at_usec",
                         o->at ? json_integer(o->at_usec) : json_null(), "host", host);
}

/* ---- the result ---- */

/* A phase as the result gives it; errors: the entries the restore could not write. */
static json_t *phase_json(const YbDrillPhaseResult *p, uint64_t errors) {
        json_t *o = json_pack("{s:s, s:I, s:b}", "name", yb_drill_phase_name(p->phase), "ms",
                              (json_int_t) p->ms, "ok", p->ok);

        if (o && p->has_counts) {
                json_object_set_new(o, "files", json_integer((json_int_t) p->files));
                json_object_set_new(o, "bytes", json_integer((json_int_t) p->bytes));
        }
        if (o && p->phase == YB_DRILL_RESTORE)
                json_object_set_new(o, "errors", json_integer((json_int_t) errors));
        return o;
}

static json_t *point_json(const Opts *o, const YbDrillResult *res) {
        if (!res->has_point)
                return json_null();
        return json_pack("{s:s, s:s, s:I, s:o, s:b}", "id", res->point_id, "level",
                         yb_level_to_string(res->point_level), "time_usec",
                         (json_int_t) yb_ns_to_usec(res->point_time_ns), "requested_at_usec",
                         o->at ? json_integer(o->at_usec) : json_null(), "partial",
                         res->point_partial);
}

/* The check's report; a command ended by a signal has exit_code null (the error names the
 * signal). */
static json_t *check_json(const char *command, const YbDrillCheckResult *c) {
        if (!c->ran)
                return json_null();
        return json_pack("{s:s, s:o, s:s, s:b}", "command", command, "exit_code",
                         c->exited ? json_integer(c->exit_code) : json_null(), "output", c->output,
                         "output_truncated", c->output_truncated);
}

static json_t *pg_json(const Begin *b, const YbDrillResult *res) {
        json_t *a = json_array();

        for (size_t i = 0; a && i < b->n_pg; i++) {
                const YbDrillPgCheck *c = &b->pg[i];
                const YbDrillPgResult *q = i < res->n_pg ? &res->pg[i] : NULL;

                json_array_append_new(
                        a, json_pack("{s:s, s:s, s:s, s:s, s:I, s:o, s:b, s:o}", "name", c->name,
                                     "mode", c->mode, "database", c->database, "query", c->query,
                                     "min", (json_int_t) c->min, "value",
                                     q && q->has_value ? json_integer(q->value) : json_null(), "ok",
                                     q && q->ok, "error",
                                     q && q->error ? json_string(q->error) : json_null()));
        }
        return a;
}

static json_t *result_json(const Opts *o, const Begin *b, const char *location,
                           const YbDrillResult *res) {
        json_t *phases = json_array();
        char host[256] = "";
        json_t *j;

        (void) gethostname(host, sizeof(host) - 1);
        for (size_t i = 0; phases && i < res->n_phases; i++)
                json_array_append_new(phases, phase_json(&res->phases[i], res->restore_errors));
        j = json_pack("{s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:o, s:o}", "host", host, "location",
                      location, "point", point_json(o, res), "phases", phases, "result",
                      res->passed ? "passed" : "failed", "failed_phase",
                      res->failed_phase >= 0 ? json_string(yb_drill_phase_name(res->failed_phase))
                                             : json_null(),
                      "error", res->error ? json_string(res->error) : json_null(), "check",
                      check_json(b->check, &res->check), "postgresql", pg_json(b, res));
        return j;
}

static int exit_code(const YbDrillResult *res) {
        return res->interrupted ? EXIT_INTERRUPTED
               : res->passed    ? YB_EXIT_OK
                                : YB_EXIT_DRILL_FAILED;
}

/* ---- the run ---- */

static int parse_args(int argc, char **argv, Opts *o) {
        static const struct option opts[] = {
                { "system", required_argument, NULL, 'S' },
                { "key", required_argument, NULL, 'k' },
                { "passphrase-file", required_argument, NULL, 'p' },
                { "tier", required_argument, NULL, 't' },
                { "at", required_argument, NULL, 'a' },
                { "scenario", required_argument, NULL, 'n' },
                { "sandbox", required_argument, NULL, 'd' },
                { "keep", no_argument, NULL, 'K' },
                { "store", required_argument, NULL, 's' },
                { "allow-older", no_argument, NULL, 'o' },
                { "no-record", no_argument, NULL, 'N' },
                CLI_CTL_OPTIONS,
                CLI_STORE_OPTIONS,
                {},
        };
        int64_t n, at_ns;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'S':
                        o->system = optarg;
                        break;
                case 'k':
                        o->keyfile = optarg;
                        break;
                case 'p':
                        o->pass = optarg;
                        break;
                case 't':
                        if (cli_parse_int(optarg, 1, 3, &n) < 0) {
                                log_error("--tier '%s' is not a tier: give 1, 2 or 3.", optarg);
                                return YB_EXIT_USAGE;
                        }
                        o->tier = (int) n;
                        break;
                case 'a':
                        if (yb_time_parse(optarg, &at_ns) < 0) {
                                log_error("--at '%s' is not a time; use ISO 8601, such as "
                                          "2026-11-21T18:00:00+08:00.",
                                          optarg);
                                return YB_EXIT_USAGE;
                        }
                        o->at = optarg;
                        o->at_usec = yb_ns_to_usec(at_ns);
                        break;
                case 'n':
                        o->scenario = optarg;
                        break;
                case 'd':
                        o->sandbox = optarg;
                        break;
                case 'K':
                        o->keep = true;
                        break;
                case 's':
                        o->store = optarg;
                        break;
                case 'o':
                        o->allow_older = true;
                        break;
                case 'N':
                        o->no_record = true;
                        break;
                default:
                        if (cli_store_option(c, optarg) > 0)
                                break;
                        r = cli_ctl_option(c, &o->socket, &o->json, usage, "drill");
                        if (r >= 0)
                                return r == 0 ? -1 : r; /* --help: exit 0 after its text */
                }
        }
        if (optind < argc) {
                log_error("'%s' is not an option of yunbak drill.", argv[optind]);
                return cli_usage_error("drill");
        }
        r = cli_need_options("drill", "--system ID", o->system, "--key ID.key", o->keyfile, NULL);
        if (r != 0)
                return r;
        if (cli_check_system_id(o->system) != 0)
                return YB_EXIT_USAGE;
        if (o->no_record && !o->store) {
                log_error("--no-record runs without yunbakd, which alone knows the tier's store: "
                          "give the store with --store LOCATION.");
                return cli_usage_error("drill");
        }
        if (o->no_record && o->json) {
                log_error("--json prints the signed record, and --no-record makes none.");
                return cli_usage_error("drill");
        }
        return 0;
}

/* A failure before the engine ran (the sandbox could not be made): the phase point fails. */
static void fail_before(YbDrillResult *res, char *error) {
        *res = (YbDrillResult){ .failed_phase = YB_DRILL_POINT, .n_phases = 1, .error = error };
        res->phases[0] = (YbDrillPhaseResult){ .phase = YB_DRILL_POINT };
        if (!res->error)
                res->error = strdup("out of memory");
}

static int report_result(const Opts *o, const CliCtl *ctl, const Begin *b, const char *location,
                         const YbDrillResult *res) {
        _cleanup_(json_decrefp) json_t *body = result_json(o, b, location, res);
        _cleanup_(json_decrefp) json_t *record = NULL;
        _cleanup_free_ char *path = NULL, *dump = NULL;
        int r;

        if (!body || asprintf(&path, "/v1/drills/%lld/result", (long long) b->id) < 0)
                return log_oom(), YB_EXIT_FAILED;
        r = cli_ctl_call(ctl, "POST", path, body, &record);
        if (r != 0) {
                log_error("The result of drill %lld (system '%s': %s) was NOT recorded; the drill "
                          "stays 'running' at yunbakd. Run the drill again once yunbakd "
                          "answers.",
                          (long long) b->id, o->system, res->passed ? "passed" : "failed");
                return r;
        }
        if (o->json) {
                if (yb_signed_dump(record, &dump) < 0)
                        return log_oom(), YB_EXIT_FAILED;
                fputs(dump, stdout);
        } else
                cli_drill_print_recorded(record, res);
        return exit_code(res);
}

static int run_main(const Opts *o, const YbSecretKey *key) {
        _cleanup_(begin_done) Begin b = { 0 };
        _cleanup_(picker_done) Picker pk = { .o = o, .key = key };
        _cleanup_(yb_drill_result_done) YbDrillResult res = { .failed_phase = -1 };
        _cleanup_free_ char *sandbox = NULL;
        const char *location = o->store;
        int64_t started_usec = cli_now_usec();
        bool made = false;
        CliCtl ctl;
        int r;

        cli_ctl_init(&ctl, o->socket);
        if (o->sandbox) {
                r = make_sandbox(o->sandbox, &sandbox, &made);
                if (r != 0)
                        return r;
        }
        if (!o->no_record) {
                _cleanup_(json_decrefp) json_t *body = begin_body(o);
                int status;

                if (!body)
                        return log_oom(), YB_EXIT_FAILED;
                r = cli_ctl_request(&ctl, "POST", "/v1/drills", body, &status, &b.answer);
                if (r == YB_EXIT_UNREACHABLE)
                        log_error("Nothing was drilled: a drill is begun and recorded at yunbakd "
                                  "(a drill that leaves no record is not a drill). Run it where "
                                  "yunbakd's socket is reachable (--socket), or add --no-record "
                                  "--store LOCATION to measure without a record.");
                if (r == 0 && status != 201) {
                        r = cli_ctl_report_error(&ctl, "POST", "/v1/drills", status, b.answer);
                        /* no such tier in the policy, a system decommissioned: not "busy" */
                        if (status == 409)
                                r = YB_EXIT_USAGE;
                }
                if (r == 0)
                        r = parse_begin(ctl.socket, &b);
                if (r != 0) {
                        if (made)
                                (void) rmdir(sandbox);
                        return r;
                }
                (void) cli_json_int(b.answer, "started_usec", &started_usec);
                if (!location) {
                        json_t *s3 = json_object_get(json_object_get(b.answer, "store"), "s3");

                        location = b.location;
                        /* Where yunbakd's S3 store is; the credentials stay the person's. */
                        cli_store_s3_defaults(json_string_value(json_object_get(s3, "endpoint")),
                                              json_string_value(json_object_get(s3, "style")),
                                              json_string_value(json_object_get(s3, "region")),
                                              json_string_value(json_object_get(s3, "ca_file")));
                }
        }
        pk.location = location;

        if (!sandbox) {
                char id[32];

                if (o->no_record)
                        snprintf(id, sizeof(id), "norecord-%lld", (long long) getpid());
                else
                        snprintf(id, sizeof(id), "%lld", (long long) b.id);
                /* a failure goes into the record: the drill was begun */
                yb_log_set_tap(tap, &pk);
                r = default_sandbox(o, id, &sandbox);
                yb_log_set_tap(NULL, NULL);
                if (r != 0 && o->no_record)
                        return r;
        }
        if (!sandbox) {
                fail_before(&res, TAKE_PTR(pk.first_error));
        } else {
                YbDrillPlan plan = {
                        .system = o->system,
                        .tier = o->tier,
                        .sandbox = sandbox,
                        .keep = o->keep,
                        .pick = pick,
                        .pick_userdata = &pk,
                        .store = &pk.src,
                        .check = b.check,
                        .check_timeout_usec = b.check_timeout_usec ?: CHECK_TIMEOUT_DEFAULT_USEC,
                        .pg = b.pg,
                        .n_pg = b.n_pg,
                        .stop = &got_signal,
                };

                if (!o->json && !o->no_record)
                        printf("Drill %lld of system '%s' begun (tier %d, store %s); sandbox %s.\n",
                               (long long) b.id, o->system, o->tier, location, sandbox);
                else if (!o->json)
                        printf("Drill of system '%s' (not recorded; tier %d, store %s); sandbox "
                               "%s.\n",
                               o->system, o->tier, location, sandbox);
                fflush(stdout);
                r = yb_drill_run(&plan, &res);
                if (r < 0) {
                        fail_before(&res, NULL);
                        if (asprintf(&res.error, "the drill could not run: %s", strerror(-r)) < 0)
                                res.error = NULL;
                }
                if (res.sandbox_kept && !o->json)
                        printf("The sandbox %s is kept%s.\n", sandbox,
                               o->keep ? " (--keep)" : " (it could not be removed: said above)");
        }
        if (o->no_record) {
                cli_drill_print_unrecorded(o->system, o->tier, location, o->at, o->at_usec, &res,
                                           started_usec);
                return exit_code(&res);
        }
        return report_result(o, &ctl, &b, location, &res);
}

/* run_main with SIGINT and SIGTERM caught from before the begin: a signal then stops the drill,
 * which is reported as interrupted. */
static int run(const Opts *o, const YbSecretKey *key) {
        struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART }, old[2];
        int r;

        got_signal = 0;
        (void) sigaction(SIGINT, &sa, &old[0]);
        (void) sigaction(SIGTERM, &sa, &old[1]);
        r = run_main(o, key);
        (void) sigaction(SIGINT, &old[0], NULL);
        (void) sigaction(SIGTERM, &old[1], NULL);
        return r;
}

/* Whether o->keyfile is the private key of o->system, from its public fields (no passphrase
 * asked): a typing mistake must not begin a drill that is then recorded as failed. */
static int check_key_file(const Opts *o) {
        YbPublicKey pub;
        int r = yb_secret_key_read_public(o->keyfile, &pub);

        if (r == -ENOKEY) {
                log_error("'%s' is a public key; a drill needs the private key of system '%s' "
                          "(%s.key); nothing was begun.",
                          o->keyfile, o->system, o->system);
                return YB_EXIT_KEY;
        }
        if (r < 0)
                return 0; /* unreadable or damaged: cli_load_secret_key says so */
        if (!streq(pub.system, o->system)) {
                log_error("'%s' is the key of system '%s', not of '%s': give %s's key; nothing "
                          "was begun.",
                          o->keyfile, pub.system, o->system, o->system);
                return YB_EXIT_KEY;
        }
        return 0;
}

static int drill_run(int argc, char **argv) {
        _cleanup_(yb_secret_key_freep) YbSecretKey *key = NULL;
        Opts o = { .tier = 1, .scenario = SCENARIO_DEFAULT };
        int r;

        r = parse_args(argc, argv, &o);
        if (r != 0)
                return r < 0 ? YB_EXIT_OK : r;
        /* The key first: a wrong key or passphrase begins no drill. */
        r = check_key_file(&o);
        if (r != 0)
                return r;
        r = cli_load_secret_key(o.keyfile, o.pass, &key);
        if (r != 0)
                return r;
        return run(&o, key);
}

int cli_drill(int argc, char **argv) {
        if (argc > 1 &&
            (streq(argv[1], "list") || streq(argv[1], "show") || streq(argv[1], "verify")))
                return cmd_drill_admin(argc, argv);
        return drill_run(argc, argv);
}
