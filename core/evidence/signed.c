/* Signed documents (signed.h): the canonical form, Ed25519 over it, the file's one writing, and
 * yunbakd's public key file. The rule is Python's json.dumps so that anyone can check a document
 * with tools of their own (docs/decommission.md, "Certificate"). */
#include "core/evidence/signed.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/base/buf.h"
#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/evidence/jsonwrite.h"
#include "core/evidence/why.h"

#define SIGNATURE "signature"

/* Writes doc as jsonwrite.h says into a new string (a final newline when indented). */
static int write_text(const json_t *doc, int indent, const char *skip, char **ret, char *why,
                      size_t why_size) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        int r;

        r = yb_json_write(doc, indent, skip, &b, why, why_size);
        if (r >= 0 && indent >= 0)
                r = yb_buf_append_u8(&b, '\n');
        if (r >= 0)
                r = yb_buf_append_u8(&b, 0);
        if (r < 0)
                return r;
        *ret = (char *) yb_buf_steal(&b, NULL);
        return 0;
}

int yb_signed_canonical(const json_t *doc, char **ret) {
        char why[256];
        int r;

        if (!json_is_object(doc))
                return -EINVAL;
        r = write_text(doc, -1, SIGNATURE, ret, why, sizeof(why));
        if (r == -EINVAL)
                log_debug("No canonical form: %s", why);
        return r;
}

int yb_signed_dump(const json_t *doc, char **ret) {
        char why[256];
        int r;

        r = write_text(doc, 2, NULL, ret, why, sizeof(why));
        if (r == -EINVAL)
                log_debug("Cannot write the document: %s", why);
        return r;
}

