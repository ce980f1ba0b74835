/* policies/yamltree.c: libyaml's event parser turned into a small tree with positions. The tree is
 * built bottom-up: a node is attached to its parent when it is complete, so that an aborted parse
 * only has to free what the stack still holds. */
#include "policies/yamltree.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <yaml.h> /* libyaml; ours is yamltree.h so that the names cannot clash */

#include "core/base/excerpt.h"
#include "core/base/log.h"

typedef struct Frame {
        YbYamlNode *node; /* a sequence or mapping being filled */
        YbYamlNode *key;  /* mapping: the key waiting for its value (NULL: dropped) */
        bool have_key;    /* mapping: the next node is a value */
        size_t alloc;     /* allocated items or pairs; grown by doubling */
} Frame;

typedef struct Builder {
        YbYamlErrorFn error_fn;
        void *userdata;
        int n_errors;
        size_t n_nodes;
        Frame stack[YB_YAML_MAX_DEPTH];
        size_t depth;
        YbYamlNode *root;
        bool have_root;
} Builder;

_printf_(4, 5) static void report(Builder *b, unsigned line, unsigned column, const char *fmt,
                                  ...) {
        char msg[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        b->n_errors++;
        if (b->error_fn)
                b->error_fn(b->userdata, line, column, msg);
}

YbYamlNode *yb_yaml_node_free(YbYamlNode *n) {
        if (!n)
                return NULL;
        free(n->value);
        for (size_t i = 0; i < n->n_items; i++)
                yb_yaml_node_free(n->items[i]);
        free(n->items);
        for (size_t i = 0; i < n->n_pairs; i++) {
                yb_yaml_node_free(n->pairs[i].key);
                yb_yaml_node_free(n->pairs[i].value);
        }
        free(n->pairs);
        free(n);
        return NULL;
}

const char *yb_yaml_kind_to_string(YbYamlKind k) {
        switch (k) {
        case YB_YAML_SCALAR:
                return "a string";
        case YB_YAML_SEQUENCE:
                return "a list";
        case YB_YAML_MAPPING:
                return "a mapping";
        default:
                return "an invalid value";
        }
}

bool yb_yaml_is_empty(const YbYamlNode *n) {
        return n && n->kind == YB_YAML_SCALAR && n->plain && n->length == 0;
}

const YbYamlNode *yb_yaml_mapping_get(const YbYamlNode *map, const char *key) {
        if (!map || map->kind != YB_YAML_MAPPING)
                return NULL;
        for (size_t i = 0; i < map->n_pairs; i++)
                if (streq(map->pairs[i].key->value, key))
                        return map->pairs[i].value;
        return NULL;
}

static YbYamlNode *node_new(Builder *b, YbYamlKind kind, const yaml_mark_t *mark) {
        YbYamlNode *n;

        if (b->n_nodes >= YB_YAML_MAX_NODES) {
                report(b, (unsigned) mark->line + 1, (unsigned) mark->column + 1,
                       "too many values: a file may hold at most %d", YB_YAML_MAX_NODES);
                errno = E2BIG;
                return NULL;
        }
        n = new0(YbYamlNode, 1);
        if (!n) {
                errno = ENOMEM;
                return NULL;
        }
        b->n_nodes++;
        n->kind = kind;
        n->line = (unsigned) mark->line + 1;
        n->column = (unsigned) mark->column + 1;
        return n;
}

/* Reports an anchor or tag on a node: neither has a use in a policy, and aliases (which anchors
 * exist for) could expand a small file into a huge tree. */
static void check_properties(Builder *b, const yaml_mark_t *mark, const yaml_char_t *anchor,
                             const yaml_char_t *tag) {
        char buf[64];

        if (anchor)
                report(b, (unsigned) mark->line + 1, (unsigned) mark->column + 1,
                       "anchors ('&%s') are not allowed",
                       yb_excerpt((const char *) anchor, buf, sizeof(buf)));
        if (tag) {
                static const char core[] = "tag:yaml.org,2002:";
                const char *t = (const char *) tag;
                bool short_form = strncmp(t, core, sizeof(core) - 1) == 0;

                /* Show "!!str" as it was most likely written, not its expansion. */
                report(b, (unsigned) mark->line + 1, (unsigned) mark->column + 1,
                       "tags ('%s%s') are not allowed: values are plain strings",
                       short_form ? "!!" : "",
                       yb_excerpt(short_form ? t + sizeof(core) - 1 : t, buf, sizeof(buf)));
        }
}

/* Attaches a complete node to the collection on top of the stack, or makes it the root. Takes
 * ownership of n in every case. */
static int attach(Builder *b, YbYamlNode *n) {
        Frame *f;

        if (b->depth == 0) {
                assert(!b->root);
                b->root = n;
                b->have_root = true;
                return 0;
        }
        f = &b->stack[b->depth - 1];
        if (f->node->kind == YB_YAML_SEQUENCE) {
                if (f->node->n_items == f->alloc) {
                        size_t alloc = MAX(f->alloc * 2, (size_t) 4);
                        YbYamlNode **items =
                                reallocarray(f->node->items, alloc, sizeof(YbYamlNode *));

                        if (!items) {
                                yb_yaml_node_free(n);
                                return -ENOMEM;
                        }
                        f->node->items = items;
                        f->alloc = alloc;
                }
                f->node->items[f->node->n_items++] = n;
                return 0;
        }
        if (!f->have_key) {
                f->have_key = true;
                if (n->kind == YB_YAML_SCALAR) {
                        f->key = n;
                        return 0;
                }
                if (n->kind != YB_YAML_INVALID)
                        report(b, n->line, n->column, "keys must be strings, not %s",
                               yb_yaml_kind_to_string(n->kind));
                yb_yaml_node_free(n);
                f->key = NULL;
                return 0;
        }
        f->have_key = false;
        if (!f->key) {
                /* The key was refused and reported; its value goes with it. */
                yb_yaml_node_free(n);
                return 0;
        }
        if (f->node->n_pairs == f->alloc) {
                size_t alloc = MAX(f->alloc * 2, (size_t) 4);
                YbYamlPair *pairs = reallocarray(f->node->pairs, alloc, sizeof(YbYamlPair));

                if (!pairs) {
                        yb_yaml_node_free(n);
                        return -ENOMEM;
                }
                f->node->pairs = pairs;
                f->alloc = alloc;
        }
        f->node->pairs[f->node->n_pairs++] = (YbYamlPair){ .key = TAKE_PTR(f->key), .value = n };
        return 0;
}

typedef struct KeyRef {
        const YbYamlNode *key;
        size_t index;
} KeyRef;

static int keyref_compare(const void *a, const void *b) {
        const KeyRef *x = a, *y = b;
        size_t n = MIN(x->key->length, y->key->length);
        int c = memcmp(x->key->value, y->key->value, n);

        if (c != 0)
                return c;
        if (x->key->length != y->key->length)
                return x->key->length < y->key->length ? -1 : 1;
        return x->index < y->index ? -1 : x->index > y->index;
}

/* Reports every repeated key of a complete mapping (at the repeat, naming the first) in document
 * order and drops the repeats. Sorting keeps this O(n log n) for hostile mappings. */
static int drop_duplicate_keys(Builder *b, YbYamlNode *map) {
        _cleanup_free_ KeyRef *refs = NULL;
        _cleanup_free_ size_t *first = NULL; /* first[i]: index of the first such key, or i */
        size_t n = map->n_pairs, kept = 0;
        bool any = false;

        if (n < 2)
                return 0;
        refs = new0(KeyRef, n);
        first = new0(size_t, n);
        if (!refs || !first)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                refs[i] = (KeyRef){ .key = map->pairs[i].key, .index = i };
                first[i] = i;
        }
        qsort(refs, n, sizeof(KeyRef), keyref_compare);
        for (size_t i = 1, group = 0; i < n; i++) {
                if (refs[i].key->length == refs[group].key->length &&
                    memcmp(refs[i].key->value, refs[group].key->value, refs[i].key->length) == 0) {
                        first[refs[i].index] = refs[group].index;
                        any = true;
                } else
                        group = i;
        }
        if (!any)
                return 0;
        for (size_t i = 0; i < n; i++) {
                YbYamlPair *p = &map->pairs[i];

                if (first[i] == i) {
                        map->pairs[kept++] = *p;
                        continue;
                }
                char buf[64];
                const YbYamlNode *f = map->pairs[first[i]].key;

                /* first[i] < i, so the first key is already in its final place, unchanged. */
                report(b, p->key->line, p->key->column, "duplicate key '%s' (first at %u:%u)",
                       yb_excerpt(p->key->value, buf, sizeof(buf)), f->line, f->column);
                yb_yaml_node_free(p->key);
                yb_yaml_node_free(p->value);
        }
        map->n_pairs = kept;
        return 0;
}

