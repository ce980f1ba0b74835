/* Snapshot headers: one line of JSON, then "ed25519 <base64 signature of that line>". */
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>

#include "core/base/log.h"
#include "core/base/pathutil.h"
#include "core/base/timeutil.h"
#include "core/repo/repo.h"

#define SIG_PREFIX "ed25519 "

YbSnapshotHeader *yb_header_free(YbSnapshotHeader *h) {
        if (!h)
                return NULL;
        free(h->files);
        for (size_t i = 0; i < h->n_sources; i++)
                free(h->sources[i]);
        free(h->sources);
        for (size_t i = 0; i < h->n_pg; i++)
                yb_pg_backup_done(&h->pg[i]);
        free(h->pg);
        free(h);
        return NULL;
}

void yb_snapshot_id_new(int64_t now_ns, char ret[YB_SNAPSHOT_ID_MAX + 1]) {
        char t[17];
        uint8_t rnd[3];

        yb_time_format_compact(now_ns, t);
        randombytes_buf(rnd, sizeof(rnd));
        snprintf(ret, YB_SNAPSHOT_ID_MAX + 1, "%s-%02x%02x%02x", t, rnd[0], rnd[1], rnd[2]);
}

bool yb_snapshot_id_valid(const char *id) {
        size_t n = strlen(id);

        if (n == 0 || n > YB_SNAPSHOT_ID_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'A' && id[i] <= 'Z') ||
                      (id[i] >= 'a' && id[i] <= 'z') || id[i] == '-'))
                        return false;
        return true;
}

int yb_snapshot_id_time(const char *id, int64_t *ret) {
        char t[17];

        if (strlen(id) < 16)
                return -EINVAL;
        memcpy(t, id, 16);
        t[16] = 0;
        return yb_time_parse(t, ret);
}

const YbFileRef *yb_header_find_file(const YbSnapshotHeader *h, const char *name) {
        for (size_t i = 0; i < h->n_files; i++)
                if (streq(h->files[i].name, name))
                        return &h->files[i];
        return NULL;
}

static json_t *hex_json(const void *data, size_t n) {
        char s[2 * 64 + 1];

        yb_hex_encode(data, n, s);
        return json_string(s);
}

static json_t *b64_json(const void *data, size_t n) {
        _cleanup_free_ char *s = NULL;

        if (yb_base64_encode(data, n, &s) < 0)
                return NULL;
        return json_string(s);
}

static json_t *time_json(int64_t ns) {
        char s[32];

        yb_time_format_iso(ns, s);
        return json_string(s);
}

#define COUNT_FIELDS(X)                                                                            \
        X(files)                                                                                   \
        X(dirs)                                                                                    \
        X(symlinks)                                                                                \
        X(hardlinks)                                                                               \
        X(special) X(whole) X(delta) X(unchanged) X(empty) X(deleted) X(renamed) X(errors)

/* Text that may not be UTF-8 (a host name, a source path): JSON only holds UTF-8, so other
 * bytes are written as \xNN escapes, the way yunbak prints paths in messages. */
static json_t *text_json(const char *s) {
        _cleanup_free_ char *esc = NULL;
        json_t *v = json_string(s);

        if (v)
                return v;
        esc = yb_path_escape(s);
        return esc ? json_string(esc) : NULL;
}

