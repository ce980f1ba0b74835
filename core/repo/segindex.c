/* core/repo/segindex.c: the hour indexes of segment chains (segment.h): writing one for each
 * finished hour (yb_segments_close_hours), and listing the chains from them (yb_segments_list). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/base/log.h"
#include "core/repo/segment-internal.h"

/* Writes <hour>.index from the hour's directory. */
static int close_hour(YbRepo *r, const char *root, const char *hour) {
        _cleanup_(yb_seg_hour_segs_done) YbSegHourSegs s = { 0 };
        _cleanup_free_ char *chain = yb_seg_chain_path(r, root, NULL), *path = NULL, *tmp = NULL;
        YbBuf b = YB_BUF_INIT;
        int k;

        if (!chain || asprintf(&path, "%s/%s.index", chain, hour) < 0 ||
            asprintf(&tmp, "%s.tmp-%ld", path, (long) getpid()) < 0)
                return -ENOMEM;
        k = yb_seg_load_hour_dir(r, root, hour, true, &s);
        if (k < 0)
                return k;
        /* On an object store: segments left without a header by an interrupted writer (we hold
         * the lock: nobody writes them now). The hour is over, so they never will be. */
        for (size_t i = 0; i < s.incomplete.n && k >= 0; i++) {
                _cleanup_free_ char *dir = NULL;

                if (asprintf(&dir, "%s/%s/%s", chain, hour, s.incomplete.v[i]) < 0)
                        return -ENOMEM;
                k = yb_repo_remove_leftover(r, dir, "The incomplete segment");
        }
        if (k < 0)
                return k;
        /* What does not check out stays out of the index (verify reports it, since the index
         * then does not name all that the directory holds). */
        for (size_t i = 0; i < s.n_broken; i++)
                log_warning("Segment %s of chain %s in %s is left out of the index of hour %s: "
                            "%s. Run 'yunbak verify' on the store.",
                            s.broken[i].id, root, yb_store_location(r->store), hour,
                            s.broken[i].why);
        if (s.n == 0)
                k = yb_buf_printf(&b, YB_SEGMENT_INDEX_MAGIC " 0 0 0 0 0\n");
        else
                k = yb_buf_printf(&b,
                                  YB_SEGMENT_INDEX_MAGIC " %zu %" PRIu64 " %" PRIu64 " %" PRId64
                                                         " %" PRId64 "\n",
                                  s.n, s.items[0].h->seq, s.items[s.n - 1].h->seq,
                                  s.items[0].h->finished_ns, s.items[s.n - 1].h->finished_ns);
        /* A summary must add up (seq without gaps): an hour with a gap keeps its directory
         * only, and readers read it one segment at a time. */
        if (k >= 0 && s.n > 0 &&
            s.items[s.n - 1].h->seq - s.items[0].h->seq + 1 != (uint64_t) s.n) {
                log_warning("Hour %s of segment chain %s in %s has segments %" PRIu64 "..%" PRIu64
                            " but %zu of them: it gets no index. Run 'yunbak "
                            "verify' on the store.",
                            hour, root, yb_store_location(r->store), s.items[0].h->seq,
                            s.items[s.n - 1].h->seq, s.n);
                yb_buf_done(&b);
                return 0;
        }
        for (size_t i = 0; i < s.n && k >= 0; i++)
                k = yb_buf_append(&b, s.items[i].bytes.data, s.items[i].bytes.size);
        if (k >= 0) {
                (void) yb_store_unlink(r->store, tmp);
                k = yb_store_write_file(r->store, tmp, b.data, b.size);
        }
        yb_buf_done(&b);
        if (k >= 0) {
                k = yb_store_rename(r->store, tmp, path);
                if (k == -EEXIST)
                        k = 0; /* written meanwhile, from the same directory */
        }
        (void) yb_store_unlink(r->store, tmp);
        if (k >= 0)
                k = yb_store_sync_dir(r->store, chain);
        return k;
}

