/* The replicator's plain libpq session with a hook's server: its settings once, then every
 * interval its WAL position, the replication slot's row (wal_status, safe_wal_size) and what the
 * receiver on it has flushed (pg_stat_replication's flush_lsn of the slot's active walsender: the
 * receiver's own report, null until its first one, never the slot's restart_lsn, which a new
 * receiver in an empty spool has not reached yet). Queries are sent
 * asynchronously and waited for with a deadline, so that a server that stopped answering does
 * not stop the replicator's loop: the session is then ended and opened again next time. */
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#include "agents/pq-lib.h"
#include "agents/replicate-wal.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"

#define QUERY_TIMEOUT_USEC (10 * YB_USEC_PER_SEC)

struct AgentWalServer {
        PGconn *conn;
};

/* PostgreSQL's message, whole, without its final newline. */
static char *pg_message(const char *what, const char *msg) {
        char *s = NULL;
        size_t n = msg ? strlen(msg) : 0;

        while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
                n--;
        if (asprintf(&s, "%s: %.*s", what, (int) n, msg ? msg : "") < 0)
                return NULL;
        return s;
}

int agent_wal_server_open(const char *conninfo, AgentWalServer **ret, char **ret_error) {
        /* The conninfo comes last, so that what it sets wins. */
        const char *const keys[] = { "application_name", "connect_timeout", "dbname", NULL };
        const char *const values[] = { "yunbak-agent replicate", "10", conninfo, NULL };
        AgentWalServer *s = new0(AgentWalServer, 1);

        if (!s)
                return -ENOMEM;
        if (yb_dynlib_load(&yb_libpq) < 0) {
                *ret_error = strdup(yb_dynlib_error(&yb_libpq));
                free(s);
                return *ret_error ? -ELIBACC : -ENOMEM;
        }
        s->conn = PQconnectdbParams(keys, values, 1);
        if (!s->conn || PQstatus(s->conn) != CONNECTION_OK) {
                *ret_error = pg_message("cannot connect",
                                        s->conn ? PQerrorMessage(s->conn) : "out of memory");
                agent_wal_server_free(s);
                return -EIO;
        }
        *ret = s;
        return 0;
}

AgentWalServer *agent_wal_server_free(AgentWalServer *s) {
        if (!s)
                return NULL;
        if (s->conn)
                PQfinish(s->conn);
        free(s);
        return NULL;
}

/* Runs sql (one text parameter, or none) and gives its one row's columns as strings (NULL for a
 * SQL null; the caller frees them). 0, or -errno with *ret_error; a timeout ends the session. */
static int query_row(AgentWalServer *s, const char *sql, const char *param, size_t n_cols,
                     char **ret_cols, char **ret_error) {
        int64_t deadline = yb_monotonic_usec() + QUERY_TIMEOUT_USEC;
        PGresult *res = NULL, *last = NULL;
        int r = 0;

        if (!s->conn || PQstatus(s->conn) != CONNECTION_OK) {
                *ret_error =
                        pg_message("the session ended", s->conn ? PQerrorMessage(s->conn) : "");
                return -EIO;
        }
        if (!PQsendQueryParams(s->conn, sql, param ? 1 : 0, NULL, param ? &param : NULL, NULL, NULL,
                               0)) {
                *ret_error = pg_message("cannot send a query", PQerrorMessage(s->conn));
                return -EIO;
        }
        for (;;) {
                if (!PQconsumeInput(s->conn)) {
                        *ret_error = pg_message("the query failed", PQerrorMessage(s->conn));
                        r = -EIO;
                        break;
                }
                if (!PQisBusy(s->conn)) {
                        res = PQgetResult(s->conn);
                        if (!res)
                                break;
                        if (last)
                                PQclear(last);
                        last = res;
                        continue;
                }
                int64_t left = deadline - yb_monotonic_usec();
                struct pollfd p = { PQsocket(s->conn), POLLIN, 0 };

                if (left <= 0) {
                        *ret_error = strdup("the server did not answer within 10 s");
                        r = -ETIMEDOUT;
                        break;
                }
                (void) poll(&p, 1, yb_usec_to_ms_ceil(left));
        }
        if (r < 0) {
                if (last)
                        PQclear(last);
                /* The session is in an unknown state: end it; the next call connects again. */
                PQfinish(s->conn);
                s->conn = NULL;
                return r;
        }
        if (!last || PQresultStatus(last) != PGRES_TUPLES_OK || PQntuples(last) != 1 ||
            (size_t) PQnfields(last) < n_cols) {
                *ret_error = pg_message("the query failed",
                                        last ? PQresultErrorMessage(last) : "no result");
                if (last)
                        PQclear(last);
                return -EIO;
        }
        for (size_t i = 0; i < n_cols; i++) {
                ret_cols[i] =
                        PQgetisnull(last, 0, (int) i) ? NULL : strdup(PQgetvalue(last, 0, (int) i));
        }
        PQclear(last);
        return 0;
}

static void free_cols(char **cols, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(cols[i]);
}

int agent_wal_server_info(AgentWalServer *s, AgentWalServerInfo *ret, char **ret_error) {
        char *c[4] = { 0 };
        int r;

        r = query_row(s,
                      "SELECT current_setting('server_version_num'), "
                      "(SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'), "
                      "(SELECT setting FROM pg_settings WHERE name = 'max_slot_wal_keep_size'), "
                      "pg_is_in_recovery()::text",
                      NULL, 4, c, ret_error);
        if (r < 0)
                return r;
        if (!c[0] || !c[1] || !c[2] || !c[3]) {
                free_cols(c, 4);
                *ret_error = strdup("the server did not give its version and WAL settings");
                return -EIO;
        }
        *ret = (AgentWalServerInfo){ .version = atoi(c[0]),
                                     .segment_size = (uint32_t) strtoul(c[1], NULL, 10),
                                     .max_slot_wal_keep_mb = strtoll(c[2], NULL, 10),
                                     .in_recovery = streq(c[3], "true") };
        free_cols(c, 4);
        return 0;
}

int agent_wal_server_positions(AgentWalServer *s, const char *slot, AgentWalPositions *ret,
                               char **ret_error) {
        AgentWalPositions p = { 0 };
        char *c[5] = { 0 };
        int r;

        r = query_row(s,
                      "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
                      "ELSE pg_current_wal_lsn() END, "
                      "s.slot_name IS NOT NULL, w.flush_lsn, s.wal_status, s.safe_wal_size "
                      "FROM (SELECT 1) x LEFT JOIN pg_replication_slots s ON s.slot_name = $1 "
                      "LEFT JOIN pg_stat_replication w ON w.pid = s.active_pid",
                      slot, 5, c, ret_error);
        if (r < 0)
                return r;
        if (c[0])
                (void) yb_pg_lsn_parse(c[0], &p.server_lsn);
        p.slot_exists = c[1] && streq(c[1], "t");
        if (c[2])
                (void) yb_pg_lsn_parse(c[2], &p.flush_lsn);
        if (c[3])
                snprintf(p.wal_status, sizeof(p.wal_status), "%s", c[3]);
        if (c[4]) {
                p.has_safe_wal_size = true;
                p.safe_wal_size = strtoll(c[4], NULL, 10);
        }
        free_cols(c, 5);
        *ret = p;
        return 0;
}
