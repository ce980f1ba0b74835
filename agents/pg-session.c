/* The libpq session of a physical base backup: connect, check that the server and the role allow
 * a base backup (saying exactly which GRANT or ALTER ROLE is missing), read what the backup needs
 * to know, then pg_backup_start and pg_backup_stop on that same connection. The queries use
 * only the text protocol and PostgreSQL 15's function names. */
#include "agents/pg-session.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agents/pq-lib.h"
#include "core/base/log.h"
#include "core/base/macro.h"
#include "core/base/timeutil.h"

struct AgentPgSession {
        PGconn *conn;
        char *hook;
        bool in_backup;   /* between pg_backup_start and pg_backup_stop */
        char error[2048]; /* what the last failure was */
};

/* Keeps the message of a failure (the caller says it, once) and returns r. */
_printf_(3, 4) static int fail(AgentPgSession *s, int r, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(s->error, sizeof(s->error), fmt, ap);
        va_end(ap);
        return r;
}

const char *agent_pg_session_error(const AgentPgSession *s) {
        return s->error;
}

void agent_pg_info_done(AgentPgInfo *info) {
        if (!info)
                return;
        free(info->version_text);
        free(info->data_directory);
        for (size_t i = 0; i < info->n_tablespaces; i++)
                free(info->tablespace_paths[i]);
        free(info->tablespace_paths);
        free(info->tablespace_oids);
        *info = (AgentPgInfo){ 0 };
}

void agent_pg_stop_done(AgentPgStop *st) {
        if (!st)
                return;
        free(st->labelfile);
        free(st->spcmapfile);
        *st = (AgentPgStop){ 0 };
}

/* libpq's message on one line, in buf: its lines joined by " | ", tabs as spaces, without its
 * final newline (as the agent says a stream's message). */
static const char *pq_message(const char *msg, char *buf, size_t size) {
        size_t n = 0;

        if (!msg || !*msg)
                msg = "no message from libpq";
        for (const char *c = msg; *c && n + 4 < size; c++) {
                if (*c == '\n') {
                        while (c[1] == '\t' || c[1] == ' ')
                                c++;
                        if (c[1] && c[1] != '\n') {
                                memcpy(buf + n, " | ", 3);
                                n += 3;
                        }
                } else if (*c != '\r')
                        buf[n++] = *c == '\t' ? ' ' : *c;
        }
        buf[n] = 0;
        return buf;
}

/* Runs sql with params (text) and wants rows back: the result, or NULL having said that the
 * server refused to `what` and why. */
static PGresult *query(AgentPgSession *s, const char *what, const char *sql, int n_params,
                       const char *const *params) {
        PGresult *res = PQexecParams(s->conn, sql, n_params, NULL, params, NULL, NULL, 0);
        char msg[2048];

        if (res && PQresultStatus(res) == PGRES_TUPLES_OK)
                return res;
        fail(s, 0, "PostgreSQL hook '%s': cannot %s (the server said: \"%s\").%s", s->hook, what,
             pq_message(res ? PQresultErrorMessage(res) : PQerrorMessage(s->conn), msg,
                        sizeof(msg)),
             PQstatus(s->conn) == CONNECTION_BAD
                     ? " The connection was lost (the server restarted, or ended the session): "
                       "the server's backup, if one was started, ended with it. Run the backup "
                       "again once the server accepts connections."
                     : "");
        PQclear(res);
        return NULL;
}

/* A one-row result's value (NULL when the row or the value is missing). */
static const char *value(const PGresult *res, int col) {
        if (PQntuples(res) < 1 || col >= PQnfields(res) || PQgetisnull(res, 0, col))
                return NULL;
        return PQgetvalue(res, 0, col);
}

static int parse_i64(const char *s, int64_t *ret) {
        char *end;
        long long v;

        if (!s || !*s)
                return -EBADMSG;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || *end)
                return -EBADMSG;
        *ret = v;
        return 0;
}

static int parse_u64(const char *s, uint64_t *ret) {
        char *end;
        unsigned long long v;

        if (!s || !*s || *s == '-')
                return -EBADMSG;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || *end)
                return -EBADMSG;
        *ret = v;
        return 0;
}

