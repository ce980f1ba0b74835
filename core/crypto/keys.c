#include "core/crypto/keys.h"

#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>

#include "core/base/fileio.h"
#include "core/base/log.h"

#define KEY_FILE_MAX (64 * 1024)

int yb_crypto_init(void) {
        if (sodium_init() < 0)
                return -EIO;
        return 0;
}

YbSecretKey *yb_secret_key_free(YbSecretKey *k) {
        sodium_free(k); /* wipes the memory; accepts NULL */
        return NULL;
}

static YbSecretKey *secret_key_new(void) {
        YbSecretKey *k = sodium_malloc(sizeof(YbSecretKey));

        if (k)
                memset(k, 0, sizeof(*k));
        return k;
}

void yb_hex_encode(const void *data, size_t n, char *ret) {
        sodium_bin2hex(ret, 2 * n + 1, data, n);
}

int yb_hex_decode(const char *s, void *out, size_t out_size) {
        size_t got;

        if (strlen(s) != 2 * out_size)
                return -EBADMSG;
        if (sodium_hex2bin(out, out_size, s, strlen(s), NULL, &got, NULL) < 0 || got != out_size)
                return -EBADMSG;
        return 0;
}

void yb_key_id_hex(const uint8_t id[YB_KEY_ID_SIZE], char ret[2 * YB_KEY_ID_SIZE + 1]) {
        yb_hex_encode(id, YB_KEY_ID_SIZE, ret);
}

int yb_base64_encode(const void *data, size_t n, char **ret) {
        size_t len = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
        char *s = malloc(len);

        if (!s)
                return -ENOMEM;
        sodium_bin2base64(s, len, data, n, sodium_base64_VARIANT_ORIGINAL);
        *ret = s;
        return 0;
}

int yb_base64_decode(const char *s, void *out, size_t out_size) {
        size_t got;

        if (sodium_base642bin(out, out_size, s, strlen(s), NULL, &got, NULL,
                              sodium_base64_VARIANT_ORIGINAL) < 0 ||
            got != out_size)
                return -EBADMSG;
        return 0;
}

static void key_id_of(const uint8_t pk[32], uint8_t ret[YB_KEY_ID_SIZE]) {
        uint8_t h[32];

        crypto_generichash(h, sizeof(h), pk, 32, NULL, 0);
        memcpy(ret, h, YB_KEY_ID_SIZE);
}

int yb_key_generate(const char *system, YbSecretKey **ret) {
        YbSecretKey *k;

        if (!yb_system_id_valid(system))
                return -EINVAL;
        k = secret_key_new();
        if (!k)
                return -ENOMEM;
        strcpy(k->pub.system, system);
        crypto_box_keypair(k->pub.pk, k->sk);
        key_id_of(k->pub.pk, k->pub.id);
        *ret = k;
        return 0;
}

static int json_set_b64(json_t *o, const char *key, const void *data, size_t n) {
        _cleanup_free_ char *s = NULL;
        int r = yb_base64_encode(data, n, &s);

        if (r < 0)
                return r;
        if (json_object_set_new(o, key, json_string(s)) < 0)
                return -ENOMEM;
        return 0;
}

static int json_get_b64(json_t *o, const char *key, void *out, size_t n) {
        const char *s = json_string_value(json_object_get(o, key));

        if (!s)
                return -EBADMSG;
        return yb_base64_decode(s, out, n);
}

/* Writes a new file atomically: a temporary name, fsync, a rename that never replaces, fsync of
 * the directory. A crash leaves the file whole or absent, never empty. */
static int json_write_new_file(const char *path, json_t *o, mode_t mode) {
        _cleanup_free_ char *text = NULL, *tmp = NULL, *dir = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *slash;
        int r;

        text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (!text)
                return -ENOMEM;
        if (access(path, F_OK) == 0)
                return -EEXIST;
        if (asprintf(&tmp, "%s.new-%ld", path, (long) getpid()) < 0)
                return -ENOMEM;
        slash = strrchr(path, '/');
        dir = slash ? strndup(path, (size_t) (slash - path) + (slash == path)) : strdup(".");
        if (!dir)
                return -ENOMEM;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return negative_errno();
        r = yb_write_all(fd, text, strlen(text));
        if (r >= 0)
                r = yb_write_all(fd, "\n", 1);
        if (r >= 0)
                r = yb_fsync(fd);
        if (r >= 0 && renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) < 0)
                r = negative_errno();
        if (r < 0) {
                (void) unlink(tmp);
                return r;
        }
        return yb_fsync_dir_at(AT_FDCWD, dir);
}

