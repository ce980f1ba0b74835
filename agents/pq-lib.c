/* libpq, which the agent's PostgreSQL hooks (pg-session.c) and WAL streaming (wal-server.c)
 * use, loaded by the first connection (core/base/dynlib.h): each function they call, under its
 * own name. */
#include "agents/pq-lib.h"

#include <libpq-fe.h>

YbDynLib yb_libpq = YB_DYNLIB_INIT("libpq.so.5", "libpq5", "PostgreSQL hooks");

YB_DYNLIB_VOID_FN(yb_libpq, PQclear, (PGresult * res), (res))
YB_DYNLIB_FN(yb_libpq, PGconn *, PQconnectdbParams,
             (const char *const *keywords, const char *const *values, int expand_dbname),
             (keywords, values, expand_dbname))
YB_DYNLIB_VOID_FN(yb_libpq, PQconninfoFree, (PQconninfoOption * connOptions), (connOptions))
YB_DYNLIB_FN(yb_libpq, PQconninfoOption *, PQconninfoParse, (const char *conninfo, char **errmsg),
             (conninfo, errmsg))
YB_DYNLIB_FN(yb_libpq, int, PQconsumeInput, (PGconn * conn), (conn))
YB_DYNLIB_FN(yb_libpq, char *, PQerrorMessage, (const PGconn *conn), (conn))
YB_DYNLIB_FN(yb_libpq, PGresult *, PQexec, (PGconn * conn, const char *query), (conn, query))
YB_DYNLIB_FN(yb_libpq, PGresult *, PQexecParams,
             (PGconn * conn, const char *command, int nParams, const Oid *paramTypes,
              const char *const *paramValues, const int *paramLengths, const int *paramFormats,
              int resultFormat),
             (conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats,
              resultFormat))
YB_DYNLIB_VOID_FN(yb_libpq, PQfinish, (PGconn * conn), (conn))
YB_DYNLIB_VOID_FN(yb_libpq, PQfreemem, (void *ptr), (ptr))
YB_DYNLIB_FN(yb_libpq, PGresult *, PQgetResult, (PGconn * conn), (conn))
YB_DYNLIB_FN(yb_libpq, int, PQgetisnull, (const PGresult *res, int tup_num, int field_num),
             (res, tup_num, field_num))
YB_DYNLIB_FN(yb_libpq, char *, PQgetvalue, (const PGresult *res, int tup_num, int field_num),
             (res, tup_num, field_num))
YB_DYNLIB_FN(yb_libpq, int, PQisBusy, (PGconn * conn), (conn))
YB_DYNLIB_FN(yb_libpq, int, PQnfields, (const PGresult *res), (res))
YB_DYNLIB_FN(yb_libpq, int, PQntuples, (const PGresult *res), (res))
YB_DYNLIB_FN(yb_libpq, char *, PQresultErrorMessage, (const PGresult *res), (res))
YB_DYNLIB_FN(yb_libpq, ExecStatusType, PQresultStatus, (const PGresult *res), (res))
YB_DYNLIB_FN(yb_libpq, int, PQsendQueryParams,
             (PGconn * conn, const char *command, int nParams, const Oid *paramTypes,
              const char *const *paramValues, const int *paramLengths, const int *paramFormats,
              int resultFormat),
             (conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats,
              resultFormat))
YB_DYNLIB_FN(yb_libpq, int, PQsocket, (const PGconn *conn), (conn))
YB_DYNLIB_FN(yb_libpq, ConnStatusType, PQstatus, (const PGconn *conn), (conn))
