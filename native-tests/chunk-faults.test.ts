// End-to-end disk-fault tests of the chunk store (issue 2, "Durability and faults"): a FaultyIo
// under a store on LevelMetaStore in a temp data dir, writers that reference what they store the
// way a front-end does, and after every scenario a full close (store AND LevelDB) and reopen on
// the real Io: every acknowledged chunk is intact, refcounts hold, every pack is sealed by
// recovery, scrub is clean. Failed puts must fail with NO_SPACE (ENOSPC: a code front-ends map
// to "disk full") or IO_ERROR, nothing else.
// The store's own unit tests (src/chunk/store-faults.test.ts) cover single faults on one batch
// on a MemoryMetaStore; these cover a disk that stays full, seeded fault storms over several
// reopen cycles, faults in recovery itself, in pack-directory fsyncs, compaction, tier moves,
// reads, and the master key file.
//
// Seed: CAIRN_FAULT_SEED=<n> to replay; printed at the start.
import t, { type Test } from 'tap'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadMasterKey, masterKeyPath } from '../src/crypto/index.ts'
import { FaultyIo, nodeIo, type FaultRule, type Io } from '../src/io/index.ts'
import { chunkIdHex, isStoreError, plainDomain, systemRandom, type ChunkId, type KeyDomainId } from '../src/lib/index.ts'
import { ackRecordKey, contentOf, isSealedPackFile, openDiskStore, packIdOfFileName, prng, specOf, tierPathsOf, type DiskStore } from './fixtures/chunk-common.ts'

const seed = Number(process.env.CAIRN_FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31))
t.comment(`seed ${seed} (replay with CAIRN_FAULT_SEED=${seed})`)

const packFiles = /\.pack$/
/** Small packs so seals, new packs and compaction happen within a few hundred chunks. */
const packTargetBytes = 256 * 1024

interface Stored {
  id: ChunkId
  seed: string
  domain: KeyDomainId
  refs: number
}

/** A data dir, a FaultyIo, and what was acknowledged in it (survives reopens). */
class Harness {
  readonly dataDir: string
  readonly io = new FaultyIo(nodeIo)
  readonly acknowledged = new Map<string, Stored>()
  #records = 0
  #sequence = 0
  readonly #prefix: string

  constructor(dataDir: string, prefix: string) {
    this.dataDir = dataDir
    this.#prefix = prefix
  }

  open(io: Io = this.io): Promise<DiskStore> {
    return openDiskStore(this.dataDir, { io, packTargetBytes })
  }

  nextSeed(): string {
    return `${this.#prefix}.${this.#sequence++}`
  }

  /** put + a transaction writing a record and adding the reference; remembers it once both resolved. */
  async putReferenced(opened: DiskStore, chunkSeed: string, domain: KeyDomainId): Promise<ChunkId> {
    const { id } = await opened.store.put(contentOf(chunkSeed), { domain })
    const record = this.#records++
    await opened.meta.transact(async (tx) => {
      tx.put(ackRecordKey([9, 0, record]), id)
      await opened.store.addRefs(tx, [id])
    })
    const hex = chunkIdHex(id)
    const known = this.acknowledged.get(hex)
    if (known) known.refs += 1
    else this.acknowledged.set(hex, { id, seed: chunkSeed, domain, refs: 1 })
    return id
  }

  /** count puts by `writers` concurrent writers; returns the error codes of the failed ones. */
  async writeMany(opened: DiskStore, count: number, writers: number, random: () => number): Promise<string[]> {
    const codes: string[] = []
    let left = count
    await Promise.all(
      Array.from({ length: writers }, async () => {
        while (left > 0) {
          left -= 1
          const domain = random() < 0.3 ? opened.domain : plainDomain
          // Mostly small chunks, some re-puts of earlier seeds (dedup against stored chunks).
          const chunkSeed = random() < 0.1 && this.#sequence > 0 ? `${this.#prefix}.${Math.floor(random() * this.#sequence)}` : this.nextSeed()
          try {
            await this.putReferenced(opened, chunkSeed, domain)
          } catch (error) {
            if (!isStoreError(error)) throw error
            codes.push(error.code)
          }
        }
      }),
    )
    return codes
  }

