/* policies/tz.c: time zones from TZif files, their cache, and what they answer (tz.h). Reading a
 * file follows RFC 8536 and glibc 2.36's time/tzfile.c: the 64-bit data of a version 2+ file
 * (the 32-bit data of a version 1 file), and its footer for the times after the last transition.
 * Unlike glibc, a file that does not hold together is an error here, not UTC. */
#include "policies/tz.h"

#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>

#include "core/base/fileio.h"
#include "core/base/timeutil.h"
#include "policies/tzrule.h"

#define SEC_PER_DAY INT64_C(86400)
#define TZIF_HEADER 44
#define TZIF_MAX (256 * 1024) /* the largest zone in tzdata 2025b is under 4 KiB */
/* RFC 8536 section 3.2: utoff SHOULD be in [-89999, 93599], so a local date is never more than
 * 26 hours away from the UTC one. yb_tz_day_start() counts on it. */
#define OFFSET_MIN (-89999)
#define OFFSET_MAX 93599
#define CACHE_MAX                                                                                  \
        64 /* zones kept; more (TZ values from a fuzzer, say) and the cache starts over            \
            */
#define LOCALTIME "/etc/localtime"

typedef struct TzType {
        int32_t gmtoff;
        bool isdst;
} TzType;

struct YbTz {
        unsigned n_ref;
        int64_t *trans; /* transition times, strictly increasing */
        uint8_t *trans_type;
        size_t n_trans;
        TzType *types;
        size_t n_types;
        size_t first_type; /* before the first transition: the first standard time type */
        bool has_rule;     /* after the last transition: the footer (none: the last type) */
        bool rule_only;    /* no file, a POSIX TZ string: the rule at all times */
        YbTzRule rule;
};

YbTz *yb_tz_ref(YbTz *z) {
        __atomic_add_fetch(&z->n_ref, 1, __ATOMIC_RELAXED);
        return z;
}

YbTz *yb_tz_unref(YbTz *z) {
        if (z && __atomic_sub_fetch(&z->n_ref, 1, __ATOMIC_ACQ_REL) == 0) {
                free(z->trans);
                free(z->trans_type);
                free(z->types);
                free(z);
        }
        return NULL;
}

/* ---- Reading TZif ---- */

static uint32_t be32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p) {
        return (int64_t) ((uint64_t) be32(p) << 32 | be32(p + 4));
}

typedef struct Header {
        uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
} Header;

/* Reads a header at d (size n), and the size of the data block after it for time values of
 * time_size bytes: -EBADMSG if the block does not fit in the file. */
static int header_read(const uint8_t *d, size_t n, size_t time_size, Header *h, size_t *ret_size) {
        uint64_t size;

        if (n < TZIF_HEADER || memcmp(d, "TZif", 4) != 0)
                return -EBADMSG;
        *h = (Header){ be32(d + 20), be32(d + 24), be32(d + 28),
                       be32(d + 32), be32(d + 36), be32(d + 40) };
        size = (uint64_t) h->timecnt * (time_size + 1) + (uint64_t) h->typecnt * 6 + h->charcnt +
               (uint64_t) h->leapcnt * (time_size + 4) + h->isstdcnt + h->isutcnt;
        if (size > n - TZIF_HEADER)
                return -EBADMSG; /* truncated */
        *ret_size = (size_t) size;
        return 0;
}

/* The counts of the data block we read (RFC 8536 section 3.1; the one a version 2+ file has for
 * old readers is only skipped, and zic's "slim" files leave it empty). */
static bool counts_valid(const Header *h) {
        return h->typecnt > 0 && h->typecnt <= 256 && h->charcnt > 0 &&
               (h->isstdcnt == 0 || h->isstdcnt == h->typecnt) &&
               (h->isutcnt == 0 || h->isutcnt == h->typecnt);
}

