/* The replicator's dirty set: the snapshot paths that changed (or may have) since the last
 * segment, each with the time it was first noticed, which is what the lag measures. Capture adds
 * to it from its thread; every interval the loop moves it out whole and writes a segment of it.
 * An array of items with an open-addressing index of their positions. Its memory is bounded:
 * past the budget, every path is replaced by its directory, marked for a rescan (a directory's
 * rescan finds whatever changed below it), until it fits in half the budget. */
#include <stdlib.h>

#include "agents/replicate.h"

struct AgentDirty {
        pthread_mutex_t lock;
        AgentDirtyItem *items;
        size_t n, alloc;
        size_t *slots; /* index + 1 of an item; 0: free */
        size_t n_slots;
        uint64_t bytes, budget;
        int64_t oldest_ns;
        bool collapsed;
};

#define ITEM_OVERHEAD (sizeof(AgentDirtyItem) + 2 * sizeof(size_t) + 16)

static uint64_t path_hash(const char *s) {
        uint64_t h = 0xcbf29ce484222325ULL;

        for (; *s; s++)
                h = (h ^ (uint8_t) *s) * 0x100000001b3ULL;
        return h;
}

int agent_dirty_new(uint64_t budget, AgentDirty **ret) {
        AgentDirty *d = new0(AgentDirty, 1);

        if (!d)
                return -ENOMEM;
        pthread_mutex_init(&d->lock, NULL);
        d->budget = budget;
        *ret = d;
        return 0;
}

static void clear(AgentDirty *d) {
        for (size_t i = 0; i < d->n; i++)
                free(d->items[i].path);
        free(d->items);
        free(d->slots);
        d->items = NULL;
        d->slots = NULL;
        d->n = d->alloc = d->n_slots = 0;
        d->bytes = 0;
        d->oldest_ns = 0;
}

AgentDirty *agent_dirty_free(AgentDirty *d) {
        if (!d)
                return NULL;
        clear(d);
        pthread_mutex_destroy(&d->lock);
        free(d);
        return NULL;
}

static size_t *slot_of(const AgentDirty *d, const char *path) {
        size_t h = (size_t) path_hash(path) & (d->n_slots - 1);

        for (;; h = (h + 1) & (d->n_slots - 1))
                if (!d->slots[h] || streq(d->items[d->slots[h] - 1].path, path))
                        return &d->slots[h];
}

static int reindex(AgentDirty *d, size_t n_slots) {
        size_t *slots = new0(size_t, n_slots);

        if (!slots)
                return -ENOMEM;
        free(d->slots);
        d->slots = slots;
        d->n_slots = n_slots;
        for (size_t i = 0; i < d->n; i++)
                *slot_of(d, d->items[i].path) = i + 1;
        return 0;
}

/* Adds without the lock and without looking at the budget. */
static int add(AgentDirty *d, const char *path, int64_t noticed_ns, unsigned flags) {
        size_t *slot;
        int r;

        if (2 * (d->n + 1) > d->n_slots) {
                r = reindex(d, d->n_slots ? 2 * d->n_slots : 64);
                if (r < 0)
                        return r;
        }
        slot = slot_of(d, path);
        if (*slot) {
                AgentDirtyItem *it = &d->items[*slot - 1];

                if (noticed_ns < it->noticed_ns)
                        it->noticed_ns = noticed_ns;
                it->flags |= flags;
        } else {
                char *copy = strdup(path);

                if (!copy)
                        return -ENOMEM;
                if (d->n == d->alloc) {
                        size_t a = d->alloc ? 2 * d->alloc : 64;
                        AgentDirtyItem *p = realloc(d->items, a * sizeof(*p));

                        if (!p) {
                                free(copy);
                                return -ENOMEM;
                        }
                        d->items = p;
                        d->alloc = a;
                }
                d->items[d->n] =
                        (AgentDirtyItem){ .path = copy, .noticed_ns = noticed_ns, .flags = flags };
                *slot = ++d->n;
                d->bytes += strlen(path) + 1 + ITEM_OVERHEAD;
        }
        if (d->oldest_ns == 0 || noticed_ns < d->oldest_ns)
                d->oldest_ns = noticed_ns;
        return 0;
}

/* Replaces every path by its directory (marked for a rescan) until the set fits in half its
 * budget, or only the sources' own names are left. */
