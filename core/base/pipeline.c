#include "core/base/pipeline.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct Block {
        uint8_t *data;
        size_t size;
} Block;

/* What both directions share: blocks circulating between a ring of filled ones (in order) and a
 * list of spare ones, one thread, one lock. */
typedef struct Queue {
        size_t block_size, depth;
        Block *ring;
        size_t head, count;
        Block *spare;
        size_t n_spare;
        Block cur; /* the block the caller is filling or reading */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        pthread_t thread;
        bool started, stop;
} Queue;

/* Allocates depth ring slots and n_blocks spare blocks. */
static int queue_init(Queue *q, size_t block_size, size_t depth, size_t n_blocks) {
        if (block_size == 0 || depth == 0)
                return -EINVAL;
        pthread_mutex_init(&q->lock, NULL);
        pthread_cond_init(&q->cond, NULL);
        q->block_size = block_size;
        q->depth = depth;
        q->ring = new0(Block, depth);
        q->spare = new0(Block, n_blocks);
        if (!q->ring || !q->spare)
                return -ENOMEM;
        for (size_t i = 0; i < n_blocks; i++) {
                q->spare[i].data = malloc(block_size);
                if (!q->spare[i].data)
                        return -ENOMEM;
                q->n_spare++;
        }
        return 0;
}

static int queue_start(Queue *q, void *(*fn)(void *), void *arg) {
        if (pthread_create(&q->thread, NULL, fn, arg) != 0)
                return -EAGAIN;
        q->started = true;
        return 0;
}

static void queue_join(Queue *q, bool stop) {
        if (!q->started)
                return;
        pthread_mutex_lock(&q->lock);
        if (stop)
                q->stop = true;
        pthread_cond_broadcast(&q->cond);
        pthread_mutex_unlock(&q->lock);
        pthread_join(q->thread, NULL);
        q->started = false;
}

/* Stops the thread and frees every block. */
static void queue_done(Queue *q) {
        queue_join(q, true);
        for (size_t i = 0; q->ring && i < q->count; i++)
                free(q->ring[(q->head + i) % q->depth].data);
        for (size_t i = 0; i < q->n_spare; i++)
                free(q->spare[i].data);
        free(q->cur.data);
        free(q->ring);
        free(q->spare);
        pthread_mutex_destroy(&q->lock);
        pthread_cond_destroy(&q->cond);
}

/* Called with the lock held. */
static void ring_push(Queue *q, Block b) {
        q->ring[(q->head + q->count++) % q->depth] = b;
}

static Block ring_pop(Queue *q) {
        Block b = q->ring[q->head];

        q->head = (q->head + 1) % q->depth;
        q->count--;
        return b;
}

struct YbPipeline {
        Queue q;
        YbBlockFn fn;
        int (*end_fn)(void *userdata);
        void *userdata;
        bool closing;
        int error;
};

static void *worker(void *arg) {
        YbPipeline *p = arg;
        Queue *q = &p->q;
        bool stopped;

        pthread_mutex_lock(&q->lock);
        for (;;) {
                Block b;
                int r = 0;

                while (q->count == 0 && !p->closing && !q->stop)
                        pthread_cond_wait(&q->cond, &q->lock);
                if (q->stop || (q->count == 0 && p->closing))
                        break;
                b = ring_pop(q);
                pthread_mutex_unlock(&q->lock);

                if (p->error == 0) /* after an error, blocks are only recycled */
                        r = p->fn(p->userdata, b.data, b.size);

                pthread_mutex_lock(&q->lock);
                if (r < 0 && p->error == 0)
                        __atomic_store_n(&p->error, r, __ATOMIC_RELAXED);
                q->spare[q->n_spare++] = (Block){ b.data, 0 };
                pthread_cond_broadcast(&q->cond);
        }
        stopped = q->stop;
        pthread_mutex_unlock(&q->lock);
        /* The producer writes no more (it waits, or does other work): no lock needed. */
        if (p->end_fn && !stopped && __atomic_load_n(&p->error, __ATOMIC_RELAXED) == 0) {
                int r = p->end_fn(p->userdata);

                if (r < 0)
                        __atomic_store_n(&p->error, r, __ATOMIC_RELAXED);
        }
        return NULL;
}

YbPipeline *yb_pipeline_free(YbPipeline *p) {
        if (!p)
                return NULL;
        queue_done(&p->q);
        free(p);
        return NULL;
}

int yb_pipeline_new(YbBlockFn fn, void *userdata, size_t block_size, size_t depth,
                    YbPipeline **ret) {
        YbPipeline *p = new0(YbPipeline, 1);
        int r;

        if (!p)
                return -ENOMEM;
        p->fn = fn;
        p->userdata = userdata;
        /* depth blocks in flight, plus the one being filled */
        r = queue_init(&p->q, block_size, depth, depth + 1);
        if (r >= 0) {
                p->q.cur = p->q.spare[--p->q.n_spare];
                r = queue_start(&p->q, worker, p);
        }
        if (r < 0) {
                yb_pipeline_free(p);
                return r;
        }
        *ret = p;
        return 0;
}

void yb_pipeline_set_end(YbPipeline *p, int (*end_fn)(void *userdata)) {
        pthread_mutex_lock(&p->q.lock);
        p->end_fn = end_fn;
        pthread_mutex_unlock(&p->q.lock);
}

/* Hands the current block to the worker and takes a spare one, waiting while all are busy. */
static int push(YbPipeline *p) {
        Queue *q = &p->q;
        int r;

        pthread_mutex_lock(&q->lock);
        while (q->count == q->depth || q->n_spare == 0)
                pthread_cond_wait(&q->cond, &q->lock);
        ring_push(q, q->cur);
        q->cur = q->spare[--q->n_spare];
        q->cur.size = 0;
        r = p->error;
        pthread_cond_broadcast(&q->cond);
        pthread_mutex_unlock(&q->lock);
        return r;
}

