#include "core/repo/writer.h"

#include <jansson.h>
#include <stdio.h>

#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "core/repo/segment.h"
#include "core/repo/sigdelta.h"

struct YbSnapshotWriter {
        YbRepo *repo;
        const YbAgentIdentity *agent;
        YbWriterOptions opts;
        char id[YB_SNAPSHOT_ID_MAX + 1];
        YbLevel level;
        char parent[YB_SNAPSHOT_ID_MAX + 1], base[YB_SNAPSHOT_ID_MAX + 1];
        int64_t started_ns;
        char *dir; /* tmp/<id>, or on an object store the snapshot's (segment's) own place */
        YbSealedOut *manifest, *sigindex, *vol;
        bool sig_begun;         /* the sigindex's magic is written */
        YbSigIndex *sig_parent; /* the parent's index, when the sigindex is a delta */
        uint8_t *sig_named;     /* per entry of sig_parent: named by this snapshot */
        size_t sig_next;        /* the entry of sig_parent after the last one found */
        YbSealedOut *closing;   /* the previous volume, still being finished in its thread */
        YbPaxWriter *pax;
        uint32_t vol_no, entry_no;
        uint64_t bytes;
        YbFileRef *files;
        size_t n_files;
        json_t *skipped; /* [{"path", "why"}], or NULL */
        bool committed;
};

YbSnapshotWriter *yb_snapshot_writer_free(YbSnapshotWriter *w) {
        if (!w)
                return NULL;
        yb_pax_writer_free(w->pax);
        yb_sealed_out_free(w->vol);
        yb_sealed_out_free(w->closing);
        yb_sealed_out_free(w->manifest);
        yb_sealed_out_free(w->sigindex);
        if (!w->committed && w->dir)
                (void) yb_store_remove_tree(w->repo->store, w->dir);
        free(w->dir);
        free(w->files);
        free(w->sig_named);
        json_decref(w->skipped);
        free(w);
        return NULL;
}

static int open_sealed(YbSnapshotWriter *w, const char *name, const YbPublicKey *pub, int workers,
                       YbSealedOut **ret) {
        _cleanup_free_ char *path = NULL;
        char ctx[256];

        if (asprintf(&path, "%s/%s", w->dir, name) < 0)
                return -ENOMEM;
        yb_seal_context(w->repo->system, w->id, name, ctx);
        return yb_sealed_out_new(w->repo->store, path, name, pub, ctx, w->opts.zstd_level, workers,
                                 ret);
}

static int add_file(YbSnapshotWriter *w, const YbFileRef *ref) {
        YbFileRef *p = realloc(w->files, (w->n_files + 1) * sizeof(YbFileRef));

        if (!p)
                return -ENOMEM;
        w->files = p;
        w->files[w->n_files++] = *ref;
        return 0;
}

/* -ESTALE when the hour of segment id of chain base is over: its index is written, and must list
 * every segment of its hour (the clock went back, or the hour was closed too early). */
static int hour_open(YbSnapshotWriter *w, const char *base, const char *id) {
        _cleanup_free_ char *index = NULL;
        YbStoreStat st;
        int r;

        if (asprintf(&index, "%s/segments/%s/%.*s.index", w->repo->system, base,
                     YB_SEGMENT_HOUR_LEN, id) < 0)
                return -ENOMEM;
        r = yb_store_stat(w->repo->store, index, &st);
        if (r >= 0) {
                log_debug("The hour of segment %s is closed: %s exists.", id, index);
                return -ESTALE;
        }
        return r == -ENOENT ? 0 : r;
}

/* On an object store, which cannot rename a directory, a snapshot's (segment's) files go
 * straight to their final place, the header last: until it is there, the place is an
 * incomplete snapshot, which no reader takes for one (docs/format.md, "S3 stores"). */
static int final_dir(YbSnapshotWriter *w, char **ret) {
        YbSnapshotHeader h = { .level = w->level };
        int r;

        strcpy(h.id, w->id);
        strcpy(h.base, w->base);
        if (w->level == YB_LEVEL_SEGMENT) {
                r = hour_open(w, w->base, w->id);
                if (r < 0)
                        return r;
        }
        *ret = yb_repo_point_path(w->repo, &h, NULL);
        return *ret ? 0 : -ENOMEM;
}

