#!/usr/bin/env bash
# The offline demo: the default cloud image, built through the CLI from the stand-in repository
# (Debian 12's packages repacked under Arch names, test/standin/README.md) with the boot test on,
# then the QEMU command line to boot it yourself and the ssh line to log in.
#
#   sudo scripts/demo.sh [DIR]              build (DIR default /var/tmp/arch-image-demo)
#   scripts/demo.sh --validate [DIR]        only `arch-image validate` the demo's flags (no root, no disk)
#
# Needs a Debian 12 host with the packages of `scripts/setup-host.sh` and the Debian archive
# reachable once (the stand-in downloads ~150 MB of .debs into DIR/standin and reuses them).
# QEMU_ACCEL=tcg skips trying KVM (for a /dev/kvm whose guests cannot run).
set -euo pipefail
cd "$(dirname "$0")/.."

validate=false
if [[ ${1:-} == --validate ]]; then
  validate=true
  shift
fi
[[ $# -le 1 ]] || { echo "usage: ${0##*/} [--validate] [DIR]" >&2; exit 2; }
dir=${1:-/var/tmp/arch-image-demo}
[[ $dir == /* ]] || dir=$PWD/$dir
cli=(node dist/cli/index.js)

# The image a user gets by default; only the package source differs (the stand-in is an unsigned
# local repository, and its pacman is the host's).
flags=(
  --image-name arch-demo
  --mirror "file://$dir/standin/\$repo/os/\$arch"
  --signature-level Never
  --pacman-from host
  --output-dir "$dir/out"
  --package-cache-dir "$dir/pkg-cache"
)

if $validate; then
  exec "${cli[@]}" validate "${flags[@]}"
fi

if [[ $EUID -ne 0 ]]; then
  echo "${0##*/}: run as root (sudo $0 $*)" >&2
  exit 1
fi

SECONDS=0
echo "==> stand-in repository in $dir/standin (cold: ~1-2 min and ~150 MB from the Debian archive)"
mkdir -p -- "$dir"
test/standin/build-standin.sh "$dir/standin"
echo "==> stand-in ready after ${SECONDS} s"

rm -rf -- "$dir/out" "$dir/seed"
"${cli[@]}" build "${flags[@]}"
image=$dir/out/arch-demo.qcow2

# A NoCloud seed with a key of its own, so the user can log in to the image booted by hand.
mkdir -p -- "$dir/seed"
rm -f -- "$dir/id_ed25519" "$dir/id_ed25519.pub"
ssh-keygen -q -t ed25519 -N '' -C arch-image-demo -f "$dir/id_ed25519"
printf '#cloud-config\nssh_authorized_keys:\n  - %s\n' "$(<"$dir/id_ed25519.pub")" >"$dir/seed/user-data"
printf 'instance-id: arch-demo\nlocal-hostname: arch-demo\n' >"$dir/seed/meta-data"
rm -f -- "$dir/seed.img"
mkfs.vfat -n CIDATA -C "$dir/seed.img" 2048 >/dev/null
MTOOLS_SKIP_CHECK=1 mcopy -i "$dir/seed.img" "$dir/seed/user-data" "$dir/seed/meta-data" ::/
# The image was handed back to the sudo user by the CLI; the key and the seed go with it.
if [[ -n ${SUDO_UID:-} && $SUDO_UID != 0 ]]; then
  chown -R "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$dir/id_ed25519" "$dir/id_ed25519.pub" "$dir/seed" "$dir/seed.img"
fi

cat <<EOF

Demo done in ${SECONDS} s: $image (built, booted under BIOS and UEFI, checked over SSH).
Boot it yourself (serial console here; Ctrl-a x quits; -snapshot keeps the image unchanged):

  qemu-system-x86_64 -machine q35 -m 1024 -smp 2 -nographic -snapshot \\
    -drive file=$image,if=virtio,format=qcow2 \\
    -drive file=$dir/seed.img,if=virtio,format=raw,readonly=on \\
    -nic user,restrict=on,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:2222-:22

Then, once the first boot's pacman-init (the pacman keyring) is done and sshd answers (minutes without KVM):

  ssh -i $dir/id_ed25519 -p 2222 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null arch@127.0.0.1

UEFI: add -bios /usr/share/ovmf/OVMF.fd. With a working KVM: add -accel kvm.
EOF
