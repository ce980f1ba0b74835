/* core/repo/segment.c: tier-2 segments, their hour indexes, listing, lookup and chain pruning
 * (segment.h; docs/format.md, "Segments"). Verification is in segverify.c. */
#include "core/repo/segment.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "core/repo/segment-internal.h"

#define INDEX_MAX (256 * 1024 * 1024)
#define SUMMARY_MAX 160

void yb_segment_chain_list_done(YbSegmentChainList *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++) {
                for (size_t j = 0; j < l->items[i].n_hours; j++)
                        free(l->items[i].hours[j]);
                free(l->items[i].hours);
        }
        free(l->items);
        l->items = NULL;
        l->n = 0;
}

char *yb_seg_chain_path(const YbRepo *r, const char *root, const char *rest) {
        char *p;

        if (asprintf(&p, "%s/segments/%s%s%s", r->system, root, rest ? "/" : "", rest ? rest : "") <
            0)
                return NULL;
        return p;
}

/* "20261206T08": 8 digits, 'T', 2 digits. */
bool yb_seg_hour_valid(const char *s) {
        if (strlen(s) != YB_SEGMENT_HOUR_LEN || s[8] != 'T')
                return false;
        for (size_t i = 0; i < YB_SEGMENT_HOUR_LEN; i++)
                if (i != 8 && (s[i] < '0' || s[i] > '9'))
                        return false;
        return true;
}

void yb_seg_hours_done(YbSegHours *h) {
        free(h->v);
        *h = (YbSegHours){ 0 };
}

int yb_seg_chain_hours(YbRepo *r, const char *root, YbSegHours *ret, YbDirNames *ret_tmp) {
        _cleanup_free_ char *dir = yb_seg_chain_path(r, root, NULL);
        YbDirNames names = { 0 };
        YbSegHours h = { 0 };
        int k;

        if (!dir)
                return -ENOMEM;
        k = yb_dirnames_list_sorted(r->store, dir, &names);
        if (k < 0)
                return k;
        h.v = new0(YbSegHour, names.n + 1);
        if (!h.v) {
                yb_dirnames_done(&names);
                return -ENOMEM;
        }
        /* Sorted, "<hour>" comes right before "<hour>.index". */
        for (size_t i = 0; i < names.n && k >= 0; i++) {
                const char *n = names.v[i];
                char hour[YB_SEGMENT_HOUR_LEN + 1];
                bool is_index = false;

                if (strlen(n) < YB_SEGMENT_HOUR_LEN)
                        continue;
                memcpy(hour, n, YB_SEGMENT_HOUR_LEN);
                hour[YB_SEGMENT_HOUR_LEN] = 0;
                if (!yb_seg_hour_valid(hour))
                        continue;
                if (strstr(n + YB_SEGMENT_HOUR_LEN, ".index.tmp-") == n + YB_SEGMENT_HOUR_LEN) {
                        if (ret_tmp)
                                k = yb_dirnames_add(ret_tmp, n);
                        continue;
                }
                if (streq(n + YB_SEGMENT_HOUR_LEN, ".index"))
                        is_index = true;
                else if (n[YB_SEGMENT_HOUR_LEN] != 0)
                        continue;
                if (h.n == 0 || !streq(h.v[h.n - 1].name, hour)) {
                        strcpy(h.v[h.n].name, hour);
                        h.n++;
                }
                if (is_index)
                        h.v[h.n - 1].has_index = true;
                else
                        h.v[h.n - 1].has_dir = true;
        }
        yb_dirnames_done(&names);
        if (k < 0) {
                yb_seg_hours_done(&h);
                return k;
        }
        *ret = h;
        return 0;
}

int yb_seg_parse_summary(const char *line, size_t n, YbSegSummary *ret) {
        char buf[SUMMARY_MAX + 1], tail;
        unsigned long long count, first, last;
        long long first_ns, last_ns;

        if (n > SUMMARY_MAX)
                return -EBADMSG;
        memcpy(buf, line, n);
        buf[n] = 0;
        if (sscanf(buf, YB_SEGMENT_INDEX_MAGIC " %llu %llu %llu %lld %lld%c", &count, &first, &last,
                   &first_ns, &last_ns, &tail) != 6 ||
            tail != '\n')
                return -EBADMSG;
        if (count == 0 ? (first || last || first_ns || last_ns)
                       : (first == 0 || last < first || last - first + 1 != count ||
                          first_ns > last_ns))
                return -EBADMSG;
        *ret = (YbSegSummary){ count, first, last, first_ns, last_ns };
        return 0;
}

