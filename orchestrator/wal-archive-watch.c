/* orchestrator/wal-archive-watch.c: whether each physical hook's WAL archive works
 * (orchestrator/wal-archive-watch.h).
 *
 * A round starts on the main loop, under the lock: it copies, for each system with a physical
 * postgresql hook and no tier 2, its tier-1 job spec (the store) and its hooks' names; a thread
 * then opens each store (an sftp:// store may block for its timeout: never the main loop's
 * wait), lists the snapshots and, per hook, finds its newest base (the newest snapshot whose
 * header records a base of that hook) and the newest WAL archive segment of that hook in the
 * base's chain (core/repo/walarchive.h). The state, with bound = 2 x archive_timeout + period:
 *   archiving  the newest base's chain holds WAL of the hook archived within bound; or it holds
 *              none yet, the base finished within bound, and the previous base's chain holds
 *              WAL archived within bound (the new base's first WAL file is on its way);
 *   late       the newest WAL file of the hook was archived longer ago than bound;
 *   none       no base yet, or no WAL of the hook archived since the newest base;
 *   unknown    the store or its chains could not be read (why is said).
 * The thread hands its results back under the lock and wakes the main loop, which compares them
 * with the last ones, logs and audits the changes and starts the next round a period later. */
#include "orchestrator/wal-archive-watch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/log.h"
#include "core/repo/segment.h"
#include "core/repo/walarchive.h"
#include "orchestrator/job-spec.h"

typedef enum WalState {
        WAL_ARCHIVING,
        WAL_LATE,
        WAL_NONE,
        WAL_UNKNOWN,
        _WAL_STATE_MAX,
} WalState;

static const char *const state_names[_WAL_STATE_MAX] = { "archiving", "late", "none", "unknown" };

/* What a round found for one system's hook. */
typedef struct WalHook {
        char *system;
        char hook[YB_PG_NAME_MAX + 1];
        WalState state;
        int64_t last_ns;                          /* the newest WAL file's archiving; 0: none */
        char base[YB_SNAPSHOT_ID_MAX + 1];        /* the chain root holding it; "" with last_ns 0 */
        char newest_base[YB_SNAPSHOT_ID_MAX + 1]; /* the hook's newest base; "": none */
        bool newest_has_wal;                      /* its chain holds WAL of the hook */
        char why[512];                            /* unknown: why; none: what to do */
        int64_t checked_usec;
} WalHook;

/* One system of a round. */
typedef struct Check {
        char *system;
        YbJobSpec spec;  /* its tier-1 store */
        char error[512]; /* why there is no spec (then every hook is unknown) */
        char **hooks;    /* owned */
        size_t n_hooks;
} Check;

typedef struct Round {
        YbDaemon *d;
        Check *checks;
        size_t n_checks;
        WalHook *results;
        size_t n_results;
        int64_t bound_usec;
} Round;

struct YbWalWatch {
        int64_t period_usec, next_usec;
        int64_t bound_usec; /* 2 x archive_timeout + period */
        WalHook *hooks;     /* the last round's */
        size_t n_hooks;
        Round *round; /* running, or NULL */
        bool done;    /* the round's thread has ended */
        pthread_t thread;
};

static void hooks_free(WalHook *v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i].system);
        free(v);
}

static void round_free(Round *rd) {
        if (!rd)
                return;
        for (size_t i = 0; i < rd->n_checks; i++) {
                Check *c = &rd->checks[i];

                yb_job_spec_done(&c->spec);
                for (size_t k = 0; k < c->n_hooks; k++)
                        free(c->hooks[k]);
                free(c->hooks);
                free(c->system);
        }
        free(rd->checks);
        hooks_free(rd->results, rd->n_results);
        free(rd);
}

int yb_walwatch_new(YbDaemon *d) {
        YbWalWatch *w = new0(YbWalWatch, 1);

        if (!w)
                return log_oom();
        int64_t archive_timeout_usec = YB_WALWATCH_ARCHIVE_TIMEOUT_USEC;

        w->period_usec = YB_WALWATCH_PERIOD_USEC;
#ifdef YB_FAULT_INJECTION
        const char *e = getenv("YUNBAKD_TEST_WAL_CHECK_MS");

        if (e && atoll(e) > 0)
                w->period_usec = atoll(e) * YB_USEC_PER_MSEC;
        e = getenv("YUNBAKD_TEST_WAL_ARCHIVE_TIMEOUT_MS");
        if (e && atoll(e) > 0)
                archive_timeout_usec = atoll(e) * YB_USEC_PER_MSEC;
#endif
        w->bound_usec = 2 * archive_timeout_usec + w->period_usec;
        d->walwatch = w;
        return 0;
}

