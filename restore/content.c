/* restore/content.c: file contents from the chain's volumes. Each volume is read once, in order;
 * a whole content is handed to the writer thread (filewriter.c), which writes it where it goes
 * or to a staging file, checking its hash; a delta, applied here once that thread has drained,
 * patches the generation before into a new one in staging, hashing as it goes. A file is only
 * ever left in place once its last operation's hash matches the manifest. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/codec/delta.h"
#include "core/codec/inplace.h"
#include "restore/restore-internal.h"

typedef struct EntryReader {
        YbPaxReader *pax;
        uint64_t left;
} EntryReader;

static ssize_t entry_read(void *userdata, void *data, size_t n) {
        EntryReader *er = userdata;

        return yb_pax_read(er->pax, data, n);
}

/* Hands a whole content (the current pax entry) to the writer thread, which writes, checks and
 * reports it. Returns only the restore's errors (-ENOMEM). */
static int hand_over(Restore *r, const Op *op, const YbSnapshotHeader *h, YbPaxReader *pax) {
        Job *job = &r->jobs[op->job];
        bool last = job->n_ops == 1;
        uint8_t got[YB_HASH_SIZE];
        uint64_t size = 0;
        YbHash hash;
        int k, e = 0;

        /* The job's only step is checked here, as its bytes go by, so that the thread only
         * writes: it keeps the file, or drops it when told it did not match. */
        yb_hash_init(&hash);
        k = restore_writer_begin(r, op, h);
        while (k >= 0) {
                const void *data; /* in the volume's decoded block: no copy until the thread's */
                ssize_t n = yb_pax_read_block(pax, &data);

                if (n <= 0) {
                        e = (int) n;
                        break;
                }
                if (last)
                        yb_hash_update(&hash, data, (size_t) n);
                size += (uint64_t) n;
                k = restore_writer_data(r, data, (size_t) n);
        }
        if (e >= 0 && last) {
                yb_hash_final(&hash, got);
                if (size != job->e->size || memcmp(got, job->e->hash, YB_HASH_SIZE) != 0)
                        e = -EBADMSG;
        }
        if (k >= 0)
                k = restore_writer_end(r, e);
        job->gen++;
        job->done_ops++;
        /* Its deltas read early follow it (a failed generation fails them on the thread). */
        if (k >= 0 && e >= 0 && job->early)
                k = restore_early_send(r, op->job);
        return k;
}

typedef struct MemReader {
        const uint8_t *p;
        size_t left;
} MemReader;

static ssize_t mem_read(void *userdata, void *data, size_t n) {
        MemReader *m = userdata;

        n = MIN(n, m->left);
        memcpy(data, m->p, n);
        m->p += n;
        m->left -= n;
        return (ssize_t) n;
}

/* Reads the pax entry (a delta of op->stored bytes) whole into r->delta. */
static int read_delta(Restore *r, const Op *op, YbPaxReader *pax) {
        yb_buf_clear(&r->delta);
        int k = yb_buf_reserve(&r->delta, (size_t) op->stored);

        if (k >= 0)
                k = restore_read_entry(pax, r->delta.data, (size_t) op->stored);
        if (k >= 0)
                r->delta.size = (size_t) op->stored;
        return k;
}

/* Whether the delta op, read whole into r->delta, goes to the writer thread to be applied in
 * place: never on a basis that is the target's own file (apply.c links it into staging), never
 * for a sparse last generation (the usual way writes it with its holes). */
static bool in_place(const Restore *r, const Op *op) {
        const Job *job = &r->jobs[op->job];
        bool last = op->step + 1 == job->n_ops;
        uint64_t size;

        return !job->from_target && !(last && job->e->sparse) && job->done_ops == op->step &&
               yb_delta_in_place(r->delta.data, r->delta.size, &size) == 1;
}

/* Applies a delta op the usual way: patches the job's current staging generation with the
 * delta (in r->delta when whole, else the pax entry) into the next one. Only the last
 * generation is hashed and checked: a wrong byte before it shows there. */
