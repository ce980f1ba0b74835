#include "core/crypto/seal.h"

#include <sodium.h>

#include "core/base/buf.h"
#include "core/base/log.h"

#define SEALED_KEY_SIZE (crypto_box_SEALBYTES + crypto_secretstream_xchacha20poly1305_KEYBYTES)
#define SS_HEADER_SIZE crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define SS_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
/* magic(6) version(1) suite(1) chunk_size(4) key_id(8) context_len(2) */
#define FIXED_SIZE (6 + 1 + 1 + 4 + YB_KEY_ID_SIZE + 2)
#define CHUNK_MAX (16U * 1024 * 1024)

struct YbSealWriter {
        crypto_secretstream_xchacha20poly1305_state st;
        YbWriteFn write_fn;
        void *userdata;
        uint8_t *plain;
        size_t fill;
        uint8_t *cipher;
        YbBuf ad; /* the header, authenticated with the first chunk */
        bool first, finished;
        uint64_t plain_bytes;
};

YbSealWriter *yb_seal_writer_free(YbSealWriter *w) {
        if (!w)
                return NULL;
        sodium_memzero(&w->st, sizeof(w->st));
        if (w->plain)
                sodium_memzero(w->plain, YB_SEAL_CHUNK_SIZE);
        free(w->plain);
        free(w->cipher);
        yb_buf_done(&w->ad);
        free(w);
        return NULL;
}

int yb_seal_writer_new(const YbPublicKey *pub, const char *context, YbWriteFn write_fn,
                       void *userdata, YbSealWriter **ret) {
        _cleanup_(yb_seal_writer_freep) YbSealWriter *w = NULL;
        uint8_t key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
        uint8_t sealed[SEALED_KEY_SIZE], ssh[SS_HEADER_SIZE];
        size_t clen = strlen(context);
        int r;

        if (clen > YB_SEAL_CONTEXT_MAX)
                return -EINVAL;
        w = new0(YbSealWriter, 1);
        if (!w)
                return -ENOMEM;
        w->plain = malloc(YB_SEAL_CHUNK_SIZE);
        w->cipher = malloc(YB_SEAL_CHUNK_SIZE + SS_ABYTES);
        if (!w->plain || !w->cipher)
                return -ENOMEM;
        w->write_fn = write_fn;
        w->userdata = userdata;
        w->first = true;

        crypto_secretstream_xchacha20poly1305_keygen(key);
        if (crypto_box_seal(sealed, key, sizeof(key), pub->pk) < 0)
                return -EIO;
        crypto_secretstream_xchacha20poly1305_init_push(&w->st, ssh, key);
        sodium_memzero(key, sizeof(key));

        r = yb_buf_append(&w->ad, YB_SEAL_MAGIC, 6);
        if (r >= 0)
                r = yb_buf_append_u8(&w->ad, YB_SEAL_VERSION);
        if (r >= 0)
                r = yb_buf_append_u8(&w->ad, YB_SEAL_SUITE_X25519_XCHACHA20);
        if (r >= 0)
                r = yb_buf_append_le32(&w->ad, YB_SEAL_CHUNK_SIZE);
        if (r >= 0)
                r = yb_buf_append(&w->ad, pub->id, YB_KEY_ID_SIZE);
        if (r >= 0)
                r = yb_buf_append_u8(&w->ad, (uint8_t) (clen & 0xff));
        if (r >= 0)
                r = yb_buf_append_u8(&w->ad, (uint8_t) (clen >> 8));
        if (r >= 0)
                r = yb_buf_append(&w->ad, context, clen);
        if (r >= 0)
                r = yb_buf_append(&w->ad, sealed, sizeof(sealed));
        if (r >= 0)
                r = yb_buf_append(&w->ad, ssh, sizeof(ssh));
        if (r < 0)
                return r;
        r = write_fn(userdata, w->ad.data, w->ad.size);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(w);
        return 0;
}

static int push_chunk(YbSealWriter *w, uint8_t tag) {
        unsigned long long clen;
        const uint8_t *ad = w->first ? w->ad.data : NULL;
        size_t adlen = w->first ? w->ad.size : 0;

        crypto_secretstream_xchacha20poly1305_push(&w->st, w->cipher, &clen, w->plain, w->fill, ad,
                                                   adlen, tag);
        w->first = false;
        w->fill = 0;
        return w->write_fn(w->userdata, w->cipher, (size_t) clen);
}