int yb_pipeline_write(YbPipeline *p, const void *data, size_t n) {
        Queue *q = &p->q;
        const uint8_t *s = data;
        int r;

        while (n > 0) {
                size_t k = MIN(n, q->block_size - q->cur.size);

                memcpy(q->cur.data + q->cur.size, s, k);
                q->cur.size += k;
                s += k;
                n -= k;
                if (q->cur.size == q->block_size) {
                        r = push(p);
                        if (r < 0)
                                return r;
                }
        }
        /* Report a worker failure promptly even while filling a block. */
        return __atomic_load_n(&p->error, __ATOMIC_RELAXED);
}

int yb_pipeline_close(YbPipeline *p) {
        int r = 0;

        if (p->closing)
                return __atomic_load_n(&p->error, __ATOMIC_RELAXED);
        if (p->q.cur.size > 0)
                r = push(p);
        pthread_mutex_lock(&p->q.lock);
        p->closing = true;
        pthread_cond_broadcast(&p->q.cond);
        pthread_mutex_unlock(&p->q.lock);
        return r < 0 ? r : __atomic_load_n(&p->error, __ATOMIC_RELAXED);
}

int yb_pipeline_finish(YbPipeline *p) {
        int r = yb_pipeline_close(p);

        queue_join(&p->q, false);
        return r < 0 ? r : p->error;
}

struct YbPrefetch {
        Queue q;
        YbSourceFn fn;
        void *userdata;
        size_t cur_pos;
        bool eof;
        ssize_t error;
};

static void *prefetcher(void *arg) {
        YbPrefetch *p = arg;
        Queue *q = &p->q;

        pthread_mutex_lock(&q->lock);
        for (;;) {
                Block b;
                ssize_t k = 0;
                size_t got = 0;

                while (q->n_spare == 0 && !q->stop)
                        pthread_cond_wait(&q->cond, &q->lock);
                if (q->stop)
                        break;
                b = q->spare[--q->n_spare];
                pthread_mutex_unlock(&q->lock);

                /* Fill the block completely unless the source ends. */
                while (got < q->block_size) {
                        k = p->fn(p->userdata, b.data + got, q->block_size - got);
                        if (k <= 0)
                                break;
                        got += (size_t) k;
                }

                pthread_mutex_lock(&q->lock);
                b.size = got;
                if (got > 0)
                        ring_push(q, b);
                else
                        q->spare[q->n_spare++] = b;
                if (k < 0)
                        p->error = k;
                if (k <= 0)
                        p->eof = true;
                pthread_cond_broadcast(&q->cond);
                if (p->eof)
                        break;
        }
        pthread_mutex_unlock(&q->lock);
        return NULL;
}

YbPrefetch *yb_prefetch_free(YbPrefetch *p) {
        if (!p)
                return NULL;
        queue_done(&p->q);
        free(p);
        return NULL;
}

int yb_prefetch_new(YbSourceFn fn, void *userdata, size_t block_size, size_t depth,
                    YbPrefetch **ret) {
        YbPrefetch *p = new0(YbPrefetch, 1);
        int r;

        if (!p)
                return -ENOMEM;
        p->fn = fn;
        p->userdata = userdata;
        r = queue_init(&p->q, block_size, depth, depth);
        if (r >= 0)
                r = queue_start(&p->q, prefetcher, p);
        if (r < 0) {
                yb_prefetch_free(p);
                return r;
        }
        *ret = p;
        return 0;
}

/* Makes q->cur a block with bytes left to read: the one being read, or the next filled one
 * (the one read to its end going back to the thread). 1; 0 at the source's end; or its error. */
static ssize_t prefetch_next(YbPrefetch *p) {
        Queue *q = &p->q;
        ssize_t e;

        if (q->cur.data && p->cur_pos < q->cur.size)
                return 1;
        pthread_mutex_lock(&q->lock);
        if (q->cur.data) {
                q->spare[q->n_spare++] = (Block){ q->cur.data, 0 };
                q->cur = (Block){ NULL, 0 };
                pthread_cond_broadcast(&q->cond);
        }
        while (q->count == 0 && !p->eof)
                pthread_cond_wait(&q->cond, &q->lock);
        if (q->count == 0) {
                e = p->error;
                pthread_mutex_unlock(&q->lock);
                return e;
        }
        q->cur = ring_pop(q);
        p->cur_pos = 0;
        pthread_mutex_unlock(&q->lock);
        return 1;
}

ssize_t yb_prefetch_read(YbPrefetch *p, void *data, size_t n) {
        Queue *q = &p->q;
        size_t out = 0;

        while (out < n) {
                ssize_t e = prefetch_next(p);
                size_t k;

                if (e <= 0) {
                        if (e < 0 && out == 0)
                                return e;
                        break;
                }
                k = MIN(n - out, q->cur.size - p->cur_pos);
                memcpy((uint8_t *) data + out, q->cur.data + p->cur_pos, k);
                p->cur_pos += k;
                out += k;
        }
        return (ssize_t) out;
}

ssize_t yb_prefetch_peek(YbPrefetch *p, const void **ret) {
        Queue *q = &p->q;
        ssize_t e = prefetch_next(p);
        size_t k;

        if (e <= 0)
                return e;
        k = q->cur.size - p->cur_pos;
        *ret = q->cur.data + p->cur_pos;
        p->cur_pos += k;
        return (ssize_t) k;
}
