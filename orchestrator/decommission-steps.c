/* orchestrator/decommission-steps.c: the steps of a decommission's execution that act
 * (docs/decommission.md, "Execution"): stop (the system's jobs and replicator end), store (its
 * repository in one store erased, the catalog's rows of it deleted), agent (`yunbak-agent wipe`
 * on its host) and keys (every key copy destroyed or attested). Each records itself before and
 * after it acts (orch_decom_step) and is safe to run again. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "catalog/keycopies.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "core/erase/erase.h"
#include "orchestrator/decommission-internal.h"
#include "orchestrator/job-spec.h"
#include "orchestrator/jobs.h"
#include "orchestrator/replicators.h"
#include "orchestrator/runner.h"

/* How long the stop step waits for the system's jobs and replicator to end once told to. */
#define STOP_BOUND_USEC (120 * YB_USEC_PER_SEC)
/* How long `yunbak-agent wipe` may take. */
#define WIPE_TIMEOUT_USEC (6 * YB_USEC_PER_HOUR)

/* The step "stop": the system's tiers are stopped (yb_system_stopped holds from the state
 * executing on); here its jobs are cancelled and waited for, and its replicator. */
int orch_decom_step_stop(OrchDecomRun *x, char *why, size_t why_size) {
        YbDaemon *d = x->d;
        int64_t start = 0, deadline = yb_monotonic_usec() + STOP_BOUND_USEC, job = 0;
        int cancelled = 0, n;
        bool repl, stop_now = false;
        char artifact[64];

        snprintf(artifact, sizeof(artifact), "{\"export\":\"%s\"}", x->export_state);
        (void) orch_decom_step(x, "stop", "-", "running", 0, NULL, artifact);
        pthread_mutex_lock(&d->lock);
        start = yb_daemon_now(d);
        d->policy_generation++; /* the main loop stops the replicator (replicators.c) */
        yb_daemon_wake(d);
        for (;;) {
                struct timespec ts;

                n = yb_jobs_cancel_system(d, x->system, &job);
                cancelled = MAX(cancelled, n);
                repl = yb_replicators_alive(d, x->system);
                stop_now = *x->stopping;
                if ((n == 0 && !repl) || yb_monotonic_usec() >= deadline || stop_now)
                        break;
                /* Woken when a job ends; every 200 ms for the replicator. */
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 200 * YB_NSEC_PER_MSEC;
                if (ts.tv_nsec >= YB_NSEC_PER_SEC) {
                        ts.tv_sec++;
                        ts.tv_nsec -= YB_NSEC_PER_SEC;
                }
                (void) pthread_cond_timedwait(&d->idle, &d->lock, &ts);
        }
        pthread_mutex_unlock(&d->lock);
        orch_decom_kill_hook("stop");
        if ((n > 0 || repl) && stop_now) {
                snprintf(why, why_size, "yunbakd stopped while the system's jobs were ending");
                (void) orch_decom_step(x, "stop", "-", "interrupted", start, why, artifact);
                return -ECANCELED;
        }
        if (n > 0) {
                snprintf(why, why_size,
                         "job %" PRId64 " of system '%s' did not end within %" PRId64
                         " s of being cancelled: see why with 'yunbak jobs --system %s', stop it "
                         "on its host, then execute again",
                         job, x->system, (int64_t) (STOP_BOUND_USEC / YB_USEC_PER_SEC), x->system);
        } else if (repl) {
                snprintf(why, why_size,
                         "the tier-2 replicator of system '%s' did not stop within %" PRId64
                         " s: stop it on its host, then execute again",
                         x->system, (int64_t) (STOP_BOUND_USEC / YB_USEC_PER_SEC));
        } else {
                char detail[256];

                snprintf(detail, sizeof(detail),
                         "the tiers of system '%s' are stopped: nothing is scheduled, queued, "
                         "replicated or watched for it; %d running job%s cancelled and ended",
                         x->system, cancelled, cancelled == 1 ? "" : "s");
                (void) orch_decom_step(x, "stop", "-", "done", start, detail, artifact);
                return 0;
        }
        (void) orch_decom_step(x, "stop", "-", "failed", start, why, artifact);
        return -EBUSY;
}

