/* orchestrator/config-people.h: the people of yunbakd.yaml and the control socket's group, read
 * for orchestrator/daemon-config.c. */
#pragma once

#include <stddef.h>

#include "orchestrator/daemon-config.h"
#include "policies/schema.h"
#include "policies/yamltree.h"

/* socket_group: a group it names must exist; left out, "yunbak" is taken if it exists. Sets
 * c->socket_group and c->socket_gid; problems go to s. */
void orch_config_read_socket_group(YbSchema *s, const YbYamlNode *root, YbDaemonConfig *c);

/* people[index] (item) into c->people[c->n_people], counting it; problems go to s. c->people
 * has room for it. */
void orch_config_read_person(YbSchema *s, const YbYamlNode *item, size_t index, YbDaemonConfig *c);
