/* core/base/ident.h: the rule for system ids, which name a system's repository, keys, policy
 * and jobs everywhere (and which yunbakd.yaml also applies to the names of stores and hosts). */
#pragma once

#include <stdbool.h>

#define YB_SYSTEM_ID_MAX 63
/* The rule in words, for messages: "... is not valid: " YB_SYSTEM_ID_RULE. */
#define YB_SYSTEM_ID_RULE "use 1 to 63 of a-z, 0-9 and '-', not starting with '-'"

/* True if id is a valid system id: 1 to YB_SYSTEM_ID_MAX characters of [a-z0-9-], not starting
 * with '-' (so it is safe as a file name and cannot be taken for an option). */
bool yb_system_id_valid(const char *id);
