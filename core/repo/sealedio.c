/* Sealed files in a store: the write pipeline (zstd -> seal -> hash -> store) and its reverse. */
#include <stdio.h>

#include "core/base/log.h"
#include "core/base/pipeline.h"
#include "core/codec/zstdio.h"
#include "core/repo/repo.h"

struct YbSealedOut {
        YbStoreFile *file;
        YbHash hash;
        uint64_t size;
        YbSealWriter *seal;
        YbZstdWriter *zstd;
        YbPipeline *pipe;      /* when set, compression and sealing run in its thread */
        YbPipeline *seal_pipe; /* when set, sealing, hashing and writing run in a thread of
                                * their own, fed by the compression's */
        bool finishing;        /* yb_sealed_out_finish_start was called */
        int tail_error;        /* the end's error, without a pipeline */
        char name[32];
};

#define PIPE_BLOCK (4 * 1024 * 1024)
#define PIPE_DEPTH 3
#define SIDE_BLOCK (512 * 1024)
/* The stored bytes read ahead of the opening: a few small blocks (memory counts twice, as the
 * next volume is opened while one is restored). */
#define STORED_BLOCK (1024 * 1024)
#define STORED_DEPTH 2
/* Compressed bytes between the compression's thread and the sealing's. */
#define SEAL_BLOCK (1024 * 1024)
#define SEAL_DEPTH 3

void yb_seal_context(const char *system, const char *id, const char *file, char ret[256]) {
        snprintf(ret, 256, "yunbak/%d %s %s %s", YB_FORMAT_VERSION, system, id, file);
}

static int file_sink(void *userdata, const void *data, size_t n) {
        YbSealedOut *o = userdata;

        yb_hash_update(&o->hash, data, n);
        o->size += n;
        return yb_store_write(o->file, data, n);
}

static int seal_block(void *userdata, const void *data, size_t n) {
        YbSealedOut *o = userdata;

        return yb_seal_write(o->seal, data, n);
}

static int seal_sink(void *userdata, const void *data, size_t n) {
        YbSealedOut *o = userdata;

        if (o->seal_pipe)
                return yb_pipeline_write(o->seal_pipe, data, n);
        return yb_seal_write(o->seal, data, n);
}

/* Ends the seal, fsyncs and closes; in the sealing's thread when there is one. */
static int seal_tail(void *userdata) {
        YbSealedOut *o = userdata;
        int r;

        r = yb_seal_finish(o->seal);
        if (r < 0)
                return r;
        r = yb_store_sync(o->file);
        if (r < 0)
                return r;
        o->file = yb_store_file_close(o->file);
        return 0;
}

/* Compresses and seals; in the pipeline's thread when there is one. */
static int consume(void *userdata, const void *data, size_t n) {
        YbSealedOut *o = userdata;

        if (o->zstd)
                return yb_zstd_write(o->zstd, data, n);
        return yb_seal_write(o->seal, data, n);
}

/* Ends the streams, fsyncs and closes; in the pipeline's thread when there is one. */
static int finish_tail(void *userdata) {
        YbSealedOut *o = userdata;
        int r;

        if (o->zstd) {
                r = yb_zstd_finish(o->zstd);
                if (r < 0)
                        return r;
        }
        if (o->seal_pipe)
                return yb_pipeline_finish(o->seal_pipe); /* which runs seal_tail */
        return seal_tail(o);
}

YbSealedOut *yb_sealed_out_free(YbSealedOut *o) {
        if (!o)
                return NULL;
        yb_pipeline_free(o->pipe); /* first: its thread uses the rest */
        yb_pipeline_free(o->seal_pipe);
        yb_zstd_writer_free(o->zstd);
        yb_seal_writer_free(o->seal);
        yb_store_file_abort(o->file); /* unfinished: on an object store, never to appear */
        free(o);
        return NULL;
}