int yb_seg_read_summary(YbRepo *r, const char *root, const char *hour, YbSegSummary *ret) {
        _cleanup_(yb_store_file_closep) YbStoreFile *f = NULL;
        _cleanup_free_ char *path = NULL;
        char buf[SUMMARY_MAX], *nl;
        size_t got = 0;
        int k;

        if (asprintf(&path, "%s/segments/%s/%s.index", r->system, root, hour) < 0)
                return -ENOMEM;
        k = yb_store_open_read(r->store, path, &f);
        if (k < 0)
                return k;
        /* Positioned reads: the first bytes alone, without the buffered reading of a whole
         * file (an SFTP store's, closed half-read, would take its read buffer for unsent
         * writes). */
        while (got < sizeof(buf) && !memchr(buf, '\n', got)) {
                ssize_t m = yb_store_pread(f, buf + got, sizeof(buf) - got, got);

                if (m < 0)
                        return (int) m;
                if (m == 0)
                        break;
                got += (size_t) m;
        }
        nl = memchr(buf, '\n', got);
        if (!nl)
                return -EBADMSG;
        return yb_seg_parse_summary(buf, (size_t) (nl - buf) + 1, ret);
}

void yb_seg_hour_segs_done(YbSegHourSegs *s) {
        for (size_t i = 0; i < s->n; i++) {
                yb_header_free(s->items[i].h);
                yb_buf_done(&s->items[i].bytes);
        }
        free(s->items);
        for (size_t i = 0; i < s->n_broken; i++) {
                free(s->broken[i].id);
                free(s->broken[i].why);
        }
        free(s->broken);
        yb_dirnames_done(&s->incomplete);
        *s = (YbSegHourSegs){ 0 };
}

static int add_broken(YbSegHourSegs *s, const char *id, const char *fmt, ...) _printf_(3, 4);
static int add_broken(YbSegHourSegs *s, const char *id, const char *fmt, ...) {
        YbSegBroken *p = realloc(s->broken, (s->n_broken + 1) * sizeof(YbSegBroken));
        va_list ap;
        int k;

        if (!p)
                return -ENOMEM;
        s->broken = p;
        p = &s->broken[s->n_broken];
        *p = (YbSegBroken){ 0 };
        p->id = strdup(id);
        va_start(ap, fmt);
        k = vasprintf(&p->why, fmt, ap);
        va_end(ap);
        if (!p->id || k < 0) {
                free(p->id);
                return -ENOMEM;
        }
        s->n_broken++;
        return 0;
}

static int add_seg(YbSegHourSegs *s, YbSnapshotHeader *h, const void *bytes, size_t n, bool keep) {
        YbSegItem *p = realloc(s->items, (s->n + 1) * sizeof(YbSegItem));

        if (!p) {
                yb_header_free(h);
                return -ENOMEM;
        }
        s->items = p;
        p = &s->items[s->n];
        *p = (YbSegItem){ .h = h, .bytes = YB_BUF_INIT };
        s->n++;
        if (keep)
                return yb_buf_append(&p->bytes, bytes, n);
        return 0;
}

const char *yb_seg_header_misplaced(YbRepo *r, const YbSnapshotHeader *h, const char *root,
                                    const char *hour) {
        if (h->level != YB_LEVEL_SEGMENT)
                return "it is not a segment's header";
        if (!streq(h->system, r->system) ||
            memcmp(h->key_id, r->config.pub.id, YB_KEY_ID_SIZE) != 0)
                return "it is another system's or another key's";
        if (!streq(h->base, root))
                return "it names another chain root";
        if (strncmp(h->id, hour, YB_SEGMENT_HOUR_LEN) != 0)
                return "its id is not of this hour";
        return NULL;
}

