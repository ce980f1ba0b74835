#include "base/pipeline.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct Block {
        uint8_t *data;
        size_t size;
} Block;

struct YbPipeline {
        YbBlockFn fn;
        void *userdata;
        size_t block_size, depth;
        Block *ring; /* filled blocks waiting for the worker, in order */
        size_t head, count;
        Block *spare; /* empty blocks ready for the producer */
        size_t n_spare;
        Block cur; /* the block the producer is filling */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        pthread_t thread;
        bool started, closing, stop;
        int error;
};

static void *worker(void *arg) {
        YbPipeline *p = arg;

        pthread_mutex_lock(&p->lock);
        for (;;) {
                Block b;
                int r = 0;

                while (p->count == 0 && !p->closing && !p->stop)
                        pthread_cond_wait(&p->cond, &p->lock);
                if (p->stop || (p->count == 0 && p->closing))
                        break;
                b = p->ring[p->head];
                p->head = (p->head + 1) % p->depth;
                p->count--;
                pthread_mutex_unlock(&p->lock);

                if (p->error == 0) /* after an error, blocks are only recycled */
                        r = p->fn(p->userdata, b.data, b.size);

                pthread_mutex_lock(&p->lock);
                if (r < 0 && p->error == 0)
                        __atomic_store_n(&p->error, r, __ATOMIC_RELAXED);
                p->spare[p->n_spare++] = (Block){ b.data, 0 };
                pthread_cond_broadcast(&p->cond);
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

YbPipeline *yb_pipeline_free(YbPipeline *p) {
        if (!p)
                return NULL;
        if (p->started) {
                pthread_mutex_lock(&p->lock);
                p->stop = true;
                pthread_cond_broadcast(&p->cond);
                pthread_mutex_unlock(&p->lock);
                pthread_join(p->thread, NULL);
        }
        for (size_t i = 0; i < p->count; i++)
                free(p->ring[(p->head + i) % p->depth].data);
        for (size_t i = 0; i < p->n_spare; i++)
                free(p->spare[i].data);
        free(p->cur.data);
        free(p->ring);
        free(p->spare);
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->cond);
        free(p);
        return NULL;
}

int yb_pipeline_new(YbBlockFn fn, void *userdata, size_t block_size, size_t depth,
                    YbPipeline **ret) {
        YbPipeline *p;

        if (block_size == 0 || depth == 0)
                return -EINVAL;
        p = new0(YbPipeline, 1);
        if (!p)
                return -ENOMEM;
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->cond, NULL);
        p->fn = fn;
        p->userdata = userdata;
        p->block_size = block_size;
        p->depth = depth;
        p->ring = new0(Block, depth);
        p->spare = new0(Block, depth + 1);
        if (!p->ring || !p->spare) {
                yb_pipeline_free(p);
                return -ENOMEM;
        }
        /* depth blocks circulate between the ring and the spares, plus the one being filled. */
        for (size_t i = 0; i <= depth; i++) {
                p->spare[i].data = malloc(block_size);
                if (!p->spare[i].data) {
                        yb_pipeline_free(p);
                        return -ENOMEM;
                }
                p->n_spare++;
        }
        p->cur = p->spare[--p->n_spare];
        if (pthread_create(&p->thread, NULL, worker, p) != 0) {
                yb_pipeline_free(p);
                return -EAGAIN;
        }
        p->started = true;
        *ret = p;
        return 0;
}

/* Hands the current block to the worker and takes a spare one, waiting while all are busy. */
static int push(YbPipeline *p) {
        int r;

        pthread_mutex_lock(&p->lock);
        while (p->count == p->depth || p->n_spare == 0)
                pthread_cond_wait(&p->cond, &p->lock);
        p->ring[(p->head + p->count) % p->depth] = p->cur;
        p->count++;
        p->cur = p->spare[--p->n_spare];
        p->cur.size = 0;
        r = p->error;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        return r;
}

int yb_pipeline_write(YbPipeline *p, const void *data, size_t n) {
        const uint8_t *s = data;
        int r;

        while (n > 0) {
                size_t k = MIN(n, p->block_size - p->cur.size);

                memcpy(p->cur.data + p->cur.size, s, k);
                p->cur.size += k;
                s += k;
                n -= k;
                if (p->cur.size == p->block_size) {
                        r = push(p);
                        if (r < 0)
                                return r;
                }
        }
        /* Report a worker failure promptly even while filling a block. */
        return __atomic_load_n(&p->error, __ATOMIC_RELAXED);
}

int yb_pipeline_finish(YbPipeline *p) {
        int r = 0;

        if (p->cur.size > 0)
                r = push(p);
        pthread_mutex_lock(&p->lock);
        p->closing = true;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->thread, NULL);
        p->started = false;
        return r < 0 ? r : p->error;
}

