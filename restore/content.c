/* restore/content.c: file contents from the chain's volumes into staging files. Each volume is
 * read once, in order; each operation writes a new generation of its file's staging copy (a
 * whole content, or a librsync patch of the generation before), hashing as it goes, so that a
 * file is only ever placed once its last operation's hash matches the manifest. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/codec/delta.h"
#include "core/repo/segment.h"
#include "restore/restore-internal.h"

/* Writes content to a staging file, leaving holes for all-zero blocks when asked. */
typedef struct Sink {
        int fd;
        uint64_t off;
        bool sparse;
        YbHash hash;
} Sink;

static bool all_zero(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (p[i])
                        return false;
        return true;
}

static int sink_write(void *userdata, const void *data, size_t n) {
        Sink *s = userdata;
        const uint8_t *p = data;
        int k;

        yb_hash_update(&s->hash, data, n);
        if (!s->sparse) {
                k = yb_write_all(s->fd, data, n);
                if (k >= 0)
                        s->off += n;
                return k;
        }
        while (n > 0) {
                size_t chunk = MIN(n, (size_t) (4096 - s->off % 4096));

                if (!all_zero(p, chunk)) {
                        k = yb_pwrite_all(s->fd, p, chunk, s->off);
                        if (k < 0)
                                return k;
                }
                s->off += chunk;
                p += chunk;
                n -= chunk;
        }
        return 0;
}

typedef struct EntryReader {
        YbPaxReader *pax;
        uint64_t left;
} EntryReader;

static ssize_t entry_read(void *userdata, void *data, size_t n) {
        EntryReader *er = userdata;

        return yb_pax_read(er->pax, data, n);
}

/* Applies one op: reads the current pax entry into a new staging generation. */
static int apply_op(Restore *r, const Op *op, YbPaxReader *pax) {
        Job *job = &r->jobs[op->job];
        bool last = op->step + 1 == job->n_ops;
        char cur[64], next[64];
        Sink s = { .fd = -EBADF, .sparse = last && job->e->sparse };
        _cleanup_close_ int basis = -EBADF;
        uint8_t h[YB_HASH_SIZE];
        int k;

        yb_hash_init(&s.hash);
        restore_staging_name(r, op->job, job->gen + 1, next);
        s.fd = openat(r->staging_fd, next, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                      0600);
        if (s.fd < 0)
                return negative_errno();
        if (op->delta) {
                restore_staging_name(r, op->job, job->gen, cur);
                basis = openat(r->staging_fd, cur, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                if (basis < 0)
                        k = negative_errno();
                else {
                        EntryReader er = { .pax = pax };

                        k = yb_patch(basis, entry_read, &er, sink_write, &s);
                }
        } else {
                for (;;) {
                        ssize_t n = yb_pax_read(pax, r->buf, BUF_SIZE);

                        if (n <= 0) {
                                k = (int) n;
                                break;
                        }
                        k = sink_write(&s, r->buf, (size_t) n);
                        if (k < 0)
                                break;
                }
        }
        if (k >= 0 && s.sparse && ftruncate(s.fd, (off_t) s.off) < 0)
                k = negative_errno();
        safe_close(s.fd);
        if (op->delta)
                (void) unlinkat(r->staging_fd, cur, 0);
        job->gen++;
        job->done_ops++;
        if (k < 0)
                return k;
        if (last) {
                yb_hash_final(&s.hash, h);
                if (s.off != job->e->size || memcmp(h, job->e->hash, YB_HASH_SIZE) != 0)
                        return -EBADMSG;
                r->stats.bytes += s.off;
        }
        return 0;
}

int restore_read_volume(Restore *r, size_t first, size_t end) {
        const Op *op0 = &r->ops[first];
        const YbSnapshotHeader *h = r->chain->levels[op0->level].h;
        _cleanup_(yb_sealed_in_freep) YbSealedIn *in = NULL;
        _cleanup_(yb_pax_reader_freep) YbPaxReader *pax = NULL;
        _cleanup_free_ char *path = NULL;
        const YbFileRef *ref;
        char name[32], ctx[256];
        uint32_t entry = 0;
        size_t i = first;
        int k;

        snprintf(name, sizeof(name), "vol-%06u", op0->vol);
        ref = yb_header_find_file(h, name);
        path = yb_repo_point_path(r->repo, h, name);
        if (!path)
                return -ENOMEM;
        yb_seal_context(r->repo->system, h->id, name, ctx);
        k = ref ? yb_sealed_in_open(r->repo->store, path, ref, r->key, ctx, true, &in) : -EBADMSG;
        if (k >= 0)
                k = yb_sealed_in_prefetch(in);
        if (k >= 0)
                k = yb_pax_reader_new(yb_sealed_in_read_cb, in, &pax);
        r->stats.volumes_read++;
        while (k >= 0 && i < end) {
                const char *ename;
                uint64_t size;

                k = yb_pax_next(pax, &ename, &size);
                if (k == 0)
                        k = -EBADMSG; /* the volume ended before an entry we need */
                if (k < 0)
                        break;
                for (; i < end && r->ops[i].entry == entry; i++) {
                        Job *job = &r->jobs[r->ops[i].job];
                        int e;

                        if (job->failed)
                                continue;
                        if (size != r->ops[i].stored || job->done_ops != r->ops[i].step)
                                e = -EBADMSG;
                        else
                                e = apply_op(r, &r->ops[i], pax);
                        if (e == -ENOMEM)
                                return e;
                        if (e < 0) {
                                job->failed = true;
                                if (e == -EBADMSG && job->from_target)
                                        job->refetch = true; /* the caller fetches it again */
                                else if (e == -EBADMSG)
                                        restore_fail_entry(
                                                r, job->dest, true,
                                                "content does not match its hash in snapshot "
                                                "%s (damaged repository)",
                                                h->id);
                                else
                                        restore_fail_entry(r, job->dest, false,
                                                           "cannot be written: %s", strerror(-e));
                        }
                        if (i + 1 < end && r->ops[i + 1].entry == entry) {
                                /* Several files share this entry: read it again from the
                                 * start is impossible in a stream, so each needs its own
                                 * pass. Rare (identical renamed copies); handled by
                                 * re-reading the volume. */
                                i++;
                                k = restore_read_volume(r, i, end);
                                return k;
                        }
                }
                entry++;
        }
        if (k < 0) {
                for (; i < end; i++) {
                        Job *job = &r->jobs[r->ops[i].job];

                        if (!job->failed) {
                                job->failed = true;
                                restore_fail_entry(
                                        r, job->dest, true, "%s of snapshot %s cannot be read: %s",
                                        name, h->id,
                                        k == -EBADMSG ? "damaged or altered" : strerror(-k));
                        }
                }
                return k == -ENOMEM ? k : 0;
        }
        return 0;
}
