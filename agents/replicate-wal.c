/* The replicator's PostgreSQL hooks (docs/postgresql.md, "WAL to tier 2"): per hook, a physical
 * replication slot "yunbak_<system>_<hook>" and pg_receivewal on it (agents/wal-receiver.c)
 * filling the spool <state-dir>/wal/<system>/<hook>/ (agents/wal-spool.c); every interval, the
 * bytes of each WAL file the chain lacks go into the segment as a piece
 * "_pg/<hook>/wal/<WAL>.<OFFSET>" (core/repo/pg.h), so that the intra-city copy is an interval
 * behind the database, not a WAL file's fill time.
 *
 * The cursor is the next byte the chain lacks; a chain starts it at the first byte of the WAL
 * file of its root's stop LSN, so every chain holds every byte from its root on, and pieces
 * follow one another from offset 0. A completed WAL file is read whole; the file being written
 * (".partial", padded with zeros) only up to what pg_receivewal reported flushed (the server's
 * pg_stat_replication for the slot's walsender), never further: a zero there may be a byte not
 * yet written. A completed file whose bytes the chain holds leaves the spool, but the newest,
 * which tells a restarted pg_receivewal where to go on.
 *
 * The lag: the WAL the chain lacks counts as pending from the moment it was first seen: the
 * server's position (read every interval on a plain libpq session) or what pg_receivewal
 * flushed moved past what was seen before. A slot whose WAL was removed (wal_status "lost",
 * max_slot_wal_keep_size reached) leaves a gap in point-in-time restore up to the next root: it
 * is said, the slot is made anew, the spool emptied, and the caller makes that root. */
#include "agents/replicate-wal.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "agents/replicate.h"
#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"

#define SEEN_MAX 4096

typedef struct Seen {
        uint64_t lsn;
        int64_t ns;
} Seen;

typedef struct WalHook {
        const AgentPgHook *hook;
        char slot[64];
        char *spool;
        AgentWalServer *server;
        AgentWalServerInfo info;
        bool have_info, warned_unlimited;
        char *said; /* the last setup or connection problem said (said again only when it
                     * changes) */
        AgentWalReceiver rx;
        bool rx_ready; /* the program is chosen and the slot made */
        AgentWalPositions pos;
        bool have_pos;
        uint64_t flushed;       /* the highest flush pg_receivewal reported (0: none yet) */
        uint32_t segment_size;  /* 0 until the server or a root says */
        bool have_cursor;       /* false: none yet (no root, or a root without this hook) */
        bool cursor_from_spool; /* the root has no base of the hook: start at the spool's */
        uint32_t timeline;
        uint64_t shipped;  /* the cursor: the next byte the chain lacks */
        uint64_t inflight; /* the segment being written holds WAL up to there (0: none) */
        bool dirs_done, dirs_inflight, root_base;
        Seen *seen; /* WAL positions as first seen, oldest first, each above the last */
        size_t n_seen;
        uint64_t seen_max;
} WalHook;

typedef struct AgentWal {
        WalHook *hooks;
        size_t n;
        bool pg_dir_done, pg_dir_inflight; /* "_pg" is in the chain (a root without any base) */
        uint64_t bytes_inflight;
} AgentWal;

/* Says problem about hook h once (again only when it changes), as an error event. */
static void say(AgentReplicator *rp, WalHook *h, const char *what, const char *problem) {
        _cleanup_free_ char *msg = NULL;

        if (asprintf(&msg, "%s%s%s", what, *what ? " " : "",
                     problem ? problem : "(out of memory)") < 0)
                return;
        if (h->said && streq(h->said, msg))
                return;
        free(h->said);
        h->said = strdup(msg);
        agent_out_error(&rp->out,
                        "PostgreSQL hook '%s' of system '%s': %s. Its WAL waits in the slot "
                        "'%s' on the server; tried again every interval.",
                        h->hook->name, rp->args->backup.system, msg, h->slot);
}

