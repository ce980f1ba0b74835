/* core/repo/repair.c: damaged files of a snapshot replaced by their byte-identical twins from
 * another store (copy.h; docs/format.md, "Repair").
 *
 * A store's rename never replaces, so a file cannot be swapped in one step. The twin is checked
 * in the twin store first, then copied to tmp/repair-<id>/<name> in the damaged store, checked
 * again there (while it is written, and read back after its sync), and only then the damaged
 * file is renamed aside (tmp/repair-<id>/<name>.damaged) and the twin renamed in. A crash between
 * those two renames leaves the file missing from the snapshot and its checked twin in
 * tmp/repair-<id>/, which the next repair moves in without asking the twin store again;
 * yb_repo_cleanup_tmp leaves tmp/repair-* alone for that. No byte that did not match the signed
 * header is ever put into snapshots/. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "core/crypto/hash.h"
#include "core/repo/copy.h"

#define BLOCK (1U << 20)

typedef struct Repair {
        YbRepo *d, *t; /* the damaged store's repository; the twin's (NULL: it has none) */
        const char *id;
        char *dir;  /* <system>/tmp/repair-<id> in the damaged store */
        char *snap; /* <system>/snapshots/<id> there */
        char *err;
        size_t err_size;
} Repair;

static int fail(Repair *p, int r, const char *fmt, ...) _printf_(3, 4);
static int fail(Repair *p, int r, const char *fmt, ...) {
        va_list ap;

        if (p->err && p->err_size > 0) {
                va_start(ap, fmt);
                vsnprintf(p->err, p->err_size, fmt, ap);
                va_end(ap);
        }
        return r;
}

static int store_failed(Repair *p, YbStore *s, int r, const char *what, const char *path) {
        return fail(p, r,
                    "Failed to %s '%s' in store %s while repairing snapshot %s: %s. Nothing in "
                    "the snapshot is worse than before; repair it again once the store works.",
                    what, path, yb_store_location(s), p->id, strerror(-r));
}

/* Copies the twin to path in the damaged store, hashing what it reads: -EBADMSG (and nothing
 * left at path) when those bytes are not the header's after all (the twin changed since it was
 * checked). */
static int copy_twin(Repair *p, YbStore *src, const char *from, const char *path,
                     const YbFileRef *ref) {
        _cleanup_(yb_store_file_closep) YbStoreFile *in = NULL, *out = NULL;
        _cleanup_free_ uint8_t *buf = malloc(BLOCK);
        uint8_t got[YB_HASH_SIZE];
        uint64_t n = 0;
        YbHash hash;
        int r;

        if (!buf)
                return -ENOMEM;
        r = yb_store_open_read(src, from, &in);
        if (r < 0)
                return store_failed(p, src, r, "read", from);
        (void) yb_store_unlink(p->d->store, path); /* an earlier repair's, not checked */
        r = yb_store_create_ex(p->d->store, path, YB_STORE_RETAIN, &out);
        if (r < 0)
                return store_failed(p, p->d->store, r, "create", path);
        yb_hash_init(&hash);
        for (;;) {
                ssize_t k = yb_store_read(in, buf, BLOCK);

                if (k < 0)
                        return store_failed(p, src, (int) k, "read", from);
                if (k == 0)
                        break;
                n += (uint64_t) k;
                yb_hash_update(&hash, buf, (size_t) k);
                if (n > ref->size)
                        break; /* no need to write what will be refused */
                r = yb_store_write(out, buf, (size_t) k);
                if (r < 0)
                        return store_failed(p, p->d->store, r, "write", path);
        }
        yb_hash_final(&hash, got);
        if (n != ref->size || memcmp(got, ref->hash, YB_HASH_SIZE) != 0) {
                out = yb_store_file_close(out);
                (void) yb_store_unlink(p->d->store, path);
                return -EBADMSG;
        }
        r = yb_store_sync(out);
        if (r < 0)
                return store_failed(p, p->d->store, r, "sync", path);
        return 0;
}

/* On an object store (no rename of a snapshot's file that keeps its retention): the damaged
 * file is deleted, the checked twin at twin_path copied into its place as a backup file
 * (YB_STORE_RETAIN), checked there, and removed from twin_path. A damaged file that Object Lock
 * keeps (-EPERM) cannot go: f says until when, and the twin stays where it is. */
