#include "catalog/audit.h"

#include <sodium.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>

#include "core/base/buf.h"
#include "core/base/log.h"
#include "core/crypto/hash.h"

#define RECORD_DOMAIN "yunbak-audit-v1"
#define SEAL_DOMAIN "yunbak-audit-seal-v1"

/* The bytes a record's hash covers: a domain string, the sequence number and time, every text
 * field with its length, and the previous record's hash. */
static int record_hash(int64_t seq, int64_t time_usec, const char *const fields[6],
                       const uint8_t prev[YB_HASH_SIZE], uint8_t ret[YB_HASH_SIZE]) {
        YbBuf b = YB_BUF_INIT;
        int r;

        r = yb_buf_append(&b, RECORD_DOMAIN, sizeof(RECORD_DOMAIN));
        if (r >= 0)
                r = yb_buf_append_le64(&b, (uint64_t) seq);
        if (r >= 0)
                r = yb_buf_append_le64(&b, (uint64_t) time_usec);
        for (int i = 0; i < 6 && r >= 0; i++)
                r = yb_buf_append_bytes(&b, fields[i], strlen(fields[i]));
        if (r >= 0)
                r = yb_buf_append(&b, prev, YB_HASH_SIZE);
        if (r >= 0)
                yb_hash_buf(b.data, b.size, ret);
        yb_buf_done(&b);
        return r;
}

static void seal_message(int64_t seq, const uint8_t head[YB_HASH_SIZE],
                         uint8_t ret[sizeof(SEAL_DOMAIN) + 8 + YB_HASH_SIZE]) {
        memcpy(ret, SEAL_DOMAIN, sizeof(SEAL_DOMAIN));
        for (int i = 0; i < 8; i++)
                ret[sizeof(SEAL_DOMAIN) + i] = (uint8_t) ((uint64_t) seq >> (8 * i));
        memcpy(ret + sizeof(SEAL_DOMAIN) + 8, head, YB_HASH_SIZE);
}

static int last_record(sqlite3 *db, int64_t *ret_seq, uint8_t ret_hash[YB_HASH_SIZE]) {
        sqlite3_stmt *st;
        int rc, r = 0;

        rc = sqlite3_prepare_v2(db, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", -1,
                                &st, NULL);
        if (rc != SQLITE_OK)
                return -EIO;
        *ret_seq = 0;
        memset(ret_hash, 0, YB_HASH_SIZE);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                *ret_seq = sqlite3_column_int64(st, 0);
                if (sqlite3_column_bytes(st, 1) != YB_HASH_SIZE)
                        r = -EBADMSG;
                else
                        memcpy(ret_hash, sqlite3_column_blob(st, 1), YB_HASH_SIZE);
        } else if (rc != SQLITE_DONE)
                r = yb_catalog_sql_error(db, rc, "audit head");
        sqlite3_finalize(st);
        return r;
}

static int exec(sqlite3 *db, const char *sql) {
        int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

        return rc == SQLITE_OK ? 0 : yb_catalog_sql_error(db, rc, sql);
}

int64_t yb_audit_append(YbCatalog *c, int64_t now_usec, const YbAuditRecord *rec) {
        sqlite3 *db = yb_catalog_db(c);
        const char *fields[6] = { rec->actor,  rec->role,   rec->action,
                                  rec->object, rec->result, rec->detail ? rec->detail : "" };
        uint8_t prev[YB_HASH_SIZE], hash[YB_HASH_SIZE];
        bool own_tx = sqlite3_get_autocommit(db);
        sqlite3_stmt *st = NULL;
        int64_t seq;
        int r, rc;

        for (int i = 0; i < 5; i++)
                if (!fields[i])
                        return -EINVAL;
        /* Reading the head and appending after it is one step. */
        if (own_tx) {
                r = exec(db, "BEGIN IMMEDIATE");
                if (r < 0)
                        return r;
        }
        r = last_record(db, &seq, prev);
        if (r >= 0)
                r = record_hash(++seq, now_usec, fields, prev, hash);
        if (r >= 0) {
                rc = sqlite3_prepare_v2(db,
                                        "INSERT INTO audit (seq, time_usec, actor, role, action,"
                                        " object, result, detail, prev_hash, hash)"
                                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                                        -1, &st, NULL);
                if (rc == SQLITE_OK) {
                        sqlite3_bind_int64(st, 1, seq);
                        sqlite3_bind_int64(st, 2, now_usec);
                        for (int i = 0; i < 6; i++)
                                sqlite3_bind_text(st, 3 + i, fields[i], -1, SQLITE_TRANSIENT);
                        sqlite3_bind_blob(st, 9, prev, YB_HASH_SIZE, SQLITE_TRANSIENT);
                        sqlite3_bind_blob(st, 10, hash, YB_HASH_SIZE, SQLITE_TRANSIENT);
                        rc = sqlite3_step(st);
                }
                sqlite3_finalize(st);
                if (rc != SQLITE_DONE)
                        r = yb_catalog_sql_error(db, rc, "audit append");
        }
        if (own_tx) {
                if (r >= 0)
                        r = exec(db, "COMMIT");
                if (r < 0)
                        (void) exec(db, "ROLLBACK");
        }
        return r < 0 ? r : seq;
}

