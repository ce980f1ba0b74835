#!/bin/sh
# Installs every Debian 12 package that building, testing and the demo need. Idempotent.
set -eu
PACKAGES="
  build-essential cmake pkg-config clang clang-14 libclang-rt-14-dev clang-format
  llvm-14
  librsync-dev libzstd-dev libsodium-dev libarchive-dev libssh2-1-dev libsqlite3-dev
  libyaml-dev libjansson-dev libmicrohttpd-dev libcmocka-dev
  acl attr zstd rdiff libarchive-tools tar sqlite3 curl openssh-server openssh-client
  postgresql libpq-dev libcurl4-openssl-dev libssl-dev
  ceph-mon ceph-osd radosgw ceph-common
  python3-cryptography
  chromium fonts-noto-cjk poppler-utils python3-html5lib
  python3 util-linux iproute2 iptables e2fsprogs btrfs-progs xfsprogs tzdata systemd strace libsystemd-dev prometheus libnss-wrapper
"
missing=""
for p in $PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
                missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
        SUDO=sudo
else
        SUDO=
fi
echo "Installing:$missing"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
