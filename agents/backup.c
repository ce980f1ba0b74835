/* One tier-1 backup: walk the sources, skip what the parent already has, store the rest whole or
 * as a librsync delta, write the manifest and the signature index, commit. The parts live in
 * files of their own (listed atop agents/backup-internal.h); this file holds the walk's
 * dispatch by kind of entry and agent_backup. */
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "agents/backup-internal.h"
#include "core/base/exitcode.h"
#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"

static void walk_error(void *userdata, const char *abs, int error) {
        if (error == -ESTALE)
                agent_backup_error(userdata, abs, 0, "it was replaced while being read");
        else
                agent_backup_error(userdata, abs, error, "cannot read it");
}

static int backup_entry(void *userdata, const AgentWalkEntry *e) {
        AgentBackup *b = userdata;
        const struct stat *st = e->st;
        YbEntry me;
        int r = 0;

        agent_meta_from_stat(&b->owners, e, &me);
        r = agent_xattrs_read(b, e, &me);
        if (r < 0)
                return r;
        switch (st->st_mode & S_IFMT) {
        case S_IFREG:
                r = agent_backup_file(b, e, &me);
                break;
        case S_IFDIR:
                me.type = YB_ENTRY_DIR;
                r = yb_snapshot_writer_add(b->w, &me);
                b->hdr.counts.dirs++;
                break;
        case S_IFLNK: {
                size_t size = (size_t) st->st_size + 1;

                for (;;) {
                        ssize_t k;

                        free(me.target);
                        me.target = malloc(size);
                        if (!me.target)
                                return -ENOMEM;
                        k = readlinkat(e->dir_fd, e->name, me.target, size);
                        if (k < 0) {
                                agent_backup_error(b, e->abs, negative_errno(),
                                                   "cannot read the symlink");
                                goto done;
                        }
                        if ((size_t) k < size) {
                                me.target[k] = 0;
                                break;
                        }
                        size *= 2;
                }
                me.type = YB_ENTRY_SYMLINK;
                r = yb_snapshot_writer_add(b->w, &me);
                b->hdr.counts.symlinks++;
                break;
        }
        case S_IFIFO:
        case S_IFCHR:
        case S_IFBLK:
                me.type = S_ISFIFO(st->st_mode)  ? YB_ENTRY_FIFO
                          : S_ISCHR(st->st_mode) ? YB_ENTRY_CHARDEV
                                                 : YB_ENTRY_BLOCKDEV;
                me.rdev = st->st_rdev;
                r = yb_snapshot_writer_add(b->w, &me);
                b->hdr.counts.special++;
                break;
        default:
                /* Sockets belong to a running process; there is nothing to keep. */
                break;
        }
done:
        free(me.target);
        agent_xattrs_free(me.xattrs, me.n_xattrs);
        return r;
}

static void print_summary(AgentBackup *b, const YbSnapshotHeader *h, double seconds) {
        const YbSnapshotCounts *c = &h->counts;
        char b1[32], b2[32], b3[32];

        if (b->args->json) {
                json_t *o = json_pack(
                        "{s:s, s:s, s:s, s:o, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                        "s:I, s:I, s:I, s:I, s:I, s:f, s:b, s:O, s:O}",
                        "snapshot", h->id, "system", h->system, "level",
                        yb_level_to_string(h->level), "parent",
                        *h->parent ? json_string(h->parent) : json_null(), "store", b->args->store,
                        "files", (json_int_t) c->files, "dirs", (json_int_t) c->dirs, "symlinks",
                        (json_int_t) c->symlinks, "hardlinks", (json_int_t) c->hardlinks, "whole",
                        (json_int_t) c->whole, "delta", (json_int_t) c->delta, "unchanged",
                        (json_int_t) c->unchanged, "renamed", (json_int_t) c->renamed, "deleted",
                        (json_int_t) c->deleted, "errors", (json_int_t) c->errors, "bytes_source",
                        (json_int_t) h->bytes_source, "bytes_read", (json_int_t) h->bytes_read,
                        "bytes_stored", (json_int_t) h->bytes_stored, "volumes",
                        (json_int_t) (h->n_files - 2), "seconds", seconds, "partial", h->partial,
                        "skipped", b->errors, "streams", b->streams);

                if (o) {
                        json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                        fputc('\n', stdout);
                        json_decref(o);
                }
                return;
        }
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
        printf("  store:  %s\n", b->args->store);
        if (h->partial)
                printf("  PARTIAL: %llu files or directories could not be read (listed above).\n",
                       (unsigned long long) c->errors);
}