int agent_wal_start(AgentReplicator *rp) {
        const AgentReplicateArgs *a = rp->args;
        AgentWal *w;

        if (a->n_pg == 0)
                return 0;
        w = new0(AgentWal, 1);
        if (!w)
                return -ENOMEM;
        rp->wal = w;
        w->hooks = new0(WalHook, a->n_pg);
        if (!w->hooks)
                return -ENOMEM;
        w->n = a->n_pg;
        for (size_t i = 0; i < a->n_pg; i++) {
                WalHook *h = &w->hooks[i];
                int r;

                h->hook = &a->pg[i];
                agent_wal_slot_name(a->backup.system, h->hook->name, h->slot);
                if (asprintf(&h->spool, "%s/wal/%s/%s", a->backup.state_dir, a->backup.system,
                             h->hook->name) < 0) {
                        h->spool = NULL;
                        return -ENOMEM;
                }
                agent_wal_receiver_init(&h->rx, h->hook->name, h->hook->conninfo, h->slot,
                                        h->spool);
                r = yb_mkdir_p_at(AT_FDCWD, h->spool, 0700);
                if (r < 0)
                        agent_out_error(&rp->out,
                                        "Cannot create the WAL spool '%s' of PostgreSQL hook '%s' "
                                        "(%s); pg_receivewal cannot run until it exists.",
                                        h->spool, h->hook->name, strerror(-r));
        }
        (void) agent_wal_tick(rp);
        return 0;
}

void agent_wal_free(AgentReplicator *rp) {
        AgentWal *w = rp->wal;

        if (!w)
                return;
        for (size_t i = 0; w->hooks && i < w->n; i++) {
                WalHook *h = &w->hooks[i];

                agent_wal_receiver_done(&h->rx);
                agent_wal_server_free(h->server);
                free(h->spool);
                free(h->said);
                free(h->seen);
        }
        free(w->hooks);
        free(w);
        rp->wal = NULL;
}

/* The session, the settings and the slot, as far as they go now. True when pg_receivewal can
 * run. */
static bool setup_hook(AgentReplicator *rp, WalHook *h) {
        _cleanup_free_ char *err = NULL;
        int r;

        if (!h->server) {
                r = agent_wal_server_open(h->hook->conninfo, &h->server, &err);
                if (r < 0) {
                        say(rp, h, "cannot connect to its server:", err);
                        return h->rx_ready;
                }
        }
        if (!h->have_info) {
                r = agent_wal_server_info(h->server, &h->info, &err);
                if (r < 0) {
                        say(rp, h, "cannot read its server's settings:", err);
                        h->server = agent_wal_server_free(h->server);
                        return false;
                }
                h->have_info = true;
                h->segment_size = h->info.segment_size;
                if (h->info.max_slot_wal_keep_mb < 0 && !h->warned_unlimited) {
                        char msg[1024];

                        snprintf(msg, sizeof(msg),
                                 "PostgreSQL hook '%s' of system '%s': max_slot_wal_keep_size "
                                 "is -1 (unlimited) on its server, so while pg_receivewal "
                                 "cannot run (the tier-2 store may be away, the replicator "
                                 "stopped) the slot '%s' keeps WAL on the database's disk "
                                 "without bound, until the disk is full. Set it to what the "
                                 "disk can spare, such as ALTER SYSTEM SET "
                                 "max_slot_wal_keep_size = '10GB'; SELECT pg_reload_conf(); "
                                 "(docs/postgresql.md, \"WAL to tier 2\")",
                                 h->hook->name, rp->args->backup.system, h->slot);
                        log_warning("%s", msg);
                        agent_out_emit(&rp->out, "warning", json_pack("{s:s}", "message", msg));
                        h->warned_unlimited = true;
                }
        }
        if (!h->rx_ready) {
                if (!h->rx.program) {
                        r = agent_wal_receiver_find(&h->rx, h->info.version / 10000, &err);
                        if (r < 0) {
                                say(rp, h, "", err);
                                return false;
                        }
                }
                r = agent_wal_receiver_slot(&h->rx, false, &err);
                if (r < 0) {
                        say(rp, h, "cannot make its replication slot:", err);
                        return false;
                }
                h->rx_ready = true;
        }
        return true;
}

/* A slot that lost WAL: said; pg_receivewal stopped, the slot dropped and made anew, the
 * spool emptied (none of it is of use), the cursor cleared until the next root. */