/* The id: the start time and six random hex digits, drawn again while a committed snapshot (or
 * one being written, on an object store) already has it. The repository is locked, so nothing
 * takes the id between this look and the commit. Several segments a second would otherwise meet
 * an earlier one's id now and then (1 in 2^24 for each pair in the same second) and fail to
 * commit. */
static int choose_id(YbSnapshotWriter *w) {
        for (unsigned attempt = 0; attempt < 16; attempt++) {
                YbSnapshotHeader h = { .level = w->level };
                _cleanup_free_ char *dest = NULL;
                YbStoreStat st;
                int r;

                if (w->opts.id_new)
                        w->opts.id_new(w->started_ns, w->id);
                else
                        yb_snapshot_id_new(w->started_ns, w->id);
                strcpy(h.id, w->id);
                strcpy(h.base, w->base);
                dest = yb_repo_point_path(w->repo, &h, NULL);
                if (!dest)
                        return -ENOMEM;
                r = yb_store_stat(w->repo->store, dest, &st);
                if (r == -ENOENT)
                        return 0;
                if (r < 0)
                        return r;
        }
        return -EEXIST;
}

int yb_snapshot_writer_new(YbRepo *repo, const YbAgentIdentity *agent, YbLevel level,
                           const YbSnapshotHeader *parent, const YbSnapshotHeader *base,
                           const YbWriterOptions *opts, YbSnapshotWriter **ret) {
        _cleanup_(yb_snapshot_writer_freep) YbSnapshotWriter *w = NULL;
        _cleanup_free_ char *tmp = NULL;
        int r;

        assert(repo->locked);
        if ((level == YB_LEVEL_FULL) != (parent == NULL) || (parent && !base))
                return -EINVAL;
        /* A segment has its number in the chain, and nothing else has one. */
        if ((level == YB_LEVEL_SEGMENT) != (opts->seq > 0))
                return -EINVAL;
        w = new0(YbSnapshotWriter, 1);
        if (!w)
                return -ENOMEM;
        w->repo = repo;
        w->agent = agent;
        w->opts = *opts;
        if (w->opts.zstd_level <= 0)
                w->opts.zstd_level = 3;
        if (w->opts.volume_size == 0)
                w->opts.volume_size = YB_VOLUME_TARGET_SIZE;
        w->level = level;
        w->started_ns = w->opts.clock_ns ? w->opts.clock_ns() : yb_now_ns();
        if (parent) {
                strcpy(w->parent, parent->id);
                strcpy(w->base, base->id);
        }
        r = choose_id(w);
        if (r < 0)
                return r;
        if (yb_store_objects(repo->store)) {
                r = final_dir(w, &w->dir);
                if (r < 0)
                        return r;
        } else {
                tmp = yb_repo_path(repo, "tmp");
                if (!tmp)
                        return -ENOMEM;
                r = yb_store_mkdir(repo->store, tmp);
                if (r < 0)
                        return r;
                if (asprintf(&w->dir, "%s/%s", tmp, w->id) < 0) {
                        w->dir = NULL;
                        return -ENOMEM;
                }
                r = yb_store_mkdir(repo->store, w->dir);
                if (r < 0) {
                        free(TAKE_PTR(w->dir));
                        return r;
                }
        }
        /* Compressed on a thread of its own: on a tree that did not change, compressing the
         * manifest is a tenth of the backup's work. */
        r = open_sealed(w, "manifest", &repo->config.pub, YB_SEALED_OUT_SIDE, &w->manifest);
        if (r >= 0)
                r = yb_sealed_out_write(w->manifest, YB_MANIFEST_MAGIC, 8);
        if (r >= 0)
                r = open_sealed(w, "sigindex", &agent->state.pub, 0, &w->sigindex);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(w);
        return 0;
}

const char *yb_snapshot_writer_id(const YbSnapshotWriter *w) {
        return w->id;
}

/* Waits for the volume being finished in the background, if any, and lists it. */
static int closing_wait(YbSnapshotWriter *w) {
        YbFileRef ref;
        int r;

        if (!w->closing)
                return 0;
        r = yb_sealed_out_finish(w->closing, &ref);
        if (r < 0)
                return r;
        w->closing = yb_sealed_out_free(w->closing);
        return add_file(w, &ref);
}

/* Ends the current volume. Its end (the rest of its compression, its fsync) runs in its own
 * thread while the next volume is written: at most two volumes are open, and they are listed
 * in order. */
