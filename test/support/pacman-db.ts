// A pacman local database written the way pacman writes it (`var/lib/pacman/local/<name>-<version>/desc`,
// `ALPM_DB_VERSION`), for unit tests of the SBOM that read an image root.
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'

export interface DescEntry {
  name: string
  version: string
  /** `%KEY%` sections after NAME and VERSION, in pacman's order. */
  fields: Record<string, string | string[]>
}

export function descText(entry: DescEntry): string {
  const sections: [string, string[]][] = [
    ['NAME', [entry.name]],
    ['VERSION', [entry.version]],
    ...Object.entries(entry.fields).map(([key, value]): [string, string[]] => [
      key,
      Array.isArray(value) ? value : [value]
    ])
  ]
  return sections.map(([key, lines]) => `%${key}%\n${lines.join('\n')}\n\n`).join('')
}

/** Writes the entries into `<root>/var/lib/pacman/local`; returns the local directory. */
export function writePacmanDb(root: string, entries: DescEntry[]): string {
  const local = path.join(root, 'var/lib/pacman/local')
  mkdirSync(local, { recursive: true })
  writeFileSync(path.join(local, 'ALPM_DB_VERSION'), '9\n')
  for (const entry of entries) {
    const dir = path.join(local, `${entry.name}-${entry.version}`)
    mkdirSync(dir)
    writeFileSync(path.join(dir, 'desc'), descText(entry))
    writeFileSync(path.join(dir, 'files'), '%FILES%\nusr/\n\n')
  }
  return local
}

/** A few packages as Arch ships them: SPDX and old-style licenses, an epoch, a `+` in a name, a split package. */
export const SAMPLE_PACKAGES: DescEntry[] = [
  {
    name: 'glibc',
    version: '2.40+r16+gaa533d58ff-2',
    fields: {
      BASE: 'glibc',
      DESC: 'GNU C Library',
      URL: 'https://www.gnu.org/software/libc',
      ARCH: 'x86_64',
      BUILDDATE: '1727000000',
      INSTALLDATE: '1733000000',
      PACKAGER: 'Frederik Schwan <freswa@archlinux.org>',
      SIZE: '48837418',
      REASON: '1',
      LICENSE: ['GPL-2.0-or-later', 'LGPL-2.1-or-later'],
      VALIDATION: 'pgp',
      DEPENDS: ['linux-api-headers>=4.10', 'tzdata', 'filesystem']
    }
  },
  {
    name: 'gcc-libs',
    version: '14.2.1+r134+gab884fffe3fc-1',
    fields: {
      BASE: 'gcc',
      DESC: 'Runtime libraries shipped by GCC',
      URL: 'https://gcc.gnu.org',
      ARCH: 'x86_64',
      BUILDDATE: '1731000000',
      INSTALLDATE: '1733000001',
      PACKAGER: 'Frederik Schwan <freswa@archlinux.org>',
      SIZE: '143251632',
      LICENSE: ['GPL-3.0-or-later WITH GCC-exception-3.1'],
      DEPENDS: ['glibc>=2.27'],
      PROVIDES: ['libgcc_s.so=1-64', 'libstdc++.so=6-64']
    }
  },
  {
    name: 'libsigc++',
    version: '2.12.1-2',
    fields: {
      BASE: 'libsigc++',
      DESC: 'Callback Framework for C++',
      URL: 'https://libsigcplusplus.github.io/libsigcplusplus/',
      ARCH: 'x86_64',
      BUILDDATE: '1700000000',
      PACKAGER: 'Jan Alexander Steffens (heftig) <heftig@archlinux.org>',
      SIZE: '121000',
      LICENSE: ['LGPL-2.1-or-later'],
      DEPENDS: ['libgcc_s.so', 'libstdc++.so', 'glibc']
    }
  },
  {
    name: 'less',
    version: '1:668-1',
    fields: {
      BASE: 'less',
      DESC: 'A terminal based program for viewing text files',
      URL: 'https://www.greenwoodsoftware.com/less/',
      ARCH: 'x86_64',
      BUILDDATE: '1728000000',
      PACKAGER: 'Unknown Packager',
      SIZE: '280000',
      LICENSE: ['GPL-3.0-or-later OR BSD-2-Clause', 'custom:less'],
      DEPENDS: ['glibc', 'ncurses', 'pcre2']
    }
  },
  {
    name: 'tzdata',
    version: '2024b-2',
    fields: {
      BASE: 'tzdata',
      DESC: 'Sources for time zone and daylight saving time data',
      URL: 'https://www.iana.org/time-zones',
      ARCH: 'any',
      BUILDDATE: '1725000000',
      SIZE: '1900000',
      LICENSE: ['LicenseRef-Public-Domain', 'GPL']
    }
  },
  {
    name: 'filesystem',
    version: '2024.11.21-1',
    fields: {
      BASE: 'filesystem',
      DESC: 'Base Arch Linux files',
      URL: 'https://archlinux.org',
      ARCH: 'any',
      PACKAGER: 'David Runge <dvzrv@archlinux.org>',
      SIZE: '22000'
    }
  }
]

/** The image an SBOM of the sample packages describes. */
export const SAMPLE_SUBJECT = {
  imageName: 'arch-cloud-20261201',
  fileName: 'arch-cloud-20261201.qcow2',
  sha256: 'a'.repeat(64),
  sha512: 'b'.repeat(128)
}
