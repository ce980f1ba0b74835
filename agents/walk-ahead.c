/* The walk run ahead: agent_walk on a thread of its own, which reads the directories and stats
 * their entries, while the caller's thread takes what it found, in the walk's order, and does
 * the backup's work on each. On a tree that did not change, the reading and the stats are half
 * of the work, so they run on the other core.
 *
 * What the walker hands over is what agent_walk would have given the callback: each entry with
 * its stat, and each error, in order. Each entry keeps its directory open (a duplicate of the
 * walker's descriptor, shared by the entries of one directory), so the caller can open, read
 * links and extended attributes relative to it, as with agent_walk. How far the walker may run
 * ahead is bounded: in entries, in directories held open, and in age: an entry other than a
 * directory that waited max_age or longer is statted again just before it is handed over, so
 * what a backup records of it is never much older than it would be without the walker.
 *
 * The two threads share the stats: while the caller's thread is close behind the walker
 * (AHEAD_DEFER), the walker hands over entries its directory's listing says are not
 * directories without statting them, and the caller's thread stats them as it takes them,
 * taking each as it is then, except one that has become a directory (the walk went past it),
 * which is reported as a changed entry, as for one statted again. */
#include <assert.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/xattr.h>
#include <time.h>

#include "agents/agent.h"
#include "core/base/log.h"

/* Entries waiting, at most, in slots of 384 bytes (12 MiB): enough for the walker to go on while
 * the parent's index loads. */
#ifndef AHEAD_ENTRIES /* (the tests build it with small bounds, to reach them) */
#define AHEAD_ENTRIES 32768
#endif
/* Directories held open for them, at most: half of what the limit on open files leaves, up to
 * 4096 (a no-change incremental of the bench corpus, 3,258 directories, walks while the parent's
 * index loads); 384 under systemd's default limit of 1024. */
#ifndef AHEAD_DIRS_MAX
#define AHEAD_DIRS_MAX 4096
#endif
#ifndef AHEAD_BATCH
#define AHEAD_BATCH 64 /* entries handed over under one lock */
#endif
/* A side waiting is woken when this many entries wait for it to take, or when there is room
 * for this many more, or when the other side is about to wait itself: not at every batch.
 * Woken at every batch, the backup's thread slept and woke 850 times in a no-change
 * incremental of the bench corpus, each time taking the walker's core from it. */
#ifndef AHEAD_WAKE
#define AHEAD_WAKE 1024
#endif
/* While fewer than this many entries wait for the caller's thread, and it has begun to take
 * them, the walker leaves the stat of an entry that is not a directory to it: that thread
 * would otherwise wait for the walker, which is the slower of the two (its stats are most of
 * a no-change incremental's work). */
#ifndef AHEAD_DEFER
#define AHEAD_DEFER 2048
#endif
static_assert(AHEAD_BATCH <= AHEAD_WAKE && AHEAD_WAKE < AHEAD_ENTRIES, "the ring's bounds");
#define SLOT_NAMES 184 /* bytes for an entry's paths in its slot; longer ones are allocated */

/* Allocates the paths that do not fit (the tests give one that fails on demand). */
#ifdef AHEAD_SLOT_MALLOC
void *AHEAD_SLOT_MALLOC(size_t n);
#else
#define AHEAD_SLOT_MALLOC malloc
#endif

/* A directory the entries waiting were found in: a descriptor of its own. */
typedef struct AheadDir {
        int fd;
        uint64_t serial; /* the walk's AgentWalkEntry.dir_serial */
        atomic_int refs;
} AheadDir;

/* An entry or an error, as the walk met it, in a slot of the ring: written by the walker, read
 * by the caller's thread, then given back, so that nothing is allocated on one thread and freed
 * on the other for each entry (with glibc's arenas, that contends for a lock). */
typedef struct Item {
        AheadDir *dir; /* NULL for an error */
        int error;
        bool no_xattrs, no_pg_version; /* AgentWalkEntry's dir_no_xattrs, dir_no_pg_version */
        bool unstatted;                /* st holds only the type: the caller's thread stats it */
        int64_t stamp_ns;              /* when it was statted */
        struct stat st;
        char *abs, *path, *name; /* in names, or in heap when they do not fit */
        char *heap;
        char names[SLOT_NAMES];
} Item;

struct AgentWalkAhead {
        /* The walker's side. */
        char *source, *root_name;
        char *const *excludes;
        size_t n_excludes;
        pthread_t thread;
        bool started;
        AheadDir *cur;  /* the directory of the last entry, held for the next ones */
        size_t n_batch; /* slots written after the ones handed over */
        size_t n_free;  /* slots after those known to be free */
        size_t tail;    /* the next slot to write */
        bool lost;      /* an error had no slot: the walk fails with -ENOMEM */
        bool defer;     /* leave stats to the caller's thread (AHEAD_DEFER) */

