/* fuzz-drill: a restore drill's signed record, JSON or HTML (core/evidence: yb_drill_load, then
 * what `yunbak drill show|verify` does with what it accepts). */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/base/fileio.h"
#include "core/evidence/drill.h"
#include "core/evidence/signed.h"
#include "tests/fuzz/fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(json_decrefp) json_t *record = NULL;
        _cleanup_close_ int fd = -EBADF;
        bool html = false;
        char path[64], why[1024];

        fuzz_init();
        fd = memfd_create("drill", MFD_CLOEXEC);
        FUZZ_CHECK(fd >= 0);
        FUZZ_CHECK(yb_write_all(fd, data, size) >= 0);
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        if (yb_drill_load(path, &record, &html, why, sizeof(why)) >= 0) {
                _cleanup_free_ char *file = NULL, *page = NULL, *summary = NULL;

                /* What loads is exactly what yunbak writes for it. */
                FUZZ_CHECK(yb_signed_dump(record, &file) >= 0);
                FUZZ_CHECK(yb_drill_html(record, &page) >= 0);
                FUZZ_CHECK(!html ? strlen(file) == size && memcmp(file, data, size) == 0
                                 : strlen(page) == size && memcmp(page, data, size) == 0);
                FUZZ_CHECK(yb_drill_summary(record, &summary) >= 0);
                (void) yb_signed_verify(record, NULL, why, sizeof(why));
        }
        return 0;
}