/* The footer "\nTZ\n" (rest, size n): an empty TZ string is no rule. */
static int footer_read(const char *rest, size_t n, YbTz *z) {
        char tz[256];

        if (n < 2 || rest[0] != '\n' || rest[n - 1] != '\n' || n - 2 >= sizeof(tz) ||
            memchr(rest + 1, '\n', n - 2) || memchr(rest + 1, 0, n - 2))
                return -EBADMSG;
        memcpy(tz, rest + 1, n - 2);
        tz[n - 2] = 0;
        if (!*tz)
                return 0;
        if (yb_tzrule_parse(tz, &z->rule) < 0)
                return -EBADMSG;
        z->has_rule = true;
        return 0;
}

static int tzif_parse(const uint8_t *d, size_t n, YbTz **ret) {
        _cleanup_(yb_tz_unrefp) YbTz *z = NULL;
        size_t time_size = 4, size;
        const uint8_t *p;
        Header h;
        int r;

        r = header_read(d, n, time_size, &h, &size);
        if (r < 0)
                return r;
        if (d[4] != 0) { /* version 2 or later: skip to the 64-bit data, as glibc does */
                d += TZIF_HEADER + size;
                n -= TZIF_HEADER + size;
                time_size = 8;
                r = header_read(d, n, time_size, &h, &size);
                if (r < 0)
                        return r;
        }
        if (!counts_valid(&h))
                return -EBADMSG;
        if (h.leapcnt > 0)
                return -EPROTONOSUPPORT;

        z = new0(YbTz, 1);
        if (!z)
                return -ENOMEM;
        z->n_ref = 1;
        z->n_trans = h.timecnt;
        z->n_types = h.typecnt;
        z->trans = new0(int64_t, h.timecnt + 1);
        z->trans_type = new0(uint8_t, h.timecnt + 1);
        z->types = new0(TzType, h.typecnt);
        if (!z->trans || !z->trans_type || !z->types)
                return -ENOMEM;

        p = d + TZIF_HEADER;
        for (size_t i = 0; i < h.timecnt; i++, p += time_size) {
                z->trans[i] = time_size == 8 ? be64(p) : (int32_t) be32(p);
                if (i > 0 && z->trans[i] <= z->trans[i - 1])
                        return -EBADMSG;
        }
        for (size_t i = 0; i < h.timecnt; i++, p++) {
                if (*p >= h.typecnt)
                        return -EBADMSG;
                z->trans_type[i] = *p;
        }
        for (size_t i = 0; i < h.typecnt; i++, p += 6) {
                int32_t off = (int32_t) be32(p);

                if (off < OFFSET_MIN || off > OFFSET_MAX || p[4] > 1 || p[5] >= h.charcnt)
                        return -EBADMSG;
                z->types[i] = (TzType){ off, p[4] == 1 };
        }
        /* Before the first transition: the first type that is not daylight time, else the first
         * (glibc; RFC 8536 would say type 0). */
        while (z->first_type < z->n_types && z->types[z->first_type].isdst)
                z->first_type++;
        if (z->first_type == z->n_types)
                z->first_type = 0;

        if (time_size == 8) {
                r = footer_read((const char *) d + TZIF_HEADER + size, n - TZIF_HEADER - size, z);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(z);
        return 0;
}

/* ---- The cache ---- */

typedef struct Entry {
        char *key;    /* the file's path, or "TZ=" and a POSIX TZ string */
        bool is_file; /* then st is the file as it was read */
        struct stat st;
        YbTz *zone;
        struct Entry *next;
} Entry;

/* Guards the cache; the zones in it never change, so lookups need no lock. */
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static Entry *cache;
static size_t n_cache;

static void unlockp(pthread_mutex_t **m) {
        if (*m)
                pthread_mutex_unlock(*m);
}

static Entry *entry_free(Entry *e) {
        if (e) {
                yb_tz_unref(e->zone);
                free(e->key);
                free(e);
        }
        return NULL;
}

static bool same_file(const struct stat *a, const struct stat *b) {
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
               a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static Entry *cache_find(const char *key) {
        for (Entry *e = cache; e; e = e->next)
                if (streq(e->key, key))
                        return e;
        return NULL;
}

/* Puts zone (taking the reference) under key, replacing an entry of that key. */
static int cache_put(const char *key, YbTz *zone, const struct stat *st, YbTz **ret) {
        Entry *e = cache_find(key);

        if (!e) {
                if (n_cache >= CACHE_MAX)
                        while (cache) {
                                Entry *next = cache->next;

                                entry_free(cache);
                                cache = next;
                                n_cache--;
                        }
                e = new0(Entry, 1);
                if (!e || !(e->key = strdup(key))) {
                        free(e);
                        yb_tz_unref(zone);
                        return -ENOMEM;
                }
                e->next = cache;
                cache = e;
                n_cache++;
        }
        yb_tz_unref(e->zone);
        e->zone = zone;
        e->is_file = st != NULL;
        if (st)
                e->st = *st;
        *ret = yb_tz_ref(zone);
        return 0;
}

static int file_load(const char *path, struct stat *ret_st, YbTz **ret) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ uint8_t *data = NULL;
        ssize_t n;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, ret_st) < 0)
                return negative_errno();
        if (!S_ISREG(ret_st->st_mode))
                return -ENOENT; /* a directory of the tz database is no zone */
        data = malloc(TZIF_MAX + 1);
        if (!data)
                return -ENOMEM;
        n = yb_read_all(fd, data, TZIF_MAX + 1);
        if (n < 0)
                return (int) n;
        if (n > TZIF_MAX)
                return -EBADMSG;
        return tzif_parse(data, (size_t) n, ret);
}

