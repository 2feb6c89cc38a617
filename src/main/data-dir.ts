// Owning a data dir: the LevelDB LOCK of <data-dir>/meta is the one lock (held for the life
// of the process by the open MetaStore); <data-dir>/cairn.pid only names the holder so that a
// second start can say who holds it. A stale pid file after a crash is harmless: it is read
// only when the lock is actually held by someone.
import { join } from 'node:path'
import { isStoreError, StoreError } from '../lib/index.ts'
import { readSmallFile, writeFileAtomic, type Io } from '../io/index.ts'
import { LevelMetaStore } from '../meta/index.ts'

export const pidFileName = 'cairn.pid'
export const metaDirName = 'meta'

/**
 * Open the data dir's metadata store, which takes its lock. When another process holds it,
 * throws StoreError LOCKED naming the data dir and, when known, the holder's pid.
 */
export async function openDataDirMeta(io: Io, dataDir: string, advice: string): Promise<LevelMetaStore> {
  try {
    return await LevelMetaStore.open(join(dataDir, metaDirName))
  } catch (error) {
    if (!isStoreError(error, 'LOCKED')) throw error
    const pid = await readPidFile(io, dataDir).catch(() => undefined)
    const holder = pid === undefined ? 'another Cairn process' : `another Cairn process (pid ${pid})`
    throw new StoreError('LOCKED', `data dir ${dataDir} is in use by ${holder}; ${advice}`, { cause: error })
  }
}

/** Record this process as the holder. Call only while holding the lock. */
export async function writePidFile(io: Io, dataDir: string): Promise<void> {
  await writeFileAtomic(io, join(dataDir, pidFileName), Buffer.from(`${process.pid}\n`), 0o644)
}

/** Remove the pid file; a missing one is fine. Call before releasing the lock. */
export async function removePidFile(io: Io, dataDir: string): Promise<void> {
  try {
    await io.unlink(join(dataDir, pidFileName))
  } catch (error) {
    if (!isStoreError(error, 'NOT_FOUND')) throw error
  }
}

export async function readPidFile(io: Io, dataDir: string): Promise<number | undefined> {
  const bytes = await readSmallFile(io, join(dataDir, pidFileName))
  const pid = Number(bytes?.toString('utf8').trim())
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined
}
