#include "core/repo/verify.h"

#include <stdarg.h>
#include <stdio.h>

#include "core/base/log.h"
#include "core/base/pathutil.h"
#include "core/repo/dirnames.h"
#include "core/repo/segment.h"

typedef struct Ctx {
        YbRepo *repo;
        const YbSnapshotHeader *h;
        YbVerifyReportFn report;
        void *userdata;
        int problems;
} Ctx;

static void problem(Ctx *c, const char *file, const char *fmt, ...) _printf_(3, 4);
static void problem(Ctx *c, const char *file, const char *fmt, ...) {
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        c->problems++;
        c->report(c->userdata, c->h->id, file, msg);
}

/* Reads the stored file, checking size, hash and the sealed header. */
static int check_file(Ctx *c, const YbFileRef *ref) {
        _cleanup_free_ char *path = yb_repo_point_path(c->repo, c->h, ref->name);
        _cleanup_(yb_store_file_closep) YbStoreFile *f = NULL;
        _cleanup_free_ uint8_t *buf = malloc(1 << 20);
        uint8_t first[512], h[YB_HASH_SIZE];
        char expect_ctx[256];
        size_t first_n = 0;
        uint64_t size = 0;
        YbSealInfo info;
        YbHash hash;
        int r;

        if (!path || !buf)
                return -ENOMEM;
        r = yb_store_open_read(c->repo->store, path, &f);
        if (r == -ENOENT) {
                problem(c, ref->name, "missing");
                return 0;
        }
        if (r < 0) {
                problem(c, ref->name, "cannot be read: %s", strerror(-r));
                return 0;
        }
        yb_hash_init(&hash);
        for (;;) {
                ssize_t k = yb_store_read(f, buf, 1 << 20);

                if (k < 0) {
                        problem(c, ref->name, "read failed: %s", strerror((int) -k));
                        return 0;
                }
                if (k == 0)
                        break;
                if (first_n < sizeof(first)) {
                        size_t m = MIN(sizeof(first) - first_n, (size_t) k);

                        memcpy(first + first_n, buf, m);
                        first_n += m;
                }
                yb_hash_update(&hash, buf, (size_t) k);
                size += (uint64_t) k;
        }
        yb_hash_final(&hash, h);
        if (size != ref->size) {
                problem(c, ref->name, "size is %llu bytes, the header says %llu",
                        (unsigned long long) size, (unsigned long long) ref->size);
                return 0;
        }
        if (memcmp(h, ref->hash, YB_HASH_SIZE) != 0) {
                problem(c, ref->name, "content does not match the header's BLAKE2b hash");
                return 0;
        }
        r = yb_seal_info_parse(first, first_n, &info);
        if (r < 0) {
                problem(c, ref->name, "not a sealed file of a version this program reads");
                return 0;
        }
        yb_seal_context(c->repo->system, c->h->id, ref->name, expect_ctx);
        if (!streq(info.context, expect_ctx))
                problem(c, ref->name, "sealed for '%s', not for this snapshot", info.context);
        if (memcmp(info.key_id, streq(ref->name, "sigindex") ? c->h->state_key_id : c->h->key_id,
                   YB_KEY_ID_SIZE) != 0)
                problem(c, ref->name, "sealed to an unexpected key");
        return 0;
}

static int check_chain(Ctx *c, const YbSnapshotList *all) {
        /* A segment's chain is checked by yb_segments_verify (segment.h). */
        if (c->h->level == YB_LEVEL_FULL || c->h->level == YB_LEVEL_SEGMENT || !all)
                return 0;
        if (!yb_snapshot_list_find(all, c->h->parent))
                problem(c, NULL, "its parent snapshot %s is missing or damaged", c->h->parent);
        if (!yb_snapshot_list_find(all, c->h->base))
                problem(c, NULL, "its base full snapshot %s is missing or damaged", c->h->base);
        return 0;
}

/* Content records (whole or delta) of a manifest, sorted by (volume, entry). */
typedef struct Ref {
        uint32_t volume, entry;
        const YbEntry *e;
        bool seen;
} Ref;

static int ref_cmp(const void *a, const void *b) {
        const Ref *x = a, *y = b;

        if (x->volume != y->volume)
                return x->volume < y->volume ? -1 : 1;
        return x->entry < y->entry ? -1 : x->entry > y->entry;
}

static Ref *ref_find(Ref *refs, size_t n, uint32_t volume, uint32_t entry) {
        Ref key = { .volume = volume, .entry = entry };

        return bsearch(&key, refs, n, sizeof(Ref), ref_cmp);
}