/* The server's clock now, in nanoseconds. */
static int server_clock(AgentPgSession *s, int64_t *ret) {
        PGresult *res =
                query(s, "read its clock",
                      "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint", 0, NULL);
        int64_t usec;
        int r;

        if (!res)
                return -EIO;
        r = parse_i64(value(res, 0), &usec);
        PQclear(res);
        if (r < 0)
                return fail(s, r, "PostgreSQL hook '%s': the server's clock is unreadable.",
                            s->hook);
        *ret = yb_usec_to_ns(usec);
        return 0;
}

/* Connects with conninfo plus our defaults for what it leaves unset. */
static int connect_to(AgentPgSession *s, const char *conninfo) {
        PQconninfoOption *opts, *o;
        const char **kw = NULL, **val = NULL;
        bool has_app = false, has_timeout = false;
        char *err = NULL, msg[2048];
        size_t n = 0;

        if (yb_dynlib_load(&yb_libpq) < 0)
                return fail(s, -ELIBACC, "PostgreSQL hook '%s': %s.", s->hook,
                            yb_dynlib_error(&yb_libpq));
        opts = PQconninfoParse(conninfo, &err);
        if (!opts) {
                /* The string itself is not echoed: it may hold a password. */
                fail(s, 0,
                     "PostgreSQL hook '%s': the connection string is not one libpq takes "
                     "(libpq said: \"%s\"). Give it as 'host=... port=... user=... dbname=...' or "
                     "as a "
                     "postgresql:// URI.",
                     s->hook, pq_message(err, msg, sizeof(msg)));
                PQfreemem(err);
                return -EINVAL;
        }
        for (o = opts; o->keyword; o++)
                n++;
        kw = calloc(n + 3, sizeof(char *));
        val = calloc(n + 3, sizeof(char *));
        if (!kw || !val) {
                free(kw);
                free(val);
                PQconninfoFree(opts);
                return fail(s, -ENOMEM, "out of memory");
        }
        n = 0;
        for (o = opts; o->keyword; o++) {
                if (!o->val)
                        continue;
                has_app |= streq(o->keyword, "application_name");
                has_timeout |= streq(o->keyword, "connect_timeout");
                kw[n] = o->keyword;
                val[n++] = o->val;
        }
        if (!has_app) {
                kw[n] = "application_name";
                val[n++] = "yunbak-agent";
        }
        if (!has_timeout) {
                kw[n] = "connect_timeout";
                val[n++] = "30";
        }
        s->conn = PQconnectdbParams(kw, val, 0);
        free(kw);
        free(val);
        PQconninfoFree(opts);
        if (!s->conn)
                return fail(s, -ENOMEM, "out of memory");
        if (PQstatus(s->conn) != CONNECTION_OK) {
                fail(s, 0,
                     "PostgreSQL hook '%s': cannot connect (libpq said: \"%s\"). Check the "
                     "hook's host, port, user and database, and that the server is running.",
                     s->hook, pq_message(PQerrorMessage(s->conn), msg, sizeof(msg)));
                return -ECONNREFUSED;
        }
        return 0;
}

/* PostgreSQL 15 or later: pg_backup_start has that name since 15. */
static int check_version(AgentPgSession *s, AgentPgInfo *info) {
        PGresult *res = query(s, "read its version",
                              "SELECT current_setting('server_version_num'), "
                              "current_setting('server_version')",
                              0, NULL);
        int64_t v;

        if (!res)
                return -EIO;
        if (parse_i64(value(res, 0), &v) < 0 || v <= 0 || v > INT32_MAX || !value(res, 1)) {
                PQclear(res);
                return fail(s, -EBADMSG,
                            "PostgreSQL hook '%s': the server's version is unreadable.", s->hook);
        }
        info->version = (int) v;
        info->version_text = strdup(value(res, 1));
        PQclear(res);
        if (!info->version_text)
                return fail(s, -ENOMEM, "out of memory");
        if (info->version < 150000) {
                fail(s, 0,
                     "PostgreSQL hook '%s': the server is PostgreSQL %s (server_version_num "
                     "%d); a physical backup needs PostgreSQL 15 or later (it calls "
                     "pg_backup_start, PostgreSQL 15's name for it). Upgrade the server, or "
                     "use mode: dump for this hook.",
                     s->hook, info->version_text, info->version);
                return -EPROTONOSUPPORT;
        }
        return 0;
}

/* Appends "; " and the statement "<head><role><tail>" to the list of what the role lacks. */
static void lack(char *buf, size_t size, const char *head, const char *role, const char *tail) {
        size_t n = strlen(buf);

        snprintf(buf + n, size - n, "%s%s%s%s", n ? "; " : "", head, role, tail);
}

