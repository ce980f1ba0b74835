/* Manifest and signature-index records: the binary layout of docs/format.md, "Manifest". */
#include <stdio.h>

#include "core/base/log.h"
#include "core/base/pathutil.h"
#include "core/repo/format.h"

static const char *const level_names[_YB_LEVEL_MAX] = {
        [YB_LEVEL_FULL] = "full",
        [YB_LEVEL_DIFFERENTIAL] = "differential",
        [YB_LEVEL_INCREMENTAL] = "incremental",
        [YB_LEVEL_SEGMENT] = "segment",
};

const char *yb_level_to_string(YbLevel l) {
        return l >= 0 && l < _YB_LEVEL_MAX ? level_names[l] : NULL;
}

int yb_level_from_string(const char *s) {
        for (int i = 0; i < _YB_LEVEL_MAX; i++)
                if (streq(s, level_names[i]))
                        return i;
        return -EINVAL;
}

void yb_entry_clear(YbEntry *e) {
        free(e->path);
        free(e->uname);
        free(e->gname);
        free(e->base_path);
        free(e->target);
        for (size_t i = 0; i < e->n_xattrs; i++) {
                free(e->xattrs[i].name);
                free(e->xattrs[i].value);
        }
        free(e->xattrs);
        memset(e, 0, sizeof(*e));
}