/* Converts a byte offset of the input into libyaml-style line and column (characters). */
static void offset_to_position(const char *text, size_t size, size_t offset, unsigned *ret_line,
                               unsigned *ret_column) {
        unsigned line = 1, column = 1;

        for (size_t i = 0; i < offset && i < size; i++) {
                unsigned char c = (unsigned char) text[i];

                if (c == '\n' || (c == '\r' && (i + 1 >= size || text[i + 1] != '\n'))) {
                        line++;
                        column = 1;
                } else if ((c & 0xc0) != 0x80 && c != '\r')
                        column++;
        }
        *ret_line = line;
        *ret_column = column;
}

static int report_parser_error(Builder *b, const yaml_parser_t *p, const char *text, size_t size) {
        unsigned line, column;

        switch (p->error) {
        case YAML_MEMORY_ERROR:
                return -ENOMEM;
        case YAML_READER_ERROR:
                offset_to_position(text, size, p->problem_offset, &line, &column);
                if (p->problem_value >= 0)
                        report(b, line, column, "not valid UTF-8 text: %s (#x%X)",
                               p->problem ? p->problem : "bad byte", (unsigned) p->problem_value);
                else
                        report(b, line, column, "not valid UTF-8 text: %s",
                               p->problem ? p->problem : "bad byte");
                return 0;
        default:
                line = (unsigned) p->problem_mark.line + 1;
                column = (unsigned) p->problem_mark.column + 1;
                if (p->context)
                        report(b, line, column, "syntax error: %s (%s at %u:%u)%s",
                               p->problem ? p->problem : "unexpected input", p->context,
                               (unsigned) p->context_mark.line + 1,
                               (unsigned) p->context_mark.column + 1,
                               /* The usual cause: an unquoted calendar such as *-*-* 01:00. */
                               streq(p->context, "while scanning an alias")
                                       ? "; quote a value that starts with '*', as in "
                                         "\"*-*-* 01:00\""
                                       : "");
                else
                        report(b, line, column, "syntax error: %s",
                               p->problem ? p->problem : "unexpected input");
                return 0;
        }
}

