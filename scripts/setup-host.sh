#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages arch-image and its tests need. Run as root.
#   scripts/setup-host.sh          what a build needs (the action's host stage installs the same on demand)
#   scripts/setup-host.sh --test   plus what the tests need
set -euo pipefail

build_packages=(
  arch-install-scripts pacman-package-manager makepkg gpg gpg-agent gpgconf
  fdisk mount util-linux dosfstools mtools e2fsprogs btrfs-progs qemu-utils zstd libarchive-tools
)
test_packages=(busybox-static psmisc procps passwd sudo git python3 qemu-system-x86 ovmf)

packages=("${build_packages[@]}")
if [[ ${1:-} == --test ]]; then packages+=("${test_packages[@]}"); fi

if [[ $EUID -ne 0 ]]; then
  echo "setup-host.sh: run as root (sudo $0 $*)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${packages[@]}"
