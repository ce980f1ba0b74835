/* policies/yamltree.h: a small layer over libyaml for configuration files. It parses one document
 * into a tree of nodes that each carry their line:column, keeps every scalar as the string that
 * was written (no YAML 1.1 "yes"/"no"/"0755" conversions: the caller decides what a value
 * means), detects duplicate keys, refuses anchors, aliases and tags, and bounds size, nesting
 * depth and node count so that hostile input costs little. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "core/base/macro.h"

#define YB_YAML_MAX_SIZE (1024 * 1024) /* bytes of input */
#define YB_YAML_MAX_DEPTH 64           /* nested sequences and mappings */
#define YB_YAML_MAX_NODES 100000       /* scalars, sequences and mappings */

typedef enum YbYamlKind {
        YB_YAML_SCALAR,
        YB_YAML_SEQUENCE,
        YB_YAML_MAPPING,
        YB_YAML_INVALID, /* something refused in place (an alias, a NUL character), already reported
                          */
        _YB_YAML_KIND_MAX,
} YbYamlKind;

typedef struct YbYamlNode YbYamlNode;

typedef struct YbYamlPair {
        YbYamlNode *key; /* always a YB_YAML_SCALAR */
        YbYamlNode *value;
} YbYamlPair;

struct YbYamlNode {
        YbYamlKind kind;
        unsigned line, column; /* 1-based; columns count characters (Unicode code points) */
        /* YB_YAML_SCALAR: the text as written, NUL-terminated (a NUL inside is refused) */
        char *value;
        size_t length;
        bool plain; /* unquoted flow scalar; a plain "" is an empty value ("key:" alone) */
        /* YB_YAML_SEQUENCE */
        YbYamlNode **items;
        size_t n_items;
        /* YB_YAML_MAPPING, in document order; of duplicate keys only the first is kept */
        YbYamlPair *pairs;
        size_t n_pairs;
};

/* Receives one problem: its position (1-based) and a message without position. */
typedef void (*YbYamlErrorFn)(void *userdata, unsigned line, unsigned column, const char *message);

/* Parses text (size bytes; need not be NUL-terminated) as a single YAML document. Every problem
 * found is passed to error_fn: syntax errors (at libyaml's position), duplicate keys (at the
 * second, naming the first), non-scalar keys, anchors, aliases, tags, NUL characters, a second
 * document, and the limits above. Returns the number of problems reported (0: clean) and in *ret
 * the tree, which the caller frees; *ret is NULL for an empty stream or when no tree could be
 * built (a syntax error or a limit stops the parse). Problems that do not stop the parse leave a
 * usable tree, so that the caller can go on and report its own errors too. Returns -ENOMEM
 * (and nothing in *ret) if memory runs out. */
int yb_yaml_parse(const char *text, size_t size, YbYamlErrorFn error_fn, void *userdata,
                  YbYamlNode **ret);
YbYamlNode *yb_yaml_node_free(YbYamlNode *n); /* Accepts NULL; always returns NULL. */
DEFINE_FREEP(YbYamlNode, yb_yaml_node_free);

/* The value of key in a mapping, or NULL (also when map is not a mapping). Borrowed. */
const YbYamlNode *yb_yaml_mapping_get(const YbYamlNode *map, const char *key);
/* "a string", "a list", "a mapping" or "an invalid value", for messages. */
const char *yb_yaml_kind_to_string(YbYamlKind k);
/* True for a plain empty scalar: a key written with no value. */
bool yb_yaml_is_empty(const YbYamlNode *n);
