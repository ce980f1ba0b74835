/* Making a chain's root: an ordinary tier-1 backup of the same sources into the tier-2 store,
 * run as a child 'yunbak-agent backup --level differential --json' (a full when the store has
 * none) with the same state directory and store options (--s3-* included), so that its signature
 * index lands in the agent's cache. While it runs the lag is unknown ("root"), capture goes on, and
 * the replicator still answers its commands. Then the root's signature index becomes the state of
 * the files and a walk learns the rest; what changed since the backup read it is dirty already. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "agents/replicate.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/base/spawn.h"
#include "core/base/timeutil.h"

#define ROOT_SUMMARY_MAX (1024 * 1024)

/* The child's command line; the strings are borrowed from args but for pg and store (the arrays
 * are the caller's, and so are the NAME=CONNINFO strings in pg, one per hook, and the store's
 * options in store: agent_store_argv). */
static char **root_argv(const AgentReplicateArgs *args, char *zstd, char **pg, char **store) {
        const AgentBackupArgs *a = &args->backup;
        char **v = new0(char *, 22 + AGENT_STORE_ARGV_MAX + 2 * a->n_excludes + 2 * args->n_pg +
                                        a->n_paths);
        size_t n = 0;

        if (!v)
                return NULL;
        v[n++] = (char *) "yunbak-agent";
        v[n++] = (char *) "backup";
        v[n++] = (char *) "--store";
        v[n++] = (char *) a->store;
        v[n++] = (char *) "--system";
        v[n++] = (char *) a->system;
        v[n++] = (char *) (a->public_key ? "--public-key" : "--public-key-json");
        v[n++] = (char *) (a->public_key ? a->public_key : a->public_key_json);
        for (size_t i = 0; store[i]; i++)
                v[n++] = store[i];
        v[n++] = (char *) "--level";
        v[n++] = (char *) "differential";
        v[n++] = (char *) "--state-dir";
        v[n++] = (char *) a->state_dir;
        v[n++] = (char *) "--compression-level";
        v[n++] = zstd;
        v[n++] = (char *) "--json";
        v[n++] = (char *) "--live-postgresql";
        v[n++] = (char *) (a->live_postgresql_warn ? "warn" : "error");
        for (size_t i = 0; i < a->n_excludes; i++) {
                v[n++] = (char *) "--exclude";
                v[n++] = a->excludes[i];
        }
        /* The root is each hook's base backup too: its chain's WAL starts at its stop LSN. */
        for (size_t i = 0; i < args->n_pg; i++) {
                v[n++] = (char *) "--postgresql";
                v[n++] = pg[i];
        }
        v[n++] = (char *) "--";
        for (size_t i = 0; i < a->n_paths; i++)
                v[n++] = a->paths[i];
        return v;
}

/* Whether the tier-2 store has a full snapshot yet (the root is a full when not). */
static bool store_has_full(AgentReplicator *rp) {
        YbSnapshotList l = { 0 };
        bool full = false;

        if (yb_repo_list(rp->b.repo, &l) >= 0)
                for (size_t i = 0; i < l.n; i++)
                        full |= l.items[i]->level == YB_LEVEL_FULL;
        yb_snapshot_list_done(&l);
        return full;
}

static void root_event(AgentReplicator *rp, const char *state, const char *level, const char *id,
                       const char *reason, const char *message) {
        agent_out_emit(&rp->out, "root",
                       json_pack("{s:s, s:s, s:o, s:s, s:s}", "state", state, "level", level, "id",
                                 id ? json_string(id) : json_null(), "reason", reason, "message",
                                 message ? message : ""));
}

/* Runs the child to its end, reading its summary into out. 0 and its status; 1 when stopped
 * (*ret_stop set, the child stopped); -errno. */
static void strv_freep(char ***v) {
        for (size_t i = 0; *v && (*v)[i]; i++)
                free((*v)[i]);
        free(*v);
}

