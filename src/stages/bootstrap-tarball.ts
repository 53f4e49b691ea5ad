// bootstrap-tarball: with pacman-from bootstrap (or auto on a non-Arch host), Arch's bootstrap tarball
// obtained and verified (sha256 and a good signature by the release keys) before any disk is
// touched, so a missing, unsigned or tampered tarball never costs a loop device.
import { obtainVerifiedBootstrapTarball, usesBootstrapTarball } from '../bootstrap-env/run.js'
import type { Stage } from '../pipeline/runner.js'

export const bootstrapTarballStage: Stage = {
  name: 'bootstrap-tarball',
  enabled: ctx => usesBootstrapTarball(ctx.config.packages.pacmanFrom),
  async run(ctx) {
    ctx.bootstrapTarball = await obtainVerifiedBootstrapTarball(ctx)
  }
}
