/* The signature index of form 2 (docs/format.md, "Signature index"): in a snapshot with a parent,
 * what changed since the parent's index: a new or changed file's entry, a changed file's
 * signature as the blocks that differ from its previous signature, a file gone; what is not named
 * is as in the parent's index. Without a parent, every entry (a delta against nothing). Resolving
 * a delta needs the parent's index resolved first, down to a whole one (core/repo/sigchain.c). */
#include "core/repo/sigdelta.h"

#include "core/base/log.h"
#include "core/base/pathutil.h"
#include "core/codec/sigsum.h"

/* librsync's signature header: magic, block length, strong sum length (big-endian 32-bit). */
#define SIG_HEADER 12

enum {
        REC_END = 0,
        REC_WHOLE = 1,
        REC_PATCHED = 2,
        REC_GONE = 3,
        REC_KIND = 0x7f,
        REC_NO_XATTRS = 0x80, /* flag of a whole or patched record: YbSigEntry.no_xattrs */
};

/* The size of one block's record in signature sig (weak sum + strong sum), or 0 when sig is not
 * a whole signature. */
static size_t sig_record(const uint8_t *sig, size_t n) {
        size_t rec;

        if (!sig || n < SIG_HEADER)
                return 0;
        rec = 4 + (size_t) yb_sig_be32(sig + 8);
        if (rec > 4 + 64 || (n - SIG_HEADER) % rec != 0)
                return 0;
        return rec;
}

bool yb_sig_entry_same(const YbSigEntry *a, const YbSigEntry *b) {
        return streq(a->path, b->path) && a->size == b->size && a->mtime_sec == b->mtime_sec &&
               a->mtime_nsec == b->mtime_nsec && a->ctime_sec == b->ctime_sec &&
               a->ctime_nsec == b->ctime_nsec && a->ino == b->ino && a->dev == b->dev &&
               memcmp(a->hash, b->hash, YB_HASH_SIZE) == 0 && a->no_xattrs == b->no_xattrs &&
               a->sig_size == b->sig_size &&
               (a->sig == b->sig || a->sig_size == 0 || memcmp(a->sig, b->sig, a->sig_size) == 0);
}

int yb_sigdelta_begin(const char *parent_id, YbBuf *b) {
        int r = yb_buf_append(b, YB_SIGDELTA_MAGIC, 8);

        return r < 0 ? r : yb_buf_append_bytes(b, parent_id, strlen(parent_id));
}

/* Appends e's signature as the blocks that differ from prev's. */
static int put_patch(const YbSigEntry *prev, const YbSigEntry *e, size_t rec, YbBuf *b) {
        size_t n = (e->sig_size - SIG_HEADER) / rec, m = (prev->sig_size - SIG_HEADER) / rec;
        const uint8_t *ns = e->sig + SIG_HEADER, *ps = prev->sig + SIG_HEADER;
        size_t last = 0;
        int r;

        if ((r = yb_buf_append_varint(b, n)) < 0)
                return r;
        for (size_t i = 0; i < n;) {
                size_t j = i;

                if (i < m && memcmp(ns + i * rec, ps + i * rec, rec) == 0) {
                        i++;
                        continue;
                }
                while (j < n && (j >= m || memcmp(ns + j * rec, ps + j * rec, rec) != 0))
                        j++;
                if ((r = yb_buf_append_varint(b, i - last)) < 0 ||
                    (r = yb_buf_append_varint(b, j - i)) < 0 ||
                    (r = yb_buf_append(b, ns + i * rec, (j - i) * rec)) < 0)
                        return r;
                last = i = j;
        }
        r = yb_buf_append_varint(b, 0);
        return r < 0 ? r : yb_buf_append_varint(b, 0);
}

