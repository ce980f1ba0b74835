/* restore/filewriter.c: the thread that writes whole contents. content.c decodes a volume (its
 * read, decryption and decompression run in the volume's prefetch thread) and hands each whole
 * content over as a stream of records: a file's start, its bytes, its end. This thread writes
 * each file (straight into the target in a fresh restore, else to its staging name); the caller
 * hashes the bytes as it hands them over and says at the end whether they match the manifest:
 * a file that does not is removed and reported, never left in place. Memory is bounded by the
 * pipeline's blocks: a big file streams through. A delta that only writes over the generation
 * before (inplace.h) is handed over too, after that generation, and applied here in place; a
 * checker thread beside this one (two, taking checks in turn) then hashes the job's last generation
 * against the manifest. Other deltas are applied on the caller's thread once this one has drained
 * (they read what it wrote). */
#include <fcntl.h>
#include <stdio.h>

#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/base/pipeline.h"
#include "core/codec/inplace.h"
#include "restore/restore-internal.h"

#define WRITER_BLOCK (1024 * 1024)
#define WRITER_DEPTH 4
/* Checks in flight: one record a block, so that each goes at once. */
#define CHECK_DEPTH 8
#define CHECKERS 2

enum { REC_BEGIN, REC_DATA, REC_END, REC_PATCH };

/* One record's header; REC_DATA's len bytes follow it in the stream. REC_PATCH is followed by
 * REC_DATA records with the delta, then a REC_END. */
typedef struct Rec {
        uint32_t kind;
        int32_t err;   /* REC_END: why the content is not whole (< 0), or 0 */
        uint64_t job;  /* REC_BEGIN, REC_PATCH */
        uint64_t len;  /* REC_BEGIN: the staging generation to write; REC_PATCH: to patch into
                        * the next; REC_DATA: bytes */
        uint32_t last; /* REC_PATCH: the job's last step */
        const YbSnapshotHeader *h;
} Rec;

/* A checker thread (CheckRec records), its own buffer and counters. */
typedef struct Checker {
        Restore *r;
        YbPipeline *pipe;
        uint8_t rec[32]; /* a CheckRec being received */
        size_t have;
        uint8_t *buf;
        uint64_t bytes, deltas; /* what it found whole: bytes, deltas */
        bool nomem;
} Checker;

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
        /* The checker threads: hash a job's last generation once a delta made it in place,
         * beside this one; given checks in turn, so that the big files patched at the end of a
         * restore are hashed on both cores. */
        Checker checkers[CHECKERS];
        unsigned check_next;
        /* A delta being received (REC_PATCH), and what patching it reads back through. */
        bool patching;
        unsigned patch_gen; /* the generation it patches into the next */
        bool patch_last;    /* which is the job's last */
        YbBuf delta;
        uint64_t deltas; /* applied in place */
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

        if (s->checked) /* an earlier generation is checked through the last one */
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
        w->sink = (Sink){ .fd = -EBADF,
                          .sparse = last && job->e->sparse }; /* checked by the caller */
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

/* Job failed with k, in snapshot or segment h: reported once, and its later steps skip it. */
static void report_failed(Restore *r, Job *job, const YbSnapshotHeader *h, int k) {
        const char *what = h->level == YB_LEVEL_SEGMENT ? "segment" : "snapshot";

        job->failed = true;
        if (k == -EBADMSG)
                restore_fail_entry(r, job->dest, true,
                                   "content does not match its hash in %s %s (damaged "
                                   "repository)",
                                   what, h->id);
        else
                restore_fail_entry(r, job->dest, false, "cannot be written: %s", strerror(-k));
}

/* The current job failed with k. */
static void job_failed(Restore *r, FileWriter *w, int k) {
        if (k == -ENOMEM)
                w->fatal_nomem = true;
        report_failed(r, w->job, w->h, k);
}

/* Ends the current file: keeps it, or drops it when err (the caller's check, or a failed read)
 * or a failed write says so. */
static void file_close(Restore *r, FileWriter *w, int err) {
        Job *job = w->job;
        bool last = job->n_ops == 1;
        int k = w->err < 0 ? w->err : err;

        if (k >= 0 && w->sink.sparse && ftruncate(w->sink.fd, (off_t) w->sink.off) < 0)
                k = negative_errno();
        /* What was written is what the caller checked (it says -EBADMSG otherwise), all of it. */
        if (k >= 0 && last && w->sink.off != job->e->size)
                k = -EBADMSG;
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
        job_failed(r, w, k);
}

