/* Resolving a snapshot's signature index through the chain of its parents' (core/repo/sigdelta.h):
 * a delta index needs its parent's, down to a whole one. */
#include "core/repo/sigdelta.h"

void yb_sigdelta_chain_free(char **chain) {
        for (size_t i = 0; chain && chain[i]; i++)
                free(chain[i]);
        free(chain);
}

/* Makes room for one more link: bufs[n] and chain[n], chain ending in NULL. */
static int grow(YbBuf **bufs, char ***chain, size_t n) {
        YbBuf *nb = realloc(*bufs, (n + 1) * sizeof(YbBuf));
        char **nc;

        if (!nb)
                return -ENOMEM;
        *bufs = nb;
        nb[n] = (YbBuf) YB_BUF_INIT;
        nc = realloc(*chain, (n + 2) * sizeof(char *));
        if (!nc)
                return -ENOMEM;
        *chain = nc;
        nc[n] = nc[n + 1] = NULL;
        return 0;
}

int yb_sigindex_load_chain(YbRepo *repo, const YbSnapshotHeader *h, YbSigLoadFn load,
                           void *userdata, YbSigIndex **ret, char ***ret_chain) {
        _cleanup_(yb_header_freep) YbSnapshotHeader *owned = NULL;
        _cleanup_(yb_sigindex_freep) YbSigIndex *x = NULL;
        const YbSnapshotHeader *cur = h;
        YbBuf *bufs = NULL;
        char **chain = NULL;
        size_t n = 0;
        int r;

        for (;;) {
                char id[YB_SNAPSHOT_ID_MAX + 1];
                YbSnapshotHeader *next = NULL;

                r = grow(&bufs, &chain, n);
                if (r < 0)
                        break;
                chain[n] = strdup(cur->id);
                n++;
                r = chain[n - 1] ? load(userdata, cur, &bufs[n - 1]) : -ENOMEM;
                if (r >= 0)
                        r = yb_sigdelta_parent(bufs[n - 1].data, bufs[n - 1].size, id);
                if (r <= 0 || !*id)
                        break; /* a whole index, of either form */
                /* A delta is against the snapshot's own parent, and a chain ends in a whole
                 * index long before this. */
                if (!streq(id, cur->parent) || n > YB_SIGDELTA_CHAIN_MAX) {
                        r = -EBADMSG;
                        break;
                }
                r = yb_repo_load_header(repo, id, &next);
                if (r < 0)
                        break;
                yb_header_free(owned);
                cur = owned = next;
        }
        /* Each plaintext is let go once applied: the peak is one index and its next delta. */
        if (r >= 0)
                r = yb_sigindex_parse_any(bufs[n - 1].data, bufs[n - 1].size, &x);
        for (size_t i = n - 1; r >= 0 && i > 0; i--) {
                yb_buf_done(&bufs[i]);
                r = yb_sigdelta_apply(bufs[i - 1].data, bufs[i - 1].size, &x);
        }
        for (size_t i = 0; i < n; i++)
                yb_buf_done(&bufs[i]);
        free(bufs);
        if (r < 0 || !ret_chain)
                yb_sigdelta_chain_free(chain);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(x);
        if (ret_chain)
                *ret_chain = chain;
        return 0;
}
