/* The replicator's state: what the replica holds at its newest point, entry by entry, so that a
 * dirty path can be told changed or not by its stat, a gone path be recorded as deleted, and a
 * changed file be stored as a delta against the signature of the version the replica has. It
 * starts from the chain root's signature index (its regular files) and a walk (the rest), and
 * takes each committed segment's changes. Two chained hash tables over the same entries: by path,
 * and by (dev, ino) for renames and hard links. */
#include <stdlib.h>

#include "agents/replicate.h"
#include "core/base/timeutil.h"

struct AgentState {
        AgentStateEntry **by_path, **by_ino;
        size_t n, n_buckets; /* both tables have n_buckets chains */
};

static size_t hash_path(const char *s) {
        uint64_t h = 0xcbf29ce484222325ULL;

        for (; *s; s++)
                h = (h ^ (uint8_t) *s) * 0x100000001b3ULL;
        return (size_t) h;
}

static size_t hash_ino(uint64_t dev, uint64_t ino) {
        return (size_t) ((dev * 0x9E3779B97F4A7C15ULL) ^ (ino * 0xC2B2AE3D27D4EB4FULL));
}

int agent_state_new(AgentState **ret) {
        AgentState *s = new0(AgentState, 1);

        if (!s)
                return -ENOMEM;
        s->n_buckets = 1024;
        s->by_path = new0(AgentStateEntry *, s->n_buckets);
        s->by_ino = new0(AgentStateEntry *, s->n_buckets);
        if (!s->by_path || !s->by_ino) {
                agent_state_free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

static void entry_free(AgentStateEntry *e) {
        free(e->se.path);
        free(e->se.sig);
        free(e);
}

AgentState *agent_state_free(AgentState *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; s->by_path && i < s->n_buckets; i++)
                for (AgentStateEntry *e = s->by_path[i], *next; e; e = next) {
                        next = e->next_path;
                        entry_free(e);
                }
        free(s->by_path);
        free(s->by_ino);
        free(s);
        return NULL;
}

size_t agent_state_count(const AgentState *s) {
        return s->n;
}

static bool indexed_by_ino(const AgentStateEntry *e) {
        return S_ISREG(e->mode) && e->se.ino != 0;
}

static void link_entry(AgentState *s, AgentStateEntry *e) {
        size_t h = hash_path(e->se.path) & (s->n_buckets - 1);

        e->next_path = s->by_path[h];
        s->by_path[h] = e;
        e->next_ino = NULL;
        if (indexed_by_ino(e)) {
                h = hash_ino(e->se.dev, e->se.ino) & (s->n_buckets - 1);
                e->next_ino = s->by_ino[h];
                s->by_ino[h] = e;
        }
}

static void unlink_entry(AgentState *s, AgentStateEntry *e) {
        AgentStateEntry **p = &s->by_path[hash_path(e->se.path) & (s->n_buckets - 1)];

        while (*p != e)
                p = &(*p)->next_path;
        *p = e->next_path;
        if (indexed_by_ino(e)) {
                p = &s->by_ino[hash_ino(e->se.dev, e->se.ino) & (s->n_buckets - 1)];
                while (*p && *p != e)
                        p = &(*p)->next_ino;
                if (*p)
                        *p = e->next_ino;
        }
}

/* Doubles the tables when they average more than one entry a chain. */
static void grow(AgentState *s) {
        size_t n = s->n_buckets * 2;
        AgentStateEntry **bp = new0(AgentStateEntry *, n), **bi = new0(AgentStateEntry *, n);
        AgentStateEntry *all = NULL;

        if (!bp || !bi) {
                free(bp);
                free(bi);
                return; /* longer chains, still right */
        }
        for (size_t i = 0; i < s->n_buckets; i++)
                for (AgentStateEntry *e = s->by_path[i], *next; e; e = next) {
                        next = e->next_path;
                        e->next_path = all;
                        all = e;
                }
        free(s->by_path);
        free(s->by_ino);
        s->by_path = bp;
        s->by_ino = bi;
        s->n_buckets = n;
        for (AgentStateEntry *e = all, *next; e; e = next) {
                next = e->next_path;
                link_entry(s, e);
        }
}

AgentStateEntry *agent_state_find(const AgentState *s, const char *path) {
        for (AgentStateEntry *e = s->by_path[hash_path(path) & (s->n_buckets - 1)]; e;
             e = e->next_path)
                if (streq(e->se.path, path))
                        return e;
        return NULL;
}

static void fill_stat(AgentStateEntry *e, const struct stat *st) {
        e->mode = st->st_mode;
        e->uid = st->st_uid;
        e->gid = st->st_gid;
        e->se.size = (uint64_t) st->st_size;
        e->se.mtime_sec = st->st_mtim.tv_sec;
        e->se.mtime_nsec = (uint32_t) st->st_mtim.tv_nsec;
        e->se.ctime_sec = st->st_ctim.tv_sec;
        e->se.ctime_nsec = (uint32_t) st->st_ctim.tv_nsec;
        e->se.ino = st->st_ino;
        e->se.dev = st->st_dev;
}

AgentStateEntry *agent_state_put(AgentState *s, const char *path, const struct stat *st,
                                 const YbSigEntry *se, bool learned) {
        AgentStateEntry *e = agent_state_find(s, path);
        uint8_t *sig = NULL;

        if (se && se->sig) {
                sig = malloc(se->sig_size ? se->sig_size : 1);
                if (!sig)
                        return NULL;
                memcpy(sig, se->sig, se->sig_size);
        }
        if (e)
                unlink_entry(s, e);
        else {
                e = new0(AgentStateEntry, 1);
                if (e)
                        e->se.path = strdup(path);
                if (!e || !e->se.path) {
                        free(e);
                        free(sig);
                        return NULL;
                }
                s->n++;
        }
        free(e->se.sig);
        e->se.sig = sig;
        e->se.sig_size = sig ? se->sig_size : 0;
        fill_stat(e, st);
        e->has_sig = se != NULL;
        if (se) {
                memcpy(e->se.hash, se->hash, YB_HASH_SIZE);
                /* The signature entry's stat is the one of the read that counts; inode 0 says
                 * the file was racily clean and must be read again next time. */
                e->se.size = se->size;
                e->se.mtime_sec = se->mtime_sec;
                e->se.mtime_nsec = se->mtime_nsec;
                e->se.ctime_sec = se->ctime_sec;
                e->se.ctime_nsec = se->ctime_nsec;
                e->se.ino = se->ino;
        }
        e->learned = learned;
        link_entry(s, e);
        if (s->n > s->n_buckets)
                grow(s);
        return e;
}

static bool under(const char *path, const char *dir, size_t n) {
        return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == 0);
}

