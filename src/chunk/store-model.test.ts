// Seeded model-based fuzz test of the chunk store (STYLE.md rule 13): random operation sequences
// run against the real store (real pack files, tiny packs so seal and compaction paths run) and
// against a small in-memory model (id -> bytes, refcount, zero-since time, present, tier), and
// after EVERY step the two must agree:
// - every present chunk reads back identical (referenced ones, and zero-ref ones within grace
//   or not yet collected), every collected one is NOT_FOUND;
// - refcounts equal the model's; each chunk's tier is the model's;
// - stats: live bytes == sum of present frames, dead bytes >= 0, pack counts == pack files on
//   disk, put/dedup/GC counters match.
// Operations: puts (plain, compressible, encrypted domain, cold tier, duplicates, the same bytes
// in the other domain, concurrent bursts), reference transactions (add/drop, duplicates in one
// call, aborted transactions, addRefs on a collected chunk), clock advances, GC, compaction,
// tier moves, restarts (close + reopen; LevelDB closed too in some sequences) and scrub.
//
// Seeds: CAIRN_FUZZ_SEED=<n> replays (sequence i runs seed n+i); CAIRN_FUZZ_SEQUENCES=<k> sets
// how many; CAIRN_FUZZ_LONG=1 runs 100 sequences of 300 steps (tens of minutes). A failure prints the
// sequence's seed, the step and the recent operations.
import t, { type Test } from 'tap'
import { createCipheriv, createHash } from 'node:crypto'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { masterKeyFromBytes, sealedOverheadBytes } from '../crypto/index.ts'
import { nodeIo } from '../io/index.ts'
import { chunkIdHex, isStoreError, ManualClock, plainDomain, SeededRandom, type ChunkId, type KeyDomainId } from '../lib/index.ts'
import { LevelMetaStore, MemoryMetaStore, type MetaStore } from '../meta/index.ts'
import { KeyRing } from './keyring.ts'
import { tiers, type Tier } from './location.ts'
import { frameBytesOf } from './pack-format.ts'
import { seededRandom } from './store-testing.ts'
import { ChunkStore, type PutResult } from './store.ts'

const long = process.env.CAIRN_FUZZ_LONG === '1'
const baseSeed = Number(process.env.CAIRN_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31))
const sequenceCount = Number(process.env.CAIRN_FUZZ_SEQUENCES ?? (long ? 100 : 8))
const stepsPerSequence = long ? 300 : 150
const gcGraceMs = 10_000
const packTargetBytes = 48 * 1024

function prng(seed: number): () => number {
  const random = new SeededRandom(seed)
  return () => random.next()
}

type ContentKind = 'random' | 'compressible'

interface Content {
  name: string
  kind: ContentKind
  bytes: Buffer
}

interface ModelChunk {
  id: ChunkId
  content: Content
  domain: KeyDomainId
  refs: number
  /** When refs became 0 (or the chunk was stored / re-armed); meaningful while refs == 0. */
  zeroSinceMs: number
  present: boolean
  storedBytes: number
  tier: Tier
  /** Packs a frame of this chunk was written to (to predict what recovery re-indexes). */
  packs: Set<number>
}

/** What the store should be, and the store itself. */
class Fuzz {
  readonly random: () => number
  readonly seed: number
  readonly log: string[] = []
  readonly chunks = new Map<string, ModelChunk>()
  readonly contents: Content[] = []
  readonly clock = new ManualClock()
  readonly useLevel: boolean
  directory = ''
  meta!: MetaStore
  store!: ChunkStore
  domain!: KeyDomainId
  /** Counters since the store was (re)opened. */
  since = { puts: 0, dedupHits: 0, gcCollected: 0 }
  /** What the sequence exercised, for the summary line. */
  readonly tally = { puts: 0, dedups: 0, collected: 0, packsCompacted: 0, framesCopied: 0, moved: 0, restarts: 0, revived: 0, rollbacks: 0, missing: 0 }
  #contentCounter = 0