static int swap_in_objects(Repair *p, const YbFileRef *ref, const char *twin_path,
                           YbRepairFile *f) {
        _cleanup_free_ char *dest = NULL;
        YbStoreStat st;
        char why[160], date[32] = "";
        int r;

        if (asprintf(&dest, "%s/%s", p->snap, ref->name) < 0)
                return -ENOMEM;
        r = yb_store_unlink(p->d->store, dest);
        if (r == -EPERM) {
                if (yb_store_stat(p->d->store, dest, &st) >= 0 && st.retain_until > 0)
                        yb_time_format_iso(st.retain_until * YB_NSEC_PER_SEC, date);
                f->action = YB_REPAIR_LOCKED;
                snprintf(f->why + strlen(f->why), sizeof(f->why) - strlen(f->why),
                         "; Object Lock keeps it until %s, and its checked twin waits in %s: "
                         "repair again after that date",
                         *date ? date : "a date the store does not tell", twin_path);
                return 0;
        }
        if (r < 0 && r != -ENOENT)
                return store_failed(p, p->d->store, r, "remove the damaged", dest);
        /* From here to the end of the copy the file is missing; its twin waits in p->dir. */
        r = copy_twin(p, p->d->store, twin_path, dest, ref);
        if (r == -EBADMSG)
                return fail(p, -EIO,
                            "Store %s gave back other bytes from '%s' than were checked there; "
                            "check the store's disk or server.",
                            yb_store_location(p->d->store), twin_path);
        if (r < 0)
                return r;
        r = yb_repo_check_file(p->d->store, dest, ref, why, sizeof(why));
        if (r == -EBADMSG || r == -ENOENT)
                return fail(p, -EIO,
                            "Store %s gave back other bytes than were written to '%s' (%s); "
                            "check the store's disk or server.",
                            yb_store_location(p->d->store), dest, why);
        if (r < 0)
                return store_failed(p, p->d->store, r, "read back", dest);
        (void) yb_store_unlink(p->d->store, twin_path);
        f->action = YB_REPAIR_REPLACED;
        return 0;
}

/* Puts the checked twin at twin_path in place of the snapshot's file name. */
static int swap_in(Repair *p, const char *name, const char *twin_path) {
        _cleanup_free_ char *aside = NULL, *dest = NULL;
        YbStoreStat st;
        int r;

        if (asprintf(&aside, "%s/%s.damaged", p->dir, name) < 0 ||
            asprintf(&dest, "%s/%s", p->snap, name) < 0)
                return -ENOMEM;
        r = yb_store_sync_dir(p->d->store, p->dir);
        if (r < 0)
                return store_failed(p, p->d->store, r, "sync", p->dir);
        r = yb_store_stat(p->d->store, dest, &st);
        if (r >= 0) {
                (void) yb_store_remove_tree(p->d->store, aside);
                r = yb_store_rename(p->d->store, dest, aside);
                if (r < 0)
                        return store_failed(p, p->d->store, r, "move aside", dest);
        } else if (r != -ENOENT)
                return store_failed(p, p->d->store, r, "look at", dest);
        /* From the rename above to this one the file is missing; its twin waits in p->dir. */
        r = yb_store_rename(p->d->store, twin_path, dest);
        if (r < 0)
                return store_failed(p, p->d->store, r, "move in the twin of", dest);
        r = yb_store_sync_dir(p->d->store, p->snap);
        if (r < 0)
                return store_failed(p, p->d->store, r, "sync", p->snap);
        (void) yb_store_remove_tree(p->d->store, aside);
        return 0;
}

/* Puts the checked twin at twin_path into the snapshot: by two renames, or on an object store
 * (which renames no file in place) by swap_in_objects. */
static int put_in(Repair *p, const YbFileRef *ref, const char *twin_path, YbRepairFile *f) {
        int r;

        if (yb_store_objects(p->d->store))
                return swap_in_objects(p, ref, twin_path, f);
        r = swap_in(p, ref->name, twin_path);
        if (r >= 0)
                f->action = YB_REPAIR_REPLACED;
        return r;
}