/* A key file's JSON object from its bytes; -EBADMSG if it is none. */
static int key_json_parse(const void *data, size_t size, json_t **ret) {
        json_error_t err;
        json_t *o = json_loadb(data, size, 0, &err);

        if (!o || !json_is_object(o)) {
                json_decref(o);
                return -EBADMSG;
        }
        *ret = o;
        return 0;
}

static int key_json_load(const char *path, json_t **ret) {
        YbBuf b = YB_BUF_INIT;
        int r;

        r = yb_read_file_at(AT_FDCWD, path, KEY_FILE_MAX, &b);
        if (r < 0) {
                yb_buf_done(&b);
                return r;
        }
        r = key_json_parse(b.data, b.size, ret);
        sodium_memzero(b.data, b.size);
        yb_buf_done(&b);
        return r;
}

static int check_type(json_t *o, const char *type) {
        const char *t = json_string_value(json_object_get(o, "type"));
        json_t *v = json_object_get(o, "version");

        if (!t || !streq(t, type))
                return -EBADMSG;
        if (!json_is_integer(v))
                return -EBADMSG;
        if (json_integer_value(v) != 1)
                return -EPROTONOSUPPORT;
        return 0;
}

static json_t *public_key_json(const YbPublicKey *pub) {
        char id[2 * YB_KEY_ID_SIZE + 1];
        json_t *o = json_object();

        if (!o)
                return NULL;
        yb_key_id_hex(pub->id, id);
        if (json_object_set_new(o, "type", json_string("yunbak-public-key")) < 0 ||
            json_object_set_new(o, "version", json_integer(1)) < 0 ||
            json_object_set_new(o, "system", json_string(pub->system)) < 0 ||
            json_object_set_new(o, "key_id", json_string(id)) < 0 ||
            json_set_b64(o, "x25519", pub->pk, 32) < 0) {
                json_decref(o);
                return NULL;
        }
        return o;
}

