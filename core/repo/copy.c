/* core/repo/copy.c: a snapshot and its chain copied from one store to another as files
 * (copy.h; docs/format.md, "Copies").
 *
 * Every state a copy can be cut in is one the next call resumes from, because the destination
 * holds nothing but files under tmp/copy-<id>/ until the one rename that commits them, and each
 * of those files is trusted only as far as it is checked: a file as long as the header says is
 * read back and hashed (then reused or removed), a shorter one is compared with the source's
 * bytes up to its length (then extended or removed), a longer one is removed. The header is
 * written last, after every other file was read back from the destination and matched the
 * signed header (on a store that checks every body it receives against the client's digest,
 * YB_STORE_VERIFIES_BODIES, a file just sent is not read back: the store checked it on arrival);
 * a header left there by a cut copy is written anew. */
#include "core/repo/copy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/base/log.h"
#include "core/base/ratelimit.h"
#include "core/crypto/hash.h"
#include "core/repo/dirnames.h"

#define BLOCK (1U << 20) /* large, so that an SFTP backend can pipeline its requests */
#define CONFIG_MAX (64 * 1024)
#define CHAIN_MAX 100000 /* more snapshots than any chain has: a damaged store's loop */

typedef struct Item {
        YbSnapshotHeader *h;
        YbBuf raw; /* the header's exact bytes at the source */
} Item;

typedef struct Copy {
        YbStore *from, *to;
        YbRepo *src, *dst;
        const char *system;
        const YbCopyOptions *opts;
        YbCopyStats stats;
        YbCopyProgress progress;
        YbRateLimit rate;
        uint8_t *buf, *buf2;
        Item *items; /* the snapshots to copy, parents first */
        size_t n_items;
        char **seen; /* ids the walk of the chain has visited */
        size_t n_seen;
        char *err;
        size_t err_size;
} Copy;

static int fail(Copy *c, int r, const char *fmt, ...) _printf_(3, 4);
static int fail(Copy *c, int r, const char *fmt, ...) {
        va_list ap;

        if (c->err && c->err_size > 0) {
                va_start(ap, fmt);
                vsnprintf(c->err, c->err_size, fmt, ap);
                va_end(ap);
        }
        return r;
}

static int check(Copy *c) {
        int r = c->opts->check ? c->opts->check(c->opts->userdata) : 0;

        if (r < 0)
                return fail(c, r,
                            "The copy of snapshot %s of system %s to store %s stopped (%s) with "
                            "%llu bytes sent this time; the next copy resumes from there.",
                            c->progress.id ? c->progress.id : "-", c->system,
                            yb_store_location(c->to),
                            r == -EAGAIN      ? "its window closed"
                            : r == -ECANCELED ? "cancelled"
                                              : strerror(-r),
                            (unsigned long long) c->stats.bytes_sent);
        return 0;
}

static void progress(Copy *c) {
        c->progress.bytes_sent = c->stats.bytes_sent;
        c->progress.bytes_reused = c->stats.bytes_reused;
        c->progress.bytes_verified = c->stats.bytes_verified;
        if (c->opts->progress)
                c->opts->progress(c->opts->userdata, &c->progress);
}

/* Hashes the bytes of f from off to its end into hash; their count in *ret_n. */
static int hash_rest(YbStoreFile *f, uint64_t off, uint8_t *buf, YbHash *hash, uint64_t *ret_n) {
        uint64_t n = 0;

        for (;;) {
                ssize_t k = yb_store_pread(f, buf, BLOCK, off + n);

                if (k < 0)
                        return (int) k;
                if (k == 0)
                        break;
                yb_hash_update(hash, buf, (size_t) k);
                n += (uint64_t) k;
        }
        *ret_n = n;
        return 0;
}

