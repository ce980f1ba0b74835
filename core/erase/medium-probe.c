/* The facts beneath a path, as the kernel tells them (erase.h, yb_medium_read_facts): statfs for
 * the filesystem's magic, /proc/self/mountinfo for its mount (type, source, superblock options;
 * ext2/3/4's data=journal also from /proc/fs/ext4/<device>/options, where a superblock default
 * shows), /sys/dev/block/MAJ:MIN for the block device and everything it sits on (partition -> disk,
 * device-mapper slaves, loop backing files, dm uuids for dm-crypt and LVM thin pools, queue
 * rotational, virtio/xen/Hyper-V parents, network block devices, zram), and XFS's geometry ioctl
 * for reflink. What cannot be read stays unknown, which the judgement (medium.c) counts against
 * the overwrite, never for it. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core/base/log.h"
#include "core/base/macro.h"
#include "core/base/pathutil.h"
#include "core/erase/erase.h"

/* XFS's geometry (fs/xfs/libxfs/xfs_fs.h, struct xfs_fsop_geom, 256 bytes; not in the kernel's
 * uapi headers): only the flags word is read. */
struct xfs_geom {
        uint32_t blocksize, rtextsize, agblocks, agcount, logblocks, sectsize, inodesize, imaxpct;
        uint64_t datablocks, rtblocks, rtextents, logstart;
        unsigned char uuid[16];
        uint32_t sunit, swidth;
        int32_t version;
        uint32_t flags;
        uint32_t logsectsize, rtsectsize, dirblocksize, logsunit, sick, checked;
        uint64_t reserved[17];
};
#define XFS_IOC_FSGEOMETRY _IOR('X', 126, struct xfs_geom)
#define XFS_FSOP_GEOM_FLAGS_REFLINK (1u << 20)

/* Filesystem magics of statfs(2) that decide alone, whatever mountinfo says (an overlay reports
 * the st_dev of the layer beneath for its files). */
static const struct {
        long magic;
        const char *name;
} magics[] = {
        { 0x794c7630, "overlay" },
        { 0x01021994, "tmpfs" },
        { (long) 0x858458f6, "ramfs" },
        { 0x9123683e, "btrfs" },
        { 0x2fc12fc1, "zfs" },
        { (long) 0xf2f52010, "f2fs" },
        { 0x3434, "nilfs2" },
        { (long) 0xca451a4e, "bcachefs" },
        { 0x6969, "nfs" },
        { 0x65735546, "fuse" },
        { (long) 0xff534d42, "cifs" },
        { (long) 0xfe534d42, "smb3" },
        { 0x00c36400, "ceph" },
};

/* Whether mountinfo's type names the filesystem of that magic ("nfs4" is nfs, "fuse.sshfs" fuse;
 * CIFS answers with either SMB magic). */
static bool same_family(const char *fstype, const char *magic) {
        if (streq(magic, "cifs") || streq(magic, "smb3"))
                return streq(fstype, "cifs") || streq(fstype, "smb3") || streq(fstype, "smbfs");
        return strncmp(fstype, magic, strlen(magic)) == 0;
}

static const char *magic_name(long type) {
        for (size_t i = 0; i < ELEMENTSOF(magics); i++)
                if ((type & 0xffffffffL) == (magics[i].magic & 0xffffffffL))
                        return magics[i].name;
        return NULL;
}

/* Reads the first line of a small sysfs file into buf without its newline; "" when absent. */
static void read_line(const char *dir, const char *name, char *buf, size_t size) {
        _cleanup_free_ char *p = NULL;
        FILE *f;

        buf[0] = 0;
        if (asprintf(&p, "%s/%s", dir, name) < 0)
                return;
        f = fopen(p, "re");
        if (!f)
                return;
        if (!fgets(buf, (int) size, f))
                buf[0] = 0;
        fclose(f);
        buf[strcspn(buf, "\n")] = 0;
}

