/* Pruning a snapshot on an object store (prune-objects.h): every object checked for Object Lock
 * first, then deleted header first, and a refused delete reported as what it left. */
#include "core/repo/prune-objects.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/log.h"
#include "core/base/macro.h"
#include "core/base/timeutil.h"
#include "core/store/store.h"

/* The objects under one snapshot's prefix (files only, found by listing it level by level), with
 * the stat of each. */
typedef struct Keys {
        char **keys;
        YbStoreStat *st;
        size_t n, cap;
        const char *dir; /* the level being listed */
} Keys;

static void keys_done(Keys *k) {
        for (size_t i = 0; i < k->n; i++)
                free(k->keys[i]);
        free(k->keys);
        free(k->st);
}

static int keys_add(void *userdata, const char *name) {
        Keys *k = userdata;
        char *path;

        if (k->n == k->cap) {
                size_t cap = k->cap ? k->cap * 2 : 16;
                char **keys = reallocarray(k->keys, cap, sizeof(*keys));
                YbStoreStat *st;

                if (!keys)
                        return -ENOMEM;
                k->keys = keys;
                st = reallocarray(k->st, cap, sizeof(*st));
                if (!st)
                        return -ENOMEM;
                k->st = st;
                k->cap = cap;
        }
        if (asprintf(&path, "%s/%s", k->dir, name) < 0)
                return -ENOMEM;
        k->keys[k->n++] = path;
        return 0;
}

/* Drops entry i (moving the last into its place); returns what it held. */
static char *keys_take(Keys *k, size_t i) {
        char *key = k->keys[i];

        k->n--;
        k->keys[i] = k->keys[k->n];
        k->st[i] = k->st[k->n];
        return key;
}

/* Every object under dir into k, with its stat; a directory (S3's common prefix) is listed in
 * turn. */
static int keys_collect(YbStore *s, const char *dir, Keys *k) {
        size_t from = k->n;
        int r;

        k->dir = dir;
        r = yb_store_list(s, dir, keys_add, k);
        if (r < 0)
                return r == -ENOENT ? 0 : r;
        for (size_t i = from; i < k->n;) {
                k->st[i] = (YbStoreStat){ 0 };
                r = yb_store_stat(s, k->keys[i], &k->st[i]);
                if (r == -ENOENT) { /* gone meanwhile: nothing to keep or delete */
                        free(keys_take(k, i));
                        continue;
                }
                if (r < 0)
                        return r;
                if (k->st[i].is_dir) {
                        _cleanup_free_ char *sub = keys_take(k, i);

                        r = keys_collect(s, sub, k);
                        if (r < 0)
                                return r;
                        continue;
                }
                i++;
        }
        return 0;
}

int yb_prune_objects_check(YbRepo *r, const char *id, int64_t now_sec, int64_t *ret_until,
                           char **ret_held) {
        _cleanup_free_ char *dir = yb_repo_snapshot_path(r, id, NULL);
        Keys k = { 0 };
        int64_t until = 0;
        char *held = NULL;
        int e;

        if (!dir)
                return -ENOMEM;
        e = keys_collect(r->store, dir, &k);
        for (size_t i = 0; e >= 0 && i < k.n; i++) {
                if (k.st[i].retain_until > now_sec)
                        until = MAX(until, k.st[i].retain_until);
                if (k.st[i].legal_hold && !held) {
                        held = strdup(k.keys[i]);
                        if (!held)
                                e = -ENOMEM;
                }
        }
        keys_done(&k);
        if (e < 0) {
                free(held);
                return e;
        }
        *ret_until = until;
        *ret_held = held;
        return 0;
}

/* (repo.h) Here, not in prune.c, which uses this file. */
void yb_prune_format_date(int64_t sec, char ret[YB_PRUNE_DATE_MAX]) {
        char t[32];

        yb_time_format_iso(sec * 1000000000LL, t);
        snprintf(ret, YB_PRUNE_DATE_MAX, "%.19sZ", t);
}

/* Why the store refused to delete key: what its stat says keeps it, and when that ends. */
static int why_kept(YbStore *s, const char *key, char **ret_why, char **ret_until) {
        YbStoreStat st = { 0 };
        int64_t now_sec = yb_now_ns() / 1000000000LL;

        if (yb_store_stat(s, key, &st) >= 0 && st.legal_hold) {
                *ret_why = strdup("a legal hold (lift it with PutObjectLegalHold Status OFF)");
                *ret_until = strdup("the hold is lifted");
        } else if (st.retain_until > now_sec) {
                char date[YB_PRUNE_DATE_MAX];

                yb_prune_format_date(st.retain_until, date);
                if (asprintf(ret_why, "Object Lock until %s", date) < 0)
                        *ret_why = NULL;
                if (asprintf(ret_until, "that date has passed (%s)", date) < 0)
                        *ret_until = NULL;
        } else {
                *ret_why = strdup("the store, which refused the delete with no Object Lock on it "
                                  "(check the bucket's policy and the credentials' permissions)");
                *ret_until = strdup("the store allows it");
        }
        return *ret_why && *ret_until ? 0 : -ENOMEM;
}

int yb_prune_objects_remove(YbRepo *r, const char *id, char **ret_partly) {
        _cleanup_free_ char *dir = yb_repo_snapshot_path(r, id, NULL),
                            *header = yb_repo_snapshot_path(r, id, "header");
        _cleanup_free_ char *why = NULL, *until = NULL;
        Keys k = { 0 };
        size_t deleted = 0;
        const char *failed = NULL;
        int e, err = 0;

        *ret_partly = NULL;
        if (!dir || !header)
                return -ENOMEM;
        e = yb_store_unlink(r->store, header);
        if (e < 0 && e != -ENOENT)
                return e; /* nothing of it was touched */
        e = keys_collect(r->store, dir, &k);
        for (size_t i = 0; e >= 0 && i < k.n; i++) {
                e = yb_store_unlink(r->store, k.keys[i]);
                if (e == -ENOENT)
                        e = 0;
                else if (e >= 0)
                        deleted++;
                else if (!failed) {
                        /* Go on: what the store lets go, goes now. */
                        failed = k.keys[i];
                        err = e;
                        e = 0;
                }
        }
        /* Pending uploads, and any object listed after the walk. */
        if (e >= 0 && !failed)
                e = yb_store_remove_tree(r->store, dir);
        if (e < 0 && !failed) {
                failed = dir;
                err = e;
        }
        if (failed) {
                e = why_kept(r->store, failed, &why, &until);
                if (e >= 0 &&
                    asprintf(ret_partly,
                             YB_PRUNE_PARTLY "%zu %s are deleted; %s is kept by %s; the "
                                             "next backup or prune removes the rest once %s",
                             deleted, deleted == 1 ? "object" : "objects", failed, why, until) < 0)
                        e = -ENOMEM;
                keys_done(&k);
                return e < 0 ? e : err;
        }
        keys_done(&k);
        return 0;
}
