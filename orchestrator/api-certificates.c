/* orchestrator/api-certificates.c: GET /v1/certificates and /v1/certificates/{id}
 * (api-certificates.h). A certificate outlives its system's policy: who may read it is decided
 * by the department its own document names. */
#include "orchestrator/api-certificates.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "catalog/decommissions.h"
#include "core/base/timeutil.h"
#include "orchestrator/decommission-internal.h"

/* The department a certificate's document names, or NULL. */
static const char *department_of(json_t *doc) {
        return json_string_value(json_object_get(json_object_get(doc, "system"), "department"));
}

typedef struct ListCtx {
        Call *c;
        json_t *list;
} ListCtx;

static int list_row(void *ud, sqlite3_stmt *row) {
        ListCtx *l = ud;
        const char *body = (const char *) sqlite3_column_text(row, 4);
        json_t *doc = body ? json_loads(body, 0, NULL) : NULL;
        char issued[32];

        if (yb_access_sees(l->c->who, department_of(doc))) {
                orch_decom_date(sqlite3_column_int64(row, 3), issued);
                json_array_append_new(l->list,
                                      json_pack("{s:I, s:o, s:I, s:s}", "id",
                                                (json_int_t) sqlite3_column_int64(row, 0), "system",
                                                orch_api_col_text(row, 1), "decommission",
                                                (json_int_t) sqlite3_column_int64(row, 2), "issued",
                                                issued));
        }
        json_decref(doc);
        return 0;
}

void orch_api_get_certificates(Call *c) {
        const char *system = yb_http_query(c->req, "system");
        ListCtx l = { c, json_array() };
        int r;

        if (!yb_access_allowed(c->who, YB_ACCESS_READ_ALL, NULL)) {
                json_decref(l.list);
                orch_api_deny(c, 403, "you may not read certificates");
                return;
        }
        r = yb_catalog_query(c->d->catalog,
                             "SELECT id, system, decommission, issued_usec, body FROM"
                             " certificates WHERE ?1 IS NULL OR system = ?1 ORDER BY id DESC",
                             list_row, &l, "t", system);
        if (r < 0) {
                json_decref(l.list);
                yb_http_error(c->resp, 500, "cannot read the certificates from the catalog: %s",
                              strerror(-r));
                return;
        }
        orch_api_reply(c, 200, json_pack("{s:o}", "certificates", l.list));
}

void orch_api_get_certificate(Call *c, const char *id_text) {
        _cleanup_free_ char *system = NULL, *body = NULL;
        int64_t id;
        json_t *doc;
        bool may;
        int r;

        if (!orch_api_parse_int(id_text, 1, INT64_MAX, &id)) {
                yb_http_error(c->resp, 400, "'%s' is not a certificate id (a positive integer)",
                              id_text);
                return;
        }
        r = yb_certificates_get(c->d->catalog, id, &system, &body);
        if (r == -ENOENT) {
                yb_http_error(c->resp, 404, "there is no certificate %" PRId64, id);
                return;
        }
        if (r < 0) {
                yb_http_error(c->resp, 500, "cannot read certificate %" PRId64 ": %s", id,
                              strerror(-r));
                return;
        }
        doc = json_loads(body, 0, NULL);
        may = yb_access_allowed(c->who, YB_ACCESS_READ_SYSTEM, department_of(doc));
        json_decref(doc);
        if (!may) {
                /* As for systems: another department's certificate stays unknown. */
                orch_api_deny(c, 404, "there is no certificate %" PRId64, id);
                return;
        }
        c->resp->status = 200;
        c->resp->content_type = "application/json";
        c->resp->body = TAKE_PTR(body);
}