static void slot_lost(AgentReplicator *rp, WalHook *h) {
        _cleanup_free_ char *err = NULL;
        char shipped[YB_PG_LSN_MAX + 1] = "none";

        if (h->have_cursor)
                yb_pg_lsn_format(h->shipped, shipped);
        agent_out_error(&rp->out,
                        "PostgreSQL hook '%s' of system '%s': the replication slot '%s' lost "
                        "WAL (its wal_status is \"lost\": the server removed WAL it kept, as "
                        "max_slot_wal_keep_size allows). Point-in-time restore has a gap from "
                        "the last shipped LSN %s to the next root, which is made now; raise "
                        "max_slot_wal_keep_size if outages last longer.",
                        h->hook->name, rp->args->backup.system, h->slot, shipped);
        agent_wal_receiver_stop(&h->rx);
        if (agent_wal_receiver_slot(&h->rx, true, &err) < 0)
                log_warning("Cannot drop the slot '%s': %s", h->slot, err ? err : "");
        if (h->segment_size && agent_wal_spool_clear(h->spool, h->segment_size) < 0)
                log_warning("Cannot empty the WAL spool '%s'.", h->spool);
        h->rx_ready = false;
        h->flushed = 0;
        h->have_cursor = false;
        h->cursor_from_spool = false;
        h->n_seen = 0;
        h->seen_max = 0;
}

/* A position seen now: pending from now on if it is beyond what was seen before. */
static void saw(WalHook *h, uint64_t lsn, int64_t now_ns) {
        if (lsn <= h->seen_max)
                return;
        h->seen_max = lsn;
        if (h->n_seen > 0 && h->n_seen == SEEN_MAX) {
                h->seen[h->n_seen - 1].lsn = lsn; /* keeps the older time: the lag errs high */
                return;
        }
        if (!h->seen) {
                h->seen = new0(Seen, SEEN_MAX);
                if (!h->seen)
                        return;
        }
        h->seen[h->n_seen++] = (Seen){ lsn, now_ns };
}

/* Forgets what the chain now holds. */
static void shipped_to(WalHook *h, uint64_t lsn) {
        size_t k = 0;

        while (k < h->n_seen && h->seen[k].lsn <= lsn)
                k++;
        memmove(h->seen, h->seen + k, (h->n_seen - k) * sizeof(Seen));
        h->n_seen -= k;
}

static json_t *lsn_json(bool known, uint64_t lsn) {
        char s[YB_PG_LSN_MAX + 1];

        if (!known)
                return json_null();
        yb_pg_lsn_format(lsn, s);
        return json_string(s);
}

/* The lag's "postgresql" and the oldest pending WAL, to the output. */
static void report(AgentReplicator *rp) {
        AgentWal *w = rp->wal;
        json_t *o = json_object();
        int64_t oldest = 0;

        for (size_t i = 0; o && i < w->n; i++) {
                WalHook *h = &w->hooks[i];
                bool slot = h->have_pos && h->pos.slot_exists && h->pos.wal_status[0];

                if (h->n_seen > 0 && (!oldest || h->seen[0].ns < oldest))
                        oldest = h->seen[0].ns;
                json_object_set_new(
                        o, h->hook->name,
                        json_pack("{s:o, s:o, s:o, s:o, s:o}", "server_lsn",
                                  lsn_json(h->have_pos && h->pos.server_lsn, h->pos.server_lsn),
                                  "received_lsn", lsn_json(h->flushed != 0, h->flushed),
                                  "shipped_lsn", lsn_json(h->have_cursor, h->shipped), "slot",
                                  slot ? json_string(h->pos.wal_status) : json_null(),
                                  "safe_wal_size",
                                  h->have_pos && h->pos.has_safe_wal_size
                                          ? json_integer(h->pos.safe_wal_size)
                                          : json_null()));
        }
        agent_out_set_pg(&rp->out, o, oldest);
}

