/* Putting the database streams into the snapshot: each stream's command runs first, its output
 * spooled (agents/stream.c runs the command and keeps the spool), then stored as a regular file
 * at the stream's name, under directories the agent makes for it: like any file, as a delta
 * against the parent's version when that is smaller (file-content.c), so that a dump that
 * changed little from the last one costs little. A failed command fails the
 * backup, or with on_failure: continue leaves the stream out and the snapshot partial. Stream
 * names are checked before anything runs. */
#include <stdio.h>
#include <sys/wait.h>

#include "agents/backup-internal.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/base/pathutil.h"
#include "core/base/timeutil.h"

int agent_streams_check_names(const AgentBackupArgs *args, char *const *roots) {
        for (size_t i = 0; i < args->n_streams; i++) {
                const char *name = args->streams[i].name;
                size_t first = strcspn(name, "/");

                if (!yb_path_is_safe(name, strlen(name))) {
                        log_error("Stream name '%s' is not a valid snapshot path: give a relative "
                                  "path such as _streams/hr-db.pgdump, without a leading '/' or "
                                  "empty, '.' or '..' components.",
                                  name);
                        return YB_EXIT_USAGE;
                }
                for (size_t j = 0; j < args->n_paths; j++)
                        if (strlen(roots[j]) == first && strncmp(name, roots[j], first) == 0) {
                                log_error("Stream '%s' collides with source '%s', which the "
                                          "snapshot keeps under the name '%s': give the stream "
                                          "another name (such as _streams/%s).",
                                          name, args->paths[j], roots[j], name);
                                return YB_EXIT_USAGE;
                        }
                for (size_t j = 0; j < i; j++)
                        if (yb_path_startswith(name, args->streams[j].name) ||
                            yb_path_startswith(args->streams[j].name, name)) {
                                log_error("Streams '%s' and '%s' collide: %s.",
                                          args->streams[j].name, name,
                                          streq(name, args->streams[j].name)
                                                  ? "the same name is given twice"
                                                  : "one would be a directory holding the other");
                                return YB_EXIT_USAGE;
                        }
        }
        return YB_EXIT_OK;
}

/* The directories above stream i's name ("_streams" of "_streams/db.pgdump"), each recorded once
 * (by the first stored stream below it), before the stream itself. */
static int add_stream_dirs(AgentBackup *b, size_t i, int64_t ns) {
        const char *name = b->args->streams[i].name;

        for (const char *p = strchr(name, '/'); p; p = strchr(p + 1, '/')) {
                _cleanup_free_ char *dir = strndup(name, (size_t) (p - name));
                bool seen = false;
                YbEntry me;
                int r;

                if (!dir)
                        return -ENOMEM;
                for (size_t j = 0; j < i && !seen; j++) /* a failed optional one made none */
                        seen = b->stream_stored[j] &&
                               yb_path_startswith(b->args->streams[j].name, dir);
                if (seen)
                        continue;
                agent_meta_own(&b->owners, dir, ns, &me);
                me.type = YB_ENTRY_DIR;
                r = yb_snapshot_writer_add(b->w, &me);
                if (r < 0)
                        return r;
                b->hdr.counts.dirs++;
        }
        return 0;
}

static size_t spool_chunk_size(void) {
#ifdef YB_FAULT_INJECTION
        /* Test hook: tiny chunks put every chunk boundary case within reach of small streams. */
        const char *e = getenv("YB_TEST_SPOOL_CHUNK");

        if (e && atol(e) > 0)
                return (size_t) atol(e);
#endif
        return 0;
}

/* Creates the spool of stream s (*spool, the caller's) and runs the command into it. Returns an
 * exit code: YB_EXIT_OK once the command has ended, however it ended (res->status says). */