  /** Every acknowledged chunk reads back identical with at least its references; scrub is clean. */
  async verify(t: Test, opened: DiskStore, what: string): Promise<void> {
    let bad = 0
    for (const chunk of this.acknowledged.values()) {
      const read = await opened.store.get(chunk.id).catch((error: unknown) => error)
      if (read instanceof Buffer && read.equals(contentOf(chunk.seed))) continue
      bad += 1
      if (bad <= 3) t.fail(`${what}: chunk ${chunkIdHex(chunk.id)} (seed ${chunk.seed}) reads back wrong: ${read instanceof Buffer ? 'bytes differ' : String(read)}`)
    }
    t.equal(bad, 0, `${what}: all ${this.acknowledged.size} acknowledged chunks read back identical`)
    const lowRefs = await opened.meta.read(async (tx) => {
      const found: string[] = []
      for (const chunk of this.acknowledged.values()) {
        const count = await opened.store.refCount(tx, chunk.id)
        if (count < chunk.refs) found.push(`${chunkIdHex(chunk.id)}: ${count} < ${chunk.refs}`)
      }
      return found
    })
    t.same(lowRefs, [], `${what}: refcounts hold`)
    const scrub = await opened.store.scrub()
    t.same({ corrupt: scrub.corrupt, missingPacks: scrub.missingPacks }, { corrupt: [], missingPacks: [] }, `${what}: scrub is clean`)
  }

  /** Close everything (store and LevelDB), reopen on the real Io, check recovery and the data. */
  async reopenAndVerify(t: Test, opened: DiskStore, what: string): Promise<DiskStore> {
    await opened.close()
    const reopened = await this.open(nodeIo)
    t.same(reopened.store.recovery.damaged, [], `${what}: recovery found no damage`)
    const unsealed: string[] = []
    for (const directory of Object.values(tierPathsOf(this.dataDir))) {
      for (const name of await readdir(directory)) {
        if (packIdOfFileName(name) !== undefined && !(await isSealedPackFile(join(directory, name)))) unsealed.push(name)
      }
    }
    t.same(unsealed, [], `${what}: recovery sealed every pack (torn tails cut off)`)
    await this.verify(t, reopened, `${what}, after reopen`)
    return reopened
  }
}

