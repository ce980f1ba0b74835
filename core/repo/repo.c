#include "core/repo/repo.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "core/repo/dirnames.h"
#include "core/repo/segment.h"
#include "core/repo/sigdelta.h"

#define CONFIG_MAX (64 * 1024)
#define MANIFEST_MAX (4ULL * 1024 * 1024 * 1024)

YbRepo *yb_repo_free(YbRepo *r) {
        if (!r)
                return NULL;
        if (r->locked)
                yb_repo_unlock(r);
        free(r->system);
        free(r);
        return NULL;
}

char *yb_repo_path(const YbRepo *r, const char *rest) {
        char *p;

        if (asprintf(&p, "%s/%s", r->system, rest) < 0)
                return NULL;
        return p;
}

char *yb_repo_snapshot_path(const YbRepo *r, const char *id, const char *file) {
        char *p;

        if (asprintf(&p, "%s/snapshots/%s%s%s", r->system, id, file ? "/" : "", file ? file : "") <
            0)
                return NULL;
        return p;
}

static int read_config(YbStore *store, const char *system, YbRepoConfig *ret) {
        _cleanup_free_ char *path = NULL;
        YbBuf b = YB_BUF_INIT;
        int r;

        if (asprintf(&path, "%s/config", system) < 0)
                return -ENOMEM;
        r = yb_store_read_file(store, path, CONFIG_MAX, &b);
        if (r >= 0)
                r = yb_repo_config_parse(b.data, b.size, ret);
        yb_buf_done(&b);
        if (r >= 0 && !streq(ret->system, system))
                return -EBADMSG; /* a config copied from another system's repository */
        return r == -EFBIG ? -EBADMSG : r;
}

/* After the store refused (-EPERM) to write or delete one of keys (NULL-terminated) of the
 * repository's small files: on an object store, says which one S3 keeps and why (Object Lock's
 * date, a legal hold) or, if none says so, that the store refused without a lock. */
static void explain_refusal(YbStore *store, const char *what, const char *const *keys) {
        if (!yb_store_objects(store))
                return;
        for (size_t i = 0; keys[i]; i++) {
                YbStoreStat st = { 0 };
                char t[64];

                if (yb_store_stat(store, keys[i], &st) < 0)
                        continue;
                if (st.legal_hold) {
                        log_error("%s: %s in %s is under a legal hold: lift it "
                                  "(PutObjectLegalHold with Status OFF).",
                                  what, keys[i], yb_store_location(store));
                        return;
                }
                if (st.retain_until > yb_now_ns() / 1000000000LL) {
                        yb_time_format_iso(st.retain_until * 1000000000LL, t);
                        log_error("%s: Object Lock keeps %s in %s until %.19sZ (a default "
                                  "retention of the bucket locks it: remove the bucket's rule; "
                                  "yunbak's lock and config must stay deletable).",
                                  what, keys[i], yb_store_location(store), t);
                        return;
                }
        }
        log_error("%s: the store %s refused to write or delete %s without Object Lock on it: check "
                  "the bucket's policy and the credentials' permissions.",
                  what, yb_store_location(store), keys[0]);
}

int yb_repo_open(YbStore *store, const char *system, YbRepo **ret) {
        _cleanup_(yb_repo_freep) YbRepo *r = NULL;
        int k;

        if (!yb_system_id_valid(system))
                return -EINVAL;
        r = new0(YbRepo, 1);
        if (!r)
                return -ENOMEM;
        r->store = store;
        r->system = strdup(system);
        if (!r->system)
                return -ENOMEM;
        k = read_config(store, system, &r->config);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(r);
        return 0;
}