bool agent_wal_tick(AgentReplicator *rp) {
        AgentWal *w = rp->wal;
        bool lost = false;

        if (!w)
                return false;
        for (size_t i = 0; i < w->n; i++) {
                WalHook *h = &w->hooks[i];
                _cleanup_free_ char *err = NULL;
                int64_t now = yb_now_ns();

                if (agent_wal_receiver_check(&h->rx, &err) == 1) {
                        agent_out_error(&rp->out,
                                        "PostgreSQL hook '%s' of system '%s': %s. Its WAL "
                                        "waits in the slot '%s' meanwhile.",
                                        h->hook->name, rp->args->backup.system,
                                        err ? err : "pg_receivewal ended", h->slot);
                        free(TAKE_PTR(err));
                }
                if (setup_hook(rp, h) && h->rx_ready) {
                        if (agent_wal_receiver_run(&h->rx, &err) < 0)
                                say(rp, h, "", err);
                        else if (h->rx.child.pid > 0) {
                                free(h->said); /* all is well again: a new problem is said */
                                h->said = NULL;
                        }
                        free(TAKE_PTR(err));
                }
                h->have_pos = false;
                if (h->server) {
                        if (agent_wal_server_positions(h->server, h->slot, &h->pos, &err) < 0) {
                                say(rp, h, "cannot read its server's WAL position:", err);
                                h->server = agent_wal_server_free(h->server);
                        } else
                                h->have_pos = true;
                }
                if (!h->have_pos)
                        continue;
                if (h->pos.flush_lsn > h->flushed)
                        h->flushed = h->pos.flush_lsn;
                saw(h, MAX(h->pos.server_lsn, h->flushed), now);
                if (h->pos.slot_exists && streq(h->pos.wal_status, "lost")) {
                        slot_lost(rp, h);
                        lost = true;
                } else if (!h->pos.slot_exists && h->rx_ready) {
                        /* Dropped by someone: made again at the next tick. */
                        agent_wal_receiver_stop(&h->rx);
                        h->rx_ready = false;
                        say(rp, h, "its replication slot is gone;",
                            "it is made again (WAL the server removed meanwhile is lost)");
                }
        }
        report(rp);
        return lost;
}

void agent_wal_chain_start(AgentReplicator *rp) {
        AgentWal *w = rp->wal;

        if (!w)
                return;
        w->pg_dir_done = false;
        for (size_t i = 0; i < w->n; i++) {
                WalHook *h = &w->hooks[i];
                const YbPgBackup *base = NULL;

                for (size_t j = 0; rp->root && j < rp->root->n_pg; j++)
                        if (streq(rp->root->pg[j].name, h->hook->name))
                                base = &rp->root->pg[j];
                h->dirs_done = false;
                h->root_base = base != NULL;
                h->have_cursor = false;
                h->cursor_from_spool = !base;
                if (base) {
                        h->segment_size = base->wal_segment_size;
                        h->timeline = base->timeline;
                        h->shipped = base->stop_lsn - base->stop_lsn % base->wal_segment_size;
                        h->have_cursor = true;
                        shipped_to(h, h->shipped);
                } else
                        log_warning("Root %s holds no base backup of PostgreSQL hook '%s': its "
                                    "chain ships WAL from what the spool holds.",
                                    rp->root ? rp->root->id : "?", h->hook->name);
        }
        report(rp);
}

/* Calls fn for every piece hook h can ship now, in order, from its cursor on. A missing WAL file
 * before one the spool holds is a gap (*ret_gap_from..*ret_gap_to; equal when none). Returns
 * fn's error or the position after the last piece. */
typedef int (*PieceFn)(AgentReplicator *rp, WalHook *h, const AgentWalFile *f, uint64_t off,
                       uint64_t len);

static int plan(AgentReplicator *rp, WalHook *h, PieceFn fn, uint64_t *ret_end,
                uint64_t *ret_gap_from, uint64_t *ret_gap_to) {
        _cleanup_free_ AgentWalFile *files = NULL;
        size_t n = 0;
        uint64_t pos;
        int r;

        *ret_gap_from = *ret_gap_to = 0;
        if (!h->segment_size || (!h->have_cursor && !h->cursor_from_spool))
                return 0;
        r = agent_wal_spool_list(h->spool, h->segment_size, &files, &n);
        if (r < 0)
                return r;
        if (!h->have_cursor) {
                if (n == 0)
                        return 0;
                h->timeline = files[0].timeline;
                h->shipped = files[0].segno * h->segment_size;
                h->have_cursor = true;
        }
        pos = h->shipped;
        for (size_t i = 0; i < n; i++) {
                const AgentWalFile *f = &files[i];
                uint64_t start = f->segno * h->segment_size, end = start + h->segment_size;
                uint64_t limit;

                if (f->timeline != h->timeline || end <= pos)
                        continue;
                if (start > pos) {
                        *ret_gap_from = pos;
                        *ret_gap_to = start;
                        pos = start;
                }
                limit = f->partial ? MIN(end, h->flushed) : end;
                if (limit <= pos)
                        break;
                if (fn) {
                        r = fn(rp, h, f, pos - start, limit - pos);
                        if (r < 0)
                                return r;
                }
                pos = limit;
                if (f->partial)
                        break;
        }
        *ret_end = pos;
        return 0;
}