int yb_repo_check_file(YbStore *s, const char *path, const YbFileRef *ref, char *why,
                       size_t why_size) {
        _cleanup_(yb_store_file_closep) YbStoreFile *f = NULL;
        _cleanup_free_ uint8_t *buf = malloc(BLOCK);
        uint8_t got[YB_HASH_SIZE];
        uint64_t n = 0;
        YbHash hash;
        int r;

        if (!buf)
                return -ENOMEM;
        r = yb_store_open_read(s, path, &f);
        if (r == -ENOENT)
                snprintf(why, why_size, "missing");
        if (r < 0)
                return r;
        yb_hash_init(&hash);
        r = hash_rest(f, 0, buf, &hash, &n);
        if (r < 0)
                return r;
        yb_hash_final(&hash, got);
        if (n != ref->size) {
                snprintf(why, why_size, "%llu bytes, the signed header says %llu",
                         (unsigned long long) n, (unsigned long long) ref->size);
                return -EBADMSG;
        }
        if (memcmp(got, ref->hash, YB_HASH_SIZE) != 0) {
                snprintf(why, why_size, "its bytes do not match the signed header's BLAKE2b hash");
                return -EBADMSG;
        }
        return 0;
}

static int source_damaged(Copy *c, const char *id, const char *file, const char *why) {
        return fail(c, -EBADMSG,
                    "Snapshot %s of system %s in store %s is damaged: its file %s %s. Nothing of "
                    "it was committed at store %s; repair the source (yunbak repair) or copy "
                    "from another store.",
                    id, c->system, yb_store_location(c->from), file, why, yb_store_location(c->to));
}

/* A failure of one of the stores: what is done stays at the destination, and the next copy
 * resumes from it once the store works again. */
static int store_failed(Copy *c, YbStore *s, int r, const char *what, const char *path) {
        return fail(c, r,
                    "Failed to %s '%s' in store %s while copying snapshot %s of system %s: %s. "
                    "What was copied stays; the next copy resumes from it once the store works.",
                    what, path, yb_store_location(s), c->progress.id ? c->progress.id : "-",
                    c->system, strerror(-r));
}

static int dest_failed(Copy *c, int r, const char *what, const char *path) {
        return store_failed(c, c->to, r, what, path);
}

static int src_failed(Copy *c, int r, const char *what, const char *path) {
        return store_failed(c, c->from, r, what, path);
}

/* Reads exactly n bytes of the source (fewer: the source is shorter than its header says). */
static int read_source(Copy *c, YbStoreFile *in, size_t n, const char *id, const char *name,
                       const char *path) {
        ssize_t k = yb_store_read(in, c->buf, n);

        if (k < 0)
                return src_failed(c, (int) k, "read", path);
        if ((size_t) k < n)
                return source_damaged(c, id, name, "is shorter than its signed header says");
        return 0;
}

/* Keeps what an earlier call left of dst when it is a prefix of the source, comparing byte for
 * byte (and hashing both sides as it goes). Returns 1 when it is kept (in and dh are then at its
 * end), 0 when it is not a prefix (the caller starts over), or -errno. */
static int keep_prefix(Copy *c, YbStoreFile *in, YbHash *sh, YbHash *dh, uint64_t have,
                       const char *id, const char *name, const char *src, const char *dst) {
        _cleanup_(yb_store_file_closep) YbStoreFile *rd = NULL;
        int r;

        r = yb_store_open_read(c->to, dst, &rd);
        if (r < 0)
                return dest_failed(c, r, "read back", dst);
        for (uint64_t off = 0; off < have;) {
                size_t n = (size_t) MIN((uint64_t) BLOCK, have - off);
                ssize_t k;

                r = check(c);
                if (r < 0)
                        return r;
                r = read_source(c, in, n, id, name, src);
                if (r < 0)
                        return r;
                k = yb_store_pread(rd, c->buf2, n, off);
                if (k < 0)
                        return dest_failed(c, (int) k, "read back", dst);
                if ((size_t) k < n || memcmp(c->buf, c->buf2, n) != 0)
                        return 0;
                yb_hash_update(sh, c->buf, n);
                yb_hash_update(dh, c->buf2, n);
                off += n;
                c->stats.bytes_verified += n;
        }
        c->stats.bytes_reused += have;
        return 1;
}