static int dup_str(const char *s, char **ret) {
        if (!s) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int yb_entry_copy(const YbEntry *src, YbEntry *ret) {
        YbEntry e = *src;
        int r;

        e.path = e.uname = e.gname = e.base_path = e.target = NULL;
        e.xattrs = NULL;
        e.n_xattrs = 0;
        if ((r = dup_str(src->path, &e.path)) < 0 || (r = dup_str(src->uname, &e.uname)) < 0 ||
            (r = dup_str(src->gname, &e.gname)) < 0 ||
            (r = dup_str(src->base_path, &e.base_path)) < 0 ||
            (r = dup_str(src->target, &e.target)) < 0)
                goto fail;
        if (src->n_xattrs > 0) {
                e.xattrs = new0(YbXattr, src->n_xattrs);
                if (!e.xattrs) {
                        r = -ENOMEM;
                        goto fail;
                }
                for (size_t i = 0; i < src->n_xattrs; i++) {
                        e.xattrs[i].name = strdup(src->xattrs[i].name);
                        e.xattrs[i].value = malloc(src->xattrs[i].size + 1);
                        e.n_xattrs = i + 1;
                        if (!e.xattrs[i].name || !e.xattrs[i].value) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        memcpy(e.xattrs[i].value, src->xattrs[i].value, src->xattrs[i].size);
                        e.xattrs[i].size = src->xattrs[i].size;
                }
        }
        *ret = e;
        return 0;
fail:
        yb_entry_clear(&e);
        return r;
}

static int put_str(YbBuf *b, const char *s) {
        return yb_buf_append_bytes(b, s ? s : "", s ? strlen(s) : 0);
}

static uint64_t zigzag(int64_t v) {
        return ((uint64_t) v << 1) ^ (uint64_t) (v >> 63);
}

static int64_t unzigzag(uint64_t v) {
        return (int64_t) (v >> 1) ^ -(int64_t) (v & 1);
}

int yb_manifest_encode_entry(const YbEntry *e, YbBuf *b) {
        int r = 0;

#define PUT(x)                                                                                     \
        do {                                                                                       \
                r = (x);                                                                           \
                if (r < 0)                                                                         \
                        return r;                                                                  \
        } while (0)
        PUT(yb_buf_append_u8(b, (uint8_t) e->type));
        PUT(put_str(b, e->path));
        if (e->type == YB_ENTRY_DELETED)
                return 0; /* a deletion is its path alone */
        PUT(yb_buf_append_varint(b, e->mode & 07777));
        PUT(yb_buf_append_varint(b, e->uid));
        PUT(yb_buf_append_varint(b, e->gid));
        PUT(put_str(b, e->uname));
        PUT(put_str(b, e->gname));
        PUT(yb_buf_append_varint(b, zigzag(e->mtime_sec)));
        PUT(yb_buf_append_varint(b, e->mtime_nsec));
        PUT(yb_buf_append_varint(b, e->n_xattrs));
        for (size_t i = 0; i < e->n_xattrs; i++) {
                PUT(put_str(b, e->xattrs[i].name));
                PUT(yb_buf_append_bytes(b, e->xattrs[i].value, e->xattrs[i].size));
        }
        switch (e->type) {
        case YB_ENTRY_FILE:
                PUT(yb_buf_append_varint(b, e->size));
                PUT(yb_buf_append_u8(b, (uint8_t) e->content));
                PUT(yb_buf_append_u8(b, (e->sparse ? 1 : 0) | (e->changing ? 2 : 0)));
                PUT(yb_buf_append(b, e->hash, YB_HASH_SIZE));
                if (e->changing)
                        PUT(yb_buf_append_varint(b, (uint64_t) e->read_started_ns));
                if (e->content == YB_CONTENT_WHOLE || e->content == YB_CONTENT_DELTA) {
                        PUT(yb_buf_append_varint(b, e->volume));
                        PUT(yb_buf_append_varint(b, e->entry));
                        PUT(yb_buf_append_varint(b, e->stored));
                }
                if (e->content == YB_CONTENT_DELTA)
                        PUT(yb_buf_append(b, e->stored_hash, YB_HASH_SIZE));
                if (e->content == YB_CONTENT_DELTA || e->content == YB_CONTENT_UNCHANGED)
                        PUT(put_str(b, e->base_path));
                break;
        case YB_ENTRY_SYMLINK:
        case YB_ENTRY_HARDLINK:
                PUT(put_str(b, e->target));
                break;
        case YB_ENTRY_CHARDEV:
        case YB_ENTRY_BLOCKDEV:
                PUT(yb_buf_append_varint(b, e->rdev));
                break;
        default:
                break;
        }
#undef PUT
        return 0;
}

/* Reads a string field: no NUL inside, at most max bytes; returns a new NUL-terminated copy. */
static int get_str(YbCursor *c, size_t max, char **ret) {
        const uint8_t *p;
        size_t n;
        char *s;
        int r = yb_cursor_bytes(c, max, &p, &n);

        if (r < 0)
                return r;
        if (memchr(p, 0, n))
                return -EBADMSG;
        s = malloc(n + 1);
        if (!s)
                return -ENOMEM;
        memcpy(s, p, n);
        s[n] = 0;
        *ret = s;
        return 0;
}

static int get_path(YbCursor *c, char **ret) {
        int r = get_str(c, YB_PATH_MAX_BYTES, ret);

        if (r < 0)
                return r;
        if (!yb_path_is_safe(*ret, strlen(*ret))) {
                free(*ret);
                *ret = NULL;
                return -EBADMSG; /* never let a damaged manifest point outside the target */
        }
        return 0;
}

static int get_u32(YbCursor *c, uint32_t *ret) {
        uint64_t v;
        int r = yb_cursor_varint(c, &v);

        if (r < 0)
                return r;
        if (v > UINT32_MAX)
                return -EBADMSG;
        *ret = (uint32_t) v;
        return 0;
}

static int get_hash(YbCursor *c, uint8_t ret[YB_HASH_SIZE]) {
        const uint8_t *p;
        int r = yb_cursor_raw(c, YB_HASH_SIZE, &p);

        if (r < 0)
                return r;
        memcpy(ret, p, YB_HASH_SIZE);
        return 0;
}

int yb_manifest_decode_entry(YbCursor *c, YbEntry *ret) {
        YbEntry e = { 0 };
        uint64_t v, nx;
        uint8_t t, u;
        int r;

        r = yb_cursor_u8(c, &t);
        if (r < 0)
                return r;
        if (t == 0)
                return 0;
        if (t >= _YB_ENTRY_MAX)
                return -EBADMSG;
        e.type = t;
#define GET(x)                                                                                     \
        do {                                                                                       \
                r = (x);                                                                           \
                if (r < 0)                                                                         \
                        goto fail;                                                                 \
        } while (0)
        GET(get_path(c, &e.path));
        if (e.type == YB_ENTRY_DELETED) {
                *ret = e;
                return 1;
        }
        GET(get_u32(c, &e.mode));
        if (e.mode > 07777)
                GET(-EBADMSG);
        GET(get_u32(c, &e.uid));
        GET(get_u32(c, &e.gid));
        GET(get_str(c, 256, &e.uname));
        GET(get_str(c, 256, &e.gname));
        GET(yb_cursor_varint(c, &v));
        e.mtime_sec = unzigzag(v);
        GET(get_u32(c, &e.mtime_nsec));
        if (e.mtime_nsec >= 1000000000)
                GET(-EBADMSG);
        GET(yb_cursor_varint(c, &nx));
        if (nx > YB_XATTR_MAX_COUNT)
                GET(-EBADMSG);
        if (nx > 0) {
                e.xattrs = new0(YbXattr, nx);
                if (!e.xattrs)
                        GET(-ENOMEM);
        }
        for (uint64_t i = 0; i < nx; i++) {
                const uint8_t *p;
                size_t n;

                GET(get_str(c, 255, &e.xattrs[i].name));
                e.n_xattrs = i + 1;
                GET(yb_cursor_bytes(c, YB_XATTR_MAX_BYTES, &p, &n));
                e.xattrs[i].value = malloc(n + 1);
                if (!e.xattrs[i].value)
                        GET(-ENOMEM);
                memcpy(e.xattrs[i].value, p, n);
                e.xattrs[i].size = n;
        }
        switch (e.type) {
        case YB_ENTRY_FILE:
                GET(yb_cursor_varint(c, &e.size));
                GET(yb_cursor_u8(c, &u));
                if (u >= _YB_CONTENT_MAX)
                        GET(-EBADMSG);
                e.content = u;
                GET(yb_cursor_u8(c, &u));
                if (u > 3)
                        GET(-EBADMSG);
                e.sparse = u & 1;
                e.changing = u & 2;
                GET(get_hash(c, e.hash));
                if (e.changing) {
                        GET(yb_cursor_varint(c, &v));
                        if (v > INT64_MAX)
                                GET(-EBADMSG);
                        e.read_started_ns = (int64_t) v;
                }
                if (e.content == YB_CONTENT_WHOLE || e.content == YB_CONTENT_DELTA) {
                        GET(get_u32(c, &e.volume));
                        GET(get_u32(c, &e.entry));
                        GET(yb_cursor_varint(c, &e.stored));
                }
                if (e.content == YB_CONTENT_DELTA)
                        GET(get_hash(c, e.stored_hash));
                if (e.content == YB_CONTENT_DELTA || e.content == YB_CONTENT_UNCHANGED)
                        GET(get_path(c, &e.base_path));
                if ((e.content == YB_CONTENT_EMPTY) != (e.size == 0))
                        GET(-EBADMSG);
                break;
        case YB_ENTRY_SYMLINK:
                GET(get_str(c, YB_PATH_MAX_BYTES, &e.target));
                if (!*e.target)
                        GET(-EBADMSG);
                break;
        case YB_ENTRY_HARDLINK:
                GET(get_path(c, &e.target));
                break;
        case YB_ENTRY_CHARDEV:
        case YB_ENTRY_BLOCKDEV:
                GET(yb_cursor_varint(c, &e.rdev));
                break;
        default:
                break;
        }
#undef GET
        *ret = e;
        return 1;
fail:
        yb_entry_clear(&e);
        return r == -ENOMEM ? r : -EBADMSG;
}

/* A path's hash, a word at a time (as rustc's FxHash): paths are attacker-free here (our own
 * records), and a simple hash serves. */
static uint64_t path_hash(const char *s) {
        size_t n = strlen(s);
        uint64_t h = n, w;

        for (; n >= 8; s += 8, n -= 8) {
                memcpy(&w, s, 8);
                h = ((h << 5 | h >> 59) ^ w) * 0x517CC1B727220A95ULL;
        }
        w = 0;
        memcpy(&w, s, n);
        h = ((h << 5 | h >> 59) ^ w) * 0x517CC1B727220A95ULL;
        return h ^ h >> 29;
}

/* The slot's tag for hash h: its high bits, which the table's position does not use. */
static uint32_t path_tag(uint64_t h) {
        return (uint32_t) (h >> 32);
}

/* An array of n zeroed elements of size each, written once now. calloc leaves fresh pages mapped
 * to the zero page until written: a table read before it is written copies each page on the
 * first write, and with a second thread running every CPU flushes its TLB for each. */
static void *zeroed(size_t n, size_t size) {
        void *p = n <= SIZE_MAX / size ? malloc(n * size) : NULL;

        return p ? memset(p, 0, n * size) : NULL;
}

/* Builds an open-addressing table of the n items named by get(i). */
static int table_build(size_t n, const char *(*get)(const void *items, size_t i), const void *items,
                       YbPathSlot **ret, size_t *ret_size) {
        size_t size = 16;
        YbPathSlot *t;

        if (n >= UINT32_MAX)
                return -E2BIG;
        while (size < n * 2)
                size *= 2;
        t = zeroed(size, sizeof(YbPathSlot));
        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const char *path = get(items, i);
                uint64_t h = path_hash(path);
                size_t k = h & (size - 1);

                for (; t[k].item != 0; k = (k + 1) & (size - 1))
                        if (t[k].tag == path_tag(h) && streq(get(items, t[k].item - 1), path))
                                break; /* duplicate path: the first one wins */
                if (t[k].item == 0)
                        t[k] = (YbPathSlot){ .tag = path_tag(h), .item = (uint32_t) i + 1 };
        }
        *ret = t;
        *ret_size = size;
        return 0;
}