/* What the catalog knows of the system's snapshots in a store. */
typedef struct Known {
        int64_t count, bytes;
        json_t *ids;
} Known;

static int known_row(void *ud, sqlite3_stmt *row) {
        Known *k = ud;
        const char *id = (const char *) sqlite3_column_text(row, 0);

        k->count++;
        k->bytes += sqlite3_column_int64(row, 1);
        if (id)
                json_array_append_new(k->ids, json_string(id));
        return 0;
}

/* The artifact of a store step that was cut short (its counts were taken before the catalog
 * rows went): taken again when the catalog has nothing left of it. */
static void known_from_earlier(const YbDecomStep *v, size_t n, const char *store, Known *k) {
        for (size_t i = 0; i < n; i++) {
                json_t *a, *ids;

                if (!streq(v[i].step, "store") || !streq(v[i].target, store) || !v[i].artifact)
                        continue;
                a = json_loads(v[i].artifact, 0, NULL);
                ids = json_object_get(a, "snapshot_ids");
                if (json_is_array(ids) && json_array_size(ids) > 0) {
                        k->count = json_integer_value(json_object_get(a, "snapshots"));
                        k->bytes = json_integer_value(json_object_get(a, "bytes"));
                        json_array_extend(k->ids, ids);
                }
                json_decref(a);
        }
}

/* The erase report an earlier run of the store step recorded (it erased, then yunbakd was
 * killed or stopped before the step was done), or NULL. */
static json_t *earlier_erase(const YbDecomStep *v, size_t n, const char *store) {
        for (size_t i = 0; i < n; i++)
                if (streq(v[i].step, "store") && streq(v[i].target, store) && v[i].artifact) {
                        json_t *a = json_loads(v[i].artifact, 0, NULL);
                        json_t *e = json_incref(json_object_get(a, "erase"));

                        json_decref(a);
                        return e;
                }
        return NULL;
}

static json_t *tiers_json(const OrchDecomStore *s) {
        json_t *t = json_array();

        for (int i = 1; i <= 3; i++)
                if (s->tiers[i])
                        json_array_append_new(t, json_integer(i));
        return t;
}

/* The step "store" for one store: its repository of the system erased, the catalog's rows of
 * its snapshots there deleted. */