/* The settings a consistent base backup needs, and the role's privileges, all said at once. */
static int check_server(AgentPgSession *s) {
        PGresult *res =
                query(s, "read its settings and the role's privileges",
                      "SELECT current_setting('wal_level'), current_setting('full_page_writes'), "
                      "current_setting('max_replication_slots')::int, quote_ident(current_user), "
                      "r.rolsuper OR r.rolreplication, "
                      "r.rolsuper OR pg_has_role(current_user, 'pg_read_all_settings', 'USAGE'), "
                      "has_function_privilege('pg_backup_start(text, boolean)', 'EXECUTE'), "
                      "has_function_privilege('pg_backup_stop(boolean)', 'EXECUTE'), "
                      "has_function_privilege('pg_control_system()', 'EXECUTE') "
                      "FROM pg_roles r WHERE r.rolname = current_user",
                      0, NULL);
        char missing[2048] = "";
        const char *role;
        int r = 0;

        if (!res)
                return -EIO;
        role = value(res, 3);
        if (!value(res, 0) || !value(res, 1) || !role) {
                PQclear(res);
                return fail(s, -EBADMSG,
                            "PostgreSQL hook '%s': the server's settings are "
                            "unreadable.",
                            s->hook);
        }
        if (streq(value(res, 0), "minimal")) {
                fail(s, 0,
                     "PostgreSQL hook '%s': the server runs with wal_level = minimal, whose "
                     "WAL cannot make a base backup consistent. Set wal_level = replica (or "
                     "logical) in postgresql.conf and restart the server.",
                     s->hook);
                r = -EPROTONOSUPPORT;
        } else if (!streq(value(res, 1), "on")) {
                fail(s, 0,
                     "PostgreSQL hook '%s': the server runs with full_page_writes = %s: pages "
                     "copied while they are written could not be repaired by WAL replay. Set "
                     "full_page_writes = on and reload the server.",
                     s->hook, value(res, 1));
                r = -EPROTONOSUPPORT;
        } else if (streq(value(res, 2) ?: "0", "0")) {
                fail(s, 0,
                     "PostgreSQL hook '%s': the server runs with max_replication_slots = 0; "
                     "the backup keeps its WAL with a temporary replication slot. Set "
                     "max_replication_slots (10 is the default) and restart the server.",
                     s->hook);
                r = -EPROTONOSUPPORT;
        }
        if (r < 0) {
                PQclear(res);
                return r;
        }
        if (!streq(value(res, 4) ?: "f", "t"))
                lack(missing, sizeof(missing), "ALTER ROLE ", role, " REPLICATION");
        if (!streq(value(res, 5) ?: "f", "t"))
                lack(missing, sizeof(missing), "GRANT pg_read_all_settings TO ", role, "");
        if (!streq(value(res, 6) ?: "f", "t"))
                lack(missing, sizeof(missing),
                     "GRANT EXECUTE ON FUNCTION pg_backup_start(text, boolean) TO ", role, "");
        if (!streq(value(res, 7) ?: "f", "t"))
                lack(missing, sizeof(missing),
                     "GRANT EXECUTE ON FUNCTION pg_backup_stop(boolean) TO ", role, "");
        if (!streq(value(res, 8) ?: "f", "t"))
                lack(missing, sizeof(missing), "GRANT EXECUTE ON FUNCTION pg_control_system() TO ",
                     role, "");
        if (*missing) {
                fail(s, 0,
                     "PostgreSQL hook '%s': the role %s may not make a base backup. As a "
                     "superuser, run: %s.",
                     s->hook, role, missing);
                r = -EPERM;
        }
        PQclear(res);
        return r;
}