bool agent_wal_pending(AgentReplicator *rp) {
        AgentWal *w = rp->wal;

        for (size_t i = 0; w && i < w->n; i++) {
                WalHook *h = &w->hooks[i];
                uint64_t end = 0, gf, gt;

                if (plan(rp, h, NULL, &end, &gf, &gt) >= 0 && h->have_cursor && end > h->shipped)
                        return true;
        }
        return false;
}

/* A directory of the chain's "_pg" tree, made by the agent. */
static int add_dir(AgentReplicator *rp, const char *path) {
        AgentBackup *b = &rp->b;
        YbEntry me;
        int r;

        agent_meta_own(&b->owners, path, yb_now_ns(), &me);
        me.type = YB_ENTRY_DIR;
        r = yb_snapshot_writer_add(b->w, &me);
        if (r >= 0)
                b->hdr.counts.dirs++;
        return r;
}

/* "_pg", "_pg/<hook>" (when the root holds no base of it) and "_pg/<hook>/wal", once a chain. */
static int add_dirs(AgentReplicator *rp, WalHook *h) {
        AgentWal *w = rp->wal;
        _cleanup_free_ char *root = yb_pg_path_root(h->hook->name), *wal = NULL;
        int r = 0;

        if (!root || asprintf(&wal, "%s/wal", root) < 0)
                return -ENOMEM;
        if (!h->root_base && !w->pg_dir_done && !w->pg_dir_inflight) {
                r = add_dir(rp, YB_PG_DIR);
                w->pg_dir_inflight = r >= 0;
        }
        if (r >= 0 && !h->root_base)
                r = add_dir(rp, root);
        if (r >= 0)
                r = add_dir(rp, wal);
        if (r >= 0)
                h->dirs_inflight = true;
        return r;
}

/* Stores bytes off..off+len of WAL file f as the piece "_pg/<hook>/wal/<WAL>.<OFFSET>". */
static int add_piece(AgentReplicator *rp, WalHook *h, const AgentWalFile *f, uint64_t off,
                     uint64_t len) {
        AgentBackup *b = &rp->b;
        _cleanup_free_ char *path = yb_pg_path_wal(h->hook->name, f->name, (int64_t) off);
        _cleanup_free_ char *pax = NULL;
        _cleanup_close_ int fd = -EBADF;
        YbPaxEntry pe;
        YbEntry me;
        YbHash hash;
        int r;

        if (!path || asprintf(&pax, "tree/%s", path) < 0)
                return -ENOMEM;
        if (!h->dirs_done && !h->dirs_inflight) {
                r = add_dirs(rp, h);
                if (r < 0)
                        return r;
        }
        fd = agent_wal_spool_open(h->spool, f);
        if (fd < 0)
                return log_error_errno(fd, "Cannot open WAL file %s in the spool '%s': %m", f->name,
                                       h->spool);
        agent_meta_own(&b->owners, path, yb_now_ns(), &me);
        me.mode = 0600;
        me.type = YB_ENTRY_FILE;
        me.size = len;
        me.content = YB_CONTENT_WHOLE;
        me.stored = len;
        agent_pax_from(&me, pax, len, &pe);
        r = yb_snapshot_writer_begin_entry(b->w, &pe, &me.volume, &me.entry);
        if (r < 0)
                return r;
        yb_hash_init(&hash);
        for (uint64_t done = 0; done < len;) {
                size_t want = (size_t) MIN(len - done, (uint64_t) AGENT_READ_BUF_SIZE);
                ssize_t k = yb_pread_all(fd, b->buf, want, off + done);

                if (k != (ssize_t) want)
                        /* The spool is ours and WAL files only grow: this is damage. */
                        return log_error_errno(k < 0 ? (int) k : EIO,
                                               "Cannot read %zu bytes at %" PRIu64
                                               " of WAL file %s in the spool '%s': %s",
                                               want, off + done, f->name, h->spool,
                                               k < 0 ? strerror((int) -k) : "it is short");
                yb_hash_update(&hash, b->buf, want);
                r = yb_snapshot_writer_data(b->w, b->buf, want);
                if (r < 0)
                        return r;
                done += want;
        }
        r = yb_snapshot_writer_end_entry(b->w);
        if (r < 0)
                return r;
        yb_hash_final(&hash, me.hash);
        r = yb_snapshot_writer_add(b->w, &me);
        if (r < 0)
                return r;
        b->hdr.counts.files++;
        b->hdr.counts.whole++;
        b->hdr.bytes_source += len;
        b->hdr.bytes_read += len;
        rp->wal->bytes_inflight += len;
        return 0;
}