int yb_sigdelta_put_changed(const YbSigEntry *prev, const YbSigEntry *e, YbBuf *b) {
        size_t rec = prev ? sig_record(prev->sig, prev->sig_size) : 0, at = b->size;
        YbSigEntry bare = *e;
        int r;

        /* yb_sigindex_encode_entry writes the whole record, type REC_WHOLE first. */
        if (rec == 0 || rec != sig_record(e->sig, e->sig_size) ||
            memcmp(prev->sig, e->sig, SIG_HEADER) != 0) {
                r = yb_sigindex_encode_entry(e, b);
                if (r >= 0 && e->no_xattrs)
                        b->data[at] |= REC_NO_XATTRS;
                return r;
        }
        bare.sig = NULL;
        bare.sig_size = 0;
        r = yb_sigindex_encode_entry(&bare, b);
        if (r < 0)
                return r;
        b->data[at] = REC_PATCHED | (e->no_xattrs ? REC_NO_XATTRS : 0);
        return put_patch(prev, e, rec, b);
}

int yb_sigdelta_put_gone(const char *path, YbBuf *b) {
        int r = yb_buf_append_u8(b, REC_GONE);

        return r < 0 ? r : yb_buf_append_bytes(b, path, strlen(path));
}

int yb_sigdelta_parent(const void *data, size_t n, char ret[YB_SNAPSHOT_ID_MAX + 1]) {
        YbCursor c = yb_cursor(data, n);
        const uint8_t *magic, *id;
        size_t len;

        if (yb_cursor_raw(&c, 8, &magic) < 0)
                return -EBADMSG;
        if (memcmp(magic, YB_SIGINDEX_MAGIC, 8) == 0)
                return 0;
        if (memcmp(magic, YB_SIGDELTA_MAGIC, 8) != 0 ||
            yb_cursor_bytes(&c, YB_SNAPSHOT_ID_MAX, &id, &len) < 0 || memchr(id, 0, len))
                return -EBADMSG;
        memcpy(ret, id, len);
        ret[len] = 0;
        return 1;
}

/* Reads a patch against prev's signature into e. */
static int get_patch(YbCursor *c, const YbSigEntry *prev, YbSigEntry *e) {
        size_t rec = prev ? sig_record(prev->sig, prev->sig_size) : 0, m, at = 0;
        uint64_t n, skip, count;
        uint8_t *out;
        int r;

        if (rec == 0 || (r = yb_cursor_varint(c, &n)) < 0 ||
            n > (YB_SIG_MAX_BYTES - SIG_HEADER) / rec)
                return -EBADMSG;
        m = (prev->sig_size - SIG_HEADER) / rec;
        e->sig_size = SIG_HEADER + (size_t) n * rec;
        e->sig = out = malloc(e->sig_size);
        if (!out)
                return -ENOMEM;
        memcpy(out, prev->sig, SIG_HEADER);
        out += SIG_HEADER;
        for (;;) {
                const uint8_t *p;
                size_t upto;

                if (yb_cursor_varint(c, &skip) < 0 || yb_cursor_varint(c, &count) < 0)
                        return -EBADMSG;
                if (count == 0) {
                        if (skip != 0)
                                return -EBADMSG;
                        upto = n;
                } else if (skip > n - at || count > n - at - skip)
                        return -EBADMSG;
                else
                        upto = at + skip;
                if (upto > at && upto > m)
                        return -EBADMSG; /* blocks the parent's signature does not have */
                memcpy(out + at * rec, prev->sig + SIG_HEADER + at * rec, (upto - at) * rec);
                at = upto;
                if (count == 0)
                        return 0;
                if (yb_cursor_raw(c, count * rec, &p) < 0)
                        return -EBADMSG;
                memcpy(out + at * rec, p, count * rec);
                at += count;
        }
}

/* What applying a delta found, besides the changed entries. */
typedef struct Applied {
        uint8_t *dropped; /* per entry of the parent's: replaced or gone */
        size_t *slots;    /* per changed entry: the parent's it replaces, or SIZE_MAX */
        size_t alloc;
        size_t next; /* the parent's entry after the last one dropped: records come in its order */
        /* Every record replaces a distinct entry of the parent's by one of the same path and
         * inode: the parent's index can take them in place, its tables as they are. */
        bool in_place;
} Applied;

