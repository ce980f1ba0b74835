/* orchestrator/decommission-verify.c: the step "verify" of a decommission (docs/decommission.md,
 * "Verification"): every store the system has used is listed and probed (its repository gone, no
 * other repository there with the system's key id, every deleted snapshot's path absent), every
 * registered key copy destroyed or attested, no snapshot row of the system left in the catalog,
 * the agent step done. Whatever is left is named; only when nothing is does the certificate
 * follow. On an S3 store with Object Lock what the lock keeps is not "left": each such object is
 * named with its retain-until date, and the certificate says so (docs/s3.md, "Object Lock"). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "catalog/keycopies.h"
#include "core/base/buf.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "core/erase/erase.h"
#include "orchestrator/decommission-internal.h"

/* What verification found left, and what it checked. */
typedef struct Findings {
        json_t *left;   /* strings, one per thing left */
        json_t *locked; /* per store Object Lock keeps objects in: {"store", "location",
                         * "objects": [{"path", "until"}], "bytes", "until"} */
        int64_t stores, repositories, probes;
} Findings;

static void leftf(Findings *f, const char *fmt, ...) _printf_(2, 3);
static void leftf(Findings *f, const char *fmt, ...) {
        va_list ap;
        char *s = NULL;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        json_array_append_new(f->left, json_string(s ? s : "(out of memory)"));
        free(s);
}

typedef struct Listing {
        YbStore *st;
        const OrchDecomStore *s;
        const char *system, *key_id;
        Findings *f;
} Listing;

/* One top-level entry of a store: a repository of another name whose config holds the
 * system's key id is a copy of the system's backups. */
static int list_entry(void *ud, const char *name) {
        Listing *l = ud;
        _cleanup_free_ char *path = NULL;
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        json_t *cfg;
        const char *kid;

        if (streq(name, l->system) || streq(name, ".") || streq(name, ".."))
                return 0;
        if (asprintf(&path, "%s/config", name) < 0)
                return -ENOMEM;
        if (yb_store_read_file(l->st, path, 1 << 20, &b) < 0)
                return 0; /* not a repository */
        l->f->repositories++;
        cfg = json_loadb((const char *) b.data, b.size, 0, NULL);
        kid = json_string_value(json_object_get(json_object_get(cfg, "key"), "key_id"));
        if (kid && *l->key_id && streq(kid, l->key_id))
                leftf(l->f,
                      "store '%s': %s/%s is a repository sealed to the system's key %s (a copy "
                      "under another name): remove it, then verify again",
                      l->s->name, l->s->url, name, l->key_id);
        json_decref(cfg);
        return 0;
}

/* The snapshot ids the store step of s recorded as deleted. */
static json_t *deleted_ids(const YbDecomStep *v, size_t n, const char *store) {
        for (size_t i = 0; i < n; i++)
                if (streq(v[i].step, "store") && streq(v[i].target, store) && v[i].artifact) {
                        json_t *a = json_loads(v[i].artifact, 0, NULL);
                        json_t *ids = json_incref(json_object_get(a, "snapshot_ids"));

                        json_decref(a);
                        return ids;
                }
        return NULL;
}

/* What is left of the system's repository in an object store: each object Object Lock keeps
 * (its date ahead) goes to locked, each other one is left. */
typedef struct Remains {
        const OrchDecomStore *s;
        Findings *f;
        json_t *objects;
        int64_t bytes, until, now;
} Remains;

static int remains_object(void *ud, const char *path, const YbStoreStat *st) {
        Remains *m = ud;
        char date[32];

        if (st->retain_until <= m->now) {
                leftf(m->f,
                      "store '%s': %s/%s is still there, and Object Lock does not keep it: "
                      "execute again to erase it",
                      m->s->name, m->s->url, path);
                return 0;
        }
        yb_time_format_iso(st->retain_until * 1000000000LL, date);
        date[19] = 'Z';
        date[20] = 0;
        m->bytes += (int64_t) st->size;
        m->until = MAX(m->until, st->retain_until);
        return json_array_append_new(m->objects,
                                     json_pack("{s:s, s:s}", "path", path, "until", date)) < 0
                       ? -ENOMEM
                       : 0;
}

/* Whether Object Lock keeps something under path (an entry of locked, "<path>/..."). */
static bool locked_under(const json_t *objects, const char *path) {
        size_t i, n = strlen(path);
        json_t *o;

        json_array_foreach(objects, i, o) {
                const char *p = json_string_value(json_object_get(o, "path"));

                if (p && strncmp(p, path, n) == 0 && p[n] == '/')
                        return true;
        }
        return false;
}

/* The system's repository, still there in object store st: what Object Lock keeps, recorded;
 * anything else, left. */
