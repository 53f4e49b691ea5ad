#!/usr/bin/python3
"""Repack Debian .debs into pacman packages under Arch Linux package names.

Test-only helper of arch-image (see test/standin/README.md). Called by
build-standin.sh; it reads the resolved set of .debs and writes
STAGE/{core,extra}/os/x86_64/*.pkg.tar.zst plus STAGE/manifest.tsv. The
repository databases are made afterwards by repo-add.

What a repack does to a Debian package:
  * usr-merge the Arch way: /bin, /sbin, /usr/sbin -> /usr/bin; /lib, /lib64 -> /usr/lib
    (a link that would then point at itself is dropped: /sbin/ip -> /bin/ip);
  * drop docs, man pages, translations, sysv init scripts and runit files;
  * turn hard links into plain files, keep owners/modes (numeric ids) and set every
    mtime to SOURCE_DATE_EPOCH;
  * do the work of the maintainer scripts that matters here: alternatives links,
    precompiled Python bytecode (hash-checked .pyc, like py3compile), generated
    config files; the rest is done by alpm hooks shipped in the stand-in
    (sysusers, tmpfiles, hwdb, catalog, ca-certificates, mkinitcpio);
  * Depends/Pre-Depends become `depend` (first alternative present in the set,
    versions dropped), Provides become `provides`, conffiles become `backup`.

Every package version ends in a short hash of the package's own content, so a
changed stand-in package never shares a file name with an older build (pacman
rejects a cached package whose bytes differ from the one the database names).
"""

import argparse
import base64
import gzip
import hashlib
import importlib._bootstrap_external as bootstrap_external
import importlib.util
import io
import lzma
import os
import posixpath
import re
import subprocess
import sys
import tarfile
import tempfile
import warnings
from multiprocessing import Pool

ARCH = "x86_64"
PACKAGER = "arch-image stand-in <standin@example.invalid>"
URL = "https://example.invalid/arch-image/test/standin"

# ----------------------------------------------------------------- policy ---

# Debian packages that are not repacked; their names are provided by a stand-in package.
SKIP = {
    "base-files": "filesystem",
    "usr-is-merged": "filesystem",
    "usrmerge": "filesystem",
    "linux-image-cloud-amd64": None,  # Debian's kernel metapackages: `linux`/`linux-lts` replace them
    "linux-image-6.12-cloud-amd64": None,
}

# The two kernels: Arch name -> regex on the Debian image package name.
KERNELS = {
    "linux": r"^linux-image-6\.12\.\d+\+deb12-cloud-amd64$",
    "linux-lts": r"^linux-image-6\.1\.0-\d+-cloud-amd64$",
}

# Paths (after usr-merge) never shipped; a pattern matches the path or anything below it.
DROP_ALWAYS = [
    "usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/lintian",
    "usr/share/linda", "usr/share/bug", "usr/share/apport", "usr/share/runit",
    "usr/share/zsh", "usr/share/fish", "usr/share/gnome", "usr/share/menu",
    "etc/init.d", "etc/sv", "etc/runit", "etc/rc?.d", "etc/ufw",
    "usr/share/locale/*/LC_MESSAGES", "usr/share/locale/*/LC_TIME",
    "usr/share/locale/*/LC_SCRIPTS",
]

# update-alternatives links the maintainer scripts would make (link -> target, after merge).
ALTERNATIVES = {
    "gawk": {"usr/bin/awk": "gawk", "usr/bin/nawk": "gawk"},
    "debianutils": {"usr/bin/which": "which.debianutils"},
    "util-linux": {"usr/bin/pager": "more"},
    "tar": {"usr/bin/rmt": "rmt-tar"},
    "cpio": {"usr/bin/mt": "mt-gnu"},
    "pinentry-curses": {"usr/bin/pinentry": "pinentry-curses"},
    "python3-jsonpatch": {"usr/bin/jsondiff": "json-patch-jsondiff"},
    "xz-utils": {f"usr/bin/{a}": b for a, b in [
        ("lzma", "xz"), ("unlzma", "unxz"), ("lzcat", "xzcat"), ("lzmore", "xzmore"),
        ("lzless", "xzless"), ("lzdiff", "xzdiff"), ("lzcmp", "xzcmp"), ("lzgrep", "xzgrep"),
        ("lzegrep", "xzegrep"), ("lzfgrep", "xzfgrep")]},
}

LOCALE_PATCH = (b"/etc/default/locale\0", b"/etc/.//locale.conf\0")
PAM_LOCALE = ("envfile=/etc/default/locale", "envfile=/etc/locale.conf")