/* Sends the source's bytes from `have` to the end, hashing them into sh. */
static int send_rest(Copy *c, YbStoreFile *in, YbStoreFile *out, YbHash *sh, uint64_t have,
                     const YbFileRef *ref, const char *id, const char *src, const char *dst) {
        ssize_t k;
        int r;

        for (uint64_t off = have; off < ref->size;) {
                size_t n = yb_rate_limit_step(&c->rate,
                                              (size_t) MIN((uint64_t) BLOCK, ref->size - off));

                r = check(c);
                if (r < 0)
                        return r;
                r = read_source(c, in, n, id, ref->name, src);
                if (r < 0)
                        return r;
                yb_hash_update(sh, c->buf, n);
                yb_rate_limit_take(&c->rate, n);
                r = yb_store_write(out, c->buf, n);
                if (r < 0)
                        return dest_failed(c, r, "write", dst);
                off += n;
                c->stats.bytes_sent += n;
                progress(c);
        }
        k = yb_store_read(in, c->buf, 1);
        if (k < 0)
                return src_failed(c, (int) k, "read", src);
        if (k > 0)
                return source_damaged(c, id, ref->name, "is longer than its signed header says");
        return 0;
}

static bool hash_is(YbHash *h, const YbFileRef *ref) {
        uint8_t got[YB_HASH_SIZE];

        yb_hash_final(h, got);
        return memcmp(got, ref->hash, YB_HASH_SIZE) == 0;
}

/* On an object store: what an earlier call left at dst, which is whole or absent. 1 when it
 * checks out against ref (kept), 0 when there is nothing there (any other file was removed), or
 * -errno. */
static int resume_object(Copy *c, const YbFileRef *ref, const char *dst) {
        YbStoreStat st;
        char why[160];
        int r = yb_store_stat(c->to, dst, &st);

        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return dest_failed(c, r, "look at", dst);
        if (!st.is_dir && st.size == ref->size) {
                r = yb_repo_check_file(c->to, dst, ref, why, sizeof(why));
                if (r >= 0) {
                        c->stats.bytes_reused += st.size;
                        c->stats.bytes_verified += st.size;
                        progress(c);
                        return 1;
                }
                if (r != -EBADMSG)
                        return dest_failed(c, r, "read back", dst);
                log_debug("Sending '%s' again: %s.", dst, why);
        }
        r = yb_store_remove_tree(c->to, dst);
        if (r < 0 && r != -ENOENT)
                return dest_failed(c, r, "remove", dst);
        return 0;
}

/* Copies one file of snapshot id to dst (under tmp/copy-<id>/, or on an object store in place),
 * resuming what is there. */