static void check_remains(OrchDecomRun *x, const OrchDecomStore *s, YbStore *st, Findings *f,
                          json_t **ret_objects) {
        Remains m = { s, f, json_array(), 0, 0, yb_now_ns() / 1000000000LL };
        char date[32];
        int r;

        r = m.objects ? yb_erase_store_each(st, x->system, remains_object, &m) : -ENOMEM;
        if (r < 0 && r != -ENOENT)
                leftf(f, "store '%s': %s/%s cannot be listed: %s", s->name, s->url, x->system,
                      strerror(-r));
        if (json_array_size(m.objects) > 0) {
                yb_time_format_iso(m.until * 1000000000LL, date);
                date[19] = 'Z';
                date[20] = 0;
                json_array_append_new(f->locked, json_pack("{s:s, s:s++, s:O, s:I, s:s}", "store",
                                                           s->name, "location", s->url, "/",
                                                           x->system, "objects", m.objects, "bytes",
                                                           (json_int_t) m.bytes, "until", date));
        }
        *ret_objects = m.objects;
}

static void check_store(OrchDecomRun *x, const OrchDecomStore *s, const YbDecomStep *steps,
                        size_t n_steps, Findings *f) {
        json_t *locked = NULL; /* the objects Object Lock keeps there, if any */
        _cleanup_(yb_store_closep) YbStore *st = NULL;
        char why[1024];
        YbStoreStat ss;
        json_t *ids, *id;
        size_t i;
        int r;

        r = orch_decom_open_store(s, &st, why, sizeof(why));
        if (r < 0) {
                leftf(f, "%s", why);
                return;
        }
        f->stores++;
        r = yb_store_stat(st, x->system, &ss);
        if (r >= 0 && yb_store_objects(st))
                check_remains(x, s, st, f, &locked);
        else if (r != -ENOENT)
                leftf(f, "store '%s': %s/%s %s: execute again to erase it", s->name, s->url,
                      x->system, r >= 0 ? "is still there" : "cannot be checked");
        ids = deleted_ids(steps, n_steps, s->name);
        json_array_foreach(ids, i, id) {
                _cleanup_free_ char *path = NULL;

                if (!json_is_string(id) ||
                    asprintf(&path, "%s/snapshots/%s", x->system, json_string_value(id)) < 0)
                        continue;
                f->probes++;
                r = yb_store_stat(st, path, &ss);
                if (r >= 0 && locked_under(locked, path))
                        continue; /* what Object Lock keeps of it: named with its date */
                if (r != -ENOENT)
                        leftf(f, "store '%s': %s/%s %s", s->name, s->url, path,
                              r >= 0 ? "is there again" : "cannot be checked");
        }
        json_decref(ids);
        Listing l = { st, s, x->system, x->key_id, f };
        r = yb_store_list(st, "", list_entry, &l);
        if (r < 0)
                leftf(f, "store '%s' (%s) cannot be listed: %s", s->name, s->url, strerror(-r));
        json_decref(locked);
}

static int count_row(void *ud, sqlite3_stmt *row) {
        *(int64_t *) ud = sqlite3_column_int64(row, 0);
        return 0;
}

/* The catalog and the key copies; under lock. */
static void check_catalog(OrchDecomRun *x, const YbDecomStep *steps, size_t n_steps, Findings *f) {
        YbKeyCopy *v = NULL;
        size_t n = 0, gone = 0;
        int64_t rows = 0;
        bool agent = false;

        /* The export's snapshot row stays: that store is the department's now. */
        if (yb_catalog_query(x->d->catalog,
                             "SELECT count(*) FROM snapshots WHERE system = ?1 AND"
                             " (?2 IS NULL OR store != ?2)",
                             count_row, &rows, "tt", x->system, x->export_store) < 0)
                leftf(f, "the catalog cannot be read to check the system's snapshots");
        else if (rows > 0)
                leftf(f,
                      "the catalog still lists %" PRId64 " snapshot%s of the system: execute "
                      "again",
                      rows, rows == 1 ? "" : "s");
        if (yb_key_copies_list(x->d->catalog, x->system, &v, &n) < 0)
                leftf(f, "the key copies cannot be read from the catalog");
        for (size_t i = 0; i < n; i++) {
                if (!streq(v[i].state, YB_KEY_COPY_HELD)) {
                        gone++;
                        continue;
                }
                if (streq(v[i].kind, YB_KEY_COPY_OFFLINE))
                        leftf(f, "key copy %" PRId64 " (offline: %s) is still held by %s", v[i].id,
                              v[i].note ? v[i].note : "no note", v[i].holder);
                else
                        leftf(f, "key copy %" PRId64 " (%s:%s) is still held by %s", v[i].id,
                              v[i].host ? v[i].host : "?", v[i].path ? v[i].path : "?",
                              v[i].holder);
        }
        if (n == 0)
                leftf(f, "no copy of the system's key is registered: nothing shows every copy "
                         "is destroyed");
        yb_key_copies_free(v, n);
        for (size_t i = 0; i < n_steps; i++) {
                if (streq(steps[i].step, "agent") &&
                    (streq(steps[i].state, "done") || streq(steps[i].state, "attested")))
                        agent = true;
                if (streq(steps[i].step, "store") && !streq(steps[i].state, "done"))
                        leftf(f, "the store step of store '%s' is %s: execute again",
                              steps[i].target, steps[i].state);
        }
        if (!agent)
                leftf(f, "the agent step is not done: the system's sources and the agent's state "
                         "may still be on its host; execute again");
        (void) gone;
}

