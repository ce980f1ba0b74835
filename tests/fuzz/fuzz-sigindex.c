/* fuzz-sigindex: a signature index's plaintext, then lookups by path and by inode. */
#include "core/repo/format.h"
#include "tests/fuzz/fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(yb_sigindex_freep) YbSigIndex *x = NULL;

        fuzz_init();
        if (yb_sigindex_parse(data, size, &x) < 0)
                return 0;
        for (size_t i = 0; i < x->n; i++) {
                const YbSigEntry *s = &x->entries[i], *e;

                e = yb_sigindex_find(x, s->path);
                FUZZ_CHECK(e && streq(e->path, s->path));
                e = yb_sigindex_find_inode(x, s->dev, s->ino);
                FUZZ_CHECK(e && e->dev == s->dev && e->ino == s->ino);
                (void) yb_sigindex_find_inode(x, s->dev + 1, s->ino);
        }
        (void) yb_sigindex_find(x, "no/such/path");
        (void) yb_sigindex_find_inode(x, 0, 0);
        return 0;
}