static int copy_file(Copy *c, const char *id, const YbFileRef *ref, const char *dst) {
        _cleanup_(yb_store_file_closep) YbStoreFile *in = NULL, *rd = NULL;
        /* Cut before its sync (a stop, a failure): on an object store nothing of it appears. */
        _cleanup_(yb_store_file_abortp) YbStoreFile *out = NULL;
        _cleanup_free_ char *src = yb_repo_snapshot_path(c->src, id, ref->name);
        uint64_t have = 0, n = 0;
        char why[160];
        YbHash sh, dh;
        int r;

        if (!src)
                return -ENOMEM;
        c->progress.file = ref->name;
        if (yb_store_objects(c->to)) {
                /* No append on objects; and a file there is whole (it appeared whole), so it is
                 * kept if it checks out, else sent anew. */
                r = resume_object(c, ref, dst);
                if (r != 0)
                        return r < 0 ? r : 0;
        } else
                r = yb_store_open_append(c->to, dst, &have, &out);
        if (r < 0 && r != -ENOENT)
                return dest_failed(c, r, "open", dst);
        if (out && have == ref->size) {
                /* Complete when an earlier call was cut: reused if it checks out. */
                r = yb_repo_check_file(c->to, dst, ref, why, sizeof(why));
                if (r >= 0) {
                        c->stats.bytes_reused += have;
                        c->stats.bytes_verified += have;
                        progress(c);
                        return 0;
                }
                if (r != -EBADMSG)
                        return dest_failed(c, r, "read back", dst);
                log_debug("Sending '%s' again: %s.", dst, why);
        }

        r = yb_store_open_read(c->from, src, &in);
        if (r == -ENOENT)
                return source_damaged(c, id, ref->name, "is missing");
        if (r < 0)
                return src_failed(c, r, "open", src);
        yb_hash_init(&sh);
        yb_hash_init(&dh);
        r = out && have == 0; /* an empty file: nothing to prove */
        if (out && have > 0 && have < ref->size)
                r = keep_prefix(c, in, &sh, &dh, have, id, ref->name, src, dst);
        if (r < 0)
                return r;
        if (r == 0 && out) {
                /* Longer than the source's, not a prefix of it, or complete but wrong. */
                out = yb_store_file_close(out);
                in = yb_store_file_close(in);
                r = yb_store_unlink(c->to, dst);
                if (r < 0)
                        return dest_failed(c, r, "remove", dst);
                r = yb_store_open_read(c->from, src, &in);
                if (r < 0)
                        return src_failed(c, r, "open", src);
                yb_hash_init(&sh);
                yb_hash_init(&dh);
                have = 0;
        }
        if (!out) {
                r = yb_store_create_ex(c->to, dst, YB_STORE_RETAIN, &out);
                if (r < 0)
                        return dest_failed(c, r, "create", dst);
        }

        r = send_rest(c, in, out, &sh, have, ref, id, src, dst);
        if (r >= 0 && !hash_is(&sh, ref))
                r = source_damaged(c, id, ref->name,
                                   "does not match the BLAKE2b hash of its signed header");
        if (r == -EBADMSG) {
                /* What came from a damaged source is no prefix worth keeping. */
                out = yb_store_file_abort(out);
                (void) yb_store_unlink(c->to, dst);
                return r;
        }
        if (r < 0)
                return r;
        r = yb_store_sync(out);
        if (r < 0)
                return dest_failed(c, r, "sync", dst);
        out = yb_store_file_close(out);
        progress(c); /* sent and synced: what follows is the read-back */
        if (yb_store_verifies_bodies(c->to))
                /* The store checked every byte it received against the digest of what was sent
                 * (hashed above against the signed header), and would have refused the file
                 * otherwise: a read-back would only take the link the other way. */
                return 0;

        /* Read back what the destination now holds past what keep_prefix already read. */
        r = yb_store_open_read(c->to, dst, &rd);
        if (r >= 0)
                r = hash_rest(rd, have, c->buf, &dh, &n);
        if (r < 0)
                return dest_failed(c, r, "read back", dst);
        c->stats.bytes_verified += n;
        if (have + n != ref->size || !hash_is(&dh, ref)) {
                rd = yb_store_file_close(rd);
                (void) yb_store_unlink(c->to, dst);
                return fail(c, -EIO,
                            "Store %s gave back other bytes than were written to '%s' (%llu "
                            "bytes read back, %llu expected); check the store's disk or server. "
                            "The file was removed: the next copy sends it again.",
                            yb_store_location(c->to), dst, (unsigned long long) (have + n),
                            (unsigned long long) ref->size);
        }
        progress(c);
        return 0;
}

typedef struct Doomed {
        bool (*doomed)(const void *ctx, const char *name);
        const void *ctx;
        char **names;
        size_t n;
} Doomed;

static int collect_doomed(void *ud, const char *name) {
        Doomed *d = ud;
        char **p;

        if (!d->doomed(d->ctx, name))
                return 0;
        p = realloc(d->names, (d->n + 1) * sizeof(char *));
        if (!p)
                return -ENOMEM;
        d->names = p;
        d->names[d->n] = strdup(name);
        if (!d->names[d->n])
                return -ENOMEM;
        d->n++;
        return 0;
}

/* Removes what doomed(ctx, name) picks in directory dir (and all below it); how many in
 * *ret_n. A missing dir holds nothing. */
