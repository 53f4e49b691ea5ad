// The one list of inputs. action.yml, the CLI flags and the README reference are checked against it.

export interface InputSpec {
  name: string
  description: string
  default: string
}

export const DEFAULT_BASE_PACKAGES =
  'base linux grub openssh sudo btrfs-progs dosfstools efibootmgr qemu-guest-agent cloud-init cloud-guest-utils gptfdisk'

export const DEFAULT_MIRROR = 'https://geo.mirror.pkgbuild.com/$repo/os/$arch'

export const INPUTS = [
  {
    name: 'mode',
    description:
      'What to do: `build` builds an image; `cleanup` deletes what the previews of a pull request made (its Glance images, releases, tags and drafts; nothing is built). `publish` publishes an existing image file (`image-path`) to Glance without building.',
    default: 'build'
  },
  {
    name: 'image-name',
    description:
      'Name of the image and its files. Default: `<image-family>-<YYYYMMDD>` (snapshot date or today); on a pull request `<image-family>-pr<N>-<short head sha>`.',
    default: ''
  },
  {
    name: 'image-family',
    description: 'Family the image belongs to; the prefix of the default image name.',
    default: 'arch-cloud'
  },
  {
    name: 'disk-size',
    description:
      'Virtual disk size, e.g. `2G`, `4096M`, `3GiB` (at least 512M). cloud-init grows it at boot.',
    default: '2G'
  },
  {
    name: 'filesystem',
    description: 'Root filesystem: `ext4` or `btrfs` (zstd-compressed).',
    default: 'ext4'
  },
  { name: 'format', description: 'Image format: `qcow2` or `raw`.', default: 'qcow2' },
  {
    name: 'compression',
    description:
      'qcow2 compression: `zlib` (readable by every qemu), `zstd` (faster, QEMU >= 5.1) or `none`.',
    default: 'zlib'
  },
  {
    name: 'source-date-epoch',
    description:
      "Unix time the image's files and filesystems are dated (`SOURCE_DATE_EPOCH`): file times are clamped to it, filesystem and partition ids derive from the inputs, so the same inputs give the same bytes. Default: the snapshot date at 00:00 UTC; for a mirror build, the newest installed package's build date.",
    default: ''
  },
  {
    name: 'expect-sha256',
    description:
      'SHA-256 the image file must have (e.g. the published one, to check that this build reproduces it). After building, the digests are compared: a mismatch fails the run (the image is kept for comparison) and sets the output `reproducible` to `false`.',
    default: ''
  },
  {
    name: 'expect-sha256sums',
    description:
      "Instead of `expect-sha256`: a `SHA256SUMS` file (path) or its https URL (e.g. the published release's); the line for `<image-name>.<format>` gives the expected digest. A file without that line is an input error; a URL is fetched after building (plain http only to this machine).",
    default: ''
  },
  {
    name: 'expect-image',
    description:
      'The reference image (qcow2 or raw file, e.g. the published one, downloaded) to show the differences with when the digests differ: with `diffoscope` installed, the two root filesystems are compared and its report is written next to the image (`<image>.diffoscope.txt` and `.html`) and summarised in the job summary. Needs `expect-sha256` or `expect-sha256sums`.',
    default: ''
  },
  {
    name: 'configure',
    description:
      'Apply the cloud-image configuration (bootloader, cloud-init, network, sshd, initramfs, services). `false` gives a bare, sealed pacstrap of the packages.',
    default: 'true'
  },
  { name: 'kernel', description: 'Kernel package: `linux` or `linux-lts`.', default: 'linux' },
  {
    name: 'boot-mode',
    description: 'Firmware the image boots with: `hybrid` (BIOS and UEFI), `bios` or `uefi`.',
    default: 'hybrid'
  },
  {
    name: 'kernel-cmdline',
    description:
      'Extra kernel command line, appended to `console=tty0 console=ttyS0,115200` (and `net.ifnames=0` unless predictable NIC names).',
    default: ''
  },
  {
    name: 'predictable-nic-names',
    description:
      "`true` keeps systemd's predictable interface names (`ens3`); `false` gives `eth0`, as the official image.",
    default: 'false'
  },
  {
    name: 'datasources',
    description: 'cloud-init datasources, in order (comma or space separated).',
    default: 'ConfigDrive, OpenStack, NoCloud, Ec2'
  },
  {
    name: 'user',
    description: "cloud-init's default user (SSH keys from the cloud, NOPASSWD sudo).",
    default: 'arch'
  },
  { name: 'user-groups', description: 'Supplementary groups of the default user.', default: 'wheel' },
  {
    name: 'services-enable',
    description: 'Extra systemd units to enable (space separated).',
    default: ''
  },
  { name: 'services-disable', description: 'systemd units to disable (space separated).', default: '' },
  { name: 'locale', description: 'System locale.', default: 'C.UTF-8' },
  { name: 'timezone', description: 'Time zone (a name under /usr/share/zoneinfo).', default: 'UTC' },
  {
    name: 'hostname',
    description: 'Hostname until cloud-init sets the one the cloud gives.',
    default: 'archlinux'
  },
  { name: 'keymap', description: 'Console keymap.', default: 'us' },
  {
    name: 'files',
    description: 'A directory copied over the image root (owner root, modes and symlinks kept).',
    default: ''
  },
  {
    name: 'scripts',
    description:
      'Scripts run inside the image (arch-chroot, as root) at named points: lines `<point>: <path>` with point `after-bootstrap`, `after-configure` or `before-seal`. A script sees `ARCH_IMAGE_IMAGE_NAME`, `ARCH_IMAGE_FAMILY`, `ARCH_IMAGE_SNAPSHOT` (the Archive date `YYYY/MM/DD`, or empty), `ARCH_IMAGE_KERNEL`, `ARCH_IMAGE_FILESYSTEM`, `ARCH_IMAGE_BOOT_MODE` and `ARCH_IMAGE_HOOK_POINT`, besides `PATH`, `LANG`, `LC_ALL=C.UTF-8`, `TZ`, `HOME`, `TERM`, `SOURCE_DATE_EPOCH` and the proxy variables; no other variable of the job (no `OS_*`, `INPUT_*`, `ACTIONS_*` or token) reaches it.',
    default: ''
  },
  {
    name: 'base-packages',
    description: "The image's base package set (the official cloud image's set by default).",
    default: DEFAULT_BASE_PACKAGES
  },
  {
    name: 'packages',
    description: 'Extra packages on top of `base-packages`, separated by spaces or newlines.',
    default: ''
  },
  {
    name: 'mirror',
    description:
      'One or more mirror URLs (space/newline separated), `http(s)://` or `file://`, in the `$repo/os/$arch` layout. A URL without `$repo` gets `/$repo/os/$arch` appended.',
    default: DEFAULT_MIRROR
  },
  {
    name: 'snapshot',
    description:
      'Arch Linux Archive snapshot: `latest` or a date `YYYY/MM/DD`. When set, packages come from that snapshot instead of `mirror`.',
    default: ''
  },
  {
    name: 'archive-url',
    description: 'Base URL of the Arch Linux Archive used for `snapshot`.',
    default: 'https://archive.archlinux.org'
  },
  {
    name: 'pacman-from',
    description:
      "Whose pacman runs pacstrap: `bootstrap` (Arch's bootstrap tarball for the snapshot's date, or the newest; used only with a good signature by Arch's release key, checked again on every use of the tool cache), `host` (the host's pacman and keyring), or `auto` (host on an Arch host, bootstrap elsewhere).",
    default: 'auto'
  },
  {
    name: 'bootstrap-keyring',
    description:
      "OpenPGP public keys (a binary or ASCII-armored keyring file) that replace the shipped Arch Linux release keys (docs/keys.md) when checking the bootstrap tarball's signature: for a private mirror that signs its own tarballs.",
    default: ''
  },
  {
    name: 'signature-level',
    description:
      "pacman's SigLevel for the repositories. `Never` is accepted for unsigned local repositories (with a warning).",
    default: 'Required DatabaseOptional'
  },
  {
    name: 'sbom',
    description:
      "Write the image's SBOM next to it, from its own pacman database: `<image-name>.spdx.json` (SPDX 2.3) and `<image-name>.cdx.json` (CycloneDX 1.6), every installed package with its version, licenses and purl, the image file with its sha256 and sha512 as the described artifact. Listed in `SHA256SUMS`, attached to the release, and the SPDX file's sha256 set as the Glance property `arch_image_sbom_sha256`.",
    default: 'true'
  },
  {
    name: 'output-dir',
    description: 'Directory for the image, `SHA256SUMS`, the package manifest and the SBOMs.',
    default: 'arch-image-out'
  },
  {
    name: 'image-path',
    description:
      '`mode: publish`: the image file to publish (qcow2 or raw, detected). Its name in Glance is `image-name`, or the file name without its extension.',
    default: ''
  },
  {
    name: 'glance',
    description:
      'Publish to OpenStack Glance: `auto` publishes when OpenStack credentials are given (`cloud`, `clouds-yaml`, or `OS_CLOUD` / `OS_AUTH_URL` in the environment), `true` requires them, `false` never publishes.',
    default: 'auto'
  },
  {
    name: 'cloud',
    description: 'Name of the cloud in `clouds.yaml` (default: `OS_CLOUD`).',
    default: ''
  },
  {
    name: 'clouds',
    description:
      'Several `clouds.yaml` entries to publish to, space or newline separated (instead of `cloud`). Each cloud is one target, in each of `regions` when given. `OS_*` variables alone are one target.',
    default: ''
  },
  {
    name: 'clouds-yaml',
    description:
      'A `clouds.yaml`: its content or a path. Empty: looked for where openstackclient looks (`./clouds.yaml`, `~/.config/openstack`, `/etc/openstack`).',
    default: ''
  },
  {
    name: 'secure-yaml',
    description: 'A `secure.yaml` (content or path) merged into `clouds.yaml`, e.g. from a secret.',
    default: ''
  },
  {
    name: 'region',
    description: "OpenStack region (default: `OS_REGION_NAME`, or the cloud's).",
    default: ''
  },
  {
    name: 'regions',
    description:
      "Regions to publish to, space or newline separated (instead of `region`): every cloud in each of them. Empty: each cloud's own region.",
    default: ''
  },
  {
    name: 'interface',
    description:
      'Endpoint interface of the catalog: `public`, `internal` or `admin` (default: `OS_INTERFACE`, or public).',
    default: ''
  },
  {
    name: 'cacert',
    description: 'PEM file of the CAs that sign Keystone and Glance (default: `OS_CACERT`).',
    default: ''
  },
  {
    name: 'insecure',
    description: '`true` skips TLS certificate checks of Keystone and Glance (with a warning).',
    default: ''
  },
  {
    name: 'allow-insecure-http',
    description:
      '`true` accepts plain `http://` Keystone and Glance URLs on other machines (the password and tokens cross the network unencrypted). Without it only `https://` and loopback addresses (`localhost`, `127.0.0.0/8`, `::1`) are used; a service catalog that turns an https Keystone into an http Glance is refused.',
    default: 'false'
  },
  {
    name: 'image-endpoint',
    description: "Glance URL to use instead of the catalog's.",
    default: ''
  },
  {
    name: 'visibility',
    description:
      'Glance visibility: `private`, `shared` (with `share-with`), `community` or `public`. Pull request previews stay private.',
    default: 'private'
  },
  {
    name: 'share-with',
    description:
      'Project ids the image is shared with (needs `visibility: shared`); they accept it to list it.',
    default: ''
  },
  {
    name: 'min-disk',
    description: 'Glance `min_disk` in GiB. Default: the virtual size, rounded up.',
    default: ''
  },
  { name: 'min-ram', description: 'Glance `min_ram` in MiB.', default: '0' },
  { name: 'protected', description: '`true` protects the image from deletion.', default: 'false' },
  { name: 'tags', description: 'Glance tags, one per line or comma separated.', default: '' },
  {
    name: 'properties',
    description:
      'More image properties as `key: value` lines (YAML). arch-image sets `os_distro`, `os_type`, `architecture`, `hw_*` and provenance (`arch_image_*`) itself; these override the first ones.',
    default: ''
  },
  {
    name: 'upload-method',
    description: '`direct` (PUT the file to Glance) or `import` (stage, then the glance-direct import).',
    default: 'direct'
  },
  {
    name: 'stores',
    description:
      'Multi-store Glance: store ids (space or newline separated) to import the image into, with the glance-direct import and `all_stores_must_succeed` (one store failing fails the publish). Every target must offer them all (`GET /v2/info/stores`), checked before the build. Empty: the default store, as `upload-method` says.',
    default: ''
  },
  {
    name: 'keep',
    description:
      "Keep the N newest active images of `image-family` that arch-image published in this project, deleting older ones once the new image is active. 0 keeps all. Protected images and images without arch-image's family property are never touched.",
    default: '0'
  },
  {
    name: 'rotate',
    description:
      'What rotation (`keep`) does with the older images: `delete` them, or `hide` them (`os_hidden`: gone from image lists, still there for instances that use them). Rotation looks only at images of `image-family` from this repository (`arch_image_repository`) in this project, and never at one created after the image this run published.',
    default: 'delete'
  },
  {
    name: 'stable-name',
    description:
      'A name the newest verified image always holds (e.g. `Arch Linux`): once the new image is promoted it takes this name, and the previous holder is renamed `<stable-name> (<its creation date>)`.',
    default: ''
  },
  {
    name: 'parallel-uploads',
    description: 'How many targets are uploaded to at once (1-16).',
    default: '3'
  },
  {
    name: 'upload-retries',
    description:
      'How often an upload whose connection dropped is tried again, on a fresh image (Glance cannot resume one), without rebuilding (0-10).',
    default: '2'
  },
  { name: 'rotate-dry-run', description: '`true` only logs what `keep` would delete.', default: 'false' },
  {
    name: 'boot-test',
    description:
      'Boot the finished image in QEMU (KVM when usable, TCG otherwise) with a NoCloud seed and check it over SSH before anything is published; a failed check fails the run. Skipped when `configure` is false.',
    default: 'true'
  },
  {
    name: 'boot-test-firmware',
    description:
      'Firmware to boot the image with in the boot test: `bios`, `uefi` or both (within `boot-mode`).',
    default: 'bios uefi'
  },
  {
    name: 'boot-test-timeout',
    description: 'Seconds one boot test may take, from power-on to the last check.',
    default: '900'
  },
  {
    name: 'kvm',
    description:
      'KVM for the boot test: `auto` uses /dev/kvm when this user can open it, and on a GitHub-hosted runner (`RUNNER_ENVIRONMENT=github-hosted`) where it exists but is closed opens it with a udev rule (through `sudo -n`, logged); `true` does that on any runner and fails without KVM; `false` boots with TCG and never touches device permissions. Self-hosted runners are never changed by `auto`.',
    default: 'auto'
  },
  {
    name: 'boot-test-script',
    description:
      'Extra shell commands run in the booted guest as the default user (`sh -e`, sudo without a password); a non-zero exit fails the boot test.',
    default: ''
  },
  {
    name: 'release-tag',
    description:
      'Attach the image, SHA256SUMS, the manifest and the SBOMs to the GitHub release of this tag (created as a draft and published once the assets are up). Empty: no release.',
    default: ''
  },
  { name: 'release-name', description: 'Title of the release (default: the tag).', default: '' },
  { name: 'release-draft', description: '`true` leaves the release a draft.', default: 'false' },
  { name: 'release-prerelease', description: '`true` marks the release a prerelease.', default: 'false' },
  {
    name: 'release-make-latest',
    description:
      "Whether the release becomes the repository's latest: `true`, `false`, `legacy`, or empty for GitHub's default (`false` for a pull request preview).",
    default: ''
  },
  {
    name: 'github-token',
    description: 'Token for the release (needs `contents: write`).',
    default: '${{ github.token }}'
  },
  {
    name: 'pr-number',
    description:
      'Pull request whose previews `mode: cleanup` deletes. Default: the number in the `pull_request` event.',
    default: ''
  },
  {
    name: 'comment',
    description:
      "`true` posts (or updates) one comment on the pull request with the image, its sizes, sha256 and the package diff (needs `pull-requests: write`). Only a comment the token's own account wrote is updated (`github-actions[bot]` for the workflow's token); a marked comment by anyone else is left alone and a new one posted.",
    default: 'false'
  },
  {
    name: 'previous-manifest',
    description:
      "Manifest to compare this build's packages with: a file path, or `release` for the manifest asset of the repository's latest release. Empty: no package diff.",
    default: ''
  },
  {
    name: 'attest',
    description:
      '`true` signs a SLSA provenance attestation for the image (and one with the SPDX SBOM, when written) with `@actions/attest`, stores it on GitHub and writes the Sigstore bundle next to the image (`<image>.sigstore.json`, also a release asset). Needs `permissions: id-token: write` and `attestations: write`; verify with `gh attestation verify <image> --repo <owner>/<repo>`.',
    default: 'false'
  },
  {
    name: 'cache',
    description:
      'Keep downloaded packages between runs with the Actions cache (restored before pacstrap, saved by the post step).',
    default: 'true'
  },
  {
    name: 'package-cache-dir',
    description:
      'Host directory pacman keeps downloaded packages in (no whitespace). Default: `$RUNNER_TEMP/arch-image-pkg` in Actions, `/var/cache/arch-image/pkg` elsewhere. Only a directory the action created (it marks it with `.arch-image-cache`) is handed to the runner user and pruned; an existing one is used as it is.',
    default: ''
  }
] as const satisfies readonly InputSpec[]

