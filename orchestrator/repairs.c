/* orchestrator/repairs.c: repairs run by yunbakd, each in its own thread (repairs.h). The thread
 * touches nothing of the daemon's but its own Repair until it ends: the stores' locations and
 * options are copied when it starts, and its outcome is written under the daemon's lock. */
#include "orchestrator/repairs.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/base/buf.h"
#include "core/base/log.h"
#include "core/repo/copy.h"
#include "core/store/store-options.h"
#include "core/store/store.h"

typedef enum RepairState {
        REPAIR_RUNNING,
        REPAIR_DONE,
        REPAIR_FAILED,
} RepairState;

typedef struct Repair {
        struct Repair *next;
        YbDaemon *d;
        int64_t id;
        char *system, *snapshot, *from, *to;
        char *from_url, *from_key, *from_hosts, *to_url, *to_key, *to_hosts;
        YbS3Options from_s3, to_s3; /* an s3:// store's options (owned) */
        char *by_name, *by_department;
        uid_t by_uid;
        YbRole by_role;
        int64_t started_usec, finished_usec;
        /* Written by the thread under the daemon's lock when it ends. */
        RepairState state;
        char error[1024];
        YbRepairReport rep;
        pthread_t thread;
        bool has_thread;
} Repair;

struct YbRepairs {
        Repair *list; /* newest first */
        int64_t last_id;
};

static Repair *repair_free(Repair *r) {
        if (!r)
                return NULL;
        if (r->has_thread)
                pthread_join(r->thread, NULL);
        yb_repair_report_done(&r->rep);
        free(r->system);
        free(r->snapshot);
        free(r->from);
        free(r->to);
        free(r->from_url);
        free(r->from_key);
        free(r->from_hosts);
        free(r->to_url);
        free(r->to_key);
        free(r->to_hosts);
        yb_s3_options_done(&r->from_s3);
        yb_s3_options_done(&r->to_s3);
        free(r->by_name);
        free(r->by_department);
        free(r);
        return NULL;
}
DEFINE_FREEP(Repair, repair_free);

static char *dup_or_null(const char *s, bool *oom) {
        char *t = s ? strdup(s) : NULL;

        if (s && !t)
                *oom = true;
        return t;
}

/* Opens the store named name at url with its key and known_hosts, or its S3 options. */
static int open_store(const char *name, const char *url, const char *key, const char *hosts,
                      const YbS3Options *s3, YbStore **ret, char *err, size_t size) {
        YbStoreOptions opts = { .ssh_key = key, .known_hosts = hosts, .s3 = *s3 };
        char why[512] = "";
        int r = yb_store_open_ex(url, &opts, ret, why, sizeof(why));

        if (r < 0)
                snprintf(err, size, "cannot open store '%s' (%s): %s", name, url,
                         *why ? why : strerror(-r));
        return r;
}

/* The audit detail of a repair's end: every file replaced, and every one that could not be. */
static void end_detail(const Repair *rp, int r, YbBuf *b) {
        (void) yb_buf_printf(b, "repair %" PRId64 ", snapshot %s, store '%s' from '%s': ", rp->id,
                             rp->snapshot, rp->to, rp->from);
        if (r < 0 && rp->rep.n_files == 0)
                (void) yb_buf_printf(b, "%s", rp->error);
        else
                (void) yb_buf_printf(b, "%u replaced, %u not repaired, %zu files checked",
                                     rp->rep.replaced, rp->rep.unrepaired, rp->rep.n_files);
        for (size_t i = 0; i < rp->rep.n_files; i++) {
                const YbRepairFile *f = &rp->rep.files[i];

                if (f->action != YB_REPAIR_OK)
                        (void) yb_buf_printf(b, "; %s %s: %s", f->name,
                                             yb_repair_action_to_string(f->action), f->why);
        }
        (void) yb_buf_append(b, "", 1);
}

static void *run(void *userdata) {
        Repair *rp = userdata;
        _cleanup_(yb_store_closep) YbStore *from = NULL, *to = NULL;
        _cleanup_(yb_buf_done) YbBuf detail = YB_BUF_INIT;
        YbRepairReport rep = {};
        char err[sizeof(rp->error)] = "";
        YbPerson by;
        int r;

        r = open_store(rp->to, rp->to_url, rp->to_key, rp->to_hosts, &rp->to_s3, &to, err,
                       sizeof(err));
        if (r >= 0)
                r = open_store(rp->from, rp->from_url, rp->from_key, rp->from_hosts, &rp->from_s3,
                               &from, err, sizeof(err));
        if (r >= 0)
                r = yb_repo_repair(to, from, rp->system, rp->snapshot, &rep, err, sizeof(err));
        if (r < 0 && !*err)
                snprintf(err, sizeof(err), "%s", strerror(-r));

        pthread_mutex_lock(&rp->d->lock);
        rp->rep = rep;
        rp->finished_usec = yb_daemon_now(rp->d);
        rp->state = r < 0 ? REPAIR_FAILED : REPAIR_DONE;
        snprintf(rp->error, sizeof(rp->error), "%s", r < 0 ? err : "");
        end_detail(rp, r, &detail);
        by = (YbPerson){ rp->by_name, rp->by_uid, rp->by_role, rp->by_department };
        yb_daemon_audit(rp->d, &by, "repair", rp->system, r < 0 ? "failed" : "ok",
                        detail.data ? (const char *) detail.data : rp->error);
        pthread_mutex_unlock(&rp->d->lock);
        if (r < 0)
                log_error("Repair %" PRId64 " of snapshot %s of %s in store '%s' failed: %s",
                          rp->id, rp->snapshot, rp->system, rp->to, err);
        else
                log_info("Repair %" PRId64 " of snapshot %s of %s in store '%s' from '%s': %u "
                         "replaced.",
                         rp->id, rp->snapshot, rp->system, rp->to, rp->from, rep.replaced);
        return NULL;
}