static int remove_doomed(YbStore *s, const char *dir,
                         bool (*doomed)(const void *ctx, const char *name), const void *ctx,
                         size_t *ret_n) {
        Doomed d = { .doomed = doomed, .ctx = ctx };
        int r = yb_store_list(s, dir, collect_doomed, &d);

        if (r == -ENOENT)
                r = 0;
        for (size_t i = 0; i < d.n; i++) {
                _cleanup_free_ char *p = NULL;

                if (r >= 0 && asprintf(&p, "%s/%s", dir, d.names[i]) < 0)
                        r = -ENOMEM;
                if (r >= 0)
                        r = yb_store_remove_tree(s, p);
                free(d.names[i]);
        }
        free(d.names);
        *ret_n = d.n;
        return r;
}

/* In a copy's directory: what the header does not list, and the header itself, which is always
 * written anew. */
static bool stray(const void *ctx, const char *name) {
        return streq(name, "header") || !yb_header_find_file(ctx, name);
}

/* Whether the destination has snapshot h: 1 with a byte-identical header, 0 without it,
 * -EEXIST when it has another (or a damaged one). */
static int dest_has(Copy *c, const YbSnapshotHeader *h, const YbBuf *raw) {
        _cleanup_free_ char *path = yb_repo_snapshot_path(c->dst, h->id, "header");
        _cleanup_free_ char *dir = yb_repo_snapshot_path(c->dst, h->id, NULL);
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        YbStoreStat st;
        int r;

        if (!path || !dir)
                return -ENOMEM;
        r = yb_store_read_file(c->to, path, YB_HEADER_MAX_BYTES, &b);
        /* On an object store a snapshot without its header is an incomplete one (a copy to
         * resume, or an interrupted writer's leftover): not a snapshot. */
        if (r == -ENOENT && yb_store_objects(c->to))
                return 0;
        if (r == -ENOENT) {
                r = yb_store_stat(c->to, dir, &st);
                if (r == -ENOENT)
                        return 0;
                if (r < 0)
                        return dest_failed(c, r, "look at", dir);
        } else if (r < 0 && r != -EFBIG)
                return dest_failed(c, r, "read", path);
        else if (r >= 0 && b.size == raw->size && memcmp(b.data, raw->data, b.size) == 0)
                return 1;
        return fail(c, -EEXIST,
                    "Store %s already holds a snapshot %s of system %s whose header differs from "
                    "the one in store %s (or is missing or damaged); nothing was copied over it. "
                    "Check it with yunbak verify, and repair it from the source (yunbak repair).",
                    yb_store_location(c->to), h->id, c->system, yb_store_location(c->from));
}

static bool seen(Copy *c, const char *id) {
        for (size_t i = 0; i < c->n_seen; i++)
                if (streq(c->seen[i], id))
                        return true;
        return false;
}

/* Walks id's chain at the source down to what the destination already has, appending the
 * snapshots to copy to c->items, parents first. */
static int walk(Copy *c, const char *id) {
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = NULL;
        YbBuf raw = YB_BUF_INIT;
        char **p;
        Item *it;
        int r;

        if (seen(c, id))
                return 0;
        if (c->n_seen >= CHAIN_MAX)
                return fail(c, -ELOOP,
                            "The chain of snapshot %s of system %s in store %s is "
                            "longer than %d snapshots: its headers are damaged.",
                            id, c->system, yb_store_location(c->from), CHAIN_MAX);
        p = realloc(c->seen, (c->n_seen + 1) * sizeof(char *));
        if (!p)
                return -ENOMEM;
        c->seen = p;
        c->seen[c->n_seen] = strdup(id);
        if (!c->seen[c->n_seen])
                return -ENOMEM;
        c->n_seen++;

        r = yb_repo_load_header_bytes(c->src, id, &raw, &h);
        if (r == -ENOENT || r == -EINVAL)
                return fail(c, r == -EINVAL ? r : -ENOENT,
                            "Store %s has no snapshot %s of system %s (%s); nothing to copy.",
                            yb_store_location(c->from), id, c->system,
                            c->n_seen == 1 ? "the one asked for" : "needed by the chain");
        if (r == -EBADMSG)
                return source_damaged(c, id, "header",
                                      "does not check out (its signature, or "
                                      "it is another snapshot's)");
        if (r < 0)
                return src_failed(c, r, "read the header of snapshot", id);
        r = dest_has(c, h, &raw);
        if (r != 0) {
                yb_buf_done(&raw);
                if (r > 0)
                        c->stats.snapshots_present++;
                return r < 0 ? r : 0;
        }
        if (h->level != YB_LEVEL_FULL) {
                r = walk(c, h->parent);
                if (r >= 0)
                        r = walk(c, h->base);
                if (r < 0) {
                        yb_buf_done(&raw);
                        return r;
                }
        }
        it = realloc(c->items, (c->n_items + 1) * sizeof(Item));
        if (!it) {
                yb_buf_done(&raw);
                return -ENOMEM;
        }
        c->items = it;
        c->items[c->n_items++] = (Item){ .h = TAKE_PTR(h), .raw = raw };
        return 0;
}

