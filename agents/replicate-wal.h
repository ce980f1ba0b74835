/* agents/replicate-wal.h: PostgreSQL WAL streamed to tier 2 (docs/postgresql.md, "WAL to tier
 * 2"), the replicator's part for its --postgresql hooks. Private to the replicator.
 *
 * From the bottom up: a plain libpq session that reads the server's settings, its WAL position
 * and the replication slot (agents/wal-server.c); the spool directory that pg_receivewal fills
 * (agents/wal-spool.c); pg_receivewal itself, a child restarted with backoff when it ends
 * (agents/wal-receiver.c); and the hooks' WAL shipped as pieces in the replicator's segments,
 * with the positions and the lag (agents/replicate-wal.c, which agents/replicate.h declares).
 * Lower parts never call higher ones. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "core/base/buf.h"
#include "core/base/macro.h"
#include "core/base/spawn.h"
#include "core/repo/pg.h"

/* The plain libpq session of a hook (agents/wal-server.c). Every call is bounded in time: a
 * server that does not answer within a few seconds ends the session (it is opened again at the
 * next interval). Errors come in *ret_error (the caller frees it): PostgreSQL's whole message,
 * trimmed of its final newline. */
typedef struct AgentWalServer AgentWalServer;

/* Connects with conninfo (application_name and connect_timeout given unless it sets them). 0, or
 * -EIO / -ENOMEM with *ret_error. */
int agent_wal_server_open(const char *conninfo, AgentWalServer **ret, char **ret_error);
AgentWalServer *agent_wal_server_free(AgentWalServer *s); /* Accepts NULL; returns NULL. */
DEFINE_FREEP(AgentWalServer, agent_wal_server_free);

typedef struct AgentWalServerInfo {
        int version;                  /* server_version_num (150018) */
        uint32_t segment_size;        /* wal_segment_size, bytes */
        int64_t max_slot_wal_keep_mb; /* max_slot_wal_keep_size in MiB; -1: unlimited */
        bool in_recovery;             /* a standby */
} AgentWalServerInfo;

/* Reads the settings the replicator needs. 0, or -errno with *ret_error. */
int agent_wal_server_info(AgentWalServer *s, AgentWalServerInfo *ret, char **ret_error);

typedef struct AgentWalPositions {
        uint64_t server_lsn; /* pg_current_wal_lsn() (a standby: its replay position); 0: none */
        bool slot_exists;    /* the slot is there */
        uint64_t flush_lsn;  /* what the receiver on the slot reported flushed; 0: none is
                              * connected, or it has not reported yet */
        char wal_status[16]; /* "reserved", "extended", "unreserved", "lost"; "" when null */
        bool has_safe_wal_size;
        int64_t safe_wal_size; /* bytes the server may write before the slot loses WAL */
} AgentWalPositions;

/* Reads the server's WAL position and slot's row. 0, or -errno with *ret_error. */
int agent_wal_server_positions(AgentWalServer *s, const char *slot, AgentWalPositions *ret,
                               char **ret_error);

/* A WAL file of the spool (agents/wal-spool.c). */
typedef struct AgentWalFile {
        char name[YB_PG_WAL_NAME_LEN + 1];
        uint32_t timeline;
        uint64_t segno;
        bool partial; /* "<name>.partial": pg_receivewal writes it now (padded to full size) */
} AgentWalFile;

/* Lists the WAL files of the spool dir ("<WAL>" completed, "<WAL>.partial" being written;
 * anything else is left alone), by segment number, then timeline. A missing dir is empty. The
 * caller frees *ret. 0 or -errno. */
int agent_wal_spool_list(const char *dir, uint32_t segment_size, AgentWalFile **ret, size_t *ret_n);
/* Opens f for reading (a .partial renamed since the listing is found under its new name).
 * Returns the fd or -errno. */
int agent_wal_spool_open(const char *dir, const AgentWalFile *f);
/* Removes the completed WAL file f. 0 or -errno (-ENOENT counts as done). */
int agent_wal_spool_remove(const char *dir, const AgentWalFile *f);
/* Removes every WAL file of the spool (after its slot lost WAL, none of it is of use). */
int agent_wal_spool_clear(const char *dir, uint32_t segment_size);

/* pg_receivewal of one hook, as a child of the replicator (agents/wal-receiver.c). */
typedef struct AgentWalReceiver {
        const char *hook;     /* borrowed */
        const char *conninfo; /* borrowed */
        const char *slot;     /* borrowed */
        const char *spool;    /* borrowed */
        char *program;        /* the pg_receivewal chosen, or NULL until agent_wal_receiver_find */
        int major;            /* its major version */
        YbChild child;        /* pid 0 while it does not run */
        int64_t started_usec; /* monotonic */
        int64_t restart_at_usec;
        int64_t backoff_usec;
        YbBuf err;      /* its standard error not yet a whole line */
        char tail[768]; /* its last lines, joined by " | " */
} AgentWalReceiver;

/* Sets r up for hook (the strings are borrowed and must outlive r). */
void agent_wal_receiver_init(AgentWalReceiver *r, const char *hook, const char *conninfo,
                             const char *slot, const char *spool);
/* Stops the child (SIGTERM, then SIGKILL after a grace period) and frees what r holds. */
void agent_wal_receiver_done(AgentWalReceiver *r);
/* Chooses pg_receivewal: from PATH, else the newest /usr/lib/postgresql/<N>/bin, the first
 * whose major version is at least server_major. 0, or -ENOENT / -EPROTONOSUPPORT with
 * *ret_error. */
int agent_wal_receiver_find(AgentWalReceiver *r, int server_major, char **ret_error);
/* Runs 'pg_receivewal --create-slot --if-not-exists' (or, with drop, '--drop-slot') for r's
 * slot and waits for it. 0, or -EIO with *ret_error (its standard error). */
int agent_wal_receiver_slot(AgentWalReceiver *r, bool drop, char **ret_error);
/* Starts 'pg_receivewal -D spool --slot S --synchronous --no-loop --dbname CONNINFO' when it does
 * not run and its restart is due. 0 (running or waiting), or -errno with *ret_error. */
int agent_wal_receiver_run(AgentWalReceiver *r, char **ret_error);
/* Reads its standard error (each line logged); when it has ended, reaps it and returns 1 with
 * *ret_error saying how it ended and its last lines, and schedules its restart (1 s doubling to
 * 30 s; back to 1 s after a minute's run). 0 while it runs or does not. */
int agent_wal_receiver_check(AgentWalReceiver *r, char **ret_error);
/* Stops the child now (its restart waits for agent_wal_receiver_run). */
void agent_wal_receiver_stop(AgentWalReceiver *r);
/* Seconds until its restart (0 when it runs). */
int64_t agent_wal_receiver_restart_in_usec(const AgentWalReceiver *r);

/* "yunbak_<system>_<hook>": lower-cased, other characters than [a-z0-9_] as '_', cut to 63. */
void agent_wal_slot_name(const char *system, const char *hook, char ret[64]);
