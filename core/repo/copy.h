/* core/repo/copy.h: a system's committed snapshots copied from one store to another as files,
 * byte for byte (ciphertext: nothing is decrypted), so that the destination is a valid
 * repository on its own (tier 3, off-site copies), and damaged files of one store repaired from
 * their byte-identical twins in another. docs/format.md, "Copies" and "Repair", says how a copy
 * and a repair are laid out while they are made, how they resume, and what each costs. */
#pragma once

#include <stdint.h>

#include "core/repo/repo.h"
#include "core/store/store.h"

typedef struct YbCopyProgress {
        const char *id;          /* the snapshot being copied */
        const char *file;        /* the file being copied, or NULL between files */
        uint64_t bytes_sent;     /* written to the destination so far, this call */
        uint64_t bytes_reused;   /* found already at the destination and checked, this call */
        uint64_t bytes_verified; /* read back from the destination and checked, this call */
        uint64_t bytes_total;    /* of all the snapshots this call copies */
} YbCopyProgress;

typedef struct YbCopyOptions {
        /* Bytes per second written to the destination at most (a token bucket over about a
         * second); 0: no limit. */
        uint64_t rate_bps;
        /* Called before each block (of at most 1 MiB, sent or compared), between files and
         * before each commit: 0 to go on, or a -errno that ends the copy where it is
         * (resumable), returned by yb_repo_copy: -EAGAIN (the window closed), -ECANCELED. May be
         * NULL. */
        int (*check)(void *userdata);
        /* Called after each block sent, after each file is sent and synced, and after its
         * read-back; may be NULL. */
        void (*progress)(void *userdata, const YbCopyProgress *p);
        void *userdata;
        /* The clock and the sleep of the rate limiter (monotonic ns); NULL: the real ones. For
         * tests. */
        int64_t (*now_ns)(void *userdata);
        void (*sleep_ns)(void *userdata, int64_t ns);
} YbCopyOptions;

typedef struct YbCopyStats {
        unsigned snapshots_copied; /* committed at the destination by this call */
        /* already there, header identical: where the walk down the chain stopped (an
         * incremental's parent and base both count) */
        unsigned snapshots_present;
        /* written to `to`; kept there from an earlier call (checked); read back from `to` and
         * checked (every byte of a copied snapshot: sent and kept ones) */
        uint64_t bytes_sent, bytes_reused, bytes_verified;
} YbCopyStats;

/* Copies snapshot id of system from `from` to `to`, with every snapshot of its chain (parent,
 * base, ...) that `to` lacks, parents first, creating the repository at `to` (its config copied
 * byte for byte) if it has none. Each snapshot's files go to <system>/tmp/copy-<id>/ at `to`
 * (resuming what an earlier call left there: a file's bytes already there are kept when they
 * prove to be a prefix of the source's), each is read back and checked against the size and
 * BLAKE2b of the snapshot's signed header, the header is written last, and tmp/copy-<id> is
 * renamed to snapshots/<id>. Holds `to`'s repository lock while it writes.
 *
 * Returns 0 when id and its chain are committed and checked at `to`; -EAGAIN or -ECANCELED when
 * opts->check said so (what is done stays, and the next call resumes); -EBADMSG when the source
 * is damaged (a header that does not check out, a file whose bytes are not its header's:
 * nothing of that snapshot is committed at `to`); -EKEYREJECTED when `to` holds this system's
 * repository with another key or config; -EEXIST when `to` holds a snapshot of that id whose
 * header differs (or is missing or damaged: repair it); -EBUSY when `to` is locked by a live
 * writer; -ENOENT when `from` lacks the system's repository, id, or a snapshot of its chain;
 * -EINVAL for an invalid system or snapshot id; -EIO when `to` gives back other bytes than were
 * written (the file is removed, to be sent again); the stores' -errno otherwise. Writes
 * why into err (err_size bytes, terminated) for people, naming the store, the snapshot and the
 * file. stats (may be NULL) is filled either way. */
int yb_repo_copy(YbStore *from, YbStore *to, const char *system, const char *id,
                 const YbCopyOptions *opts, YbCopyStats *stats, char *err, size_t err_size);

/* Reads the file at path in store s and checks it against ref (its size and BLAKE2b-256, as a
 * signed header records them). Returns 0 when it matches; -EBADMSG when it does not and -ENOENT
 * when it is missing (why, why_size bytes, says how, for people: "missing", "12 bytes, the signed
 * header says 40"...); the store's -errno otherwise. */
int yb_repo_check_file(YbStore *s, const char *path, const YbFileRef *ref, char *why,
                       size_t why_size);

/* Removes the leftovers of copies at `to` (tmp/copy-<id>) whose snapshot is no longer wanted:
 * those for which keep(userdata, id) is false. Needs `to`'s repository lock (r), so that it
 * never races a copy (which holds it). yb_repo_cleanup_tmp leaves them alone. 0 or -errno. */
int yb_repo_copy_cleanup(YbRepo *r, bool (*keep)(void *userdata, const char *id), void *userdata);

typedef enum YbRepairAction {
        YB_REPAIR_OK,       /* the file was sound: left alone */
        YB_REPAIR_REPLACED, /* it failed the check and was replaced by its twin */
        YB_REPAIR_NO_TWIN,  /* it failed and the twin store has no such file */
        YB_REPAIR_BAD_TWIN, /* it failed and its twin fails the check too: left alone */
        /* it failed, and Object Lock keeps it (an S3 store): it cannot be replaced before the
         * date why names; its checked twin waits in tmp/repair-<id>/ */
        YB_REPAIR_LOCKED,
        _YB_REPAIR_ACTION_MAX,
} YbRepairAction;

typedef struct YbRepairFile {
        char name[32];
        YbRepairAction action;
        char why[320]; /* what was wrong with it (and with the twin), for people */
} YbRepairFile;

typedef struct YbRepairReport {
        YbRepairFile *files; /* every file of the snapshot's header, header included */
        size_t n_files;
        unsigned replaced, unrepaired;
} YbRepairReport;

void yb_repair_report_done(YbRepairReport *rep);
const char *yb_repair_action_to_string(YbRepairAction a);

/* Checks every file of snapshot id of system in `damaged` against its signed header (the
 * header itself is taken from `damaged` if it checks out, else from `twin`, and must be
 * byte-identical to the twin's when both check out), and replaces each file that fails with its
 * twin from `twin`: the twin is checked in `twin` first (a damaged one is refused, and nothing of
 * it written), copied to <system>/tmp/repair-<id>/<name> in `damaged`, checked again as it is
 * written and once more read back after its sync, then the damaged file is renamed aside and the
 * twin renamed in (the header last). A sound file is never touched, no byte that fails the check
 * ever reaches snapshots/, and a crash between the two renames is finished by the next repair
 * from the checked twin left in tmp/repair-<id>/ (docs/format.md, "Repair"). Holds `damaged`'s
 * repository lock.
 *
 * Returns 0 when the snapshot is sound at the end (rep says what was replaced); -EBADMSG when a
 * file could not be repaired (rep says which and why; the others are repaired) or when the two
 * stores' headers for id differ (nothing is touched); -ENOENT when `damaged` has no such snapshot
 * (a copy's job, not a repair's); -EKEYREJECTED when the two repositories have different keys;
 * -EBUSY when `damaged` is locked; the stores' -errno otherwise. rep (always initialised; free it
 * with yb_repair_report_done) lists every file of the header, the header last. err as
 * yb_repo_copy. */
int yb_repo_repair(YbStore *damaged, YbStore *twin, const char *system, const char *id,
                   YbRepairReport *rep, char *err, size_t err_size);