/* The newest WAL archive segment of hook in the chain of root: 1 and its time in *ret_ns, 0 when
 * the chain holds none, -errno (why said) when the chain cannot be read. */
static int chain_last_wal(YbRepo *repo, const char *root, const char *hook, int64_t *ret_ns,
                          char *why, size_t why_size) {
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = NULL;
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = {};
        _cleanup_free_ char *bad = NULL;
        char name[YB_PG_NAME_MAX + 1];
        int r;

        r = yb_walarchive_last_segment(repo, root, &h, &bad);
        if (r < 0) {
                snprintf(why, why_size,
                         "cannot read the newest segment of the WAL chain of base %s: %s%s%s", root,
                         strerror(-r), bad ? ", " : "", bad ?: "");
                return r;
        }
        if (!h)
                return 0;
        if (yb_walarchive_is_archive_segment(h, name) && streq(name, hook)) {
                *ret_ns = h->finished_ns;
                return 1;
        }
        /* Another cluster's WAL last (a base may hold several): the whole chain, newest first. */
        r = yb_segments_load(repo, root, 1, INT64_MAX, &l, &bad);
        if (r == -ENOENT)
                return 0;
        if (r < 0) {
                snprintf(why, why_size, "cannot read the WAL chain of base %s: %s", root,
                         strerror(-r));
                return r;
        }
        for (size_t i = l.n; i > 0; i--)
                if (yb_walarchive_is_archive_segment(l.items[i - 1], name) && streq(name, hook)) {
                        *ret_ns = l.items[i - 1]->finished_ns;
                        return 1;
                }
        return 0;
}

static bool has_base(const YbSnapshotHeader *h, const char *hook) {
        for (size_t i = 0; i < h->n_pg; i++)
                if (streq(h->pg[i].name, hook))
                        return true;
        return false;
}

/* Fills x (system and hook set) from the store's listing l. */
static void check_hook(YbRepo *repo, const YbSnapshotList *l, int64_t bound_usec, WalHook *x) {
        const YbSnapshotHeader *newest = NULL, *previous = NULL;
        int64_t now_ns = yb_now_ns(), bound_ns = yb_usec_to_ns(bound_usec), prev_ns = 0;
        int r;

        for (size_t i = l->n; i > 0 && !previous; i--)
                if (has_base(l->items[i - 1], x->hook)) {
                        if (!newest)
                                newest = l->items[i - 1];
                        else
                                previous = l->items[i - 1];
                }
        if (!newest) {
                x->state = WAL_NONE; /* the caller says why, naming the store */
                return;
        }
        snprintf(x->newest_base, sizeof(x->newest_base), "%s", newest->id);
        r = chain_last_wal(repo, newest->id, x->hook, &x->last_ns, x->why, sizeof(x->why));
        if (r < 0) {
                x->state = WAL_UNKNOWN;
                return;
        }
        if (r > 0) {
                x->newest_has_wal = true;
                snprintf(x->base, sizeof(x->base), "%s", newest->id);
                x->state = now_ns - x->last_ns <= bound_ns ? WAL_ARCHIVING : WAL_LATE;
                if (x->state == WAL_LATE)
                        snprintf(x->why, sizeof(x->why),
                                 "the newest WAL file of hook '%s' was archived %" PRId64
                                 " s ago, more than %" PRId64
                                 " s (2 x archive_timeout + the check period): is PostgreSQL "
                                 "down, or its archive_command failing? its log and "
                                 "pg_stat_archiver say why",
                                 x->hook, (int64_t) ((now_ns - x->last_ns) / YB_NSEC_PER_SEC),
                                 (int64_t) (bound_usec / YB_USEC_PER_SEC));
                return;
        }
        if (previous) {
                r = chain_last_wal(repo, previous->id, x->hook, &prev_ns, x->why, sizeof(x->why));
                if (r < 0) {
                        x->state = WAL_UNKNOWN;
                        return;
                }
                if (r > 0) {
                        x->last_ns = prev_ns;
                        snprintf(x->base, sizeof(x->base), "%s", previous->id);
                }
        }
        x->why[0] = 0;
        if (x->last_ns > 0 && now_ns - newest->finished_ns <= bound_ns &&
            now_ns - x->last_ns <= bound_ns)
                x->state = WAL_ARCHIVING;
        else {
                x->state = WAL_NONE;
                snprintf(x->why, sizeof(x->why),
                         "no WAL of hook '%s' archived since its newest base %s: is "
                         "archive_command set? see yunbak policy explain",
                         x->hook, newest->id);
        }
}