static int run_spooled(AgentBackup *b, const AgentStream *s, AgentSpool **spool,
                       AgentStreamResult *res) {
        const char *system = b->args->system, *dir = b->args->state_dir;
        char b1[32], b2[32];
        int r;

        r = agent_spool_new(dir, spool_chunk_size(), spool);
        if (r == -ENOSPC)
                return agent_fail(r,
                                  "Backup of system '%s' failed, nothing was committed: no room "
                                  "to spool stream '%s' in '%s' (a spool leaves 2%% of the file "
                                  "system, at most 1 GiB, free for the host). Free space there, "
                                  "or give --state-dir on a larger file system.",
                                  system, s->name, dir);
        if (r < 0)
                return agent_fail(r,
                                  "Backup of system '%s' failed, nothing was committed: cannot "
                                  "create the spool of stream '%s' in '%s': %s",
                                  system, s->name, dir, strerror(-r));
        log_info("Stream '%s': running its command.", s->name);
        r = agent_stream_run(s, *spool, res);
        if (r == -ENOSPC)
                return agent_fail(r,
                                  "Backup of system '%s' failed, nothing was committed: stream "
                                  "'%s' does not fit in '%s' (%s spooled; a spool leaves %s free "
                                  "for the host). Free space there, or give --state-dir on a "
                                  "larger file system.",
                                  system, s->name, dir,
                                  yb_format_bytes(agent_spool_disk_bytes(*spool), b1),
                                  yb_format_bytes(agent_spool_reserve(*spool), b2));
        if (r < 0)
                return agent_fail(r,
                                  "Backup of system '%s' failed, nothing was committed: stream "
                                  "'%s' could not be %s in '%s': %s",
                                  system, s->name,
                                  agent_spool_disk_bytes(*spool) > 0 ? "spooled" : "started", dir,
                                  strerror(-r));
        return YB_EXIT_OK;
}

/* A command that did not exit with status 0: an optional stream is left out (the snapshot is
 * partial), any other fails the backup. Returns an exit code. */
static int command_failed(AgentBackup *b, const AgentStream *s, const AgentStreamResult *res) {
        const char *said = res->message;
        char how[192];

        agent_stream_status_text(res->status, how, sizeof(how));
        if (s->optional) {
                _cleanup_free_ char *why = NULL;

                if (asprintf(&why, "stream: its command %s%s%s%s", how,
                             *said ? " (it said: \"" : "", said, *said ? "\")" : "") < 0)
                        return agent_fail(-ENOMEM, "Out of memory.");
                agent_backup_error(b, s->name, 0, why);
                return YB_EXIT_OK;
        }
        log_error("Stream '%s' failed: its command %s%s%s%s. Backup of system '%s' failed, "
                  "nothing was committed.",
                  s->name, how, *said ? " (it said: \"" : "", said, *said ? "\")" : "",
                  b->args->system);
        return YB_EXIT_FAILED;
}

static int store_failed(const AgentBackup *b, const AgentStream *s, int r) {
        return agent_fail(r,
                          "Backup of system '%s' failed, nothing was committed: cannot store "
                          "stream '%s': %s",
                          b->args->system, s->name,
                          r == -ENOSPC ? "the store is full" : strerror(-r));
}

/* The spool could not be read back: says why. Returns an exit code. */
static int spool_failed(const AgentBackup *b, const AgentStream *s, int error) {
        if (error == EBADMSG)
                log_error("The spool of stream '%s' in '%s' did not read back as it was written: "
                          "something altered it on disk. Backup of system '%s' failed, nothing "
                          "was committed.",
                          s->name, b->args->state_dir, b->args->system);
        else
                log_error("Cannot read back the spool of stream '%s' in '%s': %s. Backup of "
                          "system '%s' failed, nothing was committed.",
                          s->name, b->args->state_dir, strerror(error), b->args->system);
        return YB_EXIT_FAILED;
}

/* Stores the stream's output as a regular file (mode 0600, mtime the start of the command, which
 * is when a dump's snapshot of the database is taken), after the directories above it: a
 * librsync delta against the parent's version of the same stream when the parent kept its
 * signature and the delta is smaller, else whole. Its signature goes into the new signature
 * index under the stream's name (inode 0: nothing on the host is ever taken for it), for the
 * next backup's delta. Returns an exit code. */