void agent_state_remove_tree(AgentState *s, const char *path) {
        AgentStateEntry *e = agent_state_find(s, path);
        size_t n = strlen(path);

        if (e && !S_ISDIR(e->mode)) {
                unlink_entry(s, e);
                entry_free(e);
                s->n--;
                return;
        }
        for (size_t i = 0; i < s->n_buckets; i++)
                for (AgentStateEntry *x = s->by_path[i], *next; x; x = next) {
                        next = x->next_path;
                        if (under(x->se.path, path, n)) {
                                unlink_entry(s, x);
                                entry_free(x);
                                s->n--;
                        }
                }
}

int agent_state_take_sigindex(AgentState *s, YbSigIndex *x, int64_t racy_after_ns) {
        for (size_t i = 0; i < x->n; i++) {
                YbSigEntry *se = &x->entries[i];
                AgentStateEntry *e = new0(AgentStateEntry, 1);

                if (!e)
                        return -ENOMEM;
                e->se = *se;
                /* A backup vouches for files by mtime alone; the replicator takes a file found
                 * by inode with all its times unchanged for a moved one, so ctime counts too. */
                if (e->se.ctime_sec * YB_NSEC_PER_SEC + e->se.ctime_nsec >= racy_after_ns)
                        e->se.ino = 0;
                e->se.path = TAKE_PTR(se->path);
                e->se.sig = TAKE_PTR(se->sig);
                se->sig_size = 0;
                e->mode = S_IFREG;
                e->has_sig = true;
                /* Mode and owner are not in the index: the walk that follows fills them in. */
                e->learned = false;
                if (agent_state_find(s, e->se.path)) {
                        entry_free(e);
                        continue;
                }
                link_entry(s, e);
                s->n++;
                if (s->n > s->n_buckets)
                        grow(s);
        }
        return 0;
}

void agent_state_foreach(AgentState *s, void (*fn)(void *userdata, AgentStateEntry *e),
                         void *userdata) {
        for (size_t i = 0; i < s->n_buckets; i++)
                for (AgentStateEntry *e = s->by_path[i]; e; e = e->next_path)
                        fn(userdata, e);
}

void agent_state_foreach_inode(AgentState *s, uint64_t dev, uint64_t ino,
                               void (*fn)(void *userdata, AgentStateEntry *e), void *userdata) {
        for (AgentStateEntry *e = s->by_ino[hash_ino(dev, ino) & (s->n_buckets - 1)]; e;
             e = e->next_ino)
                if (e->se.dev == dev && e->se.ino == ino)
                        fn(userdata, e);
}

bool agent_state_changed(const AgentStateEntry *e, const struct stat *st) {
        if ((e->mode & S_IFMT) != (st->st_mode & S_IFMT))
                return true;
        if (e->se.mtime_sec != st->st_mtim.tv_sec ||
            e->se.mtime_nsec != (uint32_t) st->st_mtim.tv_nsec ||
            e->se.ctime_sec != st->st_ctim.tv_sec ||
            e->se.ctime_nsec != (uint32_t) st->st_ctim.tv_nsec || e->se.ino != st->st_ino ||
            e->se.dev != st->st_dev)
                return true;
        if (S_ISREG(st->st_mode))
                return e->se.size != (uint64_t) st->st_size;
        return (e->mode & 07777) != (st->st_mode & 07777) || e->uid != st->st_uid ||
               e->gid != st->st_gid;
}

const YbSigEntry *agent_state_find_prev(AgentState *s, const char *path) {
        AgentStateEntry *e = agent_state_find(s, path);

        return e && e->has_sig && S_ISREG(e->mode) ? &e->se : NULL;
}

typedef struct FirstSig {
        const YbSigEntry *found;
} FirstSig;

static void first_sig(void *userdata, AgentStateEntry *e) {
        FirstSig *f = userdata;

        if (!f->found && e->has_sig)
                f->found = &e->se;
}

const YbSigEntry *agent_state_find_prev_inode(AgentState *s, uint64_t dev, uint64_t ino) {
        FirstSig f = { NULL };

        agent_state_foreach_inode(s, dev, ino, first_sig, &f);
        return f.found;
}
