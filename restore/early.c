/* restore/early.c: in-place deltas read before their file's first generation. A changed
 * database's delta sits in a later snapshot's volume, which a restore reads last; applied there,
 * the database is patched and read back for its check at the very end, when nothing else is left
 * to do beside it. So before the volumes are read in turn, the deltas that only write over the
 * generation before (core/codec/inplace.h) are read from their volumes, within a memory budget,
 * and each goes to the writer thread right after the generation it patches: the check then runs
 * beside the rest of the restore. What is not read early is applied in its turn, as before. */
#include <stdlib.h>

#include "core/base/log.h"
#include "core/codec/inplace.h"
#include "restore/restore-internal.h"

/* The most memory the deltas read early may hold at once (they are freed once handed over). */
#define EARLY_DELTAS_MAX (24 * 1024 * 1024)
/* The most stored bytes of volumes read early: what is read early is read again in its turn (a
 * remote store sends it twice), so a big volume's deltas wait for their turn. */
#define EARLY_VOLUMES_MAX (64 * 1024 * 1024)

/* Whether op could be applied early: a delta small enough, onto a generation the restore itself
 * writes (never the target's own file), not a sparse last generation (written with its holes
 * the usual way). */
static bool candidate(const Restore *r, const Op *op) {
        const Job *job = &r->jobs[op->job];

        return op->delta && op->step > 0 && op->stored <= IN_PLACE_DELTA_MAX && !job->from_target &&
               !job->failed && !(op->step + 1 == job->n_ops && job->e->sparse);
}

/* Reads the early deltas of ops first..end-1 (one volume, sorted by entry): each op whose step
 * follows the job's last one ready (*ready, per job) in a chain from its whole first generation.
 * A volume that cannot be read leaves its deltas to their turn (which reports it). */
static int read_volume(Restore *r, size_t first, size_t end, size_t *ready, size_t *budget,
                       uint64_t *volumes) {
        _cleanup_(yb_sealed_in_freep) YbSealedIn *in = NULL;
        _cleanup_(yb_pax_reader_freep) YbPaxReader *pax = NULL;
        const YbFileRef *ref;
        size_t last = first;
        uint32_t entry = 0;
        char vol[32];
        int k;

        for (size_t i = first; i < end; i++)
                if (candidate(r, &r->ops[i]) && ready[r->ops[i].job] == r->ops[i].step)
                        last = i + 1;
        if (last == first)
                return 0;
        ref = restore_volume_ref(r, first, vol);
        if (!ref || ref->size > *volumes)
                return 0;
        *volumes -= ref->size;
        k = restore_open_volume(r, first, &in);
        if (k >= 0) {
                r->stats.volumes_read_early++;
                k = yb_pax_reader_new_peek(yb_sealed_in_peek_cb, in, &pax);
        }
        for (size_t i = first; k >= 0 && i < last; entry++) {
                const char *name;
                uint64_t size;
                Op *op;

                k = yb_pax_next(pax, &name, &size);
                if (k <= 0)
                        break;
                if (r->ops[i].entry != entry)
                        continue;
                op = &r->ops[i];
                /* An entry several files share (rare) is left to its turn. */
                if (candidate(r, op) && ready[op->job] == op->step && size == op->stored &&
                    op->stored <= *budget && (i + 1 == end || r->ops[i + 1].entry != entry)) {
                        /* Exactly its size: a buffer that grows by doubling would hold up to
                         * twice the budget. */
                        size_t n = (size_t) op->stored;
                        uint8_t *d = malloc(MAX(n, (size_t) 1));
                        uint64_t new_size;

                        k = d ? restore_read_entry(pax, d, n) : -ENOMEM;
                        if (k >= 0 && yb_delta_in_place(d, n, &new_size) == 1) {
                                k = restore_early_add(r, (size_t) (op - r->ops), d, n);
                                if (k >= 0) {
                                        d = NULL; /* taken over */
                                        *budget -= n;
                                        ready[op->job]++;
                                }
                        }
                        free(d);
                        if (k == -ENOMEM)
                                return k;
                }
                while (i < last && r->ops[i].entry == entry)
                        i++;
        }
        return 0; /* damage is found and reported in the volume's turn */
}

int restore_early_read(Restore *r) {
        _cleanup_free_ size_t *ready = new0(size_t, r->n_jobs + 1);
        size_t budget = EARLY_DELTAS_MAX;
        uint64_t volumes = EARLY_VOLUMES_MAX;
        bool any = false;
        int k;

        if (!ready)
                return -ENOMEM;
        restore_early_free(r); /* a pass before (apply.c fetches again) */
        for (size_t i = 0; i < r->n_ops; i++) {
                any = any || candidate(r, &r->ops[i]);
                if (!r->ops[i].delta && r->ops[i].step == 0)
                        ready[r->ops[i].job] = 1; /* its first generation is whole */
        }
        for (size_t i = 0; any && i < r->n_ops && budget > 0;) {
                size_t end = restore_volume_end(r, i);

                if (r->stop && *r->stop)
                        break;
                k = read_volume(r, i, end, ready, &budget, &volumes);
                if (k < 0)
                        return k;
                i = end;
        }
        if (r->n_early > 0)
                log_debug("%zu in-place deltas read ahead of their turn (%zu KiB).", r->n_early,
                          (size_t) (EARLY_DELTAS_MAX - budget) / 1024);
        return 0;
}

int restore_early_add(Restore *r, size_t op, uint8_t *data, size_t n) {
        Job *job = &r->jobs[r->ops[op].job];
        Early *v = realloc(r->early, (r->n_early + 1) * sizeof(Early));

        if (!v)
                return -ENOMEM;
        r->early = v;
        v[r->n_early] = (Early){ .op = op, .data = data, .n = n };
        /* Chained to the job's earlier ones, in step order (they were read in that order). */
        if (!job->early)
                job->early = r->n_early + 1;
        else {
                size_t e = job->early - 1;

                while (r->early[e].next)
                        e = r->early[e].next - 1;
                r->early[e].next = r->n_early + 1;
        }
        r->n_early++;
        return 0;
}

int restore_early_send(Restore *r, size_t j) {
        Job *job = &r->jobs[j];

        /* A job that failed is not looked at here (the thread may be failing it): the thread
         * skips its patches. */
        while (job->early) {
                Early *e = &r->early[job->early - 1];
                Op *op = &r->ops[e->op];
                int k;

                if (op->step != job->done_ops)
                        break; /* not next: left to its turn */
                k = restore_writer_patch_data(r, op, r->chain->levels[op->level].h, e->data, e->n);
                free(e->data);
                e->data = NULL;
                op->early_done = true;
                job->early = e->next;
                if (k < 0)
                        return k;
                r->stats.early++;
        }
        return 0;
}

void restore_early_free(Restore *r) {
        for (size_t i = 0; i < r->n_early; i++)
                free(r->early[i].data);
        free(r->early);
        r->early = NULL;
        r->n_early = 0;
        for (size_t j = 0; j < r->n_jobs; j++)
                r->jobs[j].early = 0;
}