  constructor(seed: number) {
    this.seed = seed
    this.random = prng(seed)
    this.useLevel = seed % 3 === 0
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)] as T
  }

  note(line: string): void {
    this.log.push(line)
    if (this.log.length > 40) this.log.shift()
  }

  async open(): Promise<void> {
    if (this.directory === '') {
      this.directory = await mkdtemp(join(tmpdir(), 'cairn-fuzz-'))
      this.meta = this.useLevel ? await LevelMetaStore.open(join(this.directory, 'meta')) : new MemoryMetaStore()
    } else if (this.useLevel) {
      this.meta = await LevelMetaStore.open(join(this.directory, 'meta'))
    }
    const keyRing = await KeyRing.open({ meta: this.meta, masterKey: masterKeyFromBytes(seededRandom(this.seed).bytes(32)), random: seededRandom(this.seed + 1) })
    const [existing] = await keyRing.listDomains({ limit: 1 })
    this.domain = existing?.domain ?? (await keyRing.createDomain())
    this.store = await ChunkStore.open({
      io: nodeIo,
      meta: this.meta,
      keyRing,
      clock: this.clock,
      random: seededRandom(this.seed + 2 + this.log.length),
      tierPaths: this.tierPaths(),
      gcGraceMs,
      packTargetBytes,
    })
    this.since = { puts: 0, dedupHits: 0, gcCollected: 0 }
  }

  async close(): Promise<void> {
    await this.store.close()
    if (this.useLevel) await this.meta.close()
  }

  async destroy(): Promise<void> {
    await this.store?.close()
    await this.meta?.close()
    if (this.directory !== '') await rm(this.directory, { recursive: true, force: true })
  }

  tierPaths(): Record<Tier, string> {
    return { hot: join(this.directory, 'hot'), cold: join(this.directory, 'cold') }
  }

  newContent(kind: ContentKind): Content {
    const name = `${this.seed}:${this.#contentCounter++}`
    // Mostly small chunks; now and then one past the pack target.
    const sizeBytes = this.random() < 0.08 ? 40_000 + Math.floor(this.random() * 100_000) : 1 + Math.floor(this.random() * 12_000)
    const key = createHash('sha256').update(name).digest()
    const stream = (length: number): Buffer => createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16)).update(Buffer.alloc(length))
    let bytes: Buffer
    if (kind === 'random') bytes = stream(sizeBytes)
    else {
      const pattern = stream(64)
      bytes = Buffer.alloc(Math.max(1024, sizeBytes))
      for (let at = 0; at < bytes.length; at += 4096) pattern.copy(bytes, at)
    }
    const content = { name, kind, bytes }
    this.contents.push(content)
    return content
  }

  /** The expected stored size: raw, compressed (smaller), plus the AEAD overhead when sealed. */
  checkStoredBytes(t: Test, chunk: ModelChunk, result: PutResult): void {
    const overhead = chunk.domain === plainDomain ? 0 : sealedOverheadBytes
    if (chunk.content.kind === 'random') t.equal(result.storedBytes, chunk.content.bytes.length + overhead, 'random bytes are stored raw')
    else if (result.storedBytes >= chunk.content.bytes.length + overhead) t.fail(`compressible chunk ${chunk.content.name} was not compressed (${result.storedBytes} stored bytes)`)
  }
}

// ---- operations ---------------------------------------------------------------------------

type Operation = (t: Test, fuzz: Fuzz) => Promise<void>

async function putContent(t: Test, fuzz: Fuzz, content: Content, domain: KeyDomainId, tier: Tier): Promise<void> {
  await putMany(t, fuzz, [{ content, domain, tier }])
}

