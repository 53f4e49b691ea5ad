// Who should own what a run leaves behind: ourselves when not root, the sudo caller when root
// through sudo (so later steps of the job, running as that user, can read and remove it).
import type { Owner } from './context.js'

export function invokingOwner(env: NodeJS.ProcessEnv = process.env): Owner | undefined {
  const uid = process.getuid?.()
  const gid = process.getgid?.()
  if (uid === undefined || gid === undefined) return undefined
  if (uid !== 0) return { uid, gid }
  const sudoUid = Number(env.SUDO_UID)
  const sudoGid = Number(env.SUDO_GID)
  if (Number.isInteger(sudoUid) && sudoUid > 0 && Number.isInteger(sudoGid))
    return { uid: sudoUid, gid: sudoGid }
  return undefined
}