int64_t yb_audit_seal(YbCatalog *c, const YbAgentIdentity *key, int64_t now_usec) {
        sqlite3 *db = yb_catalog_db(c);
        uint8_t head[YB_HASH_SIZE], msg[sizeof(SEAL_DOMAIN) + 8 + YB_HASH_SIZE], sig[64];
        _cleanup_free_ char *pk = NULL;
        sqlite3_stmt *st;
        int64_t seq;
        int r, rc;

        r = last_record(db, &seq, head);
        if (r < 0 || seq == 0)
                return r;
        seal_message(seq, head, msg);
        yb_sign(key, msg, sizeof(msg), sig);
        r = yb_base64_encode(key->sign_pk, 32, &pk);
        if (r < 0)
                return r;
        rc = sqlite3_prepare_v2(db,
                                "INSERT OR IGNORE INTO audit_seals (seq, head_hash, time_usec,"
                                " key, signature) VALUES (?1, ?2, ?3, ?4, ?5)",
                                -1, &st, NULL);
        if (rc != SQLITE_OK)
                return -EIO;
        sqlite3_bind_int64(st, 1, seq);
        sqlite3_bind_blob(st, 2, head, YB_HASH_SIZE, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, now_usec);
        sqlite3_bind_text(st, 4, pk, -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob(st, 5, sig, sizeof(sig), SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? seq : yb_catalog_sql_error(db, rc, "audit seal");
}

int yb_audit_sealed_head(YbCatalog *c, int64_t *ret_seq, uint8_t ret_hash[YB_HASH_SIZE]) {
        sqlite3 *db = yb_catalog_db(c);
        sqlite3_stmt *st;
        int rc, r = 0;

        rc = sqlite3_prepare_v2(db,
                                "SELECT seq, head_hash FROM audit_seals ORDER BY seq DESC"
                                " LIMIT 1",
                                -1, &st, NULL);
        if (rc != SQLITE_OK)
                return yb_catalog_sql_error(db, rc, "sealed head");
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 1) == YB_HASH_SIZE) {
                *ret_seq = sqlite3_column_int64(st, 0);
                memcpy(ret_hash, sqlite3_column_blob(st, 1), YB_HASH_SIZE);
        } else if (rc == SQLITE_ROW)
                r = -EBADMSG;
        else if (rc == SQLITE_DONE)
                *ret_seq = 0;
        else
                r = yb_catalog_sql_error(db, rc, "sealed head");
        sqlite3_finalize(st);
        return r;
}