static int apply_op(Restore *r, const Op *op, bool whole, YbPaxReader *pax) {
        Job *job = &r->jobs[op->job];
        bool last = op->step + 1 == job->n_ops;
        char cur[64], next[64];
        Sink s = { .fd = -EBADF, .sparse = last && job->e->sparse, .checked = last };
        _cleanup_close_ int basis = -EBADF;
        EntryReader er = { .pax = pax };
        MemReader mr = { r->delta.data, r->delta.size };
        uint8_t h[YB_HASH_SIZE];
        int k;

        yb_hash_init(&s.hash);
        restore_staging_name(r, op->job, job->gen + 1, next);
        s.fd = openat(r->staging_fd, next, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                      0600);
        if (s.fd < 0)
                return negative_errno();
        restore_staging_name(r, op->job, job->gen, cur);
        basis = openat(r->staging_fd, cur, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (basis < 0)
                k = negative_errno();
        else if (whole)
                k = yb_patch(basis, mem_read, &mr, restore_sink_write, &s);
        else
                k = yb_patch(basis, entry_read, &er, restore_sink_write, &s);
        if (k >= 0 && s.sparse && ftruncate(s.fd, (off_t) s.off) < 0)
                k = negative_errno();
        safe_close(s.fd);
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
        r->stats.deltas++; /* applied, and checked when it was the last */
        return 0;
}

int restore_read_volume_in(Restore *r, size_t first, size_t end, YbSealedIn *opened) {
        const Op *op0 = &r->ops[first];
        const YbSnapshotHeader *h = r->chain->levels[op0->level].h;
        const char *what = h->level == YB_LEVEL_SEGMENT ? "segment" : "snapshot";
        _cleanup_(yb_sealed_in_freep) YbSealedIn *in = opened;
        _cleanup_(yb_pax_reader_freep) YbPaxReader *pax = NULL;
        char name[32];
        uint32_t entry = 0;
        size_t i = first;
        int k = 0;

        snprintf(name, sizeof(name), "vol-%06u", op0->vol);
        if (!in)
                k = restore_open_volume(r, first, &in);
        if (k >= 0)
                k = yb_pax_reader_new_peek(yb_sealed_in_peek_cb, in, &pax);
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
                        const Op *op = &r->ops[i];
                        Job *job = &r->jobs[op->job];
                        bool whole = false;
                        int e = 0;

                        if (op->early_done)
                                continue; /* applied right after the generation before */
                        if (op->delta && size == op->stored && op->stored <= IN_PLACE_DELTA_MAX) {
                                e = read_delta(r, op, pax);
                                whole = e >= 0;
                        }
                        /* A delta that only writes over the generation before goes to the
                         * thread that wrote that generation, after it. */
                        if (whole && in_place(r, op)) {
                                e = restore_writer_patch(r, op, h);
                                if (e < 0)
                                        return e;
                                goto next;
                        }
                        /* Any other delta reads what the thread wrote, and its job is the
                         * thread's until then. */
                        if (op->step > 0) {
                                k = restore_writer_drain(r);
                                if (k < 0)
                                        return k;
                        }
                        if (job->failed) {
                                /* A delta read whole has used up the entry: another op
                                 * sharing it needs the volume read again. */
                                if (whole || e < 0)
                                        goto next;
                                continue;
                        }
                        if (e < 0)
                                ; /* the delta could not be read */
                        else if (size != op->stored || job->done_ops != op->step)
                                e = -EBADMSG;
                        else if (!op->delta) {
                                e = hand_over(r, op, h, pax);
                                if (e < 0)
                                        return e;
                        } else
                                e = apply_op(r, op, whole, pax);
                        if (e == -ENOMEM)
                                return e;
                        if (e < 0) {
                                job->failed = true;
                                if (e == -EBADMSG && job->from_target)
                                        job->refetch = true; /* the caller fetches it again */
                                else if (e == -EBADMSG)
                                        restore_fail_entry(
                                                r, job->dest, true,
                                                "content does not match its hash in %s %s "
                                                "(damaged repository)",
                                                what, h->id);
                                else
                                        restore_fail_entry(r, job->dest, false,
                                                           "cannot be written: %s", strerror(-e));
                        }
                next:
                        if (i + 1 < end && r->ops[i + 1].entry == entry) {
                                /* Several files share this entry: read it again from the
                                 * start is impossible in a stream, so each needs its own
                                 * pass. Rare (identical renamed copies); handled by
                                 * re-reading the volume. */
                                i++;
                                k = restore_read_volume_in(r, i, end, NULL);
                                return k;
                        }
                }
                entry++;
        }
        if (k < 0) {
                int d = restore_writer_drain(r); /* the jobs below may be its */

                if (d < 0)
                        return d;
                for (; i < end; i++) {
                        Job *job = &r->jobs[r->ops[i].job];

                        if (r->ops[i].early_done)
                                continue; /* read whole before, and applied */
                        if (!job->failed) {
                                job->failed = true;
                                restore_fail_entry(
                                        r, job->dest, true, "%s of %s %s cannot be read: %s", name,
                                        what, h->id,
                                        k == -EBADMSG ? "damaged or altered" : strerror(-k));
                        }
                }
                return k == -ENOMEM ? k : 0;
        }
        return 0;
}
