/* Backing up one regular file: deciding what the snapshot records for it. A second name of a file
 * already stored is a hard link; a file whose size, times and inode match the parent's signature
 * index is unchanged and not even opened; one found under a new name is believed renamed only
 * when its content hashes the same (or, for the replicator, when its ctime is unchanged too: it
 * moved with its directory); any other is read and stored as a delta against the parent's
 * signature when that is smaller, else whole (file-content.c), read again when it changed while
 * read (the replicator keeps the last of those reads, flagged "changing"; a PostgreSQL
 * cluster's file is read once and kept as read, WAL replay repairs it). Its entry in the new
 * signature index says whether the next backup may trust it. */
#include <fcntl.h>

#include "agents/backup-internal.h"
#include "core/base/log.h"
#include "core/base/pathutil.h"
#include "core/base/timeutil.h"

#define READ_ATTEMPTS 3

static bool stat_same_sig(const YbSigEntry *s, const struct stat *st) {
        return s->size == (uint64_t) st->st_size && s->mtime_sec == st->st_mtim.tv_sec &&
               s->mtime_nsec == (uint32_t) st->st_mtim.tv_nsec &&
               s->ctime_sec == st->st_ctim.tv_sec &&
               s->ctime_nsec == (uint32_t) st->st_ctim.tv_nsec && s->ino == st->st_ino &&
               s->dev == st->st_dev;
}

static void sig_entry_from_stat(YbSigEntry *s, const char *path, const struct stat *st) {
        *s = (YbSigEntry){
                .path = (char *) path,
                .size = (uint64_t) st->st_size,
                .mtime_sec = st->st_mtim.tv_sec,
                .mtime_nsec = (uint32_t) st->st_mtim.tv_nsec,
                .ctime_sec = st->st_ctim.tv_sec,
                .ctime_nsec = (uint32_t) st->st_ctim.tv_nsec,
                .ino = st->st_ino,
                .dev = st->st_dev,
        };
}

bool agent_xattrs_known_none(AgentBackup *b, const AgentWalkEntry *e) {
        const YbSigEntry *prev;

        /* The replicator's state says nothing about them. */
        b->xattrs_none = false;
        if (b->find_prev || !b->index)
                return false;
        prev = b->prev_hint = yb_sigindex_find_next(b->index, e->path, &b->index_next);
        b->xattrs_none = prev && prev->no_xattrs && stat_same_sig(prev, e->st);
        return b->xattrs_none;
}

static void mark_seen(AgentBackup *b, const YbSigEntry *e) {
        if (b->index && b->seen && e)
                b->seen[e - b->index->entries] = 1;
}

/* The previous version of the file at path: in the parent's index, or the replicator's state. */
static const YbSigEntry *find_prev(AgentBackup *b, const char *path) {
        const YbSigEntry *hint = b->prev_hint;

        if (b->find_prev)
                return b->find_prev(b->hook_userdata, path);
        b->prev_hint = NULL;
        if (hint && streq(hint->path, path))
                return hint; /* just found by agent_xattrs_known_none */
        return b->index ? yb_sigindex_find_next(b->index, path, &b->index_next) : NULL;
}

const YbSigEntry *agent_find_prev(AgentBackup *b, const char *path) {
        const YbSigEntry *prev = find_prev(b, path);

        mark_seen(b, prev);
        return prev;
}

/* The record and signature entry of a file whose content is the parent's prev. */
static void same_as_parent(YbEntry *me, YbSigEntry *se, const YbSigEntry *prev) {
        me->content = me->size == 0 ? YB_CONTENT_EMPTY : YB_CONTENT_UNCHANGED;
        me->base_path = me->size == 0 ? NULL : prev->path;
        memcpy(me->hash, prev->hash, YB_HASH_SIZE);
        memcpy(se->hash, prev->hash, YB_HASH_SIZE);
        se->sig = prev->sig;
        se->sig_size = prev->sig_size;
}

/* Adds the file's record and signature entry, and remembers it if it has several names. */
static int record(AgentBackup *b, const AgentWalkEntry *e, const YbEntry *me,
                  const YbSigEntry *se) {
        YbSigEntry s = *se;
        int r;

        /* The walk read the attributes before its stat's ctime moved on: "none" holds only for
         * that ctime. An entry taking the stat of the open (a file changed, or given some, since)
         * would vouch for a ctime whose attributes nobody read. */
        s.no_xattrs = b->xattrs_none && s.ctime_sec == e->st->st_ctim.tv_sec &&
                      s.ctime_nsec == (uint32_t) e->st->st_ctim.tv_nsec;
        b->hdr.bytes_source += me->size;
        r = yb_snapshot_writer_add(b->w, me);
        if (r >= 0)
                r = yb_snapshot_writer_add_sig(b->w, &s);
        if (r >= 0 && b->recorded)
                r = b->recorded(b->hook_userdata, me, &s);
        if (r >= 0 && e->st->st_nlink > 1)
                r = agent_links_add(&b->links, e->st->st_dev, e->st->st_ino, e->path);
        if (r >= 0)
                b->hdr.counts.files++;
        return r;
}