static int yb_seg_cmp(const void *a, const void *b) {
        const YbSegItem *x = a, *y = b;

        if (x->h->seq != y->h->seq)
                return x->h->seq < y->h->seq ? -1 : 1;
        return strcmp(x->h->id, y->h->id);
}

void yb_seg_hour_segs_sort(YbSegHourSegs *s) {
        if (s->n > 1)
                qsort(s->items, s->n, sizeof(YbSegItem), yb_seg_cmp);
}

int yb_seg_read_header(YbRepo *r, const char *root, const char *hour, const char *id,
                       bool keep_bytes, YbSegHourSegs *ret) {
        _cleanup_free_ char *path = NULL;
        YbSnapshotHeader *h = NULL;
        YbBuf b = YB_BUF_INIT;
        const char *why;
        int k;

        if (!yb_snapshot_id_valid(id))
                return add_broken(ret, id, "not a segment's name");
        if (asprintf(&path, "%s/segments/%s/%s/%s/header", r->system, root, hour, id) < 0)
                return -ENOMEM;
        k = yb_store_read_file(r->store, path, YB_HEADER_MAX_BYTES, &b);
        if (k >= 0)
                k = yb_repo_header_check(r, b.data, b.size, id, &h);
        if (k == -ENOENT && yb_store_objects(r->store))
                k = yb_dirnames_add(&ret->incomplete, id); /* written in place: not yet one */
        else if (k < 0 && k != -ENOMEM)
                k = add_broken(ret, id, "its header %s",
                               k == -ENOENT                   ? "is missing"
                               : k == -EFBIG || k == -EBADMSG ? "does not check out"
                                                              : strerror(-k));
        else if (k >= 0 && (why = yb_seg_header_misplaced(r, h, root, hour))) {
                k = add_broken(ret, id, "its header does not belong here: %s", why);
                yb_header_free(h);
        } else if (k >= 0)
                k = add_seg(ret, h, b.data, b.size, keep_bytes);
        yb_buf_done(&b);
        return k;
}

int yb_seg_load_hour_dir(YbRepo *r, const char *root, const char *hour, bool keep_bytes,
                         YbSegHourSegs *ret) {
        _cleanup_free_ char *dir = yb_seg_chain_path(r, root, hour);
        YbDirNames names = { 0 };
        int k;

        if (!dir)
                return -ENOMEM;
        k = yb_dirnames_list_sorted(r->store, dir, &names);
        if (k == -ENOENT)
                k = 0;
        for (size_t i = 0; i < names.n && k >= 0; i++)
                k = yb_seg_read_header(r, root, hour, names.v[i], keep_bytes, ret);
        yb_dirnames_done(&names);
        yb_seg_hour_segs_sort(ret);
        return k;
}

int yb_seg_parse_index(YbRepo *r, const char *root, const char *hour, const void *data, size_t n,
                       bool keep_bytes, YbSegHourSegs *ret) {
        const char *p = data, *end = p + n, *nl = memchr(p, '\n', n);
        YbSegSummary sum;
        int k;

        if (!nl || yb_seg_parse_summary(p, (size_t) (nl - p) + 1, &sum) < 0)
                return -EBADMSG;
        p = nl + 1;
        while (p < end) {
                const char *sig = memchr(p, '\n', (size_t) (end - p)), *stop;
                YbSnapshotHeader *h = NULL;

                stop = sig ? memchr(sig + 1, '\n', (size_t) (end - sig - 1)) : NULL;
                if (!stop)
                        return -EBADMSG;
                stop++;
                k = yb_header_parse(p, (size_t) (stop - p), &h);
                if (k == -ENOMEM)
                        return k;
                if (k < 0 || yb_seg_header_misplaced(r, h, root, hour)) {
                        yb_header_free(h);
                        return -EBADMSG; /* an index is written whole by us: no half trust */
                }
                k = add_seg(ret, h, p, (size_t) (stop - p), keep_bytes);
                if (k < 0)
                        return k;
                p = stop;
        }
        yb_seg_hour_segs_sort(ret);
        /* The summary agrees with what follows it. */
        if (ret->n != sum.count ||
            (ret->n > 0 && (ret->items[0].h->seq != sum.first_seq ||
                            ret->items[ret->n - 1].h->seq != sum.last_seq ||
                            ret->items[0].h->finished_ns != sum.first_ns ||
                            ret->items[ret->n - 1].h->finished_ns != sum.last_ns)))
                return -EBADMSG;
        return 0;
}

