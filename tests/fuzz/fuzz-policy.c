/* fuzz-policy: a policy file (policies/), through the YAML layer and the schema checks. */
#include "policies/policy.h"
#include "policies/yamltree.h"
#include "tests/fuzz/fuzz-common.h"

/* Every node has a position and scalars have their strings; no mapping keeps a repeated key. */
static void check_tree(const YbYamlNode *n, unsigned depth) {
        FUZZ_CHECK(n->line >= 1 && n->column >= 1 && depth <= YB_YAML_MAX_DEPTH);
        switch (n->kind) {
        case YB_YAML_SCALAR:
                FUZZ_CHECK(n->value && strlen(n->value) == n->length);
                break;
        case YB_YAML_SEQUENCE:
                for (size_t i = 0; i < n->n_items; i++)
                        check_tree(n->items[i], depth + 1);
                break;
        case YB_YAML_MAPPING:
                for (size_t i = 0; i < n->n_pairs; i++) {
                        FUZZ_CHECK(n->pairs[i].key->kind == YB_YAML_SCALAR);
                        for (size_t j = 0; j < i && n->n_pairs <= 64; j++)
                                FUZZ_CHECK(!streq(n->pairs[i].key->value, n->pairs[j].key->value));
                        check_tree(n->pairs[i].key, depth + 1);
                        check_tree(n->pairs[i].value, depth + 1);
                }
                break;
        default:
                break;
        }
}

static void count_error(void *userdata, unsigned line, unsigned column, const char *message) {
        FUZZ_CHECK(line >= 1 && column >= 1 && message && *message);
        (*(int *) userdata)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(yb_yaml_node_freep) YbYamlNode *root = NULL;
        _cleanup_(yb_policy_freep) YbPolicy *p = NULL;
        _cleanup_free_ char *text = NULL;
        YbDiagnostics diag = { 0 }, again = { 0 };
        int errors = 0, r;

        r = yb_yaml_parse((const char *) data, size, count_error, &errors, &root);
        FUZZ_CHECK(r >= 0 && r == errors);
        if (root)
                check_tree(root, 0);

        /* A policy either loads with no diagnostics or fails with at least one, each naming
         * the file and a position; the same input always gives the same diagnostics. */
        r = yb_policy_parse("fuzz", (const char *) data, size, &p, &diag);
        FUZZ_CHECK(r == 0 || r == -EINVAL);
        FUZZ_CHECK((r == 0) == (diag.n == 0));
        for (size_t i = 0; i < diag.n; i++)
                FUZZ_CHECK(strncmp(diag.lines[i], "fuzz:", 5) == 0);
        if (r == 0)
                FUZZ_CHECK(p->id && p->name && p->department && p->host && p->n_paths > 0 &&
                           p->full && p->incremental && p->drill_every_usec > 0 &&
                           p->drill_every_usec <= YB_DRILL_MAX_EVERY_USEC);
        else {
                YbPolicy *q = NULL;

                FUZZ_CHECK(yb_policy_parse("fuzz", (const char *) data, size, &q, &again) == r);
                FUZZ_CHECK(again.n == diag.n);
                for (size_t i = 0; i < diag.n; i++)
                        FUZZ_CHECK(streq(again.lines[i], diag.lines[i]));
        }
        yb_diagnostics_done(&diag);
        yb_diagnostics_done(&again);

        /* Durations: what parses formats back to the same value. */
        text = strndup((const char *) data, MIN(size, (size_t) 64));
        if (text) {
                int64_t usec, back;
                char buf[64];

                if (yb_duration_parse(text, &usec) == 0) {
                        FUZZ_CHECK(yb_duration_parse(yb_duration_format(usec, buf, sizeof(buf)),
                                                     &back) == 0);
                        FUZZ_CHECK(back == usec / YB_USEC_PER_SEC * YB_USEC_PER_SEC);
                }
        }
        return 0;
}