int yb_tz_get_file(const char *path, YbTz **ret) {
        _cleanup_(unlockp) pthread_mutex_t *locked = NULL;
        struct stat st;
        YbTz *z = NULL; /* file_load sets it on success; gcc cannot tell */
        Entry *e;
        int r;

        assert(path);
        assert(ret);

        pthread_mutex_lock(&cache_lock);
        locked = &cache_lock;
        if (stat(path, &st) < 0)
                return negative_errno();
        e = cache_find(path);
        if (e && e->is_file && same_file(&e->st, &st)) {
                *ret = yb_tz_ref(e->zone);
                return 0;
        }
        r = file_load(path, &st, &z);
        if (r < 0)
                return r;
        return cache_put(path, z, &st, ret);
}

/* A zone that is a POSIX TZ string alone; -EINVAL if s is not one. */
static int rule_get(const char *s, YbTz **ret) {
        _cleanup_(unlockp) pthread_mutex_t *locked = NULL;
        _cleanup_free_ char *key = NULL;
        YbTz *z;
        Entry *e;
        int r;

        if (asprintf(&key, "TZ=%s", s) < 0)
                return -ENOMEM;
        pthread_mutex_lock(&cache_lock);
        locked = &cache_lock;
        e = cache_find(key);
        if (e) {
                *ret = yb_tz_ref(e->zone);
                return 0;
        }
        z = new0(YbTz, 1);
        if (!z)
                return -ENOMEM;
        z->n_ref = 1;
        r = yb_tzrule_parse(s, &z->rule);
        if (r < 0) {
                yb_tz_unref(z);
                return r;
        }
        z->has_rule = z->rule_only = true;
        return cache_put(key, z, NULL, ret);
}

/* ---- Names ---- */

/* $TZDIR/name, or YB_TZ_ZONEINFO/name. */
static char *zone_path(const char *name) {
        const char *dir = getenv("TZDIR");
        char *p;

        if (!dir || !*dir)
                dir = YB_TZ_ZONEINFO;
        return asprintf(&p, "%s/%s", dir, name) < 0 ? NULL : p;
}

/* As systemd's verify_timezone(): relative, no "." (so no ".."), no empty part. */
static bool name_valid(const char *name) {
        bool slash = true;

        if (!*name || strlen(name) > 200)
                return false;
        for (const char *s = name; *s; s++) {
                if (!isalnum((unsigned char) *s) && !strchr("-_+/", *s))
                        return false;
                if (*s == '/' && slash)
                        return false;
                slash = *s == '/';
        }
        return !slash;
}

