#include <fcntl.h>
#include <sys/stat.h>

#include "core/base/buf.h"
#include "core/base/fileio.h"
#include "core/crypto/hash.h"
#include "core/crypto/keys.h"
#include "tests/unit/test.h"

#define PASS "correct horse battery staple"

/* Replaces the first occurrence of old in the file at path (which must contain it). */
static void file_replace(const char *path, const char *old, const char *new) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT, out = YB_BUF_INIT;
        const char *at;

        test_read_file(AT_FDCWD, path, &b);
        ASSERT_OK(yb_buf_append_u8(&b, 0));
        at = strstr((const char *) b.data, old);
        if (!at)
                fail_msg("'%s' not found in %s", old, path);
        ASSERT_OK(yb_buf_append(&out, b.data, (size_t) (at - (const char *) b.data)));
        ASSERT_OK(yb_buf_append(&out, new, strlen(new)));
        ASSERT_OK(yb_buf_printf(&out, "%s", at + strlen(old)));
        test_write_file(AT_FDCWD, path, out.data, out.size);
}

/* The value of the JSON string field key in the file at path, for making a changed copy. */
static char *file_field(const char *path, const char *key) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        _cleanup_free_ char *pattern = NULL;
        const char *at, *end;

        test_read_file(AT_FDCWD, path, &b);
        ASSERT_OK(yb_buf_append_u8(&b, 0));
        ASSERT_TRUE(asprintf(&pattern, "\"%s\": \"", key) > 0);
        at = strstr((const char *) b.data, pattern);
        ASSERT_TRUE(at);
        at += strlen(pattern);
        end = strchr(at, '"');
        ASSERT_TRUE(end);
        return strndup(at, (size_t) (end - at));
}

/* Changes one character of a field's value to another valid one of the same alphabet. */
static void file_change_field_char(const char *path, const char *key, size_t index) {
        _cleanup_free_ char *value = file_field(path, key), *changed = NULL;

        ASSERT_GT(strlen(value), index);
        changed = strdup(value);
        ASSERT_TRUE(changed);
        changed[index] = value[index] == 'A' || value[index] == '0' ? '1' : '0';
        file_replace(path, value, changed);
}

static YbSecretKey *new_key(const char *system) {
        YbSecretKey *k = NULL;

        ASSERT_OK(yb_key_generate(system, &k));
        return k;
}

/* Writes key to DIR/name with PASS and the cheap KDF; returns the path (caller frees). */
static char *write_secret(const TestTmpdir *d, const char *name, const YbSecretKey *k) {
        char *path = test_tmpdir_path(d, name);

        ASSERT_OK(yb_secret_key_write(path, k, PASS, YB_KDF_INTERACTIVE));
        return path;
}

static char *write_public(const TestTmpdir *d, const char *name, const YbSecretKey *k) {
        char *path = test_tmpdir_path(d, name);

        ASSERT_OK(yb_public_key_write(path, &k->pub));
        return path;
}

static void assert_pub_eq(const YbPublicKey *a, const YbPublicKey *b) {
        ASSERT_STREQ(a->system, b->system);
        ASSERT_MEMEQ(a->pk, b->pk, 32);
        ASSERT_MEMEQ(a->id, b->id, YB_KEY_ID_SIZE);
}

TEST(system_id_validation) {
        static const char *const good[] = { "hr", "hr-portal", "a", "0", "a-", "9x" };
        static const char *const bad[] = { "",     "-hr", "HR",       "hr_portal", "hr.portal",
                                           "hr/x", "h r", "\xc3\xa9", "hr\n" };
        char longest[YB_SYSTEM_ID_MAX + 2] = { 0 };
        YbSecretKey *k = NULL;

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                if (!yb_system_id_valid(good[i]))
                        fail_msg("'%s' should be a valid system id", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                if (yb_system_id_valid(bad[i]))
                        fail_msg("'%s' should be an invalid system id", bad[i]);
                ASSERT_ERR(yb_key_generate(bad[i], &k), EINVAL);
                ASSERT_TRUE(k == NULL);
        }
        memset(longest, 'a', YB_SYSTEM_ID_MAX);
        ASSERT_TRUE(yb_system_id_valid(longest));
        longest[YB_SYSTEM_ID_MAX] = 'a';
        ASSERT_FALSE(yb_system_id_valid(longest));
}

