/* restore/volume.c: a volume of the chain opened for reading, the threads that read, check,
 * decrypt and decompress it started ahead of its reader (content.c, early.c). */
#include <stdio.h>

#include "core/repo/segment.h"
#include "restore/restore-internal.h"

size_t restore_volume_end(const Restore *r, size_t i) {
        size_t end = i + 1;

        while (end < r->n_ops && r->ops[end].level == r->ops[i].level &&
               r->ops[end].vol == r->ops[i].vol)
                end++;
        return end;
}

const YbFileRef *restore_volume_ref(const Restore *r, size_t first, char name[32]) {
        const Op *op0 = &r->ops[first];

        snprintf(name, 32, "vol-%06u", op0->vol);
        return yb_header_find_file(r->chain->levels[op0->level].h, name);
}

int restore_read_entry(YbPaxReader *pax, uint8_t *buf, size_t n) {
        for (size_t have = 0; have < n;) {
                ssize_t got = yb_pax_read(pax, buf + have, n - have);

                if (got <= 0)
                        return got < 0 ? (int) got : -EBADMSG;
                have += (size_t) got;
        }
        return 0;
}

int restore_open_volume(Restore *r, size_t first, YbSealedIn **ret) {
        const YbSnapshotHeader *h = r->chain->levels[r->ops[first].level].h;
        _cleanup_(yb_sealed_in_freep) YbSealedIn *in = NULL;
        _cleanup_free_ char *path = NULL;
        const YbFileRef *ref;
        char name[32], ctx[256];
        int k;

        ref = restore_volume_ref(r, first, name);
        path = yb_repo_point_path(r->repo, h, name);
        if (!path)
                return -ENOMEM;
        yb_seal_context(r->repo->system, h->id, name, ctx);
        k = ref ? yb_sealed_in_open(r->repo->store, path, ref, r->key, ctx, true, &in) : -EBADMSG;
        if (k >= 0)
                k = yb_sealed_in_prefetch(in);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(in);
        return 0;
}
