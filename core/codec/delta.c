#include "core/codec/delta.h"

#include <librsync.h>
#include <stdbool.h>
#include <string.h>

#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/codec/sigsum.h"

#define OUT_CHUNK (64 * 1024)

void yb_sig_params(uint64_t size, size_t *ret_block_len, size_t *ret_strong_len) {
        rs_magic_number magic = RS_RK_BLAKE2_SIG_MAGIC;
        size_t block = 4096, strong = (size_t) -1;

        while (size / block > 256 * 1024 && block < YB_SIG_BLOCK_MAX)
                block *= 2;
        /* Minimum strong length that is safe against random collisions for this many blocks. */
        (void) rs_sig_args((rs_long_t) size, &magic, &block, &strong);
        *ret_block_len = block;
        *ret_strong_len = strong;
}

/* Runs a job over one input buffer (eof marks the end), sending output to write_fn. Returns 0
 * when the job wants more input, 1 when it is done (then *ret_left is the input it did not
 * take), or -errno. */
static int job_run(rs_job_t *job, const void *data, size_t n, bool eof, uint8_t *out,
                   YbWriteFn write_fn, void *userdata, uint64_t *out_bytes, size_t *ret_left) {
        rs_buffers_t b = {
                .next_in = (char *) data,
                .avail_in = n,
                .eof_in = eof,
        };

        for (;;) {
                size_t in_before = b.avail_in, produced;
                rs_result res;

                b.next_out = (char *) out;
                b.avail_out = OUT_CHUNK;
                res = rs_job_iter(job, &b);
                if (res != RS_DONE && res != RS_BLOCKED)
                        return log_debug_errno(EBADMSG, "librsync: %s", rs_strerror(res));
                produced = OUT_CHUNK - b.avail_out;
                if (produced > 0) {
                        int r = write_fn(userdata, out, produced);

                        if (r < 0)
                                return r;
                        if (out_bytes)
                                *out_bytes += produced;
                }
                if (res == RS_DONE) {
                        if (ret_left)
                                *ret_left = b.avail_in;
                        return 1;
                }
                if (produced == 0 && b.avail_in == in_before) {
                        /* No progress. At the end of input the stream was cut short. */
                        if (eof)
                                return -EBADMSG;
                        return b.avail_in == 0 ? 0 : -EIO;
                }
                if (!eof && b.avail_in == 0 && produced < OUT_CHUNK)
                        return 0; /* all input taken, output drained: wants more input */
        }
}

/* A signature in librsync's format (RS_RK_BLAKE2_SIG_MAGIC), byte for byte what rs_sig_begin's
 * job writes: a header (magic, block length, strong length; big-endian), then per block of the
 * input, the last one short, its weak sum and the first strong-length bytes of its strong sum.
 * Computed here rather than by librsync's job for libsodium's BLAKE2b (sigsum.h). */
struct YbSigBuilder {
        size_t block, strong;
        uint8_t *carry; /* a block begun in an earlier call */
        size_t carry_n;
        YbBuf sig;
};

YbSigBuilder *yb_sig_builder_free(YbSigBuilder *b) {
        if (!b)
                return NULL;
        free(b->carry);
        yb_buf_done(&b->sig);
        free(b);
        return NULL;
}

static int append_block(YbSigBuilder *b, const uint8_t *p, size_t n) {
        uint8_t e[4 + YB_SIG_STRONG_MAX];

        yb_sig_entry(p, n, yb_sig_weak(p, n), e);
        return yb_buf_append(&b->sig, e, 4 + b->strong);
}

