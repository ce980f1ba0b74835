/* core/crypto/keys.h: a system's X25519 key pair, the passphrase-wrapped private key file, and
 * an agent's own identity (Ed25519 signing key and X25519 state key). File formats: docs/format.md.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "core/base/ident.h" /* yb_system_id_valid(), YB_SYSTEM_ID_MAX */
#include "core/base/macro.h"

#define YB_KEY_ID_SIZE 8

/* Initialises libsodium. Returns 0 or -EIO. Safe to call more than once. */
int yb_crypto_init(void);

/* A system's public key, as agents and yunbakd hold it. */
typedef struct YbPublicKey {
        char system[YB_SYSTEM_ID_MAX + 1];
        uint8_t pk[32];
        uint8_t id[YB_KEY_ID_SIZE]; /* first bytes of BLAKE2b(pk) */
} YbPublicKey;

/* A system's private key, unwrapped. Lives in sodium_malloc() memory; free with yb_secret_key_free.
 */
typedef struct YbSecretKey {
        YbPublicKey pub;
        uint8_t sk[32];
} YbSecretKey;

YbSecretKey *yb_secret_key_free(YbSecretKey *k);
DEFINE_FREEP(YbSecretKey, yb_secret_key_free);

/* Hex of the key id (16 characters plus NUL). */
void yb_key_id_hex(const uint8_t id[YB_KEY_ID_SIZE], char ret[2 * YB_KEY_ID_SIZE + 1]);

/* Makes a fresh key pair for system. */
int yb_key_generate(const char *system, YbSecretKey **ret);

/* Argon2id cost of a wrapped key file. */
typedef enum YbKdfProfile {
        YB_KDF_MODERATE,    /* the default: 3 passes, 256 MiB */
        YB_KDF_INTERACTIVE, /* 2 passes, 64 MiB: tests and low-memory hosts */
        _YB_KDF_MAX,
} YbKdfProfile;

/* Writes ID.pub (JSON text). Fails with -EEXIST rather than replace a file. */
int yb_public_key_write(const char *path, const YbPublicKey *pub);
/* Reads and checks a public key file. -EBADMSG if it is not one. */
int yb_public_key_read(const char *path, YbPublicKey *ret);
/* Parses public key JSON from memory (used for the copy in a repository config). */
int yb_public_key_parse(const char *json, size_t size, YbPublicKey *ret);
/* Formats the public key as JSON; the caller frees the string. */
int yb_public_key_format(const YbPublicKey *pub, char **ret);

/* Writes ID.key: the private half wrapped with passphrase (Argon2id + XChaCha20-Poly1305). */
int yb_secret_key_write(const char *path, const YbSecretKey *key, const char *passphrase,
                        YbKdfProfile kdf);
/* Reads and unwraps ID.key. -EKEYREJECTED for a wrong passphrase, -EBADMSG for a damaged file,
 * -EPROTONOSUPPORT for an unknown version. */
int yb_secret_key_read(const char *path, const char *passphrase, YbSecretKey **ret);
/* Reads the public fields of ID.key (system, key id, public key) without the passphrase, as
 * `yunbak key destroy` and `key register` name a key file. -ENOKEY for a public key file,
 * -EBADMSG for anything else that is not a private key file, -EPROTONOSUPPORT for an unknown
 * version. */
int yb_secret_key_read_public(const char *path, YbPublicKey *ret);
/* The same from a key file's bytes (data, size), for a caller that read the file through a
 * descriptor it keeps (`yunbak key destroy` checks and destroys the very file it read). */
int yb_secret_key_parse_public(const void *data, size_t size, YbPublicKey *ret);

/* An agent's identity: signs snapshot headers, and seals its signature cache to itself. */
typedef struct YbAgentIdentity {
        uint8_t sign_pk[32];
        uint8_t sign_sk[64];
        YbSecretKey state; /* state.pub.system is "agent-state" */
} YbAgentIdentity;

YbAgentIdentity *yb_agent_identity_free(YbAgentIdentity *a);
DEFINE_FREEP(YbAgentIdentity, yb_agent_identity_free);
/* Loads DIR/agent.key, creating it (mode 0600) on first use. */
int yb_agent_identity_load(const char *dir, YbAgentIdentity **ret);

/* Ed25519 over data. */
void yb_sign(const YbAgentIdentity *a, const void *data, size_t n, uint8_t ret_sig[64]);
/* 0 if sig is pk's valid signature of data, else -EBADMSG. */
int yb_sign_verify(const uint8_t pk[32], const void *data, size_t n, const uint8_t sig[64]);

/* Base64 (standard alphabet, padded). Encode returns a new string; decode requires exact size. */
int yb_base64_encode(const void *data, size_t n, char **ret);
int yb_base64_decode(const char *s, void *out, size_t out_size);
/* Lower-case hex into ret (2n+1 bytes); decode needs exactly 2*out_size hex characters. */
void yb_hex_encode(const void *data, size_t n, char *ret);
int yb_hex_decode(const char *s, void *out, size_t out_size);