int yb_repo_open_or_create(YbStore *store, const YbPublicKey *pub, YbRepo **ret) {
        _cleanup_free_ char *cfg = NULL, *tmp = NULL, *path = NULL, *dir = NULL;
        YbRepoConfig c = { .format = YB_FORMAT_VERSION };
        YbRepo *repo;
        int r;

        r = yb_repo_open(store, pub->system, &repo);
        if (r >= 0) {
                if (memcmp(repo->config.pub.pk, pub->pk, 32) != 0) {
                        yb_repo_free(repo);
                        return -EKEYREJECTED;
                }
                *ret = repo;
                return 0;
        }
        if (r != -ENOENT)
                return r;

        strcpy(c.system, pub->system);
        c.pub = *pub;
        c.created_ns = yb_now_ns();
        r = yb_repo_config_format(&c, &cfg);
        if (r < 0)
                return r;
        if (asprintf(&dir, "%s", pub->system) < 0 ||
            asprintf(&path, "%s/config", pub->system) < 0 ||
            asprintf(&tmp, "%s/config.tmp-%ld", pub->system, (long) getpid()) < 0)
                return -ENOMEM;
        r = yb_store_mkdir(store, dir);
        if (r < 0)
                return r;
        (void) yb_store_unlink(store, tmp);
        r = yb_store_write_file(store, tmp, cfg, strlen(cfg));
        if (r == -EPERM)
                explain_refusal(store, "Cannot write the repository's config",
                                (const char *const[]){ tmp, NULL });
        if (r < 0)
                return r;
        r = yb_store_rename(store, tmp, path);
        if (r == -EPERM)
                explain_refusal(store, "Cannot write the repository's config",
                                (const char *const[]){ path, tmp, NULL });
        if (r < 0) {
                (void) yb_store_unlink(store, tmp);
                if (r != -EEXIST)
                        return r;
                /* Another writer created it first: use theirs, if the key agrees. */
        }
        r = yb_store_sync_dir(store, dir);
        if (r < 0)
                return r;
        r = yb_repo_open(store, pub->system, &repo);
        if (r < 0)
                return r;
        if (memcmp(repo->config.pub.pk, pub->pk, 32) != 0) {
                yb_repo_free(repo);
                return -EKEYREJECTED;
        }
        *ret = repo;
        return 0;
}

static void lock_identity(char ret[256]) {
        char host[128] = "";

        (void) gethostname(host, sizeof(host) - 1);
        snprintf(ret, 256, "%s %ld", host, (long) getpid());
}

/* The lock is written under a name of its own and renamed into place without replacing, so it
 * appears whole or not at all: a writer killed half-way never leaves an unreadable lock. (Not
 * under tmp/, which the lock holder cleans.) */
static int lock_create(YbRepo *r, const char *path, const char *me) {
        _cleanup_free_ char *tmp = NULL;
        int k;

        if (asprintf(&tmp, "%s/lock.new-%ld", r->system, (long) getpid()) < 0)
                return -ENOMEM;
        (void) yb_store_unlink(r->store, tmp);
        k = yb_store_write_file(r->store, tmp, me, strlen(me));
        if (k >= 0)
                k = yb_store_rename(r->store, tmp, path);
        if (k == -EPERM)
                explain_refusal(r->store, "Cannot take the repository's lock",
                                (const char *const[]){ path, tmp, NULL });
        if (k < 0)
                (void) yb_store_unlink(r->store, tmp);
        return k;
}

static int read_lock(YbRepo *r, const char *path, char ret[256]) {
        YbBuf b = YB_BUF_INIT;
        int k = yb_store_read_file(r->store, path, 255, &b);

        if (k >= 0)
                snprintf(ret, 256, "%.*s", (int) b.size, b.data ? (char *) b.data : "");
        yb_buf_done(&b);
        return k;
}

/* Whether a lock's owner is a process of this host that no longer exists. */
static bool lock_is_stale(const char *owner) {
        char host[128], myhost[128] = "";
        long pid;

        (void) gethostname(myhost, sizeof(myhost) - 1);
        return sscanf(owner, "%127s %ld", host, &pid) == 2 && streq(host, myhost) && pid > 0 &&
               kill((pid_t) pid, 0) < 0 && errno == ESRCH;
}

/* Breaks a stale lock without racing another process doing the same: the lock is first renamed
 * to a name of our own (only one renamer succeeds), then checked to be the stale one we read;
 * if a fresh lock was renamed instead, it is put back. */
static int break_stale_lock(YbRepo *r, const char *path, const char *stale) {
        _cleanup_free_ char *aside = NULL;
        char got[256];
        int k;

        if (asprintf(&aside, "%s/lock.stale-%ld", r->system, (long) getpid()) < 0)
                return -ENOMEM;
        k = yb_store_rename(r->store, path, aside);
        if (k == -EPERM)
                explain_refusal(r->store, "Cannot break the repository's stale lock",
                                (const char *const[]){ path, aside, NULL });
        if (k < 0)
                return k == -ENOENT ? 0 : k; /* someone else broke it first: just retry */
        k = read_lock(r, aside, got);
        if (k >= 0 && !streq(got, stale)) {
                (void) yb_store_rename(r->store, aside, path);
                return -EBUSY;
        }
        log_debug("Broke the stale lock of '%s'.", stale);
        (void) yb_store_unlink(r->store, aside);
        return 0;
}

