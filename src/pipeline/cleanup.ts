// mode: cleanup: what a closed pull request's previews left behind is deleted, one step per place.
// No disk, loop device or package is touched.
import { cleanupGlanceStage } from '../stages/cleanup-glance.js'
import { cleanupReleasesStage } from '../stages/cleanup-releases.js'
import { openstackStage } from '../stages/glance.js'
import type { Stage } from './runner.js'

export const CLEANUP_STAGES: Stage[] = [openstackStage, cleanupGlanceStage, cleanupReleasesStage]