# Per Debian package: drop (patterns), links {path: target}, provides, depends (added),
# overlay (dir under files/ merged over the payload), patch {path: [(old, new)]} (text),
# bpatch {path: [(old, new)]} (bytes, same length), generate (name of a generator below).
DEB = {
    "bash": dict(links={"usr/bin/sh": "bash"}, provides=["sh"]),
    # Arch's glibc depends on filesystem: the install order starts with the skeleton.
    # Dropped dependencies break Debian's dependency cycles (pacman warns about each).
    "libc6": dict(depends=["filesystem"], drop_depends=["libgcc-s1"]),
    "libdevmapper1.02.1": dict(drop_depends=["dmsetup"]),
    # /etc/modules (Debian's kmod postinst writes it; modules-load.d/modules.conf links to it).
    "kmod": dict(overlay="kmod"),
    # Debian's systemd keeps the locale in /etc/default/locale; Arch's (upstream) in
    # /etc/locale.conf. Point firstboot and the shared library (PID 1, localed) at
    # /etc/locale.conf, spelt with the same number of bytes.
    "systemd": dict(overlay="systemd", install="systemd", drop=["var/log/README"], bpatch={
        "usr/bin/systemd-firstboot": [LOCALE_PATCH]}),
    "libsystemd-shared": dict(bpatch={
        "usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-252.so": [LOCALE_PATCH]}),
    # Debian's PAM reads the locale from /etc/default/locale; on Arch it is /etc/locale.conf.
    "login": dict(patch={"etc/pam.d/login": [PAM_LOCALE]}),
    "util-linux": dict(patch={"etc/pam.d/su": [PAM_LOCALE]}),
    "udev": dict(overlay="udev"),
    "libpam-runtime": dict(overlay="libpam-runtime"),
    "sudo": dict(overlay="sudo", modes={"etc/sudoers": 0o440}),
    "openssh-server": dict(patch={"etc/pam.d/sshd": [PAM_LOCALE]}, drop=[
        "usr/lib/systemd/system/ssh.service", "usr/lib/systemd/system/ssh@.service",
        "usr/lib/systemd/system/ssh.socket", "usr/lib/systemd/system/rescue-ssh.target",
        "etc/default/ssh"]),
    "cloud-init": dict(
        overlay="cloud-init",
        drop=["usr/lib/systemd/system/cloud-init.service"],
        patch={"usr/lib/systemd/system/cloud-config.target": [
            ("cloud-init-local.service cloud-init.service",
             "cloud-init-local.service cloud-init-network.service")]},
    ),
    "initramfs-tools-core": dict(patch={"usr/bin/mkinitramfs": [
        ('"/boot/config-${version}"', '"/usr/lib/modules/${version}/config"')]}),
    # 10_linux as Arch's grub patches it: the version is everything after "vmlinuz-"
    # (Debian strips the longest digit-free prefix ending in "-": "linux-lts" -> "lts"),
    # a fallback entry for initramfs-<pkgbase>-fallback.img, "Arch Linux" as the name, and
    # root mounted "rw" from the start (Debian: "ro"; with "ro" systemd cannot apply presets
    # at first boot: "Failed to populate /etc with preset unit settings").
    "grub-common": dict(
        drop=["etc/grub.d/05_debian_theme", "etc/default/grub.d/init-select.cfg"],
        patch={"etc/grub.d/10_linux": [
            ('version=`echo $basename | sed -e "s,^[^0-9]*-,,g"`',
             'version=`echo $basename | sed -e "s,vmlinuz-,,g"`'),
            ('      OS="${GRUB_DISTRIBUTOR} GNU/Linux"', '      OS="${GRUB_DISTRIBUTOR} Linux"'),
            ("root=${linux_root_device_thisversion} ro ${args}", "root=${linux_root_device_thisversion} rw ${args}"),
            ('\t  init-*)\n',
             '\t  fallback)\n\t      title="$(gettext_printf "%s, with Linux %s (fallback initramfs)" "${os}" "${version}")" ;;\n'
             '\t  init-*)\n'),
            ('  if [ "x${GRUB_DISABLE_RECOVERY}" != "xtrue" ]; then\n    linux_entry "${OS}" "${version}" recovery',
             '  if test -e "${dirname}/initramfs-${version}-fallback.img" ; then\n'
             '    initrd="${initrd_early} initramfs-${version}-fallback.img"\n'
             '    gettext_printf "Found fallback initrd image(s) in %s:%s\\n" "${dirname}" " ${initrd}" >&2\n'
             '    linux_entry "${OS}" "${version}" fallback \\\n'
             '                "${GRUB_CMDLINE_LINUX} ${GRUB_CMDLINE_LINUX_DEFAULT}"\n'
             '  fi\n'
             '  if [ "x${GRUB_DISABLE_RECOVERY}" != "xtrue" ]; then\n    linux_entry "${OS}" "${version}" recovery'),
        ]},
    ),
    "pacman-package-manager": dict(overlay="pacman-package-manager"),
    "ca-certificates": dict(overlay="ca-certificates", generate="ca_certificates_conf"),
    "locales": dict(generate="locale_gen"),
    "archlinux-keyring": dict(generate="archlinux_keyring"),
}