static void builder_done(Builder *b) {
        while (b->depth > 0) {
                Frame *f = &b->stack[--b->depth];

                yb_yaml_node_free(f->key);
                yb_yaml_node_free(f->node);
        }
        b->root = yb_yaml_node_free(b->root);
}

/* Handles one event. Returns 1 to go on, 0 at the end (or when a problem stops the parse), or
 * -ENOMEM. */
static int handle_event(Builder *b, const yaml_event_t *e) {
        const yaml_mark_t *m = &e->start_mark;
        YbYamlNode *n;
        int r;

        switch (e->type) {
        case YAML_STREAM_START_EVENT:
                /* libyaml takes a byte order mark to mean UTF-16; a UTF-8 one it skips. */
                if (e->data.stream_start.encoding != YAML_UTF8_ENCODING) {
                        report(b, 1, 1, "the file is UTF-16: save it as UTF-8");
                        return 0;
                }
                return 1;
        case YAML_STREAM_END_EVENT:
                return 0;
        case YAML_DOCUMENT_START_EVENT:
                if (b->have_root) {
                        report(b, (unsigned) m->line + 1, (unsigned) m->column + 1,
                               "a second YAML document: a file holds one");
                        return 0;
                }
                return 1;
        case YAML_ALIAS_EVENT: {
                char buf[64];

                report(b, (unsigned) m->line + 1, (unsigned) m->column + 1,
                       "aliases ('*%s') are not allowed; quote a value that starts with '*'",
                       yb_excerpt((const char *) e->data.alias.anchor, buf, sizeof(buf)));
                n = node_new(b, YB_YAML_INVALID, m);
                if (!n)
                        return errno == ENOMEM ? -ENOMEM : 0;
                return attach(b, n) < 0 ? -ENOMEM : 1;
        }
        case YAML_SCALAR_EVENT:
                check_properties(b, m, e->data.scalar.anchor, e->data.scalar.tag);
                if (memchr(e->data.scalar.value, 0, e->data.scalar.length)) {
                        report(b, (unsigned) m->line + 1, (unsigned) m->column + 1,
                               "NUL characters are not allowed in values");
                        n = node_new(b, YB_YAML_INVALID, m);
                        if (!n)
                                return errno == ENOMEM ? -ENOMEM : 0;
                        return attach(b, n) < 0 ? -ENOMEM : 1;
                }
                n = node_new(b, YB_YAML_SCALAR, m);
                if (!n)
                        return errno == ENOMEM ? -ENOMEM : 0;
                n->value = strndup((const char *) e->data.scalar.value, e->data.scalar.length);
                if (!n->value) {
                        yb_yaml_node_free(n);
                        return -ENOMEM;
                }
                n->length = e->data.scalar.length;
                n->plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
                return attach(b, n) < 0 ? -ENOMEM : 1;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
                if (e->type == YAML_SEQUENCE_START_EVENT)
                        check_properties(b, m, e->data.sequence_start.anchor,
                                         e->data.sequence_start.tag);
                else
                        check_properties(b, m, e->data.mapping_start.anchor,
                                         e->data.mapping_start.tag);
                if (b->depth >= YB_YAML_MAX_DEPTH) {
                        report(b, (unsigned) m->line + 1, (unsigned) m->column + 1,
                               "nested more than %d levels deep", YB_YAML_MAX_DEPTH);
                        return 0;
                }
                n = node_new(b,
                             e->type == YAML_SEQUENCE_START_EVENT ? YB_YAML_SEQUENCE
                                                                  : YB_YAML_MAPPING,
                             m);
                if (!n)
                        return errno == ENOMEM ? -ENOMEM : 0;
                b->stack[b->depth++] = (Frame){ .node = n };
                return 1;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: {
                Frame f;

                assert(b->depth > 0);
                f = b->stack[--b->depth];
                assert(!f.have_key && !f.key);
                if (f.node->kind == YB_YAML_MAPPING) {
                        r = drop_duplicate_keys(b, f.node);
                        if (r < 0) {
                                yb_yaml_node_free(f.node);
                                return r;
                        }
                }
                return attach(b, f.node) < 0 ? -ENOMEM : 1;
        }
        default:
                return 1;
        }
}