/* Names what Object Lock keeps, store by store, each object with its date (the first
 * LOCKED_NAMED of each store: the step's artifact holds them all). */
#define LOCKED_NAMED 20
static void locked_detail(json_t *locked, YbBuf *b) {
        size_t i, j;
        json_t *l, *o;

        json_array_foreach(locked, i, l) {
                json_t *objects = json_object_get(l, "objects");
                size_t n = json_array_size(objects);

                (void) yb_buf_printf(b,
                                     "; store '%s': %zu object%s of %s kept by Object Lock "
                                     "(compliance) until %s at the latest, crypto-erased, "
                                     "deletion blocked until its date: ",
                                     json_string_value(json_object_get(l, "store")), n,
                                     n == 1 ? "" : "s",
                                     json_string_value(json_object_get(l, "location")),
                                     json_string_value(json_object_get(l, "until")));
                json_array_foreach(objects, j, o) {
                        if (j == LOCKED_NAMED) {
                                (void) yb_buf_printf(b, ", and %zu more", n - j);
                                break;
                        }
                        (void) yb_buf_printf(b, "%s%s until %s", j ? ", " : "",
                                             json_string_value(json_object_get(o, "path")),
                                             json_string_value(json_object_get(o, "until")));
                }
        }
}

bool orch_decom_verify(OrchDecomRun *x, char *why, size_t why_size) {
        YbDecomStep *steps = NULL;
        size_t n_steps = 0, i;
        Findings f = { .left = json_array(), .locked = json_array() };
        _cleanup_free_ char *artifact = NULL;
        _cleanup_(yb_buf_done) YbBuf detail = YB_BUF_INIT;
        int64_t start;
        json_t *a, *s;
        bool passed;

        pthread_mutex_lock(&x->d->lock);
        start = yb_daemon_now(x->d);
        pthread_mutex_unlock(&x->d->lock);
        (void) orch_decom_step(x, "verify", "-", "running", start, NULL, NULL);
        (void) orch_decom_steps(x, &steps, &n_steps);
        for (size_t k = 0; k < x->n_stores; k++)
                check_store(x, &x->stores[k], steps, n_steps, &f);
        pthread_mutex_lock(&x->d->lock);
        check_catalog(x, steps, n_steps, &f);
        pthread_mutex_unlock(&x->d->lock);
        yb_decom_steps_free(steps, n_steps);
        orch_decom_kill_hook("verify");

        passed = json_array_size(f.left) == 0;
        a = json_pack("{s:s, s:s, s:I, s:I, s:I, s:O}", "result", passed ? "passed" : "failed",
                      "method",
                      "each store listed (the system's repository absent, no other repository "
                      "with its key id) and each deleted snapshot's path probed; key copies and "
                      "catalog checked",
                      "stores", (json_int_t) f.stores, "repositories_checked",
                      (json_int_t) f.repositories, "snapshot_paths_probed", (json_int_t) f.probes,
                      "left", f.left);
        if (a && json_array_size(f.locked) > 0)
                json_object_set(a, "locked", f.locked);
        artifact = a ? json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(a);
        if (passed) {
                (void) yb_buf_printf(&detail,
                                     "passed: %" PRId64 " store%s listed, %" PRId64
                                     " other repositor%s checked, %" PRId64
                                     " deleted snapshot path%s probed absent; every key copy "
                                     "destroyed or attested; the catalog holds no snapshot of "
                                     "the system",
                                     f.stores, f.stores == 1 ? "" : "s", f.repositories,
                                     f.repositories == 1 ? "y" : "ies", f.probes,
                                     f.probes == 1 ? "" : "s");
                locked_detail(f.locked, &detail);
        } else {
                (void) yb_buf_printf(
                        &detail, "verification found %zu thing%s left: ", json_array_size(f.left),
                        json_array_size(f.left) == 1 ? "" : "s");
                json_array_foreach(f.left, i, s)(void)
                        yb_buf_printf(&detail, "%s%s", i ? "; " : "", json_string_value(s));
                (void) yb_buf_printf(&detail, "; no certificate is issued");
        }
        (void) yb_buf_append(&detail, "", 1);
        (void) orch_decom_step(x, "verify", "-", passed ? "done" : "failed", start,
                               (const char *) detail.data, artifact);
        if (passed) {
                YbDecommission row = {};

                pthread_mutex_lock(&x->d->lock);
                if (yb_decommissions_get(x->d->catalog, x->id, &row) >= 0) {
                        row.verified_usec = yb_daemon_now(x->d);
                        row.updated_usec = row.verified_usec;
                        (void) yb_decommissions_update(x->d->catalog, &row);
                }
                pthread_mutex_unlock(&x->d->lock);
                yb_decommission_done(&row);
        } else
                snprintf(why, why_size, "%s", (const char *) detail.data);
        json_decref(f.left);
        json_decref(f.locked);
        return passed;
}
