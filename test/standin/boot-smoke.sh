#!/usr/bin/env bash
# End-to-end check of the stand-in repository, without the action: pacstrap the
# default Arch cloud package set onto a loop device, run the configure commands
# the action runs (in arch-chroot), then boot the disk under QEMU (TCG) with a
# NoCloud seed and log in over SSH as cloud-init's default user.
#
#   test/standin/boot-smoke.sh REPODIR [bios|uefi|both] [ext4|btrfs]
#
# REPODIR is the output of build-standin.sh. Needs root, arch-install-scripts,
# pacman-package-manager, fdisk, dosfstools, mtools, e2fsprogs, btrfs-progs,
# qemu-system-x86 and ovmf (for uefi), openssh-client. Leaves nothing behind:
# loop device, mounts, gpg-agent and QEMU are released on every exit path.
# Set KEEP=1 to keep the work directory (disk image, serial logs), KERNEL=linux-lts
# to install and boot the second kernel. The guest sees a 4 GiB disk (a qcow2
# overlay over the 2 GiB image), so cloud-init's growpart has something to grow.
# FAST=1 turns off the two slowest first-boot steps (see the comment where it is used).
# MACHINE_ID=empty seals with an empty /etc/machine-id instead of removing it.
# PACMAN_INIT=1 adds the first-boot pacman-init unit.
set -euo pipefail

