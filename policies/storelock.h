/* policies/storelock.h: a policy's retention beside its stores' S3 Object Lock (docs/s3.md,
 * "Object Lock"): what yunbakd.yaml's `stores` entries say of their lock, and the warnings of
 * `yunbak policy check --config` when a tier's retention lets snapshots go sooner than the store
 * keeps them, or tier1.lock_until asks for more than the store's lock holds. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "policies/policy.h"

/* A store of yunbakd.yaml with Object Lock: its name, and s3.retention. */
typedef struct YbStoreLock {
        char *name;
        int64_t retention_usec;
        unsigned line, column; /* where its retention is written */
} YbStoreLock;

typedef struct YbStoreLocks {
        char *file; /* the yunbakd.yaml read */
        YbStoreLock *v;
        size_t n;
} YbStoreLocks;

/* Frees what l holds and empties it (for _cleanup_). */
void yb_store_locks_done(YbStoreLocks *l);

/* Reads the stores of yunbakd.yaml at path that have `s3: {object_lock: compliance, retention:
 * DURATION}` into ret (empty on entry). It checks nothing else (yunbakd does, at its start): an
 * entry it cannot read is not one of them. -errno when the file cannot be read or is not YAML
 * (with why in diag as "path[:line:col]: message"), -ENOMEM. */
int yb_store_locks_load(const char *path, YbStoreLocks *ret, YbDiagnostics *diag);

/* Appends to warnings, one line each ("policy-file:line:col: warning: ..."), what the stores'
 * locks mean for policy p at now_usec:
 *  - a tier whose store has Object Lock with a retention R longer than the tier's keep_within
 *    (0 when not set: snapshots no rule picks go at the next prune): a snapshot retention lets
 *    go younger than R stays until it is R old (prune names it, with the date); and when R is
 *    longer than every rule of the tier keeps a snapshot, every snapshot stays R;
 *  - tier1.lock_until later than now + R of tier1's store: yunbak prunes nothing before it, but
 *    the store's lock on what is written now ends sooner.
 * Returns how many it appended, or -ENOMEM. */
int yb_policy_lock_warnings(const YbPolicy *p, const YbStoreLocks *locks, int64_t now_usec,
                            YbDiagnostics *warnings);