int orch_decom_step_store(OrchDecomRun *x, const OrchDecomStore *s, const YbDecomStep *steps,
                          size_t n_steps, bool *first) {
        _cleanup_(yb_store_closep) YbStore *st = NULL;
        _cleanup_free_ char *location = NULL, *artifact = NULL;
        YbEraseReport rep = {};
        Known k = { .ids = json_array() };
        json_t *earlier = earlier_erase(steps, n_steps, s->name);
        int64_t listed;
        char why[1024] = "", err[512] = "";
        int64_t start;
        json_t *a;
        int r;

        pthread_mutex_lock(&x->d->lock);
        start = yb_daemon_now(x->d);
        r = yb_catalog_query(x->d->catalog,
                             "SELECT id, bytes_stored FROM snapshots WHERE system = ? AND"
                             " store = ? ORDER BY id",
                             known_row, &k, "tt", x->system, s->name);
        pthread_mutex_unlock(&x->d->lock);
        listed = k.count; /* by the catalog now, not by an earlier run */
        if (r >= 0 && k.count == 0)
                known_from_earlier(steps, n_steps, s->name, &k);
        if (asprintf(&location, "%s/%s", s->url ? s->url : s->name, x->system) < 0)
                location = NULL;
        a = json_pack("{s:s, s:s?, s:o, s:I, s:I, s:O}", "store", s->name, "location", location,
                      "tiers", tiers_json(s), "snapshots", (json_int_t) k.count, "bytes",
                      (json_int_t) k.bytes, "snapshot_ids", k.ids);
        artifact = a ? json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        (void) orch_decom_step(x, "store", s->name, "running", start, NULL, artifact);

        r = orch_decom_open_store(s, &st, why, sizeof(why));
        if (r >= 0) {
                r = yb_erase_store_tree(st, x->system, YB_OVERWRITE_IF_EFFECTIVE, &rep, err,
                                        sizeof(err));
                if (r < 0)
                        snprintf(why, sizeof(why), "erasing %s in store '%s' failed: %s%s",
                                 location, s->name, *err ? err : strerror(-r),
                                 "; run again once the cause is fixed");
                else if (rep.files == 0 && rep.dirs == 0 && listed > 0 && !earlier) {
                        /* An unmounted store looks empty: nothing is claimed erased there. */
                        r = -ENOENT;
                        snprintf(why, sizeof(why),
                                 "store '%s' has no repository at %s, though the catalog lists "
                                 "%" PRId64 " snapshot%s of the system there: is the store "
                                 "mounted, and is it the right one? Make it so and run again; "
                                 "if those snapshots are truly gone, let the catalog forget them "
                                 "('yunbak catalog rebuild --forget-missing') first",
                                 s->name, location, listed, listed == 1 ? "" : "s");
                } else if (rep.left > 0) {
                        r = -ENOTEMPTY;
                        snprintf(why, sizeof(why),
                                 "%" PRIu64 " entr%s of %s in store '%s' could not be removed "
                                 "(first: %s): remove them by hand (another filesystem mounted "
                                 "there?), then run again",
                                 rep.left, rep.left == 1 ? "y" : "ies", location, s->name,
                                 rep.left_first);
                }
        }
        if (r >= 0) {
                /* A run again finds nothing left: what this one erased is the record. */
                /* (Or finds only what Object Lock keeps: the first run deleted the rest.) */
                if (earlier && rep.files == 0 && (rep.dirs == 0 || rep.locked > 0))
                        json_object_set(a, "erase", earlier);
                else
                        json_object_set_new(a, "erase", yb_erase_report_json(&rep));
                free(artifact);
                artifact = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
                /* Recorded at once: a kill from here on does not lose what was erased. */
                (void) orch_decom_step(x, "store", s->name, "running", start, NULL, artifact);
                pthread_mutex_lock(&x->d->lock);
                r = yb_catalog_query(x->d->catalog,
                                     "DELETE FROM snapshots WHERE system = ? AND store = ?", NULL,
                                     NULL, "tt", x->system, s->name);
                pthread_mutex_unlock(&x->d->lock);
                if (r < 0)
                        snprintf(why, sizeof(why),
                                 "store '%s' was erased, but the catalog did not take the "
                                 "deletion of its snapshot rows: %s; run again",
                                 s->name, strerror(-r));
        }
        if (*first) {
                *first = false;
                orch_decom_kill_hook("store");
        }
        if (r >= 0) {
                char detail[1024], locked[640] = "";
                json_t *e = json_object_get(a, "erase");

                if (json_integer_value(json_object_get(e, "locked")) > 0)
                        snprintf(locked, sizeof(locked),
                                 "; %" PRId64 " object%s (%" PRId64 " bytes) kept by Object "
                                 "Lock (compliance) until %s at the latest (first: %s): "
                                 "crypto-erased once the key is destroyed, deleted only from "
                                 "then on",
                                 (int64_t) json_integer_value(json_object_get(e, "locked")),
                                 json_integer_value(json_object_get(e, "locked")) == 1 ? "" : "s",
                                 (int64_t) json_integer_value(json_object_get(e, "locked_bytes")),
                                 json_string_value(json_object_get(e, "locked_until")) ?: "?",
                                 json_string_value(json_object_get(e, "locked_first")) ?: "?");
                snprintf(detail, sizeof(detail),
                         "erased %s%s: %" PRId64 " files, %" PRId64 " bytes%s%s; %" PRId64
                         " snapshot%s removed from the catalog",
                         location,
                         e != earlier ? ""
                         : *locked    ? " (by an earlier run: what is left, Object Lock keeps)"
                                      : " (by the run yunbakd ended in; nothing was left)",
                         (int64_t) json_integer_value(json_object_get(e, "files")),
                         (int64_t) json_integer_value(json_object_get(e, "bytes")),
                         json_is_true(json_object_get(e, "overwritten"))
                                 ? ", overwritten first"
                                 : " (not overwritten: it would prove nothing there)",
                         locked, k.count, k.count == 1 ? "" : "s");
                (void) orch_decom_step(x, "store", s->name, "done", start, detail, artifact);
        } else
                (void) orch_decom_step(x, "store", s->name, "failed", start, why, artifact);
        json_decref(a);
        json_decref(k.ids);
        json_decref(earlier);
        return r;
}

