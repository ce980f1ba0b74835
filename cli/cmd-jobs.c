/* yunbak jobs [--system ID] [--state S] [--limit N]; yunbak jobs cancel ID */
#include <getopt.h>
#include <inttypes.h>

#include "cli/cli.h"
#include "cli/ctl.h"
#include "cli/output.h"
#include "core/base/buf.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"

static void usage(FILE *f) {
        fputs("Usage: yunbak jobs [--system ID] [--state STATE] [--limit N] [--socket PATH] "
              "[--json]\n"
              "       yunbak jobs cancel JOB [--socket PATH] [--json]\n"
              "\n"
              "Lists yunbakd's recent jobs, newest first: id, system, tier, level (the one\n"
              "made, and the one asked when they differ: a first incremental is a full), state,\n"
              "trigger, start time (UTC), how long it ran, bytes stored, and the snapshot made\n"
              "or the error. A department sees its own systems' jobs only.\n"
              "'cancel' cancels a queued job at once, or stops a running one (its agent is sent\n"
              "SIGTERM and commits nothing); 409 (exit 8) if the job has already ended.\n"
              "\n"
              "Options:\n"
              "  --system ID     only this system's jobs\n"
              "  --state STATE   only jobs in this state: queued, running, succeeded, partial,\n"
              "                  failed, cancelled, paused (an off-site copy whose store's\n"
              "                  window closed; a later job resumes it)\n"
              "  --limit N       at most N jobs (1-1000; default 50)\n" CLI_CTL_OPTIONS_HELP,
              f);
}

static const char *const states[] = { "queued", "running",   "succeeded", "partial",
                                      "failed", "cancelled", "paused" };

static int add_job(CliTable *t, json_t *job, int64_t now) {
        int64_t id = 0, tier = 0, started, finished, stored;
        bool has_started = cli_json_int(job, "started_usec", &started);
        char sid[24], stier[8], when[32], took[32], size[32], level[48];
        const char *result = cli_json_str(job, "snapshot"), *made = cli_json_str(job, "level"),
                   *asked = cli_json_str(job, "requested_level");

        (void) cli_json_int(job, "id", &id);
        snprintf(sid, sizeof(sid), "%" PRId64, id);
        if (cli_json_int(job, "tier", &tier))
                snprintf(stier, sizeof(stier), "%" PRId64, tier);
        else
                strcpy(stier, "-");
        if (!has_started)
                strcpy(when, "-");
        else
                cli_format_time(started, when);
        if (has_started && cli_json_int(job, "finished_usec", &finished))
                cli_format_duration(finished - started, took);
        else if (has_started)
                snprintf(took, sizeof(took), "%s so far", cli_format_duration(now - started, size));
        else
                strcpy(took, "-");
        if (cli_json_int(job, "bytes_stored", &stored) && stored >= 0)
                yb_format_bytes((uint64_t) stored, size);
        else
                strcpy(size, "-");
        if (cli_json_str(job, "error"))
                result = cli_json_str(job, "error");
        /* The level made; the one asked beside it when the agent made another (a first
         * incremental is a full). */
        if (made && asked && !streq(made, asked))
                snprintf(level, sizeof(level), "%s (asked %s)", made, asked);
        else
                snprintf(level, sizeof(level), "%s", made ?: "-");
        return cli_table_add(t, sid, cli_json_str(job, "system"), stier, level,
                             cli_json_str(job, "state"), cli_json_str(job, "trigger"), when, took,
                             size, result);
}

static int cancel(const CliCtl *ctl, const char *arg, bool json) {
        _cleanup_(json_decrefp) json_t *job = NULL;
        _cleanup_free_ char *path = NULL;
        const char *state;
        int64_t id;
        int r;

        if (cli_parse_int(arg, 1, INT64_MAX, &id) < 0) {
                log_error("'%s' is not a job id (a number, as 'yunbak jobs' shows).", arg);
                return cli_usage_error("jobs");
        }
        if (asprintf(&path, "/v1/jobs/%" PRId64 "/cancel", id) < 0)
                return log_oom(), YB_EXIT_FAILED;
        r = cli_ctl_call(ctl, "POST", path, NULL, &job);
        if (r != 0)
                return r;
        if (json) {
                cli_json_print(job);
                return YB_EXIT_OK;
        }
        /* yunbakd answers with the job as it was when asked. */
        state = cli_json_str(job, "state") ?: "?";
        if (streq(state, "cancelled") || streq(state, "queued"))
                printf("Job %" PRId64 " cancelled%s.\n", id,
                       streq(state, "queued") ? " (it had not started)" : "");
        else
                printf("Job %" PRId64 " is being stopped (it was %s; its agent was sent SIGTERM "
                       "and commits nothing). 'yunbak jobs' shows when it has ended.\n",
                       id, state);
        return YB_EXIT_OK;
}

