/* restore/volume.c: a volume of the chain opened for reading, the threads that read, check,
 * decrypt and decompress it started ahead of its reader (content.c, early.c). */
#include <stdio.h>

#include "core/repo/segment.h"
#include "restore/restore-internal.h"

int restore_open_volume(Restore *r, size_t first, YbSealedIn **ret) {
        const Op *op0 = &r->ops[first];
        const YbSnapshotHeader *h = r->chain->levels[op0->level].h;
        _cleanup_(yb_sealed_in_freep) YbSealedIn *in = NULL;
        _cleanup_free_ char *path = NULL;
        const YbFileRef *ref;
        char name[32], ctx[256];
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
        if (k < 0)
                return k;
        *ret = TAKE_PTR(in);
        return 0;
}
