/* The replicator's reconciliation scan: a walk of the sources (or of one directory) compared with
 * the state, by size, mtime, ctime and inode as a tier-1 backup compares with its parent.
 * Whatever differs, and whatever the state holds that the walk did not meet, becomes dirty; the
 * next segment looks at it. Events are hints; this is the truth, run at start, after an event
 * queue overflow, after the store comes back, every hour, and on directories that were moved in
 * or collapsed out of an overfull dirty set. */
#include "agents/replicate.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"

typedef struct Scan {
        AgentReplicator *rp;
        AgentDirty *into;
        int64_t noticed_ns;
        bool learn;
        const char *dir; /* the snapshot path walked ("" every source) */
        size_t dir_len;
        int64_t entries;
        int error;
} Scan;

static int scan_entry(void *userdata, const AgentWalkEntry *e) {
        Scan *s = userdata;
        AgentState *state = s->rp->state;
        AgentStateEntry *se = agent_state_find(state, e->path);
        const struct stat *st = e->st;
        bool dirty;

        s->entries++;
        if (se)
                se->seen = s->rp->scan_gen;
        if (s->learn) {
                /* Right after a root: the index knows the files; the rest is taken as the walk
                 * finds it (capture, set up before the root, marks what changes meanwhile). */
                if (se && S_ISREG(st->st_mode) && S_ISREG(se->mode)) {
                        se->mode = st->st_mode;
                        se->uid = st->st_uid;
                        se->gid = st->st_gid;
                        dirty = agent_state_changed(se, st);
                } else if (!se && !S_ISREG(st->st_mode) && !S_ISSOCK(st->st_mode)) {
                        se = agent_state_put(state, e->path, st, NULL, true);
                        if (!se) {
                                s->error = -ENOMEM;
                                return -ENOMEM;
                        }
                        se->seen = s->rp->scan_gen;
                        dirty = false;
                } else
                        dirty = !S_ISSOCK(st->st_mode);
        } else
                dirty = !S_ISSOCK(st->st_mode) &&
                        (!se || se->learned || agent_state_changed(se, st));
        if (dirty && agent_dirty_add(s->into, e->path, s->noticed_ns, AGENT_DIRTY_SCANNED) < 0) {
                s->error = -ENOMEM;
                return -ENOMEM;
        }
        return 0;
}

static void scan_error(void *userdata, const char *abs, int error) {
        log_warning_errno(error, "Cannot read '%s' to compare it with the replica: %m", abs);
}

/* State entries below the walked directory that the walk did not meet are gone. */
static void unseen(void *userdata, AgentStateEntry *e) {
        Scan *s = userdata;

        if (e->seen == s->rp->scan_gen || s->error < 0)
                return;
        if (s->dir_len > 0 && (strncmp(e->se.path, s->dir, s->dir_len) != 0 ||
                               (e->se.path[s->dir_len] != '/' && e->se.path[s->dir_len] != 0)))
                return;
        if (agent_dirty_add(s->into, e->se.path, s->noticed_ns, AGENT_DIRTY_SCANNED) < 0)
                s->error = -ENOMEM;
}

int64_t agent_scan(AgentReplicator *rp, const char *dir, AgentDirty *into, int64_t noticed_ns,
                   bool learn) {
        const AgentBackupArgs *a = &rp->args->backup;
        Scan s = { rp, into, noticed_ns, learn, dir, strlen(dir), 0, 0 };
        int r = 0;

        rp->scan_gen++;
        for (size_t i = 0; i < rp->n_sources && r >= 0; i++) {
                const AgentSource *src = &rp->sources[i];
                _cleanup_free_ char *host = NULL;

                if (*dir) {
                        size_t k = strlen(src->name);

                        if (strncmp(dir, src->name, k) != 0 || (dir[k] != '/' && dir[k] != 0))
                                continue;
                        host = agent_source_host_path(rp->sources, rp->n_sources, dir);
                        if (!host)
                                return -ENOMEM;
                }
                r = agent_walk(host ? host : src->real, *dir ? dir : src->name, a->excludes,
                               a->n_excludes, scan_entry, scan_error, &s);
                /* A source (or directory) that is gone: the state's entries below it are. */
                if (r == -ENOENT || r == -ENOTDIR || r == -EACCES)
                        r = 0;
        }
        if (r < 0)
                return r;
        if (s.error < 0)
                return s.error;
        agent_state_foreach(rp->state, unseen, &s);
        return s.error < 0 ? s.error : s.entries;
}

int agent_scan_all(AgentReplicator *rp, const char *reason, bool learn) {
        int64_t n;

        agent_out_emit(&rp->out, "scan",
                       json_pack("{s:s, s:s, s:I}", "state", "running", "reason", reason, "entries",
                                 (json_int_t) 0));
        agent_out_set_why(&rp->out, "rescan");
        n = agent_scan(rp, "", rp->dirty, yb_now_ns(), learn);
        if (n < 0) {
                agent_out_error(&rp->out, "The %s scan of system '%s' failed: %s", reason,
                                rp->args->backup.system, strerror((int) -n));
                return (int) n;
        }
        agent_out_emit(&rp->out, "scan",
                       json_pack("{s:s, s:s, s:I}", "state", "done", "reason", reason, "entries",
                                 (json_int_t) n));
        return 0;
}
