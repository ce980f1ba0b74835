/* orchestrator/config-s3.h: a store's `s3:` block in yunbakd.yaml (docs/operations.md, "A
 * store"; docs/s3.md), read for orchestrator/daemon-config.c. */
#pragma once

#include <stdbool.h>

#include "orchestrator/daemon-config.h"
#include "policies/schema.h"
#include "policies/yamltree.h"

/* The `s3:` key of a store's mapping m (entry: the store's pair, path: "stores.NAME") into
 * st->s3, once its url is read (url_ok; st->kind then says which kind it is): an s3:// store must
 * have the block (endpoint and credentials required; the credentials file must exist and be
 * closed to others; retention and object_lock: compliance come together), any other store must
 * not. Relative paths are resolved against base_dir. Problems go to s at their key or value. */
void orch_config_read_s3(YbSchema *s, const YbYamlPair *entry, const YbYamlNode *m,
                         const char *path, const char *base_dir, bool url_ok, YbConfigStore *st);
