#include "core/store/store.h"

#include <stdio.h>

#include "core/base/buf.h"
#include "core/base/log.h"

static const YbStoreOps *const backends[] = {
        &yb_store_local_ops,
        &yb_store_sftp_ops,
        &yb_store_s3_ops,
};

int yb_store_open(const char *location, YbStore **ret) {
        return yb_store_open_ex(location, NULL, ret, NULL, 0);
}

int yb_store_open_ex(const char *location, const YbStoreOptions *opts, YbStore **ret, char *err,
                     size_t err_size) {
        _cleanup_(yb_location_done) YbLocation where = { 0 };
        static const YbStoreOptions defaults = { 0 };
        const YbStoreOps *ops = NULL;
        char why[256];
        int kind, r;

        if (err && err_size > 0)
                err[0] = 0;

        /* The backend first: a location of a kind we have no backend for is refused as such,
         * however it is written. */
        kind = yb_location_kind(location);
        if (kind < 0)
                return kind;
        for (size_t i = 0; i < ELEMENTSOF(backends); i++)
                if ((int) backends[i]->kind == kind)
                        ops = backends[i];
        if (!ops)
                return -EPROTONOSUPPORT;
        r = yb_location_parse(location, &where, why, sizeof(why));
        if (r < 0) {
                if (err && err_size > 0)
                        snprintf(err, err_size, "%s", why);
                return log_debug_errno(r, "Bad store location '%s': %s", location, why);
        }
        if (!err || err_size == 0) {
                err = why;
                err_size = sizeof(why);
        }
        return ops->open(location, &where, opts ? opts : &defaults, ret, err, err_size);
}

YbStore *yb_store_close(YbStore *s) {
        if (s)
                s->ops->close(s);
        return NULL;
}

const char *yb_store_location(const YbStore *s) {
        return s->location;
}

/* Store paths come from our own code, but a name read back from a listing must never climb out. */
static bool path_ok(const char *path) {
        const char *p = path;

        if (!*path || *path == '/')
                return false;
        for (;;) {
                const char *e = strchrnul(p, '/');
                size_t n = (size_t) (e - p);

                /* no empty component (a trailing or doubled slash), no "." or ".." */
                if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                if (!*e)
                        return true;
                p = e + 1;
        }
}

int yb_store_open_read(YbStore *s, const char *path, YbStoreFile **ret) {
        if (!path_ok(path))
                return -EINVAL;
        return s->ops->open_read(s, path, ret);
}

int yb_store_create(YbStore *s, const char *path, YbStoreFile **ret) {
        return yb_store_create_ex(s, path, 0, ret);
}

int yb_store_create_ex(YbStore *s, const char *path, unsigned flags, YbStoreFile **ret) {
        if (!path_ok(path))
                return -EINVAL;
        return s->ops->create(s, path, flags, ret);
}

bool yb_store_objects(const YbStore *s) {
        return s->ops->flags & YB_STORE_OBJECTS;
}

bool yb_store_verifies_bodies(const YbStore *s) {
        return s->ops->flags & YB_STORE_VERIFIES_BODIES;
}

int yb_store_open_append(YbStore *s, const char *path, uint64_t *ret_size, YbStoreFile **ret) {
        int r;

        if (!path_ok(path))
                return -EINVAL;
        r = s->ops->open_append(s, path, ret_size, ret);
        if (r >= 0)
                (*ret)->written = *ret_size;
        return r;
}

ssize_t yb_store_read(YbStoreFile *f, void *data, size_t n) {
        return f->store->ops->read(f, data, n);
}

ssize_t yb_store_pread(YbStoreFile *f, void *data, size_t n, uint64_t off) {
        return f->store->ops->pread(f, data, n, off);
}

int yb_store_write(YbStoreFile *f, const void *data, size_t n) {
        int r = f->store->ops->write(f, data, n);

        if (r >= 0)
                f->written += n;
        return r;
}

int yb_store_sync(YbStoreFile *f) {
        return f->store->ops->sync(f);
}

YbStoreFile *yb_store_file_close(YbStoreFile *f) {
        if (f)
                f->store->ops->file_close(f);
        return NULL;
}

YbStoreFile *yb_store_file_abort(YbStoreFile *f) {
        if (f && f->store->ops->file_abort)
                f->store->ops->file_abort(f);
        else if (f)
                f->store->ops->file_close(f);
        return NULL;
}