[[ $# -ge 1 ]] || { echo "usage: ${0##*/} REPODIR [bios|uefi|both] [ext4|btrfs]" >&2; exit 2; }
repo=$(cd -- "$1" && pwd -P)
firmware=${2:-both}
fstype=${3:-ext4}
kernel=${KERNEL:-linux}
packages=(base "$kernel" grub openssh sudo btrfs-progs dosfstools efibootmgr qemu-guest-agent cloud-init
  cloud-guest-utils gptfdisk)
[[ $fstype == ext4 ]] && packages+=(e2fsprogs)
ovmf=${OVMF:-/usr/share/ovmf/OVMF.fd}
boot_timeout=${BOOT_TIMEOUT:-600}
# ACCEL=tcg (default) or kvm. This machine has a /dev/kvm, but guests die in the kernel
# decompressor there ("KVM internal error. Suberror: 1 ... emulation failure").
accel=${ACCEL:-tcg}

work=$(mktemp -d /var/tmp/standin-smoke.XXXXXX)
mnt=$work/mnt
loop=''
qemu_pid=''
uuid_link=''
made_dev_disk=''
t0=$SECONDS
step() { printf '[%4ds] %s\n' $((SECONDS - t0)) "$*"; }

drop_uuid_link() {
  [[ -z $uuid_link ]] || rm -f "$uuid_link"
  uuid_link=''
  [[ -z $made_dev_disk ]] || rmdir /dev/disk/by-uuid /dev/disk 2>/dev/null || true
  made_dev_disk=''
}

cleanup() {
  local rc=$?
  set +e
  [[ -z $qemu_pid ]] || { kill "$qemu_pid" 2>/dev/null; wait "$qemu_pid" 2>/dev/null; }
  [[ ! -d $mnt/etc/pacman.d/gnupg ]] || gpgconf --homedir "$mnt/etc/pacman.d/gnupg" --kill gpg-agent 2>/dev/null
  mountpoint -q "$mnt" && umount -R "$mnt"
  [[ -z $uuid_link && -z $made_dev_disk ]] || drop_uuid_link
  [[ -z $loop ]] || losetup -d "$loop"
  if [[ ${KEEP:-0} == 1 ]]; then echo "work directory kept: $work"; else rm -rf -- "$work"; fi
  exit "$rc"
}
trap cleanup EXIT

# --------------------------------------------------------------- disk ---
step "disk: 2 GiB, GPT (BIOS boot, ESP, root), $fstype"
truncate -s 2G "$work/disk.raw"
loop=$(losetup --find --show --partscan "$work/disk.raw")
sfdisk -q "$loop" <<EOF
label: gpt
size=1MiB, type=21686148-6449-6E6F-744E-656564454649, name="bios"
size=300MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="esp"
type=4F68BCE3-E8CD-4D65-96E7-FBCAF984B709, name="root"
EOF
partx -u "$loop"
for _ in $(seq 50); do [[ -b ${loop}p3 ]] && break; sleep 0.1; done
[[ -b ${loop}p3 ]] || { echo "no ${loop}p3" >&2; exit 1; }
mkfs.vfat -F 32 -n ESP "${loop}p2" >/dev/null
if [[ $fstype == btrfs ]]; then
  mkfs.btrfs -q -L root "${loop}p3"
  mkdir -p "$mnt" && mount -o compress=zstd:1 "${loop}p3" "$mnt"
else
  mkfs.ext4 -q -L root "${loop}p3"
  mkdir -p "$mnt" && mount "${loop}p3" "$mnt"
fi
root_uuid=$(blkid -s UUID -o value "${loop}p3")
esp_uuid=$(blkid -s UUID -o value "${loop}p2")

# ---------------------------------------------------------- bootstrap ---
step "pacstrap ${packages[*]}"
mkdir -p "$work/cache"
cat >"$work/pacman.conf" <<EOF
[options]
Architecture = x86_64
CacheDir = $work/cache/
SigLevel = Never
[core]
Server = file://$repo/\$repo/os/\$arch
[extra]
Server = file://$repo/\$repo/os/\$arch
EOF
pacstrap -C "$work/pacman.conf" -c -K -M "$mnt" "${packages[@]}" >"$work/pacstrap.log" 2>&1 ||
  { tail -40 "$work/pacstrap.log" >&2; exit 1; }
gpgconf --homedir "$mnt/etc/pacman.d/gnupg" --kill gpg-agent
if grep -E '^(error|warning):|ERROR|FAILED' "$work/pacstrap.log"; then
  echo "pacstrap reported errors or warnings (above)" >&2
  exit 1
fi
step "pacstrap done: $(ls "$mnt/var/lib/pacman/local" | wc -l) packages"

# ---------------------------------------------------------- configure ---
step "configure (arch-chroot)"
chroot_run() { arch-chroot "$mnt" "$@"; }
if [[ $fstype == btrfs ]]; then
  printf 'UUID=%s / btrfs rw,relatime,compress=zstd:1 0 0\n' "$root_uuid" >>"$mnt/etc/fstab"
else
  printf 'UUID=%s / ext4 rw,relatime 0 1\n' "$root_uuid" >>"$mnt/etc/fstab"
fi
printf 'UUID=%s /efi vfat rw,relatime,fmask=0077,dmask=0077,nofail 0 2\n' "$esp_uuid" >>"$mnt/etc/fstab"
mkdir -p "$mnt/efi"
cat >"$mnt/etc/mkinitcpio.d/$kernel.preset" <<EOF
ALL_kver="/boot/vmlinuz-$kernel"
PRESETS=('default')
default_image="/boot/initramfs-$kernel.img"
default_options="-S autodetect"
EOF
chroot_run mkinitcpio -P
grep -q 'skipped=autodetect .*modules=most' "$mnt/boot/.mkinitcpio-standin.log"
basename "$(dirname "$(grep -l "^$kernel\$" "$mnt"/usr/lib/modules/*/pkgbase)")" >"$work/kver"

sed -i -e 's/^GRUB_CMDLINE_LINUX_DEFAULT=.*/GRUB_CMDLINE_LINUX_DEFAULT="console=tty0 console=ttyS0,115200 net.ifnames=0"/' \
  -e 's/^GRUB_TIMEOUT=.*/GRUB_TIMEOUT=1/' "$mnt/etc/default/grub"
cat >>"$mnt/etc/default/grub" <<'EOF'
GRUB_TERMINAL="serial console"
GRUB_SERIAL_COMMAND="serial --speed=115200"
EOF
chroot_run grub-install --target=i386-pc "$loop"
# grub-mkconfig writes root=UUID= only when /dev/disk/by-uuid/<uuid> exists;
# a host without udev has no such link (see README: "Facts for the action").
if [[ ! -e /dev/disk/by-uuid/$root_uuid ]]; then
  [[ -d /dev/disk ]] || made_dev_disk=1
  mkdir -p /dev/disk/by-uuid
  uuid_link=/dev/disk/by-uuid/$root_uuid
  ln -s "../../${loop#/dev/}p3" "$uuid_link"
fi
chroot_run grub-mkconfig -o /boot/grub/grub.cfg
grep -q "root=UUID=$root_uuid" "$mnt/boot/grub/grub.cfg"
grep -q "/boot/initramfs-$kernel.img" "$mnt/boot/grub/grub.cfg"

cat >"$mnt/root/grub-early.cfg" <<EOF
search --no-floppy --fs-uuid --set=root $root_uuid
set prefix=(\$root)/boot/grub
configfile \$prefix/grub.cfg
EOF
root_mod=ext2
[[ $fstype == btrfs ]] && root_mod=btrfs
chroot_run grub-mkimage -O x86_64-efi -o /root/BOOTX64.EFI -c /root/grub-early.cfg -p /boot/grub \
  part_gpt fat ext2 btrfs zstd normal search search_fs_uuid configfile linux echo all_video serial terminal \
  test gzio "$root_mod"
# (mtools complains that a partition has no geometry; harmless)
mmd -i "${loop}p2" ::/EFI ::/EFI/BOOT 2> >(grep -v 'Could not get geometry' >&2)
mcopy -i "${loop}p2" "$mnt/root/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI 2> >(grep -v 'Could not get geometry' >&2)
rm -f "$mnt/root/BOOTX64.EFI" "$mnt/root/grub-early.cfg"

units=(sshd systemd-networkd systemd-resolved systemd-timesyncd cloud-init-main cloud-init-local
  cloud-init-network cloud-config cloud-final qemu-guest-agent)
if [[ ${PACMAN_INIT:-0} == 1 ]]; then
  # The first-boot keyring unit of the configure list; it delays sshd (see README.md).
  cat >"$mnt/etc/systemd/system/pacman-init.service" <<'EOF'
[Unit]
Description=Initialize the pacman keyring
After=time-sync.target
Before=sshd.service cloud-final.service
ConditionFirstBoot=yes

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/bin/pacman-key --init
ExecStart=/usr/bin/pacman-key --populate

[Install]
WantedBy=multi-user.target
EOF
  units+=(pacman-init)
fi
chroot_run systemctl enable "${units[@]}"
chroot_run systemd-firstboot --force --locale=C.UTF-8 --timezone=UTC --hostname=archlinux --keymap=us
chroot_run passwd -l root
chroot_run useradd -m -s /bin/bash smoketest
chroot_run userdel -r smoketest
cat >"$mnt/etc/systemd/network/20-wired.network" <<'EOF'
[Match]
Name=en* eth*

[Network]
DHCP=yes
EOF
ln -sf ../run/systemd/resolve/stub-resolv.conf "$mnt/etc/resolv.conf"
cat >"$mnt/etc/cloud/cloud.cfg.d/90-smoke.cfg" <<'EOF'
datasource_list: [ ConfigDrive, OpenStack, NoCloud, Ec2 ]
ssh_genkeytypes: [ed25519, ecdsa]
manage_etc_hosts: localhost
EOF
printf 'PasswordAuthentication no\nPermitRootLogin no\n' >"$mnt/etc/ssh/sshd_config.d/10-smoke.conf"
if [[ ${FAST:-0} == 1 ]]; then
  # The two slowest first-boot steps under TCG, both Arch behaviour: cloud-init's
  # locale module (locale-gen + localectl, 20-46 s) and sshdgenkeys.service making
  # the RSA key cloud-init was told not to make (ssh-keygen -A, 20-37 s).
  printf 'locale: false\n' >>"$mnt/etc/cloud/cloud.cfg.d/90-smoke.cfg"
  mkdir -p "$mnt/etc/systemd/system/sshdgenkeys.service.d"
  printf '[Unit]\nConditionPathExists=\nConditionPathExists=!/etc/ssh/ssh_host_ed25519_key\n' \
    >"$mnt/etc/systemd/system/sshdgenkeys.service.d/10-smoke.conf"
fi

# seal: no host keys, no pacman keyring, and no machine-id. systemd treats a *missing*
# /etc/machine-id (or one reading "uninitialized") as first boot: ConditionFirstBoot=yes
# units run and presets are applied. An *empty* file is not a first boot (machine-id(5));
# MACHINE_ID=empty keeps an empty file to show that.
if [[ ${MACHINE_ID:-missing} == empty ]]; then
  : >"$mnt/etc/machine-id"
else
  rm -f "$mnt/etc/machine-id"
fi
rm -rf "$mnt"/etc/ssh/ssh_host_* "$mnt/etc/pacman.d/gnupg" "$mnt"/var/cache/pacman/pkg/* "$mnt"/var/lib/pacman/sync/*
drop_uuid_link
sync
fstrim "$mnt" 2>/dev/null || true
umount -R "$mnt"
losetup -d "$loop"
loop=''
step "image ready: $(du -h "$work/disk.raw" | cut -f1) used"

# --------------------------------------------------------------- boot ---
ssh-keygen -q -t ed25519 -N '' -f "$work/key"
cat >"$work/user-data" <<EOF
#cloud-config
ssh_authorized_keys:
  - $(cat "$work/key.pub")
EOF
printf 'instance-id: standin-smoke\nlocal-hostname: standin\n' >"$work/meta-data"
mkfs.vfat -n CIDATA -C "$work/seed.img" 2048 >/dev/null
mcopy -i "$work/seed.img" "$work/user-data" "$work/meta-data" ::

boot() {
  local fw=$1 port=$((20000 + RANDOM % 20000)) extra=() ssh_opts
  [[ $fw == uefi ]] && extra=(-bios "$ovmf")
  [[ $accel == kvm ]] && extra+=(-accel kvm)
  step "boot ($fw): qemu $accel, ssh on 127.0.0.1:$port"
  rm -f "$work/overlay.qcow2"
  qemu-img create -q -f qcow2 -F raw -b "$work/disk.raw" "$work/overlay.qcow2" 4G
  timeout "$boot_timeout" qemu-system-x86_64 -machine q35 -m 1024 -smp 2 -display none -monitor none \
    -serial "file:$work/serial-$fw.log" "${extra[@]}" \
    -drive "file=$work/overlay.qcow2,if=virtio,format=qcow2" \
    -drive "file=$work/seed.img,if=virtio,format=raw,readonly=on" \
    -nic "user,restrict=on,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:$port-:22" &
  qemu_pid=$!
  ssh_opts=(-i "$work/key" -p "$port" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
    -o ConnectTimeout=5 -o BatchMode=yes -o LogLevel=ERROR)
  until ssh "${ssh_opts[@]}" arch@127.0.0.1 true >/dev/null 2>&1; do
    kill -0 "$qemu_pid" 2>/dev/null || { echo "qemu exited; serial log:" >&2; tail -40 "$work/serial-$fw.log" >&2; return 1; }
    sleep 2
  done
  step "boot ($fw): ssh as arch works"
  ssh "${ssh_opts[@]}" arch@127.0.0.1 '
    set -e
    echo "cloud-init: $(cloud-init status --wait | tail -n1)"
    echo "system: $(systemctl is-system-running --wait || true)"
    systemctl --failed --no-legend --plain
    echo "target: $(systemctl is-active multi-user.target)"
    sudo -n true && echo "sudo -n true: ok"
    echo "kernel: $(uname -r)  os: $(. /etc/os-release; echo $ID)  root: $(findmnt -n -o SOURCE,FSTYPE /)"
    echo "units: $(systemctl is-active sshd systemd-networkd systemd-resolved systemd-timesyncd cloud-init-local cloud-init-network cloud-config cloud-final '"$([[ ${PACMAN_INIT:-0} == 1 ]] && echo pacman-init)"' | tr "\n" " ")"
    echo "pacman keyring: $(sudo -n pacman-key --list-keys 2>/dev/null | grep -c "^pub") keys"
    echo "firmware: $([ -d /sys/firmware/efi ] && echo uefi || echo bios)"
    echo "locale.conf: $(cat /etc/locale.conf 2>&1 | tr "\n" " ") default/locale: $([ -e /etc/default/locale ] && echo present || echo absent)"
    echo "root size: $(df -h --output=size / | tail -n1 | tr -d " ")"
    echo "pyc rewritten at boot: $(find /usr/lib/python3* -name "*.pyc" -newer /usr/lib/os-release | wc -l)"
    systemd-analyze time | head -n1
    systemd-analyze blame | head -n 8
    sudo -n cloud-init analyze blame 2>/dev/null | head -n 25 || true
    cloud-init status --long | grep -E "^(status|errors|recoverable_errors)" || true
    sudo -n journalctl -b -p warning --no-pager | tail -n 30
  ' | tee "$work/result-$fw.txt"
  grep -q '^cloud-init: status: done' "$work/result-$fw.txt"
  grep -q '^sudo -n true: ok' "$work/result-$fw.txt"
  local expect='active active active active active active active active'
  if [[ ${PACMAN_INIT:-0} == 1 ]]; then
    # ConditionFirstBoot=yes: true only when /etc/machine-id was missing
    if [[ ${MACHINE_ID:-missing} == empty ]]; then expect+=' inactive'; else expect+=' active'; fi
  fi
  grep -qx "units: $expect " "$work/result-$fw.txt"
  grep -q "^firmware: $fw" "$work/result-$fw.txt"
  grep -q "^kernel: $(cat "$work/kver")" "$work/result-$fw.txt"
  grep -q '^root size: 3\.' "$work/result-$fw.txt"
  grep -q '^locale.conf: LANG=.* default/locale: absent' "$work/result-$fw.txt"
  step "boot ($fw): verified; serial: $(grep -c . "$work/serial-$fw.log") lines"
  ssh "${ssh_opts[@]}" arch@127.0.0.1 'sudo -n systemctl poweroff' || true
  for _ in $(seq 60); do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 1; done
  kill "$qemu_pid" 2>/dev/null || true
  wait "$qemu_pid" 2>/dev/null || true
  qemu_pid=''
}
case $firmware in
  bios | uefi) boot "$firmware" ;;
  both)
    boot bios
    boot uefi
    ;;
  *) echo "unknown firmware: $firmware" >&2; exit 2 ;;
esac
step "all done"