/* The number + 1 of the item named path, 0 if none. */
static size_t table_find(const YbPathSlot *t, size_t size, const char *path,
                         const char *(*get)(const void *items, size_t i), const void *items) {
        uint64_t h;

        if (!t)
                return 0;
        h = path_hash(path);
        for (size_t k = h & (size - 1); t[k].item != 0; k = (k + 1) & (size - 1))
                if (t[k].tag == path_tag(h) && streq(get(items, t[k].item - 1), path))
                        return t[k].item;
        return 0;
}

static const char *manifest_path(const void *items, size_t i) {
        return ((const YbEntry *) items)[i].path;
}

YbManifest *yb_manifest_free(YbManifest *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n; i++)
                yb_entry_clear(&m->entries[i]);
        free(m->entries);
        free(m->index);
        free(m);
        return NULL;
}

int yb_manifest_parse(const void *data, size_t n, YbManifest **ret) {
        _cleanup_(yb_manifest_freep) YbManifest *m = new0(YbManifest, 1);
        YbCursor c = yb_cursor(data, n);
        const uint8_t *magic;
        int r;

        if (!m)
                return -ENOMEM;
        if (yb_cursor_raw(&c, 8, &magic) < 0 || memcmp(magic, YB_MANIFEST_MAGIC, 8) != 0)
                return -EBADMSG;
        for (;;) {
                YbEntry e;

                r = yb_manifest_decode_entry(&c, &e);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                if (m->n == m->alloc) {
                        size_t a = m->alloc ? m->alloc * 2 : 64;
                        YbEntry *p = realloc(m->entries, a * sizeof(YbEntry));

                        if (!p) {
                                yb_entry_clear(&e);
                                return -ENOMEM;
                        }
                        m->entries = p;
                        m->alloc = a;
                }
                m->entries[m->n++] = e;
        }
        if (c.left != 0)
                return -EBADMSG; /* bytes after the end marker */
        r = table_build(m->n, manifest_path, m->entries, &m->index, &m->index_size);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

const YbEntry *yb_manifest_find(const YbManifest *m, const char *path) {
        size_t i = table_find(m->index, m->index_size, path, manifest_path, m->entries);

        return i ? &m->entries[i - 1] : NULL;
}

static const char *sig_path(const void *items, size_t i) {
        return ((const YbSigEntry *) items)[i].path;
}

static size_t inode_hash(uint64_t dev, uint64_t ino) {
        return (size_t) ((dev * 0x9E3779B97F4A7C15ULL) ^ (ino * 0xC2B2AE3D27D4EB4FULL));
}

static void drop_tables(YbSigIndex *x) {
        free(x->index);
        free(x->ino_index);
        x->index = NULL;
        x->ino_index = NULL;
        x->index_size = 0;
}

/* Builds x's tables, by path and by inode, unless they are there. */
static int build_tables(YbSigIndex *x) {
        int r;

        if (x->index)
                return 0;
        r = table_build(x->n, sig_path, x->entries, &x->index, &x->index_size);
        if (r < 0)
                return r;
        x->ino_index = zeroed(x->index_size, sizeof(size_t));
        if (!x->ino_index) {
                drop_tables(x);
                return -ENOMEM;
        }
        for (size_t i = 0; i < x->n; i++) {
                size_t h = inode_hash(x->entries[i].dev, x->entries[i].ino) & (x->index_size - 1);

                while (x->ino_index[h] != 0)
                        h = (h + 1) & (x->index_size - 1);
                x->ino_index[h] = i + 1;
        }
        return 0;
}

YbSigIndex *yb_sigindex_free(YbSigIndex *x) {
        if (!x)
                return NULL;
        for (size_t i = 0; i < x->n; i++) {
                free(x->entries[i].path);
                free(x->entries[i].sig);
        }
        free(x->entries);
        free(x->index);
        free(x->ino_index);
        free(x);
        return NULL;
}

int yb_sigindex_encode_entry(const YbSigEntry *e, YbBuf *b) {
        int r;

        if ((r = yb_buf_append_u8(b, 1)) < 0 || (r = put_str(b, e->path)) < 0 ||
            (r = yb_buf_append_varint(b, e->size)) < 0 ||
            (r = yb_buf_append_varint(b, zigzag(e->mtime_sec))) < 0 ||
            (r = yb_buf_append_varint(b, e->mtime_nsec)) < 0 ||
            (r = yb_buf_append_varint(b, zigzag(e->ctime_sec))) < 0 ||
            (r = yb_buf_append_varint(b, e->ctime_nsec)) < 0 ||
            (r = yb_buf_append_varint(b, e->ino)) < 0 ||
            (r = yb_buf_append_varint(b, e->dev)) < 0 ||
            (r = yb_buf_append(b, e->hash, YB_HASH_SIZE)) < 0 ||
            (r = yb_buf_append_bytes(b, e->sig, e->sig_size)) < 0)
                return r;
        return 0;
}

static int sig_entry_fields(YbCursor *c, YbSigEntry *e) {
        const uint8_t *p;
        uint64_t v;
        size_t n;
        int r;

        memset(e, 0, sizeof(*e));
        if ((r = get_path(c, &e->path)) < 0)
                return r;
        if ((r = yb_cursor_varint(c, &e->size)) < 0 || (r = yb_cursor_varint(c, &v)) < 0)
                return r;
        e->mtime_sec = unzigzag(v);
        if ((r = get_u32(c, &e->mtime_nsec)) < 0 || (r = yb_cursor_varint(c, &v)) < 0)
                return r;
        e->ctime_sec = unzigzag(v);
        if (e->mtime_nsec >= 1000000000)
                return -EBADMSG;
        if ((r = get_u32(c, &e->ctime_nsec)) < 0 || (r = yb_cursor_varint(c, &e->ino)) < 0 ||
            (r = yb_cursor_varint(c, &e->dev)) < 0 || (r = get_hash(c, e->hash)) < 0 ||
            (r = yb_cursor_bytes(c, YB_SIG_MAX_BYTES, &p, &n)) < 0)
                return r;
        if (e->ctime_nsec >= 1000000000)
                return -EBADMSG;
        if (n > 0) {
                e->sig = malloc(n);
                if (!e->sig)
                        return -ENOMEM;
                memcpy(e->sig, p, n);
                e->sig_size = n;
        }
        return 0;
}

int yb_sigindex_decode_entry(YbCursor *c, YbSigEntry *e) {
        int r = sig_entry_fields(c, e);

        if (r < 0) {
                free(e->path);
                free(e->sig);
                memset(e, 0, sizeof(*e));
                return r == -ENOMEM ? r : -EBADMSG;
        }
        return 0;
}

int yb_sigindex_decode_path(YbCursor *c, char **ret) {
        int r = get_path(c, ret);

        return r == -ENOMEM || r >= 0 ? r : -EBADMSG;
}

int yb_sigindex_add(YbSigIndex *x, YbSigEntry *e) {
        drop_tables(x);
        if (x->n == x->alloc) {
                size_t a = x->alloc ? x->alloc * 2 : 64;
                YbSigEntry *p = realloc(x->entries, a * sizeof(YbSigEntry));

                if (!p)
                        return -ENOMEM;
                x->entries = p;
                x->alloc = a;
        }
        x->entries[x->n++] = *e;
        memset(e, 0, sizeof(*e));
        return 0;
}

int yb_sigindex_parse(const void *data, size_t n, YbSigIndex **ret) {
        _cleanup_(yb_sigindex_freep) YbSigIndex *x = new0(YbSigIndex, 1);
        YbCursor c = yb_cursor(data, n);
        const uint8_t *magic;
        int r;

        if (!x)
                return -ENOMEM;
        if (yb_cursor_raw(&c, 8, &magic) < 0 || memcmp(magic, YB_SIGINDEX_MAGIC, 8) != 0)
                return -EBADMSG;
        for (;;) {
                YbSigEntry e;
                uint8_t t;

                r = yb_cursor_u8(&c, &t);
                if (r < 0)
                        return r;
                if (t == 0)
                        break;
                if (t != 1)
                        return -EBADMSG;
                r = yb_sigindex_decode_entry(&c, &e);
                if (r >= 0 && (r = yb_sigindex_add(x, &e)) < 0) {
                        free(e.path);
                        free(e.sig);
                }
                if (r < 0)
                        return r;
        }
        if (c.left != 0)
                return -EBADMSG;
        *ret = TAKE_PTR(x);
        return 0;
}

const YbSigEntry *yb_sigindex_find(YbSigIndex *x, const char *path) {
        size_t i;

        if (build_tables(x) < 0) {
                /* Out of memory for the table: the entries are all there, to be read through. */
                for (i = 0; i < x->n; i++)
                        if (streq(x->entries[i].path, path))
                                return &x->entries[i];
                return NULL;
        }
        i = table_find(x->index, x->index_size, path, sig_path, x->entries);
        return i ? &x->entries[i - 1] : NULL;
}

const YbSigEntry *yb_sigindex_find_next(YbSigIndex *x, const char *path, size_t *cursor) {
        const YbSigEntry *e = *cursor < x->n && streq(x->entries[*cursor].path, path)
                                      ? &x->entries[*cursor]
                                      : yb_sigindex_find(x, path);

        if (e)
                *cursor = (size_t) (e - x->entries) + 1;
        return e;
}

const YbSigEntry *yb_sigindex_find_inode(YbSigIndex *x, uint64_t dev, uint64_t ino) {
        size_t h;

        if (build_tables(x) < 0) {
                for (size_t i = 0; i < x->n; i++)
                        if (x->entries[i].dev == dev && x->entries[i].ino == ino)
                                return &x->entries[i];
                return NULL;
        }
        h = inode_hash(dev, ino) & (x->index_size - 1);
        while (x->ino_index[h] != 0) {
                const YbSigEntry *e = &x->entries[x->ino_index[h] - 1];

                if (e->dev == dev && e->ino == ino)
                        return e;
                h = (h + 1) & (x->index_size - 1);
        }
        return NULL;
}
