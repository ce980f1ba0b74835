/* The first step of a backup: opening the repository. The public key given must be the system's
 * (and not, by mistake, its private key); the agent's own identity is loaded or made; the store is
 * opened, the repository opened or created under that key, and locked against a second backup of
 * the same system. */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>

#include "agents/backup-internal.h"
#include "core/base/exitcode.h"
#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"

#define KEY_NAME_MAX (PATH_MAX + 3)

/* Whether path holds a private key file (given by mistake where the public key belongs). */
static bool key_file_is_private(const char *path) {
        YbBuf b = YB_BUF_INIT;
        bool r = false;

        if (yb_read_file_at(AT_FDCWD, path, 64 * 1024, &b) >= 0 && yb_buf_append_u8(&b, 0) >= 0)
                r = strstr((char *) b.data, "\"yunbak-secret-key\"") != NULL;
        yb_buf_done(&b);
        return r;
}

/* Reads the public key of --public-key or --public-key-json into pub and checks that it is the
 * system's; key_name gets the key as messages name it. Returns an exit code. */
static int read_public_key(const AgentBackupArgs *args, YbPublicKey *pub,
                           char key_name[KEY_NAME_MAX]) {
        int r;

        if (args->public_key_json) {
                r = yb_public_key_parse(args->public_key_json, strlen(args->public_key_json), pub);
                if (r == -EBADMSG && strstr(args->public_key_json, "\"yunbak-secret-key\""))
                        return agent_fail(-EKEYREJECTED,
                                          "--public-key-json holds the system's PRIVATE key. An "
                                          "agent needs only the public key (ID.pub).");
                if (r < 0)
                        return agent_fail(-EKEYREJECTED,
                                          "--public-key-json is not the text of a yunbak public "
                                          "key (ID.pub).");
                snprintf(key_name, KEY_NAME_MAX, "given with --public-key-json");
        } else {
                snprintf(key_name, KEY_NAME_MAX, "'%s'", args->public_key);
                r = yb_public_key_read(args->public_key, pub);
        }
        if (r == -EBADMSG && key_file_is_private(args->public_key))
                return agent_fail(-EKEYREJECTED,
                                  "'%s' is the system's PRIVATE key. An agent needs only the "
                                  "public key (ID.pub); the private key must not be on the "
                                  "agent's host.",
                                  args->public_key);
        if (r == -EBADMSG || r == -EPROTONOSUPPORT)
                return agent_fail(-EKEYREJECTED, "'%s' is not a yunbak public key file.",
                                  args->public_key);
        if (r < 0)
                return agent_fail(r, "Cannot read public key '%s': %s", args->public_key,
                                  strerror(-r));
        if (!streq(pub->system, args->system))
                return agent_fail(-EKEYREJECTED, "Public key %s belongs to system '%s', not '%s'.",
                                  key_name, pub->system, args->system);
        return YB_EXIT_OK;
}

static int open_store(AgentBackup *b) {
        const AgentBackupArgs *args = b->args;
        const YbStoreOptions o = agent_store_options(args);
        int kind = yb_location_kind(args->store);
        char why[1024] = "";
        int r;

        r = yb_store_open_ex(args->store, &o, &b->store, why, sizeof(why));
        /* A remote store says why for people: the host or bucket, what was refused, what to do.
         * A refused login or credentials counts as unreachable (exit 6), as does a missing
         * bucket; what only the command line or the build can mend fails. */
        if (r < 0 && (kind == YB_LOCATION_SFTP || kind == YB_LOCATION_S3) && why[0])
                return agent_fail(r == -EPROTONOSUPPORT || r == -EINVAL || r == -ENOSYS
                                          ? -EINVAL
                                          : -EHOSTUNREACH,
                                  "Cannot open the store '%s': %s", args->store, why);
        if (r == -ENOENT || r == -ENOTDIR || r == -EACCES)
                return r == -EACCES ? agent_fail(r, "Cannot open store '%s': %s", args->store,
                                                 strerror(-r))
                                    : (log_error("Store '%s' does not exist (or is not a "
                                                 "directory).",
                                                 args->store),
                                       YB_EXIT_UNREACHABLE);
        if (r == -EPROTONOSUPPORT)
                return agent_fail(-EINVAL,
                                  "Store '%s': unknown kind of location (use a directory "
                                  "path, file:///path, sftp://user@host[:port]/path or "
                                  "s3://bucket[/prefix]).",
                                  args->store);
        if (r < 0)
                return agent_fail(r, "Cannot open store '%s': %s", args->store, strerror(-r));
        return YB_EXIT_OK;
}