/* Checks one system's hooks into rd->results (as many entries as it has hooks). */
static void check_system(Round *rd, const Check *c) {
        _cleanup_(yb_store_closep) YbStore *store = NULL;
        _cleanup_(yb_repo_freep) YbRepo *repo = NULL;
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = {};
        char why[512] = "";
        int r;

        if (c->error[0]) {
                snprintf(why, sizeof(why), "%s", c->error);
                r = -ENOENT;
        } else
                r = yb_job_spec_open_store(&c->spec, &store, why, sizeof(why));
        if (r >= 0) {
                r = yb_repo_open(store, c->spec.system, &repo);
                if (r < 0 && r != -ENOENT)
                        snprintf(why, sizeof(why),
                                 "cannot open the repository of system '%s' in store '%s': %s",
                                 c->spec.system, c->spec.store_name, strerror(-r));
        }
        if (repo) {
                r = yb_repo_list(repo, &l);
                if (r < 0)
                        snprintf(why, sizeof(why),
                                 "cannot list the snapshots of system '%s' in store '%s': %s",
                                 c->spec.system, c->spec.store_name, strerror(-r));
        }
        for (size_t i = 0; i < c->n_hooks; i++) {
                WalHook *x = &rd->results[rd->n_results++];

                x->system = strdup(c->system);
                snprintf(x->hook, sizeof(x->hook), "%s", c->hooks[i]);
                if (r < 0 && (r != -ENOENT || !store)) {
                        x->state = WAL_UNKNOWN;
                        snprintf(x->why, sizeof(x->why), "%s", why[0] ? why : strerror(-r));
                } else
                        check_hook(repo, &l, rd->bound_usec, x); /* no repository: l is empty */
                if (x->state == WAL_NONE && !x->newest_base[0])
                        snprintf(x->why, sizeof(x->why),
                                 "no base backup of hook '%s' in store '%s' yet: WAL is archived "
                                 "from the first one on",
                                 x->hook, c->spec.store_name);
                else if (x->state == WAL_UNKNOWN && c->spec.store_name &&
                         !strstr(x->why, c->spec.store_name)) {
                        /* Room for the prefix: a store's name is short, the reason is cut. */
                        char tmp[sizeof(x->why) - 64];

                        snprintf(tmp, sizeof(tmp), "%.*s", (int) sizeof(tmp) - 1, x->why);
                        snprintf(x->why, sizeof(x->why), "store '%.48s': %s", c->spec.store_name,
                                 tmp);
                }
                x->checked_usec = yb_now_usec();
        }
}

static void *round_main(void *userdata) {
        Round *rd = userdata;
        YbDaemon *d = rd->d;

        for (size_t i = 0; i < rd->n_checks; i++)
                check_system(rd, &rd->checks[i]);
        pthread_mutex_lock(&d->lock);
        d->walwatch->done = true;
        pthread_mutex_unlock(&d->lock);
        yb_daemon_wake(d);
        return NULL;
}

/* Whether the policy's WAL goes through archive_command: a physical hook and no tier 2. */
static bool watched(const YbPolicy *p) {
        if (p->tier2_store)
                return false;
        for (size_t i = 0; i < p->n_hooks; i++)
                if (p->hooks[i].type == YB_HOOK_POSTGRESQL &&
                    p->hooks[i].mode == YB_HOOK_MODE_PHYSICAL)
                        return true;
        return false;
}