int yb_seg_load_hour_index(YbRepo *r, const char *root, const char *hour, bool keep_bytes,
                           YbSegHourSegs *ret) {
        _cleanup_free_ char *path = NULL;
        YbBuf b = YB_BUF_INIT;
        int k;

        if (asprintf(&path, "%s/segments/%s/%s.index", r->system, root, hour) < 0)
                return -ENOMEM;
        k = yb_store_read_file(r->store, path, INDEX_MAX, &b);
        if (k == -EFBIG)
                k = -EBADMSG;
        if (k >= 0)
                k = yb_seg_parse_index(r, root, hour, b.data, b.size, keep_bytes, ret);
        yb_buf_done(&b);
        if (k < 0)
                yb_seg_hour_segs_done(ret);
        return k;
}

int yb_seg_load_hour(YbRepo *r, const char *root, const YbSegHour *hour, YbSegHourSegs *ret) {
        int k;

        if (hour->has_index) {
                k = yb_seg_load_hour_index(r, root, hour->name, false, ret);
                if (k != -EBADMSG)
                        return k;
                log_warning("The index of hour %s of segment chain %s in %s is damaged: reading "
                            "the hour's segments one by one instead. Run 'yunbak verify'.",
                            hour->name, root, yb_store_location(r->store));
        }
        return yb_seg_load_hour_dir(r, root, hour->name, false, ret);
}

/* Moves the items of s into l (s keeps its broken ones). */
static int take_items(YbSegHourSegs *s, YbSnapshotList *l, size_t *alloc) {
        if (l->n + s->n > *alloc) {
                size_t a = MAX(*alloc * 2, l->n + s->n + 16);
                YbSnapshotHeader **p = realloc(l->items, a * sizeof(*p));

                if (!p)
                        return -ENOMEM;
                l->items = p;
                *alloc = a;
        }
        for (size_t i = 0; i < s->n; i++) {
                l->items[l->n++] = s->items[i].h;
                s->items[i].h = NULL;
                yb_buf_done(&s->items[i].bytes);
        }
        free(s->items);
        s->items = NULL;
        s->n = 0;
        return 0;
}

static int set_bad(char **ret_bad, const char *fmt, ...) _printf_(2, 3);
static int set_bad(char **ret_bad, const char *fmt, ...) {
        va_list ap;
        int k;

        if (!ret_bad || *ret_bad)
                return 0;
        va_start(ap, fmt);
        k = vasprintf(ret_bad, fmt, ap);
        va_end(ap);
        if (k < 0) {
                *ret_bad = NULL;
                return -ENOMEM;
        }
        return 0;
}

/* Cuts l (sorted by seq) where the chain from from_seq breaks: a gap, a repeated seq, a parent
 * that is not the previous point. broken: the headers of the hours read that did not check out,
 * which name what is wrong when the break is theirs. */
static int chain_cut(const char *root, uint64_t from_seq, YbSnapshotList *l,
                     const YbSegHourSegs *broken, char **ret_bad) {
        uint64_t want = MAX(from_seq, (uint64_t) 1);
        size_t i = 0;
        int k = 0;

        while (i < l->n && l->items[i]->seq < want)
                i++;
        /* The ones before from_seq were read with their hour; only the parent check needs them. */
        for (; i < l->n; i++, want++) {
                const YbSnapshotHeader *h = l->items[i];
                const char *prev = h->seq == 1 ? root
                                   : i > 0 && l->items[i - 1]->seq == h->seq - 1
                                           ? l->items[i - 1]->id
                                           : NULL;

                if (h->seq != want) {
                        if (broken->n_broken > 0)
                                k = set_bad(ret_bad,
                                            "segment %s: %s, and segment seq %" PRIu64
                                            " is missing",
                                            broken->broken[0].id, broken->broken[0].why, want);
                        else
                                k = set_bad(
                                        ret_bad,
                                        "segment seq %" PRIu64
                                        " of chain %s is missing (the next one is %s, seq %" PRIu64
                                        ")",
                                        want, root, h->id, h->seq);
                        break;
                }
                if (prev && !streq(h->parent, prev)) {
                        k = set_bad(ret_bad,
                                    "segment %s (seq %" PRIu64
                                    "): its parent is %s, not the previous point %s",
                                    h->id, h->seq, h->parent, prev);
                        break;
                }
        }
        for (size_t j = i; j < l->n; j++)
                l->items[j] = yb_header_free(l->items[j]);
        l->n = i;
        return k;
}