# Stand-in packages under Arch names. `debian` names the package whose version is used.
CUSTOM = {
    "filesystem": dict(
        version="2025.05.03-1", desc="Base Arch-like filesystem (stand-in: usr-merged skeleton, ID=arch)",
        overlay="filesystem", provides=["base-files", "usr-is-merged", "usrmerge"],
        backup=["etc/passwd", "etc/group", "etc/shadow", "etc/gshadow", "etc/shells", "etc/hosts",
                "etc/nsswitch.conf", "etc/profile", "etc/fstab", "etc/issue", "etc/motd"],
        dirs={"proc": 0o555, "sys": 0o555, "tmp": 0o1777, "var/tmp": 0o1777, "root": 0o750,
              "var/spool/mail": 0o1777, "var/empty": 0o755},
        links={"bin": "usr/bin", "sbin": "usr/bin", "lib": "usr/lib", "lib64": "usr/lib",
               "usr/sbin": "bin", "usr/lib64": "lib", "var/run": "../run", "var/lock": "../run/lock",
               "var/mail": "spool/mail", "etc/os-release": "../usr/lib/os-release",
               "etc/mtab": "../proc/self/mounts"},
        modes={"etc/shadow": 0o600, "etc/gshadow": 0o600},
    ),
    "base": dict(
        version="3-2", desc="Minimal package set to define a basic Arch Linux installation (stand-in)",
        depends=[
            "filesystem", "bash", "bzip2", "coreutils", "file", "findutils", "gawk", "libgcc-s1",
            "gettext-base", "libc6", "libc-bin", "grep", "gzip", "iproute2", "iputils-ping",
            "pciutils", "procps", "psmisc", "sed", "login", "passwd", "systemd", "systemd-sysv",
            "tar", "util-linux", "mount", "xz-utils", "pacman",
            # Arch's systemd contains these; Debian 12 splits them out.
            "udev", "dbus", "systemd-resolved", "systemd-timesyncd", "libnss-systemd",
            "libnss-resolve", "libnss-myhostname", "libpam-systemd", "kbd",
            # Arch has these through glibc (locale-gen), tzdata, filesystem's iana-etc
            # (/etc/services, /etc/protocols) and pacman/curl (certificates).
            "locales", "tzdata", "netbase", "ca-certificates",
            # Debian's Essential packages: Debian binaries and scripts assume them.
            "debianutils", "diffutils", "hostname", "bsdutils", "ncurses-bin", "sysvinit-utils",
            "perl-base",
        ],
    ),
    "mkinitcpio": dict(
        version="39.2-1", desc="mkinitcpio stand-in: a wrapper over Debian's initramfs-tools (mkinitramfs)",
        overlay="mkinitcpio", provides=["initramfs"], backup=["etc/mkinitcpio.conf"],
        depends=["bash", "initramfs-tools-core", "busybox", "zstd", "coreutils", "findutils",
                 "grep", "sed", "kmod", "cpio", "gzip", "util-linux", "diffutils"],
        modes={"usr/bin/mkinitcpio": 0o755, "usr/share/libalpm/scripts/mkinitcpio-standin": 0o755},
        dirs={"etc/mkinitcpio.d": 0o755, "etc/mkinitcpio.conf.d": 0o755},
    ),
    "grub": dict(
        debian="grub-common", desc="GNU GRand Unified Bootloader (stand-in: Debian's grub-pc-bin + grub-efi-amd64-bin)",
        overlay="grub", backup=["etc/default/grub"],
        depends=["grub-common", "grub2-common", "grub-pc-bin", "grub-efi-amd64-bin"],
    ),
    "openssh": dict(
        debian="openssh-server", desc="SSH protocol implementation (stand-in: Debian's openssh with Arch's units)",
        overlay="openssh", backup=["etc/ssh/sshd_config"],
        depends=["openssh-server", "openssh-client", "openssh-sftp-server"],
        links={"usr/lib/ssh/sftp-server": "../openssh/sftp-server"},
        dirs={"etc/ssh/sshd_config.d": 0o755},
    ),
    "gptfdisk": dict(
        debian="gdisk", desc="GPT fdisk: gdisk, sgdisk, cgdisk (stand-in: Debian's gdisk)", depends=["gdisk"],
    ),
    "pacman": dict(
        debian="pacman-package-manager", desc="Package manager (stand-in: Debian's pacman 6.0 and archlinux-keyring)",
        overlay="pacman", backup=["etc/pacman.d/mirrorlist"],
        depends=["pacman-package-manager", "archlinux-keyring", "gnupg", "gpg-agent"],
    ),
}

# Packages that go to [extra]; everything else is in [core].
EXTRA = {"htop", "libnl-3-200", "libnl-genl-3-200"}

# --------------------------------------------------------------- helpers ---


class Entry:
    __slots__ = ("path", "kind", "mode", "uid", "gid", "data", "target")

    def __init__(self, path, kind, mode, uid=0, gid=0, data=b"", target=""):
        self.path, self.kind, self.mode, self.uid, self.gid = path, kind, mode, uid, gid
        self.data, self.target = data, target


