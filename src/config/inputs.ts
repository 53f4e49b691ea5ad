// The one list of inputs. action.yml, the CLI flags and the README reference are checked against it.

export interface InputSpec {
  name: string
  description: string
  default: string
}

export const DEFAULT_BASE_PACKAGES =
  'base linux grub openssh sudo btrfs-progs dosfstools efibootmgr qemu-guest-agent cloud-init cloud-guest-utils gptfdisk'

export const DEFAULT_MIRROR = 'https://geo.mirror.pkgbuild.com/$repo/os/$arch'

export const INPUTS: InputSpec[] = [
  {
    name: 'mode',
    description: 'What to do: `build` builds an image. (`publish` and `cleanup` are planned.)',
    default: 'build'
  },
  {
    name: 'image-name',
    description:
      'Name of the image and its files. Default: `<image-family>-<YYYYMMDD>` (snapshot date or today).',
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
    name: 'signature-level',
    description:
      "pacman's SigLevel for the repositories. `Never` is accepted for unsigned local repositories (with a warning).",
    default: 'Required DatabaseOptional'
  },
  {
    name: 'output-dir',
    description: 'Directory for the image, `SHA256SUMS` and the package manifest.',
    default: 'arch-image-out'
  },
  {
    name: 'package-cache-dir',
    description:
      'Host directory pacman keeps downloaded packages in. Default: `$RUNNER_TEMP/arch-image-pkg` in Actions, `/var/cache/arch-image/pkg` elsewhere.',
    default: ''
  }
]

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
  { name: 'sha256sums-path', description: 'Path of the `SHA256SUMS` file.' },
  { name: 'manifest-path', description: 'Path of the package manifest (`name version` per line).' },
  { name: 'package-count', description: 'Number of packages installed in the image.' },
  { name: 'snapshot', description: 'The Arch Linux Archive date used (`YYYY/MM/DD`), empty for a mirror.' }
]