/* data_directory, the WAL segment size in bytes, the system identifier, the tablespaces. */
static int read_info(AgentPgSession *s, AgentPgInfo *info) {
        PGresult *res =
                query(s, "read the data directory and the WAL segment size",
                      "SELECT current_setting('data_directory'), "
                      "(SELECT setting::bigint * CASE unit WHEN 'B' THEN 1 WHEN 'kB' THEN 1024 "
                      "WHEN '8kB' THEN 8192 WHEN 'MB' THEN 1048576 ELSE 0 END "
                      "FROM pg_settings WHERE name = 'wal_segment_size'), "
                      "(SELECT system_identifier FROM pg_control_system())",
                      0, NULL);
        uint64_t size;
        int r;

        if (!res)
                return -EIO;
        r = parse_u64(value(res, 1), &size);
        if (r >= 0 && (size < (1u << 20) || size > (1u << 30) || (size & (size - 1))))
                r = -EBADMSG;
        if (r >= 0)
                r = parse_u64(value(res, 2), &info->system_identifier);
        if (r >= 0 && !value(res, 0))
                r = -EBADMSG;
        if (r < 0) {
                PQclear(res);
                return fail(s, r,
                            "PostgreSQL hook '%s': the data directory, WAL segment "
                            "size or system identifier is unreadable.",
                            s->hook);
        }
        info->wal_segment_size = (uint32_t) size;
        info->data_directory = strdup(value(res, 0));
        PQclear(res);
        if (!info->data_directory)
                return fail(s, -ENOMEM, "out of memory");

        /* An in-place tablespace (a developer's setting) lives inside the data directory: its
         * location is relative, and the walk of the data directory has it. */
        res = query(s, "list its tablespaces",
                    "SELECT oid, pg_tablespace_location(oid) FROM pg_tablespace "
                    "WHERE spcname NOT IN ('pg_default', 'pg_global') "
                    "AND pg_tablespace_location(oid) LIKE '/%' ORDER BY oid",
                    0, NULL);
        if (!res)
                return -EIO;
        info->tablespace_oids = calloc((size_t) PQntuples(res) + 1, sizeof(uint32_t));
        info->tablespace_paths = calloc((size_t) PQntuples(res) + 1, sizeof(char *));
        r = info->tablespace_oids && info->tablespace_paths ? 0 : -ENOMEM;
        for (int i = 0; r >= 0 && i < PQntuples(res); i++) {
                uint64_t oid;

                r = parse_u64(PQgetvalue(res, i, 0), &oid);
                if (r < 0 || oid > UINT32_MAX) {
                        r = fail(s, -EBADMSG,
                                 "PostgreSQL hook '%s': a tablespace's oid '%s' is "
                                 "unreadable.",
                                 s->hook, PQgetvalue(res, i, 0));
                        break;
                }
                info->tablespace_oids[i] = (uint32_t) oid;
                info->tablespace_paths[i] = strdup(PQgetvalue(res, i, 1));
                if (!info->tablespace_paths[i])
                        r = -ENOMEM;
                else
                        info->n_tablespaces = (size_t) i + 1;
        }
        PQclear(res);
        if (r == -ENOMEM)
                return fail(s, r, "Out of memory.");
        return r;
}

int agent_pg_session_new(const char *hook, AgentPgSession **ret) {
        _cleanup_(agent_pg_session_freep) AgentPgSession *s = new0(AgentPgSession, 1);

        if (!s || !(s->hook = strdup(hook)))
                return -ENOMEM;
        *ret = TAKE_PTR(s);
        return 0;
}

int agent_pg_session_connect(AgentPgSession *s, const char *conninfo, AgentPgInfo *ret_info) {
        AgentPgInfo info = { 0 };
        int r;

        r = connect_to(s, conninfo);
        if (r >= 0)
                r = check_version(s, &info);
        if (r >= 0)
                r = check_server(s);
        if (r >= 0)
                r = read_info(s, &info);
        if (r < 0) {
                agent_pg_info_done(&info);
                return r;
        }
        *ret_info = info;
        return 0;
}

AgentPgSession *agent_pg_session_free(AgentPgSession *s) {
        if (!s)
                return NULL;
        if (s->in_backup && s->conn && PQstatus(s->conn) == CONNECTION_OK) {
                /* Ends the backup now rather than when the server notices the connection is
                 * gone; its result is of no use to a backup that failed. */
                PGresult *res = PQexec(s->conn, "SELECT 1 FROM pg_backup_stop(false)");

                if (PQresultStatus(res) != PGRES_TUPLES_OK)
                        log_debug("PostgreSQL hook '%s': pg_backup_stop after a failure: %s",
                                  s->hook, PQresultErrorMessage(res));
                PQclear(res);
        }
        /* None when libpq could not be loaded: no call into it then (pq-lib.h). */
        if (s->conn)
                PQfinish(s->conn);
        free(s->hook);
        free(s);
        return NULL;
}