async function harness(t: Test, prefix: string): Promise<Harness> {
  const dataDir = await mkdtemp(join(tmpdir(), 'cairn-faults-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  return new Harness(dataDir, prefix)
}

const allowedCodes = new Set(['NO_SPACE', 'IO_ERROR'])

t.test('a disk that stays full: NO_SPACE for every new chunk, reads go on, writes resume once space is back', async (t) => {
  const h = await harness(t, 'full')
  const random = prng(seed)
  let opened = await h.open()
  t.same(await h.writeMany(opened, 40, 8, random), [], 'puts before the disk fills')
  // Every pack write (frames, new pack headers, seals) and pack fsync now fails with ENOSPC.
  for (const operation of ['write', 'sync'] as const) h.io.addRule({ operation, kind: 'ENOSPC', path: packFiles })
  const codes = await h.writeMany(opened, 30, 8, random)
  t.ok(codes.length > 0, `${codes.length} puts failed while the disk was full`)
  t.same([...new Set(codes)], ['NO_SPACE'], 'every failure is NO_SPACE, distinct from IO_ERROR')
  t.ok(h.io.injected > 0)
  await h.verify(t, opened, 'reads while the disk is full')
  h.io.clearRules()
  t.same(await h.writeMany(opened, 40, 8, random), [], 'puts succeed once space is back')
  opened = await h.reopenAndVerify(t, opened, 'disk full')
  t.same(await h.writeMany(opened, 10, 4, random), [], 'puts after reopen')
  await opened.close()
})

t.test('seeded fault storms over several reopen cycles', async (t) => {
  const h = await harness(t, 'storm')
  const random = prng(seed ^ 0x5eed)
  const cycles = 4
  let opened = await h.open()
  const seen = new Map<string, number>()
  for (let cycle = 0; cycle < cycles; cycle++) {
    const rules = stormRules(random)
    t.comment(`cycle ${cycle}: ${rules.map((rule) => `${rule.kind} on ${rule.operation} after ${rule.after ?? 0} x${rule.times ?? 'inf'}`).join(', ')}`)
    for (const rule of rules) h.io.addRule(rule)
    const codes = await h.writeMany(opened, 120, 16, random)
    h.io.clearRules()
    for (const code of codes) seen.set(code, (seen.get(code) ?? 0) + 1)
    t.same(codes.filter((code) => !allowedCodes.has(code)), [], `cycle ${cycle}: failed puts are NO_SPACE or IO_ERROR only (${codes.length} failed)`)
    await h.verify(t, opened, `cycle ${cycle}, faults cleared`)
    t.same(await h.writeMany(opened, 20, 4, random), [], `cycle ${cycle}: puts succeed after the faults clear`)
    opened = await h.reopenAndVerify(t, opened, `cycle ${cycle}`)
  }
  t.comment(`failures by code: ${JSON.stringify(Object.fromEntries(seen))}, ${h.acknowledged.size} chunks acknowledged`)
  t.ok(h.io.injected > 0, `${h.io.injected} faults injected`)
  await opened.close()
})

/** A few rules on pack files: EIO or ENOSPC on write/sync/open/syncDir, short writes; each fires a few times. */
function stormRules(random: () => number): FaultRule[] {
  const kinds = ['EIO', 'ENOSPC', 'short-write'] as const
  const operations = ['write', 'write', 'sync', 'open', 'syncDir'] as const
  return Array.from({ length: 1 + Math.floor(random() * 3) }, () => {
    const operation = operations[Math.floor(random() * operations.length)]!
    const kind = operation === 'write' ? kinds[Math.floor(random() * kinds.length)]! : kinds[Math.floor(random() * 2)]!
    return {
      operation,
      kind,
      path: operation === 'syncDir' ? /packs/ : packFiles,
      after: Math.floor(random() * 6),
      times: 1 + Math.floor(random() * 4),
    }
  })
}

t.test('EIO on the directory fsync of a new pack: IO_ERROR, the half-made pack is removed (at once, or at reopen when that fails too)', async (t) => {
  const h = await harness(t, 'dir')
  const random = prng(seed + 1)
  let opened = await h.open()
  t.same(await h.writeMany(opened, 5, 1, random), [])
  for (const cleanupFails of [false, true]) {
    const what = cleanupFails ? 'cleanup failing too' : 'cleanup works'
    // Recovery at the next open seals the current pack, so the first put after it creates a pack.
    await opened.close()
    opened = await h.open()
    const packsBefore = await packFileNames(h.dataDir)
    h.io.addRule({ operation: 'syncDir', kind: 'EIO', path: /\/packs$/, times: 1 })
    if (cleanupFails) h.io.addRule({ operation: 'unlink', kind: 'EIO', path: packFiles, times: 1 })
    const failed = await opened.store.put(contentOf(h.nextSeed())).catch((error: unknown) => error)
    t.ok(isStoreError(failed, 'IO_ERROR'), `${what}: the put fails with IO_ERROR`, { failed })
    h.io.clearRules()
    const left = (await packFileNames(h.dataDir)).filter((name) => !packsBefore.includes(name))
    t.equal(left.length, cleanupFails ? 1 : 0, `${what}: ${cleanupFails ? 'the half-made pack file is left for recovery' : 'no half-made pack file is left'}`)
    await h.verify(t, opened, `${what}, in the same process`)
    t.same(await h.writeMany(opened, 10, 2, random), [], `${what}: later puts go to a fresh pack`)
    opened = await h.reopenAndVerify(t, opened, `directory fsync failed, ${what}`)
    const dropped = opened.store.recovery.dropped.filter((pack) => pack.reason.includes('no frames'))
    t.equal(dropped.length, left.length, `${what}: recovery drops exactly the half-made packs left behind`, { recovery: opened.store.recovery })
  }
  await opened.close()
})

async function packFileNames(dataDir: string): Promise<string[]> {
  const names: string[] = []
  for (const directory of Object.values(tierPathsOf(dataDir))) {
    for (const name of await readdir(directory)) if (packIdOfFileName(name) !== undefined) names.push(join(directory, name))
  }
  return names
}

t.test('faults inside recovery: open fails cleanly or leaves the pack for the next open, which recovers', async (t) => {
  const h = await harness(t, 'recovery')
  const random = prng(seed + 2)
  let opened = await h.open()
  t.same(await h.writeMany(opened, 20, 4, random), [])
  await opened.close()
  const cases: Array<{ rule: FaultRule; mayOpen: boolean }> = [
    { rule: { operation: 'truncate', kind: 'EIO', path: packFiles }, mayOpen: false },
    { rule: { operation: 'sync', kind: 'EIO', path: packFiles }, mayOpen: false },
    // The seal of the recovered pack fails: the pack stays open, its frames readable.
    { rule: { operation: 'write', kind: 'ENOSPC', path: packFiles }, mayOpen: true },
  ]
  for (const { rule, mayOpen } of cases) {
    const what = `${rule.kind} on ${rule.operation} during recovery`
    const tornPackId = await leaveTornFrame(t, h)
    h.io.addRule(rule)
    const result = await h.open().catch((error: unknown) => error)
    h.io.clearRules()
    if (isStoreError(result)) {
      t.ok(allowedCodes.has(result.code), `${what}: open rejects with ${result.code}`)
    } else if (result instanceof Error) {
      t.fail(`${what}: open threw a non-StoreError: ${result.stack ?? result.message}`)
    } else {
      const recovered = result as DiskStore
      t.ok(mayOpen, `${what}: the store opened`)
      const pack = recovered.store.recovery.packs.find((candidate) => candidate.packId === tornPackId)
      t.equal(pack?.sealed, false, `${what}: the pack is left unsealed for the next open`)
      await h.verify(t, recovered, `${what}: opened anyway`)
      await recovered.close()
    }
    opened = await h.open(nodeIo)
    if (rule.operation === 'truncate') {
      const pack = opened.store.recovery.packs.find((candidate) => candidate.packId === tornPackId)
      t.ok(pack !== undefined && pack.truncatedBytes > 0, `${what}: the next clean open cut the torn tail off`, { recovery: opened.store.recovery })
    }
    opened = await h.reopenAndVerify(t, opened, what)
    t.same(await h.writeMany(opened, 5, 2, random), [], `${what}: writes work after recovery`)
    await opened.close()
  }
})

/**
 * Leave the store closed with an unsealed pack whose tail is a torn frame: one chunk goes into a
 * fresh pack, the next one's frame write fails with ENOSPC after a third of it reached the file.
 */
async function leaveTornFrame(t: Test, h: Harness): Promise<number> {
  const opened = await h.open()
  try {
    // Recovery sealed the previous pack, so this put creates a new one (header + frame).
    await h.putReferenced(opened, smallSeed(h), plainDomain)
    const packId = opened.store.currentPackIds().hot
    h.io.addRule({ operation: 'write', kind: 'ENOSPC', path: packFiles, times: 1 })
    await t.rejects(opened.store.put(contentOf(smallSeed(h))), { code: 'NO_SPACE' }, 'the torn frame write fails with NO_SPACE')
    h.io.clearRules()
    t.ok(packId !== undefined, 'a pack was open')
    return packId ?? 0
  } finally {
    await opened.close()
  }
}

/** A fresh seed whose chunk is small (well below the pack target), so it does not seal the pack. */
function smallSeed(h: Harness): string {
  for (;;) {
    const candidate = h.nextSeed()
    if (specOf(candidate).sizeBytes < 32 * 1024) return candidate
  }
}

t.test('faults during compaction and tier moves lose nothing', async (t) => {
  const h = await harness(t, 'compact')
  const random = prng(seed + 3)
  let opened = await h.open()
  t.same(await h.writeMany(opened, 120, 8, random), [])
  // Drop most references and collect them so packs become sparse (grace 0 for this store).
  await opened.close()
  opened = await openDiskStore(h.dataDir, { io: h.io, packTargetBytes, gcGraceMs: 0 })
  const dropped = [...h.acknowledged.values()].filter(() => random() < 0.7)
  await opened.meta.transact(async (tx) => opened.store.dropRefs(tx, dropped.flatMap((chunk) => Array<ChunkId>(chunk.refs).fill(chunk.id))))
  for (const chunk of dropped) h.acknowledged.delete(chunkIdHex(chunk.id))
  const gc = await opened.store.collectGarbage()
  t.ok(gc.collectedChunks >= dropped.length, `GC collected ${gc.collectedChunks} chunks`)

  // EIO on every write to pack files: live frames cannot be copied, packs stay.
  h.io.addRule({ operation: 'write', kind: 'EIO', path: packFiles })
  const failedCompact = await opened.store.compact().catch((error: unknown) => error)
  t.comment(`compaction under EIO: ${failedCompact instanceof Error ? `rejected ${(failedCompact as { code?: string }).code}` : JSON.stringify(failedCompact)}`)
  h.io.clearRules()
  await h.verify(t, opened, 'after compaction under EIO')

  // The pack file unlink fails after its record was dropped: a file without a record is left.
  h.io.addRule({ operation: 'unlink', kind: 'EIO', path: packFiles, times: 1 })
  const unlinkCompact = await opened.store.compact().catch((error: unknown) => error)
  t.comment(`compaction with a failing unlink: ${unlinkCompact instanceof Error ? `rejected ${(unlinkCompact as { code?: string }).code}` : JSON.stringify(unlinkCompact)}`)
  h.io.clearRules()
  await h.verify(t, opened, 'after compaction with a failing unlink')
  const compacted = await opened.store.compact()
  t.comment(`clean compaction: ${JSON.stringify(compacted)}`)
  await h.verify(t, opened, 'after a clean compaction')

  // A cold tier that is full: the move fails with NO_SPACE; once space is back it succeeds.
  const toMove = [...h.acknowledged.values()].slice(0, 20).map((chunk) => chunk.id)
  h.io.addRule({ operation: 'write', kind: 'ENOSPC', path: /cold/ })
  h.io.addRule({ operation: 'open', kind: 'ENOSPC', path: /cold/ })
  const failedMove = await opened.store.moveToTier(toMove, 'cold').catch((error: unknown) => error)
  t.ok(isStoreError(failedMove, 'NO_SPACE'), `moveToTier into a full cold tier rejects NO_SPACE (${String(failedMove)})`)
  await h.verify(t, opened, 'after the failed move')
  h.io.clearRules()
  await opened.store.moveToTier(toMove, 'cold')
  for (const id of toMove) t.equal((await opened.store.locate(id))?.tier, 'cold', 'in cold once the move succeeded')
  opened = await h.reopenAndVerify(t, opened, 'compaction and tier faults')
  for (const id of toMove) t.equal((await opened.store.locate(id))?.tier, 'cold', 'moved chunks are in cold after reopen')
  await opened.close()
})

t.test('EIO on reads: IO_ERROR (never wrong bytes), reads recover when the fault clears', async (t) => {
  const h = await harness(t, 'read')
  const random = prng(seed + 4)
  let opened = await h.open()
  t.same(await h.writeMany(opened, 30, 4, random), [])
  const chunks = [...h.acknowledged.values()]
  h.io.addRule({ operation: 'read', kind: 'EIO', path: packFiles, times: 5 })
  const codes: string[] = []
  for (const chunk of chunks.slice(0, 10)) {
    const read = await opened.store.get(chunk.id).catch((error: unknown) => error)
    if (read instanceof Buffer) t.ok(read.equals(contentOf(chunk.seed)), 'a read that succeeds is right')
    else codes.push(isStoreError(read) ? read.code : String(read))
  }
  t.same([...new Set(codes)], ['IO_ERROR'], `failed reads are IO_ERROR (${codes.length})`)
  h.io.clearRules()
  await h.verify(t, opened, 'reads after the fault cleared')
  opened = await h.reopenAndVerify(t, opened, 'read faults')
  await opened.close()
})

t.test('ENOSPC writing the master key file at first start: NO_SPACE, no partial key left, retry works', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'cairn-faults-key-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const io = new FaultyIo(nodeIo)
  io.addRule({ operation: 'write', kind: 'ENOSPC', path: /keys/, times: 1 })
  await t.rejects(loadMasterKey({ io, dataDir, envValue: undefined, random: systemRandom }), { code: 'NO_SPACE' })
  t.same(await readdir(join(dataDir, 'keys')), [], 'no key file and no temp file left')
  const loaded = await loadMasterKey({ io, dataDir, envValue: undefined, random: systemRandom })
  t.equal(loaded.created, true)
  const again = await loadMasterKey({ io: nodeIo, dataDir, envValue: undefined, random: systemRandom })
  t.same(again.masterKey.id, loaded.masterKey.id, 'the key written on retry is the one read back')
  t.equal(masterKeyPath(dataDir).startsWith(join(dataDir, 'keys')), true)
})

// ---- regressions: store bugs these tests found (fixed in 889c962) ----

t.test('a moveToTier that rejects has settled: no chunk changes tier after the rejection', async (t) => {
  const h = await harness(t, 'move-settled')
  const random = prng(seed + 5)
  const opened = await h.open()
  t.teardown(() => opened.close())
  t.same(await h.writeMany(opened, 20, 4, random), [])
  const ids = [...h.acknowledged.values()].map((chunk) => chunk.id)
  // Only the first cold pack creation fails: the first copy's batch fails, the rest queue behind it.
  h.io.addRule({ operation: 'open', kind: 'ENOSPC', path: /cold/, times: 1 })
  await t.rejects(opened.store.moveToTier(ids, 'cold'), { code: 'NO_SPACE' })
  const tiersAt = async (): Promise<Array<string | undefined>> => Promise.all(ids.map(async (id) => (await opened.store.locate(id))?.tier))
  const atRejection = await tiersAt()
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.same(await tiersAt(), atRejection, 'no chunk moved after moveToTier rejected')
})

t.test('a failed pack creation is not reported by scrub as a missing pack', async (t) => {
  const h = await harness(t, 'missing')
  const opened = await h.open()
  t.teardown(() => opened.close())
  h.io.addRule({ operation: 'open', kind: 'ENOSPC', path: packFiles, times: 1 })
  await t.rejects(opened.store.put(contentOf(h.nextSeed())), { code: 'NO_SPACE' })
  const scrub = await opened.store.scrub()
  t.same(scrub.missingPacks, [], 'no pack holds data, so none is missing')
  t.same(opened.store.stats().packs, { hot: 0, cold: 0 }, 'and stats count no pack')
})