/* The refused or unfinished paths of a wipe result, for people. */
static void wipe_problems(json_t *res, char *buf, size_t size) {
        size_t i, n = 0;
        json_t *p;

        *buf = 0;
        json_array_foreach(json_object_get(res, "paths"), i, p) {
                const char *result = json_string_value(json_object_get(p, "result"));
                const char *path = json_string_value(json_object_get(p, "path"));
                const char *pwhy = json_string_value(json_object_get(p, "why"));

                if (result && (streq(result, "wiped") || streq(result, "already-absent")) &&
                    json_integer_value(json_object_get(p, "left")) == 0)
                        continue;
                if (n < size)
                        n += (size_t) snprintf(buf + n, size - n, "%s%s: %s%s%s", n ? "; " : "",
                                               path ? path : "?", result ? result : "not wiped",
                                               pwhy ? ": " : "", pwhy ? pwhy : "");
        }
}

/* A wipe run again after yunbakd was killed in the agent step finds the paths and the state
 * cleared already: what the earlier run removed (as it recorded it) is the record, path by
 * path. */
static void merge_earlier_wipe(json_t *now, const YbDecomStep *v, size_t n, const char *host) {
        json_t *earlier = NULL, *p, *e, *st;
        size_t i, k;

        for (i = 0; i < n && !earlier; i++)
                if (streq(v[i].step, "agent") && streq(v[i].target, host) && v[i].artifact)
                        earlier = json_loads(v[i].artifact, 0, NULL);
        if (!earlier)
                return;
        json_array_foreach(json_object_get(now, "paths"), i, p) {
                json_array_foreach(json_object_get(earlier, "paths"), k, e) {
                        const char *a = json_string_value(json_object_get(p, "path")),
                                   *b = json_string_value(json_object_get(e, "path"));

                        if (a && b && streq(a, b) &&
                            json_integer_value(json_object_get(e, "files")) >
                                    json_integer_value(json_object_get(p, "files"))) {
                                json_array_set(json_object_get(now, "paths"), i, e);
                                break;
                        }
                }
        }
        st = json_object_get(earlier, "state");
        if (json_array_size(json_object_get(st, "removed")) >
            json_array_size(json_object_get(json_object_get(now, "state"), "removed")))
                json_object_set(now, "state", st);
        json_decref(earlier);
}

json_t *orch_decom_attestation(const YbDecomStep *v, size_t n, const char *host) {
        for (size_t i = 0; i < n; i++)
                if (streq(v[i].step, "attest-host") && streq(v[i].target, host) &&
                    streq(v[i].state, "done") && v[i].artifact)
                        return json_loads(v[i].artifact, 0, NULL);
        return NULL;
}

/* What to do about a host whose sources the agent step cannot clear, appended to why. */
static void attest_hint(OrchDecomRun *x, const char *host, const char *first, char *why,
                        size_t why_size) {
        size_t n = strlen(why);

        if (n < why_size)
                snprintf(why + n, why_size - n,
                         "; %s; or, if the host's volumes were destroyed (its VM deleted) on the "
                         "cloud platform, an operator attests that: 'yunbak decommission "
                         "attest-host %" PRId64 " --host %s --statement TEXT [--reference "
                         "TICKET]', then executes again",
                         first, x->id, host);
}