/* Writes the header last, reads it back, and commits by renaming the directory (on an object
 * store, the files are in place already: the header commits them). */
static int commit(Copy *c, const Item *it, const char *dir) {
        _cleanup_free_ char *hpath = NULL, *snaps = yb_repo_path(c->dst, "snapshots"),
                            *dest = yb_repo_snapshot_path(c->dst, it->h->id, NULL);
        _cleanup_(yb_buf_done) YbBuf back = YB_BUF_INIT;
        int r;

        if (!snaps || !dest || asprintf(&hpath, "%s/header", dir) < 0)
                return -ENOMEM;
        r = check(c);
        if (r < 0)
                return r;
        c->progress.file = "header";
        yb_rate_limit_take(&c->rate, MIN(it->raw.size, (size_t) c->rate.burst));
        r = yb_repo_write_backup_file(c->to, hpath, it->raw.data, it->raw.size);
        if (r < 0)
                return dest_failed(c, r, "write", hpath);
        c->stats.bytes_sent += it->raw.size;
        r = yb_store_read_file(c->to, hpath, YB_HEADER_MAX_BYTES, &back);
        if (r < 0)
                return dest_failed(c, r, "read back", hpath);
        if (back.size != it->raw.size || memcmp(back.data, it->raw.data, back.size) != 0) {
                (void) yb_store_unlink(c->to, hpath);
                return fail(c, -EIO,
                            "Store %s gave back another header than was written to "
                            "'%s'; check the store's disk or server.",
                            yb_store_location(c->to), hpath);
        }
        c->stats.bytes_verified += back.size;
        if (yb_store_objects(c->to)) {
                /* Written in place: the header, there and checked, committed the snapshot. */
                c->stats.snapshots_copied++;
                return 0;
        }
        r = yb_store_sync_dir(c->to, dir);
        if (r < 0)
                return dest_failed(c, r, "sync", dir);
        r = yb_store_mkdir(c->to, snaps);
        if (r < 0)
                return dest_failed(c, r, "create", snaps);
        r = check(c);
        if (r < 0)
                return r;
        /* The one step that makes the snapshot exist at the destination. */
        r = yb_store_rename(c->to, dir, dest);
        if (r == -EEXIST) {
                r = dest_has(c, it->h, &it->raw);
                if (r > 0) /* committed meanwhile, identical: ours is not needed */
                        return yb_store_remove_tree(c->to, dir);
                return r < 0 ? r : -EEXIST;
        }
        if (r < 0)
                return dest_failed(c, r, "commit (rename)", dir);
        r = yb_store_sync_dir(c->to, snaps);
        if (r < 0)
                return dest_failed(c, r, "sync", snaps);
        c->stats.snapshots_copied++;
        return 0;
}

/* On an object store, which cannot rename a directory, a copy writes in place, into
 * snapshots/<id>/ (the header last), and says so in tmp/copy-<id>/in-place (which names that
 * directory) while it does: the next lock holder leaves that incomplete snapshot to the next
 * copy, and yb_repo_copy_cleanup removes both. The copy's place in *ret_dir. */