/** Put several (possibly equal) chunks at once; exactly one write per new chunk, the rest dedup. */
async function putMany(t: Test, fuzz: Fuzz, puts: Array<{ content: Content; domain: KeyDomainId; tier: Tier }>): Promise<void> {
  const ids = await Promise.all(puts.map(({ content, domain }) => fuzz.store.idOf(content.bytes, domain)))
  const wasPresent = new Map(ids.map((id) => [chunkIdHex(id), fuzz.chunks.get(chunkIdHex(id))?.present === true]))
  const results = await Promise.all(puts.map(({ content, domain, tier }) => fuzz.store.put(content.bytes, { domain, tier })))
  fuzz.since.puts += puts.length
  fuzz.tally.puts += puts.length
  const written = new Map<string, number>()
  for (const [at, result] of results.entries()) {
    const { content, domain, tier } = puts[at]!
    const hex = chunkIdHex(result.id)
    t.ok(result.id.equals(ids[at]!), 'put returns the id idOf computed')
    if (result.deduplicated) {
      fuzz.since.dedupHits += 1
      fuzz.tally.dedups += 1
    }
    else written.set(hex, (written.get(hex) ?? 0) + 1)
    let chunk = fuzz.chunks.get(hex)
    if (chunk === undefined) {
      chunk = { id: result.id, content, domain, refs: 0, zeroSinceMs: 0, present: false, storedBytes: 0, tier, packs: new Set() }
      fuzz.chunks.set(hex, chunk)
    }
    if (!chunk.present) {
      chunk.present = true
      chunk.refs = 0
      chunk.zeroSinceMs = fuzz.clock.nowMs()
      chunk.storedBytes = result.storedBytes
      chunk.tier = tier
      fuzz.checkStoredBytes(t, chunk, result)
      const location = await fuzz.store.locate(result.id)
      if (location !== undefined) chunk.packs.add(location.packId)
    } else {
      t.equal(result.storedBytes, chunk.storedBytes, 'a dedup reports the stored size')
      // Re-armed only when the entry is at least half a grace period old (store.ts #dedup).
      if (chunk.refs === 0 && fuzz.clock.nowMs() - chunk.zeroSinceMs >= gcGraceMs / 2) chunk.zeroSinceMs = fuzz.clock.nowMs()
    }
  }
  for (const [hex, count] of written) {
    if (wasPresent.get(hex) === true || count !== 1) t.fail(`chunk ${hex} was written ${count} times though it was ${wasPresent.get(hex) ? '' : 'not '}stored before`)
  }
  fuzz.note(`put ${puts.map(({ content, domain, tier }) => `${content.name}/${content.kind}/${content.bytes.length}B/d${domain}/${tier}`).join(', ')} -> ${results.map((result) => (result.deduplicated ? 'dedup' : 'new')).join(',')}`)
}

const newTier = (fuzz: Fuzz): Tier => (fuzz.random() < 0.15 ? 'cold' : 'hot')

const putNew: Operation = (t, fuzz) => putContent(t, fuzz, fuzz.newContent('random'), plainDomain, newTier(fuzz))
const putCompressible: Operation = (t, fuzz) => putContent(t, fuzz, fuzz.newContent('compressible'), plainDomain, newTier(fuzz))
const putEncrypted: Operation = (t, fuzz) => putContent(t, fuzz, fuzz.newContent(fuzz.random() < 0.5 ? 'random' : 'compressible'), fuzz.domain, newTier(fuzz))

/** The same bytes again, in the same domain (dedup, or a rewrite once collected). */
const putAgain: Operation = async (t, fuzz) => {
  const known = [...fuzz.chunks.values()]
  if (known.length === 0) return putNew(t, fuzz)
  const chunk = fuzz.pick(known)
  return putContent(t, fuzz, chunk.content, chunk.domain, newTier(fuzz))
}

/** The same bytes in the other domain: a different id, never deduplicated across domains. */
const putOtherDomain: Operation = async (t, fuzz) => {
  if (fuzz.contents.length === 0) return putNew(t, fuzz)
  const content = fuzz.pick(fuzz.contents)
  const domains = new Set([...fuzz.chunks.values()].filter((chunk) => chunk.content === content).map((chunk) => chunk.domain))
  return putContent(t, fuzz, content, domains.has(plainDomain) ? fuzz.domain : plainDomain, 'hot')
}

const putBurst: Operation = async (t, fuzz) => {
  const puts: Array<{ content: Content; domain: KeyDomainId; tier: Tier }> = []
  for (let count = 2 + Math.floor(fuzz.random() * 6); count > 0; count--) {
    const again = puts.length > 0 && fuzz.random() < 0.4
    puts.push(again ? fuzz.pick(puts) : { content: fuzz.newContent(fuzz.random() < 0.7 ? 'random' : 'compressible'), domain: fuzz.random() < 0.3 ? fuzz.domain : plainDomain, tier: 'hot' })
  }
  await putMany(t, fuzz, puts)
}

