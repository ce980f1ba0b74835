#!/usr/bin/env python3
"""Prints a digest line per entry of a tree: what a backup must keep, walked by directory fds
(so paths deeper than PATH_MAX work). Usage: treedigest.py DIR [--no-atime-dirs]."""
import hashlib
import os
import stat
import sys


def xattrs(fd_or_path, follow):
    out = []
    try:
        names = os.listxattr(fd_or_path, follow_symlinks=follow)
    except OSError:
        return ""
    for n in sorted(names):
        try:
            v = os.getxattr(fd_or_path, n, follow_symlinks=follow)
        except OSError:
            continue
        out.append("%s=%s" % (n, v.hex()))
    return ",".join(out)


def walk(dfd, rel, lines, inodes):
    for name in sorted(os.listdir(dfd), key=os.fsencode):
        st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        path = (rel + b"/" if rel else b"") + os.fsencode(name)
        kind = stat.S_IFMT(st.st_mode)
        extra = ""
        if stat.S_ISREG(kind):
            fd = os.open(name, os.O_RDONLY, dir_fd=dfd)
            h = hashlib.blake2b(digest_size=32)
            while True:
                b = os.read(fd, 1 << 20)
                if not b:
                    break
                h.update(b)
            extra = "sha=%s xattr=%s" % (h.hexdigest(), xattrs(fd, True))
            os.close(fd)
            if st.st_nlink > 1:
                key = (st.st_dev, st.st_ino)
                first = inodes.setdefault(key, path)
                extra += " link=%s" % first.hex()
        elif stat.S_ISLNK(kind):
            extra = "target=%s" % os.readlink(name, dir_fd=dfd).encode(errors="surrogateescape").hex()
        elif stat.S_ISCHR(kind) or stat.S_ISBLK(kind):
            extra = "rdev=%d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
        elif stat.S_ISDIR(kind):
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dfd)
            extra = "xattr=%s" % xattrs(fd, True)
        size = st.st_size if stat.S_ISREG(kind) or stat.S_ISLNK(kind) else 0
        lines.append("%s type=%o mode=%o uid=%d gid=%d size=%d mtime=%d %s" % (
            path.hex(), kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, size,
            st.st_mtime_ns, extra))
        if stat.S_ISDIR(kind):
            walk(fd, path, lines, inodes)
            os.close(fd)


def main():
    top = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
    lines = []
    walk(top, b"", lines, {})
    print("\n".join(lines))


main()