        /* Shared, under lock. */
        pthread_mutex_t lock;
        pthread_cond_t moved; /* slots handed over or given back, or the walk ended or stopped */
        Item *ring;
        size_t head, count; /* the slots handed over and not given back */
        int dirs;           /* AheadDirs alive */
        int max_dirs;
        bool done;
        bool taking;      /* the caller's thread has begun to take entries */
        atomic_bool stop; /* written under lock; read without it by the walker between waits */
        int result;       /* agent_walk's, once done */

        int64_t max_age_ns;
};

static int64_t coarse_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void dir_unref(AgentWalkAhead *a, AheadDir *d) {
        if (!d || atomic_fetch_sub(&d->refs, 1) != 1)
                return;
        safe_close(d->fd);
        free(d);
        pthread_mutex_lock(&a->lock);
        /* The walker waits for one at the limit only. */
        if (a->dirs-- >= a->max_dirs)
                pthread_cond_broadcast(&a->moved);
        pthread_mutex_unlock(&a->lock);
}

static void item_done(AgentWalkAhead *a, Item *it) {
        dir_unref(a, TAKE_PTR(it->dir));
        free(TAKE_PTR(it->heap));
}

/* Hands the slots written over to the caller's thread, waking it when AHEAD_WAKE wait, or
 * with wake (the walker is about to wait, or is done). */
static void publish(AgentWalkAhead *a, bool wake) {
        size_t was;

        if (a->n_batch == 0 && !wake)
                return;
        pthread_mutex_lock(&a->lock);
        was = a->count;
        a->count += a->n_batch;
        a->n_batch = 0;
        a->defer = a->taking && a->count < AHEAD_DEFER;
        if (wake || (was < AHEAD_WAKE && a->count >= AHEAD_WAKE))
                pthread_cond_broadcast(&a->moved);
        pthread_mutex_unlock(&a->lock);
}

/* The next free slot, handing over what was written when a batch is full, and waiting while
 * too much waits. NULL once stopped. The lock is taken once for all the slots found free. */
static Item *next_slot(AgentWalkAhead *a) {
        Item *it;

        if (a->n_batch == AHEAD_BATCH)
                publish(a, false);
        if (a->n_free == 0) {
                bool stop;

                publish(a, true);
                pthread_mutex_lock(&a->lock);
                while (!a->stop && a->count + a->n_batch >= AHEAD_ENTRIES)
                        pthread_cond_wait(&a->moved, &a->lock);
                a->n_free = AHEAD_ENTRIES - a->count - a->n_batch;
                stop = a->stop;
                pthread_mutex_unlock(&a->lock);
                if (stop)
                        return NULL;
        }
        it = &a->ring[a->tail];
        a->tail = (a->tail + 1) % AHEAD_ENTRIES;
        a->n_free--;
        return it;
}

/* Gives back the slot next_slot just gave, unwritten. */
static void unslot(AgentWalkAhead *a) {
        a->tail = (a->tail + AHEAD_ENTRIES - 1) % AHEAD_ENTRIES;
        a->n_free++;
}

/* Fills slot it with an entry's names. */
static int slot_names(Item *it, const char *abs, const char *path, const char *name) {
        size_t la = strlen(abs) + 1, lp = strlen(path) + 1, ln = strlen(name) + 1;
        char *p = it->names;

        it->heap = NULL;
        if (la + lp + ln > sizeof(it->names)) {
                p = it->heap = AHEAD_SLOT_MALLOC(la + lp + ln);
                if (!p)
                        return -ENOMEM;
        }
        it->abs = memcpy(p, abs, la);
        it->path = memcpy(p + la, path, lp);
        it->name = memcpy(p + la + lp, name, ln);
        return 0;
}

/* The directory of entry e, shared with the entries before it from the same directory; a new
 * duplicate of its descriptor when it is another. Waits while too many are open. NULL when
 * stopped or on an error. */