/* Perhaps renamed: the same inode under another name. An inode number is reused as soon as a file
 * is deleted, and tools that keep mtimes make a new file look like the old one, so a rename is
 * only believed once the content hashes the same (check_renamed). Either way the old version is
 * the best basis for a delta: returns it, or NULL. */
static const YbSigEntry *same_inode(AgentBackup *b, const struct stat *st,
                                    bool *ret_maybe_renamed) {
        const YbSigEntry *old;

        *ret_maybe_renamed = false;
        if (st->st_size <= 0)
                return NULL;
        if (b->find_prev_inode)
                old = b->find_prev_inode(b->hook_userdata, st->st_dev, st->st_ino);
        else
                old = b->index ? yb_sigindex_find_inode(b->index, st->st_dev, st->st_ino) : NULL;
        if (!old)
                return NULL;
        mark_seen(b, old);
        *ret_maybe_renamed = old->size == (uint64_t) st->st_size &&
                             old->mtime_sec == st->st_mtim.tv_sec &&
                             old->mtime_nsec == (uint32_t) st->st_mtim.tv_nsec;
        return old;
}

static int hash_chunk(AgentBackup *b, void *ud, const void *data, size_t n) {
        yb_hash_update(ud, data, n);
        return 0;
}

/* Hashes the open file (stat fst): 1 when it is prev's content, so renamed (me and se are then
 * filled in); 0 when it is not, or could not be read this time; <0 to stop the backup. */
static int check_renamed(AgentBackup *b, const AgentWalkEntry *e, int fd, const struct stat *fst,
                         const YbSigEntry *prev, YbEntry *me, YbSigEntry *se) {
        YbHash h;
        uint8_t digest[YB_HASH_SIZE];
        int r;

        yb_hash_init(&h);
        r = agent_read_pass(b, fd, fst, hash_chunk, &h);
        yb_hash_final(&h, digest);
        if (r >= 0 && memcmp(digest, prev->hash, YB_HASH_SIZE) == 0) {
                sig_entry_from_stat(se, e->path, fst);
                same_as_parent(me, se, prev);
                return 1;
        }
        if (r < 0 && r != -EAGAIN && r != -AGENT_E_SOURCE_READ)
                return r;
        return 0;
}

/* Stores the open file's content: a delta against prev when it has a signature and that is
 * smaller, else whole; read again, up to READ_ATTEMPTS times, while it changes under us. *fst is
 * the stat of the read that counts. 0, or the last attempt's error (-EAGAIN: it kept changing).
 * For the replicator (b->keep_changing) the last attempt is read to the end even if the file
 * changes, and kept: me->changing says so. */
static int store_content(AgentBackup *b, const AgentWalkEntry *e, int fd, struct stat *fst,
                         const YbSigEntry *prev, YbEntry *me, YbSigEntry *se, YbBuf *sig) {
        AgentContent src = { .fd = fd, .st = fst };
        int r = 0;

        for (int attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
                if (attempt > 0 && fstat(fd, fst) < 0)
                        break;
                /* A PostgreSQL cluster's file is read once, as it is: WAL replay repairs it. */
                b->finish_changed =
                        b->pg_keep_as_read || (b->keep_changing && attempt == READ_ATTEMPTS - 1);
                /* Metadata as of the read that counts, not as of the walk. */
                me->size = (uint64_t) fst->st_size;
                me->mode = fst->st_mode & 07777;
                me->uid = fst->st_uid;
                me->gid = fst->st_gid;
                me->mtime_sec = fst->st_mtim.tv_sec;
                me->mtime_nsec = (uint32_t) fst->st_mtim.tv_nsec;
                sig_entry_from_stat(se, e->path, fst);
                if (fst->st_size == 0) {
                        me->content = YB_CONTENT_EMPTY;
                        yb_hash_buf(NULL, 0, me->hash);
                        memcpy(se->hash, me->hash, YB_HASH_SIZE);
                        b->hdr.counts.empty++;
                        r = 0;
                        break;
                }
                src.size = (uint64_t) fst->st_size;
                r = agent_store_content(b, &src, prev, me, se, sig);
                if (r == 0 && b->pg_keep_as_read && b->pass_changed)
                        b->pg_changed++;
                else if (r == 0 && b->finish_changed && b->pass_changed) {
                        /* Written while read, as the two before: kept as read. */
                        me->changing = true;
                        me->read_started_ns = b->pass_started_ns;
                        b->hdr.counts.changing++;
                }
                if (r != -EAGAIN)
                        break;
        }
        b->finish_changed = false;
        return r;
}