/* Repairs one file that failed its check (f->why says how). */
static int repair_file(Repair *p, const YbFileRef *ref, YbRepairFile *f) {
        _cleanup_free_ char *path = NULL, *from = NULL;
        char why[160];
        int r;

        if (asprintf(&path, "%s/%s", p->dir, ref->name) < 0)
                return -ENOMEM;
        /* A twin that an interrupted repair left here, already checked once: checked again. */
        r = yb_repo_check_file(p->d->store, path, ref, why, sizeof(why));
        if (r >= 0) {
                log_debug("Using the twin of '%s' that an earlier repair left in '%s'.", ref->name,
                          p->dir);
                return put_in(p, ref, path, f);
        }
        if (!p->t) {
                f->action = YB_REPAIR_NO_TWIN;
                return 0;
        }
        from = yb_repo_snapshot_path(p->t, p->id, ref->name);
        if (!from)
                return -ENOMEM;
        /* The twin is checked where it is before a byte of it is written here. */
        r = yb_repo_check_file(p->t->store, from, ref, why, sizeof(why));
        if (r == -ENOENT) {
                f->action = YB_REPAIR_NO_TWIN;
                return 0;
        }
        if (r == -EBADMSG) {
                f->action = YB_REPAIR_BAD_TWIN;
                snprintf(f->why + strlen(f->why), sizeof(f->why) - strlen(f->why),
                         "; its twin in store %s: %s", yb_store_location(p->t->store), why);
                return 0;
        }
        if (r < 0)
                return store_failed(p, p->t->store, r, "read", from);
        r = copy_twin(p, p->t->store, from, path, ref);
        if (r == -EBADMSG) {
                f->action = YB_REPAIR_BAD_TWIN;
                snprintf(f->why + strlen(f->why), sizeof(f->why) - strlen(f->why),
                         "; its twin in store %s changed while it was read",
                         yb_store_location(p->t->store));
                return 0;
        }
        if (r < 0)
                return r;
        r = yb_repo_check_file(p->d->store, path, ref, why, sizeof(why));
        if (r == -EBADMSG || r == -ENOENT) {
                (void) yb_store_unlink(p->d->store, path);
                return fail(p, -EIO,
                            "Store %s gave back other bytes than were written to '%s' "
                            "(%s); check the store's disk or server.",
                            yb_store_location(p->d->store), path, why);
        }
        if (r < 0)
                return store_failed(p, p->d->store, r, "read back", path);
        return put_in(p, ref, path, f);
}

/* The header to check against: the damaged store's if it checks out, else the twin's; both
 * must be the same bytes when both check out. Its exact bytes in raw, and whether the damaged
 * store's is sound in *ret_ok (else why in why). */
static int pick_header(Repair *p, YbSnapshotHeader **ret, YbBuf *raw, bool *ret_ok, char *why,
                       size_t why_size) {
        _cleanup_(yb_header_freep) YbSnapshotHeader *dh = NULL, *th = NULL;
        _cleanup_(yb_buf_done) YbBuf draw = YB_BUF_INIT, traw = YB_BUF_INIT;
        const char *system = p->d->system;
        YbStoreStat st;
        int dr, tr = -ENOENT;

        dr = yb_repo_load_header_bytes(p->d, p->id, &draw, &dh);
        if (dr < 0 && dr != -ENOENT && dr != -EBADMSG)
                return store_failed(p, p->d->store, dr, "read the header of", p->snap);
        if (p->t) {
                tr = yb_repo_load_header_bytes(p->t, p->id, &traw, &th);
                if (tr < 0 && tr != -ENOENT && tr != -EBADMSG)
                        return store_failed(p, p->t->store, tr, "read the header of", p->id);
        }
        dr = dr >= 0 ? 0 : dr;
        if (dr == -ENOENT && yb_store_stat(p->d->store, p->snap, &st) == -ENOENT)
                return fail(p, -ENOENT, "Store %s has no snapshot %s of system %s%s.",
                            yb_store_location(p->d->store), p->id, system,
                            tr >= 0 ? ": there is nothing to repair; copy it instead" : "");
        if (dr >= 0 && tr >= 0 &&
            (draw.size != traw.size || memcmp(draw.data, traw.data, draw.size) != 0))
                return fail(p, -EBADMSG,
                            "Snapshot %s of system %s has different signed headers in stores %s "
                            "and %s: they are not twins, and nothing was repaired.",
                            p->id, system, yb_store_location(p->d->store),
                            yb_store_location(p->t->store));
        *ret_ok = dr >= 0;
        snprintf(why, why_size, "%s", dr == -ENOENT ? "missing" : "does not check out");
        if (dr < 0 && tr < 0)
                return fail(p, -EBADMSG,
                            "The header of snapshot %s of system %s in store %s %s, and %s; "
                            "nothing was repaired.",
                            p->id, system, yb_store_location(p->d->store), why,
                            p->t ? (tr == -ENOENT ? "the twin store has no such snapshot"
                                                  : "so does its twin's")
                                 : "the twin store has no repository of that system");
        *ret = dr >= 0 ? TAKE_PTR(dh) : TAKE_PTR(th);
        *raw = dr >= 0 ? draw : traw;
        if (dr >= 0)
                draw = (YbBuf) YB_BUF_INIT;
        else
                traw = (YbBuf) YB_BUF_INIT;
        return 0;
}

