/* A file's content hash and librsync signature, computed as its bytes go by: inline for small
 * files, on a helper thread for big ones so that the delta search (or compression) runs beside
 * them on the other core. A file stored as a delta has its new signature made with the delta
 * (core/codec/deltagen.h): its digest is the hash alone. A test hook: in builds with
 * YB_FAULT_INJECTION, YUNBAK_TEST_SIG_CHECK=1 computes that signature here too, and the file
 * fails when the two differ. */
#include "agents/backup-internal.h"
#include "core/base/log.h"

#define DIGEST_THREAD_MIN (4 * 1024 * 1024)

static int digest_block(void *userdata, const void *data, size_t n) {
        AgentDigest *d = userdata;
        int r = 0;

        yb_hash_update(&d->hash, data, n);
        if (d->sig)
                r = yb_sig_builder_feed(d->sig, data, n);
        return r;
}

void agent_digest_done(AgentDigest *d) {
        d->pipe = yb_pipeline_free(d->pipe); /* first: its thread uses the rest */
        d->sig = yb_sig_builder_free(d->sig);
}

static bool sig_check(void) {
#ifdef YB_FAULT_INJECTION
        return streq(getenv("YUNBAK_TEST_SIG_CHECK") ?: "", "1");
#else
        return false;
#endif
}

/* Starts the digest; with_sig: also the signature (else only under the test hook, to check the
 * one the delta made). */
static int digest_begin(AgentDigest *d, uint64_t size, bool with_sig) {
        int r;

        *d = (AgentDigest){ 0 };
        yb_hash_init(&d->hash);
        if (size >= YB_DELTA_MIN_FILE_SIZE && (with_sig || sig_check())) {
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
        return digest_begin(d, size, true);
}

int agent_digest_begin_hash(AgentDigest *d, uint64_t size) {
        return digest_begin(d, size, false);
}

int agent_digest_feed(AgentDigest *d, const void *data, size_t n) {
        if (d->pipe)
                return yb_pipeline_write(d->pipe, data, n);
        return digest_block(d, data, n);
}

int agent_digest_check_sig(const YbBuf *check, const YbBuf *sig) {
        if (check->size == 0)
                return 0;
        if (check->size != sig->size || memcmp(check->data, sig->data, sig->size) != 0)
                return log_error_errno(EIO,
                                       "The new signature made with the delta (%zu bytes) differs "
                                       "from the one computed on its own (%zu bytes): a bug in "
                                       "core/codec/deltagen.c; report it.",
                                       sig->size, check->size);
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
        if (r >= 0 && d->sig)
                r = yb_sig_builder_finish(d->sig, sig);
        agent_digest_done(d);
        return r;
}