int agent_pg_backup_start(AgentPgSession *s, const char *label, uint64_t *ret_start_lsn,
                          int64_t *ret_started_ns) {
        char slot[64];
        const char *params[2];
        PGresult *res;
        size_t n;
        int r;

        /* Slot names are [a-z0-9_], at most 63. */
        n = (size_t) snprintf(slot, sizeof(slot), "yunbak_%.40s", s->hook);
        for (size_t i = 7; i < n; i++) {
                char c = slot[i];

                if (c >= 'A' && c <= 'Z')
                        slot[i] = (char) (c - 'A' + 'a');
                else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
                        slot[i] = '_';
        }
        snprintf(slot + n, sizeof(slot) - n, "_%ld", (long) getpid());
        params[0] = slot;
        res = query(s, "make a temporary replication slot to keep the backup's WAL",
                    "SELECT pg_create_physical_replication_slot($1, true, true)", 1, params);
        if (!res)
                return -EIO;
        PQclear(res);
        params[0] = label;
        res = query(s, "start the base backup (pg_backup_start)",
                    "SELECT pg_backup_start($1, true)::text", 1, params);
        if (!res)
                return -EIO;
        s->in_backup = true;
        r = yb_pg_lsn_parse(value(res, 0), ret_start_lsn);
        PQclear(res);
        if (r < 0)
                return fail(s, -EBADMSG, "PostgreSQL hook '%s': pg_backup_start returned no LSN.",
                            s->hook);
        return server_clock(s, ret_started_ns);
}

int agent_pg_backup_stop(AgentPgSession *s, AgentPgStop *ret) {
        PGresult *res = query(s, "stop the base backup (pg_backup_stop)",
                              "SELECT lsn::text, labelfile, coalesce(spcmapfile, ''), "
                              "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint "
                              "FROM pg_backup_stop(false)",
                              0, NULL);
        AgentPgStop st = { 0 };
        int64_t usec;
        int r;

        /* Whatever came back, the server's backup has ended (or never will by our hand). */
        s->in_backup = false;
        if (!res)
                return -EIO;
        r = yb_pg_lsn_parse(value(res, 0), &st.stop_lsn);
        if (r >= 0)
                r = parse_i64(value(res, 3), &usec);
        if (r >= 0 && (!value(res, 1) || !value(res, 2)))
                r = -EBADMSG;
        if (r < 0) {
                PQclear(res);
                return fail(s, -EBADMSG,
                            "PostgreSQL hook '%s': pg_backup_stop returned no LSN, "
                            "backup label or time.",
                            s->hook);
        }
        st.stopped_ns = yb_usec_to_ns(usec);
        st.labelfile = strdup(value(res, 1));
        st.spcmapfile = strdup(value(res, 2));
        PQclear(res);
        if (!st.labelfile || !st.spcmapfile) {
                agent_pg_stop_done(&st);
                return fail(s, -ENOMEM, "out of memory");
        }
        *ret = st;
        return 0;
}

/* The text after "\n<key>" (or at the start) up to the end of its line, in buf. */
static int label_field(const char *label, const char *key, char *buf, size_t size) {
        const char *p = label;
        size_t n = strlen(key), len;

        while (p && strncmp(p, key, n) != 0) {
                p = strchr(p, '\n');
                if (p)
                        p++;
        }
        if (!p)
                return -EBADMSG;
        p += n;
        len = strcspn(p, "\n");
        if (len >= size)
                return -EBADMSG;
        memcpy(buf, p, len);
        buf[len] = 0;
        return 0;
}

int agent_pg_label_parse(const char *label, uint64_t *ret_start_lsn, uint32_t *ret_timeline) {
        char buf[256], *sp, *end;
        unsigned long tli;
        uint64_t lsn;
        int r;

        r = label_field(label, "START WAL LOCATION: ", buf, sizeof(buf));
        if (r < 0)
                return r;
        sp = strchr(buf, ' ');
        if (sp)
                *sp = 0;
        if (yb_pg_lsn_parse(buf, &lsn) < 0)
                return -EBADMSG;
        r = label_field(label, "START TIMELINE: ", buf, sizeof(buf));
        if (r < 0)
                return r;
        errno = 0;
        tli = strtoul(buf, &end, 10);
        if (errno || *end || end == buf || tli == 0 || tli > UINT32_MAX)
                return -EBADMSG;
        *ret_start_lsn = lsn;
        *ret_timeline = (uint32_t) tli;
        return 0;
}