int yb_public_key_format(const YbPublicKey *pub, char **ret) {
        json_t *o = public_key_json(pub);
        char *s;

        if (!o)
                return -ENOMEM;
        s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int yb_public_key_write(const char *path, const YbPublicKey *pub) {
        json_t *o = public_key_json(pub);
        int r;

        if (!o)
                return -ENOMEM;
        r = json_write_new_file(path, o, 0644);
        json_decref(o);
        return r;
}

static int public_key_from_json(json_t *o, YbPublicKey *ret) {
        YbPublicKey pub = { 0 };
        const char *system, *id;
        uint8_t want[YB_KEY_ID_SIZE];
        int r;

        r = check_type(o, "yunbak-public-key");
        if (r < 0)
                return r;
        system = json_string_value(json_object_get(o, "system"));
        id = json_string_value(json_object_get(o, "key_id"));
        if (!system || !id || !yb_system_id_valid(system))
                return -EBADMSG;
        strcpy(pub.system, system);
        r = json_get_b64(o, "x25519", pub.pk, 32);
        if (r < 0)
                return r;
        key_id_of(pub.pk, pub.id);
        if (yb_hex_decode(id, want, sizeof(want)) < 0 || memcmp(want, pub.id, sizeof(want)) != 0)
                return -EBADMSG; /* the stated id must match the key: catches a damaged key */
        *ret = pub;
        return 0;
}

int yb_public_key_parse(const char *json, size_t size, YbPublicKey *ret) {
        json_error_t err;
        json_t *o = json_loadb(json, size, 0, &err);
        int r;

        if (!o)
                return -EBADMSG;
        r = public_key_from_json(o, ret);
        json_decref(o);
        return r;
}

int yb_public_key_read(const char *path, YbPublicKey *ret) {
        json_t *o;
        int r = key_json_load(path, &o);

        if (r < 0)
                return r;
        r = public_key_from_json(o, ret);
        json_decref(o);
        return r;
}

static const struct {
        const char *name;
        unsigned long long ops;
        size_t mem;
} kdf_profiles[_YB_KDF_MAX] = {
        [YB_KDF_MODERATE] = { "moderate", crypto_pwhash_OPSLIMIT_MODERATE,
                              crypto_pwhash_MEMLIMIT_MODERATE },
        [YB_KDF_INTERACTIVE] = { "interactive", crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                 crypto_pwhash_MEMLIMIT_INTERACTIVE },
};

static void wrap_ad(const YbPublicKey *pub, char ret[128]) {
        char id[2 * YB_KEY_ID_SIZE + 1];

        yb_key_id_hex(pub->id, id);
        snprintf(ret, 128, "yunbak-secret-key v1 %s %s", pub->system, id);
}

int yb_secret_key_write(const char *path, const YbSecretKey *key, const char *passphrase,
                        YbKdfProfile kdf) {
        uint8_t salt[crypto_pwhash_SALTBYTES];
        uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
        uint8_t wrapped[32 + crypto_aead_xchacha20poly1305_ietf_ABYTES];
        uint8_t *kek;
        char ad[128];
        json_t *o, *k;
        int r = -ENOMEM;

        if (kdf < 0 || kdf >= _YB_KDF_MAX)
                return -EINVAL;
        kek = sodium_malloc(32);
        if (!kek)
                return -ENOMEM;
        randombytes_buf(salt, sizeof(salt));
        randombytes_buf(nonce, sizeof(nonce));
        if (crypto_pwhash(kek, 32, passphrase, strlen(passphrase), salt, kdf_profiles[kdf].ops,
                          kdf_profiles[kdf].mem, crypto_pwhash_ALG_ARGON2ID13) < 0) {
                sodium_free(kek);
                return -ENOMEM; /* Argon2id could not get its memory */
        }
        wrap_ad(&key->pub, ad);
        crypto_aead_xchacha20poly1305_ietf_encrypt(wrapped, NULL, key->sk, 32, (uint8_t *) ad,
                                                   strlen(ad), NULL, nonce, kek);
        sodium_free(kek);

        o = public_key_json(&key->pub);
        k = json_object();
        if (!o || !k)
                goto out;
        if (json_object_set_new(o, "type", json_string("yunbak-secret-key")) < 0 ||
            json_object_set_new(k, "alg", json_string("argon2id13")) < 0 ||
            json_object_set_new(k, "opslimit", json_integer((json_int_t) kdf_profiles[kdf].ops)) <
                    0 ||
            json_object_set_new(k, "memlimit", json_integer((json_int_t) kdf_profiles[kdf].mem)) <
                    0 ||
            json_set_b64(k, "salt", salt, sizeof(salt)) < 0 || json_object_set(o, "kdf", k) < 0 ||
            json_object_set_new(o, "cipher", json_string("xchacha20poly1305-ietf")) < 0 ||
            json_set_b64(o, "nonce", nonce, sizeof(nonce)) < 0 ||
            json_set_b64(o, "wrapped", wrapped, sizeof(wrapped)) < 0)
                goto out;
        r = json_write_new_file(path, o, 0600);
out:
        json_decref(k);
        json_decref(o);
        return r;
}

/* The public part of a private key file's JSON o (changed: its type becomes that of a public
 * key, since the public part has the same shape as a public key file). */
static int secret_key_public(json_t *o, YbPublicKey *ret) {
        const char *type = json_string_value(json_object_get(o, "type"));

        if (!type || !streq(type, "yunbak-secret-key"))
                /* A public key given where the private key belongs is a common slip. */
                return type && streq(type, "yunbak-public-key") ? -ENOKEY : -EBADMSG;
        json_object_set_new(o, "type", json_string("yunbak-public-key"));
        return public_key_from_json(o, ret);
}

int yb_secret_key_read_public(const char *path, YbPublicKey *ret) {
        json_t *o;
        int r = key_json_load(path, &o);

        if (r < 0)
                return r;
        r = secret_key_public(o, ret);
        json_decref(o);
        return r;
}

int yb_secret_key_parse_public(const void *data, size_t size, YbPublicKey *ret) {
        json_t *o;
        int r = key_json_parse(data, size, &o);

        if (r < 0)
                return r;
        r = secret_key_public(o, ret);
        json_decref(o);
        return r;
}

int yb_secret_key_read(const char *path, const char *passphrase, YbSecretKey **ret) {
        _cleanup_(yb_secret_key_freep) YbSecretKey *key = NULL;
        uint8_t salt[crypto_pwhash_SALTBYTES];
        uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
        uint8_t wrapped[32 + crypto_aead_xchacha20poly1305_ietf_ABYTES];
        uint8_t *kek = NULL, check[32];
        json_t *o, *kdf;
        json_int_t ops, mem;
        const char *alg, *cipher, *id;
        char ad[128];
        int r;

        r = key_json_load(path, &o);
        if (r < 0)
                return r;
        key = secret_key_new();
        if (!key) {
                r = -ENOMEM;
                goto out;
        }
        r = secret_key_public(o, &key->pub);
        if (r < 0)
                goto out;
        kdf = json_object_get(o, "kdf");
        alg = json_string_value(json_object_get(kdf, "alg"));
        cipher = json_string_value(json_object_get(o, "cipher"));
        ops = json_integer_value(json_object_get(kdf, "opslimit"));
        mem = json_integer_value(json_object_get(kdf, "memlimit"));
        id = json_string_value(json_object_get(o, "key_id"));
        r = -EBADMSG;
        if (!alg || !cipher || !id || ops <= 0 || mem <= 0)
                goto out;
        if (!streq(alg, "argon2id13") || !streq(cipher, "xchacha20poly1305-ietf")) {
                r = -EPROTONOSUPPORT;
                goto out;
        }
        if ((unsigned long long) ops > crypto_pwhash_OPSLIMIT_SENSITIVE * 4ULL ||
            (unsigned long long) mem > 4ULL * 1024 * 1024 * 1024)
                goto out; /* refuse absurd costs that would hang or exhaust memory */
        if (json_get_b64(kdf, "salt", salt, sizeof(salt)) < 0 ||
            json_get_b64(o, "nonce", nonce, sizeof(nonce)) < 0 ||
            json_get_b64(o, "wrapped", wrapped, sizeof(wrapped)) < 0)
                goto out;
        kek = sodium_malloc(32);
        if (!kek) {
                r = -ENOMEM;
                goto out;
        }
        if (crypto_pwhash(kek, 32, passphrase, strlen(passphrase), salt, (unsigned long long) ops,
                          (size_t) mem, crypto_pwhash_ALG_ARGON2ID13) < 0) {
                r = -ENOMEM;
                goto out;
        }
        wrap_ad(&key->pub, ad);
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(key->sk, NULL, NULL, wrapped,
                                                       sizeof(wrapped), (uint8_t *) ad, strlen(ad),
                                                       nonce, kek) < 0) {
                r = -EKEYREJECTED;
                goto out;
        }
        crypto_scalarmult_base(check, key->sk);
        if (sodium_memcmp(check, key->pub.pk, 32) != 0) {
                r = -EBADMSG;
                goto out;
        }
        *ret = TAKE_PTR(key);
        r = 0;
out:
        sodium_free(kek);
        json_decref(o);
        return r;
}