int yb_store_rename(YbStore *s, const char *from, const char *to) {
        if (!path_ok(from) || !path_ok(to))
                return -EINVAL;
        return s->ops->rename(s, from, to);
}

int yb_store_unlink(YbStore *s, const char *path) {
        if (!path_ok(path))
                return -EINVAL;
        return s->ops->unlink(s, path);
}

int yb_store_mkdir(YbStore *s, const char *path) {
        if (!path_ok(path))
                return -EINVAL;
        return s->ops->mkdir(s, path);
}

int yb_store_rmdir(YbStore *s, const char *path) {
        if (!path_ok(path))
                return -EINVAL;
        return s->ops->rmdir(s, path);
}

int yb_store_stat(YbStore *s, const char *path, YbStoreStat *ret) {
        if (!path_ok(path))
                return -EINVAL;
        return s->ops->stat(s, path, ret);
}

int yb_store_list(YbStore *s, const char *path, int (*fn)(void *ud, const char *name), void *ud) {
        if (*path && !path_ok(path)) /* "": the store's top level, one directory per system */
                return -EINVAL;
        return s->ops->list(s, path, fn, ud);
}

int yb_store_sync_dir(YbStore *s, const char *path) {
        if (!path_ok(path))
                return -EINVAL;
        return s->ops->sync_dir(s, path);
}

typedef struct NameList {
        char **names;
        size_t n, alloc;
} NameList;

static int collect_name(void *ud, const char *name) {
        NameList *l = ud;

        if (l->n == l->alloc) {
                size_t a = l->alloc ? l->alloc * 2 : 16;
                char **p = realloc(l->names, a * sizeof(char *));

                if (!p)
                        return -ENOMEM;
                l->names = p;
                l->alloc = a;
        }
        l->names[l->n] = strdup(name);
        if (!l->names[l->n])
                return -ENOMEM;
        l->n++;
        return 0;
}

int yb_store_remove_tree(YbStore *s, const char *path) {
        NameList l = { 0 };
        YbStoreStat st;
        int r;

        if (!path_ok(path))
                return -EINVAL;
        if (s->ops->remove_tree)
                return s->ops->remove_tree(s, path);

        r = yb_store_stat(s, path, &st);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (!st.is_dir)
                return yb_store_unlink(s, path);
        r = yb_store_list(s, path, collect_name, &l);
        for (size_t i = 0; i < l.n && r >= 0; i++) {
                _cleanup_free_ char *child = NULL;

                if (asprintf(&child, "%s/%s", path, l.names[i]) < 0)
                        r = -ENOMEM;
                else
                        r = yb_store_remove_tree(s, child);
        }
        for (size_t i = 0; i < l.n; i++)
                free(l.names[i]);
        free(l.names);
        if (r < 0)
                return r;
        r = yb_store_rmdir(s, path);
        return r == -ENOENT ? 0 : r;
}

int yb_store_read_file(YbStore *s, const char *path, size_t max, YbBuf *ret) {
        _cleanup_(yb_store_file_closep) YbStoreFile *f = NULL;
        uint8_t tmp[65536];
        int r;

        r = yb_store_open_read(s, path, &f);
        if (r < 0)
                return r;
        for (;;) {
                ssize_t k = yb_store_read(f, tmp, sizeof(tmp));

                if (k < 0)
                        return (int) k;
                if (k == 0)
                        return 0;
                if (ret->size + (size_t) k > max)
                        return -EFBIG;
                r = yb_buf_append(ret, tmp, (size_t) k);
                if (r < 0)
                        return r;
        }
}

int yb_store_write_file(YbStore *s, const char *path, const void *data, size_t n) {
        _cleanup_(yb_store_file_closep) YbStoreFile *f = NULL;
        int r;

        r = yb_store_create(s, path, &f);
        if (r < 0)
                return r;
        r = yb_store_write(f, data, n);
        if (r < 0)
                return r;
        return yb_store_sync(f);
}

ssize_t yb_store_read_cb(void *userdata, void *data, size_t n) {
        return yb_store_read(userdata, data, n);
}

int yb_store_write_cb(void *userdata, const void *data, size_t n) {
        return yb_store_write(userdata, data, n);
}