int yb_seal_write(YbSealWriter *w, const void *data, size_t n) {
        const uint8_t *p = data;

        if (w->finished)
                return -EINVAL;
        while (n > 0) {
                size_t k;

                /* A full chunk is pushed only when more data follows, so that the final chunk
                 * (which may be empty) always carries the FINAL tag. */
                if (w->fill == YB_SEAL_CHUNK_SIZE) {
                        int r = push_chunk(w, 0);

                        if (r < 0)
                                return r;
                }
                k = MIN(n, (size_t) YB_SEAL_CHUNK_SIZE - w->fill);
                memcpy(w->plain + w->fill, p, k);
                w->fill += k;
                p += k;
                n -= k;
                w->plain_bytes += k;
        }
        return 0;
}

int yb_seal_finish(YbSealWriter *w) {
        if (w->finished)
                return -EINVAL;
        w->finished = true;
        return push_chunk(w, crypto_secretstream_xchacha20poly1305_TAG_FINAL);
}

uint64_t yb_seal_writer_plain_bytes(const YbSealWriter *w) {
        return w->plain_bytes;
}

int yb_seal_info_parse(const void *data, size_t n, YbSealInfo *ret) {
        YbCursor c = yb_cursor(data, n);
        YbSealInfo info = { 0 };
        const uint8_t *p;
        uint8_t lo, hi;
        size_t clen;

        if (yb_cursor_raw(&c, 6, &p) < 0 || memcmp(p, YB_SEAL_MAGIC, 6) != 0)
                return -EBADMSG;
        if (yb_cursor_u8(&c, &info.version) < 0 || yb_cursor_u8(&c, &info.suite) < 0)
                return -EBADMSG;
        if (info.version != YB_SEAL_VERSION || info.suite != YB_SEAL_SUITE_X25519_XCHACHA20)
                return -EPROTONOSUPPORT;
        if (yb_cursor_le32(&c, &info.chunk_size) < 0 || info.chunk_size == 0 ||
            info.chunk_size > CHUNK_MAX)
                return -EBADMSG;
        if (yb_cursor_raw(&c, YB_KEY_ID_SIZE, &p) < 0)
                return -EBADMSG;
        memcpy(info.key_id, p, YB_KEY_ID_SIZE);
        if (yb_cursor_u8(&c, &lo) < 0 || yb_cursor_u8(&c, &hi) < 0)
                return -EBADMSG;
        clen = (size_t) lo | ((size_t) hi << 8);
        if (clen > YB_SEAL_CONTEXT_MAX || yb_cursor_raw(&c, clen, &p) < 0)
                return -EBADMSG;
        memcpy(info.context, p, clen);
        info.context[clen] = 0;
        if (memchr(info.context, 0, clen))
                return -EBADMSG;
        if (yb_cursor_raw(&c, SEALED_KEY_SIZE + SS_HEADER_SIZE, &p) < 0)
                return -EBADMSG;
        info.header_size = n - c.left;
        *ret = info;
        return 0;
}

struct YbSealReader {
        crypto_secretstream_xchacha20poly1305_state st;
        YbSealInfo info;
        YbReadFn read_fn;
        void *userdata;
        YbBuf ad;
        uint8_t *cipher;
        uint8_t *plain;
        size_t plain_len, plain_pos;
        bool first, done;
};

YbSealReader *yb_seal_reader_free(YbSealReader *r) {
        if (!r)
                return NULL;
        sodium_memzero(&r->st, sizeof(r->st));
        if (r->plain)
                sodium_memzero(r->plain, r->info.chunk_size);
        free(r->plain);
        free(r->cipher);
        yb_buf_done(&r->ad);
        free(r);
        return NULL;
}

static int read_exact(YbSealReader *s, void *data, size_t n, size_t *ret_got) {
        ssize_t k = 0;
        size_t got = 0;

        while (got < n) {
                k = s->read_fn(s->userdata, (uint8_t *) data + got, n - got);
                if (k < 0)
                        return (int) k;
                if (k == 0)
                        break;
                got += (size_t) k;
        }
        *ret_got = got;
        return 0;
}