/* Whether fd is a regular file with no name but its staging one: only ever written by us. */
static bool own_file(int fd) {
        struct stat st;

        return fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1;
}

/* A job's last generation to check: (job, generation, snapshot or segment) as three words. */
typedef struct CheckRec {
        uint64_t job, gen;
        const YbSnapshotHeader *h;
} CheckRec;
static_assert(sizeof(CheckRec) <= sizeof(((Checker *) NULL)->rec), "rec too small");

/* Hashes job c->job's staging generation c->gen and checks it against the manifest; a file that
 * does not match fails its job (reported), and is never placed. On the checker thread, or on
 * this one when the checker could not be had. */
static void check_one(Restore *r, Checker *w, const CheckRec *c) {
        Job *job = &r->jobs[c->job];
        _cleanup_close_ int fd = -EBADF;
        uint8_t got[YB_HASH_SIZE];
        uint64_t size = 0;
        char name[64];
        YbHash hash;
        int k = 0;

        if (!w->buf) {
                w->buf = malloc(WRITER_BLOCK);
                if (!w->buf)
                        k = -ENOMEM;
        }
        restore_staging_name(r, (size_t) c->job, (unsigned) c->gen, name);
        if (k >= 0) {
                fd = openat(r->staging_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                k = fd < 0 ? negative_errno() : 0;
        }
        yb_hash_init(&hash);
        while (k >= 0) {
                ssize_t n = read(fd, w->buf, WRITER_BLOCK);

                if (n <= 0) {
                        k = n < 0 ? negative_errno() : 0;
                        break;
                }
                yb_hash_update(&hash, w->buf, (size_t) n);
                size += (uint64_t) n;
        }
        if (k >= 0) {
                yb_hash_final(&hash, got);
                if (size != job->e->size || memcmp(got, job->e->hash, YB_HASH_SIZE) != 0)
                        k = -EBADMSG;
        }
        if (k >= 0) {
                w->bytes += size;
                w->deltas++;
                return;
        }
        if (k == -ENOMEM)
                w->nomem = true;
        report_failed(r, job, c->h, k);
}

/* A checker's consumer: whole records out of its stream, whatever the block boundaries. */
static int check_consume(void *userdata, const void *data, size_t n) {
        Checker *w = userdata;
        const uint8_t *p = data;

        while (n > 0) {
                size_t chunk = MIN(n, sizeof(CheckRec) - w->have);
                CheckRec c;

                memcpy(w->rec + w->have, p, chunk);
                w->have += chunk;
                p += chunk;
                n -= chunk;
                if (w->have < sizeof(CheckRec))
                        break;
                w->have = 0;
                memcpy(&c, w->rec, sizeof(c));
                check_one(w->r, w, &c);
        }
        /* Never an error here: the pipeline would drop the checks still queued, and their jobs
         * would not be failed. Running out of memory fails the check's own job (reported) and
         * the restore, at the drain. */
        return 0;
}

/* Hands a job's last generation to the next checker thread (started on first use), or checks
 * it here when that thread cannot be had. */
static void check_later(Restore *r, FileWriter *w, const CheckRec *c) {
        Checker *ch = &w->checkers[w->check_next++ % CHECKERS];

        ch->r = r;
        if (!ch->pipe &&
            yb_pipeline_new(check_consume, ch, sizeof(CheckRec), CHECK_DEPTH, &ch->pipe) < 0) {
                log_debug("No checker thread; checking the patched file on the writer's.");
                ch->pipe = NULL;
        }
        if (!ch->pipe || yb_pipeline_write(ch->pipe, c, sizeof(*c)) < 0)
                check_one(r, ch, c);
}

/* Applies the delta received (w->delta) to the job's staging generation w->patch_gen in place,
 * renaming it to the next generation's name; the job's last generation then goes to the
 * checker. */
static void patch_close(Restore *r, FileWriter *w, int err) {
        Job *job = w->job;
        char cur[64], next[64];
        int fd = -EBADF, k = err;

        w->patching = false;
        if (job->failed) /* a step before failed, and was reported */
                return;
        restore_staging_name(r, (size_t) (job - r->jobs), w->patch_gen, cur);
        restore_staging_name(r, (size_t) (job - r->jobs), w->patch_gen + 1, next);
        if (k >= 0) {
                fd = openat(r->staging_fd, cur, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
                /* Never written through to a file with another name. */
                k = fd < 0 ? negative_errno() : own_file(fd) ? 0 : -EMLINK;
        }
        if (k >= 0)
                k = yb_patch_in_place(fd, w->delta.data, w->delta.size, NULL, NULL, NULL, 0);
        safe_close(fd);
        if (k >= 0 && renameat(r->staging_fd, cur, r->staging_fd, next) < 0)
                k = negative_errno();
        if (k >= 0) {
                w->deltas += !w->patch_last; /* a last one counts once checked */
                if (w->patch_last)
                        check_later(
                                r, w,
                                &(CheckRec){ (uint64_t) (job - r->jobs), w->patch_gen + 1, w->h });
                return;
        }
        (void) unlinkat(r->staging_fd, cur, 0);
        job_failed(r, w, k);
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
                                int k = w->patching ? yb_buf_append(&w->delta, p, chunk)
                                                    : restore_sink_write(&w->sink, p, chunk);

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
                case REC_PATCH:
                        w->job = &r->jobs[w->rec.job];
                        w->h = w->rec.h;
                        w->patching = true;
                        w->patch_gen = (unsigned) w->rec.len;
                        w->patch_last = w->rec.last;
                        w->err = 0;
                        yb_buf_clear(&w->delta);
                        break;
                case REC_END:
                        if (w->patching)
                                patch_close(r, w, w->err < 0 ? w->err : w->rec.err);
                        else
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

/* Starts the thread, unless it runs. */
static int writer_start(Restore *r) {
        int k;

        if (r->writer)
                return 0;
        r->writer = new0(FileWriter, 1);
        if (!r->writer)
                return -ENOMEM;
        r->writer->sink.fd = -EBADF;
        k = yb_pipeline_new(consume, r, WRITER_BLOCK, WRITER_DEPTH, &r->writer->pipe);
        if (k < 0) {
                free(r->writer);
                r->writer = NULL;
        }
        return k;
}

int restore_writer_begin(Restore *r, const Op *op, const YbSnapshotHeader *h) {
        Rec rec = { .kind = REC_BEGIN, .job = op->job, .len = r->jobs[op->job].gen + 1, .h = h };
        int k = writer_start(r);

        return k < 0 ? k : writer_send(r, &rec, NULL);
}

int restore_writer_patch(Restore *r, const Op *op, const YbSnapshotHeader *h) {
        return restore_writer_patch_data(r, op, h, r->delta.data, r->delta.size);
}

int restore_writer_patch_data(Restore *r, const Op *op, const YbSnapshotHeader *h,
                              const uint8_t *data, size_t n) {
        Job *job = &r->jobs[op->job];
        Rec rec = { .kind = REC_PATCH,
                    .job = op->job,
                    .len = job->gen,
                    .last = op->step + 1 == job->n_ops,
                    .h = h };
        int k = writer_start(r);

        if (k >= 0)
                k = writer_send(r, &rec, NULL);
        for (size_t off = 0; k >= 0 && off < n; off += WRITER_BLOCK)
                k = restore_writer_data(r, data + off, MIN((size_t) WRITER_BLOCK, n - off));
        if (k >= 0)
                k = restore_writer_end(r, 0);
        job->gen++;
        job->done_ops++;
        return k;
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
        r->stats.deltas += w->deltas;
        r->stats.in_place += w->deltas;
        for (size_t i = 0; i < CHECKERS; i++) {
                Checker *ch = &w->checkers[i];

                if (ch->pipe) { /* after the writer, which hands them work until its end */
                        int c = yb_pipeline_finish(ch->pipe);

                        k = k < 0 ? k : c;
                }
                if (k >= 0 && ch->nomem)
                        k = -ENOMEM;
                r->stats.bytes += ch->bytes;
                r->stats.deltas += ch->deltas;
                r->stats.in_place += ch->deltas;
        }
        restore_writer_free(r);
        return k;
}

void restore_writer_free(Restore *r) {
        if (!r->writer)
                return;
        yb_pipeline_free(r->writer->pipe); /* first: its thread uses the rest */
        for (size_t i = 0; i < CHECKERS; i++)
                yb_pipeline_free(r->writer->checkers[i].pipe);
        /* A file cut in the middle (the restore failed) is not left where it goes. */
        if (r->writer->sink.fd >= 0 && r->writer->direct)
                (void) restore_unlink_created(r, r->writer->name);
        safe_close(r->writer->sink.fd);
        yb_buf_done(&r->writer->delta);
        for (size_t i = 0; i < CHECKERS; i++)
                free(r->writer->checkers[i].buf);
        free(r->writer);
        r->writer = NULL;
}
