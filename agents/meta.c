/* The metadata every record of the snapshot carries: mode, owner, group and mtime, with the owner
 * and group names looked up once per id (a walk meets the same few ids again and again). For a
 * walked entry they come from its stat; for what the agent makes itself (streams and the
 * directories above them), from the agent. */
#include <grp.h>
#include <pwd.h>

#include "agents/backup-internal.h"
#include "core/base/timeutil.h"

typedef struct AgentIdName {
        uint32_t id;
        char *name;
} AgentIdName;

/* The name of user (or group) id, "" when it has none or memory runs out. */
static const char *id_name(AgentIdName **list, size_t *n, uint32_t id, bool group) {
        char buf[4096], *name = NULL;
        AgentIdName *p;

        for (size_t i = 0; i < *n; i++)
                if ((*list)[i].id == id)
                        return (*list)[i].name;
        if (group) {
                struct group g, *res = NULL;

                if (getgrgid_r(id, &g, buf, sizeof(buf), &res) == 0 && res)
                        name = strdup(res->gr_name);
        } else {
                struct passwd pw, *res = NULL;

                if (getpwuid_r(id, &pw, buf, sizeof(buf), &res) == 0 && res)
                        name = strdup(res->pw_name);
        }
        if (!name)
                name = strdup("");
        p = realloc(*list, (*n + 1) * sizeof(AgentIdName));
        if (!p || !name) {
                free(name);
                return "";
        }
        *list = p;
        p[*n] = (AgentIdName){ id, name };
        (*n)++;
        return name;
}

static void names_free(AgentIdName *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(list[i].name);
        free(list);
}

void agent_owners_done(AgentOwners *o) {
        names_free(o->users, o->n_users);
        names_free(o->groups, o->n_groups);
        *o = (AgentOwners){ 0 };
}

/* The record's fields that every kind of entry has; the rest zero. */
static void meta(AgentOwners *o, const char *path, uint32_t mode, uid_t uid, gid_t gid,
                 int64_t mtime_sec, uint32_t mtime_nsec, YbEntry *ret) {
        *ret = (YbEntry){
                .path = (char *) path,
                .mode = mode,
                .uid = uid,
                .gid = gid,
                .uname = (char *) id_name(&o->users, &o->n_users, uid, false),
                .gname = (char *) id_name(&o->groups, &o->n_groups, gid, true),
                .mtime_sec = mtime_sec,
                .mtime_nsec = mtime_nsec,
        };
}

void agent_meta_from_stat(AgentOwners *o, const AgentWalkEntry *e, YbEntry *ret) {
        const struct stat *st = e->st;

        meta(o, e->path, st->st_mode & 07777, st->st_uid, st->st_gid, st->st_mtim.tv_sec,
             (uint32_t) st->st_mtim.tv_nsec, ret);
}

void agent_meta_own(AgentOwners *o, const char *path, int64_t ns, YbEntry *ret) {
        meta(o, path, 0700, geteuid(), getegid(), ns / YB_NSEC_PER_SEC,
             (uint32_t) (ns % YB_NSEC_PER_SEC), ret);
}
