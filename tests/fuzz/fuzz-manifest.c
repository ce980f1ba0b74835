/* fuzz-manifest: a manifest's plaintext (after unsealing and zstd), then lookups by path. */
#include "core/repo/format.h"
#include "tests/fuzz/fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(yb_manifest_freep) YbManifest *m = NULL;

        fuzz_init();
        if (yb_manifest_parse(data, size, &m) < 0)
                return 0;
        for (size_t i = 0; i < m->n; i++) {
                const YbEntry *e = yb_manifest_find(m, m->entries[i].path);
                YbEntry copy;

                /* Duplicate paths are allowed (the first wins), so only the path must match. */
                FUZZ_CHECK(e && streq(e->path, m->entries[i].path));
                if (yb_entry_copy(&m->entries[i], &copy) >= 0)
                        yb_entry_clear(&copy);
        }
        (void) yb_manifest_find(m, "");
        (void) yb_manifest_find(m, "no/such/path");
        return 0;
}
