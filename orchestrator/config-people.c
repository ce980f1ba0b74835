/* orchestrator/config-people.c: who may call yunbakd, as yunbakd.yaml says: the people (each a
 * unix account with a role and, for a department person, its department) and the unix group of
 * the control socket. Names are looked up in this machine's accounts as the file is read. */
#include "orchestrator/config-people.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

static const char *const person_keys[] = { "user", "role", "department", NULL };
static const char *const role_names[] = { "operator", "department", "auditor", NULL };

/* The uid of a unix user (group false) or the gid of a unix group: 0, -ENOENT (no such name),
 * -ENOMEM or another -errno. */
static int lookup_id(const char *name, bool group, unsigned *ret) {
        for (size_t size = 1024;; size *= 2) {
                _cleanup_free_ char *buf = malloc(size);
                struct passwd pw, *found_pw = NULL;
                struct group gr, *found_gr = NULL;
                int r;

                if (!buf)
                        return -ENOMEM;
                r = group ? getgrnam_r(name, &gr, buf, size, &found_gr)
                          : getpwnam_r(name, &pw, buf, size, &found_pw);
                if (r == ERANGE && size < 1024 * 1024)
                        continue;
                /* Not found is 0 with no entry, or one of these (getpwnam_r(3)). */
                if (r == 0 || r == ENOENT || r == ESRCH || r == EBADF || r == EPERM) {
                        if (!found_pw && !found_gr)
                                return -ENOENT;
                        *ret = group ? found_gr->gr_gid : found_pw->pw_uid;
                        return 0;
                }
                return -r;
        }
}

/* socket_group: named, it must exist; left out, "yunbak" is taken if it exists. */
void orch_config_read_socket_group(YbSchema *s, const YbYamlNode *root, YbDaemonConfig *c) {
        const YbYamlPair *pair = yb_schema_get(s, root, "socket_group", "", NULL);
        unsigned gid;
        int r;

        if (!pair) {
                if (lookup_id(YB_CONFIG_DEFAULT_SOCKET_GROUP, true, &gid) < 0)
                        return;
                c->socket_group = strdup(YB_CONFIG_DEFAULT_SOCKET_GROUP);
                if (!c->socket_group)
                        s->oom = true;
                else
                        c->socket_gid = (gid_t) gid;
                return;
        }
        if (!yb_schema_read_text(s, pair->value, "socket_group", YB_SCHEMA_TEXT_NO_SPACE,
                                 &c->socket_group))
                return;
        r = lookup_id(c->socket_group, true, &gid);
        if (r == -ENOMEM)
                s->oom = true;
        else if (r == -ENOENT)
                yb_schema_bad(s, pair->value,
                              "socket_group '%s' is not a unix group of this machine: create it "
                              "(groupadd --system %s) and add the people to it, or name another",
                              c->socket_group, c->socket_group);
        else if (r < 0)
                yb_schema_bad(s, pair->value, "cannot look up the unix group '%s': %s",
                              c->socket_group, strerror(-r));
        else
                c->socket_gid = (gid_t) gid;
}

void orch_config_read_person(YbSchema *s, const YbYamlNode *item, size_t index, YbDaemonConfig *c) {
        YbConfigPerson *person = &c->people[c->n_people];
        const YbYamlPair *user, *role, *dep;
        YbSchemaPath path, p;
        char buf[80];
        int r, ri = -1;

        snprintf(path, sizeof(path), "people[%zu]", index);
        if (!yb_schema_read_mapping(s, item, path))
                return;
        yb_schema_check_keys(s, item, path, person_keys);
        *person = (YbConfigPerson){ .uid = (uid_t) -1, .role = YB_ROLE_NONE };
        c->n_people++;

        user = yb_schema_get(s, item, "user", path, item);
        if (user && yb_schema_read_text(s, user->value, yb_schema_join(p, path, "user"),
                                        YB_SCHEMA_TEXT_NO_SPACE, &person->user)) {
                person->line = user->value->line;
                person->column = user->value->column;
                unsigned uid;

                r = lookup_id(person->user, false, &uid);
                if (r >= 0)
                        person->uid = (uid_t) uid;
                if (r == -ENOMEM)
                        s->oom = true;
                else if (r == -ENOENT)
                        yb_schema_bad(s, user->value,
                                      "%s %s is not a unix user of this machine: create the "
                                      "account or correct the name",
                                      p, yb_schema_describe(user->value, buf, sizeof(buf)));
                else if (r < 0)
                        yb_schema_bad(s, user->value, "cannot look up the unix user %s of %s: %s",
                                      yb_schema_describe(user->value, buf, sizeof(buf)), p,
                                      strerror(-r));
                else
                        for (size_t j = 0; j + 1 < c->n_people; j++) {
                                const YbConfigPerson *o = &c->people[j];

                                if (o->user && streq(o->user, person->user)) {
                                        yb_schema_bad(
                                                s, user->value,
                                                "%s %s is already listed (at line %u): "
                                                "list each person once",
                                                p,
                                                yb_schema_describe(user->value, buf, sizeof(buf)),
                                                o->line);
                                        break;
                                }
                                if (o->user && o->uid == person->uid) {
                                        yb_schema_bad(
                                                s, user->value,
                                                "%s %s is the same unix account (uid %u) "
                                                "as '%s' (at line %u): list each person "
                                                "once",
                                                p,
                                                yb_schema_describe(user->value, buf, sizeof(buf)),
                                                (unsigned) person->uid, o->user, o->line);
                                        break;
                                }
                        }
        }
        role = yb_schema_get(s, item, "role", path, item);
        if (role &&
            yb_schema_read_choice(s, role->value, yb_schema_join(p, path, "role"), role_names, &ri))
                person->role = (YbRole) yb_role_from_string(role_names[ri]);
        dep = yb_schema_get(s, item, "department", path, NULL);
        if (dep && person->role != YB_ROLE_NONE && person->role != YB_ROLE_DEPARTMENT)
                yb_schema_bad(s, dep->key,
                              "%s.department is only for role department: an %s sees the "
                              "systems of every department",
                              path, yb_role_to_string(person->role));
        else if (dep)
                (void) yb_schema_read_text(s, dep->value, yb_schema_join(p, path, "department"), 0,
                                           &person->department);
        if (!dep && person->role == YB_ROLE_DEPARTMENT)
                yb_schema_bad(s, item,
                              "missing key 'department' in %s (the department whose systems "
                              "this person sees and acts on)",
                              path);
}