TEST(generate_derives_key_id) {
        _cleanup_(yb_secret_key_freep) YbSecretKey *a = new_key("hr-portal");
        _cleanup_(yb_secret_key_freep) YbSecretKey *b = new_key("hr-portal");
        uint8_t h[YB_HASH_SIZE];
        char hex[2 * YB_KEY_ID_SIZE + 1];

        ASSERT_STREQ(a->pub.system, "hr-portal");
        yb_hash_buf(a->pub.pk, 32, h);
        ASSERT_MEMEQ(a->pub.id, h, YB_KEY_ID_SIZE); /* first 8 bytes of BLAKE2b-256(pk) */
        ASSERT_TRUE(memcmp(a->pub.pk, b->pub.pk, 32) != 0);
        ASSERT_TRUE(memcmp(a->sk, b->sk, 32) != 0);
        yb_key_id_hex(a->pub.id, hex);
        ASSERT_EQ(strlen(hex), 16);
        uint8_t back[YB_KEY_ID_SIZE];
        ASSERT_OK(yb_hex_decode(hex, back, sizeof(back)));
        ASSERT_MEMEQ(back, a->pub.id, YB_KEY_ID_SIZE);
}

TEST(public_key_write_read_round_trip) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_secret_key_freep) YbSecretKey *k = new_key("hr");
        _cleanup_free_ char *path = write_public(d, "hr.pub", k), *json = NULL;
        YbPublicKey pub, parsed;

        ASSERT_OK(yb_public_key_read(path, &pub));
        assert_pub_eq(&pub, &k->pub);

        ASSERT_OK(yb_public_key_format(&k->pub, &json));
        ASSERT_OK(yb_public_key_parse(json, strlen(json), &parsed));
        assert_pub_eq(&parsed, &k->pub);
        ASSERT_ERR(yb_public_key_parse(json, strlen(json) - 1, &parsed), EBADMSG);
        ASSERT_ERR(yb_public_key_parse("[]", 2, &parsed), EBADMSG);
}

TEST(public_key_write_refuses_existing_file) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_secret_key_freep) YbSecretKey *a = new_key("hr");
        _cleanup_(yb_secret_key_freep) YbSecretKey *b = new_key("hr");
        _cleanup_free_ char *path = write_public(d, "hr.pub", a);
        YbPublicKey pub;

        ASSERT_ERR(yb_public_key_write(path, &b->pub), EEXIST);
        ASSERT_OK(yb_public_key_read(path, &pub));
        assert_pub_eq(&pub, &a->pub); /* the first key is still there */
}

TEST(public_key_with_wrong_key_id_rejected) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_secret_key_freep) YbSecretKey *k = new_key("hr");
        _cleanup_free_ char *path = write_public(d, "hr.pub", k);
        YbPublicKey pub;

        file_change_field_char(path, "key_id", 0);
        ASSERT_ERR(yb_public_key_read(path, &pub), EBADMSG);
}

TEST(public_key_with_changed_key_rejected) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_secret_key_freep) YbSecretKey *k = new_key("hr");
        _cleanup_free_ char *path = write_public(d, "hr.pub", k);
        YbPublicKey pub;

        file_change_field_char(path, "x25519", 10); /* the key no longer matches its id */
        ASSERT_ERR(yb_public_key_read(path, &pub), EBADMSG);
}

TEST(key_files_of_version_2_unsupported) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_secret_key_freep) YbSecretKey *k = new_key("hr");
        _cleanup_free_ char *pub_path = write_public(d, "hr.pub", k);
        _cleanup_free_ char *key_path = write_secret(d, "hr.key", k);
        YbSecretKey *back = NULL;
        YbPublicKey pub;

        file_replace(pub_path, "\"version\": 1", "\"version\": 2");
        ASSERT_ERR(yb_public_key_read(pub_path, &pub), EPROTONOSUPPORT);
        file_replace(key_path, "\"version\": 1", "\"version\": 2");
        ASSERT_ERR(yb_secret_key_read(key_path, PASS, &back), EPROTONOSUPPORT);
        ASSERT_TRUE(back == NULL);
}

