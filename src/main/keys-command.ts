// `cairn keys rotate --data-dir DIR`: rotate the master key of a stopped server's data dir.
// Steps (each durable before the next, so a crash anywhere is finished by running it again):
//   1. keys/master.key -> keys/master.key.previous (a copy, written atomically, mode 0600)
//   2. a new random key -> keys/master.key (atomically, mode 0600)
//   3. the key ring re-wraps every domain data key with the new key (chunks are never rewritten)
//   4. keys/master.key.previous is removed
// With keys in the environment (CAIRN_MASTER_KEY) the files are not ours to change: the operator
// sets CAIRN_MASTER_KEY to the new key and CAIRN_PREVIOUS_MASTER_KEY to the old one and starts
// the server, which finishes the rotation at start (src/main/engine.ts).
import {
  encodeMasterKeyFile,
  masterKeyFromBytes,
  masterKeyIdHex,
  masterKeyPath,
  previousMasterKeyPath,
  readMasterKeyFile,
  type MasterKey,
} from '../crypto/index.ts'
import { KeyRing } from '../chunk/index.ts'
import { StoreError, limits } from '../lib/index.ts'
import { writeFileAtomic } from '../io/index.ts'
import { dirname } from 'node:path'
import type { ServerConfig } from './config.ts'
import { openDataDirMeta, removePidFile, writePidFile } from './data-dir.ts'
import type { EngineWorld } from './engine.ts'

export interface RotationResult {
  previousMasterKeyId: string
  masterKeyId: string
  rewrappedDomains: number
}

export async function rotateMasterKeyOffline(config: ServerConfig, world: EngineWorld): Promise<RotationResult> {
  const { io, random } = world
  if (config.masterKeyText !== undefined) {
    throw new StoreError(
      'INVALID_ARGUMENT',
      'the master key comes from CAIRN_MASTER_KEY: set CAIRN_MASTER_KEY to the new key and CAIRN_PREVIOUS_MASTER_KEY to the old one, then start the server (it finishes the rotation at start)',
    )
  }
  const meta = await openDataDirMeta(io, config.dataDir, 'stop the server before running `cairn keys rotate`')
  try {
    await writePidFile(io, config.dataDir)
    const { previous, current } = await rotateKeyFiles(config.dataDir, world)
    const keyRing = await KeyRing.open({ meta, masterKey: current, previousMasterKey: previous, random })
    const { rewrappedDomains } = await keyRing.rotateMaster(current)
    await io.unlink(previousMasterKeyPath(config.dataDir))
    await io.syncDir(dirname(previousMasterKeyPath(config.dataDir)))
    return { previousMasterKeyId: masterKeyIdHex(previous), masterKeyId: masterKeyIdHex(current), rewrappedDomains }
  } finally {
    await removePidFile(io, config.dataDir).catch(() => undefined) // best effort; the lock is what counts
    await meta.close()
  }
}

/** Steps 1 and 2, resuming a crashed earlier run: returns the old and the new key. */
async function rotateKeyFiles(dataDir: string, world: EngineWorld): Promise<{ previous: MasterKey; current: MasterKey }> {
  const { io, random } = world
  const currentPath = masterKeyPath(dataDir)
  const previousPath = previousMasterKeyPath(dataDir)
  const current = await readMasterKeyFile(io, currentPath)
  if (current === undefined) throw new StoreError('NOT_FOUND', `no master key file at ${currentPath}: nothing to rotate`, { subject: 'key-domain' })
  let previous = await readMasterKeyFile(io, previousPath)
  if (previous === undefined) {
    await writeFileAtomic(io, previousPath, encodeMasterKeyFile(current), 0o600)
    previous = current
  }
  if (!current.id.equals(previous.id)) return { previous, current } // a new key was written already
  const fresh = masterKeyFromBytes(random.bytes(limits.masterKeyBytes))
  await writeFileAtomic(io, currentPath, encodeMasterKeyFile(fresh), 0o600)
  return { previous, current: fresh }
}