/* A round over every watched system; NULL when there is none (or on error, logged). */
static Round *round_new(YbDaemon *d, int64_t bound_usec) {
        Round *rd = new0(Round, 1);
        size_t n_hooks = 0;

        if (!rd)
                return log_oom(), NULL;
        rd->d = d;
        rd->bound_usec = bound_usec;
        rd->checks = new0(Check, d->n_systems ?: 1);
        if (!rd->checks)
                goto oom;
        for (size_t i = 0; i < d->n_systems; i++) {
                const YbPolicy *p = d->systems[i].policy;
                Check *c = &rd->checks[rd->n_checks];

                if (!watched(p) || yb_system_stopped(&d->systems[i]))
                        continue;
                rd->n_checks++; /* from here on round_free frees what c holds */
                c->system = strdup(p->id);
                c->hooks = new0(char *, p->n_hooks);
                if (!c->system || !c->hooks)
                        goto oom;
                for (size_t k = 0; k < p->n_hooks; k++)
                        if (p->hooks[k].type == YB_HOOK_POSTGRESQL &&
                            p->hooks[k].mode == YB_HOOK_MODE_PHYSICAL &&
                            !(c->hooks[c->n_hooks++] = strdup(p->hooks[k].name)))
                                goto oom;
                if (yb_job_spec_make(d, p->id, "full", &c->spec, c->error, sizeof(c->error)) < 0) {
                        if (!c->error[0])
                                goto oom;
                        yb_job_spec_done(&c->spec);
                        memset(&c->spec, 0, sizeof(c->spec));
                }
                n_hooks += c->n_hooks;
        }
        if (rd->n_checks == 0) {
                round_free(rd);
                return NULL;
        }
        rd->results = new0(WalHook, n_hooks);
        if (!rd->results)
                goto oom;
        return rd;
oom:
        round_free(rd);
        return log_oom(), NULL;
}

static const WalHook *find(const WalHook *v, size_t n, const char *system, const char *hook) {
        for (size_t i = 0; i < n; i++)
                if (v[i].system && streq(v[i].system, system) && streq(v[i].hook, hook))
                        return &v[i];
        return NULL;
}

/* "newest WAL file archived at T (chain of base B)" or "no WAL file archived", then why. */
static void describe(const WalHook *x, char *buf, size_t size) {
        char last[32];

        if (x->last_ns > 0) {
                yb_time_format_iso(x->last_ns, last);
                snprintf(buf, size, "newest WAL file archived at %s (chain of base %s)%s%s", last,
                         x->base, x->why[0] ? "; " : "", x->why);
        } else
                snprintf(buf, size, "no WAL file archived%s%s", x->why[0] ? "; " : "", x->why);
}

/* Logs and audits the changes from the last round's results to rd's. */
static void take_results(YbDaemon *d, YbWalWatch *w, Round *rd) {
        for (size_t i = 0; i < rd->n_results; i++) {
                const WalHook *x = &rd->results[i];
                const WalHook *old = find(w->hooks, w->n_hooks, x->system, x->hook);
                bool bad = x->state == WAL_LATE || x->state == WAL_NONE;
                bool was_bad = old && (old->state == WAL_LATE || old->state == WAL_NONE);
                YbSystem *s = yb_daemon_system(d, x->system);
                char detail[1024];
                int n;

                if (s) { /* its status entry says this: remade */
                        free(s->json_cache);
                        s->json_cache = NULL;
                }
                if (old && old->state == x->state)
                        continue;
                n = snprintf(detail, sizeof(detail), "hook %s: ", x->hook);
                describe(x, detail + n, sizeof(detail) - n);
                if (bad)
                        log_error("System '%s': the WAL archive of hook '%s' is %s: %s.", x->system,
                                  x->hook, state_names[x->state], detail + n);
                else if (x->state == WAL_UNKNOWN)
                        log_warning("System '%s': the state of the WAL archive of hook '%s' is "
                                    "unknown: %s.",
                                    x->system, x->hook, detail + n);
                else
                        log_info("System '%s': the WAL archive of hook '%s' is archiving: %s.",
                                 x->system, x->hook, detail + n);
                if (bad || (x->state == WAL_ARCHIVING && was_bad))
                        yb_daemon_audit(d, NULL, "wal-archive.state", x->system,
                                        state_names[x->state], detail);
        }
        hooks_free(w->hooks, w->n_hooks);
        w->hooks = TAKE_PTR(rd->results);
        w->n_hooks = rd->n_results;
        rd->n_results = 0;
}

static void join_round(YbWalWatch *w) {
        pthread_join(w->thread, NULL);
        w->done = false;
}