/* The base backups of a header, as an array (pg.h). NULL when a value could not be made. */
static json_t *pg_json(const YbSnapshotHeader *h) {
        json_t *a = json_array();
        bool ok = a;

        for (size_t i = 0; ok && i < h->n_pg; i++) {
                const YbPgBackup *b = &h->pg[i];
                json_t *o = json_object();
                char start[YB_PG_LSN_MAX + 1], stop[YB_PG_LSN_MAX + 1], sysid[24],
                        start_wal[YB_PG_WAL_NAME_LEN + 1], stop_wal[YB_PG_WAL_NAME_LEN + 1];

                yb_pg_lsn_format(b->start_lsn, start);
                yb_pg_lsn_format(b->stop_lsn, stop);
                yb_pg_wal_name(b->timeline, b->start_lsn, b->wal_segment_size, start_wal);
                /* As PostgreSQL names the stop WAL file (XLByteToPrevSeg): the file holding the
                 * byte before the stop LSN, which may sit at a file's very start. */
                yb_pg_wal_name(b->timeline, b->stop_lsn > 0 ? b->stop_lsn - 1 : 0,
                               b->wal_segment_size, stop_wal);
                snprintf(sysid, sizeof(sysid), "%" PRIu64, b->system_identifier);
                ok = o != NULL;
#define PSET(key, val) (ok = ok && json_object_set_new(o, (key), (val)) == 0)
                PSET("name", json_string(b->name));
                PSET("version", json_integer(b->version));
                PSET("system_identifier", json_string(sysid));
                PSET("timeline", json_integer(b->timeline));
                PSET("wal_segment_size", json_integer(b->wal_segment_size));
                PSET("start_lsn", json_string(start));
                PSET("stop_lsn", json_string(stop));
                PSET("start_wal", json_string(start_wal));
                PSET("stop_wal", json_string(stop_wal));
                PSET("started", time_json(b->started_ns));
                PSET("stopped", time_json(b->stopped_ns));
                PSET("started_ns", json_integer(b->started_ns));
                PSET("stopped_ns", json_integer(b->stopped_ns));
                PSET("data_directory", text_json(b->data_directory ? b->data_directory : ""));
#undef PSET
                if (ok)
                        ok = json_array_append_new(a, o) == 0;
                else
                        json_decref(o);
        }
        if (!ok) {
                json_decref(a);
                return NULL;
        }
        return a;
}

/* Every set and append is checked: a value that could not be made (NULL) fails the whole
 * header rather than leaving a field out of what the agent signs. */
static json_t *header_json(const YbSnapshotHeader *h) {
        json_t *o = json_object(), *counts = json_object(), *bytes = json_object(),
               *files = json_array(), *sources = json_array(), *agent = json_object();
        bool ok = o && counts && bytes && files && sources && agent;

#define SET(obj, key, val) (ok = ok && json_object_set_new((obj), (key), (val)) == 0)
#define ADD(arr, val) (ok = ok && json_array_append_new((arr), (val)) == 0)
        SET(o, "type", json_string("yunbak-snapshot"));
        SET(o, "format", json_integer(YB_FORMAT_VERSION));
        SET(o, "id", json_string(h->id));
        SET(o, "system", json_string(h->system));
        SET(o, "level", json_string(yb_level_to_string(h->level)));
        SET(o, "parent", *h->parent ? json_string(h->parent) : json_null());
        SET(o, "base", *h->base ? json_string(h->base) : json_null());
        /* Only a segment has a seq: other headers keep the bytes they always had. */
        if (h->level == YB_LEVEL_SEGMENT)
                SET(o, "seq", json_integer((json_int_t) h->seq));
        SET(o, "started", time_json(h->started_ns));
        SET(o, "finished", time_json(h->finished_ns));
        SET(o, "started_ns", json_integer(h->started_ns));
        SET(o, "finished_ns", json_integer(h->finished_ns));
        SET(agent, "host", text_json(h->host));
        SET(agent, "ed25519", b64_json(h->agent_pk, 32));
        SET(agent, "state_key_id", hex_json(h->state_key_id, YB_KEY_ID_SIZE));
        SET(o, "agent", json_incref(agent));
        SET(o, "key_id", hex_json(h->key_id, YB_KEY_ID_SIZE));
        for (size_t i = 0; i < h->n_sources; i++)
                ADD(sources, text_json(h->sources[i]));
        SET(o, "sources", json_incref(sources));
        SET(o, "partial", json_boolean(h->partial));
#define X(f) SET(counts, #f, json_integer((json_int_t) h->counts.f));
        COUNT_FIELDS(X)
#undef X
        /* Only a segment that kept files written while read has it: other headers keep the
         * bytes they always had. */
        if (h->counts.changing > 0)
                SET(counts, "changing", json_integer((json_int_t) h->counts.changing));
        SET(o, "counts", json_incref(counts));
        SET(bytes, "source", json_integer((json_int_t) h->bytes_source));
        SET(bytes, "read", json_integer((json_int_t) h->bytes_read));
        SET(bytes, "stored", json_integer((json_int_t) h->bytes_stored));
        SET(o, "bytes", json_incref(bytes));
        for (size_t i = 0; i < h->n_files; i++) {
                json_t *f = json_object();

                ok = ok && f;
                SET(f, "name", json_string(h->files[i].name));
                SET(f, "size", json_integer((json_int_t) h->files[i].size));
                SET(f, "blake2b", hex_json(h->files[i].hash, YB_HASH_SIZE));
                if (ok)
                        ok = json_array_append_new(files, f) == 0;
                else
                        json_decref(f);
        }
        SET(o, "files", json_incref(files));
        /* Only a PostgreSQL base backup has it: other headers keep the bytes they always had. */
        if (h->n_pg > 0)
                SET(o, "postgresql", pg_json(h));
#undef SET
#undef ADD
        json_decref(counts);
        json_decref(bytes);
        json_decref(files);
        json_decref(sources);
        json_decref(agent);
        if (!ok) {
                json_decref(o);
                return NULL;
        }
        return o;
}

