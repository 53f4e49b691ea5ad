// The boot test: whether the finished image is booted in QEMU and checked before publishing, with
// which firmware, for how long, and the user's extra guest commands.
import type { SectionInput } from '../reader.js'
import { oneOf, parseBool, quote, splitList } from '../validate.js'
import type { BootMode } from './configure.js'

export type Firmware = 'bios' | 'uefi'

/** The `kvm` input: boot/kvm.ts decides with the host's facts. */
export const KVM_SETTINGS = ['auto', 'true', 'false'] as const
export type KvmSetting = (typeof KVM_SETTINGS)[number]

export interface BootTestConfig {
  enabled: boolean
  /** In boot order. */
  firmware: Firmware[]
  /** Per boot, from power-on to the last check. */
  timeoutSeconds: number
  /** Shell commands run in the guest (`sh -e`); empty for none. */
  script: string
  kvm: KvmSetting
}

export function parseBootTest({ get, read, problems }: SectionInput, bootMode: BootMode): BootTestConfig {
  const enabled = parseBool(problems, 'boot-test', get('boot-test'))
  const bootable: Firmware[] = bootMode === 'hybrid' ? ['bios', 'uefi'] : [bootMode]
  const asked = splitList(get('boot-test-firmware'))
  const firmware: Firmware[] = []
  for (const word of asked) {
    const value = oneOf<Firmware>(problems, 'boot-test-firmware', word, ['bios', 'uefi'])
    if (firmware.includes(value)) continue
    // The default asks for both; an explicit request the image cannot boot is a mistake.
    if (!bootable.includes(value)) {
      if (read('boot-test-firmware').trim())
        problems.push(
          `boot-test-firmware: ${quote(value)} does not match boot-mode ${quote(bootMode)}; use ${bootable.join(' or ')}`
        )
      continue
    }
    firmware.push(value)
  }
  if (asked.length === 0) problems.push('boot-test-firmware: is empty; use bios, uefi or both')
  const timeoutText = get('boot-test-timeout')
  const timeoutSeconds = Number(timeoutText)
  if (!/^\d+$/.test(timeoutText) || timeoutSeconds < 60 || timeoutSeconds > 7200) {
    problems.push(
      `boot-test-timeout: ${quote(timeoutText)} is not accepted; use whole seconds from 60 to 7200`
    )
  }
  const kvm = oneOf<KvmSetting>(problems, 'kvm', get('kvm'), KVM_SETTINGS)
  return { enabled, firmware, timeoutSeconds, script: read('boot-test-script').trim(), kvm }
}