static int start_in_place(Copy *c, const char *marker_dir, char **ret_dir) {
        _cleanup_free_ char *marker = NULL;
        int r;

        *ret_dir = yb_repo_snapshot_path(c->dst, c->progress.id, NULL);
        if (!*ret_dir || asprintf(&marker, "%s/in-place", marker_dir) < 0)
                return -ENOMEM;
        r = yb_store_write_file(c->to, marker, *ret_dir, strlen(*ret_dir));
        if (r < 0 && r != -EEXIST)
                return dest_failed(c, r, "create", marker);
        return 0;
}

static int copy_snapshot(Copy *c, const Item *it) {
        _cleanup_free_ char *tmp = yb_repo_path(c->dst, "tmp"), *dir = NULL, *marker = NULL;
        size_t n;
        int r;

        if (!tmp || asprintf(&dir, "%s/copy-%s", tmp, it->h->id) < 0)
                return -ENOMEM;
        c->progress.id = it->h->id;
        if (yb_store_objects(c->to)) {
                marker = TAKE_PTR(dir);
                r = start_in_place(c, marker, &dir);
                if (r < 0)
                        return r;
        } else {
                r = yb_store_mkdir(c->to, tmp);
                if (r >= 0)
                        r = yb_store_mkdir(c->to, dir);
                if (r < 0)
                        return dest_failed(c, r, "create", dir);
        }
        r = remove_doomed(c->to, dir, stray, it->h, &n);
        if (r < 0)
                return dest_failed(c, r, "clean", dir);
        for (size_t i = 0; i < it->h->n_files && r >= 0; i++) {
                _cleanup_free_ char *dst = NULL;

                r = check(c);
                if (r >= 0 && asprintf(&dst, "%s/%s", dir, it->h->files[i].name) < 0)
                        r = -ENOMEM;
                if (r >= 0)
                        r = copy_file(c, it->h->id, &it->h->files[i], dst);
        }
        if (r >= 0)
                r = commit(c, it, dir);
        /* Committed: a marker left behind would only keep nothing from being cleaned. */
        if (r >= 0 && marker)
                (void) yb_store_remove_tree(c->to, marker);
        c->progress.file = NULL;
        progress(c);
        return r;
}

/* The destination's repository: made with the source's config, byte for byte, if absent (written
 * under a name of its own and renamed into place, as yb_repo_open_or_create does, so a crash
 * never leaves half a config); refused if it has another. */
static int open_dest(Copy *c) {
        _cleanup_(yb_buf_done) YbBuf want = YB_BUF_INIT, got = YB_BUF_INIT;
        _cleanup_free_ char *path = NULL, *tmp = NULL;
        YbRepoConfig theirs;
        int r;

        if (asprintf(&path, "%s/config", c->system) < 0 ||
            asprintf(&tmp, "%s/config.tmp-%ld", c->system, (long) getpid()) < 0)
                return -ENOMEM;
        r = yb_store_read_file(c->from, path, CONFIG_MAX, &want);
        if (r < 0)
                return src_failed(c, r, "read", path);
        r = yb_store_read_file(c->to, path, CONFIG_MAX, &got);
        if (r == -ENOENT) {
                r = yb_store_mkdir(c->to, c->system);
                if (r < 0)
                        return dest_failed(c, r, "create", c->system);
                (void) yb_store_unlink(c->to, tmp);
                r = yb_store_write_file(c->to, tmp, want.data, want.size);
                if (r >= 0)
                        r = yb_store_rename(c->to, tmp, path);
                if (r < 0)
                        (void) yb_store_unlink(c->to, tmp);
                if (r < 0 && r != -EEXIST) /* -EEXIST: made meanwhile, checked below */
                        return dest_failed(c, r, "write", path);
                r = yb_store_sync_dir(c->to, c->system);
                if (r < 0)
                        return dest_failed(c, r, "sync", c->system);
                r = yb_store_read_file(c->to, path, CONFIG_MAX, &got);
        }
        if (r < 0 && r != -EFBIG)
                return dest_failed(c, r, "read", path);
        if (r < 0 || got.size != want.size || memcmp(got.data, want.data, got.size) != 0) {
                bool other_key = r < 0 || yb_repo_config_parse(got.data, got.size, &theirs) < 0 ||
                                 memcmp(theirs.pub.pk, c->src->config.pub.pk, 32) != 0;

                return fail(c, -EKEYREJECTED,
                            "Store %s holds a repository of system %s with %s than store %s; "
                            "nothing was copied. A copy goes only to an empty store or to a copy "
                            "of the same repository.",
                            yb_store_location(c->to), c->system,
                            other_key ? "another key"
                                      : "another config (made apart, at another "
                                        "time)",
                            yb_store_location(c->from));
        }
        r = yb_repo_open(c->to, c->system, &c->dst);
        if (r < 0)
                return dest_failed(c, r, "open the repository", path);
        r = yb_repo_lock(c->dst);
        if (r == -EBUSY)
                return fail(c, r,
                            "The repository of system %s in store %s is locked by %s; "
                            "the copy tries again when it is free.",
                            c->system, yb_store_location(c->to), c->dst->lock_owner);
        if (r < 0)
                return dest_failed(c, r, "lock", path);
        /* As every lock holder: an object store's incomplete snapshots go (not a copy's). */
        r = yb_repo_cleanup_incomplete(c->dst);
        if (r < 0)
                log_warning("Cannot remove the incomplete snapshots of system %s in store %s: "
                            "%s. They are left for the next backup, copy or prune.",
                            c->system, yb_store_location(c->to), strerror(-r));
        return 0;
}