/* Reads and stores the file, then records it. A file that cannot be read is reported and left
 * out (0); <0 only when the store failed. */
static int read_and_record(AgentBackup *b, const AgentWalkEntry *e, int fd, struct stat *fst,
                           const YbSigEntry *prev, YbEntry *me, YbSigEntry *se) {
        YbBuf sig = YB_BUF_INIT;
        int r;

        r = store_content(b, e, fd, fst, prev, me, se, &sig);
        if (r == -EAGAIN) {
                agent_backup_error(b, e->abs, 0, "it kept changing while being read (3 attempts)");
                r = 0;
        } else if (r == -AGENT_E_SOURCE_READ) {
                agent_backup_error(b, e->abs, -b->read_error, "cannot read it");
                r = 0;
        } else if (r < 0) {
                /* A failure writing the store: the backup stops, naming where it was. */
                _cleanup_free_ char *esc = yb_path_escape(e->abs);

                log_error("Cannot store '%s': %s", esc ? esc : e->abs, strerror(-r));
        } else {
                /* Racily clean (as git says): written less than a second before we read it, a
                 * write in the same clock tick after our read could leave size and times as they
                 * are now. The next backup must read it again, so the index does not vouch for it
                 * (inode 0 never matches). Every write moves mtime, so mtime is what counts;
                 * with trust_moves ctime too, as a file found by its inode with its ctime
                 * unchanged is then taken for this one without being read, and a new file on a
                 * reused inode made in the same clock tick could have the same ctime. A file
                 * kept while it was written is never vouched for either. */
                int64_t t = (int64_t) fst->st_mtim.tv_sec * YB_NSEC_PER_SEC + fst->st_mtim.tv_nsec;

                if (b->trust_moves)
                        t = MAX(t, (int64_t) fst->st_ctim.tv_sec * YB_NSEC_PER_SEC +
                                           fst->st_ctim.tv_nsec);
                if (me->changing || (b->pg_keep_as_read && b->pass_changed) ||
                    t > yb_now_ns() - YB_NSEC_PER_SEC)
                        se->ino = 0;
                se->sig = sig.data;
                se->sig_size = sig.size;
                r = record(b, e, me, se);
        }
        yb_buf_done(&sig);
        return r;
}

int agent_backup_file(AgentBackup *b, const AgentWalkEntry *e, YbEntry *me) {
        const struct stat *st = e->st;
        const YbSigEntry *prev = agent_find_prev(b, e->path);
        bool maybe_renamed = false;
        _cleanup_close_ int fd = -EBADF;
        YbSigEntry se;
        struct stat fst;
        int r;

        me->type = YB_ENTRY_FILE;
        me->size = (uint64_t) st->st_size;
        me->sparse = (uint64_t) st->st_blocks * 512 < (uint64_t) st->st_size;
        b->cur = e;
        b->mutations = 0;
        sig_entry_from_stat(&se, e->path, st);

        if (st->st_nlink > 1) {
                const char *first = agent_links_find(&b->links, st->st_dev, st->st_ino);

                if (first) {
                        me->type = YB_ENTRY_HARDLINK;
                        me->target = (char *) first;
                        b->hdr.counts.hardlinks++;
                        r = yb_snapshot_writer_add(b->w, me);
                        me->target = NULL;
                        return r;
                }
        }

        /* Unchanged by size, mtime, ctime and inode: not even opened. */
        if (prev && stat_same_sig(prev, st)) {
                same_as_parent(me, &se, prev);
                b->hdr.counts.unchanged++;
                return record(b, e, me, &se);
        }
        if (!prev)
                prev = same_inode(b, st, &maybe_renamed);
        /* Found by its inode with size, mtime and ctime as they were: it moved with its directory
         * (a rename of the file itself moves its ctime), as sure as a file found in place. */
        if (b->trust_moves && maybe_renamed && stat_same_sig(prev, st)) {
                same_as_parent(me, &se, prev);
                b->hdr.counts.renamed++;
                return record(b, e, me, &se);
        }

        fd = agent_open_source(b, e, &fst);
        if (fd < 0)
                return 0;
        if (maybe_renamed) {
                r = check_renamed(b, e, fd, &fst, prev, me, &se);
                if (r < 0)
                        return r;
                if (r > 0) {
                        b->hdr.counts.renamed++;
                        return record(b, e, me, &se);
                }
        }
        return read_and_record(b, e, fd, &fst, prev, me, &se);
}
