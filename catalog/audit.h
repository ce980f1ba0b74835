/* catalog/audit.h: the audit log. Every record carries the BLAKE2b-256 hash of the one
 * before, and the daemon signs the head of the chain with its Ed25519 key at intervals (seals),
 * so that editing, removing, inserting or reordering records, also directly in the SQLite file,
 * is detected by yb_audit_verify(). Layout of the hashed bytes: docs/operations.md, "Audit". */
#pragma once

#include <stdint.h>

#include "catalog/catalog.h"
#include "core/crypto/keys.h"

typedef struct YbAuditRecord {
        const char *actor;  /* a person, "yunbakd", or "uid:<n>" */
        const char *role;   /* operator, department, auditor, system */
        const char *action; /* "job.start", "policy.load", "api.backup-now", ... */
        const char *object; /* a system id, a job id, a file */
        const char *result; /* "ok", "denied", "failed: ..." */
        const char *detail; /* free text or JSON; may be "" */
} YbAuditRecord;

/* Appends a record at now_usec, chained to the last one. Returns its sequence number (>= 1). */
int64_t yb_audit_append(YbCatalog *c, int64_t now_usec, const YbAuditRecord *rec);

/* Signs the current head of the chain with key (a no-op if the head is already sealed).
 * Returns the sealed sequence number, or 0 when the log is empty. */
int64_t yb_audit_seal(YbCatalog *c, const YbAgentIdentity *key, int64_t now_usec);

/* The newest seal: its sequence number (0, hash untouched, when the log was never sealed) and
 * the chain head it signed. */
int yb_audit_sealed_head(YbCatalog *c, int64_t *ret_seq, uint8_t ret_hash[32]);
/* Whether record seq is in the log with this hash: 0 if so, -ENOENT if there is no such record,
 * -EBADMSG if it is there with another hash (the log was replaced or rewritten). */
int yb_audit_find(YbCatalog *c, int64_t seq, const uint8_t hash[32]);

typedef struct YbAuditSummary {
        int64_t records, seals, last_sealed_seq;
        int problems;
} YbAuditSummary;

/* Called for each problem: the sequence number where it shows and what is wrong. */
typedef void (*YbAuditReportFn)(void *userdata, int64_t seq, const char *problem);

/* Checks the whole chain and every seal. trusted_pk is the daemon's signing key; seals by any
 * other key are problems (NULL: accept the key each seal names). Returns the number of problems
 * (0: intact) or -errno if the check could not run. */
int yb_audit_verify(YbCatalog *c, const uint8_t *trusted_pk, YbAuditReportFn report, void *userdata,
                    YbAuditSummary *ret);