char *yb_header_to_json(const YbSnapshotHeader *h) {
        json_t *o = header_json(h);
        char *s;

        if (!o)
                return NULL;
        s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
        return s;
}

int yb_header_format(const YbSnapshotHeader *h, const YbAgentIdentity *agent, YbBuf *out) {
        _cleanup_free_ char *line = yb_header_to_json(h), *sig64 = NULL;
        uint8_t sig[64];
        int r;

        if (!line)
                return -ENOMEM;
        yb_sign(agent, line, strlen(line), sig);
        r = yb_base64_encode(sig, sizeof(sig), &sig64);
        if (r < 0)
                return r;
        return yb_buf_printf(out, "%s\n" SIG_PREFIX "%s\n", line, sig64);
}

static int get_string(json_t *o, const char *key, char *ret, size_t size, bool nullable) {
        json_t *v = json_object_get(o, key);
        const char *s;

        if (nullable && json_is_null(v)) {
                ret[0] = 0;
                return 0;
        }
        s = json_string_value(v);
        if (!s || strlen(s) >= size)
                return -EBADMSG;
        strcpy(ret, s);
        return 0;
}

static int get_u64(json_t *o, const char *key, uint64_t *ret) {
        json_t *v = json_object_get(o, key);

        if (!json_is_integer(v) || json_integer_value(v) < 0)
                return -EBADMSG;
        *ret = (uint64_t) json_integer_value(v);
        return 0;
}

static int get_hex(json_t *o, const char *key, void *ret, size_t n) {
        const char *s = json_string_value(json_object_get(o, key));

        if (!s)
                return -EBADMSG;
        return yb_hex_decode(s, ret, n);
}

static int pg_from_json(json_t *a, YbSnapshotHeader *h) {
        if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > 64)
                return -EBADMSG;
        h->pg = new0(YbPgBackup, json_array_size(a));
        if (!h->pg)
                return -ENOMEM;
        for (size_t i = 0; i < json_array_size(a); i++) {
                json_t *o = json_array_get(a, i);
                YbPgBackup *b = &h->pg[i];
                char lsn[YB_PG_LSN_MAX + 1], sysid[24], *end;
                const char *dd;
                uint64_t u;
                int r;

                h->n_pg = i + 1;
                if ((r = get_string(o, "name", b->name, sizeof(b->name), false)) < 0 ||
                    (r = get_string(o, "system_identifier", sysid, sizeof(sysid), false)) < 0)
                        return r;
                if (!*b->name || strchr(b->name, '/') || b->name[0] == '.')
                        return -EBADMSG;
                errno = 0;
                b->system_identifier = strtoull(sysid, &end, 10);
                if (errno || *end || !*sysid)
                        return -EBADMSG;
                if ((r = get_u64(o, "version", &u)) < 0)
                        return r;
                b->version = u > INT32_MAX ? -1 : (int) u;
                if (b->version < 0 || (r = get_u64(o, "timeline", &u)) < 0)
                        return r < 0 ? r : -EBADMSG;
                if (u == 0 || u > UINT32_MAX)
                        return -EBADMSG;
                b->timeline = (uint32_t) u;
                if ((r = get_u64(o, "wal_segment_size", &u)) < 0)
                        return r;
                if (u < (1u << 20) || u > (1u << 30) || (u & (u - 1)) != 0)
                        return -EBADMSG;
                b->wal_segment_size = (uint32_t) u;
                if ((r = get_string(o, "start_lsn", lsn, sizeof(lsn), false)) < 0 ||
                    yb_pg_lsn_parse(lsn, &b->start_lsn) < 0 ||
                    (r = get_string(o, "stop_lsn", lsn, sizeof(lsn), false)) < 0 ||
                    yb_pg_lsn_parse(lsn, &b->stop_lsn) < 0 || b->stop_lsn < b->start_lsn)
                        return r < 0 ? r : -EBADMSG;
                if ((r = get_u64(o, "started_ns", &u)) < 0)
                        return r;
                b->started_ns = (int64_t) u;
                if ((r = get_u64(o, "stopped_ns", &u)) < 0)
                        return r;
                b->stopped_ns = (int64_t) u;
                dd = json_string_value(json_object_get(o, "data_directory"));
                if (!dd)
                        return -EBADMSG;
                b->data_directory = strdup(dd);
                if (!b->data_directory)
                        return -ENOMEM;
        }
        return 0;
}