static void backup_done(AgentBackup *b) {
        yb_snapshot_writer_free(b->w);
        yb_sigindex_free(b->index);
        free(b->seen);
        agent_links_done(&b->links);
        agent_owners_done(&b->owners);
        free(b->buf);
        yb_repo_free(b->repo);
        yb_store_close(b->store);
        yb_agent_identity_free(b->agent);
        json_decref(b->errors);
        json_decref(b->streams);
        free(b->stream_stored);
}

/* Whether path holds a private key file (given by mistake where the public key belongs). */
static bool key_file_is_private(const char *path) {
        YbBuf b = YB_BUF_INIT;
        bool r = false;

        if (yb_read_file_at(AT_FDCWD, path, 64 * 1024, &b) >= 0 && yb_buf_append_u8(&b, 0) >= 0)
                r = strstr((char *) b.data, "\"yunbak-secret-key\"") != NULL;
        yb_buf_done(&b);
        return r;
}

/* With --parent-agent, only snapshots that agent signed are built on; never one of
 * --skip-parent. */
static bool parent_agent_ok(const AgentBackupArgs *args, const YbSnapshotHeader *h) {
        for (size_t i = 0; i < args->n_skip_parents; i++)
                if (streq(args->skip_parents[i], h->id))
                        return false;
        return !args->has_parent_agent || memcmp(h->agent_pk, args->parent_agent, 32) == 0;
}