static int open_repos(Repair *p, YbStore *damaged, YbStore *twin, const char *system) {
        int r = yb_repo_open(damaged, system, &p->d);

        if (r == -ENOENT)
                return fail(p, r, "Store %s has no repository of system %s.",
                            yb_store_location(damaged), system);
        if (r < 0)
                return store_failed(p, damaged, r, "open the repository of system", system);
        r = yb_repo_open(twin, system, &p->t);
        if (r < 0 && r != -ENOENT)
                return store_failed(p, twin, r, "open the repository of system", system);
        if (p->t && memcmp(p->t->config.pub.pk, p->d->config.pub.pk, 32) != 0)
                return fail(p, -EKEYREJECTED,
                            "The repositories of system %s in stores %s and %s have different "
                            "keys: they hold no twins.",
                            system, yb_store_location(damaged), yb_store_location(twin));
        r = yb_repo_lock(p->d);
        if (r == -EBUSY)
                return fail(p, r,
                            "The repository of system %s in store %s is locked by %s; "
                            "repair it when that is done.",
                            system, yb_store_location(damaged), p->d->lock_owner);
        if (r < 0)
                return store_failed(p, damaged, r, "lock the repository of system", system);
        p->snap = yb_repo_snapshot_path(p->d, p->id, NULL);
        if (!p->snap || asprintf(&p->dir, "%s/tmp/repair-%s", system, p->id) < 0)
                return -ENOMEM;
        return 0;
}

/* Checks and repairs every file of h, the header last (a snapshot with a bad header is not one:
 * it becomes one again only when its files are whole). */
static int repair_all(Repair *p, const YbSnapshotHeader *h, const YbBuf *raw, bool header_ok,
                      const char *header_why, YbRepairReport *rep) {
        _cleanup_free_ char *tmp = yb_repo_path(p->d, "tmp");
        int r = 0;

        rep->files = new0(YbRepairFile, h->n_files + 1);
        if (!rep->files || !tmp)
                return -ENOMEM;
        for (size_t i = 0; i <= h->n_files; i++) {
                YbRepairFile *f = &rep->files[rep->n_files++];
                YbFileRef href = { .name = "header", .size = raw->size };
                const YbFileRef *ref = i < h->n_files ? &h->files[i] : &href;
                _cleanup_free_ char *path = NULL;

                snprintf(f->name, sizeof(f->name), "%s", ref->name);
                if (i == h->n_files) {
                        yb_hash_buf(raw->data, raw->size, href.hash);
                        r = header_ok ? 0 : -EBADMSG;
                        snprintf(f->why, sizeof(f->why), "%s", header_ok ? "" : header_why);
                } else {
                        path = yb_repo_snapshot_path(p->d, p->id, ref->name);
                        if (!path)
                                return -ENOMEM;
                        r = yb_repo_check_file(p->d->store, path, ref, f->why, sizeof(f->why));
                }
                if (r >= 0)
                        continue; /* YB_REPAIR_OK */
                if (r != -EBADMSG && r != -ENOENT)
                        return store_failed(p, p->d->store, r, "read", path);
                r = yb_store_mkdir(p->d->store, tmp);
                if (r >= 0)
                        r = yb_store_mkdir(p->d->store, p->dir);
                if (r < 0)
                        return store_failed(p, p->d->store, r, "create", p->dir);
                r = repair_file(p, ref, f);
                if (r < 0)
                        return r;
                if (f->action == YB_REPAIR_REPLACED)
                        rep->replaced++;
                else
                        rep->unrepaired++;
        }
        /* A locked file's twin waits there for the date. */
        for (size_t i = 0; i < rep->n_files; i++)
                if (rep->files[i].action == YB_REPAIR_LOCKED)
                        return 0;
        /* Done with it: what is left there is unchecked or damaged. */
        r = yb_store_remove_tree(p->d->store, p->dir);
        if (r >= 0)
                r = yb_store_sync_dir(p->d->store, tmp);
        return r == -ENOENT ? 0 : r;
}