int yb_sealed_out_new(YbStore *s, const char *path, const char *name, const YbPublicKey *pub,
                      const char *context, int zstd_level, int zstd_workers, YbSealedOut **ret) {
        _cleanup_(yb_sealed_out_freep) YbSealedOut *o = new0(YbSealedOut, 1);
        int r;

        if (!o)
                return -ENOMEM;
        if (strlen(name) >= sizeof(o->name))
                return -EINVAL;
        strcpy(o->name, name);
        yb_hash_init(&o->hash);
        /* A backup's file: under Object Lock, kept for the store's retention. */
        r = yb_store_create_ex(s, path, YB_STORE_RETAIN, &o->file);
        if (r < 0)
                return r;
        r = yb_seal_writer_new(pub, context, file_sink, o, &o->seal);
        if (r < 0)
                return r;
        if (zstd_level > 0) {
                r = yb_zstd_writer_new(zstd_level, 0, seal_sink, o, &o->zstd);
                if (r < 0)
                        return r;
        }
        if (zstd_workers > 0 || zstd_workers == YB_SEALED_OUT_SIDE) {
                r = yb_pipeline_new(consume, o,
                                    zstd_workers == YB_SEALED_OUT_SIDE ? SIDE_BLOCK : PIPE_BLOCK,
                                    PIPE_DEPTH, &o->pipe);
                if (r < 0)
                        return r;
                yb_pipeline_set_end(o->pipe, finish_tail);
        }
        /* A second thread when compression has one and more are allowed: sealing and hashing
         * (a quarter of the compression's time at level 3) then run beside it. */
        if (zstd_workers > 1 && o->zstd) {
                r = yb_pipeline_new(seal_block, o, SEAL_BLOCK, SEAL_DEPTH, &o->seal_pipe);
                if (r < 0)
                        return r;
                yb_pipeline_set_end(o->seal_pipe, seal_tail);
        }
        *ret = TAKE_PTR(o);
        return 0;
}

int yb_sealed_out_write(YbSealedOut *o, const void *data, size_t n) {
        if (o->pipe)
                return yb_pipeline_write(o->pipe, data, n);
        return consume(o, data, n);
}

int yb_sealed_out_write_cb(void *userdata, const void *data, size_t n) {
        return yb_sealed_out_write(userdata, data, n);
}

int yb_sealed_out_finish_start(YbSealedOut *o) {
        if (o->finishing)
                return 0;
        o->finishing = true;
        if (o->pipe)
                return yb_pipeline_close(o->pipe);
        o->tail_error = finish_tail(o);
        return o->tail_error;
}

int yb_sealed_out_finish(YbSealedOut *o, YbFileRef *ret) {
        int r;

        r = yb_sealed_out_finish_start(o);
        if (r >= 0 && o->pipe)
                r = yb_pipeline_finish(o->pipe);
        o->pipe = yb_pipeline_free(o->pipe);
        if (r >= 0)
                r = o->tail_error;
        if (r < 0)
                return r;
        memset(ret, 0, sizeof(*ret));
        strcpy(ret->name, o->name);
        ret->size = o->size;
        yb_hash_final(&o->hash, ret->hash);
        return 0;
}

struct YbSealedIn {
        YbStoreFile *file;
        YbFileRef ref;
        bool check, checked;
        YbHash hash;
        uint64_t size;
        YbSealReader *seal;
        YbZstdReader *zstd;
        YbPrefetch *stored;   /* reads and hashes the stored bytes ahead, on a thread */
        YbPrefetch *prefetch; /* opens and decompresses them ahead, on another */
        uint8_t *peek_buf;    /* yb_sealed_in_peek's, with no prefetch thread */
};

YbSealedIn *yb_sealed_in_free(YbSealedIn *i) {
        if (!i)
                return NULL;
        yb_prefetch_free(i->prefetch); /* first: its thread uses the rest */
        yb_prefetch_free(i->stored);   /* then this one: its thread uses the file */
        yb_zstd_reader_free(i->zstd);
        yb_seal_reader_free(i->seal);
        yb_store_file_close(i->file);
        free(i->peek_buf);
        free(i);
        return NULL;
}

/* Hashes every stored byte; at the end of the file compares with the signed header. */
static ssize_t file_source(void *userdata, void *data, size_t n) {
        YbSealedIn *i = userdata;
        ssize_t k = yb_store_read(i->file, data, n);

        if (k < 0)
                return k;
        yb_hash_update(&i->hash, data, (size_t) k);
        i->size += (uint64_t) k;
        if (i->check && i->size > i->ref.size)
                return -EBADMSG;
        if (k == 0 && i->check && !i->checked) {
                uint8_t h[YB_HASH_SIZE];

                /* End of file (the first time a read returns nothing): the whole file must be
                 * exactly what the signed header describes. */
                yb_hash_final(&i->hash, h);
                i->checked = true;
                if (i->size != i->ref.size || memcmp(h, i->ref.hash, YB_HASH_SIZE) != 0)
                        return -EBADMSG;
        }
        return k;
}

/* The stored bytes for the seal reader: from the thread that reads and hashes them ahead, once
 * there is one. */