int yb_segments_load(YbRepo *r, const char *root, uint64_t from_seq, int64_t until_ns,
                     YbSnapshotList *ret, char **ret_bad) {
        _cleanup_(yb_seg_hours_done) YbSegHours hours = { 0 };
        _cleanup_(yb_seg_hour_segs_done) YbSegHourSegs broken = { 0 };
        YbSnapshotList l = { 0 };
        size_t alloc = 0, keep_from = 0;
        bool cut_by_time = false;
        int k;

        *ret = (YbSnapshotList){ 0 };
        if (ret_bad)
                *ret_bad = NULL;
        if (!yb_snapshot_id_valid(root))
                return -EINVAL;
        k = yb_seg_chain_hours(r, root, &hours, NULL);
        if (k < 0)
                return k;
        for (size_t i = 0; i < hours.n && k >= 0 && !cut_by_time; i++) {
                YbSegHourSegs s = { 0 };
                size_t before = l.n;
                YbSegSummary sum;

                /* A finished hour wholly before from_seq or after until_ns is not read. */
                if (hours.v[i].has_index &&
                    yb_seg_read_summary(r, root, hours.v[i].name, &sum) >= 0) {
                        if (sum.count == 0 || sum.last_seq + 1 < from_seq)
                                continue;
                        if (sum.first_ns > until_ns)
                                break;
                }
                k = yb_seg_load_hour(r, root, &hours.v[i], &s);
                for (size_t j = 0; k >= 0 && j < s.n_broken; j++)
                        k = add_broken(&broken, s.broken[j].id, "%s", s.broken[j].why);
                if (k >= 0)
                        k = take_items(&s, &l, &alloc);
                yb_seg_hour_segs_done(&s);
                /* Segments follow each other: the first hour with one too new is the last. */
                for (size_t j = before; k >= 0 && j < l.n && !cut_by_time; j++)
                        cut_by_time = l.items[j]->finished_ns > until_ns;
        }
        if (k >= 0 && l.n > 1)
                qsort(l.items, l.n, sizeof(l.items[0]), yb_seg_header_seq_cmp);
        if (k >= 0)
                k = chain_cut(root, from_seq, &l, &broken, ret_bad);
        /* Keep from_seq .. until_ns. */
        while (k >= 0 && keep_from < l.n && l.items[keep_from]->seq < from_seq)
                keep_from++;
        if (k >= 0) {
                size_t n = 0;

                for (size_t i = 0; i < l.n; i++) {
                        if (i >= keep_from && l.items[i]->finished_ns <= until_ns)
                                l.items[n++] = l.items[i];
                        else
                                yb_header_free(l.items[i]);
                }
                l.n = n;
        }
        /* A header that did not check out, newer than all that did: the chain may go on past
         * it, so a reader must know. */
        if (k >= 0 && broken.n_broken > 0 && !cut_by_time) {
                const char *last = l.n > 0 ? l.items[l.n - 1]->id : "";

                for (size_t j = 0; k >= 0 && j < broken.n_broken; j++)
                        if (strcmp(broken.broken[j].id, last) > 0)
                                k = set_bad(ret_bad, "segment %s: %s", broken.broken[j].id,
                                            broken.broken[j].why);
        }
        if (k < 0) {
                yb_snapshot_list_done(&l);
                if (ret_bad) {
                        free(*ret_bad);
                        *ret_bad = NULL;
                }
                return k;
        }
        *ret = l;
        return 0;
}

int yb_seg_header_seq_cmp(const void *a, const void *b) {
        const YbSnapshotHeader *x = *(YbSnapshotHeader *const *) a,
                               *y = *(YbSnapshotHeader *const *) b;

        if (x->seq != y->seq)
                return x->seq < y->seq ? -1 : 1;
        return strcmp(x->id, y->id);
}
