/* core/repo/segment-internal.h: what the segment files (segment.c, segindex.c, segfind.c,
 * segverify.c) share: a chain's hours, an hour's segments read from its index or its
 * directory. Not for use outside core/repo. */
#pragma once

#include "core/repo/dirnames.h"
#include "core/repo/segment.h"

/* "<system>/segments/<root>[/<rest>]"; the caller frees it. */
char *yb_seg_chain_path(const YbRepo *r, const char *root, const char *rest);
/* Whether s names an hour ("20261206T08"). */
bool yb_seg_hour_valid(const char *s);

/* An hour of a chain: its directory and/or its index. */
typedef struct YbSegHour {
        char name[YB_SEGMENT_HOUR_LEN + 1];
        bool has_dir, has_index;
} YbSegHour;

typedef struct YbSegHours {
        YbSegHour *v; /* oldest first */
        size_t n;
} YbSegHours;

void yb_seg_hours_done(YbSegHours *h);
/* The hours of chain root (one listing of segments/<root>). ret_tmp (if non-NULL) gets the
 * names of leftover "<hour>.index.tmp-*" files. -ENOENT if there is no such chain. */
int yb_seg_chain_hours(YbRepo *r, const char *root, YbSegHours *ret, YbDirNames *ret_tmp);

/* The summary line of an hour's index. */
typedef struct YbSegSummary {
        uint64_t count, first_seq, last_seq;
        int64_t first_ns, last_ns;
} YbSegSummary;

/* Parses "YBSEGIX1 <count> <first seq> <last seq> <first ns> <last ns>\n" (n bytes, the
 * newline included): -EBADMSG if it is not one, or does not add up. */
int yb_seg_parse_summary(const char *line, size_t n, YbSegSummary *ret);

/* The summary line of <hour>.index, read alone (the first bytes of the file). */
int yb_seg_read_summary(YbRepo *r, const char *root, const char *hour, YbSegSummary *ret);

typedef struct YbSegItem {
        YbSnapshotHeader *h;
        YbBuf bytes; /* the header's exact bytes, when asked for */
} YbSegItem;

/* A segment directory whose header did not check out. */
typedef struct YbSegBroken {
        char *id;
        char *why;
} YbSegBroken;

typedef struct YbSegHourSegs {
        YbSegItem *items; /* by seq */
        size_t n;
        YbSegBroken *broken;
        size_t n_broken;
        /* On an object store: the ids of segment directories without a header (being written,
         * or left by an interrupted writer), neither segments nor damaged. */
        YbDirNames incomplete;
} YbSegHourSegs;

void yb_seg_hour_segs_done(YbSegHourSegs *s);
void yb_seg_hour_segs_sort(YbSegHourSegs *s);
/* Reads segment id's header from its directory in the hour, checked, into ret (or its
 * broken ones, or on an object store its incomplete ones when it has no header). 0 or -errno
 * (-ENOMEM; a header that does not check out is not an error). */
int yb_seg_read_header(YbRepo *r, const char *root, const char *hour, const char *id,
                       bool keep_bytes, YbSegHourSegs *ret);
/* An hour's segments from its directory: every header read and checked (signature, system,
 * key, level, chain, hour); the others go to broken. Adds to ret. */
int yb_seg_load_hour_dir(YbRepo *r, const char *root, const char *hour, bool keep_bytes,
                         YbSegHourSegs *ret);
/* An hour's segments from its index: -EBADMSG if any part of it does not check out (ret is then
 * emptied). -ENOENT if there is none. */
int yb_seg_load_hour_index(YbRepo *r, const char *root, const char *hour, bool keep_bytes,
                           YbSegHourSegs *ret);
/* The same from the index's bytes. */
int yb_seg_parse_index(YbRepo *r, const char *root, const char *hour, const void *data, size_t n,
                       bool keep_bytes, YbSegHourSegs *ret);
/* One hour's segments: from its index if it has one (a damaged index: from its directory,
 * with a warning), else from its directory. */
int yb_seg_load_hour(YbRepo *r, const char *root, const YbSegHour *hour, YbSegHourSegs *ret);
/* Why a segment header (parsed, its signature checked) does not belong in chain root's hour:
 * another level, system, key, chain or hour; NULL when it does. */
const char *yb_seg_header_misplaced(YbRepo *r, const YbSnapshotHeader *h, const char *root,
                                    const char *hour);
/* qsort order of YbSnapshotHeader pointers by seq (then id). */
int yb_seg_header_seq_cmp(const void *a, const void *b);