int yb_segments_close_hours(YbRepo *r, const char *root, const char *open_hour) {
        _cleanup_(yb_seg_hours_done) YbSegHours hours = { 0 };
        _cleanup_(yb_dirnames_done) YbDirNames tmps = { 0 };
        int k;

        assert(r->locked);
        if (!yb_snapshot_id_valid(root))
                return -EINVAL;
        k = yb_seg_chain_hours(r, root, &hours, &tmps);
        if (k == -ENOENT)
                return 0;
        if (k < 0)
                return k;
        /* Leftovers of an index write cut short: we hold the lock, nobody else writes one. */
        for (size_t i = 0; i < tmps.n; i++) {
                _cleanup_free_ char *p = yb_seg_chain_path(r, root, tmps.v[i]);

                if (p)
                        (void) yb_store_unlink(r->store, p);
        }
        for (size_t i = 0; i < hours.n; i++) {
                if (hours.v[i].has_index || !hours.v[i].has_dir ||
                    (open_hour && strcmp(hours.v[i].name, open_hour) >= 0))
                        continue;
                k = close_hour(r, root, hours.v[i].name);
                if (k < 0)
                        return log_debug_errno(k,
                                               "Failed to write the index of hour %s of "
                                               "segment chain %s: %m",
                                               hours.v[i].name, root);
        }
        return 0;
}

/* An hour without an index, from its names and a few headers: the count is its segment
 * directories; the first and last seq and times are those of the headers of the first and the
 * last second that the names hold (ids begin with the second a segment started), so that a
 * listing does not read every header of the hour. */
static int summarize_open_hour(YbRepo *r, const char *root, const char *hour, YbSegSummary *ret,
                               YbSegmentChain *c) {
        _cleanup_(yb_dirnames_done) YbDirNames names = { 0 };
        _cleanup_(yb_seg_hour_segs_done) YbSegHourSegs s = { 0 };
        _cleanup_free_ char *dir = yb_seg_chain_path(r, root, hour);
        size_t n = 0;
        int k;

        *ret = (YbSegSummary){ 0 };
        if (!dir)
                return -ENOMEM;
        k = yb_dirnames_list_sorted(r->store, dir, &names);
        if (k == -ENOENT)
                return 0;
        if (k < 0)
                return k;
        for (size_t i = 0; i < names.n; i++)
                if (yb_snapshot_id_valid(names.v[i]) && strlen(names.v[i]) > 16)
                        names.v[n++] = names.v[i];
                else {
                        c->damaged = true;
                        free(names.v[i]);
                }
        names.n = n;
        for (size_t i = 0; i < n && k >= 0; i++)
                if (strncmp(names.v[i], names.v[0], 16) == 0 ||
                    strncmp(names.v[i], names.v[n - 1], 16) == 0)
                        k = yb_seg_read_header(r, root, hour, names.v[i], false, &s);
        if (k < 0)
                return k;
        if (s.n_broken > 0)
                c->damaged = true;
        if (s.n == 0)
                return 0;
        /* An object store's segment being written (or left without its header) is none. */
        n -= MIN(n, s.incomplete.n);
        yb_seg_hour_segs_sort(&s);
        *ret = (YbSegSummary){ n, s.items[0].h->seq, s.items[s.n - 1].h->seq,
                               s.items[0].h->finished_ns, s.items[s.n - 1].h->finished_ns };
        if (ret->last_seq - ret->first_seq + 1 != ret->count)
                c->damaged = true;
        snprintf(c->last_id, sizeof(c->last_id), "%s", s.items[s.n - 1].h->id);
        return 0;
}

#define TAIL_MAX (64 * 1024)

/* The id of the last header of <hour>.index, read from the file's tail alone (a header is two
 * lines, and the last one ends the file). -EBADMSG if it does not check out. */
static int index_last_id(YbRepo *r, const char *root, const char *hour,
                         char ret[YB_SNAPSHOT_ID_MAX + 1]) {
        _cleanup_(yb_store_file_closep) YbStoreFile *f = NULL;
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = NULL;
        _cleanup_free_ char *path = NULL, *buf = NULL;
        const char *end, *sig, *line;
        uint64_t want, got = 0;
        YbStoreStat st;
        int k;

        if (asprintf(&path, "%s/segments/%s/%s.index", r->system, root, hour) < 0)
                return -ENOMEM;
        k = yb_store_stat(r->store, path, &st);
        if (k >= 0)
                k = yb_store_open_read(r->store, path, &f);
        if (k < 0)
                return k;
        want = MIN(st.size, (uint64_t) TAIL_MAX);
        buf = malloc(want + 1);
        if (!buf)
                return -ENOMEM;
        while (got < want) {
                ssize_t m = yb_store_pread(f, buf + got, want - got, st.size - want + got);

                if (m < 0)
                        return (int) m;
                if (m == 0)
                        return -EBADMSG; /* shorter than it said */
                got += (uint64_t) m;
        }
        end = buf + want;
        if (want < 2 || end[-1] != '\n')
                return -EBADMSG;
        /* The signature line, then the JSON line before it. */
        sig = memrchr(buf, '\n', want - 1);
        line = sig ? memrchr(buf, '\n', (size_t) (sig - buf)) : NULL;
        if (!line)
                return -EBADMSG;
        line++;
        k = yb_header_parse(line, (size_t) (end - line), &h);
        if (k < 0 && k != -ENOMEM)
                k = -EBADMSG;
        if (k >= 0 && yb_seg_header_misplaced(r, h, root, hour))
                k = -EBADMSG;
        if (k >= 0)
                snprintf(ret, YB_SNAPSHOT_ID_MAX + 1, "%s", h->id);
        return k;
}