/* Reads one volume, checking every entry a record points at against that record's hash. */
static int check_volume(Ctx *c, const YbSecretKey *key, const YbFileRef *ref, uint32_t vol,
                        Ref *refs, size_t n_refs) {
        _cleanup_(yb_sealed_in_freep) YbSealedIn *in = NULL;
        _cleanup_(yb_pax_reader_freep) YbPaxReader *pax = NULL;
        _cleanup_free_ char *path = yb_repo_point_path(c->repo, c->h, ref->name);
        char ctx[256];
        int r;

        if (!path)
                return -ENOMEM;
        yb_seal_context(c->repo->system, c->h->id, ref->name, ctx);
        r = yb_sealed_in_open(c->repo->store, path, ref, key, ctx, true, &in);
        if (r >= 0)
                r = yb_sealed_in_prefetch(in);
        if (r >= 0)
                r = yb_pax_reader_new_peek(yb_sealed_in_peek_cb, in, &pax);
        for (uint32_t entry = 0; r >= 0; entry++) {
                Ref *want;
                const char *name;
                uint64_t size, got = 0;
                uint8_t h[YB_HASH_SIZE];
                YbHash hash;

                r = yb_pax_next(pax, &name, &size);
                if (r <= 0)
                        break;
                yb_hash_init(&hash);
                for (;;) {
                        const void *data;
                        ssize_t k = yb_pax_read_block(pax, &data);

                        if (k <= 0) {
                                r = (int) k;
                                break;
                        }
                        yb_hash_update(&hash, data, (size_t) k);
                        got += (uint64_t) k;
                }
                if (r < 0)
                        break;
                yb_hash_final(&hash, h);
                want = ref_find(refs, n_refs, vol, entry);
                if (!want)
                        continue; /* a torn read the agent replaced: no record points at it */
                want->seen = true;
                if (got != want->e->stored ||
                    memcmp(h,
                           want->e->content == YB_CONTENT_WHOLE ? want->e->hash
                                                                : want->e->stored_hash,
                           YB_HASH_SIZE) != 0) {
                        _cleanup_free_ char *esc = yb_path_escape(want->e->path);

                        problem(c, ref->name, "entry %u (%s) does not match its hash", entry,
                                esc ? esc : "?");
                }
        }
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                problem(c, ref->name, "cannot be decrypted and unpacked: %s",
                        r == -EBADMSG ? "damaged or altered" : strerror(-r));
        return 0;
}

/* Every "unchanged" or "delta" record names a file of the parent snapshot: without it, the
 * chain could not be resolved on restore. */
static int check_bases(Ctx *c, const YbManifest *m, const YbSecretKey *key,
                       const YbSnapshotList *all) {
        _cleanup_(yb_manifest_freep) YbManifest *pm = NULL;
        const YbSnapshotHeader *parent;
        int r;

        /* A segment's parent is sparse: its bases are in the state the chain builds up, which a
         * restore resolves. */
        if (c->h->level == YB_LEVEL_FULL || c->h->level == YB_LEVEL_SEGMENT || !all)
                return 0;
        parent = yb_snapshot_list_find(all, c->h->parent);
        if (!parent)
                return 0; /* already reported by check_chain */
        r = yb_repo_load_manifest(c->repo, parent, key, &pm);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                problem(c, "manifest",
                        "the parent's manifest (%s) cannot be opened, so its "
                        "unchanged and delta files cannot be resolved",
                        parent->id);
                return 0;
        }
        for (size_t i = 0; i < m->n; i++) {
                const YbEntry *e = &m->entries[i], *b;

                if (e->type != YB_ENTRY_FILE ||
                    (e->content != YB_CONTENT_UNCHANGED && e->content != YB_CONTENT_DELTA))
                        continue;
                b = yb_manifest_find(pm, e->base_path);
                if (!b || b->type != YB_ENTRY_FILE ||
                    (e->content == YB_CONTENT_UNCHANGED &&
                     (b->size != e->size || memcmp(b->hash, e->hash, YB_HASH_SIZE) != 0))) {
                        _cleanup_free_ char *esc = yb_path_escape(e->path);
                        _cleanup_free_ char *besc = yb_path_escape(e->base_path);

                        problem(c, "manifest", "'%s' refers to '%s' in the parent %s, which %s",
                                esc ? esc : "?", besc ? besc : "?", parent->id,
                                !b ? "has no such file" : "holds other content");
                }
        }
        return 0;
}

/* With the key: every volume entry that the manifest names exists with the right hash, every
 * record's content is found, and every reference to the parent resolves. */