int yb_repo_lock(YbRepo *r) {
        _cleanup_free_ char *path = yb_repo_path(r, "lock");
        char me[256];
        int k;

        if (!path)
                return -ENOMEM;
        lock_identity(me);
        for (int attempt = 0; attempt < 3; attempt++) {
                k = lock_create(r, path, me);
                if (k >= 0) {
                        r->locked = true;
                        snprintf(r->lock_owner, sizeof(r->lock_owner), "%s", me);
                        return 0;
                }
                if (k != -EEXIST)
                        return k;
                k = read_lock(r, path, r->lock_owner);
                if (k == -ENOENT)
                        continue; /* released meanwhile */
                if (k < 0)
                        return k;
                if (!lock_is_stale(r->lock_owner))
                        return -EBUSY;
                k = break_stale_lock(r, path, r->lock_owner);
                if (k < 0)
                        return k;
        }
        return -EBUSY;
}

void yb_repo_unlock(YbRepo *r) {
        _cleanup_free_ char *path = yb_repo_path(r, "lock");
        char got[256];

        /* Only our own lock: if it was broken and taken by another writer, it is theirs. */
        if (path && r->locked && read_lock(r, path, got) >= 0 && streq(got, r->lock_owner))
                (void) yb_store_unlink(r->store, path);
        r->locked = false;
}

int yb_repo_load_header(YbRepo *r, const char *id, YbSnapshotHeader **ret) {
        return yb_repo_load_header_bytes(r, id, NULL, ret);
}

int yb_repo_header_check(YbRepo *r, const void *data, size_t n, const char *id,
                         YbSnapshotHeader **ret) {
        YbSnapshotHeader *h = NULL;
        int k = yb_header_parse(data, n, &h);

        if (k < 0)
                return k;
        /* The header must describe the point it sits in, of this system, with this key. */
        if (!streq(h->id, id) || !streq(h->system, r->system) ||
            memcmp(h->key_id, r->config.pub.id, YB_KEY_ID_SIZE) != 0) {
                yb_header_free(h);
                return -EBADMSG;
        }
        *ret = h;
        return 0;
}

int yb_repo_header_key_replaced(YbRepo *r, const char *id, char ret[YB_REPO_KEY_TEXT_MAX]) {
        _cleanup_free_ char *path = yb_repo_snapshot_path(r, id, "header");
        YbBuf b = YB_BUF_INIT;
        YbSnapshotHeader *h = NULL;
        char names[2 * YB_KEY_ID_SIZE + 1], written[2 * YB_KEY_ID_SIZE + 1];
        int k;

        if (!path)
                return -ENOMEM;
        k = yb_store_read_file(r->store, path, YB_HEADER_MAX_BYTES, &b);
        if (k >= 0)
                k = yb_header_parse(b.data, b.size, &h);
        yb_buf_done(&b);
        if (k < 0)
                return 0;
        k = streq(h->id, id) && streq(h->system, r->system) &&
            memcmp(h->key_id, r->config.pub.id, YB_KEY_ID_SIZE) != 0;
        if (k) {
                yb_key_id_hex(r->config.pub.id, names);
                yb_key_id_hex(h->key_id, written);
                snprintf(ret, YB_REPO_KEY_TEXT_MAX,
                         "the repository's config was replaced (it names key %s; snapshot %s was "
                         "written for key %s)",
                         names, id, written);
        }
        yb_header_free(h);
        return k;
}

