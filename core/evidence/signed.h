/* core/evidence/signed.h: documents yunbakd signs (a decommission certificate; later drill
 * reports), and how anyone checks them offline with yunbakd's public key (docs/decommission.md,
 * "Certificate": the same rule for every signed document).
 *
 * A signed document is a JSON object with a member "signature":
 *     {"alg": "ed25519", "key": "<yunbakd's public key, base64>", "value": "<signature, base64>"}
 * The signature is Ed25519 over the document's canonical form: the object without "signature",
 * keys sorted, no whitespace, strings in UTF-8 as they are (only '"', '\\' and control
 * characters escaped), integers only (no floats) — what Python's
 * json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False) writes. A document's
 * file is its whole object (signature included) written with keys sorted and an indent of 2,
 * then a newline (yb_signed_dump); a file verifies only if it is byte for byte that writing of a
 * document whose signature checks out, so that no byte of it can change unnoticed. */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/crypto/keys.h"

/* The canonical form of doc (without its "signature") in *ret (the caller frees it). -EINVAL
 * when doc holds a real number or a string with a control character other than \n and \t
 * (which canonical forms of other tools write differently), -ENOMEM. */
int yb_signed_canonical(const json_t *doc, char **ret);
/* Signs doc with key: sets its "signature". 0 or -errno. */
int yb_signed_sign(json_t *doc, const YbAgentIdentity *key);
/* Checks doc's signature. pk: the key it must be signed with (NULL: accept the key the document
 * names, and say so in why). 0 when it checks out; -EBADMSG (a wrong signature, why says so),
 * -EKEYREJECTED (signed by another key than pk), -EINVAL (no signature, malformed) with why in
 * why (why_size bytes, terminated). */
int yb_signed_verify(const json_t *doc, const uint8_t pk[32], char *why, size_t why_size);
/* The file bytes of doc (yb_signed_dump's rule above: Python's json.dumps(doc, sort_keys=True,
 * indent=2, ensure_ascii=False) and a newline) in *ret. 0, -EINVAL (as yb_signed_canonical),
 * -ENOMEM. */
int yb_signed_dump(const json_t *doc, char **ret);
/* Reads yunbakd's public key file (one line of base64, as yunbakd writes <state>/yunbakd.pub)
 * into pk. 0, or -errno with why in why. */
int yb_signed_read_public_key(const char *path, uint8_t pk[32], char *why, size_t why_size);

/* Room for a key's fingerprint and its NUL. */
#define YB_SIGNED_FINGERPRINT_MAX 51
/* A public key's fingerprint for people: "SHA256:" and the unpadded base64 of the SHA-256 of its
 * 32 bytes (`base64 -d yunbakd.pub | openssl dgst -sha256 -binary | base64 | tr -d =`). */
void yb_signed_fingerprint(const uint8_t pk[32], char ret[YB_SIGNED_FINGERPRINT_MAX]);