int agent_backup(const AgentBackupArgs *args) {
        _cleanup_(backup_done) AgentBackup b = { .args = args };
        _cleanup_(yb_header_freep) YbSnapshotHeader *committed = NULL;
        _cleanup_free_ char **roots = NULL;
        const YbSnapshotHeader *parent = NULL, *base = NULL;
        YbSnapshotList list = { 0 };
        YbWriterOptions opts = { .zstd_level = args->zstd_level, .zstd_workers = args->threads };
        YbLevel level = (YbLevel) args->level;
        YbPublicKey pub;
        char host[256] = "", kid[2 * YB_KEY_ID_SIZE + 1], kid2[2 * YB_KEY_ID_SIZE + 1];
        char key_name[PATH_MAX + 3]; /* the key as messages name it */
        int64_t t0 = yb_monotonic_ns();
        int r;

        b.errors = json_array();
        b.streams = json_array();
        b.buf = malloc(AGENT_READ_BUF_SIZE);
        b.stream_stored = new0(bool, args->n_streams + 1);
        roots = new0(char *, args->n_paths + 1);
        if (!b.errors || !b.streams || !b.buf || !b.stream_stored || !roots)
                return agent_fail(-ENOMEM, "Out of memory.");
        /* Each source is stored under its own name; two sources of the same name would clash. */
        for (size_t i = 0; i < args->n_paths; i++) {
                char *p = args->paths[i], *slash;
                size_t n = strlen(p);

                while (n > 1 && p[n - 1] == '/')
                        p[--n] = 0;
                slash = strrchr(p, '/');
                roots[i] = slash ? slash + 1 : p;
                if (!*roots[i] || streq(roots[i], ".") || streq(roots[i], ".."))
                        return agent_fail(
                                -EINVAL,
                                "Cannot back up '%s': name a directory or file by its path "
                                "(such as /srv/data), not '/', '.' or '..'.",
                                p);
                for (size_t j = 0; j < i; j++)
                        if (streq(roots[i], roots[j])) {
                                log_error("Sources '%s' and '%s' have the same name '%s'; a "
                                          "snapshot keeps each source under its name.",
                                          args->paths[j], p, roots[i]);
                                return YB_EXIT_USAGE;
                        }
        }
        r = agent_streams_check_names(args, roots);
        if (r != YB_EXIT_OK)
                return r;

        if (args->public_key_json) {
                r = yb_public_key_parse(args->public_key_json, strlen(args->public_key_json), &pub);
                if (r == -EBADMSG && strstr(args->public_key_json, "\"yunbak-secret-key\""))
                        return agent_fail(
                                -EKEYREJECTED,
                                "--public-key-json holds the system's PRIVATE key. An agent "
                                "needs only the public key (ID.pub).");
                if (r < 0)
                        return agent_fail(
                                -EKEYREJECTED,
                                "--public-key-json is not the text of a yunbak public key "
                                "(ID.pub).");
                snprintf(key_name, sizeof(key_name), "given with --public-key-json");
        } else {
                snprintf(key_name, sizeof(key_name), "'%s'", args->public_key);
                r = yb_public_key_read(args->public_key, &pub);
        }
        if (r == -EBADMSG && key_file_is_private(args->public_key))
                return agent_fail(
                        -EKEYREJECTED,
                        "'%s' is the system's PRIVATE key. An agent needs only the public key "
                        "(ID.pub); the private key must not be on the agent's host.",
                        args->public_key);
        if (r == -EBADMSG || r == -EPROTONOSUPPORT)
                return agent_fail(-EKEYREJECTED, "'%s' is not a yunbak public key file.",
                                  args->public_key);
        if (r < 0)
                return agent_fail(r, "Cannot read public key '%s': %s", args->public_key,
                                  strerror(-r));
        if (!streq(pub.system, args->system))
                return agent_fail(-EKEYREJECTED, "Public key %s belongs to system '%s', not '%s'.",
                                  key_name, pub.system, args->system);
        r = yb_agent_identity_load(args->state_dir, &b.agent);
        if (r < 0)
                return agent_fail(r, "Cannot load or create the agent key in '%s': %s",
                                  args->state_dir, strerror(-r));
        r = yb_store_open(args->store, &b.store);
        if (r == -ENOENT || r == -ENOTDIR || r == -EACCES)
                return r == -EACCES ? agent_fail(r, "Cannot open store '%s': %s", args->store,
                                                 strerror(-r))
                                    : (log_error("Store '%s' does not exist (or is not a "
                                                 "directory).",
                                                 args->store),
                                       YB_EXIT_UNREACHABLE);
        if (r == -EPROTONOSUPPORT)
                return agent_fail(-EINVAL,
                                  "Store '%s': unknown kind of location (use a directory "
                                  "path or file:///path).",
                                  args->store);
        if (r < 0)
                return agent_fail(r, "Cannot open store '%s': %s", args->store, strerror(-r));
        r = yb_repo_open_or_create(b.store, &pub, &b.repo);
        if (r == -EKEYREJECTED) {
                YbRepo *other = NULL;

                yb_key_id_hex(pub.id, kid);
                if (yb_repo_open(b.store, args->system, &other) >= 0)
                        yb_key_id_hex(other->config.pub.id, kid2);
                else
                        strcpy(kid2, "?");
                yb_repo_free(other);
                return agent_fail(
                        r,
                        "The repository of system '%s' in '%s' uses key %s, but the key %s "
                        "is %s. Use the system's own public key.",
                        args->system, args->store, kid2, key_name, kid);
        }
        if (r < 0)
                return agent_fail(r, "Cannot open the repository of system '%s' in '%s': %s",
                                  args->system, args->store,
                                  r == -EBADMSG ? "its config is damaged" : strerror(-r));
        r = yb_repo_lock(b.repo);
        if (r == -EBUSY)
                return agent_fail(r, "Another backup of system '%s' is running (lock held by %s).",
                                  args->system, b.repo->lock_owner);
        if (r < 0)
                return agent_fail(r, "Cannot lock the repository of system '%s': %s", args->system,
                                  strerror(-r));
        r = yb_repo_cleanup_tmp(b.repo);
        if (r < 0)
                log_warning_errno(r, "Cannot remove leftovers of an interrupted backup: %m");

        r = yb_repo_list(b.repo, &list);
        if (r < 0)
                return agent_fail(r, "Cannot list the snapshots of system '%s': %s", args->system,
                                  strerror(-r));
        for (size_t i = 0; i < list.n_broken; i++)
                log_warning("Snapshot %s of system '%s' is damaged (%s); it is not used as a "
                            "parent. Run 'yunbak verify'.",
                            list.broken[i].id, args->system, strerror(-list.broken[i].error));
        if (level == YB_LEVEL_DIFFERENTIAL) {
                for (size_t i = list.n; i > 0 && !base; i--)
                        if (list.items[i - 1]->level == YB_LEVEL_FULL &&
                            parent_agent_ok(args, list.items[i - 1]))
                                base = list.items[i - 1];
                parent = base;
        } else if (level == YB_LEVEL_INCREMENTAL) {
                for (size_t i = list.n; i > 0 && !parent; i--)
                        if (parent_agent_ok(args, list.items[i - 1]))
                                parent = list.items[i - 1];
                base = !parent || parent->level == YB_LEVEL_FULL
                               ? parent
                               : yb_snapshot_list_find(&list, parent->base);
                if (!base || !parent_agent_ok(args, base))
                        parent = base = NULL;
        }
        if (level != YB_LEVEL_FULL && !parent) {
                log_notice("System '%s' has no full snapshot to build on yet: making a full "
                           "backup.",
                           args->system);
                level = YB_LEVEL_FULL;
        }
        if (parent) {
                r = agent_sigcache_load(&b, parent);
                if (r == -EKEYREJECTED)
                        log_warning("Snapshot %s was made by another agent; every file is read "
                                    "and stored whole this time.",
                                    parent->id);
                else if (r < 0)
                        log_warning_errno(r,
                                          "Cannot read the signature index of snapshot %s "
                                          "(%m); every file is read and stored whole.",
                                          parent->id);
                if (b.index) {
                        b.seen = new0(uint8_t, b.index->n + 1);
                        if (!b.seen) {
                                yb_snapshot_list_done(&list);
                                return agent_fail(-ENOMEM, "Out of memory.");
                        }
                }
        }

        agent_xattrs_check(&b);
        (void) gethostname(host, sizeof(host) - 1);
        opts.host = host;
        r = yb_snapshot_writer_new(b.repo, b.agent, level, parent, base, &opts, &b.w);
        if (r < 0) {
                yb_snapshot_list_done(&list);
                return agent_fail(r, "Cannot start a snapshot in '%s', nothing was committed: %s",
                                  args->store, strerror(-r));
        }
        /* Streams first: a database dump is taken as close to the backup's start as can be,
         * and a failed one stops the backup before any walking. */
        for (size_t i = 0; i < args->n_streams; i++) {
                int code = agent_backup_stream(&b, i);

                if (code != YB_EXIT_OK) {
                        yb_snapshot_list_done(&list);
                        return code;
                }
        }
        for (size_t i = 0; i < args->n_paths && r >= 0; i++) {
                _cleanup_free_ char *target = NULL;
                const char *source = args->paths[i];
                struct stat lst;

                /* A source named through a symlink (/var/lib/mysql -> /data/mysql) means what it
                 * points to: back that up, under the name given. Below it, links are kept as
                 * links. */
                if (lstat(source, &lst) == 0 && S_ISLNK(lst.st_mode)) {
                        target = realpath(source, NULL);
                        if (target) {
                                log_info("'%s' is a symlink to '%s': backing up what it points "
                                         "to, as '%s'.",
                                         source, target, roots[i]);
                                source = target;
                        }
                }
                r = agent_walk(source, roots[i], args->excludes, args->n_excludes, backup_entry,
                               walk_error, &b);
                if (r == -ENOENT || r == -EACCES || r == -ENOTDIR) {
                        agent_backup_error(&b, args->paths[i], r, "cannot read the source");
                        r = 0;
                }
        }
        yb_snapshot_list_done(&list);
        if (r < 0)
                return agent_fail(r, "Backup of system '%s' failed, nothing was committed: %s",
                                  args->system, r == -ENOSPC ? "the store is full" : strerror(-r));
        if (b.index)
                for (size_t i = 0; i < b.index->n; i++)
                        b.hdr.counts.deleted += !b.seen[i];
        {
                char **abs = new0(char *, args->n_paths + 1);

                for (size_t i = 0; abs && i < args->n_paths; i++)
                        abs[i] = realpath(args->paths[i], NULL) ?: strdup(args->paths[i]);
                b.hdr.sources = abs;
                b.hdr.n_sources = abs ? args->n_paths : 0;
                r = yb_snapshot_writer_commit(b.w, &b.hdr, &committed);
                for (size_t i = 0; abs && i < args->n_paths; i++)
                        free(abs[i]);
                free(abs);
                b.hdr.sources = NULL;
        }
        if (r < 0 && committed) {
                agent_sigcache_save(&b, committed);
                return agent_fail(r,
                                  "Snapshot %s of system '%s' was committed, but the store did not "
                                  "confirm it is on disk (%s); it may not survive a crash of the "
                                  "store. Run 'yunbak verify' once the store is healthy.",
                                  committed->id, args->system, strerror(-r));
        }
        if (r < 0)
                return agent_fail(r, "Backup of system '%s' failed, nothing was committed: %s",
                                  args->system, r == -ENOSPC ? "the store is full" : strerror(-r));
        agent_sigcache_save(&b, committed);
        print_summary(&b, committed, (double) (yb_monotonic_ns() - t0) / 1e9);
        return committed->partial ? YB_EXIT_PARTIAL : YB_EXIT_OK;
}