int yb_sig_builder_new(uint64_t size, YbSigBuilder **ret) {
        _cleanup_(yb_sig_builder_freep) YbSigBuilder *b = new0(YbSigBuilder, 1);
        int r;

        if (!b)
                return -ENOMEM;
        yb_sig_params(size, &b->block, &b->strong);
        if (b->strong > YB_SIG_STRONG_MAX)
                return -EINVAL;
        b->carry = malloc(b->block);
        if (!b->carry)
                return -ENOMEM;
        /* Room for every entry of a file of the size announced (it may turn out otherwise). */
        r = yb_buf_reserve(&b->sig, YB_SIG_HEADER_SIZE +
                                            (size_t) MIN(size / b->block + 1, (uint64_t) 1 << 20) *
                                                    (4 + b->strong));
        if (r >= 0) {
                uint8_t head[YB_SIG_HEADER_SIZE];

                yb_sig_header(b->block, b->strong, head);
                r = yb_buf_append(&b->sig, head, sizeof(head));
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(b);
        return 0;
}

int yb_sig_builder_feed(YbSigBuilder *b, const void *data, size_t n) {
        const uint8_t *p = data;
        int r = 0;

        if (b->carry_n > 0) {
                size_t take = MIN(b->block - b->carry_n, n);

                memcpy(b->carry + b->carry_n, p, take);
                b->carry_n += take;
                p += take;
                n -= take;
                if (b->carry_n < b->block)
                        return 0;
                r = append_block(b, b->carry, b->block);
                b->carry_n = 0;
        }
        for (; r >= 0 && n >= b->block; p += b->block, n -= b->block)
                r = append_block(b, p, b->block);
        if (r >= 0 && n > 0) {
                memcpy(b->carry, p, n);
                b->carry_n = n;
        }
        return r;
}

int yb_sig_builder_finish(YbSigBuilder *b, YbBuf *out) {
        int r = 0;

        if (b->carry_n > 0)
                r = append_block(b, b->carry, b->carry_n);
        b->carry_n = 0;
        return r < 0 ? r : yb_buf_append(out, b->sig.data, b->sig.size);
}

struct YbSignature {
        rs_signature_t *sig;
};

YbSignature *yb_signature_free(YbSignature *s) {
        if (!s)
                return NULL;
        if (s->sig)
                rs_free_sumset(s->sig);
        free(s);
        return NULL;
}

static int discard_write(void *userdata, const void *data, size_t n) {
        return n == 0 ? 0 : -EBADMSG; /* loading a signature produces no output */
}

int yb_signature_load(const void *data, size_t n, YbSignature **ret) {
        _cleanup_(yb_signature_freep) YbSignature *s = new0(YbSignature, 1);
        _cleanup_free_ uint8_t *out = malloc(OUT_CHUNK);
        rs_job_t *job;
        int r;

        if (!s || !out)
                return -ENOMEM;
        job = rs_loadsig_begin(&s->sig);
        if (!job)
                return -ENOMEM;
        r = job_run(job, data, n, true, out, discard_write, NULL, NULL, NULL);
        rs_job_free(job);
        if (r < 0)
                return -EBADMSG;
        if (!s->sig || rs_build_hash_table(s->sig) != RS_DONE)
                return -EBADMSG;
        *ret = TAKE_PTR(s);
        return 0;
}

struct YbDeltaJob {
        rs_job_t *job;
        YbWriteFn write_fn;
        void *userdata;
        uint8_t *out;
        uint64_t in_bytes, out_bytes;
};

YbDeltaJob *yb_delta_free(YbDeltaJob *d) {
        if (!d)
                return NULL;
        if (d->job)
                rs_job_free(d->job);
        free(d->out);
        free(d);
        return NULL;
}

int yb_delta_new(YbSignature *sig, YbWriteFn write_fn, void *userdata, YbDeltaJob **ret) {
        _cleanup_(yb_delta_freep) YbDeltaJob *d = new0(YbDeltaJob, 1);

        if (!d)
                return -ENOMEM;
        d->job = rs_delta_begin(sig->sig);
        d->out = malloc(OUT_CHUNK);
        if (!d->job || !d->out)
                return -ENOMEM;
        d->write_fn = write_fn;
        d->userdata = userdata;
        *ret = TAKE_PTR(d);
        return 0;
}

int yb_delta_feed(YbDeltaJob *d, const void *data, size_t n) {
        int r;

        d->in_bytes += n;
        r = job_run(d->job, data, n, false, d->out, d->write_fn, d->userdata, &d->out_bytes, NULL);
        return r < 0 ? r : 0;
}

int yb_delta_finish(YbDeltaJob *d) {
        int r = job_run(d->job, NULL, 0, true, d->out, d->write_fn, d->userdata, &d->out_bytes,
                        NULL);

        return r < 0 ? r : 0;
}

uint64_t yb_delta_in_bytes(const YbDeltaJob *d) {
        return d->in_bytes;
}

uint64_t yb_delta_out_bytes(const YbDeltaJob *d) {
        return d->out_bytes;
}

typedef struct Basis {
        int fd;
        bool bad;
} Basis;

static rs_result basis_copy(void *opaque, rs_long_t pos, size_t *len, void **buf) {
        Basis *b = opaque;
        ssize_t k;

        if (pos < 0) {
                b->bad = true;
                return RS_CORRUPT;
        }
        k = pread(b->fd, *buf, *len, (off_t) pos);
        if (k < 0) {
                b->bad = true;
                return RS_IO_ERROR;
        }
        if ((size_t) k < *len) {
                /* A copy beyond the basis: the delta was made against another file. */
                b->bad = true;
                return RS_CORRUPT;
        }
        return RS_DONE;
}

int yb_patch(int basis_fd, YbReadFn read_fn, void *read_ud, YbWriteFn write_fn, void *write_ud) {
        _cleanup_free_ uint8_t *in = malloc(OUT_CHUNK), *out = malloc(OUT_CHUNK);
        Basis basis = { .fd = basis_fd };
        bool done = false;
        rs_job_t *job;
        int r = 0;

        if (!in || !out)
                return -ENOMEM;
        job = rs_patch_begin(basis_copy, &basis);
        if (!job)
                return -ENOMEM;
        for (;;) {
                ssize_t k = read_fn(read_ud, in, OUT_CHUNK);
                size_t left = 0;

                if (k < 0) {
                        r = (int) k;
                        break;
                }
                if (done) {
                        /* Nothing may follow a delta's end, however the reads split it. */
                        r = k > 0 ? -EBADMSG : 0;
                        break;
                }
                r = job_run(job, in, (size_t) k, k == 0, out, write_fn, write_ud, NULL, &left);
                if (r < 0)
                        break;
                if (r == 1) {
                        done = true;
                        if (left > 0) {
                                r = -EBADMSG;
                                break;
                        }
                } else if (k == 0) {
                        r = -EBADMSG; /* input ended before the delta did */
                        break;
                }
        }
        rs_job_free(job);
        if (r == -EBADMSG || basis.bad)
                return -EBADMSG;
        return r;
}