def ar_members(blob):
    if not blob.startswith(b"!<arch>\n"):
        raise ValueError("not an ar archive")
    pos, out = 8, {}
    while pos + 60 <= len(blob):
        header = blob[pos:pos + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        pos += 60
        out[name] = blob[pos:pos + size]
        pos += size + (size & 1)
    return out


def decompress(name, data):
    if name.endswith(".xz"):
        return lzma.decompress(data)
    if name.endswith(".gz"):
        return gzip.decompress(data)
    if name.endswith(".zst"):
        return subprocess.run(["zstd", "-dcq"], input=data, stdout=subprocess.PIPE, check=True).stdout
    if name.endswith(".tar"):
        return data
    raise ValueError(f"unknown compression: {name}")


def deb_parts(path):
    members = ar_members(open(path, "rb").read())
    control = data = None
    for name, blob in members.items():
        if name.startswith("control.tar"):
            control = decompress(name, blob)
        elif name.startswith("data.tar"):
            data = decompress(name, blob)
    return control, data


def parse_control(text):
    fields, key = {}, None
    for line in text.splitlines():
        if line.startswith((" ", "\t")) and key:
            fields[key] += "\n" + line
        elif ":" in line:
            key, value = line.split(":", 1)
            fields[key] = value.strip()
    return fields


def read_control(path):
    control = None
    members = ar_members(open(path, "rb").read())
    for name, blob in members.items():
        if name.startswith("control.tar"):
            control = decompress(name, blob)
    info = {"conffiles": [], "postinst": ""}
    with tarfile.open(fileobj=io.BytesIO(control)) as tar:
        for member in tar:
            base = member.name.lstrip("./")
            if base == "control":
                info.update(parse_control(tar.extractfile(member).read().decode()))
            elif base == "conffiles":
                info["conffiles"] = [l.strip() for l in tar.extractfile(member).read().decode().splitlines() if l.strip()]
            elif base == "postinst" and member.isfile():
                info["postinst"] = tar.extractfile(member).read().decode(errors="replace")
    info["deb"] = path
    return info


def merge_path(path):
    """Arch usr-merge of a relative path (no leading slash)."""
    parts = path.split("/")
    if parts[0] in ("bin", "sbin"):
        parts = ["usr", "bin"] + parts[1:]
    elif parts[0] in ("lib", "lib64"):
        parts = ["usr", "lib"] + parts[1:]
    if len(parts) > 1 and parts[0] == "usr" and parts[1] == "sbin":
        parts = ["usr", "bin"] + parts[2:]
    elif len(parts) > 1 and parts[0] == "usr" and parts[1] == "lib64":
        parts = ["usr", "lib"] + parts[2:]
    return "/".join(p for p in parts if p != "")


def normalize_rel(path):
    path = posixpath.normpath("/" + path).lstrip("/")
    return "" if path == "." else path


def fix_link(orig, new, target):
    """New target text for a link moved from `orig` to `new`; None if it would point at itself."""
    if target.startswith("/"):
        resolved = merge_path(normalize_rel(target))
        return None if resolved == new else target
    resolved = merge_path(normalize_rel(posixpath.join(posixpath.dirname(orig), target)))
    if resolved == new:
        return None
    if merge_path(normalize_rel(posixpath.join(posixpath.dirname(new), target))) == resolved:
        return target
    return posixpath.relpath(resolved, posixpath.dirname(new))


def link_dest(entry):
    """Where a link (already at its merged path) points, as a merged relative path."""
    if entry.target.startswith("/"):
        return merge_path(normalize_rel(entry.target))
    return merge_path(normalize_rel(posixpath.join(posixpath.dirname(entry.path), entry.target)))


def matches(path, patterns):
    from fnmatch import fnmatchcase
    for pattern in patterns:
        if fnmatchcase(path, pattern) or fnmatchcase(path, pattern + "/*"):
            return True
    return False


def debian_to_pacman_version(version):
    epoch = ""
    if ":" in version:
        epoch, version = version.split(":", 1)
        epoch += ":"
    if "-" in version:
        upstream, revision = version.rsplit("-", 1)
    else:
        upstream, revision = version, "0"
    return epoch + upstream.replace("-", "_").replace(":", "_"), revision


def split_depends(value):
    groups = []
    for group in value.split(","):
        group = group.strip()
        if not group:
            continue
        alternatives = []
        for alt in group.split("|"):
            name = re.sub(r"\(.*?\)|\[.*?\]|<.*?>", "", alt).strip()
            name = name.split(":")[0].strip()
            if name:
                alternatives.append(name)
        groups.append(alternatives)
    return groups


# ------------------------------------------------------------- payloads ---


def deb_entries(path, drop):
    """Payload of a .deb after usr-merge and drops: {path: Entry}."""
    _, data = deb_parts(path)
    raw = []
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
        contents = {}
        for m in members:
            if m.isfile():
                contents[normalize_rel(m.name)] = tar.extractfile(m).read()
        for m in members:
            orig = normalize_rel(m.name)
            if not orig:
                continue
            mode = m.mode & 0o7777
            if m.isdir():
                raw.append((orig, Entry(orig, "d", mode, m.uid, m.gid)))
            elif m.issym():
                raw.append((orig, Entry(orig, "l", 0o777, m.uid, m.gid, target=m.linkname)))
            elif m.islnk():
                src = normalize_rel(m.linkname)
                raw.append((orig, Entry(orig, "f", mode, m.uid, m.gid, data=contents[src])))
            elif m.isfile():
                raw.append((orig, Entry(orig, "f", mode, m.uid, m.gid, data=contents[orig])))
            else:
                raise ValueError(f"{path}: unsupported member type {m.type!r}: {m.name}")
    out = {}
    notes = []
    for orig, entry in raw:
        new = merge_path(orig)
        if entry.kind == "l":
            target = fix_link(orig, new, entry.target)
            if target is None:
                notes.append(f"dropped self-link {orig} -> {entry.target}")
                continue
            entry.target = target
        entry.path = new
        if matches(new, drop):
            continue
        have = out.get(new)
        if have is not None:
            if have.kind == "d" and entry.kind == "d":
                continue
            if entry.kind == "l" and have.kind != "l":
                notes.append(f"kept file over link at {new}")
                continue
            if have.kind == "l" and entry.kind != "l":
                notes.append(f"kept file over link at {new}")
            elif have.kind == "l" and entry.kind == "l" and link_dest(have) == link_dest(entry):
                continue
            else:
                raise ValueError(f"{path}: two entries for {new} after usr-merge")
        out[new] = entry
    return out, notes


def add_parents(entries):
    for path in list(entries):
        parent = posixpath.dirname(path)
        while parent and parent not in entries:
            entries[parent] = Entry(parent, "d", 0o755)
            parent = posixpath.dirname(parent)


def apply_overlay(entries, files_dir, name, modes):
    if not name:
        return
    root = os.path.join(files_dir, name)
    if not os.path.isdir(root):
        raise FileNotFoundError(root)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir
        if rel_dir and rel_dir not in entries:
            entries[rel_dir] = Entry(rel_dir, "d", 0o755)
        for filename in sorted(filenames):
            src = os.path.join(dirpath, filename)
            rel = posixpath.join(rel_dir, filename) if rel_dir else filename
            if os.path.islink(src):
                entries[rel] = Entry(rel, "l", 0o777, target=os.readlink(src))
                continue
            mode = modes.get(rel, 0o755 if os.access(src, os.X_OK) else 0o644)
            entries[rel] = Entry(rel, "f", mode, data=open(src, "rb").read())


def apply_patches(entries, patches, pkg):
    for path, pairs in patches.items():
        entry = entries.get(path)
        if entry is None or entry.kind != "f":
            raise ValueError(f"{pkg}: cannot patch {path}: not a file in the package")
        text = entry.data.decode()
        for old, new in pairs:
            if old not in text:
                raise ValueError(f"{pkg}: patch for {path} does not apply: {old!r}")
            text = text.replace(old, new)
        entry.data = text.encode()


def apply_binary_patches(entries, patches, pkg):
    """Same-length byte replacements; each `old` must occur exactly once."""
    for path, pairs in patches.items():
        entry = entries.get(path)
        if entry is None or entry.kind != "f":
            raise ValueError(f"{pkg}: cannot patch {path}: not a file in the package")
        data = entry.data
        for old, new in pairs:
            if len(old) != len(new) or data.count(old) != 1:
                raise ValueError(f"{pkg}: binary patch for {path} does not apply: {old!r}")
            data = data.replace(old, new)
        entry.data = data


def compile_python(entries):
    """Hash-checked .pyc for every module under usr/lib/python3*, as py3compile would make."""
    if sys.version_info[:2] != (3, 11):
        return 0
    tag = sys.implementation.cache_tag
    count = 0
    for path in sorted(entries):
        entry = entries[path]
        if entry.kind != "f" or not path.endswith(".py") or not re.match(r"usr/lib/python3(\.\d+)?/", path):
            continue
        directory, filename = posixpath.split(path)
        cache_dir = posixpath.join(directory, "__pycache__")
        pyc = posixpath.join(cache_dir, f"{filename[:-3]}.{tag}.pyc")
        if pyc in entries:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                code = compile(entry.data, "/" + path, "exec", dont_inherit=True, optimize=0)
        except (SyntaxError, ValueError):
            continue
        data = bootstrap_external._code_to_hash_pyc(code, importlib.util.source_hash(entry.data), True)
        if cache_dir not in entries:
            entries[cache_dir] = Entry(cache_dir, "d", 0o755)
        entries[pyc] = Entry(pyc, "f", 0o644, data=bytes(data))
        count += 1
    return count


def gen_locale_gen(entries):
    supported = entries["usr/share/i18n/SUPPORTED"].data.decode().splitlines()
    lines = ["# Configuration file for locale-gen (Arch layout: uncomment the locales to generate,",
             "# then run locale-gen). Generated by the arch-image stand-in from SUPPORTED.", "#"]
    lines += ["#" + l for l in supported if l.strip() and not l.startswith("#")]
    entries["etc/locale.gen"] = Entry("etc/locale.gen", "f", 0o644, data=("\n".join(lines) + "\n").encode())
    return ["etc/locale.gen"]


def gen_ca_certificates_conf(entries):
    certs = sorted(p[len("usr/share/ca-certificates/"):] for p, e in entries.items()
                   if p.startswith("usr/share/ca-certificates/") and p.endswith(".crt") and e.kind == "f")
    text = "# Written by the arch-image stand-in (Debian's postinst does the same).\n" + "\n".join(certs) + "\n"
    entries["etc/ca-certificates.conf"] = Entry("etc/ca-certificates.conf", "f", 0o644, data=text.encode())
    return ["etc/ca-certificates.conf"]


def openpgp_keys(data):
    """Split a binary OpenPGP keyring into (v4 fingerprint, bytes) per transferable public key."""
    keys, at = [], 0
    while at < len(data):
        start, first = at, data[at]
        if first & 0x40:  # new packet format
            tag, l1 = first & 0x3F, data[at + 1]
            if l1 < 192:
                length, at = l1, at + 2
            elif l1 < 224:
                length, at = ((l1 - 192) << 8) + data[at + 2] + 192, at + 3
            elif l1 == 255:
                length, at = int.from_bytes(data[at + 2:at + 6], "big"), at + 6
            else:
                raise ValueError("partial body length in a keyring")
        else:
            tag, size = (first >> 2) & 0x0F, {0: 1, 1: 2, 2: 4}[first & 3]
            length, at = int.from_bytes(data[at + 1:at + 1 + size], "big"), at + 1 + size
        body, at = data[at:at + length], at + length
        if tag == 6:
            fingerprint = hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).hexdigest().upper()
            keys.append([fingerprint, b""])
        keys[-1][1] += data[start:at]
    return keys


