/* restore/filewriter.c: the thread that writes whole contents. content.c decodes a volume (its
 * read, decryption and decompression run in the volume's prefetch thread) and hands each whole
 * content over as a stream of records: a file's start, its bytes, its end. This thread writes
 * each file (straight into the target in a fresh restore, else to its staging name), hashes it
 * as it goes and, at its end, checks size and hash against the manifest: a file that does not
 * match is removed and reported, never left in place. Memory is bounded by the pipeline's
 * blocks: a big file streams through. Deltas are applied on the caller's thread once this one
 * has drained (they read what it wrote). */
#include <fcntl.h>
#include <stdio.h>

#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/base/pipeline.h"
#include "restore/restore-internal.h"

#define WRITER_BLOCK (1024 * 1024)
#define WRITER_DEPTH 4

enum { REC_BEGIN, REC_DATA, REC_END };

/* One record's header; REC_DATA's len bytes follow it in the stream. */
typedef struct Rec {
        uint32_t kind;
        int32_t err;  /* REC_END: why the content is not whole (< 0), or 0 */
        uint64_t job; /* REC_BEGIN */
        uint64_t len; /* REC_BEGIN: the staging generation to write; REC_DATA: bytes */
        const YbSnapshotHeader *h;
} Rec;

struct FileWriter {
        YbPipeline *pipe;
        /* The thread's side: the record being read, and the file being written. */
        Rec rec;
        size_t rec_have;
        uint64_t data_left;
        Job *job;
        const YbSnapshotHeader *h;
        Sink sink;
        int err;          /* the first error writing the current file */
        bool direct;      /* the file is in the target, at name */
        const char *name; /* its name, in the cursor's directory */
        char stage[64];   /* else its staging name */
        uint64_t bytes;   /* content bytes written and checked */
        bool fatal_nomem; /* a -ENOMEM seen: the restore stops */
};

static bool all_zero(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (p[i])
                        return false;
        return true;
}

int restore_sink_write(void *userdata, const void *data, size_t n) {
        Sink *s = userdata;
        const uint8_t *p = data;
        int k;

        yb_hash_update(&s->hash, data, n);
        if (!s->sparse) {
                k = yb_write_all(s->fd, data, n);
                if (k >= 0)
                        s->off += n;
                return k;
        }
        while (n > 0) {
                size_t chunk = MIN(n, (size_t) (4096 - s->off % 4096));

                if (!all_zero(p, chunk)) {
                        k = yb_pwrite_all(s->fd, p, chunk, s->off);
                        if (k < 0)
                                return k;
                }
                s->off += chunk;
                p += chunk;
                n -= chunk;
        }
        return 0;
}

/* Opens the file for the job now starting: in the target when it is the job's only step and the
 * name is free there, else under its staging name. */
