/* core/repo/segverify.c: key-less verification of a segment chain (segment.h,
 * yb_segments_verify): each segment as a snapshot is checked (verify.h), the chain's seq and
 * parents, and that each hour's index names exactly what the hour's directory holds. Only the
 * hours that hold segments from from_seq on are read. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/repo/segment-internal.h"
#include "core/repo/verify.h"

typedef struct Ctx {
        YbRepo *r;
        const char *root;
        uint64_t from_seq;
        YbSegmentReportFn report;
        void *userdata;
        unsigned problems;
        YbSegHourSegs all; /* the segments read, seq >= from_seq - 1 */
        bool *bad;         /* per item of all, once sorted */
} Ctx;

static void problem(Ctx *c, const char *segment, const char *file, const char *fmt, ...)
        _printf_(4, 5);
static void problem(Ctx *c, const char *segment, const char *file, const char *fmt, ...) {
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        c->problems++;
        c->report(c->userdata, segment, file, msg);
}

/* Moves the items of s with seq >= from_seq - 1 into c->all. */
static int keep(Ctx *c, YbSegHourSegs *s) {
        YbSegItem *p = realloc(c->all.items, (c->all.n + s->n + 1) * sizeof(YbSegItem));

        if (!p)
                return -ENOMEM;
        c->all.items = p;
        for (size_t i = 0; i < s->n; i++) {
                if (s->items[i].h->seq + 1 < c->from_seq)
                        continue;
                c->all.items[c->all.n++] = s->items[i];
                s->items[i] = (YbSegItem){ .bytes = YB_BUF_INIT };
        }
        return 0;
}

static void report_broken(Ctx *c, const YbSegHourSegs *s) {
        for (size_t i = 0; i < s->n_broken; i++)
                problem(c, s->broken[i].id, "header", "%s", s->broken[i].why);
        /* Named, but no problem: not (yet) segments at all. */
        for (size_t i = 0; i < s->incomplete.n; i++)
                c->report(c->userdata, s->incomplete.v[i], NULL, YB_INCOMPLETE_TEXT);
}

static int name_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* names is sorted. */
static bool names_has(const YbDirNames *names, const char *id) {
        return names->n > 0 && bsearch(&id, names->v, names->n, sizeof(char *), name_cmp);
}

/* An indexed hour: the index against the directory's names, and the headers of the new
 * segments against their copies in the index. */
static int check_indexed(Ctx *c, const char *hour, YbSegHourSegs *idx, const YbDirNames *names) {
        for (size_t i = 0; i < idx->n; i++) {
                const YbSnapshotHeader *h = idx->items[i].h;
                _cleanup_free_ char *path = NULL;
                YbBuf b = YB_BUF_INIT;
                int k;

                if (!names_has(names, h->id)) {
                        problem(c, h->id, NULL,
                                "the index of hour %s names it (seq %" PRIu64
                                "), but its directory is missing",
                                hour, h->seq);
                        /* Out of the chain: its seq is a gap. */
                        yb_header_free(idx->items[i].h);
                        yb_buf_done(&idx->items[i].bytes);
                        memmove(&idx->items[i], &idx->items[i + 1],
                                (idx->n - i - 1) * sizeof(YbSegItem));
                        idx->n--;
                        i--;
                        continue;
                }
                if (h->seq < c->from_seq)
                        continue;
                path = yb_segment_path(c->r, h, "header");
                if (!path)
                        return -ENOMEM;
                k = yb_store_read_file(c->r->store, path, YB_HEADER_MAX_BYTES, &b);
                if (k == -ENOMEM)
                        return k;
                if (k < 0)
                        problem(c, h->id, "header", "cannot be read: %s", strerror(-k));
                else if (b.size != idx->items[i].bytes.size ||
                         memcmp(b.data, idx->items[i].bytes.data, b.size) != 0)
                        problem(c, h->id, "header", "differs from its copy in the index of hour %s",
                                hour);
                yb_buf_done(&b);
        }
        for (size_t i = 0; i < names->n; i++) {
                bool found = false;

                for (size_t j = 0; j < idx->n && !found; j++)
                        found = streq(idx->items[j].h->id, names->v[i]);
                if (!found) {
                        _cleanup_free_ char *dir = yb_seg_chain_path(c->r, c->root, hour);
                        _cleanup_free_ char *seg = NULL;
                        int k = dir && asprintf(&seg, "%s/%s", dir, names->v[i]) >= 0
                                        ? yb_repo_point_incomplete(c->r, seg)
                                        : -ENOMEM;

                        if (k < 0)
                                return k;
                        if (k > 0) {
                                c->report(c->userdata, names->v[i], NULL, YB_INCOMPLETE_TEXT);
                                continue;
                        }
                }
                if (!found)
                        problem(c, names->v[i], NULL,
                                "its directory is in hour %s, but the hour's index does not name "
                                "it",
                                hour);
        }
        return 0;
}