def dearmor(data):
    """The binary packets of an ASCII-armored OpenPGP block (one block, as Debian ships the keyring)."""
    lines = data.decode().splitlines()
    body = lines[lines.index("") + 1:]
    body = body[:next(i for i, line in enumerate(body) if line.startswith(("=", "-----END")))]
    return base64.b64decode("".join(body))


def gen_archlinux_keyring(entries):
    """Keep the master keys and two revoked keys: `pacman-key --populate` of Debian's 165 keys took
    6 min in a TCG guest; of these 8 about 1 s on the host. It does the same steps either way."""
    ring = "usr/share/keyrings/"
    trusted = {line.split(":")[0] for line in entries[ring + "archlinux-trusted"].data.decode().split()}
    keys = openpgp_keys(dearmor(entries[ring + "archlinux.gpg"].data))
    present = {fingerprint for fingerprint, _ in keys}
    revoked = sorted(set(entries[ring + "archlinux-revoked"].data.decode().split()) & present)[:2]
    if not trusted <= present or len(revoked) != 2:
        raise ValueError("archlinux-keyring: master or revoked keys missing from archlinux.gpg")
    kept = trusted | set(revoked)
    entries[ring + "archlinux.gpg"].data = b"".join(key for fingerprint, key in keys if fingerprint in kept)
    entries[ring + "archlinux-revoked"].data = ("\n".join(revoked) + "\n").encode()
    return []


GENERATORS = {"locale_gen": gen_locale_gen, "ca_certificates_conf": gen_ca_certificates_conf,
              "archlinux_keyring": gen_archlinux_keyring}

# ---------------------------------------------------------------- writing ---

_MTREE_SAFE = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._/-+:@,~%^&*()[]{}!?'\";<>|$`")


def mtree_quote(text):
    return "".join(chr(b) if b in _MTREE_SAFE else "\\%03o" % b for b in text.encode())