static int store_output(AgentBackup *b, size_t i, AgentSpool *spool, const AgentStreamResult *res,
                        YbEntry *me) {
        const AgentStream *s = &b->args->streams[i];
        const YbSigEntry *prev = agent_find_prev(b, s->name);
        AgentContent src = { .fd = -EBADF, .spool = spool, .size = res->size };
        YbBuf sig = YB_BUF_INIT;
        YbSigEntry se;
        int r;

        r = add_stream_dirs(b, i, res->started_ns);
        if (r < 0)
                return store_failed(b, s, r);
        agent_meta_own(&b->owners, s->name, res->started_ns, me);
        me->mode = 0600;
        me->type = YB_ENTRY_FILE;
        me->size = res->size;
        memcpy(me->hash, res->hash, YB_HASH_SIZE);
        se = (YbSigEntry){
                .path = (char *) s->name,
                .size = res->size,
                .mtime_sec = me->mtime_sec,
                .mtime_nsec = me->mtime_nsec,
                .ctime_sec = me->mtime_sec,
                .ctime_nsec = me->mtime_nsec,
        };
        memcpy(se.hash, res->hash, YB_HASH_SIZE);
        if (res->size > 0) {
                r = agent_store_content(b, &src, prev, me, &se, &sig);
                if (r == -AGENT_E_SOURCE_READ) {
                        yb_buf_done(&sig);
                        return spool_failed(b, s, b->read_error);
                }
        } else {
                me->content = YB_CONTENT_EMPTY;
                b->hdr.counts.empty++;
        }
        se.sig = sig.data;
        se.sig_size = sig.size;
        if (r >= 0)
                r = yb_snapshot_writer_add(b->w, me);
        if (r >= 0)
                r = yb_snapshot_writer_add_sig(b->w, &se);
        yb_buf_done(&sig);
        if (r < 0)
                return store_failed(b, s, r);
        return YB_EXIT_OK;
}

/* Counts the stored stream (me) in the header and the summary. */
static void count_stored(AgentBackup *b, size_t i, const AgentStreamResult *res,
                         const YbEntry *me) {
        const char *name = b->args->streams[i].name;
        double seconds = (double) (res->finished_ns - res->started_ns) / YB_NSEC_PER_SEC;
        bool delta = me->content == YB_CONTENT_DELTA;
        char b1[32], b2[32];

        b->stream_stored[i] = true;
        b->hdr.counts.files++;
        b->hdr.bytes_source += res->size;
        b->hdr.bytes_read += res->size;
        if (delta)
                log_info("Stream '%s': %s, stored as a delta of %s against snapshot %s, from a "
                         "command that ran %.2f s.",
                         name, yb_format_bytes(res->size, b1), yb_format_bytes(me->stored, b2),
                         b->parent->id, seconds);
        else
                log_info("Stream '%s': %s stored, from a command that ran %.2f s.", name,
                         yb_format_bytes(res->size, b1), seconds);
        json_array_append_new(b->streams,
                              json_pack("{s:s, s:I, s:I, s:b, s:f}", "name", name, "bytes",
                                        (json_int_t) res->size, "stored", (json_int_t) me->stored,
                                        "delta", delta, "seconds", seconds));
}

int agent_backup_stream(AgentBackup *b, size_t i) {
        const AgentStream *s = &b->args->streams[i];
        _cleanup_(agent_spool_freep) AgentSpool *spool = NULL;
        AgentStreamResult res;
        YbEntry me;
        int code;

        code = run_spooled(b, s, &spool, &res);
        if (code != YB_EXIT_OK)
                return code;
        if (!WIFEXITED(res.status) || WEXITSTATUS(res.status) != 0)
                return command_failed(b, s, &res);
        code = store_output(b, i, spool, &res, &me);
        if (code != YB_EXIT_OK)
                return code;
        count_stored(b, i, &res, &me);
        return YB_EXIT_OK;
}
