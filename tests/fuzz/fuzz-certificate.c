/* fuzz-certificate: a decommission certificate file, JSON or HTML (core/evidence:
 * yb_certificate_load, then what `yunbak certificate show|verify` does with what it accepts). */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/base/fileio.h"
#include "core/evidence/certificate.h"
#include "core/evidence/signed.h"
#include "tests/fuzz/fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(json_decrefp) json_t *cert = NULL;
        _cleanup_close_ int fd = -EBADF;
        YbCertificateFile kind;
        char path[64], why[1024];

        fuzz_init();
        fd = memfd_create("certificate", MFD_CLOEXEC);
        FUZZ_CHECK(fd >= 0);
        FUZZ_CHECK(yb_write_all(fd, data, size) >= 0);
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        if (yb_certificate_load(path, &cert, &kind, why, sizeof(why)) >= 0) {
                _cleanup_free_ char *file = NULL, *page = NULL, *summary = NULL;

                /* What loads is exactly what yunbak writes for it. */
                FUZZ_CHECK(yb_signed_dump(cert, &file) >= 0);
                FUZZ_CHECK(yb_certificate_html(cert, &page) >= 0);
                FUZZ_CHECK(kind == YB_CERTIFICATE_FILE_JSON
                                   ? strlen(file) == size && memcmp(file, data, size) == 0
                                   : strlen(page) == size && memcmp(page, data, size) == 0);
                FUZZ_CHECK(yb_certificate_summary(cert, &summary) >= 0);
                (void) yb_signed_verify(cert, NULL, why, sizeof(why));
        }
        return 0;
}
