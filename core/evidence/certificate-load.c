/* Reading a certificate file back, JSON or HTML (certificate.h: yb_certificate_load): the
 * certificate as a kind of signed document for core/evidence/signed-file.h's reader. */
#include "core/evidence/certificate.h"
#include "core/evidence/signed-file.h"

static const YbSignedFileKind CERTIFICATE = {
        .type = YB_CERTIFICATE_TYPE,
        .noun = "certificate",
        .what = "a yunbak decommission certificate",
        .script_id = "yunbak-certificate",
        .command = "certificate",
        .check = yb_certificate_check,
        .html = yb_certificate_html,
};

int yb_certificate_load(const char *path, json_t **ret_cert, YbCertificateFile *ret_kind, char *why,
                        size_t why_size) {
        bool html;
        int r;

        r = yb_signed_file_load(path, &CERTIFICATE, ret_cert, &html, why, why_size);
        if (r < 0)
                return r;
        *ret_kind = html ? YB_CERTIFICATE_FILE_HTML : YB_CERTIFICATE_FILE_JSON;
        return 0;
}