void yb_signed_fingerprint(const uint8_t pk[32], char ret[YB_SIGNED_FINGERPRINT_MAX]) {
        uint8_t h[crypto_hash_sha256_BYTES];
        char b64[sodium_base64_ENCODED_LEN(sizeof(h), sodium_base64_VARIANT_ORIGINAL_NO_PADDING)];

        crypto_hash_sha256(h, pk, 32);
        sodium_bin2base64(b64, sizeof(b64), h, sizeof(h),
                          sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
        snprintf(ret, YB_SIGNED_FINGERPRINT_MAX, "SHA256:%s", b64);
}

int yb_signed_sign(json_t *doc, const YbAgentIdentity *key) {
        _cleanup_free_ char *canonical = NULL, *key_b64 = NULL, *sig_b64 = NULL;
        uint8_t sig[crypto_sign_BYTES];
        json_t *s;
        int r;

        r = yb_signed_canonical(doc, &canonical);
        if (r < 0)
                return r;
        yb_sign(key, canonical, strlen(canonical), sig);
        r = yb_base64_encode(key->sign_pk, sizeof(key->sign_pk), &key_b64);
        if (r < 0)
                return r;
        r = yb_base64_encode(sig, sizeof(sig), &sig_b64);
        if (r < 0)
                return r;
        s = json_pack("{s:s, s:s, s:s}", "alg", "ed25519", "key", key_b64, "value", sig_b64);
        if (!s || json_object_set_new(doc, SIGNATURE, s) < 0)
                return -ENOMEM;
        return 0;
}

/* Decodes the base64 member name of the signature into out (exactly size bytes), accepting only
 * the one encoding of those bytes: a changed padding bit would be a changed byte of the file that
 * nothing else notices. */
static int signature_bytes(json_t *sig, const char *name, void *out, size_t size, char *why,
                           size_t why_size) {
        _cleanup_free_ char *again = NULL;
        const char *s = json_string_value(json_object_get(sig, name));

        if (!s)
                return yb_why(why, why_size, -EINVAL, "signature.%s: missing or not a string",
                              name);
        if (yb_base64_decode(s, out, size) < 0 || yb_base64_encode(out, size, &again) < 0 ||
            !streq(again, s))
                return yb_why(why, why_size, -EINVAL,
                              "signature.%s: not %zu bytes in base64 (standard alphabet, padded)",
                              name, size);
        return 0;
}

int yb_signed_verify(const json_t *doc, const uint8_t pk[32], char *why, size_t why_size) {
        _cleanup_free_ char *canonical = NULL;
        char problem[256], fp[YB_SIGNED_FINGERPRINT_MAX], fp_given[YB_SIGNED_FINGERPRINT_MAX];
        uint8_t key[32], sig[crypto_sign_BYTES];
        const char *name, *alg;
        json_t *s, *v;
        int r;

        if (why && why_size > 0)
                why[0] = 0;
        if (!json_is_object(doc))
                return yb_why(why, why_size, -EINVAL, "not a JSON object");
        s = json_object_get(doc, SIGNATURE);
        if (!s)
                return yb_why(why, why_size, -EINVAL, "it is not signed (no \"signature\")");
        if (!json_is_object(s))
                return yb_why(why, why_size, -EINVAL, "signature: not an object");
        json_object_foreach(
                s, name,
                v) if (!streq(name, "alg") && !streq(name, "key") &&
                       !streq(name, "value")) return yb_why(why, why_size, -EINVAL,
                                                            "signature: an unexpected member "
                                                            "\"%s\" (only alg, key and "
                                                            "value are allowed: nothing "
                                                            "unsigned may ride along)",
                                                            name);
        alg = json_string_value(json_object_get(s, "alg"));
        if (!alg)
                return yb_why(why, why_size, -EINVAL, "signature.alg: missing or not a string");
        if (!streq(alg, "ed25519"))
                return yb_why(why, why_size, -EINVAL,
                              "signature.alg: \"%s\"; this yunbak checks ed25519 signatures only",
                              alg);
        r = signature_bytes(s, "key", key, sizeof(key), why, why_size);
        if (r < 0)
                return r;
        r = signature_bytes(s, "value", sig, sizeof(sig), why, why_size);
        if (r < 0)
                return r;
        yb_signed_fingerprint(key, fp);
        if (pk && sodium_memcmp(key, pk, sizeof(key)) != 0) {
                yb_signed_fingerprint(pk, fp_given);
                return yb_why(why, why_size, -EKEYREJECTED,
                              "it was signed by the key %s, not by the key it must be signed with "
                              "(%s)",
                              fp, fp_given);
        }
        r = write_text(doc, -1, SIGNATURE, &canonical, problem, sizeof(problem));
        if (r == -EINVAL)
                return yb_why(why, why_size, r, "it has no canonical form: %s", problem);
        if (r < 0)
                return r;
        if (yb_sign_verify(key, canonical, strlen(canonical), sig) < 0)
                return yb_why(why, why_size, -EBADMSG,
                              "the signature does not check out: the document was changed after "
                              "it was signed, or was not signed by this key (%s)",
                              fp);
        if (!pk)
                yb_why(why, why_size, 0,
                       "checked against the key the document names (%s): this proves it is intact "
                       "since it was signed, not who signed it; compare that key with yunbakd's "
                       "(yunbakd.pub)",
                       fp);
        return 0;
}

int yb_signed_read_public_key(const char *path, uint8_t pk[32], char *why, size_t why_size) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        _cleanup_free_ char *again = NULL;
        uint8_t key[32];
        char *s, *e;
        int r;

        r = yb_read_file_at(AT_FDCWD, path, 4096, &b);
        if (r == -EFBIG)
                return yb_why(why, why_size, -EINVAL,
                              "%s is not yunbakd's public key: it is far too long for one", path);
        if (r < 0)
                return yb_why(why, why_size, r, "cannot read yunbakd's public key %s: %s", path,
                              strerror(-r));
        if (yb_buf_append_u8(&b, 0) < 0)
                return -ENOMEM;
        s = (char *) b.data;
        s += strspn(s, " \t\r\n");
        e = s + strlen(s);
        while (e > s && strchr(" \t\r\n", e[-1]))
                *--e = 0;
        if (yb_base64_decode(s, key, sizeof(key)) < 0 ||
            yb_base64_encode(key, sizeof(key), &again) < 0 || !streq(again, s))
                return yb_why(why, why_size, -EINVAL,
                              "%s is not yunbakd's public key: expected one line with its Ed25519 "
                              "key in base64 (yunbakd writes it as <state>/yunbakd.pub)",
                              path);
        memcpy(pk, key, sizeof(key));
        return 0;
}
