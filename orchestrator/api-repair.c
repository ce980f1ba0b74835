/* orchestrator/api-repair.c: repairs over the control API (api-repair.h). The request is checked
 * here (operators only, stores of yunbakd.yaml, two different ones); the repair itself runs in a
 * thread of its own (repairs.c), so that this answers at once with its id. */
#include "orchestrator/api-repair.h"

#include <inttypes.h>
#include <stdio.h>

#include "core/base/buf.h"
#include "core/base/ident.h"
#include "core/repo/repo.h"
#include "orchestrator/repairs.h"

/* The names of yunbakd.yaml's stores, for a message ("local, offsite"). */
static void store_names(const YbDaemonConfig *cfg, char *buf, size_t size) {
        size_t n = 0;

        buf[0] = 0;
        for (size_t i = 0; i < cfg->n_stores && n < size; i++)
                n += (size_t) snprintf(buf + n, size - n, "%s%s", i > 0 ? ", " : "",
                                       cfg->stores[i].name);
}

void orch_api_post_repair(Call *c) {
        _cleanup_(json_decrefp) json_t *body = NULL;
        const char *system, *snap, *from, *to, *bad = NULL;
        char names[512];
        json_error_t e;
        int64_t id = 0;
        int r;

        if (!yb_access_allowed(c->who, YB_ACCESS_ADMIN, NULL)) {
                orch_api_deny(c, 403, "only operators may repair a store");
                return;
        }
        body = json_loadb(c->req->body ? c->req->body : "", c->req->body_size, 0, &e);
        system = json_string_value(json_object_get(body, "system"));
        snap = json_string_value(json_object_get(body, "snapshot"));
        from = json_string_value(json_object_get(body, "from"));
        to = json_string_value(json_object_get(body, "to"));
        if (!json_is_object(body) || !system || !snap || !from || !to ||
            !yb_system_id_valid(system) || !yb_snapshot_id_valid(snap)) {
                yb_http_error(c->resp, 400,
                              "the body must be a JSON object with system (a system id), snapshot "
                              "(a snapshot id), from and to (store names of yunbakd.yaml)");
                return;
        }
        if (!yb_daemon_config_store(c->d->config, from))
                bad = from;
        else if (!yb_daemon_config_store(c->d->config, to))
                bad = to;
        if (bad) {
                store_names(c->d->config, names, sizeof(names));
                yb_http_error(c->resp, 400, "no store '%s' in %s (its stores: %s)", bad,
                              c->d->config->file, *names ? names : "none");
                return;
        }
        if (streq(from, to)) {
                yb_http_error(c->resp, 400,
                              "from and to are both store '%s': a file is repaired from its twin "
                              "in another store",
                              from);
                return;
        }
        r = yb_repairs_start(c->d, c->who, system, snap, from, to, &id);
        if (r < 0) {
                yb_http_error(c->resp, 500, "cannot start the repair: %s", strerror(-r));
                return;
        }
        orch_api_reply(c, 202, yb_repairs_json(c->d, id));
}

void orch_api_get_repair(Call *c, const char *id_s) {
        int64_t id;
        json_t *o;

        if (!yb_access_allowed(c->who, YB_ACCESS_READ_AUDIT, NULL)) {
                orch_api_deny(c, 403, "only operators and auditors may read repairs");
                return;
        }
        o = orch_api_parse_int(id_s, 1, INT64_MAX, &id) ? yb_repairs_json(c->d, id) : NULL;
        if (!o) {
                yb_http_error(c->resp, 404,
                              "no repair '%s' (yunbakd keeps the last %d repairs until it stops; "
                              "the audit log has every repair's outcome: 'yunbak audit log')",
                              id_s, YB_REPAIRS_KEPT);
                return;
        }
        orch_api_reply(c, 200, o);
}