static int collapse(AgentDirty *d) {
        while (d->bytes > d->budget / 2) {
                AgentDirty old = *d;
                bool shortened = false;
                int r = 0;

                d->items = NULL;
                d->slots = NULL;
                d->n = d->alloc = d->n_slots = 0;
                d->bytes = 0;
                d->oldest_ns = 0;
                for (size_t i = 0; i < old.n && r >= 0; i++) {
                        AgentDirtyItem *it = &old.items[i];
                        char *slash = strrchr(it->path, '/');

                        if (slash) {
                                *slash = 0;
                                shortened = true;
                        }
                        r = add(d, it->path, it->noticed_ns,
                                it->flags | (slash ? AGENT_DIRTY_RESCAN : 0));
                }
                clear(&old);
                if (r < 0)
                        return r;
                d->collapsed = true;
                if (!shortened)
                        break;
        }
        return 0;
}

int agent_dirty_add(AgentDirty *d, const char *path, int64_t noticed_ns, unsigned flags) {
        int r;

        pthread_mutex_lock(&d->lock);
        r = add(d, path, noticed_ns, flags);
        if (r >= 0 && d->budget > 0 && d->bytes > d->budget)
                r = collapse(d);
        pthread_mutex_unlock(&d->lock);
        return r;
}

void agent_dirty_move(AgentDirty *d, AgentDirty *into) {
        pthread_mutex_lock(&d->lock);
        assert(into->n == 0);
        clear(into);
        into->items = d->items;
        into->n = d->n;
        into->alloc = d->alloc;
        into->slots = d->slots;
        into->n_slots = d->n_slots;
        into->bytes = d->bytes;
        into->oldest_ns = d->oldest_ns;
        d->items = NULL;
        d->slots = NULL;
        d->n = d->alloc = d->n_slots = 0;
        d->bytes = 0;
        d->oldest_ns = 0;
        pthread_mutex_unlock(&d->lock);
}

int agent_dirty_merge(AgentDirty *d, const AgentDirty *from) {
        int r = 0;

        for (size_t i = 0; i < from->n && r >= 0; i++)
                r = agent_dirty_add(d, from->items[i].path, from->items[i].noticed_ns,
                                    from->items[i].flags & AGENT_DIRTY_RESCAN);
        return r;
}

void agent_dirty_stats(AgentDirty *d, size_t *ret_n, int64_t *ret_oldest_ns) {
        pthread_mutex_lock(&d->lock);
        *ret_n = d->n;
        *ret_oldest_ns = d->oldest_ns;
        pthread_mutex_unlock(&d->lock);
}

bool agent_dirty_take_collapsed(AgentDirty *d) {
        bool c;

        pthread_mutex_lock(&d->lock);
        c = d->collapsed;
        d->collapsed = false;
        pthread_mutex_unlock(&d->lock);
        return c;
}

size_t agent_dirty_count(const AgentDirty *d) {
        return d->n;
}

AgentDirtyItem *agent_dirty_item(AgentDirty *d, size_t i) {
        assert(i < d->n);
        return &d->items[i];
}

ssize_t agent_dirty_find(const AgentDirty *d, const char *path) {
        size_t *slot;

        if (d->n_slots == 0)
                return -1;
        slot = slot_of(d, path);
        return *slot ? (ssize_t) *slot - 1 : -1;
}

int agent_path_cmp(const char *a, const char *b) {
        /* Byte order with '/' lowest: a directory's whole subtree comes right after it, before
         * any sibling whose name extends the directory's ("a", "a/x", "a-b"). */
        for (;; a++, b++) {
                int ca = !*a ? 0 : *a == '/' ? 1 : (uint8_t) *a + 1;
                int cb = !*b ? 0 : *b == '/' ? 1 : (uint8_t) *b + 1;

                if (ca != cb || !ca)
                        return ca - cb;
        }
}

static int item_cmp(const void *x, const void *y) {
        return agent_path_cmp(((const AgentDirtyItem *) x)->path,
                              ((const AgentDirtyItem *) y)->path);
}

void agent_dirty_sort(AgentDirty *d) {
        if (d->n < 2)
                return;
        qsort(d->items, d->n, sizeof(AgentDirtyItem), item_cmp);
        /* Only the positions moved: the index has room for them already. */
        memset(d->slots, 0, d->n_slots * sizeof(size_t));
        for (size_t i = 0; i < d->n; i++)
                *slot_of(d, d->items[i].path) = i + 1;
}