int64_t agent_wal_write(AgentReplicator *rp) {
        AgentWal *w = rp->wal;
        uint64_t before = rp->b.hdr.counts.files + rp->b.hdr.counts.dirs;

        if (!w)
                return 0;
        w->bytes_inflight = 0;
        for (size_t i = 0; i < w->n; i++) {
                WalHook *h = &w->hooks[i];
                uint64_t end = 0, gap_from, gap_to;
                int r = plan(rp, h, add_piece, &end, &gap_from, &gap_to);

                if (r < 0)
                        return r;
                if (gap_to > gap_from) {
                        char a[YB_PG_LSN_MAX + 1], z[YB_PG_LSN_MAX + 1];

                        yb_pg_lsn_format(gap_from, a);
                        yb_pg_lsn_format(gap_to, z);
                        agent_out_error(&rp->out,
                                        "PostgreSQL hook '%s' of system '%s': the WAL from %s to "
                                        "%s is not in the spool '%s' (removed, or never "
                                        "received): point-in-time restore from this chain has "
                                        "a gap there; the next root (a checkpoint) ends it.",
                                        h->hook->name, rp->args->backup.system, a, z, h->spool);
                }
                if (h->have_cursor && end > h->shipped)
                        h->inflight = end;
        }
        return (int64_t) (rp->b.hdr.counts.files + rp->b.hdr.counts.dirs - before);
}

/* Removes the completed WAL files whose every byte the chain holds, but the newest completed. */
static void trim_spool(WalHook *h) {
        _cleanup_free_ AgentWalFile *files = NULL;
        size_t n = 0, newest = SIZE_MAX;

        if (agent_wal_spool_list(h->spool, h->segment_size, &files, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++)
                if (!files[i].partial)
                        newest = i;
        for (size_t i = 0; i < n; i++) {
                uint64_t end = (files[i].segno + 1) * h->segment_size;

                if (files[i].partial || i == newest || end > h->shipped)
                        continue;
                if (agent_wal_spool_remove(h->spool, &files[i]) < 0)
                        log_warning("Cannot remove the shipped WAL file %s from the spool '%s'.",
                                    files[i].name, h->spool);
        }
}

uint64_t agent_wal_segment_end(AgentReplicator *rp, bool committed) {
        AgentWal *w = rp->wal;
        uint64_t bytes;

        if (!w)
                return 0;
        bytes = committed ? w->bytes_inflight : 0;
        if (committed && w->pg_dir_inflight)
                w->pg_dir_done = true;
        w->pg_dir_inflight = false;
        w->bytes_inflight = 0;
        for (size_t i = 0; i < w->n; i++) {
                WalHook *h = &w->hooks[i];

                if (committed && h->dirs_inflight)
                        h->dirs_done = true;
                h->dirs_inflight = false;
                if (committed && h->inflight > h->shipped) {
                        h->shipped = h->inflight;
                        shipped_to(h, h->shipped);
                        trim_spool(h);
                }
                h->inflight = 0;
        }
        if (committed)
                report(rp);
        return bytes;
}
