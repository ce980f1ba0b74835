/* agents/pg-session.h: one libpq session with a PostgreSQL server for a physical base backup
 * (agents/pg-session.c). The session stays open from the checks to pg_backup_stop: the backup is
 * non-exclusive, so it lives exactly as long as the connection, and a temporary replication slot
 * made on the same connection keeps the server's WAL from being recycled meanwhile. When the
 * agent dies, the server ends both as the connection closes.
 *
 * Every function that fails keeps why (agent_pg_session_error), naming the hook and keeping
 * PostgreSQL's own message whole, for the caller to say once; it returns -errno (-ECONNREFUSED: no
 * session; -EPERM: a privilege is missing; -EPROTONOSUPPORT: the server is too old or set up so
 * that a base backup is not possible; -EIO: a query failed). */
#pragma once

#include <stdint.h>

#include "core/base/macro.h"
#include "core/repo/pg.h"

typedef struct AgentPgSession AgentPgSession;

/* What the server says about itself, read once after connecting. */
typedef struct AgentPgInfo {
        int version;                /* server_version_num: 150018 */
        char *version_text;         /* server_version: "15.18 (Debian 15.18-0+deb12u1)" */
        char *data_directory;       /* the data_directory setting */
        uint32_t wal_segment_size;  /* bytes */
        uint64_t system_identifier; /* pg_control_system() */
        uint32_t *tablespace_oids;  /* tablespaces other than pg_default and pg_global */
        char **tablespace_paths;    /* each one's pg_tablespace_location() */
        size_t n_tablespaces;
} AgentPgInfo;

/* What pg_backup_start and pg_backup_stop returned. */
typedef struct AgentPgStop {
        uint64_t stop_lsn;
        char *labelfile;    /* backup_label's contents */
        char *spcmapfile;   /* tablespace_map's contents ("" without tablespaces) */
        int64_t stopped_ns; /* the server's clock after pg_backup_stop returned */
} AgentPgStop;

/* A session for hook (its name, for messages), not yet connected. 0 or -ENOMEM; the caller owns
 * *ret. */
int agent_pg_session_new(const char *hook, AgentPgSession **ret);
/* Connects with the libpq connection string conninfo, adding application_name=yunbak-agent and
 * connect_timeout=30 unless it sets them, then checks that a base backup is possible
 * (PostgreSQL 15 or later, wal_level above minimal, full_page_writes on, the role's privileges)
 * and reads *ret_info (freed by the caller with agent_pg_info_done). */
int agent_pg_session_connect(AgentPgSession *s, const char *conninfo, AgentPgInfo *ret_info);
/* Why the last call on s failed: one sentence or more naming the hook, PostgreSQL's own message
 * whole, and what to do. */
const char *agent_pg_session_error(const AgentPgSession *s);
/* Ends the session. A backup still in progress is stopped first (its result discarded), so that
 * the server is never left to clean up after us while we can do it; the temporary slot goes with
 * the connection. Accepts NULL; always returns NULL. */
AgentPgSession *agent_pg_session_free(AgentPgSession *s);
DEFINE_FREEP(AgentPgSession, agent_pg_session_free);
void agent_pg_info_done(AgentPgInfo *info);

/* Makes a temporary physical replication slot reserving WAL from now on (named "yunbak_<hook>_
 * <pid>", lower case), then calls pg_backup_start(label, fast => true). Gives the start LSN and
 * the server's clock after it returned. */
int agent_pg_backup_start(AgentPgSession *s, const char *label, uint64_t *ret_start_lsn,
                          int64_t *ret_started_ns);
/* pg_backup_stop(wait_for_archive => false). ret is freed by the caller (agent_pg_stop_done). */
int agent_pg_backup_stop(AgentPgSession *s, AgentPgStop *ret);
void agent_pg_stop_done(AgentPgStop *st);

/* Reads "START WAL LOCATION: X/Y (file ...)" and "START TIMELINE: N" of a backup_label. 0 or
 * -EBADMSG when either is missing or malformed. */
int agent_pg_label_parse(const char *label, uint64_t *ret_start_lsn, uint32_t *ret_timeline);