static AheadDir *dir_of(AgentWalkAhead *a, const AgentWalkEntry *e) {
        AheadDir *d;
        bool stop;

        if (a->cur && a->cur->serial == e->dir_serial) {
                atomic_fetch_add(&a->cur->refs, 1);
                return a->cur;
        }
        dir_unref(a, TAKE_PTR(a->cur));
        /* What waits holds directories open: hand it over first, or this could wait for
         * itself. */
        publish(a, false);
        pthread_mutex_lock(&a->lock);
        if (!a->stop && a->dirs >= a->max_dirs)
                pthread_cond_broadcast(&a->moved); /* about to wait: for the caller's thread */
        while (!a->stop && a->dirs >= a->max_dirs)
                pthread_cond_wait(&a->moved, &a->lock);
        stop = a->stop;
        if (!stop)
                a->dirs++;
        pthread_mutex_unlock(&a->lock);
        if (stop) {
                errno = ECANCELED;
                return NULL;
        }
        d = malloc(sizeof(AheadDir));
        if (d)
                d->fd = fcntl(e->dir_fd, F_DUPFD_CLOEXEC, 3);
        if (!d || d->fd < 0) {
                int error = d ? errno : ENOMEM;

                free(d);
                pthread_mutex_lock(&a->lock);
                a->dirs--;
                pthread_mutex_unlock(&a->lock);
                errno = error;
                return NULL;
        }
        d->serial = e->dir_serial;
        atomic_init(&d->refs, 2); /* the entry's, and a->cur's */
        a->cur = d;
        return d;
}

static int walker_entry(void *userdata, const AgentWalkEntry *e) {
        AgentWalkAhead *a = userdata;
        AheadDir *d;
        Item *it;

        /* Stopped: the walk ends now, not when it next has to wait. */
        if (atomic_load_explicit(&a->stop, memory_order_relaxed))
                return -ECANCELED;
        if (a->lost)
                return -ENOMEM;
        d = dir_of(a, e);
        if (!d)
                return -errno; /* ECANCELED, EMFILE, ENFILE, ENOMEM */
        it = next_slot(a);
        if (!it) {
                dir_unref(a, d);
                return -ECANCELED;
        }
        if (slot_names(it, e->abs, e->path, e->name) < 0) {
                unslot(a);
                dir_unref(a, d);
                return -ENOMEM;
        }
        it->dir = d;
        it->error = 0;
        it->st = *e->st;
        it->unstatted = e->unstatted;
        it->no_xattrs = it->no_pg_version = false;
        it->stamp_ns = coarse_ns();
        a->n_batch++;
        return 0;
}

static int name_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* A directory just walked into: its entry is the last one written, not handed over yet (no
 * other entry or error comes between an entry and the reading of its directory). What the
 * backup would ask of it is answered here, where it is open. */
static void walker_listed(void *userdata, int fd, char *const *names, size_t n) {
        static const char *const pg_version = "PG_VERSION";
        AgentWalkAhead *a = userdata;
        Item *it;

        if (a->n_batch == 0)
                return;
        it = &a->ring[(a->tail + AHEAD_ENTRIES - 1) % AHEAD_ENTRIES];
        if (!it->dir || !S_ISDIR(it->st.st_mode))
                return;
        it->no_xattrs = flistxattr(fd, NULL, 0) == 0;
        it->no_pg_version = n == 0 || !bsearch(&pg_version, names, n, sizeof(char *), name_cmp);
}

static bool walker_defer(void *userdata) {
        AgentWalkAhead *a = userdata;

        return a->defer;
}

static void walker_error(void *userdata, const char *abs, int error) {
        AgentWalkAhead *a = userdata;
        Item *it;

        if (atomic_load_explicit(&a->stop, memory_order_relaxed))
                return;
        it = next_slot(a);
        if (!it) /* stopped */
                return;

        /* Out of memory for an error: not dropped, which would make a partial snapshot look
         * whole; the walk fails, at its next entry or when it ends. */
        if (slot_names(it, abs, "", "") < 0) {
                unslot(a);
                a->lost = true;
                return;
        }
        it->dir = NULL;
        it->error = error;
        a->n_batch++;
}

static void *walker(void *userdata) {
        AgentWalkAhead *a = userdata;
        int r;

        r = agent_walk_listed(a->source, a->root_name, a->excludes, a->n_excludes, walker_entry,
                              walker_listed, walker_defer, walker_error, a);
        if (a->lost && r >= 0)
                r = -ENOMEM;
        publish(a, true); /* what was found before an error is handed over first */
        dir_unref(a, TAKE_PTR(a->cur));
        pthread_mutex_lock(&a->lock);
        a->result = r;
        a->done = true;
        pthread_cond_broadcast(&a->moved);
        pthread_mutex_unlock(&a->lock);
        return NULL;
}