int yb_seal_reader_new(const YbSecretKey *key, const char *expect_context, YbReadFn read_fn,
                       void *userdata, YbSealReader **ret) {
        _cleanup_(yb_seal_reader_freep) YbSealReader *s = NULL;
        uint8_t fixed[FIXED_SIZE], dkey[crypto_secretstream_xchacha20poly1305_KEYBYTES];
        size_t clen, got = 0;
        const uint8_t *tail;
        int r;

        s = new0(YbSealReader, 1);
        if (!s)
                return -ENOMEM;
        s->read_fn = read_fn;
        s->userdata = userdata;
        s->first = true;

        r = read_exact(s, fixed, sizeof(fixed), &got);
        if (r < 0)
                return r;
        if (got < 6 || memcmp(fixed, YB_SEAL_MAGIC, 6) != 0)
                return -EBADMSG;
        if (got < sizeof(fixed))
                return -EBADMSG;
        clen = (size_t) fixed[FIXED_SIZE - 2] | ((size_t) fixed[FIXED_SIZE - 1] << 8);
        if (clen > YB_SEAL_CONTEXT_MAX)
                return -EBADMSG;
        r = yb_buf_append(&s->ad, fixed, sizeof(fixed));
        if (r < 0)
                return r;
        r = yb_buf_reserve(&s->ad, clen + SEALED_KEY_SIZE + SS_HEADER_SIZE);
        if (r < 0)
                return r;
        r = read_exact(s, s->ad.data + s->ad.size, clen + SEALED_KEY_SIZE + SS_HEADER_SIZE, &got);
        if (r < 0)
                return r;
        if (got < clen + SEALED_KEY_SIZE + SS_HEADER_SIZE)
                return -EBADMSG;
        s->ad.size += got;
        r = yb_seal_info_parse(s->ad.data, s->ad.size, &s->info);
        if (r < 0)
                return r;
        if (expect_context && !streq(expect_context, s->info.context))
                return log_debug_errno(EBADMSG, "Sealed file has context '%s', expected '%s'.",
                                       s->info.context, expect_context);
        if (memcmp(s->info.key_id, key->pub.id, YB_KEY_ID_SIZE) != 0)
                return -EKEYREJECTED;
        tail = s->ad.data + s->ad.size - SEALED_KEY_SIZE - SS_HEADER_SIZE;
        if (crypto_box_seal_open(dkey, tail, SEALED_KEY_SIZE, key->pub.pk, key->sk) < 0)
                return -EKEYREJECTED;
        r = crypto_secretstream_xchacha20poly1305_init_pull(&s->st, tail + SEALED_KEY_SIZE, dkey);
        sodium_memzero(dkey, sizeof(dkey));
        if (r < 0)
                return -EBADMSG;
        s->cipher = malloc(s->info.chunk_size + SS_ABYTES + 1);
        s->plain = malloc(s->info.chunk_size);
        if (!s->cipher || !s->plain)
                return -ENOMEM;
        *ret = TAKE_PTR(s);
        return 0;
}

static int pull_chunk(YbSealReader *s) {
        unsigned long long plen;
        unsigned char tag;
        size_t got = 0;
        int r;

        r = read_exact(s, s->cipher, s->info.chunk_size + SS_ABYTES, &got);
        if (r < 0)
                return r;
        if (got < SS_ABYTES)
                return -EBADMSG; /* cut short before the final chunk */
        if (crypto_secretstream_xchacha20poly1305_pull(&s->st, s->plain, &plen, &tag, s->cipher,
                                                       got, s->first ? s->ad.data : NULL,
                                                       s->first ? s->ad.size : 0) < 0)
                return -EBADMSG;
        s->first = false;
        s->plain_len = (size_t) plen;
        s->plain_pos = 0;
        if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
                uint8_t extra;

                /* Nothing may follow the final chunk. */
                r = read_exact(s, &extra, 1, &got);
                if (r < 0)
                        return r;
                if (got != 0)
                        return -EBADMSG;
                s->done = true;
        } else if (got < s->info.chunk_size + SS_ABYTES)
                return -EBADMSG; /* a short chunk that is not final: truncated */
        return 0;
}

ssize_t yb_seal_read(YbSealReader *s, void *data, size_t n) {
        size_t out = 0;

        while (out < n) {
                size_t k;

                if (s->plain_pos == s->plain_len) {
                        int r;

                        if (s->done)
                                break;
                        r = pull_chunk(s);
                        if (r < 0)
                                return r;
                        continue;
                }
                k = MIN(n - out, s->plain_len - s->plain_pos);
                memcpy((uint8_t *) data + out, s->plain + s->plain_pos, k);
                s->plain_pos += k;
                out += k;
        }
        return (ssize_t) out;
}

ssize_t yb_seal_peek(YbSealReader *s, const void **ret) {
        size_t k;

        while (s->plain_pos == s->plain_len) {
                int r;

                if (s->done)
                        return 0;
                r = pull_chunk(s);
                if (r < 0)
                        return r;
        }
        k = s->plain_len - s->plain_pos;
        *ret = s->plain + s->plain_pos;
        s->plain_pos += k;
        return (ssize_t) k;
}

const YbSealInfo *yb_seal_reader_info(const YbSealReader *s) {
        return &s->info;
}
