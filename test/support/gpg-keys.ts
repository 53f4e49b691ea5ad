// Throw-away OpenPGP keys made with the real gpg in a private GNUPGHOME: signatures that are good,
// by an unknown key, by a revoked key, or by a key that expired before or after signing
// (`--faked-system-time` puts the key's and the signature's dates in the past).
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'

export class TestKeys {
  readonly home: string

  constructor(dir: string) {
    this.home = path.join(dir, 'gnupg')
    mkdirSync(this.home, { mode: 0o700 })
    writeFileSync(path.join(this.home, 'gpg.conf'), 'no-auto-check-trustdb\n')
  }

  private gpg(args: string[], at?: number): string {
    const time = at === undefined ? [] : ['--faked-system-time', `${at}!`]
    return execFileSync(
      'gpg',
      ['--batch', '--quiet', '--passphrase', '', '--pinentry-mode', 'loopback', ...time, ...args],
      { env: { ...process.env, GNUPGHOME: this.home }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }
    )
  }

  /** A new ed25519 signing key for `email` (made at `at`, default now); its fingerprint. */
  generate(email: string, at?: number): string {
    this.gpg(['--quick-gen-key', `Test <${email}>`, 'ed25519', 'sign', 'never'], at)
    return this.fingerprint(email)
  }

  fingerprint(email: string): string {
    const listing = this.gpg(['--with-colons', '--list-keys', email])
    return /^fpr:+([0-9A-F]{40}):/m.exec(listing)?.[1] as string
  }

  /** A detached signature of `file` by `email`, made at `at` (default now). */
  sign(email: string, file: string, signature: string, at?: number): void {
    this.gpg(['--yes', '--local-user', email, '--detach-sign', '--output', signature, file], at)
  }

  /** A new self-signature made at `at` that makes the key expire `seconds` after `at`. */
  expire(email: string, at: number, seconds: number): void {
    this.gpg(['--quick-set-expire', this.fingerprint(email), `seconds=${seconds}`], at)
  }

  /** Imports the revocation certificate gpg made with the key. */
  revoke(email: string): void {
    const file = path.join(this.home, 'openpgp-revocs.d', `${this.fingerprint(email)}.rev`)
    // gpg writes it with a leading ':' on the armor line, so it is not imported by accident.
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^:-----BEGIN/m, '-----BEGIN'))
    this.gpg(['--import', file])
  }

  /** Public keys of `emails`, binary (a keyring gpgv reads) or ASCII-armored. */
  export(emails: string[], armor = false): Buffer {
    return execFileSync('gpg', ['--batch', ...(armor ? ['--armor'] : []), '--export', ...emails], {
      env: { ...process.env, GNUPGHOME: this.home },
      stdio: ['ignore', 'pipe', 'pipe']
    })
  }

  exportSecret(email: string): Buffer {
    return execFileSync(
      'gpg',
      ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--export-secret-keys', email],
      {
        env: { ...process.env, GNUPGHOME: this.home },
        stdio: ['ignore', 'pipe', 'pipe']
      }
    )
  }

  /** Stops the gpg-agent the key generation started. */
  close(): void {
    execFileSync('gpgconf', ['--homedir', this.home, '--kill', 'all'], { stdio: 'ignore' })
  }
}