int yb_repo_load_header_bytes(YbRepo *r, const char *id, YbBuf *ret_bytes, YbSnapshotHeader **ret) {
        _cleanup_free_ char *path = NULL;
        YbBuf b = YB_BUF_INIT;
        YbSnapshotHeader *h = NULL;
        int k;

        if (!yb_snapshot_id_valid(id))
                return -EINVAL;
        path = yb_repo_snapshot_path(r, id, "header");
        if (!path)
                return -ENOMEM;
        k = yb_store_read_file(r->store, path, YB_HEADER_MAX_BYTES, &b);
        if (k == -EFBIG)
                k = -EBADMSG;
        if (k >= 0)
                k = yb_repo_header_check(r, b.data, b.size, id, &h);
        /* A segment lives under segments/ (segment.h), never among the snapshots. */
        if (k >= 0 && h->level == YB_LEVEL_SEGMENT) {
                h = yb_header_free(h);
                k = -EBADMSG;
        }
        if (k < 0) {
                yb_buf_done(&b);
                return k;
        }
        if (ret_bytes)
                *ret_bytes = b;
        else
                yb_buf_done(&b);
        *ret = h;
        return 0;
}

void yb_snapshot_list_done(YbSnapshotList *l) {
        for (size_t i = 0; i < l->n; i++)
                yb_header_free(l->items[i]);
        free(l->items);
        for (size_t i = 0; i < l->n_broken; i++)
                free(l->broken[i].id);
        free(l->broken);
        for (size_t i = 0; i < l->n_incomplete; i++)
                free(l->incomplete[i]);
        free(l->incomplete);
        memset(l, 0, sizeof(*l));
}

static int header_cmp(const void *a, const void *b) {
        const YbSnapshotHeader *x = *(YbSnapshotHeader *const *) a,
                               *y = *(YbSnapshotHeader *const *) b;

        if (x->started_ns != y->started_ns)
                return x->started_ns < y->started_ns ? -1 : 1;
        return strcmp(x->id, y->id);
}

int yb_repo_list(YbRepo *r, YbSnapshotList *ret) {
        _cleanup_free_ char *dir = yb_repo_path(r, "snapshots");
        YbSnapshotList l = { 0 };
        YbDirNames names = { 0 };
        int k;

        if (!dir)
                return -ENOMEM;
        k = yb_dirnames_list_sorted(r->store, dir, &names);
        if (k == -ENOENT)
                k = 0;
        if (k >= 0 && names.n > 0) {
                l.items = new0(YbSnapshotHeader *, names.n);
                l.broken = new0(YbBrokenSnapshot, names.n);
                l.incomplete = new0(char *, names.n);
                if (!l.items || !l.broken || !l.incomplete)
                        k = -ENOMEM;
        }
        for (size_t i = 0; i < names.n && k >= 0; i++) {
                YbSnapshotHeader *h;
                int e = yb_snapshot_id_valid(names.v[i]) ? yb_repo_load_header(r, names.v[i], &h)
                                                         : -EBADMSG;

                if (e == -ENOMEM) {
                        k = e;
                        break;
                }
                /* Written in place on an object store: without its header, not yet (or never)
                 * a snapshot. */
                if (e == -ENOENT && yb_store_objects(r->store)) {
                        l.incomplete[l.n_incomplete++] = TAKE_PTR(names.v[i]);
                        continue;
                }
                if (e < 0) {
                        l.broken[l.n_broken].id = TAKE_PTR(names.v[i]);
                        l.broken[l.n_broken++].error = e;
                        continue;
                }
                l.items[l.n++] = h;
        }
        yb_dirnames_done(&names);
        if (k < 0) {
                yb_snapshot_list_done(&l);
                return k;
        }
        if (l.n > 0)
                qsort(l.items, l.n, sizeof(l.items[0]), header_cmp);
        *ret = l;
        return 0;
}

const YbSnapshotHeader *yb_snapshot_list_find(const YbSnapshotList *l, const char *id) {
        for (size_t i = 0; i < l->n; i++)
                if (streq(l->items[i]->id, id))
                        return l->items[i];
        return NULL;
}

/* Whether a snapshot of l no newer than h names id as its parent or base. */
static bool named_by_older(const YbSnapshotList *l, const YbSnapshotHeader *h, const char *id) {
        for (size_t i = 0; i < l->n && header_cmp(&l->items[i], &h) <= 0; i++)
                if (streq(l->items[i]->parent, id) || streq(l->items[i]->base, id))
                        return true;
        return false;
}

