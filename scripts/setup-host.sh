#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages arch-image and its tests need (names as in Debian 12 and
# Ubuntu 24.04). Run as root.
#   scripts/setup-host.sh          what a build needs (the action's host stage installs the same on
#                                  demand), plus what README's terminal build from the fixture
#                                  repository and the offline demo (scripts/demo.sh) need
#   scripts/setup-host.sh --test   plus what the tests need
set -euo pipefail

build_packages=(
  arch-install-scripts pacman-package-manager makepkg gpg gpgv gpg-agent gpgconf
  fdisk mount util-linux dosfstools mtools e2fsprogs btrfs-progs qemu-utils zstd libarchive-tools
  qemu-system-x86 ovmf openssh-client # the boot test (on by default)
)
# test/fixtures/make-repo.sh (README's terminal build; zstd, bsdtar and repo-add are above) and
# test/standin/build-standin.sh (scripts/demo.sh: Python 3.11 and depmod)
try_packages=(busybox-static python3 kmod)
test_packages=(psmisc procps passwd sudo git)
# a real HTTP proxy on 127.0.0.1 for the OpenStack client's proxy test (test/openstack/proxy.test.ts)
proxy_packages=(tinyproxy)
# the report of what differs between two images (test/reproducible.test.ts; expect-image)
diff_packages=(diffoscope-minimal)
# a real Keystone and Glance for the publish tests (test/openstack/harness.sh runs them on 127.0.0.1)
openstack_packages=(keystone glance-api python3-openstackclient python3-glanceclient curl)

packages=("${build_packages[@]}" "${try_packages[@]}")
if [[ ${1:-} == --test ]]; then packages+=("${test_packages[@]}" "${openstack_packages[@]}" "${proxy_packages[@]}" "${diff_packages[@]}"); fi

if [[ $EUID -ne 0 ]]; then
  echo "setup-host.sh: run as root (sudo $0 $*)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Debian starts a package's services when it installs them (Keystone and Glance on 0.0.0.0); the tests
# start their own, so keep the packages from starting anything while they install.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
# Wait for another apt (unattended-upgrades on a fresh machine) rather than fail on its lock.
apt_wait=(-o DPkg::Lock::Timeout=600)
apt-get "${apt_wait[@]}" update
apt-get "${apt_wait[@]}" install -y --no-install-recommends "${packages[@]}"
