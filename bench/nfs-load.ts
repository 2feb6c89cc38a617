// Workloads of the nfs benchmark (helper of bench/nfs.ts, not a benchmark on its own): sequential 1 MiB write/read, small-file creates, GETATTR and READDIR rates over bench/nfs-client.ts
//
// Each phase runs against one server's export root through one NfsSession with `depth`
// compounds in flight, and returns what it did (operations, bytes) and how long it took. The
// compounds mirror what the Linux client sends for the same system calls:
// - write: OPEN (create) then 1 MiB WRITEs, UNSTABLE, `depth` at once, in offset order as they
//   are handed out; one COMMIT at the end (timed), then CLOSE;
// - read: OPEN, 1 MiB READs `depth` at once, CLOSE; the byte count must come back whole;
// - creates (creat + write + close of small files in one directory): PUTFH dir + OPEN(create
//   UNCHECKED4) + GETFH + GETATTR; then PUTFH + WRITE (FILE_SYNC4, the kernel's choice when one
//   WRITE flushes the whole file) + GETATTR; then PUTFH + CLOSE. Three round trips per file;
// - stat: PUTFH + GETATTR (the kernel's stat attribute set) over the created files, round robin;
// - readdir: whole listings of the created directory (READDIR with `ls -l`'s attributes, cookie
//   to cookie), each checked to have every file.
// Written data is unique per 4 KiB (a counter stamped into random bytes), so a deduplicating
// server stores all of it, as the other one does.
// Never: leave an open state behind on success (everything opened is closed).
import { randomFillSync } from 'node:crypto'
import { ops, type Stateid } from '../src/nfs/testing/nfs-client.ts'
import { shareAccess, stableHow } from '../src/nfs/v4/constants.ts'
import { benchOps, readdirAttributes, statAttributes, type NfsSession } from './nfs-client.ts'

export interface PhaseCount {
  /** Operations of the phase's unit (WRITEs/READs, files, GETATTRs, directory entries). */
  operations: number
  bytes: number
  seconds: number
  /** RPC round trips. */
  compounds: number
}

const ioBytes = 1 << 20
const stampStrideBytes = 4096

/** The export's root directory handle: PUTROOTFH + LOOKUP <name> + GETFH. */
export async function exportRoot(session: NfsSession, exportName: string): Promise<Buffer> {
  const [, , handle] = await session.compound([ops.putrootfh(), ops.lookup(exportName), ops.getfh()], `LOOKUP /${exportName}`)
  return handle as Buffer
}

async function openFile(session: NfsSession, directory: Buffer, name: string, create: boolean): Promise<{ handle: Buffer; stateid: Stateid }> {
  const open = ops.open({
    clientId: session.clientId, owner: session.openOwner, access: create ? shareAccess.BOTH : shareAccess.READ,
    ...(create ? { create: { mode: 'unchecked', attributes: { mode: 0o644 } } } : {}), claim: { type: 'null', name },
  })
  const [, opened, handle] = (await session.compound([ops.putfh(directory), open, ops.getfh()], `OPEN ${name}`)) as [unknown, { stateid: Stateid }, Buffer]
  return { handle, stateid: opened.stateid }
}

async function closeFile(session: NfsSession, handle: Buffer, stateid: Stateid): Promise<void> {
  await session.compound([ops.putfh(handle), ops.close(0, stateid)], 'CLOSE')
}

/** Run `depth` loops of `step` until it returns false; rejects with the first error. */
async function parallel(depth: number, step: (worker: number) => Promise<boolean>): Promise<void> {
  await Promise.all(Array.from({ length: depth }, async (_, worker) => {
    while (await step(worker));
  }))
}