/** One transaction of addRefs/dropRefs (duplicates included); applied to the model in order. */
async function refTransaction(t: Test, fuzz: Fuzz, abort: boolean): Promise<void> {
  const present = [...fuzz.chunks.values()].filter((chunk) => chunk.present)
  if (present.length === 0) return
  const planned: Array<{ add: boolean; ids: ChunkId[] }> = []
  const refs = new Map([...fuzz.chunks.values()].map((chunk) => [chunkIdHex(chunk.id), chunk.refs]))
  for (let calls = 1 + Math.floor(fuzz.random() * 3); calls > 0; calls--) {
    const add = fuzz.random() < 0.55
    const ids: ChunkId[] = []
    for (let count = 1 + Math.floor(fuzz.random() * 4); count > 0; count--) {
      const candidates = add ? present : present.filter((chunk) => (refs.get(chunkIdHex(chunk.id)) ?? 0) > 0)
      if (candidates.length === 0) break
      const chunk = fuzz.pick(candidates)
      const hex = chunkIdHex(chunk.id)
      refs.set(hex, (refs.get(hex) ?? 0) + (add ? 1 : -1))
      ids.push(chunk.id)
    }
    if (ids.length > 0) planned.push({ add, ids })
  }
  const rollback = new Error('rollback on purpose')
  const committed = fuzz.meta.transact(async (tx) => {
    for (const { add, ids } of planned) await (add ? fuzz.store.addRefs(tx, ids) : fuzz.store.dropRefs(tx, ids))
    if (abort) throw rollback
  })
  fuzz.note(`${abort ? 'aborted ' : ''}refs ${planned.map(({ add, ids }) => `${add ? '+' : '-'}[${ids.map((id) => chunkIdHex(id).slice(0, 8)).join(' ')}]`).join(' ')}`)
  if (abort) {
    fuzz.tally.rollbacks += 1
    await t.rejects(committed, rollback, 'an aborted transaction rejects with its error')
    return
  }
  await committed
  for (const { add, ids } of planned) {
    for (const id of ids) {
      const chunk = fuzz.chunks.get(chunkIdHex(id))!
      chunk.refs += add ? 1 : -1
      if (chunk.refs === 0) chunk.zeroSinceMs = fuzz.clock.nowMs()
    }
  }
}

const references: Operation = (t, fuzz) => refTransaction(t, fuzz, false)
const abortedReferences: Operation = (t, fuzz) => refTransaction(t, fuzz, true)

/** addRefs on a collected chunk is CHUNK_MISSING, and the whole transaction rolls back. */
const referenceCollected: Operation = async (t, fuzz) => {
  const collected = [...fuzz.chunks.values()].filter((chunk) => !chunk.present)
  const present = [...fuzz.chunks.values()].filter((chunk) => chunk.present)
  if (collected.length === 0 || present.length === 0) return
  const gone = fuzz.pick(collected)
  const alive = fuzz.pick(present)
  fuzz.note(`addRefs [${chunkIdHex(alive.id).slice(0, 8)} ${chunkIdHex(gone.id).slice(0, 8)}] (collected) -> CHUNK_MISSING`)
  fuzz.tally.missing += 1
  await t.rejects(
    fuzz.meta.transact(async (tx) => fuzz.store.addRefs(tx, [alive.id, gone.id])),
    { code: 'CHUNK_MISSING' },
  )
}

const advanceClock: Operation = async (_t, fuzz) => {
  const deltaMs = Math.floor(fuzz.random() * 7000)
  fuzz.clock.advance(deltaMs)
  fuzz.note(`clock +${deltaMs} ms`)
}

const collectGarbage: Operation = async (t, fuzz) => {
  const nowMs = fuzz.clock.nowMs()
  const due = [...fuzz.chunks.values()].filter((chunk) => chunk.present && chunk.refs === 0 && nowMs - chunk.zeroSinceMs >= gcGraceMs)
  const report = await fuzz.store.collectGarbage()
  fuzz.note(`gc -> ${report.collectedChunks} collected, model expects ${due.length}`)
  t.equal(report.collectedChunks, due.length, 'GC collects exactly the zero-ref chunks past the grace period')
  t.equal(report.collectedBytes, due.reduce((sum, chunk) => sum + chunk.storedBytes, 0), 'GC reports their stored bytes')
  for (const chunk of due) chunk.present = false
  fuzz.since.gcCollected += report.collectedChunks
  fuzz.tally.collected += report.collectedChunks
}

const compact: Operation = async (t, fuzz) => {
  const report = await fuzz.store.compact()
  fuzz.note(`compact -> ${JSON.stringify(report)}`)
  t.ok(report.framesCopied >= 0 && report.packsCompacted >= 0)
  fuzz.tally.packsCompacted += report.packsCompacted
  fuzz.tally.framesCopied += report.framesCopied
  await learnPacks(fuzz)
}

