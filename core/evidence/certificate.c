/* The decommission certificate (certificate.h). Part C of issue 13 replaces this placeholder. */
#include <errno.h>

#include "core/evidence/certificate.h"

int yb_certificate_check(const json_t *cert, char *why, size_t why_size) {
        (void) cert, (void) why, (void) why_size;
        return -ENOSYS;
}

int yb_certificate_html(const json_t *cert, char **ret) {
        (void) cert, (void) ret;
        return -ENOSYS;
}

int yb_certificate_load(const char *path, json_t **ret_cert, YbCertificateFile *ret_kind, char *why,
                        size_t why_size) {
        (void) path, (void) ret_cert, (void) ret_kind, (void) why, (void) why_size;
        return -ENOSYS;
}
