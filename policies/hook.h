/* policies/hook.h: reading a policy's sources.hooks (policies/hook.c), for policy.c. The hooks
 * themselves (YbHook, yb_hook_conninfo) are declared in policies/policy.h. */
#pragma once

#include "policies/policy.h"
#include "policies/schema.h"
#include "policies/yamltree.h"

/* Reads the list v (sources.hooks) into p->hooks, reporting every problem to c. */
void yb_policy_read_hooks(YbSchema *c, const YbYamlNode *v, YbPolicy *p);
