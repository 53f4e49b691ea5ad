import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { ARCH_RELEASE_KEYS } from '../../src/bootstrap-env/keys.js'
import { interpretGpgvStatus, refusal, verifySignature } from '../../src/bootstrap-env/signature.js'
import { ProcessExec } from '../../src/pipeline/exec.js'
import { TestKeys } from '../../test/support/gpg-keys.js'
import { MemoryLog } from '../../test/support/log.js'
import { tempDir } from '../../test/support/temp-dir.js'

// What gpgv 2.2.40 printed on --status-fd for keys made as in helpers/gpg-keys.ts (captured here).
const GOOD = `[GNUPG:] NEWSIG good@x.invalid
[GNUPG:] KEY_CONSIDERED ECEEE3ABF06FCDC13F71692BAE2A1DAD5537FBA2 0
[GNUPG:] SIG_ID pfVGnVhy8hel4yoA+WYrHe9JqEg 2026-12-03 1796257819
[GNUPG:] KEY_CONSIDERED ECEEE3ABF06FCDC13F71692BAE2A1DAD5537FBA2 0
[GNUPG:] GOODSIG AE2A1DAD5537FBA2 Good <good@x.invalid>
[GNUPG:] VALIDSIG ECEEE3ABF06FCDC13F71692BAE2A1DAD5537FBA2 2026-12-03 1796257819 0 4 0 22 8 00 ECEEE3ABF06FCDC13F71692BAE2A1DAD5537FBA2`
const BAD = `[GNUPG:] NEWSIG good@x.invalid
[GNUPG:] KEY_CONSIDERED ECEEE3ABF06FCDC13F71692BAE2A1DAD5537FBA2 0
[GNUPG:] KEY_CONSIDERED ECEEE3ABF06FCDC13F71692BAE2A1DAD5537FBA2 0
[GNUPG:] BADSIG AE2A1DAD5537FBA2 Good <good@x.invalid>`
const UNKNOWN = `[GNUPG:] NEWSIG other@x.invalid
[GNUPG:] ERRSIG 170256F4B084E36A 22 8 00 1796257819 9 0F2970A28D36F08D4237E2FB170256F4B084E36A
[GNUPG:] NO_PUBKEY 170256F4B084E36A`
const REVOKED = `[GNUPG:] NEWSIG rev@x.invalid
[GNUPG:] KEY_CONSIDERED CDC5650F7391790A5733888779AED1A8A77F0F63 0
[GNUPG:] SIG_ID /rn5NjPziXFhglGhxPL4kM2yBHg 2026-12-03 1796257819
[GNUPG:] KEY_CONSIDERED CDC5650F7391790A5733888779AED1A8A77F0F63 0
[GNUPG:] REVKEYSIG 79AED1A8A77F0F63 Rev <rev@x.invalid>
[GNUPG:] VALIDSIG CDC5650F7391790A5733888779AED1A8A77F0F63 2026-12-03 1796257819 0 4 0 22 8 00 CDC5650F7391790A5733888779AED1A8A77F0F63`
const EXPIRED_BEFORE = `[GNUPG:] NEWSIG exp@x.invalid
[GNUPG:] KEY_CONSIDERED 324F1FA5760C4B2343D5386F2DC10E68CBC96AAC 0
[GNUPG:] KEYEXPIRED 1795566619
[GNUPG:] SIG_ID Z6bik2+w05TYlPpoC2xlxauWEc8 2026-11-24 1795480219
[GNUPG:] KEY_CONSIDERED 324F1FA5760C4B2343D5386F2DC10E68CBC96AAC 0
[GNUPG:] EXPKEYSIG 2DC10E68CBC96AAC Exp <exp@x.invalid>
[GNUPG:] VALIDSIG 324F1FA5760C4B2343D5386F2DC10E68CBC96AAC 2026-11-24 1795480219 0 4 0 22 8 00 324F1FA5760C4B2343D5386F2DC10E68CBC96AAC`
const EXPIRED_AFTER = `[GNUPG:] NEWSIG exp4@x.invalid
[GNUPG:] KEY_CONSIDERED 074F537F5CB8162A44A594DCF3173E4583343589 0
[GNUPG:] KEYEXPIRED 1795566640
[GNUPG:] SIG_ID gHlYEbFwM1RuC2u8/8zHOKaXh6E 2026-11-28 1795825840
[GNUPG:] KEY_CONSIDERED 074F537F5CB8162A44A594DCF3173E4583343589 0
[GNUPG:] EXPKEYSIG F3173E4583343589 Exp4 <exp4@x.invalid>
[GNUPG:] VALIDSIG 074F537F5CB8162A44A594DCF3173E4583343589 2026-11-28 1795825840 0 4 0 22 8 00 074F537F5CB8162A44A594DCF3173E4583343589`
const NO_DATA = '[GNUPG:] NODATA 1\n[GNUPG:] NODATA 2'

