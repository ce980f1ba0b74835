/* The repository's clear config: {"type":"yunbak-repository","format":1,"system":..,"key":{..}}. */
#include <jansson.h>

#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "core/repo/repo.h"

int yb_repo_config_format(const YbRepoConfig *c, char **ret) {
        _cleanup_free_ char *key = NULL;
        json_t *o, *k;
        char created[32];
        json_error_t err;
        int r;

        r = yb_public_key_format(&c->pub, &key);
        if (r < 0)
                return r;
        k = json_loads(key, 0, &err);
        o = json_object();
        if (!k || !o) {
                json_decref(k);
                json_decref(o);
                return -ENOMEM;
        }
        yb_time_format_iso(c->created_ns, created);
        json_object_set_new(o, "type", json_string("yunbak-repository"));
        json_object_set_new(o, "format", json_integer(c->format));
        json_object_set_new(o, "system", json_string(c->system));
        json_object_set_new(o, "created", json_string(created));
        json_object_set_new(o, "created_ns", json_integer(c->created_ns));
        json_object_set_new(o, "key", k);
        *ret = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(o);
        return *ret ? 0 : -ENOMEM;
}

int yb_repo_config_parse(const void *data, size_t n, YbRepoConfig *ret) {
        YbRepoConfig c = { 0 };
        _cleanup_free_ char *key = NULL;
        json_error_t err;
        const char *s;
        json_t *o, *v;
        int r = -EBADMSG;

        o = json_loadb(data, n, JSON_REJECT_DUPLICATES, &err);
        if (!o)
                return -EBADMSG;
        s = json_string_value(json_object_get(o, "type"));
        if (!s || !streq(s, "yunbak-repository"))
                goto out;
        v = json_object_get(o, "format");
        if (!json_is_integer(v))
                goto out;
        if (json_integer_value(v) != YB_FORMAT_VERSION) {
                r = -EPROTONOSUPPORT;
                goto out;
        }
        c.format = (int) json_integer_value(v);
        s = json_string_value(json_object_get(o, "system"));
        if (!s || !yb_system_id_valid(s))
                goto out;
        strcpy(c.system, s);
        v = json_object_get(o, "created_ns");
        if (!json_is_integer(v))
                goto out;
        c.created_ns = json_integer_value(v);
        key = json_dumps(json_object_get(o, "key"), JSON_COMPACT);
        if (!key)
                goto out;
        r = yb_public_key_parse(key, strlen(key), &c.pub);
        if (r < 0)
                goto out;
        r = -EBADMSG;
        if (!streq(c.pub.system, c.system))
                goto out;
        *ret = c;
        r = 0;
out:
        json_decref(o);
        return r;
}