TEST(secret_key_round_trip) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_secret_key_freep) YbSecretKey *k = new_key("hr-portal");
        _cleanup_(yb_secret_key_freep) YbSecretKey *back = NULL;
        _cleanup_free_ char *path = write_secret(d, "hr-portal.key", k);
        struct stat st;

        ASSERT_OK(stat(path, &st));
        ASSERT_EQ(st.st_mode & 0777, 0600);
        ASSERT_OK(yb_secret_key_read(path, PASS, &back));
        assert_pub_eq(&back->pub, &k->pub);
        ASSERT_MEMEQ(back->sk, k->sk, 32);

        /* The private key never appears in the file in clear. */
        _cleanup_(yb_buf_done) YbBuf text = YB_BUF_INIT;
        _cleanup_free_ char *b64 = NULL;
        test_read_file(AT_FDCWD, path, &text);
        ASSERT_OK(yb_buf_append_u8(&text, 0));
        ASSERT_OK(yb_base64_encode(k->sk, 32, &b64));
        ASSERT_TRUE(strstr((char *) text.data, b64) == NULL);
        ASSERT_TRUE(strstr((char *) text.data, "\"memlimit\": 67108864"));
}

TEST(secret_key_wrong_passphrase_rejected) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_secret_key_freep) YbSecretKey *k = new_key("hr");
        _cleanup_free_ char *path = write_secret(d, "hr.key", k);
        YbSecretKey *back = NULL;

        ASSERT_ERR(yb_secret_key_read(path, PASS "!", &back), EKEYREJECTED);
        ASSERT_ERR(yb_secret_key_read(path, "", &back), EKEYREJECTED);
        ASSERT_TRUE(back == NULL);
}

TEST(public_key_given_as_secret_key) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_secret_key_freep) YbSecretKey *k = new_key("hr");
        _cleanup_free_ char *path = write_public(d, "hr.pub", k);
        YbSecretKey *back = NULL;

        ASSERT_ERR(yb_secret_key_read(path, PASS, &back), ENOKEY);
        ASSERT_TRUE(back == NULL);
}

TEST(secret_key_public_fields_without_passphrase) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_secret_key_freep) YbSecretKey *k = new_key("hr-portal");
        _cleanup_free_ char *key = write_secret(d, "hr-portal.key", k),
                            *pub = write_public(d, "hr-portal.pub", k);
        YbPublicKey back;
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;

        ASSERT_OK(yb_secret_key_read_public(key, &back));
        assert_pub_eq(&back, &k->pub);
        /* The same from the file's bytes, as key destroy reads them through its descriptor. */
        ASSERT_OK(yb_read_file_at(AT_FDCWD, key, 65536, &b));
        memset(&back, 0, sizeof(back));
        ASSERT_OK(yb_secret_key_parse_public(b.data, b.size, &back));
        assert_pub_eq(&back, &k->pub);
        ASSERT_ERR(yb_secret_key_parse_public(b.data, b.size / 2, &back), EBADMSG);
        ASSERT_ERR(yb_secret_key_parse_public("{\"type\": \"yunbak-public-key\"}", 29, &back),
                   ENOKEY);
        /* The public half is named as such; anything else is not a private key file. */
        ASSERT_ERR(yb_secret_key_read_public(pub, &back), ENOKEY);
        file_replace(key, "yunbak-secret-key", "yunbak-agent-key");
        ASSERT_ERR(yb_secret_key_read_public(key, &back), EBADMSG);
        test_write_file(AT_FDCWD, pub, "not json", 8);
        ASSERT_ERR(yb_secret_key_read_public(pub, &back), EBADMSG);
}

TEST(secret_key_with_flipped_wrapped_byte_rejected) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_secret_key_freep) YbSecretKey *k = new_key("hr");
        _cleanup_free_ char *path = write_secret(d, "hr.key", k);
        YbSecretKey *back = NULL;
        int r;

        file_change_field_char(path, "wrapped", 20);
        r = yb_secret_key_read(path, PASS, &back);
        ASSERT_TRUE(r == -EKEYREJECTED || r == -EBADMSG); /* AEAD cannot tell which */
        ASSERT_TRUE(back == NULL);
}

