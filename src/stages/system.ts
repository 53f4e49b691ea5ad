// system: locale, time zone, hostname and keymap with systemd-firstboot, as the ArchWiki list does.
import type { Stage } from '../pipeline/runner.js'
import { inChroot } from '../image/chroot.js'
import { writeImageFile } from '../image/rootfs.js'

const BUILT_IN_LOCALES = ['C', 'C.UTF-8', 'C.utf8', 'POSIX']

/** The /etc/locale.gen line that makes locale-gen build `locale` (C.UTF-8 needs none). */
export function localeGenLine(locale: string): string | undefined {
  if (BUILT_IN_LOCALES.includes(locale)) return undefined
  const charset = /\.(.+)$/.exec(locale)?.[1]
  return `${locale} ${charset ? charset.toUpperCase().replace('UTF8', 'UTF-8') : 'ISO-8859-1'}`
}

export const systemStage: Stage = {
  name: 'system',
  enabled: ctx => ctx.config.configure.enabled,
  async run(ctx) {
    const { locale, timezone, hostname, keymap } = ctx.config.configure
    const line = localeGenLine(locale)
    if (line) {
      await writeImageFile(ctx, 'etc/locale.gen', `# Written by arch-image.\n${line}\n`)
      await inChroot(ctx, ['locale-gen'])
    }
    await inChroot(ctx, [
      'systemd-firstboot',
      '--force',
      `--locale=${locale}`,
      `--timezone=${timezone}`,
      `--hostname=${hostname}`,
      `--keymap=${keymap}`
    ])
  }
}
