/* core/evidence/certificate.h: the decommission certificate (docs/decommission.md,
 * "Certificate"): its fields after NIST SP 800-88 Rev. 1 (Appendix G), its self-contained HTML
 * page, and reading either file back for `yunbak certificate show|verify`.
 *
 * The HTML page is a pure function of the signed JSON: yb_certificate_html always writes the
 * same bytes for the same certificate, and embeds the JSON file's bytes in
 * <script type="application/json" id="yunbak-certificate">. So a page verifies when the JSON it
 * embeds verifies and the page is byte for byte yb_certificate_html of that JSON. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* The document's "type". */
#define YB_CERTIFICATE_TYPE "yunbak-decommission-certificate"
#define YB_CERTIFICATE_VERSION 1
/* The claim of a key copy withdrawn (registered by mistake): it names no destruction. */
#define YB_CERTIFICATE_WITHDRAWN_CLAIM                                                             \
        "registration withdrawn by two people: not a copy, nothing destroyed"

/* The claim of an artifact on a host (a source path, the agent's state) that rests on the
 * operator's attestation that the host was destroyed (its "state": "attested"). */
#define YB_CERTIFICATE_HOST_ATTESTED "host destroyed by the operator's word (attested)"

/* The claim of a store's backups that S3 Object Lock (compliance) keeps (a "backups" artifact
 * with "state": "locked"), followed by " until " and its "locked_until": crypto-erased (the key is
 * destroyed), never deleted nor overwritten. */
#define YB_CERTIFICATE_LOCKED_CLAIM                                                                \
        "cryptographic erase; deletion blocked by Object Lock (compliance)"

/* Checks that cert has every field the format requires, of the right types (not the
 * signature). 0, or -EINVAL with the first problem ("artifacts[2].methods: missing") in why. */
int yb_certificate_check(const json_t *cert, char *why, size_t why_size);
/* Sets an artifact's "methods", "nist_category" and "claim" from its "kind", "state" (a key
 * copy's; "attested" for a source path or the agent's state of a host attested destroyed;
 * "locked" for backups S3 Object Lock keeps, with its "locked_until": "cryptographic-erase"
 * alone, verified "locked") and
 * "medium", and whether an overwrite was done (overwritten): the one rule yb_certificate_check
 * holds certificates to (docs/decommission.md, "Certificate": an overwrite is claimed only where
 * the medium made it effective; a backup is a cryptographic erase; whatever is attested is
 * "attested" alone, verified "attested", never "passed"; a withdrawn key copy is "withdrawn"
 * alone). 0, -EINVAL (no such kind), -ENOMEM. */
int yb_certificate_set_methods(json_t *artifact, bool overwritten);
/* What the certificate says, in words (the page's result and `yunbak certificate show`): "Every
 * copy of 人事门户网站's data in 3 stores and on 1 host was destroyed and verified; 3 key copies
 * destroyed (1 attested)." then, when they apply, a sentence on what the operator must still do
 * and one on the export handed over or waived. In *ret (the caller frees it). 0, -EINVAL (as
 * yb_certificate_check), -ENOMEM. */
int yb_certificate_summary(const json_t *cert, char **ret);
/* The HTML page of a (signed) certificate in *ret (the caller frees it). 0, -EINVAL (as
 * yb_certificate_check), -ENOMEM. */
int yb_certificate_html(const json_t *cert, char **ret);

typedef enum YbCertificateFile {
        YB_CERTIFICATE_FILE_JSON,
        YB_CERTIFICATE_FILE_HTML,
} YbCertificateFile;

/* Reads a certificate file, JSON or HTML (told apart by content), into *ret_cert and its kind.
 * For either it checks that the bytes are exactly what yunbak writes for that certificate
 * (yb_signed_dump, yb_certificate_html): -EBADMSG with why naming the first differing byte's
 * line and column otherwise. Not the signature: yb_signed_verify does that. 0, -ENOENT,
 * -EINVAL (not a certificate: why), -EBADMSG, -ENOMEM. */
int yb_certificate_load(const char *path, json_t **ret_cert, YbCertificateFile *ret_kind, char *why,
                        size_t why_size);