bool yb_tz_exists(const char *name) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        char magic[4];
        struct stat st;

        if (!name_valid(name))
                return false;
        path = zone_path(name);
        if (!path)
                return false;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return false;
        return yb_read_all(fd, magic, sizeof(magic)) == (ssize_t) sizeof(magic) &&
               memcmp(magic, "TZif", 4) == 0;
}

int yb_tz_get(const char *name, YbTz **ret) {
        _cleanup_free_ char *path = NULL;

        assert(name);
        if (!name_valid(name))
                return -EINVAL;
        path = zone_path(name);
        if (!path)
                return -ENOMEM;
        return yb_tz_get_file(path, ret);
}

int yb_tz_get_local(YbTz **ret) {
        _cleanup_free_ char *path = NULL;
        const char *tz = getenv("TZ");
        int r;

        if (!tz) {
                r = yb_tz_get_file(LOCALTIME, ret);
                return r == -ENOENT ? rule_get("UTC0", ret) : r;
        }
        tz += *tz == ':';
        if (!*tz)
                return rule_get("UTC0", ret);
        path = *tz == '/' ? strdup(tz) : zone_path(tz);
        if (!path)
                return -ENOMEM;
        r = yb_tz_get_file(path, ret);
        if (r != -ENOENT)
                return r;
        r = rule_get(tz, ret);
        return r == -EINVAL ? rule_get("UTC0", ret) : r;
}

/* ---- Answers ---- */

void yb_tz_span(const YbTz *z, int64_t t, YbTzSpan *ret) {
        size_t n = z->n_trans, lo = 0, hi;
        const TzType *type;

        if (z->rule_only) {
                yb_tzrule_span(&z->rule, t, ret);
                return;
        }
        /* A file without transitions is its first type at all times, footer or not (glibc). */
        if (n == 0 || t < z->trans[0]) {
                type = &z->types[z->first_type];
                *ret = (YbTzSpan){ INT64_MIN, n > 0 ? z->trans[0] : INT64_MAX, type->gmtoff,
                                   type->isdst };
                return;
        }
        if (t >= z->trans[n - 1]) {
                if (z->has_rule) {
                        yb_tzrule_span(&z->rule, t, ret);
                        ret->start = MAX(ret->start, z->trans[n - 1]);
                        return;
                }
                type = &z->types[z->trans_type[n - 1]];
                *ret = (YbTzSpan){ z->trans[n - 1], INT64_MAX, type->gmtoff, type->isdst };
                return;
        }
        hi = n - 1; /* trans[lo] <= t < trans[hi] */
        while (hi - lo > 1) {
                size_t mid = lo + (hi - lo) / 2;

                if (z->trans[mid] <= t)
                        lo = mid;
                else
                        hi = mid;
        }
        type = &z->types[z->trans_type[lo]];
        *ret = (YbTzSpan){ z->trans[lo], z->trans[hi], type->gmtoff, type->isdst };
}

int yb_tz_day_start(const YbTz *z, int64_t day, int64_t *ret) {
        int64_t lo = day * SEC_PER_DAY, hi = lo + SEC_PER_DAY;
        YbTzSpan s;

        /* The spans whose local times can fall on the date, in order: offsets are within 26
         * hours. The first one that reaches the date holds its first second. */
        for (int64_t t = lo - 2 * SEC_PER_DAY; t < hi + 2 * SEC_PER_DAY; t = s.end) {
                int64_t first;

                yb_tz_span(z, t, &s);
                first = MAX(s.start, lo - s.gmtoff);
                if (first < s.end && first + s.gmtoff < hi) {
                        *ret = first;
                        return 0;
                }
                if (s.end == INT64_MAX)
                        break;
        }
        return -ENOENT;
}
