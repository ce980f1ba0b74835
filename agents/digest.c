/* A file's content hash and librsync signature, computed as its bytes go by: inline for small
 * files, on a helper thread for big ones so that the delta search (or compression) runs beside
 * them on the other core. A file stored as a delta borrows its new signature from the old one
 * where the delta copied whole blocks (core/codec/sigreuse.h): only the other blocks are summed.
 * A test hook: in builds with YB_FAULT_INJECTION, YUNBAK_TEST_SIG_REUSE_CHECK=1 also computes
 * the signature in full and fails the file when the borrowed one differs. */
#include "agents/backup-internal.h"
#include "core/base/log.h"

#define DIGEST_THREAD_MIN (4 * 1024 * 1024)

static int digest_block(void *userdata, const void *data, size_t n) {
        AgentDigest *d = userdata;
        int r = 0;

        yb_hash_update(&d->hash, data, n);
        if (d->sig)
                r = yb_sig_builder_feed(d->sig, data, n);
        if (r >= 0 && d->reuse)
                r = yb_sig_reuse_feed(d->reuse, data, n);
        return r;
}

void agent_digest_done(AgentDigest *d) {
        d->pipe = yb_pipeline_free(d->pipe); /* first: its thread uses the rest */
        d->sig = yb_sig_builder_free(d->sig);
        d->reuse = yb_sig_reuse_free(d->reuse);
}

static bool reuse_check(void) {
#ifdef YB_FAULT_INJECTION
        return streq(getenv("YUNBAK_TEST_SIG_REUSE_CHECK") ?: "", "1");
#else
        return false;
#endif
}

int agent_digest_begin_reuse(AgentDigest *d, uint64_t size, const void *old_sig, size_t old_size) {
        int r;

        *d = (AgentDigest){ 0 };
        yb_hash_init(&d->hash);
        if (size >= YB_DELTA_MIN_FILE_SIZE && old_sig) {
                r = yb_sig_reuse_new(old_sig, old_size, size, &d->reuse);
                if (r < 0)
                        return r;
        }
        if (size >= YB_DELTA_MIN_FILE_SIZE && (!d->reuse || reuse_check())) {
                r = yb_sig_builder_new(size, &d->sig);
                if (r < 0)
                        goto fail;
        }
        if (size >= DIGEST_THREAD_MIN) {
                r = yb_pipeline_new(digest_block, d, AGENT_READ_BUF_SIZE, 4, &d->pipe);
                if (r < 0)
                        goto fail;
        }
        return 0;
fail:
        agent_digest_done(d);
        return r;
}

int agent_digest_begin(AgentDigest *d, uint64_t size) {
        return agent_digest_begin_reuse(d, size, NULL, 0);
}

int agent_digest_feed(AgentDigest *d, const void *data, size_t n) {
        if (d->pipe)
                return yb_pipeline_write(d->pipe, data, n);
        return digest_block(d, data, n);
}

void agent_digest_delta(AgentDigest *d, const void *data, size_t n) {
        if (d->reuse)
                yb_sig_reuse_delta(d->reuse, data, n);
}

/* The borrowed signature into sig; under the test hook, checked against the full one. */
static int reuse_end(AgentDigest *d, YbBuf *sig) {
        _cleanup_(yb_buf_done) YbBuf full = { 0 };
        int r = yb_sig_reuse_finish(d->reuse, sig);

        if (r <= 0)
                return r == 0 ? -ECANCELED : r;
        if (!d->sig)
                return 0;
        r = yb_sig_builder_finish(d->sig, &full);
        if (r < 0)
                return r;
        if (full.size != sig->size || memcmp(full.data, sig->data, full.size) != 0)
                return log_error_errno(EIO,
                                       "The new signature borrowed from the old one (%zu bytes) "
                                       "differs from the one computed in full (%zu bytes): a bug "
                                       "in core/codec/sigreuse.c; report it.",
                                       sig->size, full.size);
        return 0;
}

int agent_digest_end(AgentDigest *d, uint8_t ret_hash[YB_HASH_SIZE], YbBuf *sig) {
        int r = 0;

        if (d->pipe) {
                r = yb_pipeline_finish(d->pipe);
                d->pipe = yb_pipeline_free(d->pipe);
        }
        if (r >= 0)
                yb_hash_final(&d->hash, ret_hash);
        yb_buf_clear(sig);
        if (r >= 0 && d->reuse)
                r = reuse_end(d, sig);
        else if (r >= 0 && d->sig)
                r = yb_sig_builder_finish(d->sig, sig);
        agent_digest_done(d);
        return r;
}