/* Forgets the oldest ended repairs beyond YB_REPAIRS_KEPT; under lock. */
static void forget_old(YbRepairs *rs) {
        size_t ended = 0;

        for (Repair **p = &rs->list; *p;) {
                Repair *r = *p;

                if (r->state != REPAIR_RUNNING && ++ended > YB_REPAIRS_KEPT) {
                        /* Its thread wrote the state under the lock we hold now, so it has
                         * let go of the lock for good: the join cannot wait on us. */
                        *p = r->next;
                        repair_free(r);
                        continue;
                }
                p = &r->next;
        }
}

int yb_repairs_start(YbDaemon *d, const YbPerson *by, const char *system, const char *snapshot,
                     const char *from, const char *to, int64_t *ret_id) {
        const YbConfigStore *f = yb_daemon_config_store(d->config, from),
                            *t = yb_daemon_config_store(d->config, to);
        _cleanup_(repair_freep) Repair *rp = NULL;
        char detail[512];
        bool oom = false;
        int r;

        if (!f || !t)
                return -ENOENT;
        if (!d->repairs) {
                d->repairs = new0(YbRepairs, 1);
                if (!d->repairs)
                        return -ENOMEM;
        }
        rp = new0(Repair, 1);
        if (!rp)
                return -ENOMEM;
        *rp = (Repair){
                .d = d,
                .system = dup_or_null(system, &oom),
                .snapshot = dup_or_null(snapshot, &oom),
                .from = dup_or_null(from, &oom),
                .to = dup_or_null(to, &oom),
                .from_url = dup_or_null(f->url, &oom),
                .from_key = dup_or_null(f->ssh_key, &oom),
                .from_hosts = dup_or_null(f->known_hosts, &oom),
                .to_url = dup_or_null(t->url, &oom),
                .to_key = dup_or_null(t->ssh_key, &oom),
                .to_hosts = dup_or_null(t->known_hosts, &oom),
                .by_name = dup_or_null(by->name, &oom),
                .by_department = dup_or_null(by->department, &oom),
                .by_uid = by->uid,
                .by_role = by->role,
                .started_usec = yb_daemon_now(d),
                .id = d->repairs->last_id + 1,
        };
        if (yb_s3_options_copy(&f->s3, &rp->from_s3) < 0 ||
            yb_s3_options_copy(&t->s3, &rp->to_s3) < 0)
                oom = true;
        if (oom)
                return -ENOMEM;
        r = -pthread_create(&rp->thread, NULL, run, rp);
        if (r < 0)
                return r;
        rp->has_thread = true;
        d->repairs->last_id = rp->id;
        snprintf(detail, sizeof(detail), "repair %" PRId64 ", snapshot %s, store '%s' from '%s'",
                 rp->id, snapshot, to, from);
        yb_daemon_audit(d, by, "repair", system, "started", detail);
        *ret_id = rp->id;
        rp->next = d->repairs->list;
        d->repairs->list = TAKE_PTR(rp);
        forget_old(d->repairs);
        return 0;
}

json_t *yb_repairs_json(YbDaemon *d, int64_t id) {
        static const char *const states[] = { "running", "done", "failed" };
        const Repair *rp = NULL;
        json_t *files, *o;

        for (const Repair *r = d->repairs ? d->repairs->list : NULL; r && !rp; r = r->next)
                if (r->id == id)
                        rp = r;
        if (!rp)
                return NULL;
        files = json_array();
        for (size_t i = 0; i < rp->rep.n_files; i++)
                json_array_append_new(
                        files, json_pack("{s:s, s:s, s:s}", "name", rp->rep.files[i].name, "action",
                                         yb_repair_action_to_string(rp->rep.files[i].action), "why",
                                         rp->rep.files[i].why));
        o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:s, s:o, s:I, s:I, s:o}", "id",
                      (json_int_t) rp->id, "system", rp->system, "snapshot", rp->snapshot, "from",
                      rp->from, "to", rp->to, "by", rp->by_name, "started_usec",
                      (json_int_t) rp->started_usec, "finished_usec",
                      rp->finished_usec > 0 ? json_integer(rp->finished_usec) : json_null(),
                      "state", states[rp->state], "error",
                      *rp->error ? json_string(rp->error) : json_null(), "replaced",
                      (json_int_t) rp->rep.replaced, "unrepaired", (json_int_t) rp->rep.unrepaired,
                      "files", files);
        return o;
}

void yb_repairs_stop(YbDaemon *d) {
        YbRepairs *rs = d->repairs;

        if (!rs)
                return;
        /* Without the lock: each thread takes it once, to write its end. */
        while (rs->list) {
                Repair *r = rs->list;

                rs->list = r->next;
                repair_free(r);
        }
        free(rs);
        d->repairs = NULL;
}