static bool exists_in(const char *dir, const char *name) {
        _cleanup_free_ char *p = NULL;

        return asprintf(&p, "%s/%s", dir, name) >= 0 && access(p, F_OK) == 0;
}

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s) {
        char *w = s;

        for (char *r = s; *r; r++) {
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
                    r[3] >= '0' && r[3] <= '7') {
                        *w++ = (char) ((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
                        r += 3;
                } else
                        *w++ = *r;
        }
        *w = 0;
}

static void set_text(char *field, size_t size, const char *text) {
        _cleanup_free_ char *esc = yb_path_escape(text);

        snprintf(field, size, "%s", esc ? esc : "?");
}

/* Finds the mount of path (real: resolved) in mountinfo: the one of its dev whose mount point is
 * the longest prefix of real (bind mounts of one filesystem share a dev), else (btrfs gives each
 * subvolume a dev of its own, not the one mountinfo shows) the one whose mount point is the
 * longest prefix; of equals, the later (mounted on top). Fills fstype, source (escaped for
 * messages; as written in raw_source), options. 0, or -ENOENT. */
static int read_mount(dev_t dev, const char *real, YbMediumFacts *f, char *raw_source,
                      size_t raw_size) {
        _cleanup_free_ char *line = NULL;
        size_t alloc = 0, best = 0;
        FILE *mi = fopen("/proc/self/mountinfo", "re");

        if (!mi)
                return -errno;
        while (getline(&line, &alloc, mi) > 0) {
                char *save = NULL, *fields[6], *tok, *fstype, *source, *opts;
                unsigned ma, mi_;
                size_t n = 0, rank;

                for (tok = strtok_r(line, " \n", &save); tok && n < 6;
                     tok = strtok_r(NULL, " \n", &save))
                        fields[n++] = tok;
                if (n < 6 || sscanf(fields[2], "%u:%u", &ma, &mi_) != 2)
                        continue;
                unescape(fields[4]);
                rank = (yb_path_startswith(real, fields[4]) ? strlen(fields[4]) + 1 : 0) +
                       (makedev(ma, mi_) == dev ? (size_t) 1 << 30 : 0);
                if (rank == 0 || rank < best)
                        continue;
                /* Optional fields run up to the lone "-". */
                while (tok && !streq(tok, "-"))
                        tok = strtok_r(NULL, " \n", &save);
                fstype = strtok_r(NULL, " \n", &save);
                source = strtok_r(NULL, " \n", &save);
                opts = strtok_r(NULL, " \n", &save);
                if (!fstype)
                        continue;
                best = rank;
                snprintf(f->fstype, sizeof(f->fstype), "%s", fstype);
                if (source)
                        unescape(source);
                snprintf(raw_source, raw_size, "%s", source ? source : "");
                set_text(f->source, sizeof(f->source), raw_source);
                snprintf(f->mount_options, sizeof(f->mount_options), "%s", opts ? opts : "");
        }
        fclose(mi);
        return best > 0 ? 0 : -ENOENT;
}

static void append(char *field, size_t size, const char *name) {
        size_t n = strlen(field);

        if (n + 1 < size)
                snprintf(field + n, size - n, "%s%s", n ? " " : "", name);
}

/* Walks the block device whose sysfs directory is dir (a resolved path) and everything beneath
 * it, setting the flags that any layer raises; *leaves counts the disks at the bottom and
 * *all_rotational says whether each of them spins. */
static void probe_block(const char *dir, YbMediumFacts *f, int depth, int *leaves,
                        bool *all_rotational) {
        _cleanup_free_ char *parent = NULL, *slaves = NULL;
        const char *name = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
        char uuid[256], line[PATH_MAX];
        bool any_slave = false;
        DIR *d;

        if (depth > 16)
                return;
        if (depth > 0)
                append(f->slaves, sizeof(f->slaves), name);
        if (exists_in(dir, "partition")) {
                /* A partition: the disk is the directory above it. */
                parent = strdup(dir);
                if (parent && strrchr(parent, '/')) {
                        *strrchr(parent, '/') = 0;
                        probe_block(parent, f, depth + 1, leaves, all_rotational);
                }
                return;
        }
        read_line(dir, "dm/uuid", uuid, sizeof(uuid));
        if (strncmp(uuid, "CRYPT-", 6) == 0)
                f->dm_crypt = true;
        if (strncmp(uuid, "LVM-", 4) == 0 &&
            (strstr(uuid, "-tpool") || strstr(uuid, "-thin") || strstr(uuid, "-pool")))
                f->thin = true;
        if (asprintf(&slaves, "%s/slaves", dir) >= 0 && (d = opendir(slaves))) {
                struct dirent *de;

                while ((de = readdir(d))) {
                        _cleanup_free_ char *p = NULL, *real = NULL;

                        if (de->d_name[0] == '.' || asprintf(&p, "%s/%s", slaves, de->d_name) < 0)
                                continue;
                        real = realpath(p, NULL);
                        if (!real)
                                continue;
                        any_slave = true;
                        probe_block(real, f, depth + 1, leaves, all_rotational);
                }
                closedir(d);
        }
        if (any_slave)
                return;
        /* A disk at the bottom. */
        if (!*f->disk)
                snprintf(f->disk, sizeof(f->disk), "%s", name);
        (*leaves)++;
        read_line(dir, "queue/rotational", line, sizeof(line));
        if (!streq(line, "1"))
                *all_rotational = false;
        if (exists_in(dir, "loop")) {
                f->loop = true;
                read_line(dir, "loop/backing_file", line, sizeof(line));
                if (*line && !*f->backing_file)
                        set_text(f->backing_file, sizeof(f->backing_file), line);
        }
        if (strncmp(name, "zram", 4) == 0)
                f->memory = true;
        if (strncmp(name, "nbd", 3) == 0 || strncmp(name, "rbd", 3) == 0 || strstr(dir, "/session"))
                f->network = true; /* NBD, Ceph RBD, iSCSI (a session of the initiator) */
        if (strncmp(name, "vd", 2) == 0 || strncmp(name, "xvd", 3) == 0 || strstr(dir, "/virtio") ||
            strstr(dir, "/xen/") || strstr(dir, "/vmbus") || strstr(dir, "VMBUS")) {
                f->virtual_disk = true;
        } else {
                /* SCSI and NVMe disks emulated by a hypervisor name themselves. */
                static const char *const vendors[] = { "QEMU",   "VMware", "Msft",    "Google",
                                                       "Amazon", "VBOX",   "Virtual", NULL };
                char vendor[128], model[128];

                read_line(dir, "device/vendor", vendor, sizeof(vendor));
                read_line(dir, "device/model", model, sizeof(model));
                for (size_t i = 0; vendors[i]; i++)
                        if (strstr(vendor, vendors[i]) || strstr(model, vendors[i]))
                                f->virtual_disk = true;
        }
}

/* The block device of the mount: its own dev when it has a major, else (btrfs and others report
 * an anonymous dev) the device its source names. 0 when none. */
static dev_t block_device(dev_t dev, const char *raw_source) {
        struct stat st;

        if (major(dev) != 0)
                return dev;
        if (strncmp(raw_source, "/dev/", 5) == 0 && stat(raw_source, &st) == 0 &&
            S_ISBLK(st.st_mode))
                return st.st_rdev;
        return 0;
}

/* Reads the block device rdev and what it sits on into f. */
static void read_block(dev_t rdev, YbMediumFacts *f) {
        _cleanup_free_ char *link = NULL, *dir = NULL;
        int leaves = 0;
        bool all_rotational = true;
        const char *name;

        if (asprintf(&link, "/sys/dev/block/%u:%u", major(rdev), minor(rdev)) < 0)
                return;
        dir = realpath(link, NULL);
        if (!dir)
                return;
        /* The device's name is its disk's: a partition's verdict is its disk's. */
        if (exists_in(dir, "partition") && strrchr(dir, '/') != dir)
                *strrchr(dir, '/') = 0;
        name = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
        snprintf(f->device, sizeof(f->device), "%s", name);
        probe_block(dir, f, 0, &leaves, &all_rotational);
        f->rotational = leaves > 0 && all_rotational;
}

/* ext2/3/4 journaling data as the superblock's default mount option (tune2fs -o journal_data):
 * mountinfo does not show it, the driver's own list of options (/proc/fs/ext4/<device>/options,
 * <device> the block device's own name, a partition's too) does. Adds "data=journal" to f's
 * options then. */
static void ext4_default_data_journal(dev_t rdev, YbMediumFacts *f) {
        _cleanup_free_ char *link = NULL, *dir = NULL, *options = NULL;
        char line[128];
        FILE *in;

        if (asprintf(&link, "/sys/dev/block/%u:%u", major(rdev), minor(rdev)) < 0)
                return;
        dir = realpath(link, NULL);
        if (!dir || asprintf(&options, "/proc/fs/ext4/%s/options", strrchr(dir, '/') + 1) < 0)
                return;
        in = fopen(options, "re");
        if (!in) {
                log_debug_errno(errno, "Cannot read '%s': %m", options);
                return;
        }
        while (fgets(line, sizeof(line), in))
                if (streq(line, "data=journal\n") && !strstr(f->mount_options, "data=journal")) {
                        size_t n = strlen(f->mount_options);

                        snprintf(f->mount_options + n, sizeof(f->mount_options) - n,
                                 "%sdata=journal", n ? "," : "");
                }
        fclose(in);
}

/* XFS_FSOP_GEOM_FLAGS_REFLINK of the filesystem holding path. What cannot be read counts as
 * reflink: nothing shows the blocks are not shared. */
static bool xfs_reflink(const char *path) {
        struct xfs_geom g = { 0 };
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

        if (fd < 0 || ioctl(fd, XFS_IOC_FSGEOMETRY, &g) < 0) {
                log_debug_errno(errno, "Cannot read the XFS geometry of '%s': %m", path);
                return true;
        }
        return (g.flags & XFS_FSOP_GEOM_FLAGS_REFLINK) != 0;
}

int yb_medium_read_facts(const char *path, YbMediumFacts *ret) {
        YbMediumFacts f = { 0 };
        _cleanup_free_ char *real = NULL;
        char raw_source[PATH_MAX] = "";
        const char *magic;
        struct statfs sfs;
        struct stat st;
        dev_t rdev;

        if (stat(path, &st) < 0 || statfs(path, &sfs) < 0)
                return -errno;
        real = realpath(path, NULL);
        if (!real)
                return -errno;
        magic = magic_name((long) sfs.f_type);
        if (read_mount(st.st_dev, real, &f, raw_source, sizeof(raw_source)) < 0 ||
            (magic && !same_family(f.fstype, magic))) {
                /* No mount of this dev (an overlay's file), or one of another kind: the magic
                 * says what the filesystem is; nothing is known of a disk beneath. */
                f = (YbMediumFacts){ 0 };
                snprintf(f.fstype, sizeof(f.fstype), "%s", magic ? magic : "");
                if (!magic)
                        log_debug("No mount of '%s' in /proc/self/mountinfo, filesystem magic "
                                  "0x%lx.",
                                  path, (unsigned long) sfs.f_type);
        } else {
                rdev = block_device(st.st_dev, raw_source);
                if (rdev != 0)
                        read_block(rdev, &f);
                if (rdev != 0 && strncmp(f.fstype, "ext", 3) == 0)
                        ext4_default_data_journal(rdev, &f);
        }
        if (streq(f.fstype, "tmpfs") || streq(f.fstype, "ramfs"))
                f.memory = true;
        if (streq(f.fstype, "xfs"))
                f.xfs_reflink = xfs_reflink(path);
        *ret = f;
        return 0;
}
