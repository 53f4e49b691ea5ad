#!/usr/bin/env bash
# Build the stand-in pacman repository: Debian 12 packages repacked under Arch
# Linux package names, so the action's real pipeline can pacstrap, configure and
# boot a cloud image without an Arch mirror. See test/standin/README.md.
#
#   test/standin/build-standin.sh OUTDIR
#
# Result (usable as `Server = file://OUTDIR/$repo/os/$arch`):
#   OUTDIR/core/os/x86_64/    ~270 packages + core.db  (+ core.files)
#   OUTDIR/extra/os/x86_64/   htop and its libraries + extra.db
#   OUTDIR/manifest.tsv       repo, name, version, size and source of every package
#   OUTDIR/.debs/             the downloaded .debs (a cache: kept between builds)
#   OUTDIR/.stamp             present => repository complete for this script, these .debs
#   OUTDIR/.quick             the same for unchanged apt lists (skips resolving: ~0.3 s)
#
# Needs root (apt-get downloads), Debian 12's apt with its package lists, network
# access to the Debian archive on a cold cache, /usr/bin/python3 (3.11), zstd,
# bsdtar, gzip, repo-add (makepkg), depmod (kmod) and flock.
set -euo pipefail

usage() { echo "usage: ${0##*/} OUTDIR" >&2; exit 2; }
[[ $# -eq 1 && -n $1 ]] || usage

export LC_ALL=C.UTF-8 TZ=UTC
umask 022

epoch=${SOURCE_DATE_EPOCH:-1700000000}
[[ $epoch =~ ^[0-9]+$ ]] || { echo "SOURCE_DATE_EPOCH must be an integer" >&2; exit 2; }
export SOURCE_DATE_EPOCH=$epoch
jobs=${STANDIN_JOBS:-$(nproc)}
python=/usr/bin/python3
arch=x86_64
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)

# Debian packages asked for; apt adds their dependencies. Which stand-in package
# each one ends up in is decided by repack.py.
roots=(
  # base
  usr-is-merged bash coreutils util-linux mount login passwd procps psmisc iproute2 iputils-ping
  kmod sed grep gawk findutils tar gzip bzip2 xz-utils file gettext-base libc6 libc-bin libgcc-s1
  pciutils netbase locales tzdata ca-certificates debianutils diffutils hostname bsdutils
  ncurses-bin sysvinit-utils perl-base
  # systemd (Arch's systemd package holds all of these)
  systemd systemd-sysv systemd-resolved systemd-timesyncd udev dbus kbd libnss-systemd
  libnss-resolve libnss-myhostname libpam-systemd
  # linux, linux-lts, mkinitcpio
  linux-image-6.12-cloud-amd64 linux-image-cloud-amd64 initramfs-tools-core busybox zstd
  # the rest of the default cloud package set
  grub-common grub2-common grub-pc-bin grub-efi-amd64-bin openssh-server openssh-client
  openssh-sftp-server sudo btrfs-progs dosfstools efibootmgr qemu-guest-agent cloud-init
  cloud-guest-utils gdisk e2fsprogs
  # pacman
  pacman-package-manager archlinux-keyring gnupg gpg-agent
  # [extra]
  htop
)

for tool in apt-get bsdtar zstd gzip repo-add flock depmod sha256sum "$python"; do
  command -v "$tool" >/dev/null || { echo "${0##*/}: missing tool: $tool" >&2; exit 1; }
done
[[ $("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])') == 3.11 ]] || {
  echo "${0##*/}: $python must be Python 3.11 (Debian 12's)" >&2
  exit 1
}

mkdir -p -- "$1"
out=$(cd -- "$1" && pwd -P)

# Concurrent callers wait here; the loser finds the stamp.
exec 9>"$out/.lock"
flock 9

# ------------------------------------------------------------ resolve ---
# A private dpkg status (empty: resolve the whole closure), the host's lists.
aptdir=$out/.apt
debs=$out/.debs
mkdir -p "$aptdir/state/lists/partial" "$aptdir/cache" "$debs/partial"
: >>"$aptdir/state/status"
apt_opts=(
  -o Dir::State="$aptdir/state" -o Dir::State::status="$aptdir/state/status"
  -o Dir::State::Lists=/var/lib/apt/lists -o Dir::Cache="$aptdir/cache"
  -o Dir::Cache::pkgcache="$aptdir/cache/pkgcache.bin" -o Dir::Cache::srcpkgcache="$aptdir/cache/srcpkgcache.bin"
  -o Dir::Cache::archives="$debs" -o Debug::NoLocking=1 -o APT::Sandbox::User=root
  -o APT::Install-Recommends=false -o APT::Install-Suggests=false
)
sources_hash=$(
  cd "$here"
  { sha256sum build-standin.sh repack.py; find files -type f -o -type l | sort | while read -r f; do
      if [[ -L $f ]]; then printf 'L %s %s\n' "$f" "$(readlink "$f")"; else
        printf 'F %s %s %s\n' "$f" "$(stat -c %a "$f")" "$(sha256sum <"$f" | cut -d' ' -f1)"; fi
    done; } | sha256sum | cut -d' ' -f1
)
# Shortcut: the resolved set can only change when apt's lists (or these sources) do.
quick=$({
  echo "$sources_hash $epoch"
  find /var/lib/apt/lists -maxdepth 1 -type f -printf '%f %s %T@\n' | sort
} | sha256sum | cut -d' ' -f1)
if [[ -f $out/.stamp && -f $out/.quick && $(<"$out/.quick") == "$quick" ]] &&
  [[ -e $out/core/os/$arch/core.db && -e $out/extra/os/$arch/extra.db ]]; then
  echo "${0##*/}: $out is current"
  exit 0
fi

resolved=$(apt-get "${apt_opts[@]}" -s install "${roots[@]}" 2>&1) || {
  printf '%s\n' "$resolved" >&2
  echo "${0##*/}: apt could not resolve the package set (run apt-get update?)" >&2
  exit 1
}
# "Inst name (version suite [arch])" -> "name version"
set_list=$(awk '$1 == "Inst" { v = $3; sub(/^\(/, "", v); print $2, v }' <<<"$resolved" | sort)
[[ -n $set_list ]] || { echo "${0##*/}: empty package set" >&2; exit 1; }

# libmakepkg's util/*.sh (pacman-key and repo-add source them) come from Debian's
# makepkg .deb, whose dependencies (perl, fakeroot, texinfo, ...) are not wanted.
libmakepkg_version=$(apt-cache "${apt_opts[@]}" policy makepkg | awk '/Candidate:/ { print $2 }')
[[ -n $libmakepkg_version && $libmakepkg_version != "(none)" ]] || {
  echo "${0##*/}: apt has no makepkg package" >&2
  exit 1
}
stamp=$({
  echo "sources $sources_hash"
  echo "libmakepkg $libmakepkg_version"
  echo "epoch $epoch"
  echo "python $("$python" -c 'import sys; print(sys.version)' | head -n1)"
  echo "zstd $(zstd --version)"
  printf '%s\n' "$set_list"
} | sha256sum | cut -d' ' -f1)

is_current() {
  [[ -f $out/.stamp && $(<"$out/.stamp") == "$stamp" ]] &&
    [[ -e $out/core/os/$arch/core.db && -e $out/extra/os/$arch/extra.db ]]
}
if is_current; then
  echo "$quick" >"$out/.quick"
  echo "${0##*/}: $out is current ($(grep -c . <<<"$set_list") Debian packages)"
  exit 0
fi

start=$SECONDS
rm -rf -- "$out"/.build.* "$out"/.old.*
work=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf -- "$work"' EXIT

# ----------------------------------------------------------- download ---
echo "${0##*/}: $(grep -c . <<<"$set_list") Debian packages"
apt-get "${apt_opts[@]}" -q -y -d install "${roots[@]}" >"$work/apt.log" 2>&1 || {
  cat "$work/apt.log" >&2
  exit 1
}
libmakepkg_deb=("$debs/makepkg_${libmakepkg_version//:/%3a}"_*.deb)
if [[ ! -f ${libmakepkg_deb[0]} ]]; then
  (cd "$debs" && apt-get "${apt_opts[@]}" -q download "makepkg=$libmakepkg_version") >>"$work/apt.log" 2>&1 ||
    { cat "$work/apt.log" >&2; exit 1; }
fi
# The .deb of each resolved package; drop cached .debs of other versions.
shopt -s nullglob
libmakepkg_deb=("$debs/makepkg_${libmakepkg_version//:/%3a}"_*.deb)
[[ ${#libmakepkg_deb[@]} -eq 1 ]] || { echo "${0##*/}: makepkg .deb missing" >&2; exit 1; }
while read -r name version; do
  file=("$debs/${name}_${version//:/%3a}"_*.deb)
  [[ ${#file[@]} -eq 1 ]] || { echo "${0##*/}: missing .deb for $name $version" >&2; exit 1; }
  printf '%s\n' "${file[0]}"
done <<<"$set_list" >"$work/debs.list"
for f in "$debs"/*.deb; do
  [[ $f == "${libmakepkg_deb[0]}" ]] || grep -qxF -- "$f" "$work/debs.list" || rm -f -- "$f"
done
echo "${0##*/}: downloads done ($((SECONDS - start)) s)"

# ------------------------------------------------------------- repack ---
stage=$work/repo
"$python" "$here/repack.py" --deb-list "$work/debs.list" --libmakepkg-deb "${libmakepkg_deb[0]}" \
  --files "$here/files" --out "$stage" \
  --epoch "$epoch" --jobs "$jobs" 2>"$work/repack.log" || { cat "$work/repack.log" >&2; exit 1; }
grep -v ': dropped self-link\|\.pyc compiled$\|kept file over link' "$work/repack.log" >&2 || true
echo "${0##*/}: repacked ($((SECONDS - start)) s)"

# ----------------------------------------------------------- databases ---
# Rewrite a repo-add database deterministically (sorted, root-owned, mtime=epoch,
# gzip without name/time): repo-add stamps entries with "now".
normalize_db() {
  local db=$1 x=$work/dbx
  rm -rf "$x"
  mkdir "$x"
  bsdtar -xf "$db" -C "$x"
  find "$x" -exec touch -h -d "@$epoch" {} +
  (cd "$x" && find . -mindepth 1 -printf '%P\0' | sort -z) >"$work/dblist"
  (cd "$x" && bsdtar -cnf - --no-fflags --no-xattrs --no-acls --uid 0 --gid 0 \
    --uname root --gname root --null --files-from "$work/dblist") |
    gzip -c -n -9 >"$db.new"
  mv -f "$db.new" "$db"
  rm -rf "$x"
}
pids=()
for repo in core extra; do
  (
    cd "$stage/$repo/os/$arch"
    shopt -s nullglob
    pkgs=(./*.pkg.tar.zst)
    repo-add -q "$repo.db.tar.gz" "${pkgs[@]}" >/dev/null
    normalize_db "$PWD/$repo.db.tar.gz"
    normalize_db "$PWD/$repo.files.tar.gz"
  ) &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
echo "${0##*/}: databases written ($((SECONDS - start)) s)"

# ------------------------------------------------------------ install ---
rm -f "$out/.stamp" "$out/.quick"
old=$(mktemp -d "$out/.old.XXXXXX")
for item in core extra manifest.tsv; do
  [[ ! -e $out/$item ]] || mv "$out/$item" "$old/$item"
  mv "$stage/$item" "$out/$item"
done
rm -rf -- "$old"
echo "$stamp" >"$out/.stamp"
echo "$quick" >"$out/.quick"
echo "${0##*/}: $(grep -vc '^#' "$out/manifest.tsv") packages in $out ($(du -sh --exclude=.debs --exclude=.apt "$out" | cut -f1)), $((SECONDS - start)) s"
