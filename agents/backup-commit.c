/* The last step of a backup: the commit. The header gets the sources' absolute paths, the
 * snapshot is committed (it exists once its header is in place), the agent caches its signature
 * index for the next backup, and the summary is printed: as text, or as JSON with --json. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/backup-internal.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"

/* The snapshot's volumes: its vol-* files (beside the manifest, the signature index and, in a
 * partial snapshot, the list of what was left out). */
static size_t count_volumes(const YbSnapshotHeader *h) {
        size_t n = 0;

        for (size_t i = 0; i < h->n_files; i++)
                n += strncmp(h->files[i].name, "vol-", 4) == 0;
        return n;
}

static void print_json(AgentBackup *b, const YbSnapshotHeader *h, double seconds) {
        const YbSnapshotCounts *c = &h->counts;
        json_t *o = json_pack(
                "{s:s, s:s, s:s, s:o, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                "s:I, s:I, s:I, s:I, s:I, s:f, s:b, s:O, s:O, s:O}",
                "snapshot", h->id, "system", h->system, "level", yb_level_to_string(h->level),
                "parent", *h->parent ? json_string(h->parent) : json_null(), "store",
                b->args->store, "files", (json_int_t) c->files, "dirs", (json_int_t) c->dirs,
                "symlinks", (json_int_t) c->symlinks, "hardlinks", (json_int_t) c->hardlinks,
                "whole", (json_int_t) c->whole, "delta", (json_int_t) c->delta, "unchanged",
                (json_int_t) c->unchanged, "renamed", (json_int_t) c->renamed, "deleted",
                (json_int_t) c->deleted, "errors", (json_int_t) c->errors, "bytes_source",
                (json_int_t) h->bytes_source, "bytes_read", (json_int_t) h->bytes_read,
                "bytes_stored", (json_int_t) h->bytes_stored, "volumes",
                (json_int_t) count_volumes(h), "seconds", seconds, "partial", h->partial, "skipped",
                b->errors, "streams", b->streams, "postgresql", b->pg);

        if (o) {
                json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                fputc('\n', stdout);
                json_decref(o);
        }
}

static void print_text(AgentBackup *b, const YbSnapshotHeader *h, double seconds) {
        const YbSnapshotCounts *c = &h->counts;
        char b1[32], b2[32], b3[32];

        printf("Snapshot %s committed: %s backup of system '%s'%s%s.\n", h->id,
               yb_level_to_string(h->level), h->system, *h->parent ? ", parent " : "", h->parent);
        printf("  files:  %llu (%llu stored whole, %llu as deltas, %llu unchanged, %llu renamed, "
               "%llu deleted since the parent)\n",
               (unsigned long long) c->files, (unsigned long long) c->whole,
               (unsigned long long) c->delta, (unsigned long long) c->unchanged,
               (unsigned long long) c->renamed, (unsigned long long) c->deleted);
        printf("  also:   %llu directories, %llu symlinks, %llu hard links, %llu special files\n",
               (unsigned long long) c->dirs, (unsigned long long) c->symlinks,
               (unsigned long long) c->hardlinks, (unsigned long long) c->special);
        printf("  bytes:  %s in the sources, %s read, %s stored, in %.2f s\n",
               yb_format_bytes(h->bytes_source, b1), yb_format_bytes(h->bytes_read, b2),
               yb_format_bytes(h->bytes_stored, b3), seconds);
        for (size_t i = 0; i < json_array_size(b->streams); i++) {
                json_t *st = json_array_get(b->streams, i);

                printf("  stream: %s, %s from its command in %.2f s\n",
                       json_string_value(json_object_get(st, "name")),
                       yb_format_bytes((uint64_t) json_integer_value(json_object_get(st, "bytes")),
                                       b1),
                       json_real_value(json_object_get(st, "seconds")));
        }
        for (size_t i = 0; i < json_array_size(b->pg); i++) {
                json_t *pg = json_array_get(b->pg, i);

                printf("  postgresql: %s, base backup from %s to %s (timeline %lld); %lld files "
                       "changed while read (WAL replay repairs them), %lld entries left out as "
                       "PostgreSQL says\n",
                       json_string_value(json_object_get(pg, "name")),
                       json_string_value(json_object_get(pg, "start_lsn")),
                       json_string_value(json_object_get(pg, "stop_lsn")),
                       (long long) json_integer_value(json_object_get(pg, "timeline")),
                       (long long) json_integer_value(json_object_get(pg, "changed_while_read")),
                       (long long) json_integer_value(json_object_get(pg, "excluded")));
        }
        printf("  store:  %s\n", b->args->store);
        if (h->partial)
                printf("  PARTIAL: %llu files or directories could not be read (listed above).\n",
                       (unsigned long long) c->errors);
}

/* Commits b->hdr with the sources' absolute paths (as given when they cannot be resolved). */
static int commit(AgentBackup *b, YbSnapshotHeader **ret) {
        const AgentBackupArgs *args = b->args;
        char **abs = new0(char *, args->n_paths + 1);
        int r;

        for (size_t i = 0; abs && i < args->n_paths; i++)
                abs[i] = realpath(args->paths[i], NULL) ?: strdup(args->paths[i]);
        b->hdr.sources = abs;
        b->hdr.n_sources = abs ? args->n_paths : 0;
        r = yb_snapshot_writer_commit(b->w, &b->hdr, ret);
        for (size_t i = 0; abs && i < args->n_paths; i++)
                free(abs[i]);
        free(abs);
        b->hdr.sources = NULL;
        return r;
}

int agent_backup_commit(AgentBackup *b, int64_t t0) {
        _cleanup_(yb_header_freep) YbSnapshotHeader *committed = NULL;
        const char *system = b->args->system;
        double seconds;
        int r;

        r = commit(b, &committed);
        if (r < 0 && committed) {
                agent_sigcache_save(b, committed);
                return agent_fail(r,
                                  "Snapshot %s of system '%s' was committed, but the store did "
                                  "not confirm it is on disk (%s); it may not survive a crash of "
                                  "the store. Run 'yunbak verify' once the store is healthy.",
                                  committed->id, system, strerror(-r));
        }
        if (r < 0)
                return agent_backup_failed(b, r);
        agent_sigcache_save(b, committed);
        seconds = (double) (yb_monotonic_ns() - t0) / YB_NSEC_PER_SEC;
        if (b->args->json)
                print_json(b, committed, seconds);
        else
                print_text(b, committed, seconds);
        return committed->partial ? YB_EXIT_PARTIAL : YB_EXIT_OK;
}