def mtree_line(path, entry, epoch):
    fields = [f"./{mtree_quote(path)}", f"time={epoch}.0", f"mode={entry.mode:o}", f"uid={entry.uid}", f"gid={entry.gid}"]
    if entry.kind == "d":
        fields.append("type=dir")
    elif entry.kind == "l":
        fields += ["type=link", f"link={mtree_quote(entry.target)}"]
    else:
        fields += ["type=file", f"size={len(entry.data)}", f"md5digest={hashlib.md5(entry.data).hexdigest()}",
                   f"sha256digest={hashlib.sha256(entry.data).hexdigest()}"]
    return " ".join(fields)


def tar_add(tar, path, entry, epoch):
    info = tarfile.TarInfo(path)
    info.mtime = epoch
    info.mode = entry.mode
    info.uid, info.gid = entry.uid, entry.gid
    info.uname = "root" if entry.uid == 0 else ""
    info.gname = "root" if entry.gid == 0 else ""
    if entry.kind == "d":
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    elif entry.kind == "l":
        info.type = tarfile.SYMTYPE
        info.linkname = entry.target
        tar.addfile(info)
    else:
        info.size = len(entry.data)
        tar.addfile(info, io.BytesIO(entry.data))


def content_hash(meta, entries, install):
    h = hashlib.sha256()
    h.update(repr(sorted(meta.items())).encode())
    h.update(install.encode())
    for path in sorted(entries):
        e = entries[path]
        h.update(f"{path}\0{e.kind}\0{e.mode}\0{e.uid}\0{e.gid}\0{e.target}\0".encode())
        h.update(hashlib.sha256(e.data).digest())
    return h.hexdigest()[:8]


def write_package(out_dir, meta, entries, install, epoch, level):
    """meta: name, pkgver, pkgrel, desc, arch, depends, provides, backup, license."""
    digest = content_hash(meta, entries, install)
    version = f"{meta['pkgver']}-{meta['pkgrel']}.{digest}"
    size = sum(len(e.data) for e in entries.values() if e.kind == "f")
    lines = [
        f"# Generated by arch-image test/standin/repack.py",
        f"pkgname = {meta['name']}",
        f"pkgbase = {meta['name']}",
        f"pkgver = {version}",
        f"pkgdesc = {meta['desc']}",
        f"url = {URL}",
        f"builddate = {epoch}",
        f"packager = {PACKAGER}",
        f"size = {size}",
        f"arch = {meta['arch']}",
        f"license = {meta.get('license', 'custom')}",
    ]
    lines += [f"provides = {p}" for p in meta.get("provides", [])]
    lines += [f"backup = {b}" for b in meta.get("backup", [])]
    lines += [f"depend = {d}" for d in meta.get("depends", [])]
    pkginfo = Entry(".PKGINFO", "f", 0o644, data=("\n".join(lines) + "\n").encode())
    meta_entries = [(".PKGINFO", pkginfo)]
    if install:
        meta_entries.append((".INSTALL", Entry(".INSTALL", "f", 0o644, data=install.encode())))
    payload = sorted(entries.items(), key=lambda kv: kv[0].encode())
    mtree = ["#mtree"] + [mtree_line(p, e, epoch) for p, e in meta_entries + payload]
    mtree_entry = Entry(".MTREE", "f", 0o644, data=gzip.compress(("\n".join(mtree) + "\n").encode(), 9, mtime=0))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar_add(tar, ".PKGINFO", pkginfo, epoch)
        tar_add(tar, ".MTREE", mtree_entry, epoch)
        for path, entry in meta_entries[1:] + payload:
            tar_add(tar, path, entry, epoch)
    filename = f"{meta['name']}-{version}-{meta['arch']}.pkg.tar.zst"
    dest = os.path.join(out_dir, filename)
    with open(dest + ".part", "wb") as f:
        subprocess.run(["zstd", "-q", f"-{level}", "-T1", "--no-progress", "-c"], input=buf.getvalue(), stdout=f, check=True)
    os.utime(dest + ".part", (epoch, epoch))
    os.replace(dest + ".part", dest)
    return filename, version, size


# ------------------------------------------------------------------ jobs ---


def kernel_entries(info, pkgbase):
    entries, notes = deb_entries(info["deb"], DROP_ALWAYS)
    kvers = {p.split("/")[3] for p in entries if p.startswith("usr/lib/modules/") and p.count("/") >= 4}
    if len(kvers) != 1:
        raise ValueError(f"{info['Package']}: expected one module directory, found {sorted(kvers)}")
    kver = kvers.pop()
    moddir = f"usr/lib/modules/{kver}"
    out = {}
    for path, entry in entries.items():
        if path == f"boot/vmlinuz-{kver}":
            entry.path = f"{moddir}/vmlinuz"
            entry.mode = 0o644
        elif path == f"boot/config-{kver}":
            entry.path = f"{moddir}/config"
        elif path.startswith("boot"):
            continue  # System.map and the /boot directory itself (owned by filesystem)
        out[entry.path] = entry
    if f"{moddir}/vmlinuz" not in out:
        raise ValueError(f"{info['Package']}: no /boot/vmlinuz-{kver}")
    out[f"{moddir}/pkgbase"] = Entry(f"{moddir}/pkgbase", "f", 0o644, data=f"{pkgbase}\n".encode())
    # depmod at build time (Debian's postinst runs it; Arch's kmod hook does on install).
    with tempfile.TemporaryDirectory() as tmp:
        base = os.path.join(tmp, "lib/modules", kver)
        for path, entry in out.items():
            if path.startswith(moddir + "/") and entry.kind == "f" and (".ko" in path or path.endswith(("modules.order", "modules.builtin", "modules.builtin.modinfo"))):
                dest = os.path.join(tmp, "lib/modules", path[len("usr/lib/modules/"):])
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                with open(dest, "wb") as f:
                    f.write(entry.data)
        subprocess.run(["depmod", "-b", tmp, kver], check=True)
        for name in sorted(os.listdir(base)):
            if name.startswith("modules.") and name not in ("modules.order", "modules.builtin", "modules.builtin.modinfo"):
                data = open(os.path.join(base, name), "rb").read()
                out[f"{moddir}/{name}"] = Entry(f"{moddir}/{name}", "f", 0o644, data=data)
    add_parents(out)
    return out, kver, notes