int yb_repo_copy(YbStore *from, YbStore *to, const char *system, const char *id,
                 const YbCopyOptions *opts, YbCopyStats *stats, char *err, size_t err_size) {
        static const YbCopyOptions none = { 0 };
        Copy c = { .from = from,
                   .to = to,
                   .system = system,
                   .opts = opts ? opts : &none,
                   .err = err,
                   .err_size = err_size };
        int r;

        if (err && err_size > 0)
                err[0] = 0;
        yb_rate_limit_init(&c.rate, c.opts->rate_bps, c.opts->now_ns, c.opts->sleep_ns,
                           c.opts->userdata);
        c.buf = malloc(BLOCK);
        c.buf2 = malloc(BLOCK);
        r = c.buf && c.buf2 ? 0 : -ENOMEM;
        if (r >= 0 && (!yb_system_id_valid(system) || !yb_snapshot_id_valid(id)))
                r = fail(&c, -EINVAL,
                         "Cannot copy snapshot '%s' of system '%s': not a valid "
                         "snapshot or system id.",
                         id, system);
        c.progress.id = id;
        if (r >= 0) {
                r = yb_repo_open(from, system, &c.src);
                if (r == -ENOENT)
                        r = fail(&c, r, "Store %s has no repository of system %s; nothing to copy.",
                                 yb_store_location(from), system);
                else if (r < 0)
                        r = src_failed(&c, r, "open the repository of system", system);
        }
        if (r >= 0)
                r = open_dest(&c);
        if (r >= 0)
                r = walk(&c, id);
        for (size_t i = 0; i < c.n_items; i++)
                for (size_t j = 0; j < c.items[i].h->n_files; j++)
                        c.progress.bytes_total += c.items[i].h->files[j].size;
        for (size_t i = 0; i < c.n_items && r >= 0; i++) {
                c.progress.bytes_total += c.items[i].raw.size;
                r = copy_snapshot(&c, &c.items[i]);
        }
        if (r == -ENOMEM)
                (void) fail(&c, r, "Out of memory while copying snapshot %s of system %s.", id,
                            system);
        if (stats)
                *stats = c.stats;
        for (size_t i = 0; i < c.n_items; i++) {
                yb_header_free(c.items[i].h);
                yb_buf_done(&c.items[i].raw);
        }
        for (size_t i = 0; i < c.n_seen; i++)
                free(c.seen[i]);
        free(c.seen);
        free(c.items);
        free(c.buf);
        free(c.buf2);
        yb_repo_free(c.dst); /* and its lock */
        yb_repo_free(c.src);
        return r;
}
