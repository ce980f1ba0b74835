/* The signature index of form 2 (docs/format.md, "Signature index"): what changed since the
 * parent's index (every entry when there is no parent; sigdelta.c), and resolving one through its
 * chain of parents (sigchain.c). */
#pragma once

#include "core/repo/format.h"
#include "core/repo/repo.h"

/* The magic of a signature index of form 2: a delta against its parent's, or against nothing. */
#define YB_SIGDELTA_MAGIC "YBSIGIX2"
/* A chain of delta indexes is at most this long: the backup after it writes a whole index. */
#define YB_SIGDELTA_CHAIN_MAX 32

/* Whether a and b say the same in every field (signature bytes included). */
bool yb_sig_entry_same(const YbSigEntry *a, const YbSigEntry *b);
/* Appends the start of a form 2 index against snapshot parent_id's ("": a whole index). */
int yb_sigdelta_begin(const char *parent_id, YbBuf *b);
/* Appends the record of e, new (prev NULL) or changed since prev (the parent's entry of the same
 * path): its signature as the blocks that differ from prev's when both are alike in shape. */
int yb_sigdelta_put_changed(const YbSigEntry *prev, const YbSigEntry *e, YbBuf *b);
/* Appends the record of a path of the parent's index that is gone. */
int yb_sigdelta_put_gone(const char *path, YbBuf *b);
/* 1 and the parent's id when data is of form 2 ("" when it has no parent: a whole index), 0 when
 * it is of form 1 (whole), -EBADMSG. */
int yb_sigdelta_parent(const void *data, size_t n, char ret[YB_SNAPSHOT_ID_MAX + 1]);
/* Applies form 2 index data to *parent (the parent's resolved index, or an empty one when data
 * has no parent), which it replaces. */
int yb_sigdelta_apply(const void *data, size_t n, YbSigIndex **parent);
/* Parses a whole index of either form; a delta (which needs its chain) is -EBADMSG. */
int yb_sigindex_parse_any(const void *data, size_t n, YbSigIndex **ret);

/* Gives the plaintext of snapshot h's signature index. */
typedef int (*YbSigLoadFn)(void *userdata, const YbSnapshotHeader *h, YbBuf *ret);
/* Resolves snapshot h's signature index: its plaintext from load, and while it is a delta its
 * parent's (the headers read from repo), down to a whole one. *ret_chain (if not NULL) gets the
 * ids it took, h's first, NULL-terminated (free with yb_sigdelta_chain_free). */
int yb_sigindex_load_chain(YbRepo *repo, const YbSnapshotHeader *h, YbSigLoadFn load,
                           void *userdata, YbSigIndex **ret, char ***ret_chain);
void yb_sigdelta_chain_free(char **chain);