def build_job(job):
    kind, name = job["kind"], job["name"]
    files_dir, epoch, level = job["files"], job["epoch"], job["level"]
    install = ""
    notes = []
    extra = {}
    if kind == "deb":
        info = job["info"]
        spec = DEB.get(name, {})
        entries, notes = deb_entries(info["deb"], DROP_ALWAYS + spec.get("drop", []))
        apply_overlay(entries, files_dir, spec.get("overlay"), spec.get("modes", {}))
        apply_patches(entries, spec.get("patch", {}), name)
        apply_binary_patches(entries, spec.get("bpatch", {}), name)
        for link, target in {**ALTERNATIVES.get(name, {}), **spec.get("links", {})}.items():
            entries[link] = Entry(link, "l", 0o777, target=target)
        backup = [merge_path(c.lstrip("/")) for c in info["conffiles"]]
        if spec.get("generate"):
            backup += GENERATORS[spec["generate"]](entries)
        if spec.get("install"):
            install = open(os.path.join(files_dir, "install", spec["install"] + ".install")).read()
        compiled = compile_python(entries)
        if compiled:
            notes.append(f"{compiled} .pyc compiled")
        add_parents(entries)
        meta = dict(name=name, pkgver=job["pkgver"], pkgrel=job["pkgrel"],
                    desc=f"{info.get('Description', '').splitlines()[0]} (Debian {name} {info['Version']})",
                    arch="any" if info.get("Architecture") == "all" else ARCH,
                    depends=job["depends"], provides=job["provides"],
                    backup=sorted(set(b for b in backup if b in entries)), license="custom:Debian")
    elif kind == "kernel":
        info = job["info"]
        entries, kver, notes = kernel_entries(info, name)
        extra["kver"] = kver
        meta = dict(name=name, pkgver=job["pkgver"], pkgrel=job["pkgrel"],
                    desc=f"The Linux kernel and modules (stand-in: Debian {info['Package']} {info['Version']})",
                    arch=ARCH, depends=["coreutils", "kmod", "initramfs"], provides=[], backup=[], license="GPL-2.0-only")
    else:
        spec = CUSTOM[name]
        entries = {}
        for d, mode in spec.get("dirs", {}).items():
            entries[d] = Entry(d, "d", mode)
        apply_overlay(entries, files_dir, spec.get("overlay"), spec.get("modes", {}))
        for link, target in spec.get("links", {}).items():
            entries[link] = Entry(link, "l", 0o777, target=target)
        if job.get("libmakepkg"):
            # pacman-key and repo-add source /usr/share/makepkg/util/*.sh (Arch's pacman ships them).
            libmakepkg, _ = deb_entries(job["libmakepkg"], DROP_ALWAYS)
            for path, entry in libmakepkg.items():
                if path.startswith("usr/share/makepkg/util/") and entry.kind == "f":
                    entries[path] = entry
        if name == "filesystem":
            for d in ["boot", "dev", "etc", "home", "mnt", "opt", "run", "srv", "usr", "usr/bin", "usr/include",
                      "usr/lib", "usr/local", "usr/local/bin", "usr/local/lib", "usr/local/share", "usr/share",
                      "usr/src", "var", "var/cache", "var/lib", "var/local", "var/log", "var/opt", "var/spool",
                      "etc/profile.d", "etc/skel"]:
                entries.setdefault(d, Entry(d, "d", 0o755))
        for path, mode in spec.get("modes", {}).items():
            if path in entries:
                entries[path].mode = mode
        add_parents(entries)
        meta = dict(name=name, pkgver=job["pkgver"], pkgrel=job["pkgrel"], desc=spec["desc"],
                    arch="any" if name in ("base", "filesystem", "gptfdisk", "mkinitcpio") else ARCH,
                    depends=spec.get("depends", []), provides=spec.get("provides", []),
                    backup=spec.get("backup", []), license="custom:arch-image-standin")
    filename, version, size = write_package(job["out"], meta, entries, install, epoch, level)
    paths = {p: e.kind for p, e in entries.items()}
    return dict(name=name, filename=filename, version=version, repo=job["repo"], size=size, paths=paths,
                notes=notes, depends=meta["depends"], provides=meta["provides"], source=job.get("source", ""), **extra)