const moveToTier: Operation = async (t, fuzz) => {
  const known = [...fuzz.chunks.values()]
  if (known.length === 0) return
  const picked = new Map<string, ModelChunk>()
  for (let count = 1 + Math.floor(fuzz.random() * 6); count > 0; count--) {
    const chunk = fuzz.pick(known)
    picked.set(chunkIdHex(chunk.id), chunk)
  }
  const target: Tier = fuzz.pick(tiers)
  const chunks = [...picked.values()]
  const report = await fuzz.store.moveToTier(chunks.map((chunk) => chunk.id), target)
  fuzz.note(`move ${chunks.length} to ${target} -> ${JSON.stringify(report)}`)
  const present = chunks.filter((chunk) => chunk.present)
  t.same(
    { moved: report.movedChunks, already: report.alreadyInTier, missing: report.missing },
    { moved: present.filter((chunk) => chunk.tier !== target).length, already: present.filter((chunk) => chunk.tier === target).length, missing: chunks.length - present.length },
    'the move report matches the model',
  )
  for (const chunk of present) chunk.tier = target
  fuzz.tally.moved += report.movedChunks
  await learnPacks(fuzz)
}

/** Record the pack each present chunk lives in now (compaction and moves write new frames). */
async function learnPacks(fuzz: Fuzz): Promise<void> {
  for (const chunk of fuzz.chunks.values()) {
    if (!chunk.present) continue
    const location = await fuzz.store.locate(chunk.id)
    if (location !== undefined) chunk.packs.add(location.packId)
  }
}

/**
 * Close and reopen. Recovery seals the packs the writers had open; a collected chunk whose dead
 * frame sits in such a pack is indexed again as a new zero-ref chunk (docs/format/pack.md 1.5).
 */
const restart: Operation = async (t, fuzz) => {
  const open = new Set<number>(Object.values(fuzz.store.currentPackIds()).filter((packId) => packId !== undefined))
  await fuzz.close()
  await fuzz.open()
  const recovery = fuzz.store.recovery
  t.same(recovery.damaged, [], 'recovery finds no damage after a clean close')
  t.ok(recovery.packs.every((pack) => pack.sealed && pack.truncatedBytes === 0), 'recovery seals the open packs without truncating')
  const revived = [...fuzz.chunks.values()].filter((chunk) => !chunk.present && [...chunk.packs].some((packId) => open.has(packId)))
  for (const chunk of revived) {
    chunk.present = true
    chunk.refs = 0
    chunk.zeroSinceMs = fuzz.clock.nowMs()
    chunk.tier = (await fuzz.store.locate(chunk.id))?.tier ?? chunk.tier
  }
  const indexed = recovery.packs.reduce((sum, pack) => sum + pack.framesIndexed, 0)
  fuzz.tally.restarts += 1
  fuzz.tally.revived += revived.length
  fuzz.note(`restart (packs open: ${[...open].join(',')}) -> recovered ${recovery.packs.length} packs, ${indexed} frames re-indexed, model revives ${revived.length}`)
  t.equal(indexed, revived.length, 'recovery re-indexes exactly the collected chunks with frames in the open packs')
}

const scrub: Operation = async (t, fuzz) => {
  const report = await fuzz.store.scrub()
  fuzz.note(`scrub -> ${report.checkedChunks} checked, ${report.corrupt.length} corrupt`)
  t.same({ corrupt: report.corrupt, missingPacks: report.missingPacks }, { corrupt: [], missingPacks: [] }, 'scrub is clean')
  t.equal(report.checkedChunks, [...fuzz.chunks.values()].filter((chunk) => chunk.present).length, 'scrub checks every stored chunk')
}

const operations: Array<[weight: number, operation: Operation]> = [
  [14, putNew],
  [6, putCompressible],
  [8, putEncrypted],
  [8, putAgain],
  [3, putOtherDomain],
  [4, putBurst],
  [16, references],
  [3, abortedReferences],
  [2, referenceCollected],
  [10, advanceClock],
  [6, collectGarbage],
  [4, compact],
  [4, moveToTier],
  [3, restart],
  [2, scrub],
]
const totalWeight = operations.reduce((sum, [weight]) => sum + weight, 0)

function pickOperation(fuzz: Fuzz): Operation {
  let roll = fuzz.random() * totalWeight
  for (const [weight, operation] of operations) {
    roll -= weight
    if (roll < 0) return operation
  }
  return operations[0]![1]
}

// ---- the agreement check after every step -------------------------------------------------