int64_t yb_walwatch_tick(YbDaemon *d, int64_t now) {
        YbWalWatch *w = d->walwatch;
        Round *rd;
        int r;

        if (!w || d->test_clock)
                return INT64_MAX;
        if (w->round) {
                if (!w->done)
                        return INT64_MAX; /* its end wakes the loop */
                join_round(w);
                take_results(d, w, w->round);
                round_free(TAKE_PTR(w->round));
                w->next_usec = now + w->period_usec;
        }
        if (now < w->next_usec)
                return w->next_usec;
        w->next_usec = now + w->period_usec;
        rd = round_new(d, w->bound_usec);
        if (!rd) {
                hooks_free(TAKE_PTR(w->hooks), w->n_hooks);
                w->n_hooks = 0;
                return w->next_usec;
        }
        r = -pthread_create(&w->thread, NULL, round_main, rd);
        if (r < 0) {
                log_error_errno(r, "Cannot start the check of the WAL archives: %m. Trying again "
                                   "in a period.");
                round_free(rd);
                return w->next_usec;
        }
        w->round = rd;
        return INT64_MAX;
}

void yb_walwatch_stop(YbDaemon *d) {
        YbWalWatch *w = d->walwatch;

        if (!w)
                return;
        if (w->round) {
                join_round(w);
                round_free(w->round);
        }
        hooks_free(w->hooks, w->n_hooks);
        free(w);
        d->walwatch = NULL;
}

static json_t *ns_usec_or_null(int64_t ns) {
        return ns > 0 ? json_integer(yb_ns_to_usec(ns)) : json_null();
}

static json_t *text_or_null(const char *s) {
        return s[0] ? json_string(s) : json_null();
}

void yb_walwatch_status_json(YbDaemon *d, const YbSystem *s, json_t *o) {
        YbWalWatch *w = d->walwatch;
        const YbPolicy *p = s->policy;
        json_t *a;

        if (!watched(p)) {
                json_object_set_new(o, "wal_archive", json_null());
                return;
        }
        a = json_array();
        for (size_t i = 0; a && i < p->n_hooks; i++) {
                const YbHook *k = &p->hooks[i];
                const WalHook *x;

                if (k->type != YB_HOOK_POSTGRESQL || k->mode != YB_HOOK_MODE_PHYSICAL)
                        continue;
                x = w ? find(w->hooks, w->n_hooks, p->id, k->name) : NULL;
                if (!x) {
                        json_array_append_new(
                                a, json_pack("{s:s, s:s, s:n, s:n, s:n, s:b, s:s, s:n}", "hook",
                                             k->name, "state", "unknown", "last_archived_usec",
                                             "base", "newest_base", "newest_base_has_wal", false,
                                             "why", "not checked yet", "checked_usec"));
                        continue;
                }
                json_array_append_new(a,
                                      json_pack("{s:s, s:s, s:o, s:o, s:o, s:b, s:o, s:I}", "hook",
                                                x->hook, "state", state_names[x->state],
                                                "last_archived_usec", ns_usec_or_null(x->last_ns),
                                                "base", text_or_null(x->base), "newest_base",
                                                text_or_null(x->newest_base), "newest_base_has_wal",
                                                x->newest_has_wal, "why", text_or_null(x->why),
                                                "checked_usec", (json_int_t) x->checked_usec));
        }
        json_object_set_new(o, "wal_archive", a ?: json_null());
}

void yb_walwatch_metrics(YbDaemon *d, YbBuf *b) {
        YbWalWatch *w = d->walwatch;
        size_t n = w ? w->n_hooks : 0;

        yb_buf_printf(b, "# HELP yunbak_wal_archive_last_timestamp_seconds When the newest WAL "
                         "file of a physical hook without tier 2 was archived (absent when none "
                         "was since its newest base or before it).\n"
                         "# TYPE yunbak_wal_archive_last_timestamp_seconds gauge\n");
        for (size_t i = 0; i < n; i++)
                if (w->hooks[i].last_ns > 0)
                        yb_buf_printf(b,
                                      "yunbak_wal_archive_last_timestamp_seconds{system=\"%s\","
                                      "hook=\"%s\"} %.3f\n",
                                      w->hooks[i].system, w->hooks[i].hook,
                                      (double) w->hooks[i].last_ns / 1e9);
        yb_buf_printf(b, "# HELP yunbak_wal_archive_state 1 for the current state of a physical "
                         "hook's WAL archive (archiving, late, none, unknown), 0 for the "
                         "others.\n# TYPE yunbak_wal_archive_state gauge\n");
        for (size_t i = 0; i < n; i++)
                for (int k = 0; k < _WAL_STATE_MAX; k++)
                        yb_buf_printf(b,
                                      "yunbak_wal_archive_state{system=\"%s\",hook=\"%s\","
                                      "state=\"%s\"} %d\n",
                                      w->hooks[i].system, w->hooks[i].hook, state_names[k],
                                      (int) w->hooks[i].state == k);
}
