/* tests/unit/test-yaml.c: policies/yamltree.c, the tree over libyaml: strings kept as written,
 * positions, duplicate keys, refused constructs, limits. */
#include "policies/yamltree.h"
#include "tests/unit/test.h"

typedef struct Errors {
        char *lines[64];
        size_t n;
} Errors;

static void collect(void *userdata, unsigned line, unsigned column, const char *message) {
        Errors *e = userdata;

        if (e->n < ELEMENTSOF(e->lines))
                assert_true(asprintf(&e->lines[e->n++], "%u:%u: %s", line, column, message) > 0);
}

static void errors_done(Errors *e) {
        for (size_t i = 0; i < e->n; i++)
                free(e->lines[i]);
        e->n = 0;
}

/* Parses text; returns the error count, which must match what was collected. */
static int parse(const char *text, Errors *e, YbYamlNode **ret) {
        int r = yb_yaml_parse(text, strlen(text), collect, e, ret);

        ASSERT_GE(r, 0);
        ASSERT_EQ(r, e->n);
        return r;
}

static const YbYamlNode *get(const YbYamlNode *map, const char *key) {
        const YbYamlNode *v = yb_yaml_mapping_get(map, key);

        if (!v)
                fail_msg("no key '%s'", key);
        return v;
}

TEST(scalars_stay_strings) {
        _cleanup_(errors_done) Errors e = { 0 };
        _cleanup_(yb_yaml_node_freep) YbYamlNode *root = NULL;
        static const struct {
                const char *key, *value;
                bool plain;
        } want[] = {
                /* YAML 1.1 would make these a boolean, an octal number, null, a float, a
                 * sexagesimal number; here each is the text that was written. */
                { "a", "yes", true }, { "b", "0755", true }, { "c", "~", true },
                { "d", "1e3", true }, { "e", "1:30", true }, { "f", "no", false },
                { "g", "", true },    { "h", "", false },    { "i", "two\nlines\n", false },
        };

        ASSERT_EQ(parse("a: yes\nb: 0755\nc: ~\nd: 1e3\ne: 1:30\nf: 'no'\ng:\nh: \"\"\n"
                        "i: |\n  two\n  lines\n",
                        &e, &root),
                  0);
        ASSERT_EQ(root->kind, YB_YAML_MAPPING);
        ASSERT_EQ(root->n_pairs, ELEMENTSOF(want));
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                const YbYamlNode *v = get(root, want[i].key);

                ASSERT_STREQ(root->pairs[i].key->value, want[i].key);
                ASSERT_EQ(v->kind, YB_YAML_SCALAR);
                ASSERT_STREQ(v->value, want[i].value);
                ASSERT_EQ(v->length, strlen(want[i].value));
                ASSERT_EQ(v->plain, want[i].plain);
        }
        /* "g:" with nothing is an empty value; a quoted "" is an empty string. */
        ASSERT_TRUE(yb_yaml_is_empty(get(root, "g")));
        ASSERT_FALSE(yb_yaml_is_empty(get(root, "h")));
        ASSERT_TRUE(yb_yaml_mapping_get(root, "z") == NULL);
        ASSERT_TRUE(yb_yaml_mapping_get(get(root, "a"), "a") == NULL);
}

TEST(positions_count_characters) {
        _cleanup_(errors_done) Errors e = { 0 };
        _cleanup_(yb_yaml_node_freep) YbYamlNode *root = NULL;
        const YbYamlNode *sys, *list;

        ASSERT_EQ(parse("# comment\n"
                        "system:\n"
                        "  name: 人事门户\n"
                        "  tags: [中文, b]\n"
                        "list:\n"
                        "  - x\n"
                        "  -   y\n",
                        &e, &root),
                  0);
        ASSERT_EQ(root->line, 2);
        ASSERT_EQ(root->column, 1);
        sys = get(root, "system");
        ASSERT_EQ(sys->kind, YB_YAML_MAPPING);
        ASSERT_EQ(sys->line, 3);
        ASSERT_EQ(sys->column, 3);
        ASSERT_EQ(sys->pairs[0].key->line, 3);
        ASSERT_EQ(sys->pairs[0].key->column, 3);
        ASSERT_STREQ(get(sys, "name")->value, "人事门户");
        ASSERT_EQ(get(sys, "name")->column, 9);
        list = get(sys, "tags");
        ASSERT_EQ(list->kind, YB_YAML_SEQUENCE);
        ASSERT_EQ(list->n_items, 2);
        ASSERT_EQ(list->column, 9);
        /* "  tags: [中文, b]": the two CJK characters count one column each. */
        ASSERT_EQ(list->items[1]->line, 4);
        ASSERT_EQ(list->items[1]->column, 14);
        list = get(root, "list");
        ASSERT_EQ(list->line, 6);
        ASSERT_EQ(list->column, 3);
        ASSERT_EQ(list->items[0]->column, 5);
        ASSERT_EQ(list->items[1]->line, 7);
        ASSERT_EQ(list->items[1]->column, 7);
}