struct YbPrefetch {
        YbSourceFn fn;
        void *userdata;
        size_t block_size, depth;
        Block *ring;
        size_t head, count;
        Block cur; /* the block the consumer is reading, pos in cur_pos */
        size_t cur_pos;
        Block *spare;
        size_t n_spare;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        pthread_t thread;
        bool started, eof, stop;
        ssize_t error;
};

static void *prefetcher(void *arg) {
        YbPrefetch *p = arg;

        pthread_mutex_lock(&p->lock);
        for (;;) {
                Block b;
                ssize_t k = 0;
                size_t got = 0;

                while (p->n_spare == 0 && !p->stop)
                        pthread_cond_wait(&p->cond, &p->lock);
                if (p->stop)
                        break;
                b = p->spare[--p->n_spare];
                pthread_mutex_unlock(&p->lock);

                /* Fill the block completely unless the source ends. */
                while (got < p->block_size) {
                        k = p->fn(p->userdata, b.data + got, p->block_size - got);
                        if (k <= 0)
                                break;
                        got += (size_t) k;
                }

                pthread_mutex_lock(&p->lock);
                b.size = got;
                if (got > 0)
                        p->ring[(p->head + p->count++) % p->depth] = b;
                else
                        p->spare[p->n_spare++] = b;
                if (k < 0)
                        p->error = k;
                if (k <= 0)
                        p->eof = true;
                pthread_cond_broadcast(&p->cond);
                if (p->eof)
                        break;
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

YbPrefetch *yb_prefetch_free(YbPrefetch *p) {
        if (!p)
                return NULL;
        if (p->started) {
                pthread_mutex_lock(&p->lock);
                p->stop = true;
                pthread_cond_broadcast(&p->cond);
                pthread_mutex_unlock(&p->lock);
                pthread_join(p->thread, NULL);
        }
        for (size_t i = 0; i < p->count; i++)
                free(p->ring[(p->head + i) % p->depth].data);
        for (size_t i = 0; i < p->n_spare; i++)
                free(p->spare[i].data);
        free(p->cur.data);
        free(p->ring);
        free(p->spare);
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->cond);
        free(p);
        return NULL;
}

int yb_prefetch_new(YbSourceFn fn, void *userdata, size_t block_size, size_t depth,
                    YbPrefetch **ret) {
        YbPrefetch *p;

        if (block_size == 0 || depth == 0)
                return -EINVAL;
        p = new0(YbPrefetch, 1);
        if (!p)
                return -ENOMEM;
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->cond, NULL);
        p->fn = fn;
        p->userdata = userdata;
        p->block_size = block_size;
        p->depth = depth;
        p->ring = new0(Block, depth);
        p->spare = new0(Block, depth);
        if (!p->ring || !p->spare) {
                yb_prefetch_free(p);
                return -ENOMEM;
        }
        for (size_t i = 0; i < depth; i++) {
                p->spare[i].data = malloc(block_size);
                if (!p->spare[i].data) {
                        yb_prefetch_free(p);
                        return -ENOMEM;
                }
                p->n_spare++;
        }
        if (pthread_create(&p->thread, NULL, prefetcher, p) != 0) {
                yb_prefetch_free(p);
                return -EAGAIN;
        }
        p->started = true;
        *ret = p;
        return 0;
}

ssize_t yb_prefetch_read(YbPrefetch *p, void *data, size_t n) {
        size_t out = 0;

        while (out < n) {
                size_t k;

                if (!p->cur.data || p->cur_pos == p->cur.size) {
                        pthread_mutex_lock(&p->lock);
                        if (p->cur.data) {
                                p->spare[p->n_spare++] = (Block){ p->cur.data, 0 };
                                p->cur = (Block){ NULL, 0 };
                                pthread_cond_broadcast(&p->cond);
                        }
                        while (p->count == 0 && !p->eof)
                                pthread_cond_wait(&p->cond, &p->lock);
                        if (p->count == 0) {
                                ssize_t e = p->error;

                                pthread_mutex_unlock(&p->lock);
                                if (e < 0 && out == 0)
                                        return e;
                                break;
                        }
                        p->cur = p->ring[p->head];
                        p->head = (p->head + 1) % p->depth;
                        p->count--;
                        p->cur_pos = 0;
                        pthread_mutex_unlock(&p->lock);
                }
                k = MIN(n - out, p->cur.size - p->cur_pos);
                memcpy((uint8_t *) data + out, p->cur.data + p->cur_pos, k);
                p->cur_pos += k;
                out += k;
        }
        return (ssize_t) out;
}