static void file_open(Restore *r, FileWriter *w) {
        Job *job = w->job;
        bool last = job->n_ops == 1;

        w->err = 0;
        w->direct = false;
        w->sink = (Sink){ .fd = -EBADF, .sparse = last && job->e->sparse };
        yb_hash_init(&w->sink.hash);
        if (r->direct && last && !job->from_target) {
                int fd = restore_create_file(r, job, &w->name);

                if (fd >= 0) {
                        w->sink.fd = fd;
                        w->direct = true;
                        return;
                }
                /* Something has the name (it is replaced by a rename, never written through),
                 * or the way there is blocked (reported when the staged file is placed). */
        }
        restore_staging_name(r, (size_t) (job - r->jobs), (unsigned) w->rec.len, w->stage);
        w->sink.fd = openat(r->staging_fd, w->stage,
                            O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (w->sink.fd < 0)
                w->err = negative_errno();
}

/* Ends the current file: checks it (when it is the job's last step) and keeps it or drops it. */
static void file_close(Restore *r, FileWriter *w, int err) {
        Job *job = w->job;
        const char *what = w->h->level == YB_LEVEL_SEGMENT ? "segment" : "snapshot";
        bool last = job->n_ops == 1;
        int k = w->err < 0 ? w->err : err;
        uint8_t h[YB_HASH_SIZE];

        if (k >= 0 && w->sink.sparse && ftruncate(w->sink.fd, (off_t) w->sink.off) < 0)
                k = negative_errno();
        if (k >= 0 && last) {
                yb_hash_final(&w->sink.hash, h);
                if (w->sink.off != job->e->size || memcmp(h, job->e->hash, YB_HASH_SIZE) != 0)
                        k = -EBADMSG;
        }
        if (k >= 0 && w->direct)
                restore_meta_created(r, w->sink.fd, job->e);
        w->sink.fd = safe_close(w->sink.fd);
        if (k >= 0) {
                if (last)
                        w->bytes += w->sink.off;
                job->placed = w->direct;
                return;
        }
        /* Never left where it goes unchecked; a staging file is removed with the directory. */
        if (w->direct)
                (void) restore_unlink_created(r, w->name);
        if (k == -ENOMEM)
                w->fatal_nomem = true;
        job->failed = true;
        if (k == -EBADMSG)
                restore_fail_entry(r, job->dest, true,
                                   "content does not match its hash in %s %s (damaged "
                                   "repository)",
                                   what, w->h->id);
        else
                restore_fail_entry(r, job->dest, false, "cannot be written: %s", strerror(-k));
}

/* The pipeline's consumer: parses records out of the stream, whatever the block boundaries. */
static int consume(void *userdata, const void *data, size_t n) {
        Restore *r = userdata;
        FileWriter *w = r->writer;
        const uint8_t *p = data;

        while (n > 0) {
                if (w->data_left > 0) {
                        size_t chunk = (size_t) MIN((uint64_t) n, w->data_left);

                        if (w->err >= 0) {
                                int k = restore_sink_write(&w->sink, p, chunk);

                                if (k < 0)
                                        w->err = k;
                        }
                        w->data_left -= chunk;
                        p += chunk;
                        n -= chunk;
                        continue;
                }
                if (w->rec_have < sizeof(Rec)) {
                        size_t chunk = MIN(n, sizeof(Rec) - w->rec_have);

                        memcpy((uint8_t *) &w->rec + w->rec_have, p, chunk);
                        w->rec_have += chunk;
                        p += chunk;
                        n -= chunk;
                        if (w->rec_have < sizeof(Rec))
                                break;
                }
                w->rec_have = 0;
                switch (w->rec.kind) {
                case REC_BEGIN:
                        w->job = &r->jobs[w->rec.job];
                        w->h = w->rec.h;
                        file_open(r, w);
                        break;
                case REC_DATA:
                        w->data_left = w->rec.len;
                        break;
                case REC_END:
                        file_close(r, w, w->rec.err);
                        break;
                default:
                        return -EINVAL;
                }
                if (w->fatal_nomem)
                        return -ENOMEM;
        }
        return 0;
}

static int writer_send(Restore *r, const Rec *rec, const void *data) {
        int k = yb_pipeline_write(r->writer->pipe, rec, sizeof(*rec));

        if (k >= 0 && data)
                k = yb_pipeline_write(r->writer->pipe, data, (size_t) rec->len);
        return k;
}

int restore_writer_begin(Restore *r, const Op *op, const YbSnapshotHeader *h) {
        Rec rec = { .kind = REC_BEGIN, .job = op->job, .len = r->jobs[op->job].gen + 1, .h = h };
        int k;

        if (!r->writer) {
                r->writer = new0(FileWriter, 1);
                if (!r->writer)
                        return -ENOMEM;
                r->writer->sink.fd = -EBADF;
                k = yb_pipeline_new(consume, r, WRITER_BLOCK, WRITER_DEPTH, &r->writer->pipe);
                if (k < 0) {
                        free(r->writer);
                        r->writer = NULL;
                        return k;
                }
        }
        return writer_send(r, &rec, NULL);
}

int restore_writer_data(Restore *r, const void *data, size_t n) {
        Rec rec = { .kind = REC_DATA, .len = n };

        return writer_send(r, &rec, data);
}

int restore_writer_end(Restore *r, int err) {
        Rec rec = { .kind = REC_END, .err = err < 0 ? err : 0 };

        return writer_send(r, &rec, NULL);
}

int restore_writer_drain(Restore *r) {
        FileWriter *w = r->writer;
        int k;

        if (!w)
                return 0;
        k = yb_pipeline_finish(w->pipe);
        r->stats.bytes += w->bytes;
        restore_writer_free(r);
        return k;
}

void restore_writer_free(Restore *r) {
        if (!r->writer)
                return;
        yb_pipeline_free(r->writer->pipe); /* first: its thread uses the rest */
        /* A file cut in the middle (the restore failed) is not left where it goes. */
        if (r->writer->sink.fd >= 0 && r->writer->direct)
                (void) restore_unlink_created(r, r->writer->name);
        safe_close(r->writer->sink.fd);
        free(r->writer);
        r->writer = NULL;
}