TEST(duplicate_keys_name_both_positions) {
        _cleanup_(errors_done) Errors e = { 0 };
        _cleanup_(yb_yaml_node_freep) YbYamlNode *root = NULL;

        ASSERT_EQ(parse("a: 1\nb:\n  x: 1\n  y: 2\n  x: 3\na: 2\nc: 3\na: 4\n", &e, &root), 3);
        /* In document order, each at the repeat and naming the first. */
        ASSERT_STREQ(e.lines[0], "5:3: duplicate key 'x' (first at 3:3)");
        ASSERT_STREQ(e.lines[1], "6:1: duplicate key 'a' (first at 1:1)");
        ASSERT_STREQ(e.lines[2], "8:1: duplicate key 'a' (first at 1:1)");
        /* The first of each is kept, in order. */
        ASSERT_EQ(root->n_pairs, 3);
        ASSERT_STREQ(root->pairs[0].key->value, "a");
        ASSERT_STREQ(root->pairs[0].value->value, "1");
        ASSERT_STREQ(root->pairs[1].key->value, "b");
        ASSERT_STREQ(root->pairs[2].key->value, "c");
        ASSERT_EQ(get(root, "b")->n_pairs, 2);
        ASSERT_STREQ(get(get(root, "b"), "x")->value, "1");
}

TEST(duplicate_keys_among_many) {
        _cleanup_(errors_done) Errors e = { 0 };
        _cleanup_(yb_yaml_node_freep) YbYamlNode *root = NULL;
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;

        /* 5000 distinct keys, then one repeat: found, and quickly. */
        for (int i = 0; i < 5000; i++)
                ASSERT_OK(yb_buf_printf(&b, "k%d: %d\n", i, i));
        ASSERT_OK(yb_buf_printf(&b, "k1234: again\n"));
        ASSERT_OK(yb_buf_append_u8(&b, 0));
        ASSERT_EQ(parse((const char *) b.data, &e, &root), 1);
        ASSERT_STREQ(e.lines[0], "5001:1: duplicate key 'k1234' (first at 1235:1)");
        ASSERT_EQ(root->n_pairs, 5000);
        ASSERT_STREQ(get(root, "k1234")->value, "1234");
        ASSERT_STREQ(get(root, "k4999")->value, "4999");
}

TEST(anchors_aliases_and_tags_are_refused) {
        _cleanup_(errors_done) Errors e = { 0 };
        _cleanup_(yb_yaml_node_freep) YbYamlNode *root = NULL;

        ASSERT_EQ(parse("a: &x hello\nb: *x\nc: !!str 5\nd: !custom {k: v}\n", &e, &root), 4);
        ASSERT_STREQ(e.lines[0], "1:4: anchors ('&x') are not allowed");
        ASSERT_STREQ(e.lines[1], "2:4: aliases ('*x') are not allowed; quote a value that starts "
                                 "with '*'");
        ASSERT_STREQ(e.lines[2], "3:4: tags ('!!str') are not allowed: values are plain strings");
        ASSERT_STREQ(e.lines[3], "4:4: tags ('!custom') are not allowed: values are plain strings");
        /* The tree goes on, with the alias left as an invalid value, so that callers can still
         * check the rest. */
        ASSERT_EQ(root->n_pairs, 4);
        ASSERT_EQ(get(root, "b")->kind, YB_YAML_INVALID);
        ASSERT_STREQ(get(root, "a")->value, "hello");
}

TEST(billion_laughs_stays_small) {
        _cleanup_(errors_done) Errors e = { 0 };
        _cleanup_(yb_yaml_node_freep) YbYamlNode *root = NULL;

        ASSERT_EQ(parse("a: &a [x, x, x, x, x, x, x, x, x]\n"
                        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n",
                        &e, &root),
                  3 + 18);
        /* Nothing expanded: the aliases are single invalid nodes. */
        ASSERT_EQ(get(root, "c")->n_items, 9);
        ASSERT_EQ(get(root, "c")->items[0]->kind, YB_YAML_INVALID);
}