int yb_repo_repair(YbStore *damaged, YbStore *twin, const char *system, const char *id,
                   YbRepairReport *rep, char *err, size_t err_size) {
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = NULL;
        _cleanup_(yb_buf_done) YbBuf raw = YB_BUF_INIT;
        Repair p = { .id = id, .err = err, .err_size = err_size };
        char header_why[64] = "";
        bool header_ok = false;
        int r;

        *rep = (YbRepairReport){ 0 };
        if (err && err_size > 0)
                err[0] = 0;
        if (!yb_system_id_valid(system) || !yb_snapshot_id_valid(id))
                r = fail(&p, -EINVAL,
                         "Cannot repair snapshot '%s' of system '%s': not a valid "
                         "snapshot or system id.",
                         id, system);
        else
                r = open_repos(&p, damaged, twin, system);
        if (r >= 0)
                r = pick_header(&p, &h, &raw, &header_ok, header_why, sizeof(header_why));
        if (r >= 0)
                r = repair_all(&p, h, &raw, header_ok, header_why, rep);
        if (r >= 0 && rep->unrepaired > 0) {
                size_t at = 0;

                at += (size_t) snprintf(err, err_size,
                                        "%u file(s) of snapshot %s of system %s in store %s could "
                                        "not be repaired from store %s:",
                                        rep->unrepaired, id, system, yb_store_location(damaged),
                                        yb_store_location(twin));
                for (size_t i = 0; i < rep->n_files && at < err_size; i++)
                        if (rep->files[i].action == YB_REPAIR_NO_TWIN ||
                            rep->files[i].action == YB_REPAIR_BAD_TWIN ||
                            rep->files[i].action == YB_REPAIR_LOCKED)
                                at += (size_t) snprintf(
                                        err + at, err_size - at, " %s (%s%s)", rep->files[i].name,
                                        rep->files[i].why,
                                        rep->files[i].action == YB_REPAIR_NO_TWIN
                                                ? "; the twin store has no such file"
                                                : "");
                r = -EBADMSG;
        }
        if (r == -ENOMEM)
                (void) fail(&p, r, "Out of memory while repairing snapshot %s of system %s.", id,
                            system);
        free(p.dir);
        free(p.snap);
        yb_repo_free(p.t);
        yb_repo_free(p.d);
        return r;
}

void yb_repair_report_done(YbRepairReport *rep) {
        free(rep->files);
        *rep = (YbRepairReport){ 0 };
}

const char *yb_repair_action_to_string(YbRepairAction a) {
        static const char *const names[_YB_REPAIR_ACTION_MAX] = {
                [YB_REPAIR_OK] = "ok",           [YB_REPAIR_REPLACED] = "replaced",
                [YB_REPAIR_NO_TWIN] = "no-twin", [YB_REPAIR_BAD_TWIN] = "bad-twin",
                [YB_REPAIR_LOCKED] = "locked",
        };

        return a >= 0 && a < _YB_REPAIR_ACTION_MAX ? names[a] : NULL;
}
