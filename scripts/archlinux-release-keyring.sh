#!/usr/bin/env bash
# Re-derive the keyring the action checks Arch's bootstrap tarball against
# (src/bootstrap-env/keys/archlinux-release.gpg) from Debian's archlinux-keyring package, so anyone can
# audit where its bytes come from. See docs/keys.md for the keys and where each was checked.
#
#   scripts/archlinux-release-keyring.sh [--deb FILE] [--output FILE]
#
# Without --deb it fetches the package with `apt-get download archlinux-keyring` into a temporary
# directory. It prints the package's version and sha256, imports its keyring into a throw-away
# GNUPGHOME, exports exactly the release signing keys below (minimal: self-signatures, subkeys and
# revocations; no third-party certifications), checks the result holds those keys and nothing else,
# and prints the result's sha256. Needs: apt-get (without --deb), dpkg-deb, gpg, sha256sum.
set -euo pipefail

# Arch's release signing keys (ISO and bootstrap tarball), both Pierre Schmitz's.
fingerprints=(
  3E80CA1A8B89F69CBA57D98A76A5EF9054449A5C # ed25519, 2022-10-31, expires 2037-10-27: releases since 2022.11
  4AA4767BBC9C4B1D18AE28B77F2D434B9741E8AC # rsa2048, 2011-04-10: older releases
)

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
output=$repo/src/bootstrap-env/keys/archlinux-release.gpg
deb=
while [[ $# -gt 0 ]]; do
  case $1 in
    --deb) deb=$(realpath -- "$2"); shift 2 ;;
    --output) output=$(realpath -m -- "$2"); shift 2 ;;
    *) echo "usage: ${0##*/} [--deb FILE] [--output FILE]" >&2; exit 2 ;;
  esac
done

export LC_ALL=C
work=$(mktemp -d)
export GNUPGHOME=$work/gnupg
trap 'gpgconf --homedir "$GNUPGHOME" --kill all 2>/dev/null || true; rm -rf -- "$work"' EXIT
mkdir -m 0700 "$GNUPGHOME"

if [[ -z $deb ]]; then
  (cd "$work" && apt-get download archlinux-keyring >&2)
  deb=$(echo "$work"/archlinux-keyring_*.deb)
fi
echo "package: $(dpkg-deb --field "$deb" Package) $(dpkg-deb --field "$deb" Version)"
echo "package sha256: $(sha256sum <"$deb" | cut -d' ' -f1)  ${deb##*/}"

dpkg-deb --extract "$deb" "$work/deb"
gpg --batch --quiet --import "$work/deb/usr/share/keyrings/archlinux.gpg" 2>/dev/null
for fpr in "${fingerprints[@]}"; do
  gpg --batch --list-keys "$fpr" >/dev/null 2>&1 || { echo "${0##*/}: $fpr is not in the package's keyring" >&2; exit 1; }
  if grep -qi "^$fpr" "$work/deb/usr/share/keyrings/archlinux-revoked"; then
    echo "note: $fpr is listed in the package's archlinux-revoked (Arch no longer trusts it for new signatures)"
  fi
done

gpg --batch --export --export-options export-minimal "${fingerprints[@]}" >"$work/keyring.gpg"
# Exactly the wanted keys, in order, and no secret material.
found=$(gpg --batch --show-keys --with-colons "$work/keyring.gpg" 2>/dev/null | awk -F: '
  $1 == "pub" || $1 == "sec" { kind = $1; next_fpr = 1; next }
  $1 == "fpr" && next_fpr { print kind ":" $10; next_fpr = 0 }
  $1 == "sub" || $1 == "ssb" { next_fpr = 0 }')
expected=$(printf 'pub:%s\n' "${fingerprints[@]}")
if [[ $found != "$expected" ]]; then
  printf '%s: the exported keyring holds\n%s\nnot\n%s\n' "${0##*/}" "$found" "$expected" >&2
  exit 1
fi

mkdir -p -- "$(dirname -- "$output")"
cp -- "$work/keyring.gpg" "$output"
gpg --batch --show-keys --keyid-format long "$output" 2>/dev/null
echo "keyring sha256: $(sha256sum <"$output" | cut -d' ' -f1)  $output"