static int close_volume(YbSnapshotWriter *w) {
        int r;

        if (!w->vol)
                return 0;
        r = yb_pax_finish(w->pax);
        if (r < 0)
                return r;
        w->pax = yb_pax_writer_free(w->pax);
        r = closing_wait(w);
        if (r < 0)
                return r;
        w->closing = TAKE_PTR(w->vol);
        return yb_sealed_out_finish_start(w->closing);
}

int yb_snapshot_writer_begin_entry(YbSnapshotWriter *w, const YbPaxEntry *e, uint32_t *ret_volume,
                                   uint32_t *ret_entry) {
        int r;

        if (w->vol && yb_pax_bytes(w->pax) >= w->opts.volume_size) {
                r = close_volume(w);
                if (r < 0)
                        return r;
        }
        if (!w->vol) {
                char name[32];

                snprintf(name, sizeof(name), "vol-%06u", ++w->vol_no);
                r = open_sealed(w, name, &w->repo->config.pub, w->opts.zstd_workers, &w->vol);
                if (r < 0)
                        return r;
                r = yb_pax_writer_new(yb_sealed_out_write_cb, w->vol, &w->pax);
                if (r < 0)
                        return r;
                w->entry_no = 0;
        }
        r = yb_pax_begin(w->pax, e);
        if (r < 0)
                return r;
        *ret_volume = w->vol_no;
        *ret_entry = w->entry_no++;
        return 0;
}

int yb_snapshot_writer_data(YbSnapshotWriter *w, const void *data, size_t n) {
        int r = yb_pax_data(w->pax, data, n);

        if (r >= 0)
                w->bytes += n;
        return r;
}

int yb_snapshot_writer_end_entry(YbSnapshotWriter *w) {
        return yb_pax_end(w->pax);
}

int yb_snapshot_writer_add(YbSnapshotWriter *w, const YbEntry *e) {
        YbBuf b = YB_BUF_INIT;
        int r = yb_manifest_encode_entry(e, &b);

        if (r >= 0)
                r = yb_sealed_out_write(w->manifest, b.data, b.size);
        yb_buf_done(&b);
        return r;
}

int yb_snapshot_writer_sig_parent(YbSnapshotWriter *w, YbSigIndex *parent) {
        if (w->sig_begun || !*w->parent)
                return -EINVAL;
        free(w->sig_named);
        w->sig_named = new0(uint8_t, parent->n + 1);
        if (!w->sig_named)
                return -ENOMEM;
        w->sig_parent = parent;
        return 0;
}

/* The start of the sigindex (form 2): magic, and the parent when it is a delta. */
static int sig_begin(YbSnapshotWriter *w, YbBuf *b) {
        if (w->sig_begun)
                return 0;
        w->sig_begun = true;
        return yb_sigdelta_begin(w->sig_parent ? w->parent : "", b);
}

/* e's record in a delta index: none when it is as in the parent's. */
static int sig_changed(YbSnapshotWriter *w, const YbSigEntry *e, YbBuf *b) {
        YbSigIndex *x = w->sig_parent;
        /* Files come in the walk's order, mostly the parent's. */
        const YbSigEntry *p = yb_sigindex_find_next(x, e->path, &w->sig_next);

        if (p) {
                uint8_t *named = &w->sig_named[p - w->sig_parent->entries];

                if (*named)
                        p = NULL; /* named twice: the later record is whole */
                else if ((*named = 1) && yb_sig_entry_same(p, e))
                        return 0;
        }
        return yb_sigdelta_put_changed(p, e, b);
}

int yb_snapshot_writer_add_sig(YbSnapshotWriter *w, const YbSigEntry *e) {
        YbBuf b = YB_BUF_INIT;
        int r = sig_begin(w, &b);

        if (r >= 0)
                r = w->sig_parent ? sig_changed(w, e, &b) : yb_sigdelta_put_changed(NULL, e, &b);
        if (r >= 0 && b.size > 0)
                r = yb_sealed_out_write(w->sigindex, b.data, b.size);
        yb_buf_done(&b);
        return r;
}