/* Marks parent's entry for path as replaced or gone; returns it, or NULL. */
static const YbSigEntry *drop(YbSigIndex *parent, Applied *a, const char *path) {
        /* (A whole index is a delta against nothing: no lookup.) */
        const YbSigEntry *p = parent->n > 0 ? yb_sigindex_find_next(parent, path, &a->next) : NULL;

        if (p) {
                a->in_place = a->in_place && !a->dropped[p - parent->entries];
                a->dropped[p - parent->entries] = 1;
        } else
                a->in_place = false;
        return p;
}

/* Adds e, which replaces p (or nothing), to x. */
static int add_changed(YbSigIndex *x, Applied *a, const YbSigIndex *parent, const YbSigEntry *p,
                       YbSigEntry *e) {
        if (x->n == a->alloc) {
                size_t n = a->alloc ? a->alloc * 2 : 16;
                size_t *s = realloc(a->slots, n * sizeof(size_t));

                if (!s)
                        return -ENOMEM;
                a->slots = s;
                a->alloc = n;
        }
        a->slots[x->n] = p ? (size_t) (p - parent->entries) : SIZE_MAX;
        a->in_place = a->in_place && p && p->dev == e->dev && p->ino == e->ino;
        return yb_sigindex_add(x, e);
}

/* Applies the records at c to parent into x (the changed entries). */
static int apply(YbCursor *c, YbSigIndex *parent, Applied *a, YbSigIndex *x) {
        for (;;) {
                const YbSigEntry *p;
                YbSigEntry e;
                uint8_t t, flag;
                int r;

                if (yb_cursor_u8(c, &t) < 0)
                        return -EBADMSG;
                if (t == REC_END)
                        return 0;
                flag = t & REC_NO_XATTRS;
                t &= REC_KIND;
                if (t == REC_GONE && !flag) {
                        _cleanup_free_ char *path = NULL;

                        r = yb_sigindex_decode_path(c, &path);
                        if (r < 0)
                                return r;
                        if (!drop(parent, a, path))
                                return -EBADMSG;
                        a->in_place = false;
                        continue;
                }
                if (t != REC_WHOLE && t != REC_PATCHED)
                        return -EBADMSG;
                r = yb_sigindex_decode_entry(c, &e);
                if (r < 0)
                        return r;
                e.no_xattrs = flag != 0;
                p = drop(parent, a, e.path);
                if (t == REC_PATCHED && (e.sig_size != 0 || (r = get_patch(c, p, &e)) < 0))
                        r = r == -ENOMEM ? r : -EBADMSG;
                else
                        r = add_changed(x, a, parent, p, &e);
                if (r < 0) {
                        free(e.path);
                        free(e.sig);
                        return r;
                }
        }
}

/* The first components of an index's paths (its sources' names, _pg, _streams), in the order
 * the walk met them: the command line's, not their names'. Each is the start of a path of the
 * index, up to its first "/". */
typedef struct Roots {
        const char **name;
        size_t n;
} Roots;

static void roots_done(Roots *r) {
        free(r->name);
}

/* The rank of path's first component among r's: its place, or r->n if it is none of them. */
static size_t root_rank(const Roots *r, const char *path) {
        size_t len = strcspn(path, "/");

        for (size_t i = 0; i < r->n; i++)
                if (strncmp(r->name[i], path, len) == 0 &&
                    (r->name[i][len] == '/' || r->name[i][len] == 0))
                        return i;
        return r->n;
}

/* Adds the first components of the entries' paths to r, those it does not have, in order. */
static int roots_add(Roots *r, const YbSigEntry *e, size_t n) {
        for (size_t i = 0; i < n; i++) {
                const char **v;

                if (!e[i].path || root_rank(r, e[i].path) < r->n)
                        continue;
                v = reallocarray(r->name, r->n + 1, sizeof(char *));
                if (!v)
                        return -ENOMEM;
                r->name = v;
                r->name[r->n++] = e[i].path;
        }
        return 0;
}

/* The walk's order of a and b: their sources' first, then within one (yb_path_walk_cmp). */
static int walk_cmp(const Roots *r, const char *a, const char *b) {
        size_t ra = root_rank(r, a), rb = root_rank(r, b);

        if (ra != rb)
                return ra < rb ? -1 : 1;
        return yb_path_walk_cmp(a, b);
}