/** The name of an input: only names of the table compile. */
export type InputName = (typeof INPUTS)[number]['name']

/** Inputs whose values are masked in every log the moment they are read. */
export const SECRET_INPUTS: ReadonlySet<string> = new Set<InputName>(['github-token'])

export interface OutputSpec {
  name: string
  description: string
}

export const OUTPUTS: OutputSpec[] = [
  { name: 'image-path', description: 'Path of the built image file.' },
  { name: 'image-format', description: '`qcow2` or `raw`.' },
  { name: 'image-size', description: 'Size of the image file in bytes.' },
  { name: 'virtual-size', description: 'Virtual disk size in bytes.' },
  { name: 'sha256', description: 'SHA-256 of the image file.' },
  { name: 'sha512', description: 'SHA-512 of the image file.' },
  {
    name: 'reproducible',
    description:
      "`true` when the image's sha256 equals `expect-sha256` (or the one `expect-sha256sums` lists), `false` when it differs, `unchecked` without either."
  },
  { name: 'sha256sums-path', description: 'Path of the `SHA256SUMS` file.' },
  { name: 'manifest-path', description: 'Path of the package manifest (`name version` per line).' },
  {
    name: 'sbom-spdx-path',
    description: 'Path of the SBOM as SPDX 2.3 JSON (`<image-name>.spdx.json`); empty with `sbom: false`.'
  },
  {
    name: 'sbom-cyclonedx-path',
    description: 'Path of the SBOM as CycloneDX 1.6 JSON (`<image-name>.cdx.json`); empty with `sbom: false`.'
  },
  { name: 'package-count', description: 'Number of packages installed in the image.' },
  { name: 'cache-hit', description: '`true` when the package cache was restored from an exact key match.' },
  { name: 'cache-key', description: 'The package cache key of this build.' },
  { name: 'boot-test', description: 'Result of the boot test: `passed`, `failed` or `skipped`.' },
  {
    name: 'boot-seconds',
    description:
      'Seconds from power-on to the first SSH login, per firmware booted, as JSON: {"bios": 41.2, "uefi": 44.0}.'
  },
  { name: 'release-url', description: 'URL of the release the assets were attached to.' },
  { name: 'release-assets', description: 'The release assets as JSON: [{name, url, size}].' },
  { name: 'snapshot', description: 'The Arch Linux Archive date used (`YYYY/MM/DD`), empty for a mirror.' },
  { name: 'image-name', description: 'The name the image was given.' },
  { name: 'image-id', description: 'Id of the Glance image (published or reused) in the first target.' },
  {
    name: 'image-ids',
    description:
      'Id of the Glance image in every target, as JSON: {"<cloud>/<region>": "<id>"} (a target without a cloud is `OS/<region>`).'
  },
  { name: 'image-url', description: 'URL of the Glance image (`<glance>/v2/images/<id>`).' },
  {
    name: 'os-hash-value',
    description: "Glance's `os_hash_value` of the image (sha512 by default; `os_hash_algo` names it)."
  },
  {
    name: 'glance-reused',
    description: '`true` when an identical active image was found and nothing was uploaded.'
  },
  {
    name: 'package-diff',
    description:
      'Packages changed since `previous-manifest`, as JSON: {added, removed, upgraded, downgraded}.'
  },
  {
    name: 'attestation-id',
    description: 'Id of the provenance attestation GitHub stored, with `attest: true`.'
  },
  {
    name: 'attestation-url',
    description: "URL of the provenance attestation on GitHub (the repository's attestations page)."
  },
  {
    name: 'attestation-bundle-path',
    description: 'Path of the Sigstore bundle of the provenance attestation (`<image>.sigstore.json`).'
  },
  { name: 'comment-url', description: 'URL of the pull request comment, with `comment: true`.' },
  {
    name: 'deleted',
    description:
      'What `mode: cleanup` deleted, as JSON: [{kind, name, id}]; kind `release`, `tag`, `draft` or `image`; images carry `target` (`<cloud>/<region>`) when there are several.'
  }
]