YbAgentIdentity *yb_agent_identity_free(YbAgentIdentity *a) {
        sodium_free(a);
        return NULL;
}

static int agent_identity_create(const char *path) {
        uint8_t sign_pk[32], sign_sk[64], box_pk[32], box_sk[32];
        json_t *o = json_object();
        int r = -ENOMEM;

        if (!o)
                return -ENOMEM;
        crypto_sign_keypair(sign_pk, sign_sk);
        crypto_box_keypair(box_pk, box_sk);
        if (json_object_set_new(o, "type", json_string("yunbak-agent-key")) >= 0 &&
            json_object_set_new(o, "version", json_integer(1)) >= 0 &&
            json_set_b64(o, "ed25519_secret", sign_sk, sizeof(sign_sk)) >= 0 &&
            json_set_b64(o, "x25519_secret", box_sk, sizeof(box_sk)) >= 0)
                r = json_write_new_file(path, o, 0600);
        sodium_memzero(sign_sk, sizeof(sign_sk));
        sodium_memzero(box_sk, sizeof(box_sk));
        json_decref(o);
        return r;
}

int yb_agent_identity_load(const char *dir, YbAgentIdentity **ret) {
        _cleanup_free_ char *path = NULL;
        YbAgentIdentity *a;
        json_t *o;
        int r;

        if (asprintf(&path, "%s/agent.key", dir) < 0)
                return -ENOMEM;
        r = yb_mkdir_p_at(AT_FDCWD, dir, 0700);
        if (r < 0)
                return r;
        r = agent_identity_create(path);
        if (r < 0 && r != -EEXIST)
                return r;
        r = key_json_load(path, &o);
        if (r < 0)
                return r;
        a = sodium_malloc(sizeof(*a));
        if (!a) {
                json_decref(o);
                return -ENOMEM;
        }
        memset(a, 0, sizeof(*a));
        r = check_type(o, "yunbak-agent-key");
        if (r >= 0)
                r = json_get_b64(o, "ed25519_secret", a->sign_sk, sizeof(a->sign_sk));
        if (r >= 0)
                r = json_get_b64(o, "x25519_secret", a->state.sk, sizeof(a->state.sk));
        json_decref(o);
        if (r < 0) {
                sodium_free(a);
                return r;
        }
        crypto_sign_ed25519_sk_to_pk(a->sign_pk, a->sign_sk);
        crypto_scalarmult_base(a->state.pub.pk, a->state.sk);
        key_id_of(a->state.pub.pk, a->state.pub.id);
        strcpy(a->state.pub.system, "agent-state");
        *ret = a;
        return 0;
}

void yb_sign(const YbAgentIdentity *a, const void *data, size_t n, uint8_t ret_sig[64]) {
        crypto_sign_detached(ret_sig, NULL, data, n, a->sign_sk);
}

int yb_sign_verify(const uint8_t pk[32], const void *data, size_t n, const uint8_t sig[64]) {
        if (crypto_sign_verify_detached(sig, data, n, pk) < 0)
                return -EBADMSG;
        return 0;
}
