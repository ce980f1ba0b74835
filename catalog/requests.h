/* catalog/requests.h: requests for off-site copies (tier 3) in the catalog's approvals table
 * (kind "offsite-copy"): who asked for a copy of which system and snapshot and why, who decided,
 * when and why, and the copy job an approval queued. The control API (orchestrator/api-offsite.c)
 * enforces who may do what; this file only records it. */
#pragma once

#include <stdint.h>

#include "catalog/catalog.h"
#include "core/base/macro.h"

/* The approvals table's kind for these requests. */
#define YB_REQUEST_KIND_OFFSITE "offsite-copy"

/* One request as the catalog holds it, with its copy job's state. Strings are owned. */
typedef struct YbRequest {
        int64_t id;
        char *system;
        char *snapshot; /* NULL: the newest committed snapshot when the copy runs */
        char *reason;
        char *requested_by;
        int64_t requested_usec;
        char *decision; /* NULL while pending; "approved" or "refused" */
        char *decided_by;
        int64_t decided_usec;  /* 0 while pending */
        char *decision_reason; /* may be NULL */
        int64_t job;           /* the copy job an approval queued; 0: none */
        char *job_state;       /* that job's state in the jobs table, or NULL */
        char *department;      /* the system's, from the systems table, or NULL */
} YbRequest;

/* Frees r's strings and zeroes it. */
void yb_request_done(YbRequest *r);

/* Records a pending request of system by requested_by at now_usec; snapshot NULL for the
 * newest. Returns 0 and its id in *ret_id, or the catalog's -errno. */
int yb_requests_add(YbCatalog *c, const char *system, const char *snapshot, const char *reason,
                    const char *requested_by, int64_t now_usec, int64_t *ret_id);

/* Decides pending request id: decision "approved" (job: the copy job it queued, 0 for none) or
 * "refused" (job 0), by decided_by at now_usec, with reason (may be NULL). -ENOENT if there is no
 * such request, -EALREADY if it was decided already; the catalog's -errno otherwise. */
int yb_requests_decide(YbCatalog *c, int64_t id, const char *decision, const char *decided_by,
                       int64_t now_usec, const char *reason, int64_t job);

/* Reads request id into *ret (the caller calls yb_request_done). -ENOENT if there is none. */
int yb_requests_get(YbCatalog *c, int64_t id, YbRequest *ret);

/* Calls fn for each request, newest first, at most limit: only system's when system is not NULL,
 * only those of systems of department when it is not NULL, only pending ones when pending_only.
 * r is borrowed for the call; fn's negative return stops the walk and is returned. */
int yb_requests_list(YbCatalog *c, const char *system, const char *department, bool pending_only,
                     int64_t limit, int (*fn)(void *ud, const YbRequest *r), void *ud);

/* The id of a pending request of system for snapshot (NULL: the newest) in *ret_id, 0 if none. */
int yb_requests_find_pending(YbCatalog *c, const char *system, const char *snapshot,
                             int64_t *ret_id);

/* Calls fn(ud, system, count) for each system with pending requests. */
int yb_requests_count_pending(YbCatalog *c, void (*fn)(void *ud, const char *system, int64_t n),
                              void *ud);