/* An hour without an index: its headers, newest first, down to the one before from_seq (ids
 * begin with the second a segment started, so older names hold older segments; names of the
 * same second are all read). */
static int check_open_hour(Ctx *c, const char *hour, const YbDirNames *names, YbSegHourSegs *s) {
        char stop[17] = "";
        int k = 0;

        for (size_t i = names->n; i-- > 0 && k >= 0;) {
                size_t before = s->n;

                if (*stop && strncmp(names->v[i], stop, 16) != 0)
                        break;
                k = yb_seg_read_header(c->r, c->root, hour, names->v[i], true, s);
                if (k >= 0 && s->n > before && s->items[before].h->seq + 1 < c->from_seq && !*stop)
                        snprintf(stop, sizeof(stop), "%.16s", names->v[i]);
        }
        return k;
}

static int check_hour(Ctx *c, const YbSegHour *hour) {
        _cleanup_(yb_dirnames_done) YbDirNames names = { 0 };
        _cleanup_(yb_seg_hour_segs_done) YbSegHourSegs s = { 0 };
        _cleanup_free_ char *dir = yb_seg_chain_path(c->r, c->root, hour->name);
        int k;

        if (!dir)
                return -ENOMEM;
        if (hour->has_index) {
                YbSegSummary sum;

                k = yb_seg_read_summary(c->r, c->root, hour->name, &sum);
                if (k >= 0 && ((sum.count > 0 && sum.last_seq + 1 < c->from_seq) ||
                               (sum.count == 0 && !hour->has_dir)))
                        return 0; /* nothing new in it */
        }
        k = yb_dirnames_list_sorted(c->r->store, dir, &names);
        if (k == -ENOENT)
                k = 0;
        if (k < 0)
                return k;
        if (hour->has_index) {
                _cleanup_free_ char *file = NULL;

                k = yb_seg_load_hour_index(c->r, c->root, hour->name, true, &s);
                if (k >= 0)
                        k = check_indexed(c, hour->name, &s, &names);
                if (k >= 0 || k != -EBADMSG)
                        return k < 0 ? k : keep(c, &s);
                if (asprintf(&file, "segments/%s/%s.index", c->root, hour->name) < 0)
                        return -ENOMEM;
                problem(c, NULL, file,
                        "the hour's index is damaged or does not add up (rewrite it: remove it "
                        "and let the replicator write it again)");
                /* On with the directory. */
        }
        k = check_open_hour(c, hour->name, &names, &s);
        if (k < 0)
                return k;
        yb_seg_hour_segs_sort(&s);
        report_broken(c, &s);
        return keep(c, &s);
}