/* Moves the parent's entries that the records did not name into x, among its changed ones, where
 * the walk meets them: the changed ones are in the walk's order, as recorded, and each that
 * replaces one of the parent's takes its place. The next backup's walk then finds every entry
 * at its cursor, and builds no table (yb_sigindex_find_next). */
static int merge(YbSigIndex *x, YbSigIndex *p, const Applied *a) {
        _cleanup_(roots_done) Roots roots = { 0 };
        size_t left = 0, k = 0, j = 0;
        YbSigEntry *v;
        int r;

        for (size_t i = 0; i < p->n; i++)
                left += !a->dropped[i];
        if (left == 0)
                return 0;
        r = roots_add(&roots, p->entries, p->n);
        if (r >= 0)
                r = roots_add(&roots, x->entries, x->n);
        if (r < 0)
                return r;
        v = reallocarray(NULL, x->n + left, sizeof(YbSigEntry));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i <= x->n; i++) {
                size_t s = i < x->n ? a->slots[i] : SIZE_MAX;

                for (; j < p->n; j++) {
                        if (i < x->n && (s != SIZE_MAX ? j >= s
                                                       : walk_cmp(&roots, p->entries[j].path,
                                                                  x->entries[i].path) > 0))
                                break;
                        if (!a->dropped[j]) {
                                v[k++] = p->entries[j];
                                memset(&p->entries[j], 0, sizeof(YbSigEntry));
                        }
                }
                if (i < x->n)
                        v[k++] = x->entries[i];
        }
        free(x->entries);
        x->entries = v;
        x->n = x->alloc = k;
        return 0;
}

int yb_sigdelta_apply(const void *data, size_t n, YbSigIndex **parent) {
        _cleanup_(yb_sigindex_freep) YbSigIndex *x = new0(YbSigIndex, 1);
        Applied a = { .in_place = true };
        char id[YB_SNAPSHOT_ID_MAX + 1];
        YbSigIndex *p = *parent;
        YbCursor c = yb_cursor(data, n);
        const uint8_t *skip;
        size_t len;
        int r;

        if (!x)
                return -ENOMEM;
        if (yb_sigdelta_parent(data, n, id) != 1)
                return -EBADMSG;
        (void) yb_cursor_raw(&c, 8, &skip);
        (void) yb_cursor_bytes(&c, YB_SNAPSHOT_ID_MAX, &skip, &len);
        a.dropped = new0(uint8_t, p->n + 1);
        r = a.dropped ? apply(&c, p, &a, x) : -ENOMEM;
        if (r >= 0 && c.left != 0)
                r = -EBADMSG;
        if (r >= 0 && a.in_place)
                /* Files changed in place (or nothing changed): no table to build again. */
                for (size_t i = 0; i < x->n; i++) {
                        YbSigEntry *old = &p->entries[a.slots[i]];

                        free(old->path);
                        free(old->sig);
                        *old = x->entries[i];
                        memset(&x->entries[i], 0, sizeof(YbSigEntry));
                }
        else if (r >= 0)
                /* What the records did not name is as in the parent: moved over, not copied. */
                r = merge(x, p, &a);
        free(a.dropped);
        free(a.slots);
        if (r < 0 || a.in_place)
                return r;
        yb_sigindex_free(p);
        *parent = TAKE_PTR(x);
        return 0;
}

int yb_sigindex_parse_any(const void *data, size_t n, YbSigIndex **ret) {
        _cleanup_(yb_sigindex_freep) YbSigIndex *x = NULL;
        char id[YB_SNAPSHOT_ID_MAX + 1];
        int r = yb_sigdelta_parent(data, n, id);

        if (r == 0)
                return yb_sigindex_parse(data, n, ret);
        if (r < 0 || *id)
                return -EBADMSG; /* a delta: its chain is needed (yb_sigindex_load_chain) */
        x = new0(YbSigIndex, 1);
        if (!x)
                return -ENOMEM;
        r = yb_sigdelta_apply(data, n, &x);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(x);
        return 0;
}