static ssize_t stored_source(void *userdata, void *data, size_t n) {
        YbSealedIn *i = userdata;

        if (i->stored)
                return yb_prefetch_read(i->stored, data, n);
        return file_source(i, data, n);
}

static ssize_t seal_source(void *userdata, const void **ret) {
        YbSealedIn *i = userdata;

        return yb_seal_peek(i->seal, ret);
}

int yb_sealed_in_open(YbStore *s, const char *path, const YbFileRef *ref, const YbSecretKey *key,
                      const char *context, bool zstd, YbSealedIn **ret) {
        _cleanup_(yb_sealed_in_freep) YbSealedIn *i = new0(YbSealedIn, 1);
        int r;

        if (!i)
                return -ENOMEM;
        if (ref) {
                i->ref = *ref;
                i->check = true;
        }
        yb_hash_init(&i->hash);
        r = yb_store_open_read(s, path, &i->file);
        if (r < 0)
                return r;
        r = yb_seal_reader_new(key, context, stored_source, i, &i->seal);
        if (r < 0)
                return r;
        if (zstd) {
                r = yb_zstd_reader_new_peek(seal_source, i, &i->zstd);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(i);
        return 0;
}

static ssize_t plain_source(void *userdata, void *data, size_t n) {
        YbSealedIn *i = userdata;

        if (i->zstd)
                return yb_zstd_read(i->zstd, data, n);
        return yb_seal_read(i->seal, data, n);
}

/* Two threads, each about half of the work: reading and hashing the stored bytes (BLAKE2b), and
 * opening (XChaCha20-Poly1305) and decompressing them. One thread for both was a restore's
 * critical path (issue 16). */
int yb_sealed_in_prefetch(YbSealedIn *i) {
        int r;

        if (i->prefetch)
                return 0;
        r = yb_prefetch_new(file_source, i, STORED_BLOCK, STORED_DEPTH, &i->stored);
        if (r < 0)
                return r;
        return yb_prefetch_new(plain_source, i, PIPE_BLOCK, PIPE_DEPTH, &i->prefetch);
}

ssize_t yb_sealed_in_read(YbSealedIn *i, void *data, size_t n) {
        if (i->prefetch)
                return yb_prefetch_read(i->prefetch, data, n);
        return plain_source(i, data, n);
}

ssize_t yb_sealed_in_read_cb(void *userdata, void *data, size_t n) {
        return yb_sealed_in_read(userdata, data, n);
}

#define PEEK_BUF (128 * 1024)

ssize_t yb_sealed_in_peek(YbSealedIn *i, const void **ret) {
        ssize_t k;

        if (i->prefetch)
                return yb_prefetch_peek(i->prefetch, ret);
        if (!i->peek_buf) {
                i->peek_buf = malloc(PEEK_BUF);
                if (!i->peek_buf)
                        return -ENOMEM;
        }
        k = plain_source(i, i->peek_buf, PEEK_BUF);
        *ret = i->peek_buf;
        return k;
}

ssize_t yb_sealed_in_peek_cb(void *userdata, const void **ret) {
        return yb_sealed_in_peek(userdata, ret);
}

int yb_sealed_read_all(YbStore *s, const char *path, const YbFileRef *ref, const YbSecretKey *key,
                       const char *context, bool zstd, size_t max, YbBuf *out) {
        _cleanup_(yb_sealed_in_freep) YbSealedIn *i = NULL;
        int r;

        r = yb_sealed_in_open(s, path, ref, key, context, zstd, &i);
        if (r < 0)
                return r;
        /* Straight into out, growing it as it fills (a signature index is some 10 MB). */
        for (;;) {
                ssize_t k;

                r = yb_buf_reserve(out, 65536);
                if (r < 0)
                        return r;
                k = yb_sealed_in_read(i, out->data + out->size, out->alloc - out->size);
                if (k < 0)
                        return (int) k;
                if (k == 0)
                        return 0;
                if (out->size + (size_t) k > max)
                        return -EFBIG;
                out->size += (size_t) k;
        }
}

int yb_repo_write_backup_file(YbStore *s, const char *path, const void *data, size_t n) {
        _cleanup_(yb_store_file_abortp) YbStoreFile *f = NULL;
        int r;

        r = yb_store_create_ex(s, path, YB_STORE_RETAIN, &f);
        if (r < 0)
                return r;
        r = yb_store_write(f, data, n);
        if (r < 0)
                return r;
        r = yb_store_sync(f);
        if (r >= 0)
                f = yb_store_file_close(f);
        return r;
}