/* One chain's line: indexes' summaries, a few headers of hours without one. */
static int list_chain(YbRepo *r, const char *root, YbSegmentChain *c) {
        _cleanup_(yb_seg_hours_done) YbSegHours hours = { 0 };
        bool last_from_index = false;
        size_t last_indexed = 0;
        int k;

        snprintf(c->root, sizeof(c->root), "%s", root);
        k = yb_seg_chain_hours(r, root, &hours, NULL);
        if (k < 0)
                return k;
        c->hours = new0(char *, hours.n + 1);
        if (!c->hours)
                return -ENOMEM;
        for (size_t i = 0; i < hours.n; i++) {
                YbSegSummary sum = { 0 };

                c->hours[c->n_hours] = strdup(hours.v[i].name);
                if (!c->hours[c->n_hours])
                        return -ENOMEM;
                c->n_hours++;
                k = hours.v[i].has_index ? yb_seg_read_summary(r, root, hours.v[i].name, &sum)
                                         : -ENOENT;
                if (k == -ENOMEM)
                        return k;
                if (k < 0) {
                        /* No index yet (or a damaged one). */
                        if (hours.v[i].has_index)
                                c->damaged = true;
                        k = summarize_open_hour(r, root, hours.v[i].name, &sum, c);
                        if (k < 0)
                                return k;
                        last_from_index = false;
                } else if (sum.count > 0) {
                        last_from_index = true;
                        last_indexed = i;
                }
                if (sum.count == 0)
                        continue;
                /* Hours follow each other without a gap in seq. */
                if (c->n_segments == 0 ? sum.first_seq != 1 : sum.first_seq != c->last_seq + 1)
                        c->damaged = true;
                if (c->n_segments == 0) {
                        c->first_seq = sum.first_seq;
                        c->first_ns = sum.first_ns;
                }
                c->n_segments += sum.count;
                c->last_seq = sum.last_seq;
                c->last_ns = sum.last_ns;
        }
        /* The last segment's id, when its hour is indexed: the index's last header. */
        if (last_from_index) {
                k = index_last_id(r, root, hours.v[last_indexed].name, c->last_id);
                if (k < 0 && k != -ENOMEM) {
                        c->damaged = true;
                        k = 0;
                }
        }
        return k == -ENOMEM ? k : 0;
}

int yb_segments_list(YbRepo *r, YbSegmentChainList *ret) {
        _cleanup_(yb_dirnames_done) YbDirNames roots = { 0 };
        _cleanup_free_ char *dir = yb_repo_path(r, "segments");
        YbSegmentChainList l = { 0 };
        int k;

        *ret = (YbSegmentChainList){ 0 };
        if (!dir)
                return -ENOMEM;
        k = yb_dirnames_list_sorted(r->store, dir, &roots);
        if (k == -ENOENT)
                return 0;
        if (k < 0)
                return k;
        l.items = new0(YbSegmentChain, roots.n + 1);
        if (!l.items)
                return -ENOMEM;
        for (size_t i = 0; i < roots.n && k >= 0; i++) {
                if (!yb_snapshot_id_valid(roots.v[i]))
                        continue;
                k = list_chain(r, roots.v[i], &l.items[l.n]);
                l.n++; /* its hours are freed with the list, even on failure */
                if (k == -ENOENT) {
                        /* Pruned since the listing. */
                        YbSegmentChain *c = &l.items[--l.n];

                        for (size_t j = 0; j < c->n_hours; j++)
                                free(c->hours[j]);
                        free(c->hours);
                        *c = (YbSegmentChain){ 0 };
                        k = 0;
                }
        }
        if (k < 0) {
                yb_segment_chain_list_done(&l);
                return k;
        }
        *ret = l;
        return 0;
}