static int run_child(AgentReplicator *rp, YbBuf *out, int *ret_status, char **ret_stop) {
        char zstd[16];
        _cleanup_free_ char **argv = NULL;
        _cleanup_(strv_freep) char **pg = new0(char *, rp->args->n_pg + 1);
        _cleanup_(strv_freep) char **store = agent_store_argv(&rp->args->backup);
        int64_t next_tick = yb_monotonic_usec() + rp->args->interval_usec;
        _cleanup_(yb_child_done) YbChild child = YB_CHILD_NULL;
        YbSpawnArgs sa = { .program = "/proc/self/exe",
                           .fd = { YB_SPAWN_NULL, YB_SPAWN_PIPE, STDERR_FILENO },
                           .group = YB_SPAWN_GROUP_NEW,
                           /* A replicator killed while its root is made takes the backup
                            * with it: the next one's root would wait for its lock. */
                           .parent_death_signal = SIGTERM };
        int r;

        snprintf(zstd, sizeof(zstd), "%d", rp->args->backup.zstd_level);
        if (!pg || !store)
                return -ENOMEM;
        for (size_t i = 0; i < rp->args->n_pg; i++)
                if (asprintf(&pg[i], "%s=%s", rp->args->pg[i].name, rp->args->pg[i].conninfo) < 0) {
                        pg[i] = NULL;
                        return -ENOMEM;
                }
        argv = root_argv(rp->args, zstd, pg, store);
        if (!argv)
                return -ENOMEM;
        sa.argv = argv;
        r = yb_spawn(&sa, &child);
        if (r < 0)
                return r;
        for (;;) {
                bool checkpoint = false;
                const char *stop = agent_replicate_poll(rp, child.fd[1], 1000, &checkpoint);
                uint8_t buf[4096];
                ssize_t k;

                if (stop) {
                        (void) yb_child_stop(&child, 30 * YB_NSEC_PER_SEC, NULL);
                        *ret_stop = strdup(stop);
                        return 1;
                }
                /* pg_receivewal is looked after meanwhile (a lost slot waits for the root). */
                if (rp->wal && yb_monotonic_usec() >= next_tick) {
                        (void) agent_wal_tick(rp);
                        next_tick = yb_monotonic_usec() + rp->args->interval_usec;
                }
                /* A checkpoint asked for while a root is made is that root. */
                k = read(child.fd[1], buf, sizeof(buf));
                if (k > 0) {
                        if (out->size + (size_t) k <= ROOT_SUMMARY_MAX)
                                (void) yb_buf_append(out, buf, (size_t) k);
                        continue;
                }
                if (k < 0 && (errno == EAGAIN || errno == EINTR))
                        continue;
                break; /* end of its output: it is ending */
        }
        return yb_child_wait(&child, ret_status);
}

/* Loads the committed root id and its signature index into a fresh state. */
static int load_root(AgentReplicator *rp, const char *id) {
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = NULL;
        _cleanup_(agent_state_freep) AgentState *state = NULL;
        AgentBackup *b = &rp->b;
        int r;

        r = yb_repo_load_header(b->repo, id, &h);
        if (r < 0)
                return r;
        r = agent_state_new(&state);
        if (r < 0)
                return r;
        b->index = yb_sigindex_free(b->index);
        r = agent_sigcache_load(b, h);
        if (r < 0)
                log_warning_errno(r,
                                  "Cannot read the signature index of root %s (%m); every file "
                                  "is shipped whole in the first segment.",
                                  h->id);
        else {
                r = agent_state_take_sigindex(state, b->index, h->started_ns - YB_NSEC_PER_SEC);
                b->index = yb_sigindex_free(b->index);
                if (r < 0)
                        return r;
                /* A base backup's files are the database's, not the sources': a scan would
                 * take them for deleted. The chain adds WAL there, never changes them. */
                agent_state_remove_tree(state, YB_PG_DIR);
        }
        agent_state_free(rp->state);
        rp->state = TAKE_PTR(state);
        yb_header_free(rp->root);
        rp->root = TAKE_PTR(h);
        rp->last = yb_header_free(rp->last);
        rp->seq = 0;
        rp->hour[0] = 0;
        agent_wal_chain_start(rp);
        return 0;
}