/** A good signature by Arch's old release key, made at `time`. */
function byOldReleaseKey(time: number): string {
  const fpr = '4AA4767BBC9C4B1D18AE28B77F2D434B9741E8AC'
  return [
    '[GNUPG:] NEWSIG pierre@archlinux.de',
    `[GNUPG:] GOODSIG 7F2D434B9741E8AC Pierre Schmitz <pierre@archlinux.de>`,
    `[GNUPG:] VALIDSIG ${fpr} 2022-10-01 ${time} 0 4 0 1 10 00 ${fpr}`
  ].join('\n')
}

describe('gpgv status lines', () => {
  it('good: the primary key and the signature time', () => {
    expect(interpretGpgvStatus(GOOD)).toEqual({
      status: 'good',
      fingerprint: 'ECEEE3ABF06FCDC13F71692BAE2A1DAD5537FBA2',
      signedAt: 1796257819
    })
  })

  it('bad, unknown key, revoked key', () => {
    expect(interpretGpgvStatus(BAD)).toEqual({ status: 'bad' })
    expect(interpretGpgvStatus(UNKNOWN)).toEqual({
      status: 'unknown-key',
      keyId: '0F2970A28D36F08D4237E2FB170256F4B084E36A'
    })
    expect(interpretGpgvStatus(REVOKED)).toEqual({
      status: 'revoked',
      fingerprint: 'CDC5650F7391790A5733888779AED1A8A77F0F63'
    })
  })

  it('a key that expired after signing: good, the expiry noted', () => {
    expect(interpretGpgvStatus(EXPIRED_BEFORE)).toEqual({
      status: 'good',
      fingerprint: '324F1FA5760C4B2343D5386F2DC10E68CBC96AAC',
      signedAt: 1795480219,
      keyExpiredAt: 1795566619
    })
  })

  it('a signature made after the key expired: refused', () => {
    expect(interpretGpgvStatus(EXPIRED_AFTER)).toEqual({
      status: 'expired',
      fingerprint: '074F537F5CB8162A44A594DCF3173E4583343589',
      signedAt: 1795825840,
      keyExpiredAt: 1795566640
    })
    // EXPKEYSIG without the expiry time cannot be placed: refused.
    expect(interpretGpgvStatus(EXPIRED_BEFORE.replace(/^.*KEYEXPIRED.*\n/m, ''))).toMatchObject({
      status: 'expired',
      keyExpiredAt: undefined
    })
  })

  it('reads ISO 8601 times as well as seconds', () => {
    const iso = EXPIRED_AFTER.replace('KEYEXPIRED 1795566640', 'KEYEXPIRED 20261125T003040').replace(
      '2026-11-28 1795825840',
      '2026-11-28 20261128T003040'
    )
    expect(interpretGpgvStatus(iso)).toMatchObject({
      status: 'expired',
      signedAt: 1795825840,
      keyExpiredAt: 1795566640
    })
  })

  it("Arch's retired release key: good before its retirement, refused after", () => {
    const retiredAt = ARCH_RELEASE_KEYS[1]?.retiredAt as number
    expect(interpretGpgvStatus(byOldReleaseKey(1664582400))).toMatchObject({ status: 'good' })
    expect(interpretGpgvStatus(byOldReleaseKey(retiredAt + 1))).toMatchObject({
      status: 'retired',
      retiredAt
    })
  })

  it('no signature at all, or one without a verdict, is an error', () => {
    expect(interpretGpgvStatus(NO_DATA)).toMatchObject({ status: 'error' })
    expect(interpretGpgvStatus('')).toMatchObject({ status: 'error' })
    expect(interpretGpgvStatus('[GNUPG:] NEWSIG\n[GNUPG:] KEY_CONSIDERED X 0')).toMatchObject({
      status: 'error'
    })
    expect(interpretGpgvStatus(`${GOOD}\n[GNUPG:] EXPSIG AE2A1DAD5537FBA2 Good`)).toMatchObject({
      status: 'error',
      detail: 'the signature itself has expired'
    })
  })

  it('several signatures: every one must be good', () => {
    expect(interpretGpgvStatus(`${GOOD}\n${BAD}`)).toEqual({ status: 'bad' })
    expect(interpretGpgvStatus(`${GOOD}\n${UNKNOWN}`)).toMatchObject({ status: 'unknown-key' })
    expect(interpretGpgvStatus(`${GOOD}\n${GOOD}`)).toMatchObject({ status: 'good' })
  })

  it('says why a verdict refuses the file', () => {
    expect(refusal(interpretGpgvStatus(GOOD), 'K')).toBeUndefined()
    expect(refusal(interpretGpgvStatus(BAD), 'K')).toMatch(/^BAD signature/)
    expect(refusal(interpretGpgvStatus(UNKNOWN), 'the keyring K')).toBe(
      'signed by key 0F2970A28D36F08D4237E2FB170256F4B084E36A, which is not in the keyring K'
    )
    expect(refusal(interpretGpgvStatus(REVOKED), 'K')).toMatch(/has been revoked/)
    expect(refusal(interpretGpgvStatus(EXPIRED_AFTER), 'K')).toBe(
      'signed on 2026-11-28 by key 074F537F5CB8162A44A594DCF3173E4583343589, which expired on 2026-11-25 (before the signature)'
    )
  })
})