const YbBrokenSnapshot *yb_snapshot_list_damaged_after(const YbSnapshotList *l,
                                                       const YbSnapshotHeader *h,
                                                       int64_t until_ns) {
        const YbBrokenSnapshot *newest = NULL;
        int64_t newest_t = INT64_MIN;

        for (size_t i = 0; i < l->n_broken; i++) {
                const YbBrokenSnapshot *b = &l->broken[i];
                int64_t t;

                if (yb_snapshot_id_time(b->id, &t) < 0 || t > until_ns)
                        continue;
                if (h) {
                        int64_t hs = yb_floor_div(h->started_ns, YB_NSEC_PER_SEC) * YB_NSEC_PER_SEC;

                        if (t < hs || (t == hs && named_by_older(l, h, b->id)))
                                continue;
                }
                if (!newest || t > newest_t) {
                        newest = b;
                        newest_t = t;
                }
        }
        return newest;
}

/* Reads a snapshot's sealed, compressed file and parses it. */
static int load_sealed(YbRepo *r, const YbSnapshotHeader *h, const char *name,
                       const YbSecretKey *key, int (*parse)(const void *, size_t, void **),
                       void **ret) {
        _cleanup_free_ char *path = yb_repo_point_path(r, h, name);
        const YbFileRef *ref = yb_header_find_file(h, name);
        YbBuf b = YB_BUF_INIT;
        char ctx[256];
        int k;

        if (!path)
                return -ENOMEM;
        if (!ref)
                return -EBADMSG;
        yb_seal_context(r->system, h->id, name, ctx);
        k = yb_sealed_read_all(r->store, path, ref, key, ctx, true, MANIFEST_MAX, &b);
        if (k >= 0)
                k = parse(b.data, b.size, ret);
        yb_buf_done(&b);
        return k;
}

static int parse_manifest(const void *data, size_t n, void **ret) {
        return yb_manifest_parse(data, n, (YbManifest **) ret);
}

static int parse_sigindex(const void *data, size_t n, void **ret) {
        return yb_sigindex_parse_any(data, n, (YbSigIndex **) ret);
}

int yb_repo_load_manifest(YbRepo *r, const YbSnapshotHeader *h, const YbSecretKey *key,
                          YbManifest **ret) {
        YbManifest *m = NULL;
        int k = load_sealed(r, h, "manifest", key, parse_manifest, (void **) &m);

        if (k < 0)
                return k;
        /* A deletion means something only against a previous point: a segment's alone. */
        if (h->level != YB_LEVEL_SEGMENT)
                for (size_t i = 0; i < m->n; i++)
                        if (m->entries[i].type == YB_ENTRY_DELETED) {
                                yb_manifest_free(m);
                                return -EBADMSG;
                        }
        *ret = m;
        return 0;
}

int yb_repo_load_sigindex(YbRepo *r, const YbSnapshotHeader *h, const YbSecretKey *state_key,
                          YbSigIndex **ret) {
        return load_sealed(r, h, "sigindex", state_key, parse_sigindex, (void **) ret);
}

int yb_repo_load_skipped(YbRepo *r, const YbSnapshotHeader *h, const YbSecretKey *key, char ***ret,
                         size_t *ret_n) {
        _cleanup_free_ char *path = yb_repo_point_path(r, h, "skipped");
        const YbFileRef *ref = yb_header_find_file(h, "skipped");
        YbBuf b = YB_BUF_INIT;
        json_t *a = NULL;
        char **v = NULL, ctx[256];
        size_t n = 0;
        int k;

        if (!path)
                return -ENOMEM;
        if (!ref) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        yb_seal_context(r->system, h->id, "skipped", ctx);
        k = yb_sealed_read_all(r->store, path, ref, key, ctx, true, YB_HEADER_MAX_BYTES, &b);
        if (k >= 0) {
                a = json_loadb((const char *) b.data, b.size, 0, NULL);
                k = json_is_array(a) ? 0 : -EBADMSG;
        }
        yb_buf_done(&b);
        if (k >= 0) {
                v = new0(char *, json_array_size(a) + 1);
                k = v ? 0 : -ENOMEM;
        }
        for (size_t i = 0; k >= 0 && i < json_array_size(a); i++) {
                const char *p = json_string_value(json_object_get(json_array_get(a, i), "path")),
                           *why = json_string_value(json_object_get(json_array_get(a, i), "why"));

                if (!p || !why)
                        k = -EBADMSG;
                else if (asprintf(&v[n], "%s: %s", p, why) < 0)
                        k = -ENOMEM;
                else
                        n++;
        }
        json_decref(a);
        if (k < 0) {
                for (size_t i = 0; i < n; i++)
                        free(v[i]);
                free(v);
                return k;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}
