/* One tier-1 backup as a whole: walk the sources, skip what the parent already has, store the rest
 * whole or as a librsync delta, write the manifest and the signature index, commit. This file
 * holds the order of the steps and the state they share, from the checks of the command line to
 * the exit code; each step, and each part of a step, has a file of its own (the list is atop
 * agents/backup-internal.h). */
#include <stdlib.h>

#include "agents/backup-internal.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"

static void backup_done(AgentBackup *b) {
        yb_snapshot_writer_free(b->w);
        yb_snapshot_list_done(&b->list);
        yb_sigindex_free(b->index);
        yb_sigdelta_chain_free(b->sig_chain);
        free(b->seen);
        agent_walk_ahead_free(b->ahead);
        agent_links_done(&b->links);
        agent_owners_done(&b->owners);
        free(b->buf);
        yb_repo_free(b->repo);
        yb_store_close(b->store);
        yb_agent_identity_free(b->agent);
        json_decref(b->errors);
        json_decref(b->streams);
        json_decref(b->pg);
        for (size_t i = 0; i < b->hdr.n_pg; i++)
                yb_pg_backup_done(&b->hdr.pg[i]);
        free(b->hdr.pg);
        free(b->stream_stored);
        free(b->roots);
}

int agent_backup_name_sources(AgentBackup *b) {
        const AgentBackupArgs *args = b->args;
        int r;

        for (size_t i = 0; i < args->n_paths; i++) {
                char *p = args->paths[i], *slash;
                size_t n = strlen(p);

                while (n > 1 && p[n - 1] == '/')
                        p[--n] = 0;
                slash = strrchr(p, '/');
                b->roots[i] = slash ? slash + 1 : p;
                if (!*b->roots[i] || streq(b->roots[i], ".") || streq(b->roots[i], ".."))
                        return agent_fail(-EINVAL,
                                          "Cannot back up '%s': name a directory or file by its "
                                          "path (such as /srv/data), not '/', '.' or '..'.",
                                          p);
                for (size_t j = 0; j < i; j++)
                        if (streq(b->roots[i], b->roots[j])) {
                                log_error("Sources '%s' and '%s' have the same name '%s'; a "
                                          "snapshot keeps each source under its name.",
                                          args->paths[j], p, b->roots[i]);
                                return YB_EXIT_USAGE;
                        }
        }
        r = agent_streams_check_names(args, b->roots);
        return r == YB_EXIT_OK ? agent_pg_check_names(args, b->roots) : r;
}

/* Starts the snapshot, once the /proc check that extended attributes need has been made. */
static int start_snapshot(AgentBackup *b) {
        const AgentBackupArgs *args = b->args;
        YbWriterOptions opts = { .zstd_level = args->zstd_level, .zstd_workers = args->threads };
        int r;

        agent_xattrs_check(b);
        (void) gethostname(b->host, sizeof(b->host) - 1);
        opts.host = b->host;
        r = yb_snapshot_writer_new(b->repo, b->agent, b->level, b->parent, b->base, &opts, &b->w);
        if (r >= 0)
                r = agent_sigcache_delta(b);
        if (r < 0)
                return agent_fail(r, "Cannot start a snapshot in '%s', nothing was committed: %s",
                                  args->store, strerror(-r));
        return YB_EXIT_OK;
}

/* What was left out goes into the snapshot, so that a restore can say what it lacks. */
static int record_skipped(AgentBackup *b) {
        for (size_t i = 0; i < json_array_size(b->errors); i++) {
                json_t *e = json_array_get(b->errors, i);
                int r = yb_snapshot_writer_add_skipped(
                        b->w, json_string_value(json_object_get(e, "path")),
                        json_string_value(json_object_get(e, "error")));

                if (r < 0)
                        return agent_backup_failed(b, r);
        }
        return YB_EXIT_OK;
}

int agent_backup(const AgentBackupArgs *args) {
        _cleanup_(backup_done) AgentBackup b = { .args = args, .level = (YbLevel) args->level };
        int64_t t0 = yb_monotonic_ns();
        int code;

        b.errors = json_array();
        b.streams = json_array();
        b.pg = json_array();
        b.buf = malloc(AGENT_READ_BUF_SIZE);
        b.stream_stored = new0(bool, args->n_streams + 1);
        b.roots = new0(char *, args->n_paths + 1);
        if (!b.errors || !b.streams || !b.pg || !b.buf || !b.stream_stored || !b.roots)
                return agent_fail(-ENOMEM, "Out of memory.");
        code = agent_backup_name_sources(&b);
        if (code == YB_EXIT_OK)
                code = agent_backup_open(&b);
        /* With nothing to run first (below), the walk starts while the parent's index loads. */
        if (code == YB_EXIT_OK && args->n_streams == 0 && args->n_pg == 0)
                code = agent_backup_walk_begin(&b);
        if (code == YB_EXIT_OK)
                code = agent_backup_choose_parent(&b);
        if (code == YB_EXIT_OK)
                code = start_snapshot(&b);
        /* Streams first: a database dump is taken as close to the backup's start as can be, and
         * a failed one stops the backup before any walking. */
        for (size_t i = 0; code == YB_EXIT_OK && i < args->n_streams; i++)
                code = agent_backup_stream(&b, i);
        /* Then each cluster, between its pg_backup_start and pg_backup_stop. */
        for (size_t i = 0; code == YB_EXIT_OK && i < args->n_pg; i++)
                code = agent_backup_pg(&b, i);
        if (code == YB_EXIT_OK)
                code = agent_backup_walk(&b);
        if (code == YB_EXIT_OK)
                code = record_skipped(&b);
        if (code == YB_EXIT_OK)
                code = agent_backup_commit(&b, t0);
        /* Once the store is open, "unreachable" can only mean that its connection was lost,
         * whichever step noticed: say so once, naming the store. */
        if (code == YB_EXIT_UNREACHABLE && b.store)
                log_error("The connection to the store '%s' was lost; nothing was committed, and "
                          "the next backup starts afresh (a stale lock is taken over).",
                          args->store);
        return code;
}
