/* A file's content hash and librsync signature, computed as its bytes go by: inline for small
 * files, on a helper thread for big ones so that the delta search (or compression) runs beside
 * them on the other core. */
#include "agents/backup-internal.h"

#define DIGEST_THREAD_MIN (4 * 1024 * 1024)

static int digest_block(void *userdata, const void *data, size_t n) {
        AgentDigest *d = userdata;

        yb_hash_update(&d->hash, data, n);
        return d->sig ? yb_sig_builder_feed(d->sig, data, n) : 0;
}

void agent_digest_done(AgentDigest *d) {
        d->pipe = yb_pipeline_free(d->pipe); /* first: its thread uses the rest */
        d->sig = yb_sig_builder_free(d->sig);
}

int agent_digest_begin(AgentDigest *d, uint64_t size) {
        int r;

        *d = (AgentDigest){ 0 };
        yb_hash_init(&d->hash);
        if (size >= YB_DELTA_MIN_FILE_SIZE) {
                r = yb_sig_builder_new(size, &d->sig);
                if (r < 0)
                        return r;
        }
        if (size >= DIGEST_THREAD_MIN) {
                r = yb_pipeline_new(digest_block, d, AGENT_READ_BUF_SIZE, 4, &d->pipe);
                if (r < 0) {
                        agent_digest_done(d);
                        return r;
                }
        }
        return 0;
}

int agent_digest_feed(AgentDigest *d, const void *data, size_t n) {
        if (d->pipe)
                return yb_pipeline_write(d->pipe, data, n);
        return digest_block(d, data, n);
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