# ------------------------------------------------------------------ main ---


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--deb-list", required=True, help="file with one .deb path per line (the resolved set)")
    ap.add_argument("--libmakepkg-deb", required=True, help="Debian's makepkg .deb (for libmakepkg's util/*.sh)")
    ap.add_argument("--files", required=True, help="overlay directory (test/standin/files)")
    ap.add_argument("--out", required=True, help="stage directory; gets {core,extra}/os/x86_64/")
    ap.add_argument("--epoch", type=int, required=True)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--zstd-level", type=int, default=3)
    args = ap.parse_args()

    debs = [l.strip() for l in open(args.deb_list) if l.strip()]
    infos = {}
    for path in debs:
        info = read_control(path)
        infos[info["Package"]] = info

    # Which Debian packages become which stand-in packages.
    kernel_of = {}
    for arch_name, pattern in KERNELS.items():
        found = sorted(n for n in infos if re.match(pattern, n))
        if len(found) != 1:
            sys.exit(f"repack: kernel {arch_name}: expected one Debian package matching {pattern}, got {found}")
        kernel_of[found[0]] = arch_name
    repacked = sorted(n for n in infos if n not in SKIP and n not in kernel_of)
    clash = set(repacked) & (set(CUSTOM) | set(KERNELS))
    if clash:
        sys.exit(f"repack: Debian package names clash with stand-in names: {sorted(clash)}")

    unknown_alt = sorted(n for n in repacked if re.search(r"^[^#\n]*update-alternatives (--quiet )?(--install|\\$)", infos[n]["postinst"], re.M)
                         and n not in ALTERNATIVES and n not in ("bash", "procps"))
    if unknown_alt:
        print(f"repack: note: alternatives in postinst not handled: {unknown_alt}", file=sys.stderr)

    # Names and provides known to the repository, for dependency translation.
    provides = {}
    for n in repacked:
        provides[n] = sorted({p[0] for p in split_depends(infos[n].get("Provides", "")) if p} | set(DEB.get(n, {}).get("provides", [])))
    names = set(repacked) | set(CUSTOM) | set(KERNELS)
    provided = {p for n in repacked for p in provides[n]} | {p for c in CUSTOM.values() for p in c.get("provides", [])}
    renamed = {k: v for k, v in SKIP.items() if v}

    def translate(n):
        info, out, unresolved = infos[n], [], []
        for field in ("Pre-Depends", "Depends"):
            for alts in split_depends(info.get(field, "")):
                chosen = None
                for alt in alts:
                    alt = renamed.get(alt, alt)
                    if alt in names or alt in provided:
                        chosen = alt
                        break
                if chosen in DEB.get(n, {}).get("drop_depends", []):
                    continue
                if chosen is None:
                    unresolved.append(" | ".join(alts))
                elif chosen != n and chosen not in provides[n] and chosen not in out:
                    out.append(chosen)
        for extra in DEB.get(n, {}).get("depends", []):
            if extra not in out:
                out.append(extra)
        return out, unresolved

    jobs = []
    common = dict(files=args.files, epoch=args.epoch, level=args.zstd_level)
    for repo in ("core", "extra"):
        os.makedirs(os.path.join(args.out, repo, "os", ARCH), exist_ok=True)

    def out_dir(name):
        return os.path.join(args.out, "extra" if name in EXTRA else "core", "os", ARCH)

    unresolved_all = []
    for n in repacked:
        depends, unresolved = translate(n)
        unresolved_all += [f"{n}: {u}" for u in unresolved]
        pkgver, pkgrel = debian_to_pacman_version(infos[n]["Version"])
        jobs.append(dict(kind="deb", name=n, info=infos[n], depends=depends, provides=provides[n], pkgver=pkgver,
                         pkgrel=pkgrel, out=out_dir(n), repo="extra" if n in EXTRA else "core",
                         source=f"{n} {infos[n]['Version']}", **common))
    for deb_name, arch_name in kernel_of.items():
        pkgver, pkgrel = debian_to_pacman_version(infos[deb_name]["Version"])
        jobs.append(dict(kind="kernel", name=arch_name, info=infos[deb_name], pkgver=pkgver, pkgrel=pkgrel,
                         out=out_dir(arch_name), repo="core", source=f"{deb_name} {infos[deb_name]['Version']}", **common))
    for name, spec in CUSTOM.items():
        if name == "pacman":
            common_pacman = dict(libmakepkg=args.libmakepkg_deb)
        else:
            common_pacman = {}
        if "debian" in spec:
            pkgver, pkgrel = debian_to_pacman_version(infos[spec["debian"]]["Version"])
        else:
            pkgver, pkgrel = spec["version"].rsplit("-", 1)
        jobs.append(dict(kind="custom", name=name, pkgver=pkgver, pkgrel=pkgrel, out=out_dir(name), repo="core",
                         source=" + ".join(spec.get("depends", [])) if name != "base" else "(metapackage)",
                         **common, **common_pacman))
    if unresolved_all:
        print("repack: note: Debian dependencies without a package in the set (dropped):\n  " + "\n  ".join(unresolved_all), file=sys.stderr)

    # Biggest first so the two workers finish together.
    jobs.sort(key=lambda j: -os.path.getsize(j["info"]["deb"]) if "info" in j else 0)
    with Pool(args.jobs) as pool:
        results = pool.map(build_job, jobs, chunksize=1)

    # Every dependency must be satisfiable inside the stand-in.
    all_names = {r["name"] for r in results}
    all_provides = {p for r in results for p in r["provides"]}
    missing = sorted(f"{r['name']} -> {d}" for r in results for d in r["depends"] if d not in all_names and d not in all_provides)
    if missing:
        sys.exit("repack: unsatisfiable dependencies:\n  " + "\n  ".join(missing))

    # No two packages may own the same non-directory path (pacman refuses the transaction).
    owners = {}
    for r in results:
        for path, kind in r["paths"].items():
            owners.setdefault(path, []).append((r["name"], kind))
    conflicts = []
    for path, who in owners.items():
        kinds = {k for _, k in who}
        if len(who) > 1 and kinds != {"d"}:
            conflicts.append(f"{path}: " + ", ".join(f"{n}({k})" for n, k in who))
    if conflicts:
        sys.exit("repack: file conflicts between packages:\n  " + "\n  ".join(sorted(conflicts)))

    with open(os.path.join(args.out, "manifest.tsv"), "w") as f:
        f.write("# repo\tname\tversion\tinstalled-bytes\tfrom\n")
        for r in sorted(results, key=lambda r: (r["repo"], r["name"])):
            f.write(f"{r['repo']}\t{r['name']}\t{r['version']}\t{r['size']}\t{r['source']}\n")
    for r in sorted(results, key=lambda r: r["name"]):
        for note in r["notes"]:
            print(f"repack: {r['name']}: {note}", file=sys.stderr)
    print(f"repack: {len(results)} packages", file=sys.stderr)


if __name__ == "__main__":
    main()