TEST(unquoted_calendar_gets_a_hint) {
        _cleanup_(errors_done) Errors e = { 0 };
        _cleanup_(yb_yaml_node_freep) YbYamlNode *root = NULL;

        ASSERT_EQ(parse("full: Sun *-*-* 01:00\nincremental: *-*-* 02:00\n", &e, &root), 1);
        ASSERT_TRUE(root == NULL);
        ASSERT_STREQ(e.lines[0],
                     "2:16: syntax error: did not find expected alphabetic or numeric character "
                     "(while scanning an alias at 2:14); quote a value that starts with '*', as "
                     "in \"*-*-* 01:00\"");
}

TEST(syntax_errors_at_libyaml_position) {
        static const struct {
                const char *text, *error;
        } cases[] = {
                { "a: [1, 2\n",
                  "2:1: syntax error: did not find expected ',' or ']' (while parsing a flow "
                  "sequence at 1:4)" },
                { "a:\n  b: 1\n   c: 2\n",
                  "3:5: syntax error: mapping values are not allowed in this context" },
                { "a: 1\n\tb: 2\n",
                  "2:1: syntax error: found a tab character that violates indentation (while "
                  "scanning a plain scalar at 1:4)" },
                { "a: \"x\n", "2:1: syntax error: found unexpected end of stream (while "
                              "scanning a quoted scalar at 1:4)" },
                { "a: 1\nb: 中\xff\n", "2:5: not valid UTF-8 text: invalid leading UTF-8 "
                                       "octet (#xFF)" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(errors_done) Errors e = { 0 };
                YbYamlNode *root = NULL;

                ASSERT_EQ(parse(cases[i].text, &e, &root), 1);
                ASSERT_TRUE(root == NULL);
                ASSERT_STREQ(e.lines[0], cases[i].error);
        }
}

TEST(one_document_only) {
        _cleanup_(errors_done) Errors e = { 0 };
        _cleanup_(yb_yaml_node_freep) YbYamlNode *root = NULL;

        ASSERT_EQ(parse("a: 1\n---\nb: 2\n", &e, &root), 1);
        ASSERT_STREQ(e.lines[0], "2:1: a second YAML document: a file holds one");
        ASSERT_STREQ(get(root, "a")->value, "1");
        ASSERT_TRUE(yb_yaml_mapping_get(root, "b") == NULL);
}

TEST(empty_input) {
        static const char *const texts[] = { "", "\n\n", "# only a comment\n" };

        for (size_t i = 0; i < ELEMENTSOF(texts); i++) {
                _cleanup_(errors_done) Errors e = { 0 };
                YbYamlNode *root = (YbYamlNode *) 1;

                ASSERT_EQ(parse(texts[i], &e, &root), 0);
                ASSERT_TRUE(root == NULL);
        }
}

TEST(keys_must_be_strings) {
        _cleanup_(errors_done) Errors e = { 0 };
        _cleanup_(yb_yaml_node_freep) YbYamlNode *root = NULL;

        ASSERT_EQ(parse("? [a, b]\n: 1\nok: 2\n{x: 1}: 3\n", &e, &root), 2);
        ASSERT_STREQ(e.lines[0], "1:3: keys must be strings, not a list");
        ASSERT_STREQ(e.lines[1], "4:1: keys must be strings, not a mapping");
        ASSERT_EQ(root->n_pairs, 1);
        ASSERT_STREQ(get(root, "ok")->value, "2");
}

TEST(nul_characters_are_refused) {
        _cleanup_(errors_done) Errors e = { 0 };
        _cleanup_(yb_yaml_node_freep) YbYamlNode *root = NULL;

        ASSERT_EQ(parse("a: \"x\\0y\"\nb: ok\n", &e, &root), 1);
        ASSERT_STREQ(e.lines[0], "1:4: NUL characters are not allowed in values");
        ASSERT_EQ(get(root, "a")->kind, YB_YAML_INVALID);
        ASSERT_STREQ(get(root, "b")->value, "ok");
}

TEST(depth_limit) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;

        for (int depth = YB_YAML_MAX_DEPTH; depth <= YB_YAML_MAX_DEPTH + 1; depth++) {
                _cleanup_(errors_done) Errors e = { 0 };
                YbYamlNode *root = NULL;

                yb_buf_clear(&b);
                for (int i = 0; i < depth; i++)
                        ASSERT_OK(yb_buf_append_u8(&b, '['));
                for (int i = 0; i < depth; i++)
                        ASSERT_OK(yb_buf_append_u8(&b, ']'));
                ASSERT_OK(yb_buf_append_u8(&b, 0));
                if (depth == YB_YAML_MAX_DEPTH) {
                        ASSERT_EQ(parse((const char *) b.data, &e, &root), 0);
                        ASSERT_EQ(root->kind, YB_YAML_SEQUENCE);
                        yb_yaml_node_free(root);
                } else {
                        ASSERT_EQ(parse((const char *) b.data, &e, &root), 1);
                        ASSERT_TRUE(root == NULL);
                        ASSERT_STREQ(e.lines[0], "1:65: nested more than 64 levels deep");
                }
        }
}