int yb_yaml_parse(const char *text, size_t size, YbYamlErrorFn error_fn, void *userdata,
                  YbYamlNode **ret) {
        Builder b = { .error_fn = error_fn, .userdata = userdata };
        yaml_parser_t parser;
        int r = 1;

        assert(text || size == 0);
        if (size > YB_YAML_MAX_SIZE) {
                report(&b, 1, 1, "the file is larger than %d KiB", YB_YAML_MAX_SIZE / 1024);
                *ret = NULL;
                return b.n_errors;
        }
        if (!yaml_parser_initialize(&parser))
                return -ENOMEM;
        yaml_parser_set_input_string(&parser, (const unsigned char *) (text ? text : ""), size);
        while (r > 0) {
                yaml_event_t e;

                if (!yaml_parser_parse(&parser, &e)) {
                        r = report_parser_error(&b, &parser, text, size);
                        if (r == 0)
                                b.root = yb_yaml_node_free(b.root);
                        break;
                }
                r = handle_event(&b, &e);
                yaml_event_delete(&e);
        }
        yaml_parser_delete(&parser);
        if (r < 0 || b.depth > 0) {
                /* Out of memory, or a limit stopped the parse inside a collection. */
                builder_done(&b);
                if (r < 0)
                        return log_debug_errno(r, "Failed to parse YAML: %m");
        }
        *ret = TAKE_PTR(b.root);
        return b.n_errors;
}