AgentWalkAhead *agent_walk_ahead_free(AgentWalkAhead *a) {
        if (!a)
                return NULL;
        if (a->started) {
                pthread_mutex_lock(&a->lock);
                a->stop = true;
                pthread_cond_broadcast(&a->moved);
                pthread_mutex_unlock(&a->lock);
                pthread_join(a->thread, NULL);
        }
        /* What was handed over and not taken, and what was written and not handed over. */
        for (size_t i = 0; a->ring && i < a->count + a->n_batch; i++)
                item_done(a, &a->ring[(a->head + i) % AHEAD_ENTRIES]);
        pthread_cond_destroy(&a->moved);
        pthread_mutex_destroy(&a->lock);
        free(a->ring);
        free(a->source);
        free(a->root_name);
        free(a);
        return NULL;
}

/* The descriptor table made large enough for the directories held open, while this process
 * has one thread: once there are two, each time the kernel grows it, it waits for an RCU grace
 * period (milliseconds). */
static void grow_fd_table(int max_dirs) {
        int fd = open("/", O_PATH | O_CLOEXEC), high;

        if (fd < 0)
                return;
        high = fcntl(fd, F_DUPFD_CLOEXEC, max_dirs + 128);
        safe_close(high);
        safe_close(fd);
}

/* The ring, in huge pages where the system gives them (transparent huge pages, "madvise" or
 * "always"): in 4 KiB pages, its first use faulted 3,072 times, a tenth of the walker's time. Its
 * slots are written before they are read: not zeroed. */
static Item *ring_new(void) {
        const size_t huge = 2 * 1024 * 1024, size = AHEAD_ENTRIES * sizeof(Item);
        void *p = NULL;

        if (size < huge || posix_memalign(&p, huge, size) != 0)
                return malloc(size);
        (void) madvise(p, size, MADV_HUGEPAGE);
        return p;
}

static int max_dirs(void) {
        struct rlimit rl;
        rlim_t n = 1024;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
                n = rl.rlim_cur == RLIM_INFINITY ? 2 * AHEAD_DIRS_MAX + 256 : rl.rlim_cur;
        n = n > 256 ? (n - 256) / 2 : 0;
        return (int) MAX(MIN(n, (rlim_t) AHEAD_DIRS_MAX), (rlim_t) 16);
}

int agent_walk_ahead_start(const char *source, const char *root_name, char *const *excludes,
                           size_t n_excludes, int64_t max_age_ns, AgentWalkAhead **ret) {
        AgentWalkAhead *a = new0(AgentWalkAhead, 1);
        int r;

        if (!a)
                return -ENOMEM;
        pthread_mutex_init(&a->lock, NULL);
        pthread_cond_init(&a->moved, NULL);
        a->source = strdup(source);
        a->root_name = strdup(root_name);
        a->ring = ring_new();
        a->excludes = excludes;
        a->n_excludes = n_excludes;
        a->max_age_ns = max_age_ns;
        a->max_dirs = max_dirs();
        if (!a->source || !a->root_name || !a->ring) {
                agent_walk_ahead_free(a);
                return -ENOMEM;
        }
        grow_fd_table(a->max_dirs);
        r = -pthread_create(&a->thread, NULL, walker, a);
        if (r < 0)
                /* agent_walk_ahead_finish walks on the caller's thread: said, not hidden. */
                log_warning("Cannot start a thread for the walk of '%s' (%s): walking it on the "
                            "backup's own thread, more slowly.",
                            source, strerror(-r));
        else
                a->started = true;
        *ret = a;
        return 0;
}

/* The slots handed over, up to AHEAD_BATCH from the first (*first), waiting for the walker
 * when there are none; 0 when the walk ended and everything was taken. */
static size_t take(AgentWalkAhead *a, size_t *first) {
        size_t k;

        pthread_mutex_lock(&a->lock);
        a->taking = true;
        while (a->count == 0 && !a->done)
                pthread_cond_wait(&a->moved, &a->lock);
        *first = a->head;
        k = MIN(a->count, (size_t) AHEAD_BATCH);
        pthread_mutex_unlock(&a->lock);
        return k;
}

/* Gives the k slots from the head back to the walker, waking it when there is room for
 * AHEAD_WAKE (it waits only when the ring is full). */
static void give_back(AgentWalkAhead *a, size_t k) {
        size_t was;

        pthread_mutex_lock(&a->lock);
        was = AHEAD_ENTRIES - a->count;
        a->head = (a->head + k) % AHEAD_ENTRIES;
        a->count -= k;
        if (was < AHEAD_WAKE && AHEAD_ENTRIES - a->count >= AHEAD_WAKE)
                pthread_cond_broadcast(&a->moved);
        pthread_mutex_unlock(&a->lock);
}