/* The artifact of an agent step that rests on the attestation att: what wipe did (out, if it
 * ran), the policy's sources, why it could not clear them, and the attestation. */
static char *attested_artifact(json_t *out, json_t *sources, json_t *att, const char *why) {
        json_t *a = out ? json_deep_copy(out) : json_object();
        char *text;

        if (!a)
                return NULL;
        json_object_set(a, "sources", sources);
        json_object_set(a, "attestation", att);
        json_object_set_new(a, "not_cleared", json_string(why));
        text = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(a);
        return text;
}

/* The step "agent": `yunbak-agent wipe` on the system's host clears its sources and the agent's
 * state for it. When it cannot (the host unreachable, a path refused), the step waits for the
 * operator's attestation that the host was destroyed (decommission-attest.c), and with it ends
 * "attested". */
int orch_decom_step_agent(OrchDecomRun *x, const YbDecomStep *steps, size_t n_steps) {
        YbDaemon *d = x->d;
        _cleanup_(yb_job_spec_done) YbJobSpec spec = {};
        _cleanup_(yb_run_result_done) YbRunResult res = {};
        _cleanup_(yb_policy_freep) YbPolicy *last = NULL;
        char **argv = NULL, why[2048] = "", host[128] = "";
        const YbPolicy *p = NULL;
        json_t *out = NULL, *att = NULL, *sources = json_array();
        bool unreached = false, refused = false;
        const char *st;
        size_t argc = 0;
        int64_t start;
        int r;

        pthread_mutex_lock(&d->lock);
        start = yb_daemon_now(d);
        YbSystem *sys = yb_daemon_system(d, x->system);
        if (!sys) {
                r = -ENOENT;
                snprintf(why, sizeof(why),
                         "system '%s' has no policy in force, so yunbakd cannot run "
                         "yunbak-agent wipe on its host: put its policy file back in the policy "
                         "directory (nothing runs for it: its tiers are stopped), then run again",
                         x->system);
                /* Its last policy still names the host and the sources an attestation covers. */
                if (orch_decom_last_policy(d, x->system, &last) >= 0)
                        p = last;
        } else {
                p = sys->policy;
                r = yb_job_spec_make(d, x->system, "full", &spec, why, sizeof(why));
                argv = new0(char *, sys->policy->n_paths + 8);
                if (r >= 0 && !argv)
                        r = -ENOMEM;
                if (r >= 0) {
                        argv[argc++] = strdup(spec.agent);
                        argv[argc++] = strdup("wipe");
                        if (asprintf(&argv[argc++], "--system=%s", x->system) < 0)
                                argv[argc - 1] = NULL;
                        if (spec.state_dir &&
                            asprintf(&argv[argc++], "--state-dir=%s", spec.state_dir) < 0)
                                argv[argc - 1] = NULL;
                        argv[argc++] = strdup("--json");
                        argv[argc++] = strdup("--");
                        for (size_t i = 0; i < sys->policy->n_paths; i++)
                                argv[argc++] = strdup(sys->policy->paths[i]);
                        for (size_t i = 0; i < argc; i++)
                                if (!argv[i])
                                        r = -ENOMEM;
                }
        }
        if (p) {
                snprintf(host, sizeof(host), "%s", p->host);
                for (size_t i = 0; i < p->n_paths; i++)
                        json_array_append_new(sources, json_string(p->paths[i]));
        }
        pthread_mutex_unlock(&d->lock);
        if (!*host)
                snprintf(host, sizeof(host), "-");
        st = orch_decom_step_state(steps, n_steps, "agent", host);
        if (st && (streq(st, "done") || streq(st, "attested"))) {
                r = 0;
                goto out;
        }
        att = orch_decom_attestation(steps, n_steps, host);
        (void) orch_decom_step(x, "agent", host, "running", start, NULL, NULL);
        if (r >= 0) {
                r = yb_run(&spec.target, argv, NULL, WIPE_TIMEOUT_USEC, -1, &res);
                unreached = r == -EHOSTUNREACH || r == -ECONNREFUSED;
                if (r < 0)
                        snprintf(why, sizeof(why),
                                 unreached
                                         ? "host %s cannot be reached to run yunbak-agent wipe: %s"
                                         : "cannot run yunbak-agent wipe on host %s: %s",
                                 host, *res.error ? res.error : strerror(-r));
        }
        if (r >= 0) {
                out = res.out ? json_loads(res.out, 0, NULL) : NULL;
                if (!json_is_object(out)) {
                        const char *e = res.err ? res.err : "";

                        r = -EBADMSG;
                        snprintf(why, sizeof(why),
                                 "yunbak-agent wipe on host %s exited with %d and gave no JSON "
                                 "result%s%.*s: is yunbak-agent there of this version (with "
                                 "'wipe')? Update it, then execute again",
                                 host, res.exit_status, *e ? ": " : "",
                                 (int) MIN(strcspn(e, "\n"), (size_t) 300), e);
                } else if (!json_is_true(json_object_get(out, "ok")) || res.exit_status != 0) {
                        char probs[1200];
                        size_t i;
                        json_t *q;

                        r = -EPERM;
                        json_array_foreach(json_object_get(out, "paths"), i, q) {
                                const char *res_s = json_string_value(json_object_get(q, "result"));

                                refused = refused || (res_s && streq(res_s, "refused"));
                        }
                        wipe_problems(out, probs, sizeof(probs));
                        snprintf(why, sizeof(why),
                                 "yunbak-agent wipe on host %s did not clear everything: %s", host,
                                 *probs ? probs : "its result says not ok");
                }
        }
        if (r >= 0) {
                _cleanup_free_ char *art = NULL;

                merge_earlier_wipe(out, steps, n_steps, host);
                art = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
                /* Recorded at once: a kill from here on does not lose what was removed. */
                (void) orch_decom_step(x, "agent", host, "running", start, NULL, art);
        }
        orch_decom_kill_hook("agent");
        if (r >= 0) {
                char detail[256];

                snprintf(detail, sizeof(detail),
                         "yunbak-agent wipe on host %s cleared %zu source path%s and the agent's "
                         "state of the system",
                         host, json_array_size(json_object_get(out, "paths")),
                         json_array_size(json_object_get(out, "paths")) == 1 ? "" : "s");
                _cleanup_free_ char *art = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
                (void) orch_decom_step(x, "agent", host, "done", start, detail, art);
        } else if (att) {
                /* What wipe cleared keeps its record; the rest rests on the operator's word. */
                _cleanup_free_ char *art = attested_artifact(out, sources, att, why),
                                    *detail = NULL;

                if (asprintf(&detail,
                             "%s; what it did not clear rests on the attestation by %s at %s that "
                             "host %s was destroyed: %s",
                             why, json_string_value(json_object_get(att, "by")) ?: "?",
                             json_string_value(json_object_get(att, "at")) ?: "?", host,
                             json_string_value(json_object_get(att, "statement")) ?: "") < 0)
                        detail = NULL;
                r = art && detail ? 0 : -ENOMEM;
                (void) orch_decom_step(x, "agent", host, r >= 0 ? "attested" : "failed", start,
                                       detail ? detail : why, art);
        } else {
                _cleanup_free_ char *art =
                        out ? json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

                if (unreached)
                        attest_hint(x, host, "make it reachable and execute again", why,
                                    sizeof(why));
                else if (refused)
                        attest_hint(x, host,
                                    "fix the policy's sources (the system's own directories, "
                                    "not a top-level one), stop what holds them (a running "
                                    "cluster), reload and execute again",
                                    why, sizeof(why));
                else
                        attest_hint(x, host,
                                    "fix that (or change the policy's sources), then run "
                                    "again",
                                    why, sizeof(why));
                (void) orch_decom_step(x, "agent", host,
                                       unreached || refused ? "waiting" : "failed", start, why,
                                       art);
        }
out:
        json_decref(out);
        json_decref(att);
        json_decref(sources);
        for (size_t i = 0; i < argc; i++)
                free(argv[i]);
        free(argv);
        return r;
}