/* seq follows seq and parent follows parent, from from_seq on. Marks the items it faults. */
static void check_chain(Ctx *c) {
        uint64_t want = MAX(c->from_seq, (uint64_t) 1);
        size_t i = 0;

        while (i < c->all.n && c->all.items[i].h->seq < want)
                i++;
        for (; i < c->all.n; i++) {
                const YbSnapshotHeader *h = c->all.items[i].h;
                const char *prev = NULL;

                if (h->seq == 1)
                        prev = c->root;
                else if (i > 0 && c->all.items[i - 1].h->seq + 1 == h->seq)
                        prev = c->all.items[i - 1].h->id;
                if (h->seq < want) {
                        problem(c, h->id, "header", "seq %" PRIu64 " is used twice (also by %s)",
                                h->seq, c->all.items[i - 1].h->id);
                        c->bad[i] = true;
                        continue;
                }
                if (h->seq > want) {
                        problem(c, h->id, "header",
                                "seq %" PRIu64 " follows seq %" PRIu64 ": segments %" PRIu64
                                "..%" PRIu64 " are missing",
                                h->seq, want - 1, want, h->seq - 1);
                        c->bad[i] = true;
                }
                if (prev && !streq(h->parent, prev)) {
                        problem(c, h->id, "header",
                                "its parent is %s, not the previous point %s (seq %" PRIu64 ")",
                                h->parent, prev, h->seq - 1);
                        c->bad[i] = true;
                }
                want = h->seq + 1;
        }
}

int yb_segments_verify(YbRepo *r, const char *root, uint64_t from_seq, YbSegmentReportFn report,
                       void *userdata, uint64_t *ret_last_seq) {
        _cleanup_(yb_seg_hours_done) YbSegHours hours = { 0 };
        _cleanup_(yb_header_freep) YbSnapshotHeader *rh = NULL;
        Ctx c = { .r = r,
                  .root = root,
                  .from_seq = MAX(from_seq, (uint64_t) 1),
                  .report = report,
                  .userdata = userdata };
        uint64_t last;
        int k;

        if (ret_last_seq)
                *ret_last_seq = c.from_seq - 1;
        if (!yb_snapshot_id_valid(root))
                return -EINVAL;
        k = yb_seg_chain_hours(r, root, &hours, NULL);
        if (k < 0)
                return k;
        k = yb_repo_load_header(r, root, &rh);
        if (k == -ENOMEM)
                return k;
        if (k < 0) {
                _cleanup_free_ char *file = NULL;

                if (asprintf(&file, "snapshots/%s", root) < 0)
                        return -ENOMEM;
                problem(&c, NULL, file,
                        "the chain's root snapshot %s is missing or does not check out, so no "
                        "point of the chain can be restored",
                        root);
                k = 0;
        }
        for (size_t i = 0; i < hours.n && k != -ENOMEM; i++) {
                k = check_hour(&c, &hours.v[i]);
                if (k < 0 && k != -ENOMEM) {
                        yb_seg_hour_segs_done(&c.all);
                        return k;
                }
        }
        if (k == -ENOMEM) {
                yb_seg_hour_segs_done(&c.all);
                return k;
        }
        yb_seg_hour_segs_sort(&c.all);
        c.bad = new0(bool, c.all.n + 1);
        if (!c.bad) {
                yb_seg_hour_segs_done(&c.all);
                return -ENOMEM;
        }
        check_chain(&c);
        last = c.from_seq - 1;
        for (size_t i = 0, stopped = 0; i < c.all.n && k >= 0; i++) {
                const YbSnapshotHeader *h = c.all.items[i].h;
                int n;

                if (h->seq < c.from_seq)
                        continue;
                n = yb_verify_snapshot(r, h, NULL, NULL, report, userdata);
                if (n < 0) {
                        k = n;
                        break;
                }
                if (n > 0) {
                        c.problems += (unsigned) n;
                        c.bad[i] = true;
                }
                /* The last of an unbroken run from from_seq. */
                if (!stopped && !c.bad[i] && h->seq == last + 1)
                        last = h->seq;
                else
                        stopped = 1;
        }
        free(c.bad);
        yb_seg_hour_segs_done(&c.all);
        if (k < 0)
                return k;
        if (ret_last_seq)
                *ret_last_seq = rh ? last : c.from_seq - 1;
        return c.problems > 0 ? 1 : 0;
}