/* An entry other than a directory that waited too long is statted again: its stat is then as
 * fresh as agent_walk's. One the walker left unstatted is statted here for the first time. A
 * directory keeps the walker's stat: what was walked into is the directory the walker opened and
 * checked. 0 to hand it over; 1 when it is not to be: gone (as agent_walk: not an error), or
 * replaced by another kind of entry, or not statted (reported). The source itself is the walk's:
 * -errno when it is gone or cannot be statted, as agent_walk returns. */
static int refresh(AgentWalkAhead *a, Item *it, AgentWalkErrorFn err, void *userdata) {
        struct stat st;

        if (!it->unstatted &&
            (S_ISDIR(it->st.st_mode) || coarse_ns() - it->stamp_ns < a->max_age_ns))
                return 0;
        if (fstatat(it->dir->fd, it->name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (it->dir->serial == 0) /* the source itself */
                        return negative_errno();
                if (errno != ENOENT)
                        err(userdata, it->abs, negative_errno());
                return 1;
        }
        /* A file that became a directory or a link: what was listed is not there any more. One
         * the walker left unstatted has no stat to hold to but its listing's type, which
         * matters only for a directory, which the walk would have gone into: any other kind is
         * taken as it is now, as the walker's own stat would have taken it. */
        if ((st.st_mode & S_IFMT) != (it->st.st_mode & S_IFMT) &&
            (!it->unstatted || S_ISDIR(st.st_mode))) {
                if (it->dir->serial == 0) /* the source itself */
                        return -ESTALE;
                err(userdata, it->abs, -ESTALE);
                return 1;
        }
        it->st = st;
        return 0;
}

/* What the callback skips: the directory abs's contents, and the walk's errors for abs itself
 * (the walker opened and read it before the callback said). */
typedef struct Skip {
        char *dir; /* abs, then a '/' unless it ends in one */
        size_t len, prefix;
} Skip;

static int skip_set(Skip *k, const char *abs) {
        size_t n = strlen(abs);

        free(k->dir);
        k->dir = malloc(n + 2);
        if (!k->dir)
                return -ENOMEM;
        memcpy(k->dir, abs, n + 1);
        k->len = n;
        if (n == 0 || k->dir[n - 1] != '/')
                k->dir[n++] = '/';
        k->dir[n] = 0;
        k->prefix = n;
        return 0;
}

static bool skipped(const Skip *k, const Item *it) {
        if (!k->dir)
                return false;
        if (strncmp(it->abs, k->dir, k->prefix) == 0)
                return true;
        return !it->dir && strncmp(it->abs, k->dir, k->len) == 0 && it->abs[k->len] == 0;
}

int agent_walk_ahead_finish(AgentWalkAhead *a, AgentWalkFn fn, AgentWalkErrorFn err,
                            void *userdata) {
        Skip skip = { 0 };
        size_t n, first;
        int r = 0;

        if (!a->started) {
                r = agent_walk(a->source, a->root_name, a->excludes, a->n_excludes, fn, err,
                               userdata);
                agent_walk_ahead_free(a);
                return r;
        }
        while (r >= 0 && (n = take(a, &first)) > 0) {
                for (size_t i = 0; i < n; i++) {
                        Item *it = &a->ring[(first + i) % AHEAD_ENTRIES];
                        AgentWalkEntry e;

                        if (r < 0 || skipped(&skip, it)) {
                                item_done(a, it);
                                continue;
                        }
                        free(TAKE_PTR(skip.dir));
                        if (!it->dir)
                                err(userdata, it->abs, it->error);
                        else if ((r = refresh(a, it, err, userdata)) == 0) {
                                e = (AgentWalkEntry){ .dir_fd = it->dir->fd,
                                                      .name = it->name,
                                                      .path = it->path,
                                                      .abs = it->abs,
                                                      .st = &it->st,
                                                      .dir_serial = it->dir->serial,
                                                      .dir_no_xattrs = it->no_xattrs,
                                                      .dir_no_pg_version = it->no_pg_version };
                                r = fn(userdata, &e);
                                if (r == 1 && S_ISDIR(it->st.st_mode))
                                        r = skip_set(&skip, it->abs);
                        } else if (r == 1)
                                r = 0;
                        item_done(a, it);
                }
                give_back(a, n);
        }
        free(skip.dir);
        if (r >= 0) {
                pthread_mutex_lock(&a->lock);
                r = a->result;
                pthread_mutex_unlock(&a->lock);
        }
        agent_walk_ahead_free(a);
        return r < 0 ? r : 0;
}
