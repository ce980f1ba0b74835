/* fuzz-header: a snapshot header (JSON line + signature line) as yb_repo_load_header reads it. */
#include "core/repo/repo.h"
#include "tests/fuzz/fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = NULL;
        _cleanup_free_ char *json = NULL;

        fuzz_init();
        if (yb_header_parse(data, size, &h) < 0)
                return 0;
        /* A header that checks out is listed (`yunbak snapshots --json`) and its files looked up.
         */
        json = yb_header_to_json(h);
        FUZZ_CHECK(json);
        for (size_t i = 0; i < h->n_files; i++)
                FUZZ_CHECK(yb_header_find_file(h, h->files[i].name));
        (void) yb_header_find_file(h, "header");
        return 0;
}