TEST(node_limit) {
        _cleanup_(errors_done) Errors e = { 0 };
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        YbYamlNode *root = NULL;

        ASSERT_OK(yb_buf_append_u8(&b, '['));
        for (int i = 0; i < YB_YAML_MAX_NODES; i++)
                ASSERT_OK(yb_buf_append(&b, "a,", 2));
        ASSERT_OK(yb_buf_append(&b, "]", 2));
        ASSERT_EQ(parse((const char *) b.data, &e, &root), 1);
        ASSERT_TRUE(root == NULL);
        /* The sequence is node 1; the item that would be node 100001 starts at column 2 + 2 *
         * 99999. */
        ASSERT_STREQ(e.lines[0], "1:200000: too many values: a file may hold at most 100000");
}

TEST(size_limit) {
        _cleanup_(errors_done) Errors e = { 0 };
        _cleanup_free_ char *big = malloc(YB_YAML_MAX_SIZE + 1);
        YbYamlNode *root = NULL;

        assert_non_null(big);
        memset(big, '#', YB_YAML_MAX_SIZE + 1);
        ASSERT_EQ(yb_yaml_parse(big, YB_YAML_MAX_SIZE + 1, collect, &e, &root), 1);
        ASSERT_TRUE(root == NULL);
        ASSERT_STREQ(e.lines[0], "1:1: the file is larger than 1024 KiB");
        errors_done(&e);
        /* At the limit it is read (a comment: an empty stream). */
        ASSERT_EQ(yb_yaml_parse(big, YB_YAML_MAX_SIZE, collect, &e, &root), 0);
}

TEST(not_nul_terminated) {
        _cleanup_(errors_done) Errors e = { 0 };
        _cleanup_(yb_yaml_node_freep) YbYamlNode *root = NULL;
        const char text[] = "a: 12345";

        /* Only the first 5 bytes are the input. */
        ASSERT_EQ(yb_yaml_parse(text, 5, collect, &e, &root), 0);
        ASSERT_STREQ(get(root, "a")->value, "12");
}

TEST(byte_order_marks_and_crlf) {
        _cleanup_(errors_done) Errors e = { 0 };
        _cleanup_(yb_yaml_node_freep) YbYamlNode *root = NULL;
        YbYamlNode *utf16 = NULL;

        /* A UTF-8 BOM (Windows editors write one) and CRLF line ends are fine. */
        ASSERT_EQ(parse("\xef\xbb\xbf"
                        "a: 1\r\nb: 中\r\nc: x\r\n  y\r\n",
                        &e, &root),
                  0);
        ASSERT_EQ(root->pairs[0].key->line, 1);
        ASSERT_EQ(root->pairs[0].key->column, 1);
        ASSERT_STREQ(get(root, "b")->value, "中");
        ASSERT_EQ(get(root, "b")->line, 2);
        ASSERT_EQ(get(root, "b")->column, 4);
        ASSERT_STREQ(get(root, "c")->value, "x y");
        /* UTF-16 is refused. */
        ASSERT_EQ(yb_yaml_parse("\xff\xfe"
                                "a\0:\0 \0"
                                "1\0",
                                10, collect, &e, &utf16),
                  1);
        ASSERT_TRUE(utf16 == NULL);
        ASSERT_STREQ(e.lines[0], "1:1: the file is UTF-16: save it as UTF-8");
}