static int header_from_json(json_t *o, YbSnapshotHeader *h) {
        json_t *agent, *counts, *bytes, *files, *sources, *v;
        const char *s;
        char level[32];
        uint64_t u;
        int r;

        s = json_string_value(json_object_get(o, "type"));
        if (!s || !streq(s, "yunbak-snapshot"))
                return -EBADMSG;
        v = json_object_get(o, "format");
        if (!json_is_integer(v))
                return -EBADMSG;
        if (json_integer_value(v) != YB_FORMAT_VERSION)
                return -EPROTONOSUPPORT;
        if ((r = get_string(o, "id", h->id, sizeof(h->id), false)) < 0 ||
            (r = get_string(o, "system", h->system, sizeof(h->system), false)) < 0 ||
            (r = get_string(o, "level", level, sizeof(level), false)) < 0 ||
            (r = get_string(o, "parent", h->parent, sizeof(h->parent), true)) < 0 ||
            (r = get_string(o, "base", h->base, sizeof(h->base), true)) < 0)
                return r;
        if (!yb_snapshot_id_valid(h->id) || !yb_system_id_valid(h->system))
                return -EBADMSG;
        if ((*h->parent && !yb_snapshot_id_valid(h->parent)) ||
            (*h->base && !yb_snapshot_id_valid(h->base)))
                return -EBADMSG;
        r = yb_level_from_string(level);
        if (r < 0)
                return -EBADMSG;
        h->level = r;
        if ((h->level == YB_LEVEL_FULL) != (*h->parent == 0))
                return -EBADMSG;
        /* A segment names its previous point, its chain's root and its number in the chain;
         * nothing else has a number. */
        if (h->level == YB_LEVEL_SEGMENT) {
                if ((r = get_u64(o, "seq", &h->seq)) < 0)
                        return r;
                if (h->seq == 0 || !*h->base)
                        return -EBADMSG;
        } else if (json_object_get(o, "seq"))
                return -EBADMSG;
        if ((r = get_u64(o, "started_ns", &u)) < 0)
                return r;
        h->started_ns = (int64_t) u;
        if ((r = get_u64(o, "finished_ns", &u)) < 0)
                return r;
        h->finished_ns = (int64_t) u;
        agent = json_object_get(o, "agent");
        s = json_string_value(json_object_get(agent, "ed25519"));
        if (!s || yb_base64_decode(s, h->agent_pk, 32) < 0)
                return -EBADMSG;
        if ((r = get_string(agent, "host", h->host, sizeof(h->host), false)) < 0 ||
            (r = get_hex(agent, "state_key_id", h->state_key_id, YB_KEY_ID_SIZE)) < 0 ||
            (r = get_hex(o, "key_id", h->key_id, YB_KEY_ID_SIZE)) < 0)
                return r;
        v = json_object_get(o, "partial");
        if (!json_is_boolean(v))
                return -EBADMSG;
        h->partial = json_is_true(v);
        counts = json_object_get(o, "counts");
#define X(f)                                                                                       \
        if ((r = get_u64(counts, #f, &h->counts.f)) < 0)                                           \
                return r;
        COUNT_FIELDS(X)
#undef X
        h->counts.changing = 0;
        if (json_object_get(counts, "changing") &&
            (r = get_u64(counts, "changing", &h->counts.changing)) < 0)
                return r;
        bytes = json_object_get(o, "bytes");
        if ((r = get_u64(bytes, "source", &h->bytes_source)) < 0 ||
            (r = get_u64(bytes, "read", &h->bytes_read)) < 0 ||
            (r = get_u64(bytes, "stored", &h->bytes_stored)) < 0)
                return r;
        sources = json_object_get(o, "sources");
        if (!json_is_array(sources) || json_array_size(sources) > 4096)
                return -EBADMSG;
        h->sources = new0(char *, json_array_size(sources) + 1);
        if (!h->sources)
                return -ENOMEM;
        for (size_t i = 0; i < json_array_size(sources); i++) {
                s = json_string_value(json_array_get(sources, i));
                if (!s)
                        return -EBADMSG;
                h->sources[i] = strdup(s);
                if (!h->sources[i])
                        return -ENOMEM;
                h->n_sources = i + 1;
        }
        files = json_object_get(o, "files");
        if (!json_is_array(files) || json_array_size(files) > 1000000)
                return -EBADMSG;
        h->files = new0(YbFileRef, json_array_size(files) + 1);
        if (!h->files)
                return -ENOMEM;
        for (size_t i = 0; i < json_array_size(files); i++) {
                json_t *f = json_array_get(files, i);
                YbFileRef *ref = &h->files[i];

                if ((r = get_string(f, "name", ref->name, sizeof(ref->name), false)) < 0 ||
                    (r = get_u64(f, "size", &ref->size)) < 0 ||
                    (r = get_hex(f, "blake2b", ref->hash, YB_HASH_SIZE)) < 0)
                        return r;
                /* File names are ours: "manifest", "sigindex", "vol-NNNNNN". No path tricks. */
                if (strchr(ref->name, '/') || streq(ref->name, "header") || ref->name[0] == '.')
                        return -EBADMSG;
                h->n_files = i + 1;
        }
        v = json_object_get(o, "postgresql");
        if (v && (r = pg_from_json(v, h)) < 0)
                return r;
        return 0;
}

int yb_header_parse(const void *data, size_t n, YbSnapshotHeader **ret) {
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = NULL;
        const char *p = data, *nl, *sigline;
        uint8_t sig[64];
        char sig64[128];
        json_error_t err;
        json_t *o;
        size_t siglen;
        int r;

        if (n > YB_HEADER_MAX_BYTES || memchr(p, 0, n))
                return -EBADMSG;
        nl = memchr(p, '\n', n);
        if (!nl)
                return -EBADMSG;
        sigline = nl + 1;
        siglen = n - (size_t) (sigline - p);
        if (siglen < strlen(SIG_PREFIX) + 1 || sigline[siglen - 1] != '\n' ||
            memcmp(sigline, SIG_PREFIX, strlen(SIG_PREFIX)) != 0)
                return -EBADMSG;
        siglen -= strlen(SIG_PREFIX) + 1;
        if (siglen >= sizeof(sig64))
                return -EBADMSG;
        memcpy(sig64, sigline + strlen(SIG_PREFIX), siglen);
        sig64[siglen] = 0;
        if (yb_base64_decode(sig64, sig, sizeof(sig)) < 0)
                return -EBADMSG;
        o = json_loadb(p, (size_t) (nl - p), JSON_REJECT_DUPLICATES, &err);
        if (!o)
                return -EBADMSG;
        h = new0(YbSnapshotHeader, 1);
        if (!h) {
                json_decref(o);
                return -ENOMEM;
        }
        r = header_from_json(o, h);
        json_decref(o);
        if (r < 0)
                return r;
        r = yb_sign_verify(h->agent_pk, p, (size_t) (nl - p), sig);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(h);
        return 0;
}