/** A buffer of random bytes whose 4 KiB blocks get a fresh 8-byte stamp per use. */
class UniqueData {
  readonly buffer: Buffer
  static #stamp = 0n
  constructor(sizeBytes: number) {
    this.buffer = randomFillSync(Buffer.allocUnsafe(sizeBytes))
  }
  restamp(): Buffer {
    for (let offset = 0; offset + 8 <= this.buffer.length; offset += stampStrideBytes) this.buffer.writeBigUInt64BE(UniqueData.#stamp++, offset)
    return this.buffer
  }
}

const timed = async (session: NfsSession, run: () => Promise<{ operations: number; bytes: number }>): Promise<PhaseCount> => {
  const compoundsBefore = session.compounds
  const startMs = performance.now()
  const { operations, bytes } = await run()
  return { operations, bytes, seconds: (performance.now() - startMs) / 1000, compounds: session.compounds - compoundsBefore }
}

export async function sequentialWrite(session: NfsSession, root: Buffer, name: string, sizeBytes: number, depth: number): Promise<PhaseCount> {
  const { handle, stateid } = await openFile(session, root, name, true)
  const buffers = Array.from({ length: depth }, () => new UniqueData(ioBytes))
  let nextOffset = 0
  const result = await timed(session, async () => {
    await parallel(depth, async (worker) => {
      if (nextOffset >= sizeBytes) return false
      const offset = nextOffset
      nextOffset += ioBytes
      const data = (buffers[worker] as UniqueData).restamp().subarray(0, Math.min(ioBytes, sizeBytes - offset))
      const [, written] = (await session.compound([ops.putfh(handle), ops.write(stateid, offset, data, stableHow.UNSTABLE)], 'WRITE')) as [unknown, { count: number }]
      if (written.count !== data.length) throw new Error(`short WRITE at ${offset}: ${written.count} of ${data.length} bytes`)
      return true
    })
    await session.compound([ops.putfh(handle), ops.commit()], 'COMMIT')
    return { operations: Math.ceil(sizeBytes / ioBytes), bytes: sizeBytes }
  })
  await closeFile(session, handle, stateid)
  return result
}

export async function sequentialRead(session: NfsSession, root: Buffer, name: string, sizeBytes: number, depth: number): Promise<PhaseCount> {
  const { handle, stateid } = await openFile(session, root, name, false)
  let nextOffset = 0
  let bytesRead = 0
  const result = await timed(session, async () => {
    await parallel(depth, async () => {
      if (nextOffset >= sizeBytes) return false
      const offset = nextOffset
      nextOffset += ioBytes
      const [, read] = (await session.compound([ops.putfh(handle), benchOps.read(stateid, offset, ioBytes)], 'READ')) as [unknown, { bytes: number }]
      bytesRead += read.bytes
      return true
    })
    return { operations: Math.ceil(sizeBytes / ioBytes), bytes: bytesRead }
  })
  await closeFile(session, handle, stateid)
  if (bytesRead !== sizeBytes) throw new Error(`READ returned ${bytesRead} bytes of a ${sizeBytes}-byte file`)
  return result
}

export interface CreatedFiles {
  directory: Buffer
  handles: Buffer[]
}

export async function createFiles(session: NfsSession, root: Buffer, directoryName: string, files: number, fileBytes: number, depth: number): Promise<{ count: PhaseCount; created: CreatedFiles }> {
  const [, , directory] = (await session.compound([ops.putfh(root), ops.mkdir(directoryName), ops.getfh()], `CREATE ${directoryName}`)) as [unknown, unknown, Buffer]
  const handles = new Array<Buffer>(files)
  const buffers = Array.from({ length: depth }, () => new UniqueData(Math.max(8, fileBytes)))
  let next = 0
  const count = await timed(session, async () => {
    await parallel(depth, async (worker) => {
      if (next >= files) return false
      const index = next++
      const name = `f${index}`
      const open = ops.open({
        clientId: session.clientId, owner: session.openOwner, access: shareAccess.BOTH,
        create: { mode: 'unchecked', attributes: { mode: 0o644 } }, claim: { type: 'null', name },
      })
      const [, opened, handle] = (await session.compound([ops.putfh(directory), open, ops.getfh(), benchOps.getattr(statAttributes)], `OPEN ${name}`)) as [unknown, { stateid: Stateid }, Buffer]
      if (fileBytes > 0) {
        const data = (buffers[worker] as UniqueData).restamp().subarray(0, fileBytes)
        await session.compound([ops.putfh(handle), ops.write(opened.stateid, 0, data, stableHow.FILE_SYNC), benchOps.getattr(statAttributes)], `WRITE ${name}`)
      }
      await closeFile(session, handle, opened.stateid)
      handles[index] = handle
      return true
    })
    return { operations: files, bytes: files * fileBytes }
  })
  return { count, created: { directory, handles } }
}

export async function statFiles(session: NfsSession, handles: readonly Buffer[], seconds: number, depth: number): Promise<PhaseCount> {
  const deadlineMs = performance.now() + seconds * 1000
  let next = 0
  let done = 0
  return timed(session, async () => {
    await parallel(depth, async () => {
      if (performance.now() >= deadlineMs) return false
      const handle = handles[next++ % handles.length] as Buffer
      await session.compound([ops.putfh(handle), benchOps.getattr(statAttributes)], 'GETATTR')
      done += 1
      return true
    })
    return { operations: done, bytes: 0 }
  })
}

/** maxcount of each READDIR (the Linux client's dtsize is 32-64 KiB for this many entries). */
const readdirMaxBytes = 64 * 1024

export async function listDirectory(session: NfsSession, directory: Buffer, expectedEntries: number, seconds: number, depth: number): Promise<PhaseCount> {
  const deadlineMs = performance.now() + seconds * 1000
  let entries = 0
  let listings = 0
  return timed(session, async () => {
    await parallel(depth, async () => {
      if (performance.now() >= deadlineMs && listings > 0) return false
      let cookie = 0n
      let verifier: Buffer = Buffer.alloc(8)
      let found = 0
      for (;;) {
        const [, page] = (await session.compound([ops.putfh(directory), benchOps.readdir(cookie, verifier, readdirMaxBytes, readdirMaxBytes, readdirAttributes)], 'READDIR')) as [unknown, { verifier: Buffer; entries: number; lastCookie: bigint; eof: boolean }]
        found += page.entries
        if (page.eof) break
        if (page.entries === 0) throw new Error('READDIR returned no entries and no eof')
        cookie = page.lastCookie
        verifier = page.verifier
      }
      if (found !== expectedEntries) throw new Error(`a listing found ${found} entries, expected ${expectedEntries}`)
      entries += found
      listings += 1
      return true
    })
    return { operations: entries, bytes: 0 }
  })
}
