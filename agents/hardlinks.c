/* Files with several names (st_nlink > 1): the first name each was stored under, by (dev, ino),
 * so that every later name is recorded as a hard link to it instead of a second copy. An
 * open-addressing hash table, at most half full. */
#include "agents/backup-internal.h"

typedef struct AgentLinkSeen {
        uint64_t dev, ino;
        char *path; /* NULL: a free slot */
} AgentLinkSeen;

static size_t link_slot(const AgentLinks *l, uint64_t dev, uint64_t ino) {
        size_t h = (size_t) ((dev * 0x9E3779B97F4A7C15ULL) ^ (ino * 0xC2B2AE3D27D4EB4FULL));

        for (h &= l->size - 1;; h = (h + 1) & (l->size - 1))
                if (!l->slots[h].path || (l->slots[h].dev == dev && l->slots[h].ino == ino))
                        return h;
}

const char *agent_links_find(const AgentLinks *l, uint64_t dev, uint64_t ino) {
        if (l->size == 0)
                return NULL;
        return l->slots[link_slot(l, dev, ino)].path;
}

int agent_links_add(AgentLinks *l, uint64_t dev, uint64_t ino, const char *path) {
        size_t h;

        if (2 * (l->n + 1) > l->size) {
                /* Grow and rehash: the table stays at most half full. */
                AgentLinkSeen *old = l->slots;
                size_t old_size = l->size;

                l->size = old_size ? 2 * old_size : 64;
                l->slots = new0(AgentLinkSeen, l->size);
                if (!l->slots) {
                        l->slots = old;
                        l->size = old_size;
                        return -ENOMEM;
                }
                for (size_t i = 0; i < old_size; i++)
                        if (old[i].path)
                                l->slots[link_slot(l, old[i].dev, old[i].ino)] = old[i];
                free(old);
        }
        h = link_slot(l, dev, ino);
        if (l->slots[h].path)
                return 0;
        l->slots[h] = (AgentLinkSeen){ dev, ino, strdup(path) };
        if (!l->slots[h].path)
                return -ENOMEM;
        l->n++;
        return 0;
}

void agent_links_done(AgentLinks *l) {
        for (size_t i = 0; i < l->size; i++)
                free(l->slots[i].path);
        free(l->slots);
        *l = (AgentLinks){ 0 };
}