int cli_jobs(int argc, char **argv) {
        static const struct option opts[] = {
                { "system", required_argument, NULL, 'S' },
                { "state", required_argument, NULL, 's' },
                { "limit", required_argument, NULL, 'n' },
                CLI_CTL_OPTIONS,
                {},
        };
        _cleanup_(json_decrefp) json_t *answer = NULL;
        _cleanup_(cli_table_freep) CliTable *t = NULL;
        _cleanup_(yb_buf_done) YbBuf path = YB_BUF_INIT;
        const char *socket = NULL, *system = NULL, *state = NULL, *limit = NULL;
        bool json = false;
        json_t *jobs, *job;
        int64_t n = 0;
        size_t i;
        CliCtl ctl;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'S':
                        system = optarg;
                        break;
                case 's':
                        state = optarg;
                        break;
                case 'n':
                        limit = optarg;
                        break;
                default:
                        r = cli_ctl_option(c, &socket, &json, usage, "jobs");
                        if (r >= 0)
                                return r;
                }
        }
        cli_ctl_init(&ctl, socket);
        if (optind < argc && streq(argv[optind], "cancel")) {
                if (optind + 2 != argc || system || state || limit) {
                        log_error("jobs cancel takes one job id and no filters.");
                        return cli_usage_error("jobs");
                }
                return cancel(&ctl, argv[optind + 1], json);
        }
        if (optind != argc) {
                log_error("Unknown argument '%s' (jobs lists, 'jobs cancel ID' cancels).",
                          argv[optind]);
                return cli_usage_error("jobs");
        }
        if (system && cli_check_system_id(system) != 0)
                return YB_EXIT_USAGE;
        if (state) {
                bool known = false;

                for (size_t k = 0; k < ELEMENTSOF(states); k++)
                        known = known || streq(state, states[k]);
                if (!known) {
                        log_error("--state '%s' is not a job state: use queued, running, "
                                  "succeeded, partial, failed, cancelled or paused.",
                                  state);
                        return YB_EXIT_USAGE;
                }
        }
        if (limit && cli_parse_int(limit, 1, 1000, &n) < 0) {
                log_error("--limit '%s' is not a number from 1 to 1000.", limit);
                return YB_EXIT_USAGE;
        }
        /* The values are checked above: nothing in them needs escaping. */
        r = yb_buf_printf(&path, "/v1/jobs");
        if (r >= 0 && system)
                r = yb_buf_printf(&path, "%ssystem=%s", path.size > 8 ? "&" : "?", system);
        if (r >= 0 && state)
                r = yb_buf_printf(&path, "%sstate=%s", path.size > 8 ? "&" : "?", state);
        if (r >= 0 && limit)
                r = yb_buf_printf(&path, "%slimit=%" PRId64, path.size > 8 ? "&" : "?", n);
        if (r < 0)
                return log_oom(), YB_EXIT_FAILED;
        r = cli_ctl_call(&ctl, "GET", (const char *) path.data, NULL, &answer);
        if (r != 0)
                return r;
        if (json) {
                cli_json_print(answer);
                return YB_EXIT_OK;
        }
        jobs = json_object_get(answer, "jobs");
        if (json_array_size(jobs) == 0) {
                printf("No jobs%s.\n", system || state ? " match" : "");
                return YB_EXIT_OK;
        }
        t = cli_table_new(10, "ID", "SYSTEM", "TIER", "LEVEL", "STATE", "TRIGGER", "STARTED (UTC)",
                          "TOOK", "STORED", "SNAPSHOT OR ERROR");
        if (!t)
                return log_oom(), YB_EXIT_FAILED;
        json_array_foreach(jobs, i, job) {
                if (add_job(t, job, cli_now_usec()) < 0)
                        return log_oom(), YB_EXIT_FAILED;
        }
        cli_table_print(t, stdout);
        return YB_EXIT_OK;
}