describe('verifySignature with the real gpgv', () => {
  const dir = tempDir()
  const keys = new TestKeys(dir)
  const exec = new ProcessExec(new MemoryLog(), true)
  const file = path.join(dir, 'file')
  const keyring = path.join(dir, 'keyring.gpg')
  const homedir = path.join(dir, 'gpgv-home')
  const day = 86400
  const past = Math.floor(Date.now() / 1000) - 30 * day
  const check = (signature: string, signed = file) =>
    verifySignature({ exec, file: signed, signature: path.join(dir, signature), keyring, homedir })

  beforeAll(() => {
    mkdirSync(homedir)
    writeFileSync(file, 'the signed bytes\n')
    writeFileSync(path.join(dir, 'changed'), 'other bytes\n')
    for (const email of ['good@t.invalid', 'other@t.invalid', 'revoked@t.invalid']) keys.generate(email)
    keys.generate('expired-later@t.invalid', past)
    keys.generate('expired-first@t.invalid', past)
    for (const email of ['good@t.invalid', 'other@t.invalid', 'revoked@t.invalid']) {
      keys.sign(email, file, path.join(dir, `${email}.sig`))
    }
    // Signed on day 2; expires on day 5 (later) or on day 1 (a self-signature made on day 1 with a one-day life).
    keys.sign('expired-later@t.invalid', file, path.join(dir, 'expired-later.sig'), past + 2 * day)
    keys.expire('expired-later@t.invalid', past + 3 * day, 2 * day)
    keys.sign('expired-first@t.invalid', file, path.join(dir, 'expired-first.sig'), past + 2 * day)
    keys.expire('expired-first@t.invalid', past + day, 0.5 * day)
    keys.revoke('revoked@t.invalid')
    writeFileSync(
      keyring,
      keys.export([
        'good@t.invalid',
        'revoked@t.invalid',
        'expired-later@t.invalid',
        'expired-first@t.invalid'
      ])
    )
    writeFileSync(path.join(dir, 'garbage.sig'), 'not a signature\n')
  }, 60_000)

  afterAll(() => keys.close())

  it('good', async () => {
    expect(await check('good@t.invalid.sig')).toMatchObject({
      status: 'good',
      fingerprint: keys.fingerprint('good@t.invalid')
    })
  })

  it('bad: the file changed', async () => {
    expect(await check('good@t.invalid.sig', path.join(dir, 'changed'))).toEqual({ status: 'bad' })
  })

  it('unknown key, revoked key', async () => {
    expect(await check('other@t.invalid.sig')).toEqual({
      status: 'unknown-key',
      keyId: keys.fingerprint('other@t.invalid')
    })
    expect(await check('revoked@t.invalid.sig')).toEqual({
      status: 'revoked',
      fingerprint: keys.fingerprint('revoked@t.invalid')
    })
  })

  it('expired key: good when signed before the expiry, refused when signed after', async () => {
    expect(await check('expired-later.sig')).toMatchObject({
      status: 'good',
      signedAt: past + 2 * day,
      keyExpiredAt: past + 5 * day
    })
    expect(await check('expired-first.sig')).toMatchObject({
      status: 'expired',
      signedAt: past + 2 * day,
      keyExpiredAt: past + 1.5 * day
    })
  })

  it('not a signature, a missing keyring, a missing gpgv: errors, never good', async () => {
    expect(await check('garbage.sig')).toMatchObject({ status: 'error' })
    expect(
      await verifySignature({
        exec,
        file,
        signature: path.join(dir, 'good@t.invalid.sig'),
        keyring: path.join(dir, 'no-such-keyring.gpg'),
        homedir
      })
    ).toMatchObject({ status: 'error', detail: expect.stringMatching(/^gpgv could not read the keyring/) })
    const saved = process.env.PATH
    process.env.PATH = path.join(dir, 'empty-path')
    try {
      expect(await check('good@t.invalid.sig')).toEqual({
        status: 'error',
        detail: 'gpgv is not installed (Debian/Ubuntu package gpgv, Arch package gnupg)'
      })
    } finally {
      process.env.PATH = saved
    }
  })
})