async function checkAgreement(t: Test, fuzz: Fuzz): Promise<boolean> {
  const problems: string[] = []
  const store = fuzz.store
  for (const chunk of fuzz.chunks.values()) {
    const name = `${chunkIdHex(chunk.id).slice(0, 12)} (${chunk.content.name}, refs ${chunk.refs})`
    const read = await store.get(chunk.id).catch((error: unknown) => error)
    if (chunk.present) {
      if (!(read instanceof Buffer)) problems.push(`${name} should read back but: ${String(read)}`)
      else if (!read.equals(chunk.content.bytes)) problems.push(`${name} read back different bytes`)
      const location = await store.locate(chunk.id)
      if (location?.tier !== chunk.tier) problems.push(`${name} is in tier ${location?.tier}, model says ${chunk.tier}`)
    } else if (!isStoreError(read, 'NOT_FOUND')) {
      problems.push(`${name} was collected but get gave ${read instanceof Buffer ? 'bytes' : String(read)}`)
    }
  }
  const counts = await fuzz.meta.read(async (tx) => Promise.all([...fuzz.chunks.values()].map((chunk) => store.refCount(tx, chunk.id))))
  ;[...fuzz.chunks.values()].forEach((chunk, at) => {
    const expected = chunk.present ? chunk.refs : 0
    if (counts[at] !== expected) problems.push(`${chunkIdHex(chunk.id).slice(0, 12)} has refcount ${counts[at]}, model says ${expected}`)
  })
  const stats = store.stats()
  const liveBytes = [...fuzz.chunks.values()].filter((chunk) => chunk.present).reduce((sum, chunk) => sum + frameBytesOf(chunk.storedBytes), 0)
  if (stats.liveBytes !== liveBytes) problems.push(`stats.liveBytes ${stats.liveBytes}, model says ${liveBytes}`)
  if (stats.deadBytes < 0) problems.push(`stats.deadBytes ${stats.deadBytes} < 0`)
  if (stats.puts !== fuzz.since.puts || stats.dedupHits !== fuzz.since.dedupHits || stats.gcCollectedChunks !== fuzz.since.gcCollected) {
    problems.push(`stats counters ${JSON.stringify({ puts: stats.puts, dedupHits: stats.dedupHits, gc: stats.gcCollectedChunks })}, model ${JSON.stringify(fuzz.since)}`)
  }
  const paths = fuzz.tierPaths()
  for (const tier of tiers) {
    const files = (await readdir(paths[tier])).filter((name) => name.endsWith('.pack')).length
    if (stats.packs[tier] !== files) problems.push(`stats.packs.${tier} ${stats.packs[tier]}, ${files} pack files on disk`)
  }
  if (problems.length === 0) return true
  t.fail(`the store and the model disagree:\n  ${problems.slice(0, 10).join('\n  ')}`)
  return false
}

// ---- the runs -----------------------------------------------------------------------------

t.comment(`fuzz seed ${baseSeed}: ${sequenceCount} sequences of ${stepsPerSequence} steps (replay: CAIRN_FUZZ_SEED=${baseSeed})`)
// A long run takes many minutes: no file timeout (the default run stays well under 30 s).
if (long) t.setTimeout(0)

for (let sequence = 0; sequence < sequenceCount; sequence++) {
  const seed = baseSeed + sequence
  t.test(`sequence ${sequence} (seed ${seed})`, async (t) => {
    const fuzz = new Fuzz(seed)
    t.teardown(() => fuzz.destroy())
    await fuzz.open()
    for (let step = 0; step < stepsPerSequence; step++) {
      const before = t.counts.fail
      try {
        await pickOperation(fuzz)(t, fuzz)
      } catch (error) {
        t.fail(`step ${step} threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
      }
      const agreed = await checkAgreement(t, fuzz)
      if (!agreed || t.counts.fail > before) {
        t.comment(`FAILED at step ${step} of seed ${seed} (${fuzz.useLevel ? 'LevelMetaStore' : 'MemoryMetaStore'}); replay: CAIRN_FUZZ_SEED=${seed} CAIRN_FUZZ_SEQUENCES=1`)
        t.comment(`recent operations:\n  ${fuzz.log.join('\n  ')}`)
        return
      }
    }
    const present = [...fuzz.chunks.values()].filter((chunk) => chunk.present)
    t.comment(`${fuzz.chunks.size} chunks seen, ${present.length} stored at the end, ${present.filter((chunk) => chunk.refs > 0).length} referenced; ${JSON.stringify(fuzz.tally)}`)
  })
}