/* Opens (or creates) the repository under pub and locks it. */
static int open_repo(AgentBackup *b, const YbPublicKey *pub, const char *key_name) {
        const AgentBackupArgs *args = b->args;
        char kid[2 * YB_KEY_ID_SIZE + 1], kid2[2 * YB_KEY_ID_SIZE + 1];
        int r;

        r = yb_repo_open_or_create(b->store, pub, &b->repo);
        if (r == -EKEYREJECTED) {
                YbRepo *other = NULL;

                yb_key_id_hex(pub->id, kid);
                if (yb_repo_open(b->store, args->system, &other) >= 0)
                        yb_key_id_hex(other->config.pub.id, kid2);
                else
                        strcpy(kid2, "?");
                yb_repo_free(other);
                return agent_fail(r,
                                  "The repository of system '%s' in '%s' uses key %s, but the key "
                                  "%s is %s. Use the system's own public key.",
                                  args->system, args->store, kid2, key_name, kid);
        }
        if (r < 0)
                return agent_fail(r, "Cannot open the repository of system '%s' in '%s': %s",
                                  args->system, args->store,
                                  r == -EBADMSG ? "its config is damaged" : strerror(-r));
        r = agent_repo_lock_wait(b->repo, args->store, args->lock_wait_usec, "The backup");
        if (r == -EBUSY)
                return agent_fail(r,
                                  "Another backup of system '%s' is running (lock held by %s; "
                                  "a prune or a WAL archiver holds the lock too, but not for "
                                  "the whole --lock-wait).",
                                  args->system, b->repo->lock_owner);
        if (r < 0)
                return agent_fail(r, "Cannot lock the repository of system '%s' in '%s': %s",
                                  args->system, args->store, strerror(-r));
        r = yb_repo_cleanup_tmp(b->repo);
        if (r < 0)
                log_warning_errno(r, "Cannot remove leftovers of an interrupted backup: %m");
        return YB_EXIT_OK;
}

int agent_repo_lock_wait(YbRepo *repo, const char *store, int64_t timeout_usec, const char *what) {
        int64_t start = yb_monotonic_usec();
        bool said = false;
        int r;

        while ((r = yb_repo_lock(repo)) == -EBUSY && yb_monotonic_usec() - start < timeout_usec) {
                if (!said)
                        log_info("%s waits for the repository lock of system '%s' in store '%s', "
                                 "held by %s.",
                                 what, repo->system, store, repo->lock_owner);
                said = true;
                (void) poll(NULL, 0, 200);
        }
        return r;
}

/* The public key, the agent's identity and the store; key_name as read_public_key's. */
static int open_store_with_key(AgentBackup *b, YbPublicKey *pub, char key_name[KEY_NAME_MAX]) {
        int r;

        r = read_public_key(b->args, pub, key_name);
        if (r != YB_EXIT_OK)
                return r;
        /* A caller may have loaded it already, to say a failure its own way. */
        r = b->agent ? 0 : yb_agent_identity_load(b->args->state_dir, &b->agent);
        if (r < 0)
                return agent_fail(r, "Cannot load or create the agent key in '%s': %s",
                                  b->args->state_dir, strerror(-r));
        return open_store(b);
}

int agent_backup_open_store(AgentBackup *b, YbPublicKey *ret_pub) {
        char key_name[KEY_NAME_MAX];

        return open_store_with_key(b, ret_pub, key_name);
}

int agent_backup_open(AgentBackup *b) {
        char key_name[KEY_NAME_MAX]; /* the key as messages name it */
        YbPublicKey pub;
        int r;

        r = open_store_with_key(b, &pub, key_name);
        if (r != YB_EXIT_OK)
                return r;
        return open_repo(b, &pub, key_name);
}
