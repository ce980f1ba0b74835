/* What an overwrite achieves on the filesystem beneath a path (erase.h; docs/decommission.md,
 * "Honest methods"). The facts come from medium-probe.c; the judgement here is pure, so that
 * tests/unit/test-erase.c can put every case to it.
 *
 * An overwrite in place is effective only when two layers both keep a file's blocks where they
 * were: the filesystem (ext2/3/4 without data=journal, XFS without reflink: everything else is
 * copy-on-write, log-structured, journals data, shares blocks, lives in memory or elsewhere) and
 * the disk (a local spinning disk: a loop, thin, virtual or network volume maps blocks anew, and
 * flash remaps every write). The first layer that fails gives `why`; the disk says what the
 * operator must still do to purge the medium. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/base/macro.h"
#include "core/erase/erase.h"

/* snprintf into a fixed field; a long path is cut rather than refused. */
_printf_(3, 4) static void say(char *buf, size_t size, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(buf, size, fmt, ap);
        va_end(ap);
}

static bool name_in(const char *name, const char *const *list) {
        for (size_t i = 0; list[i]; i++)
                if (streq(name, list[i]))
                        return true;
        return false;
}

static bool has_prefix(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The mount option opt ("data=journal") among the comma-separated options. */
static bool has_option(const char *options, const char *opt) {
        size_t n = strlen(opt);

        for (const char *p = options; p && *p;) {
                const char *comma = strchr(p, ',');
                size_t k = comma ? (size_t) (comma - p) : strlen(p);

                if (k == n && strncmp(p, opt, n) == 0)
                        return true;
                p = comma ? comma + 1 : NULL;
        }
        return false;
}

static bool is_network_fs(const char *fs) {
        static const char *const names[] = { "nfs",  "nfs4",      "cifs",     "smb3",  "smbfs",
                                             "ceph", "glusterfs", "9p",       "afs",   "lustre",
                                             "gfs2", "ocfs2",     "virtiofs", "davfs", NULL };

        return name_in(fs, names);
}

/* The filesystem's verdict: true when it writes an overwrite to the same blocks (the disk is
 * judged next); else why and, for those without a disk of their own, what is left to do. */
static bool judge_filesystem(const YbMediumFacts *f, YbMedium *m) {
        const char *fs = f->fstype, *src = *f->source ? f->source : "its source";

        if (name_in(fs, (const char *const[]){ "btrfs", "zfs", "bcachefs", NULL })) {
                say(m->why, sizeof(m->why),
                    "%s is copy-on-write: an overwrite writes new blocks and leaves the old ones",
                    streq(fs, "zfs") ? "ZFS" : fs);
                return false;
        }
        if (streq(fs, "f2fs")) {
                say(m->why, sizeof(m->why),
                    "F2FS is log-structured: an overwrite is appended elsewhere and the old "
                    "blocks stay until its cleaner reuses them");
                return false;
        }
        if (streq(fs, "nilfs2")) {
                say(m->why, sizeof(m->why),
                    "NILFS is log-structured and keeps checkpoints: an overwrite is appended "
                    "elsewhere and the old blocks stay in the checkpoints");
                return false;
        }
        if (is_network_fs(fs) || has_prefix(fs, "nfs")) {
                say(m->why, sizeof(m->why),
                    "%s is a network filesystem: the overwrite is sent to the server (%s), which "
                    "decides where it lands",
                    fs, src);
                snprintf(m->kind, sizeof(m->kind), "network filesystem");
                say(m->operator_must, sizeof(m->operator_must),
                    "purge the server's storage that holds %s (destroy that volume)", src);
                return false;
        }
        if (streq(fs, "fuse") || streq(fs, "fuseblk") || has_prefix(fs, "fuse.")) {
                say(m->why, sizeof(m->why),
                    "%s is a FUSE filesystem: the program behind it, not the kernel, decides "
                    "where an overwrite lands",
                    fs);
                snprintf(m->kind, sizeof(m->kind), "FUSE filesystem");
                say(m->operator_must, sizeof(m->operator_must),
                    "purge the storage behind the FUSE filesystem (%s)", src);
                return false;
        }
        if (streq(fs, "overlay") || streq(fs, "aufs")) {
                say(m->why, sizeof(m->why),
                    "%s is a union filesystem: a file of a lower layer (a container image's) "
                    "is not deleted but hidden by a whiteout, and one written is copied up, so "
                    "neither the overwrite nor the deletion reaches the lower layers",
                    fs);
                snprintf(m->kind, sizeof(m->kind), "union filesystem");
                say(m->operator_must, sizeof(m->operator_must),
                    "delete the system's files from the %s's lower layers (its mount's lowerdir: "
                    "the container's image), or destroy the volumes that hold its layers",
                    fs);
                return false;
        }
        if (streq(fs, "tmpfs")) {
                say(m->why, sizeof(m->why),
                    "tmpfs keeps files in memory and may have written them to swap: there are no "
                    "disk blocks to overwrite, and copies in swap are not reached");
                snprintf(m->kind, sizeof(m->kind), "memory");
                say(m->operator_must, sizeof(m->operator_must),
                    "unmount the tmpfs or reboot the host to drop its pages, and purge the swap "
                    "device if swap is on");
                return false;
        }
        if (streq(fs, "ramfs")) {
                say(m->why, sizeof(m->why),
                    "ramfs keeps files in memory only: there are no disk blocks to overwrite");
                snprintf(m->kind, sizeof(m->kind), "memory");
                say(m->operator_must, sizeof(m->operator_must),
                    "unmount the ramfs or reboot the host to drop its pages");
                return false;
        }
        if (name_in(fs, (const char *const[]){ "ext2", "ext3", "ext4", NULL })) {
                if (has_option(f->mount_options, "data=journal")) {
                        say(m->why, sizeof(m->why),
                            "%s is mounted with data=journal: file data goes through the "
                            "journal first, and the copy there is not overwritten",
                            fs);
                        return false;
                }
                return true;
        }
        if (streq(fs, "xfs")) {
                if (f->xfs_reflink) {
                        say(m->why, sizeof(m->why),
                            "this XFS has reflink: a file's blocks may be shared with other "
                            "files, and an overwrite of a shared block writes a new copy and "
                            "leaves the old one");
                        return false;
                }
                return true;
        }
        say(m->why, sizeof(m->why),
            "%s is not a filesystem where an overwrite is known to reach the same blocks (only "
            "ext2/3/4 without data=journal and XFS without reflink are)",
            *fs ? fs : "the filesystem (unknown)");
        return false;
}

/* The disk's verdict and kind: true for a local spinning disk; else why (when the filesystem
 * passed: fs_ok) and what the operator must do. */
static bool judge_disk(const YbMediumFacts *f, bool fs_ok, YbMedium *m) {
        const char *disk = *f->disk ? f->disk : f->device;
        char why[sizeof(m->why)] = "", must[sizeof(m->operator_must)] = "";
        bool ok = false;

        if (f->memory) {
                snprintf(m->kind, sizeof(m->kind), "memory");
                say(why, sizeof(why),
                    "the disk %s is compressed memory (zram): there are no disk blocks to "
                    "overwrite, and the pages it gave up are not reached",
                    disk);
                say(must, sizeof(must), "reset the zram device (%s) or reboot the host", disk);
        } else if (!*f->device) {
                snprintf(m->kind, sizeof(m->kind), "unknown");
                say(why, sizeof(why),
                    "the disk beneath %s could not be identified, so nothing shows that an "
                    "overwrite reaches the blocks that held the data",
                    *f->fstype ? f->fstype : "the filesystem");
                say(must, sizeof(must), "find the volume that holds %s and destroy or purge it",
                    *f->source ? f->source : "this filesystem");
        } else if (f->loop) {
                snprintf(m->kind, sizeof(m->kind), "loop device");
                say(why, sizeof(why),
                    "the filesystem sits on the loop device %s, backed by the file %s: the "
                    "overwrite reaches that file, not necessarily the blocks beneath it",
                    disk, *f->backing_file ? f->backing_file : "(unknown)");
                say(must, sizeof(must),
                    "erase the backing file %s as its own medium allows, or destroy the volume "
                    "that holds it",
                    *f->backing_file ? f->backing_file : "of the loop device");
        } else if (f->thin) {
                snprintf(m->kind, sizeof(m->kind), "thin volume");
                say(why, sizeof(why),
                    "the volume %s is thin-provisioned: a write may be given new blocks of its "
                    "pool, and the old ones stay in the pool",
                    f->device);
                say(must, sizeof(must),
                    "destroy the thin volume (%s) and purge its pool's disks (%s)", f->device,
                    *f->slaves ? f->slaves : disk);
        } else if (f->network) {
                snprintf(m->kind, sizeof(m->kind), "network disk");
                say(why, sizeof(why),
                    "the disk %s is a network block device: the overwrite reaches its server, "
                    "which decides where it lands",
                    disk);
                say(must, sizeof(must), "destroy the volume (%s) on its server's storage", disk);
        } else if (f->virtual_disk) {
                snprintf(m->kind, sizeof(m->kind), "virtual disk");
                say(why, sizeof(why),
                    "the disk %s is a virtual disk: the overwrite reaches the virtual disk, not "
                    "necessarily the blocks beneath it on the cloud's storage",
                    disk);
                say(must, sizeof(must),
                    "destroy the volume (%s) on the cloud's storage, or purge the backing store",
                    disk);
        } else if (!f->rotational) {
                snprintf(m->kind, sizeof(m->kind), "solid-state disk");
                say(why, sizeof(why),
                    "the disk %s is a solid-state disk: its controller remaps writes, so an "
                    "overwrite lands in other cells and the old ones stay until the disk erases "
                    "them",
                    disk);
                say(must, sizeof(must),
                    "purge the disk (%s) with its own sanitize or secure-erase command, or "
                    "destroy it",
                    disk);
        } else {
                snprintf(m->kind, sizeof(m->kind), "disk");
                ok = true;
                say(why, sizeof(why),
                    "%s on the local spinning disk %s: an overwrite in place reaches the blocks "
                    "that held the data",
                    f->fstype, disk);
                if (!fs_ok)
                        say(must, sizeof(must),
                            "overwrite the whole disk (%s) or destroy it when it is retired", disk);
        }
        if (fs_ok)
                memcpy(m->why, why, sizeof(why));
        if (!*m->operator_must)
                memcpy(m->operator_must, must, sizeof(must));
        return ok;
}

void yb_medium_judge(const YbMediumFacts *f, YbMedium *ret) {
        YbMedium m = { 0 };
        bool fs_ok, disk_ok;

        snprintf(m.fstype, sizeof(m.fstype), "%s", f->fstype);
        snprintf(m.device, sizeof(m.device), "%s", f->device);
        m.encrypted = f->dm_crypt;
        fs_ok = judge_filesystem(f, &m);
        if (!fs_ok && !*f->device && !f->memory) {
                /* A network, FUSE, union or memory filesystem, or one on no disk we could
                 * find: no disk of its own to judge. */
                if (!*m.kind)
                        snprintf(m.kind, sizeof(m.kind), "unknown");
                if (!*m.operator_must)
                        say(m.operator_must, sizeof(m.operator_must),
                            "find the volumes that hold %s and destroy or purge them",
                            *f->source ? f->source : "this filesystem");
                disk_ok = false;
        } else
                disk_ok = judge_disk(f, fs_ok, &m);
        m.overwrite_effective = fs_ok && disk_ok;
        if (f->dm_crypt) {
                size_t n = strlen(m.operator_must);

                say(m.operator_must + n, sizeof(m.operator_must) - n,
                    "%sdm-crypt is beneath (%s): erasing its LUKS key slots (cryptsetup "
                    "luksErase) is the real purge",
                    n ? "; " : "", f->device);
        }
        *ret = m;
}

void yb_medium_remote(const char *location, YbMedium *ret) {
        bool s3 = strncmp(location, "s3://", 5) == 0;
        YbMedium m = { 0 };

        snprintf(m.fstype, sizeof(m.fstype), "%s", s3 ? "s3" : "sftp");
        snprintf(m.kind, sizeof(m.kind), "%s", s3 ? "S3 object store" : "remote SFTP server");
        say(m.why, sizeof(m.why),
            s3 ? "the store %s is an S3 object store: an object cannot be overwritten in place, "
                 "and where its bytes lie is the object store's to decide"
               : "the store %s is reached over SFTP: an overwrite over SFTP proves nothing about "
                 "the server's disk",
            location);
        say(m.operator_must, sizeof(m.operator_must),
            s3 ? "have the object store's operator purge the storage that held %s (on Ceph, once "
                 "radosgw's garbage collection has run: the pool's disks)"
               : "have the SFTP server's operator purge the storage that held %s (destroy that "
                 "volume)",
            location);
        *ret = m;
}

/* A JSON string of s, or null when s is empty. */
static json_t *string_or_null(const char *s) {
        return *s ? json_string(s) : json_null();
}

json_t *yb_medium_json(const YbMedium *m) {
        return json_pack("{s:s, s:o, s:s, s:b, s:s, s:b, s:o}", "filesystem", m->fstype, "device",
                         string_or_null(m->device), "kind", m->kind, "overwrite_effective",
                         m->overwrite_effective, "why", m->why, "encrypted", m->encrypted,
                         "operator_must", string_or_null(m->operator_must));
}

int yb_medium_probe(const char *path, YbMedium *ret) {
        YbMediumFacts f;
        int r;

        r = yb_medium_read_facts(path, &f);
        if (r < 0)
                return r;
        yb_medium_judge(&f, ret);
        return 0;
}