static int check_deep(Ctx *c, const YbSecretKey *key, const YbSnapshotList *all) {
        _cleanup_(yb_manifest_freep) YbManifest *m = NULL;
        _cleanup_free_ Ref *refs = NULL;
        size_t n_refs = 0;
        int r;

        r = yb_repo_load_manifest(c->repo, c->h, key, &m);
        if (r == -EKEYREJECTED) {
                problem(c, "manifest", "the key does not open it (another system's key?)");
                return 0;
        }
        if (r < 0) {
                problem(c, "manifest", "cannot be opened: %s",
                        r == -EBADMSG ? "damaged or altered" : strerror(-r));
                return 0;
        }
        refs = new0(Ref, m->n + 1);
        if (!refs)
                return -ENOMEM;
        for (size_t j = 0; j < m->n; j++) {
                const YbEntry *e = &m->entries[j];

                if (e->type == YB_ENTRY_FILE &&
                    (e->content == YB_CONTENT_WHOLE || e->content == YB_CONTENT_DELTA))
                        refs[n_refs++] = (Ref){ e->volume, e->entry, e, false };
        }
        if (n_refs > 1)
                qsort(refs, n_refs, sizeof(Ref), ref_cmp);
        for (size_t i = 0; i < c->h->n_files; i++) {
                unsigned vol;
                char tail;

                if (sscanf(c->h->files[i].name, "vol-%u%c", &vol, &tail) != 1)
                        continue;
                r = check_volume(c, key, &c->h->files[i], vol, refs, n_refs);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < n_refs; i++)
                if (!refs[i].seen) {
                        _cleanup_free_ char *esc = yb_path_escape(refs[i].e->path);

                        problem(c, "manifest",
                                "'%s' is in entry %u of vol-%06u, which has no such "
                                "entry",
                                esc ? esc : "?", refs[i].entry, refs[i].volume);
                }
        return check_bases(c, m, key, all);
}

int yb_verify_snapshot(YbRepo *repo, const YbSnapshotHeader *h, const YbSnapshotList *all,
                       const YbSecretKey *key, YbVerifyReportFn report, void *userdata) {
        _cleanup_free_ char *dir = yb_repo_point_path(repo, h, NULL);
        Ctx c = { .repo = repo, .h = h, .report = report, .userdata = userdata };
        YbDirNames names = { 0 };
        int r;

        if (!dir)
                return -ENOMEM;
        for (size_t i = 0; i < h->n_files; i++) {
                r = check_file(&c, &h->files[i]);
                if (r < 0)
                        return r;
        }
        /* Anything in the snapshot that its header does not name was put there by someone else. */
        r = yb_store_list(repo->store, dir, yb_dirnames_add, &names);
        for (size_t i = 0; i < names.n; i++) {
                if (r >= 0 && !streq(names.v[i], "header") && !yb_header_find_file(h, names.v[i]))
                        problem(&c, names.v[i], "not named in the snapshot's header");
                free(names.v[i]);
        }
        free(names.v);
        if (r < 0)
                return r;
        check_chain(&c, all);
        if (key && c.problems == 0) {
                r = check_deep(&c, key, all);
                if (r < 0)
                        return r;
        }
        return c.problems;
}

int yb_verify_sizes(YbRepo *repo, const YbSnapshotHeader *h, const char **ret_file) {
        for (size_t i = 0; i < h->n_files; i++) {
                _cleanup_free_ char *path = yb_repo_point_path(repo, h, h->files[i].name);
                YbStoreStat st;
                int r;

                if (!path)
                        return -ENOMEM;
                r = yb_store_stat(repo->store, path, &st);
                if (r == 0 && (st.is_dir || st.size != h->files[i].size))
                        r = -EBADMSG;
                if (r == -ENOENT || r == -EBADMSG)
                        *ret_file = h->files[i].name;
                if (r < 0)
                        return r;
        }
        return 0;
}

const char *yb_verify_damaged_ancestor(const YbSnapshotList *all, const bool *damaged,
                                       const YbSnapshotHeader *h) {
        /* Each step goes to an older snapshot of all, so a sound chain is at most all->n long. */
        for (size_t steps = 0; h->level != YB_LEVEL_FULL; steps++) {
                const char *parent = h->parent;
                size_t i = 0;

                while (i < all->n && !streq(all->items[i]->id, parent))
                        i++;
                if (i == all->n || steps >= all->n || (damaged && damaged[i]))
                        return parent;
                h = all->items[i];
        }
        return NULL;
}