/* The end of the sigindex: in a delta, the parent's entries that are gone; the end marker. */
static int sig_end(YbSnapshotWriter *w) {
        YbBuf b = YB_BUF_INIT;
        int r = sig_begin(w, &b);

        for (size_t i = 0; r >= 0 && w->sig_parent && i < w->sig_parent->n; i++)
                if (!w->sig_named[i])
                        r = yb_sigdelta_put_gone(w->sig_parent->entries[i].path, &b);
        if (r >= 0 && b.size > 0)
                r = yb_sealed_out_write(w->sigindex, b.data, b.size);
        yb_buf_done(&b);
        return r;
}

int yb_snapshot_writer_add_skipped(YbSnapshotWriter *w, const char *path, const char *why) {
        if (!w->skipped)
                w->skipped = json_array();
        if (!w->skipped || json_array_append_new(w->skipped, json_pack("{s:s, s:s}", "path", path,
                                                                       "why", why)) < 0)
                return -ENOMEM;
        return 0;
}

/* The list of entries left out, sealed into "skipped". */
static int write_skipped(YbSnapshotWriter *w) {
        _cleanup_(yb_sealed_out_freep) YbSealedOut *o = NULL;
        _cleanup_free_ char *text = NULL;
        YbFileRef ref;
        int r;

        if (!w->skipped)
                return 0;
        text = json_dumps(w->skipped, JSON_COMPACT);
        if (!text)
                return -ENOMEM;
        r = open_sealed(w, "skipped", &w->repo->config.pub, 0, &o);
        if (r >= 0)
                r = yb_sealed_out_write(o, text, strlen(text));
        if (r >= 0)
                r = yb_sealed_out_finish(o, &ref);
        if (r < 0)
                return r;
        return add_file(w, &ref);
}

uint64_t yb_snapshot_writer_bytes(const YbSnapshotWriter *w) {
        return w->bytes;
}

static int finish_sealed(YbSnapshotWriter *w, YbSealedOut **o) {
        YbFileRef ref;
        uint8_t end = 0;
        int r;

        r = yb_sealed_out_write(*o, &end, 1);
        if (r >= 0)
                r = yb_sealed_out_finish(*o, &ref);
        if (r < 0)
                return r;
        *o = yb_sealed_out_free(*o);
        return add_file(w, &ref);
}

/* Where segment h goes: segments/<root>/<hour>/<id> (segment.h), its directories made (and the
 * new ones made durable); *ret_dir is the hour's directory. An hour whose index is written is
 * over: a segment that would go into it is -ESTALE (the clock went back, or the hour was closed
 * too early), for the index must list every segment of its hour. */
static int segment_dest(YbSnapshotWriter *w, const YbSnapshotHeader *h, char **ret_dir,
                        char **ret_dest) {
        _cleanup_free_ char *segments = yb_repo_path(w->repo, "segments"), *chain = NULL,
                            *hour = NULL;
        YbStore *s = w->repo->store;
        YbStoreStat st;
        int r;

        *ret_dest = yb_segment_path(w->repo, h, NULL);
        if (!segments || !*ret_dest || asprintf(&chain, "%s/%s", segments, h->base) < 0 ||
            asprintf(&hour, "%s/%.*s", chain, YB_SEGMENT_HOUR_LEN, h->id) < 0)
                return -ENOMEM;
        *ret_dir = TAKE_PTR(hour);
        r = hour_open(w, h->base, h->id);
        if (r < 0)
                return r;
        r = yb_store_stat(s, *ret_dir, &st);
        if (r == -ENOENT) {
                /* A new hour (and maybe a new chain): its directory's name is durable before a
                 * segment is renamed into it. */
                if ((r = yb_store_mkdir(s, segments)) < 0 || (r = yb_store_mkdir(s, chain)) < 0 ||
                    (r = yb_store_mkdir(s, *ret_dir)) < 0 ||
                    (r = yb_store_sync_dir(s, chain)) < 0 ||
                    (r = yb_store_sync_dir(s, segments)) < 0)
                        return r;
        }
        return r;
}