int yb_audit_find(YbCatalog *c, int64_t seq, const uint8_t hash[YB_HASH_SIZE]) {
        sqlite3 *db = yb_catalog_db(c);
        sqlite3_stmt *st;
        int rc, r;

        rc = sqlite3_prepare_v2(db, "SELECT hash FROM audit WHERE seq = ?1", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return yb_catalog_sql_error(db, rc, "audit find");
        sqlite3_bind_int64(st, 1, seq);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                r = sqlite3_column_bytes(st, 0) == YB_HASH_SIZE &&
                                    memcmp(sqlite3_column_blob(st, 0), hash, YB_HASH_SIZE) == 0
                            ? 0
                            : -EBADMSG;
        else
                r = rc == SQLITE_DONE ? -ENOENT : yb_catalog_sql_error(db, rc, "audit find");
        sqlite3_finalize(st);
        return r;
}

typedef struct Verify {
        YbAuditReportFn report;
        void *userdata;
        int problems;
} Verify;

static void problem(Verify *v, int64_t seq, const char *fmt, ...) _printf_(3, 4);
static void problem(Verify *v, int64_t seq, const char *fmt, ...) {
        char msg[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        v->problems++;
        v->report(v->userdata, seq, msg);
}

/* The hash of every record, by seq, as recomputed (0 where the chain is already broken). */
typedef struct Chain {
        int64_t *seq;
        uint8_t (*hash)[YB_HASH_SIZE];
        size_t n, alloc;
} Chain;

static const uint8_t *chain_hash(const Chain *ch, int64_t seq) {
        /* seqs are checked to be 1..n in order, so the index is seq - 1 when intact */
        if (seq >= 1 && (uint64_t) seq <= ch->n && ch->seq[seq - 1] == seq)
                return ch->hash[seq - 1];
        for (size_t i = 0; i < ch->n; i++)
                if (ch->seq[i] == seq)
                        return ch->hash[i];
        return NULL;
}

int yb_audit_verify(YbCatalog *c, const uint8_t *trusted_pk, YbAuditReportFn report, void *userdata,
                    YbAuditSummary *ret) {
        sqlite3 *db = yb_catalog_db(c);
        Verify v = { report, userdata, 0 };
        YbAuditSummary sum = { 0 };
        Chain ch = { 0 };
        uint8_t prev[YB_HASH_SIZE] = { 0 };
        int64_t expect = 1;
        sqlite3_stmt *st;
        int rc, r = 0;

        rc = sqlite3_prepare_v2(db,
                                "SELECT seq, time_usec, actor, role, action, object, result,"
                                " detail, prev_hash, hash FROM audit ORDER BY seq",
                                -1, &st, NULL);
        if (rc != SQLITE_OK)
                return -EIO;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                int64_t seq = sqlite3_column_int64(st, 0);
                const char *fields[6];
                uint8_t want[YB_HASH_SIZE];
                const void *stored_prev = sqlite3_column_blob(st, 8),
                           *stored = sqlite3_column_blob(st, 9);
                bool blobs_ok = sqlite3_column_bytes(st, 8) == YB_HASH_SIZE &&
                                sqlite3_column_bytes(st, 9) == YB_HASH_SIZE;

                for (int i = 0; i < 6; i++)
                        fields[i] = (const char *) sqlite3_column_text(st, 2 + i) ?: "";
                sum.records++;
                if (seq != expect)
                        problem(&v, seq,
                                seq > expect ? "records %lld to %lld are missing (removed)"
                                             : "record out of order (%lld then %lld)",
                                (long long) expect, (long long) seq - (seq > expect ? 1 : 0));
                expect = seq + 1;
                if (!blobs_ok) {
                        problem(&v, seq, "its hashes are damaged");
                        continue;
                }
                if (memcmp(stored_prev, prev, YB_HASH_SIZE) != 0)
                        problem(&v, seq,
                                "does not follow the record before it (a record was removed, "
                                "inserted or moved)");
                r = record_hash(seq, sqlite3_column_int64(st, 1), fields, stored_prev, want);
                if (r < 0)
                        break;
                if (memcmp(want, stored, YB_HASH_SIZE) != 0)
                        problem(&v, seq, "its content was changed after it was written");
                memcpy(prev, stored, YB_HASH_SIZE);
                if (ch.n == ch.alloc) {
                        size_t a = ch.alloc ? 2 * ch.alloc : 256;
                        int64_t *s = realloc(ch.seq, a * sizeof(int64_t));
                        uint8_t(*h)[YB_HASH_SIZE];

                        if (s)
                                ch.seq = s;
                        h = s ? realloc(ch.hash, a * sizeof(*h)) : NULL;
                        if (!h) {
                                r = -ENOMEM;
                                break;
                        }
                        ch.hash = h;
                        ch.alloc = a;
                }
                ch.seq[ch.n] = seq;
                memcpy(ch.hash[ch.n++], want, YB_HASH_SIZE);
        }
        sqlite3_finalize(st);
        if (r >= 0 && rc != SQLITE_DONE)
                r = -EIO;
        if (r < 0)
                goto out;

        rc = sqlite3_prepare_v2(db,
                                "SELECT seq, head_hash, key, signature FROM audit_seals"
                                " ORDER BY seq",
                                -1, &st, NULL);
        if (rc != SQLITE_OK) {
                r = -EIO;
                goto out;
        }
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                int64_t seq = sqlite3_column_int64(st, 0);
                const char *key64 = (const char *) sqlite3_column_text(st, 2) ?: "";
                const uint8_t *h = chain_hash(&ch, seq);
                uint8_t pk[32], msg[sizeof(SEAL_DOMAIN) + 8 + YB_HASH_SIZE];

                sum.seals++;
                sum.last_sealed_seq = seq;
                if (sqlite3_column_bytes(st, 1) != YB_HASH_SIZE ||
                    sqlite3_column_bytes(st, 3) != 64 || yb_base64_decode(key64, pk, 32) < 0) {
                        problem(&v, seq, "the seal of this record is damaged");
                        continue;
                }
                if (trusted_pk && memcmp(pk, trusted_pk, 32) != 0) {
                        problem(&v, seq, "sealed by a key that is not this daemon's (%s)", key64);
                        continue;
                }
                seal_message(seq, sqlite3_column_blob(st, 1), msg);
                if (yb_sign_verify(pk, msg, sizeof(msg), sqlite3_column_blob(st, 3)) < 0) {
                        problem(&v, seq, "the seal's signature does not verify");
                        continue;
                }
                /* The sealed head must be what the records hash to now. */
                if (!h)
                        problem(&v, seq, "was sealed but is gone: the log was cut short after it");
                else if (memcmp(h, sqlite3_column_blob(st, 1), YB_HASH_SIZE) != 0)
                        problem(&v, seq,
                                "the records up to here differ from what was sealed (rewritten)");
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
                r = -EIO;
out:
        free(ch.seq);
        free(ch.hash);
        if (r < 0)
                return r;
        sum.problems = v.problems;
        if (ret)
                *ret = sum;
        return v.problems;
}