TEST(secret_key_with_changed_public_half_rejected) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_secret_key_freep) YbSecretKey *k = new_key("hr");
        _cleanup_(yb_secret_key_freep) YbSecretKey *other = new_key("hr");
        _cleanup_free_ char *path = write_secret(d, "hr.key", k);
        _cleanup_free_ char *pk = file_field(path, "x25519"), *id = file_field(path, "key_id");
        _cleanup_free_ char *other_pk = NULL;
        char other_id[2 * YB_KEY_ID_SIZE + 1];
        YbSecretKey *back = NULL;

        /* A consistent but different public half: the wrapped key's associated data (and the
         * derived public key) no longer match. */
        ASSERT_OK(yb_base64_encode(other->pub.pk, 32, &other_pk));
        yb_key_id_hex(other->pub.id, other_id);
        file_replace(path, pk, other_pk);
        file_replace(path, id, other_id);
        ASSERT_TRUE(yb_secret_key_read(path, PASS, &back) < 0);
        ASSERT_TRUE(back == NULL);
}

TEST(secret_key_write_refuses_existing_file) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_secret_key_freep) YbSecretKey *a = new_key("hr");
        _cleanup_(yb_secret_key_freep) YbSecretKey *b = new_key("hr");
        _cleanup_(yb_secret_key_freep) YbSecretKey *back = NULL;
        _cleanup_free_ char *path = write_secret(d, "hr.key", a);

        ASSERT_ERR(yb_secret_key_write(path, b, PASS, YB_KDF_INTERACTIVE), EEXIST);
        ASSERT_ERR(yb_secret_key_write(path, b, PASS, _YB_KDF_MAX), EINVAL);
        ASSERT_OK(yb_secret_key_read(path, PASS, &back));
        ASSERT_MEMEQ(back->sk, a->sk, 32);
}

TEST(damaged_secret_key_files_rejected) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_secret_key_freep) YbSecretKey *k = new_key("hr");
        _cleanup_free_ char *path = write_secret(d, "hr.key", k);
        _cleanup_free_ char *missing = test_tmpdir_path(d, "missing.key");
        YbSecretKey *back = NULL;

        ASSERT_ERR(yb_secret_key_read(missing, PASS, &back), ENOENT);

        file_replace(path, "\"cipher\": \"xchacha20poly1305-ietf\"", "\"cipher\": \"aes\"");
        ASSERT_ERR(yb_secret_key_read(path, PASS, &back), EPROTONOSUPPORT);
        file_replace(path, "\"cipher\": \"aes\"", "\"cipher\": \"xchacha20poly1305-ietf\"");

        /* A cost that would exhaust memory is refused before the KDF runs. */
        file_replace(path, "\"memlimit\": 67108864", "\"memlimit\": 68719476736");
        ASSERT_ERR(yb_secret_key_read(path, PASS, &back), EBADMSG);
        file_replace(path, "\"memlimit\": 68719476736", "\"memlimit\": 0");
        ASSERT_ERR(yb_secret_key_read(path, PASS, &back), EBADMSG);

        file_replace(path, "{", "[");
        ASSERT_ERR(yb_secret_key_read(path, PASS, &back), EBADMSG);
        static const char *const junk[] = { "[1, 2]", "{\"type\": \"yunbak-agent-key\"}", "" };
        for (size_t i = 0; i < ELEMENTSOF(junk); i++) {
                test_write_file(AT_FDCWD, path, junk[i], strlen(junk[i]));
                ASSERT_ERR(yb_secret_key_read(path, PASS, &back), EBADMSG);
        }
        ASSERT_TRUE(back == NULL);
}