/* The step "keys": every registered copy of the system's key destroyed, attested or withdrawn
 * (registered by mistake), at least one of them destroyed or attested; else waiting, naming
 * each copy still held. */
int orch_decom_step_keys(OrchDecomRun *x) {
        YbKeyCopy *v = NULL;
        size_t n = 0, held = 0, destroyed = 0, attested = 0, withdrawn = 0, len = 0;
        char detail[2048] = "";
        int64_t start;
        int r;

        pthread_mutex_lock(&x->d->lock);
        start = yb_daemon_now(x->d);
        r = yb_key_copies_list(x->d->catalog, x->system, &v, &n);
        pthread_mutex_unlock(&x->d->lock);
        (void) orch_decom_step(x, "keys", "-", "running", start, NULL, NULL);
        orch_decom_kill_hook("keys");
        if (r < 0) {
                snprintf(detail, sizeof(detail),
                         "cannot read the key copies of system '%s' from the catalog: %s; run "
                         "again",
                         x->system, strerror(-r));
                (void) orch_decom_step(x, "keys", "-", "failed", start, detail, NULL);
                return r;
        }
        for (size_t i = 0; i < n; i++) {
                const YbKeyCopy *k = &v[i];

                if (streq(k->state, YB_KEY_COPY_DESTROYED))
                        destroyed++;
                else if (streq(k->state, YB_KEY_COPY_ATTESTED))
                        attested++;
                else if (streq(k->state, YB_KEY_COPY_WITHDRAWN))
                        withdrawn++;
                else if (len < sizeof(detail)) {
                        held++;
                        if (streq(k->kind, YB_KEY_COPY_OFFLINE))
                                len += (size_t) snprintf(detail + len, sizeof(detail) - len,
                                                         "%skey copy %" PRId64
                                                         " (offline: %s), held by %s",
                                                         held > 1 ? "; " : "", k->id,
                                                         k->note ? k->note : "no note", k->holder);
                        else
                                len += (size_t) snprintf(
                                        detail + len, sizeof(detail) - len,
                                        "%skey copy %" PRId64 " (%s:%s), held by %s",
                                        held > 1 ? "; " : "", k->id, k->host ? k->host : "?",
                                        k->path ? k->path : "?", k->holder);
                }
        }
        yb_key_copies_free(v, n);
        if (n == withdrawn) {
                snprintf(detail, sizeof(detail),
                         "no copy of the key of system '%s' is registered%s, so nothing shows "
                         "that every copy is destroyed: register each copy ('yunbak key register "
                         "FILE', 'yunbak key copy FILE --offline'), destroy it, then verify again",
                         x->system, withdrawn > 0 ? " but those withdrawn as mistakes" : "");
                (void) orch_decom_step(x, "keys", "-", "waiting", start, detail, NULL);
                return -EAGAIN;
        }
        if (held > 0) {
                if (len < sizeof(detail))
                        snprintf(
                                detail + len, sizeof(detail) - len,
                                ": destroy %s ('yunbak key destroy FILE' on its host, or 'yunbak "
                                "key attest-destroyed --copy ID' by the holder of an offline "
                                "copy; one registered by mistake is withdrawn: 'yunbak key "
                                "withdraw --copy ID --reason TEXT', then an operator's --confirm), "
                                "then verify again",
                                held == 1 ? "it" : "them");
                (void) orch_decom_step(x, "keys", "-", "waiting", start, detail, NULL);
                return -EAGAIN;
        }
        snprintf(detail, sizeof(detail),
                 "every registered key copy is gone: %zu destroyed, %zu attested, %zu withdrawn "
                 "(registered by mistake)",
                 destroyed, attested, withdrawn);
        (void) orch_decom_step(x, "keys", "-", "done", start, detail, NULL);
        return 0;
}