/* The old chain is finished: every hour of it gets its index (a lock that is busy leaves it
 * to 'yunbak' readers, which read unindexed hours one segment at a time). */
static void close_chain(AgentReplicator *rp, const char *old_root) {
        int r = agent_replicate_lock(rp);

        if (r < 0)
                return;
        r = yb_segments_close_hours(rp->b.repo, old_root, NULL);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Cannot write the hour indexes of chain %s: %m", old_root);
        yb_repo_unlock(rp->b.repo);
}

static void decrefp(json_t **j) {
        json_decref(*j);
}

int agent_root_make(AgentReplicator *rp, const char *reason, char **ret_stop) {
        _cleanup_free_ char *old_root = rp->root ? strdup(rp->root->id) : NULL;
        const char *level = store_has_full(rp) ? "differential" : "full";
        _cleanup_(decrefp) json_t *summary = NULL;
        YbBuf out = YB_BUF_INIT;
        const char *id;
        char msg[512];
        int status = 0, r;

        agent_out_set_why(&rp->out, "root");
        root_event(rp, "running", level, NULL, reason, NULL);
        r = run_child(rp, &out, &status, ret_stop);
        if (r == 1) {
                yb_buf_done(&out);
                root_event(rp, "failed", level, NULL, reason, "stopped before it was done");
                return 1;
        }
        if (r >= 0 && yb_buf_append_u8(&out, 0) >= 0)
                summary = json_loads((const char *) out.data, 0, NULL);
        yb_buf_done(&out);
        if (r < 0) {
                snprintf(msg, sizeof(msg), "cannot run 'yunbak-agent backup': %s", strerror(-r));
                goto failed;
        }
        if (!WIFEXITED(status) ||
            (WEXITSTATUS(status) != YB_EXIT_OK && WEXITSTATUS(status) != YB_EXIT_PARTIAL)) {
                char how[128];

                agent_stream_status_text(status, how, sizeof(how));
                snprintf(msg, sizeof(msg),
                         "the backup that makes the root %s (its messages are in the log)", how);
                r = WIFEXITED(status) && WEXITSTATUS(status) == YB_EXIT_UNREACHABLE ? -EHOSTUNREACH
                    : WIFEXITED(status) && WEXITSTATUS(status) == YB_EXIT_BUSY      ? -EBUSY
                                                                                    : -EIO;
                goto failed;
        }
        id = json_string_value(json_object_get(summary, "snapshot"));
        if (!id) {
                snprintf(msg, sizeof(msg), "the backup that makes the root printed no summary");
                r = -EIO;
                goto failed;
        }
        level = json_string_value(json_object_get(summary, "level")) ?: level;
        r = load_root(rp, id);
        if (r < 0) {
                snprintf(msg, sizeof(msg), "cannot read root %s back from the store: %s", id,
                         strerror(-r));
                goto failed;
        }
        if (old_root)
                close_chain(rp, old_root);
        /* The state of the files is the root's; the walk learns the rest. At start it is the
         * start's scan; after a checkpoint it belongs to the root. */
        if (streq(reason, "start"))
                r = agent_scan_all(rp, "start", true);
        else {
                int64_t n = agent_scan(rp, "", rp->dirty, yb_now_ns(), true);

                r = n < 0 ? (int) n : 0;
        }
        if (r < 0) {
                snprintf(msg, sizeof(msg), "cannot walk the sources after root %s: %s", id,
                         strerror(-r));
                goto failed;
        }
        root_event(rp, "done", level, rp->root->id, reason, NULL);
        return 0;
failed:
        root_event(rp, "failed", level, NULL, reason, msg);
        agent_out_error(&rp->out, "Cannot make a %s root for system '%s' in '%s': %s.", reason,
                        rp->args->backup.system, rp->args->backup.store, msg);
        return r;
}