int yb_snapshot_writer_commit(YbSnapshotWriter *w, const YbSnapshotHeader *h,
                              YbSnapshotHeader **ret) {
        _cleanup_(yb_header_freep) YbSnapshotHeader *out = NULL;
        _cleanup_free_ char *hpath = NULL, *dest = NULL, *snapdir = NULL;
        YbBuf b = YB_BUF_INIT;
        int r;

        r = close_volume(w);
        if (r >= 0)
                r = closing_wait(w);
        if (r >= 0)
                r = finish_sealed(w, &w->manifest);
        if (r >= 0)
                r = sig_end(w);
        if (r >= 0)
                r = finish_sealed(w, &w->sigindex);
        if (r >= 0)
                r = write_skipped(w);
        if (r < 0)
                return r;

        out = new0(YbSnapshotHeader, 1);
        if (!out)
                return -ENOMEM;
        *out = *h;
        out->files = NULL;
        out->sources = NULL;
        out->n_sources = 0;
        out->pg = NULL; /* copied below: out owns what it holds */
        out->n_pg = 0;
        strcpy(out->id, w->id);
        strcpy(out->system, w->repo->system);
        out->level = w->level;
        out->seq = w->level == YB_LEVEL_SEGMENT ? w->opts.seq : 0;
        strcpy(out->parent, w->parent);
        strcpy(out->base, w->base);
        out->started_ns = w->started_ns;
        out->finished_ns = w->opts.clock_ns ? w->opts.clock_ns() : yb_now_ns();
        snprintf(out->host, sizeof(out->host), "%s", w->opts.host ? w->opts.host : "");
        memcpy(out->agent_pk, w->agent->sign_pk, 32);
        memcpy(out->key_id, w->repo->config.pub.id, YB_KEY_ID_SIZE);
        memcpy(out->state_key_id, w->agent->state.pub.id, YB_KEY_ID_SIZE);
        out->bytes_stored = 0;
        for (size_t i = 0; i < w->n_files; i++)
                out->bytes_stored += w->files[i].size;
        out->files = w->files;
        out->n_files = w->n_files;
        w->files = NULL;
        w->n_files = 0;
        out->sources = new0(char *, h->n_sources + 1);
        if (!out->sources)
                return -ENOMEM;
        for (size_t i = 0; i < h->n_sources; i++) {
                out->sources[i] = strdup(h->sources[i]);
                if (!out->sources[i])
                        return -ENOMEM;
                out->n_sources = i + 1;
        }
        if (h->n_pg > 0) {
                out->pg = new0(YbPgBackup, h->n_pg);
                if (!out->pg)
                        return -ENOMEM;
                for (size_t i = 0; i < h->n_pg; i++) {
                        out->pg[i] = h->pg[i];
                        out->pg[i].data_directory = NULL;
                        out->n_pg = i + 1;
                        if (h->pg[i].data_directory &&
                            !(out->pg[i].data_directory = strdup(h->pg[i].data_directory)))
                                return -ENOMEM;
                }
        }

        r = yb_header_format(out, w->agent, &b);
        if (r < 0) {
                yb_buf_done(&b);
                return r;
        }
        if (asprintf(&hpath, "%s/header", w->dir) < 0) {
                yb_buf_done(&b);
                return -ENOMEM;
        }
        if (yb_store_objects(w->repo->store)) {
                /* No rename there: the header, written last, makes the snapshot exist. */
                r = w->level == YB_LEVEL_SEGMENT ? hour_open(w, out->base, out->id) : 0;
                if (r >= 0)
                        r = yb_repo_write_backup_file(w->repo->store, hpath, b.data, b.size);
                yb_buf_done(&b);
                if (r < 0)
                        return r;
                w->committed = true;
                if (ret)
                        *ret = TAKE_PTR(out);
                return 0;
        }
        r = yb_repo_write_backup_file(w->repo->store, hpath, b.data, b.size);
        yb_buf_done(&b);
        if (r < 0)
                return r;
        r = yb_store_sync_dir(w->repo->store, w->dir);
        if (r < 0)
                return r;
        if (w->level == YB_LEVEL_SEGMENT)
                r = segment_dest(w, out, &snapdir, &dest);
        else {
                snapdir = yb_repo_path(w->repo, "snapshots");
                dest = yb_repo_snapshot_path(w->repo, w->id, NULL);
                r = snapdir && dest ? yb_store_mkdir(w->repo->store, snapdir) : -ENOMEM;
        }
        if (r < 0)
                return r;
        /* The one step that makes the snapshot exist. */
        r = yb_store_rename(w->repo->store, w->dir, dest);
        if (r < 0)
                return r;
        w->committed = true;
        /* From here on the snapshot exists: the caller gets its header even if the store does
         * not confirm that the rename is durable. */
        r = yb_store_sync_dir(w->repo->store, snapdir);
        if (ret)
                *ret = TAKE_PTR(out);
        return r < 0 ? r : 0;
}