TEST(agent_identity_created_then_reloaded) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_agent_identity_freep) YbAgentIdentity *a = NULL, *b = NULL;
        _cleanup_free_ char *dir = test_tmpdir_path(d, "state/agent");
        struct stat st;

        ASSERT_OK(yb_agent_identity_load(dir, &a)); /* creates the missing directories too */
        ASSERT_OK(fstatat(d->fd, "state/agent/agent.key", &st, 0));
        ASSERT_EQ(st.st_mode & 0777, 0600);
        ASSERT_STREQ(a->state.pub.system, "agent-state");

        ASSERT_OK(yb_agent_identity_load(dir, &b));
        ASSERT_MEMEQ(a->sign_pk, b->sign_pk, 32);
        ASSERT_MEMEQ(a->sign_sk, b->sign_sk, 64);
        ASSERT_MEMEQ(a->state.sk, b->state.sk, 32);
        assert_pub_eq(&a->state.pub, &b->state.pub);

        uint8_t h[YB_HASH_SIZE];
        yb_hash_buf(a->state.pub.pk, 32, h);
        ASSERT_MEMEQ(a->state.pub.id, h, YB_KEY_ID_SIZE);
}

TEST(agent_identity_of_wrong_type_rejected) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_secret_key_freep) YbSecretKey *k = new_key("hr");
        YbAgentIdentity *a = NULL;

        free(write_public(d, "agent.key", k)); /* a public key where the agent key belongs */
        ASSERT_ERR(yb_agent_identity_load(d->path, &a), EBADMSG);
        ASSERT_TRUE(a == NULL);
}

TEST(sign_and_verify) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_agent_identity_freep) YbAgentIdentity *a = NULL, *b = NULL;
        _cleanup_free_ char *da = test_tmpdir_path(d, "a"), *db = test_tmpdir_path(d, "b");
        static const char msg[] = "snapshot header line";
        uint8_t sig[64];

        ASSERT_OK(yb_agent_identity_load(da, &a));
        ASSERT_OK(yb_agent_identity_load(db, &b));
        yb_sign(a, msg, strlen(msg), sig);
        ASSERT_OK(yb_sign_verify(a->sign_pk, msg, strlen(msg), sig));
        ASSERT_ERR(yb_sign_verify(b->sign_pk, msg, strlen(msg), sig), EBADMSG);
        ASSERT_ERR(yb_sign_verify(a->sign_pk, msg, strlen(msg) - 1, sig), EBADMSG);
        ASSERT_ERR(yb_sign_verify(a->sign_pk, "Snapshot header line", strlen(msg), sig), EBADMSG);
        for (size_t i = 0; i < sizeof(sig); i += 7) {
                sig[i] ^= 0x01;
                ASSERT_ERR(yb_sign_verify(a->sign_pk, msg, strlen(msg), sig), EBADMSG);
                sig[i] ^= 0x01;
        }
        ASSERT_OK(yb_sign_verify(a->sign_pk, msg, strlen(msg), sig));
}

TEST(base64_and_hex) {
        static const uint8_t data[] = { 0x00, 0xff, 0x10, 0x80, 0x7f };
        _cleanup_free_ char *b64 = NULL;
        uint8_t back[5], small[4], big[6];
        char hex[2 * sizeof(data) + 1];

        ASSERT_OK(yb_base64_encode(data, sizeof(data), &b64));
        ASSERT_STREQ(b64, "AP8QgH8=");
        ASSERT_OK(yb_base64_decode(b64, back, sizeof(back)));
        ASSERT_MEMEQ(back, data, sizeof(data));
        ASSERT_ERR(yb_base64_decode(b64, small, sizeof(small)), EBADMSG);
        ASSERT_ERR(yb_base64_decode(b64, big, sizeof(big)), EBADMSG);
        ASSERT_ERR(yb_base64_decode("AP8Q gH8=", back, sizeof(back)), EBADMSG);
        ASSERT_ERR(yb_base64_decode("AP8QgH8", back, sizeof(back)), EBADMSG); /* no padding */

        yb_hex_encode(data, sizeof(data), hex);
        ASSERT_STREQ(hex, "00ff10807f");
        ASSERT_OK(yb_hex_decode("00FF10807F", back, sizeof(back)));
        ASSERT_MEMEQ(back, data, sizeof(data));
        ASSERT_ERR(yb_hex_decode("00ff10807", back, sizeof(back)), EBADMSG);
        ASSERT_ERR(yb_hex_decode("00ff10807f00", back, sizeof(back)), EBADMSG);
        ASSERT_ERR(yb_hex_decode("00ff10807g", back, sizeof(back)), EBADMSG);
}
