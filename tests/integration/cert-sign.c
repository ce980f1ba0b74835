/* yb-certsign: core/evidence's side of certificate-verify.sh, which checks it against Python and
 * OpenSSL; and the signer of its test certificates, with a key made as yunbakd makes its own.
 *
 *   yb-certsign canonical IN      prints the canonical form of the JSON object in IN
 *   yb-certsign dump IN           prints the file yb_signed_dump writes for it
 *   yb-certsign sign DIR IN OUT   loads (or creates) the key DIR/agent.key as yunbakd does and
 *                                 writes DIR/yunbakd.pub; sets IN's issuer.ed25519 to it, checks
 *                                 the certificate, signs it and writes its file to OUT
 *   yb-certsign sign-drill DIR IN OUT   the same for a drill record (core/evidence/drill.h),
 *                                 which names its key in its signature alone
 *
 * Exits 1 with the reason on stderr when something fails. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/base/fileio.h"
#include "core/crypto/keys.h"
#include "core/evidence/certificate.h"
#include "core/evidence/drill.h"
#include "core/evidence/signed.h"

static json_t *load(const char *path) {
        json_error_t err;
        json_t *j = json_load_file(path, 0, &err);

        if (!j)
                fprintf(stderr, "yb-certsign: %s: %s (line %d)\n", path, err.text, err.line);
        return j;
}

static int sign(const char *dir, const char *in, const char *out, bool drill) {
        _cleanup_(yb_agent_identity_freep) YbAgentIdentity *key = NULL;
        _cleanup_(json_decrefp) json_t *cert = load(in);
        _cleanup_free_ char *b64 = NULL, *line = NULL, *pub = NULL, *file = NULL;
        char why[512];
        int r;

        if (!cert)
                return 1;
        r = yb_agent_identity_load(dir, &key);
        if (r < 0 || yb_base64_encode(key->sign_pk, 32, &b64) < 0 ||
            asprintf(&line, "%s\n", b64) < 0 || asprintf(&pub, "%s/yunbakd.pub", dir) < 0 ||
            yb_write_file_atomic_at(AT_FDCWD, pub, line, strlen(line), 0644) < 0) {
                fprintf(stderr, "yb-certsign: cannot make the key in %s\n", dir);
                return 1;
        }
        if (!drill)
                json_object_set_new(json_object_get(cert, "issuer"), "ed25519", json_string(b64));
        if ((drill ? yb_drill_check(cert, why, sizeof(why))
                   : yb_certificate_check(cert, why, sizeof(why))) < 0) {
                fprintf(stderr, "yb-certsign: %s is not a valid %s: %s\n", in,
                        drill ? "drill record" : "certificate", why);
                return 1;
        }
        if (yb_signed_sign(cert, key) < 0 || yb_signed_dump(cert, &file) < 0 ||
            yb_write_file_atomic_at(AT_FDCWD, out, file, strlen(file), 0644) < 0) {
                fprintf(stderr, "yb-certsign: cannot sign %s into %s\n", in, out);
                return 1;
        }
        return 0;
}

int main(int argc, char **argv) {
        _cleanup_(json_decrefp) json_t *doc = NULL;
        _cleanup_free_ char *text = NULL;
        int r;

        if (yb_crypto_init() < 0)
                return 1;
        if (argc == 5 && (streq(argv[1], "sign") || streq(argv[1], "sign-drill")))
                return sign(argv[2], argv[3], argv[4], streq(argv[1], "sign-drill"));
        if (argc != 3 || (!streq(argv[1], "canonical") && !streq(argv[1], "dump"))) {
                fprintf(stderr,
                        "usage: yb-certsign canonical|dump IN | sign|sign-drill DIR IN OUT\n");
                return 2;
        }
        doc = load(argv[2]);
        if (!doc)
                return 1;
        r = streq(argv[1], "canonical") ? yb_signed_canonical(doc, &text)
                                        : yb_signed_dump(doc, &text);
        if (r < 0) {
                fprintf(stderr, "yb-certsign: %s: %s\n", argv[2], strerror(-r));
                return 1;
        }
        fputs(text, stdout);
        return 0;
}
