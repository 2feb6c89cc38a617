// Chunk store ingest and read MB/s (1 MiB / 64 KiB; plain, compressed, encrypted) vs raw hash, hash+AES and disk fsync rates
//
// What it measures, in one run on this machine:
// - the single-core rate of the store's chunk-id hash (and of keyed hash + AES-256-GCM, the
//   encrypted path) from bench/primitives.ts: the CPU ceiling of one put pipeline;
// - a disk baseline without fio: sequential 1 MiB writes with an fsync after each (and, for
//   context, 32 MiB of writes per fsync, what group commit can reach): the physical ceiling.
//   Measured before and after the store cases (a shared VM disk varies); the better one counts;
// - the chunk store on LevelMetaStore and real pack files under a temp dir, its normal durable
//   path (every put waits for fsync + metadata commit; concurrent puts share fsyncs), for each
//   case: ingest of unique chunks by many concurrent writers, then reads of those chunks (every
//   read re-verifies the id; the data was just written, so reads come from the page cache).
// Each case prints MB/s (wall), the ratio to the raw hash (or hash+cipher) rate, the ratio to the
// disk baseline, and the process CPU seconds per GB (process.cpuUsage: all threads, including
// LevelDB's and libuv's; the kernel's share, system time, shown apart) and MB per user-space
// CPU-second (what Cairn's own code, hashing included, costs without the kernel's I/O path).
//
// Run: npm run bench -- chunk [--seconds 4] [--dir /path] [--json] [--cases 1MiB,plain]
// Never: a test (timings depend on the machine); leaves its temp directory behind on success,
// failure or Ctrl-C.
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ChunkStore, KeyRing, type HashAlgorithm, type PutResult } from '../src/chunk/index.ts'
import { masterKeyFromBytes } from '../src/crypto/index.ts'
import { nodeIo } from '../src/io/index.ts'
import { formatSize, KiB, MiB, plainDomain, systemClock, systemRandom, type ChunkId, type KeyDomainId } from '../src/lib/index.ts'
import { LevelMetaStore } from '../src/meta/index.ts'
import { measureAeadThroughput, measureHashThroughput, sampleData, type BenchHash } from './primitives.ts'

type Mode = 'plain' | 'compressed' | 'encrypted'

interface Case {
  name: string
  chunkBytes: number
  mode: Mode
  concurrency: number
}

interface Rates {
  bytes: number
  wallSeconds: number
  /** user + system, all threads of this process */
  cpuSeconds: number
  systemSeconds: number
}

interface CaseResult {
  name: string
  chunkBytes: number
  mode: Mode
  concurrency: number
  ingest: Rates & { storedBytes: number; puts: number; syncs: number }
  read: Rates & { gets: number }
  /** bytes per CPU-second of the raw hash (or keyed hash + AES-256-GCM) for this chunk size. */
  referenceBytesPerSecond: number
  referenceName: string
}

interface Baselines {
  hashAlgorithm: HashAlgorithm
  /** bytes per CPU-second, by chunk size */
  hash: Record<number, number>
  keyedHash: Record<number, number>
  aead: Record<number, number>
  /** bytes per second: 1 MiB write + fsync, sequential (the better of before and after) */
  diskFsyncEach1MiB: number
  /** bytes per second: 32 x 1 MiB writes, then one fsync (the better of before and after) */
  diskFsyncEvery32MiB: number
  /** Both disk measurements, taken before and after the store cases (a shared VM disk varies). */
  diskSamples: DiskSample[]
}

interface DiskRate {
  bytesPerSecond: number
  /** CPU of this process per GB written: the kernel's write + fsync path (system time, mostly). */
  cpuSecondsPerGigabyte: number
}

interface DiskSample {
  when: 'before' | 'after'
  fsyncEach1MiB: DiskRate
  fsyncEvery32MiB: DiskRate
}

type DiskBaselines = Pick<Baselines, 'diskFsyncEach1MiB' | 'diskFsyncEvery32MiB' | 'diskSamples'>

const chunkSizes = [1 * MiB, 64 * KiB]
const modes: Mode[] = ['plain', 'compressed', 'encrypted']
/** Enough writers that group commit has a full batch queued while the previous one syncs. */
const concurrencyFor = (chunkBytes: number): number => (chunkBytes >= MiB ? 32 : 128)
/** Each writer rotates over its own buffers; together at least this much, so caches stay cold. */
const rotationBytesMin = 64 * MiB

function parseOptions(): { seconds: number; parent: string; json: boolean; filters: string[]; concurrency: number | undefined } {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '4' },
      dir: { type: 'string', default: tmpdir() },
      json: { type: 'boolean', default: false },
      cases: { type: 'string', default: '' },
      concurrency: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    console.log('npm run bench -- chunk [--seconds N per phase, default 4] [--dir parent of the temp data dir] [--json]')
    console.log('                       [--cases comma-separated filters, e.g. 1MiB,encrypted] [--concurrency writers]')
    process.exit(0)
  }
  const seconds = Number(values.seconds)
  if (!(seconds > 0)) throw new TypeError('--seconds must be a positive number')
  const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency)
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency > 0)) throw new TypeError('--concurrency must be a positive integer')
  const filters = values.cases.split(',').filter((filter) => filter !== '')
  return { seconds, parent: values.dir, json: values.json, filters, concurrency }
}

// ---- baselines ----------------------------------------------------------------------------

function measureBaselineHashes(algorithm: HashAlgorithm, seconds: number): Omit<Baselines, keyof DiskBaselines> {
  const keyed: BenchHash = algorithm === 'blake3' ? 'blake3-keyed' : 'hmac-sha256'
  const result: Omit<Baselines, keyof DiskBaselines> = { hashAlgorithm: algorithm, hash: {}, keyedHash: {}, aead: {} }
  for (const chunkBytes of chunkSizes) {
    result.hash[chunkBytes] = measureHashThroughput(algorithm, chunkBytes, seconds).bytesPerCpuSecond
    result.keyedHash[chunkBytes] = measureHashThroughput(keyed, chunkBytes, seconds).bytesPerCpuSecond
    result.aead[chunkBytes] = measureAeadThroughput(chunkBytes, seconds).bytesPerCpuSecond
  }
  return result
}

async function measureDisk(directory: string, seconds: number, when: 'before' | 'after'): Promise<DiskSample> {
  return { when, fsyncEach1MiB: await measureDiskAppend(directory, 1, seconds), fsyncEvery32MiB: await measureDiskAppend(directory, 32, seconds) }
}

function diskBaselines(samples: DiskSample[]): DiskBaselines {
  return {
    diskFsyncEach1MiB: Math.max(...samples.map((sample) => sample.fsyncEach1MiB.bytesPerSecond)),
    diskFsyncEvery32MiB: Math.max(...samples.map((sample) => sample.fsyncEvery32MiB.bytesPerSecond)),
    diskSamples: samples,
  }
}

/** Sequential appends of 1 MiB blocks to a fresh file, fsync after every `blocksPerSync`. */
async function measureDiskAppend(directory: string, blocksPerSync: number, seconds: number): Promise<DiskRate> {
  const path = join(directory, `disk-baseline-${blocksPerSync}.bin`)
  const handle = await open(path, 'wx')
  const block = randomBytes(MiB)
  let bytes = 0
  const startMs = performance.now()
  const cpuStart = process.cpuUsage()
  try {
    do {
      for (let i = 0; i < blocksPerSync; i++) {
        await handle.write(block, 0, block.length, bytes)
        bytes += block.length
      }
      await handle.sync()
    } while (performance.now() - startMs < seconds * 1000)
  } finally {
    await handle.close()
    await rm(path, { force: true })
  }
  const cpu = process.cpuUsage(cpuStart)
  return { bytesPerSecond: bytes / ((performance.now() - startMs) / 1000), cpuSecondsPerGigabyte: (cpu.user + cpu.system) / 1e6 / (bytes / 1e9) }
}

// ---- the store ----------------------------------------------------------------------------

interface OpenedStore {
  store: ChunkStore
  meta: LevelMetaStore
  domain: KeyDomainId
}

async function openStore(directory: string): Promise<OpenedStore> {
  await mkdir(directory, { recursive: true })
  const meta = await LevelMetaStore.open(join(directory, 'meta'))
  try {
    const keyRing = await KeyRing.open({ meta, masterKey: masterKeyFromBytes(randomBytes(32)), random: systemRandom })
    const domain = await keyRing.createDomain()
    const store = await ChunkStore.open({
      io: nodeIo,
      meta,
      keyRing,
      clock: systemClock,
      random: systemRandom,
      tierPaths: { hot: join(directory, 'hot'), cold: join(directory, 'cold') },
    })
    return { store, meta, domain }
  } catch (error) {
    await meta.close()
    throw error
  }
}

/** Per writer, buffers of chunkBytes (random, or text-like for the compressed case). */
function writerBuffers(mode: Mode, chunkBytes: number, concurrency: number): Buffer[][] {
  const perWriter = Math.max(2, Math.ceil(rotationBytesMin / (concurrency * chunkBytes)))
  const data = sampleData(mode === 'compressed' ? 'text' : 'random', perWriter * concurrency * chunkBytes, 7)
  return Array.from({ length: concurrency }, (_, writer) =>
    Array.from({ length: perWriter }, (_, at) => {
      const offset = (writer * perWriter + at) * chunkBytes
      return data.subarray(offset, offset + chunkBytes)
    }),
  )
}

async function runWorkers(concurrency: number, seconds: number, work: (writer: number) => Promise<number>): Promise<Rates> {
  const endMs = performance.now() + seconds * 1000
  const cpuStart = process.cpuUsage()
  const wallStartMs = performance.now()
  let bytes = 0
  await Promise.all(
    Array.from({ length: concurrency }, async (_, writer) => {
      while (performance.now() < endMs) {
        const done = await work(writer) // not `bytes += await ...`: that would add to a stale total
        bytes += done
      }
    }),
  )
  const cpu = process.cpuUsage(cpuStart)
  return { bytes, wallSeconds: (performance.now() - wallStartMs) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6, systemSeconds: cpu.system / 1e6 }
}

async function runCase(benchCase: Case, directory: string, seconds: number): Promise<Omit<CaseResult, 'referenceBytesPerSecond' | 'referenceName'>> {
  const { store, meta, domain } = await openStore(directory)
  try {
    const buffers = writerBuffers(benchCase.mode, benchCase.chunkBytes, benchCase.concurrency)
    const putDomain = benchCase.mode === 'encrypted' ? domain : plainDomain
    const ids: ChunkId[] = []
    let storedBytes = 0
    let sequence = 0
    const ingest = await runWorkers(benchCase.concurrency, seconds, async (writer) => {
      const own = buffers[writer]!
      const buffer = own[sequence % own.length]!
      // A unique prefix makes every chunk new (no dedup), and costs nothing to compressibility.
      buffer.writeUInt32LE(writer, 0)
      buffer.writeDoubleLE(sequence++, 4)
      const result: PutResult = await store.put(buffer, { domain: putDomain })
      ids.push(result.id)
      storedBytes += result.storedBytes
      return buffer.length
    })
    const afterIngest = store.stats()
    shuffle(ids)
    let next = 0
    const read = await runWorkers(benchCase.concurrency, seconds, async () => (await store.get(ids[next++ % ids.length]!)).length)
    return {
      name: benchCase.name,
      chunkBytes: benchCase.chunkBytes,
      mode: benchCase.mode,
      concurrency: benchCase.concurrency,
      ingest: { ...ingest, storedBytes, puts: ids.length, syncs: afterIngest.syncs },
      read: { ...read, gets: next },
    }
  } finally {
    await store.close()
    await meta.close()
    await rm(directory, { recursive: true, force: true })
  }
}

function shuffle<T>(items: T[]): void {
  for (let at = items.length - 1; at > 0; at--) {
    const other = Math.floor(Math.random() * (at + 1))
    ;[items[at], items[other]] = [items[other]!, items[at]!]
  }
}

// ---- report -------------------------------------------------------------------------------

const megabytes = (bytesPerSecond: number): string => (bytesPerSecond / 1e6).toFixed(0)
const perSecond = (rates: Rates): number => rates.bytes / rates.wallSeconds
const cpuPerGigabyte = (rates: Rates): string => {
  const gigabytes = rates.bytes / 1e9
  return `${(rates.cpuSeconds / gigabytes).toFixed(2)} (sys ${(rates.systemSeconds / gigabytes).toFixed(2)})`
}

function printTable(baselines: Baselines, results: readonly CaseResult[]): void {
  const disk = baselines.diskFsyncEach1MiB
  console.log('\n| case | MB/s | of hash (or hash+AES) | x disk fsync 1 MiB | CPU s/GB (of it kernel) | MB per CPU-s | MB per user CPU-s | stored/plain | puts per fsync |')
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
  for (const result of results) {
    const ingestRate = perSecond(result.ingest)
    const readRate = perSecond(result.read)
    const ratio = (rate: number): string => `${((rate / result.referenceBytesPerSecond) * 100).toFixed(0)}% of ${result.referenceName}`
    const stored = (result.ingest.storedBytes / Math.max(1, result.ingest.bytes)).toFixed(2)
    const putsPerSync = (result.ingest.puts / Math.max(1, result.ingest.syncs)).toFixed(1)
    const perCpu = (rates: Rates): string => megabytes(rates.bytes / rates.cpuSeconds)
    const perUserCpu = (rates: Rates): string => megabytes(rates.bytes / (rates.cpuSeconds - rates.systemSeconds))
    console.log(
      `| ingest ${result.name} | ${megabytes(ingestRate)} | ${ratio(ingestRate)} | ${(ingestRate / disk).toFixed(2)} | ` +
        `${cpuPerGigabyte(result.ingest)} | ${perCpu(result.ingest)} | ${perUserCpu(result.ingest)} | ${stored} | ${putsPerSync} |`,
    )
    console.log(`| read ${result.name} | ${megabytes(readRate)} | ${ratio(readRate)} | | ${cpuPerGigabyte(result.read)} | ${perCpu(result.read)} | ${perUserCpu(result.read)} | | |`)
  }
  const target = results.find((result) => result.chunkBytes === MiB && result.mode === 'plain')
  if (target !== undefined) {
    const reached = perSecond(target.ingest) / target.referenceBytesPerSecond
    console.log(
      `\ntarget (issue 2): 1 MiB plain ingest with fsync >= 70% of single-core ${baselines.hashAlgorithm}: ` +
        `reached ${(reached * 100).toFixed(0)}% -> ${reached >= 0.7 ? 'met' : 'NOT met'}` +
        ` (disk baseline allows ${((disk / target.referenceBytesPerSecond) * 100).toFixed(0)}% with an fsync per MiB,` +
        ` ${((baselines.diskFsyncEvery32MiB / target.referenceBytesPerSecond) * 100).toFixed(0)}% with an fsync per 32 MiB)`,
    )
  }
}

function printBaselines(baselines: Baselines): void {
  console.log(`| baseline | 1 MiB | 64 KiB |`)
  console.log('|---|---:|---:|')
  const row = (name: string, values: Record<number, number>): void =>
    console.log(`| ${name} (MB per CPU-s) | ${megabytes(values[MiB]!)} | ${megabytes(values[64 * KiB]!)} |`)
  row(baselines.hashAlgorithm, baselines.hash)
  row(`${baselines.hashAlgorithm} keyed`, baselines.keyedHash)
  row('aes-256-gcm', baselines.aead)
  row(`${baselines.hashAlgorithm} keyed + aes-256-gcm`, hashPlusCipher(baselines))
  const samples = (pick: (sample: DiskSample) => DiskRate): string =>
    baselines.diskSamples.map((sample) => `${sample.when} ${megabytes(pick(sample).bytesPerSecond)} MB/s at ${pick(sample).cpuSecondsPerGigabyte.toFixed(2)} CPU s/GB`).join('; ')
  console.log(`| disk: 1 MiB write + fsync, sequential, best MB/s (${samples((sample) => sample.fsyncEach1MiB)}) | ${megabytes(baselines.diskFsyncEach1MiB)} | |`)
  console.log(`| disk: 32 x 1 MiB writes per fsync, best MB/s (${samples((sample) => sample.fsyncEvery32MiB)}) | ${megabytes(baselines.diskFsyncEvery32MiB)} | |`)
}

/** One core doing both, one after the other: 1 / (1/hash + 1/cipher). */
function hashPlusCipher(baselines: Pick<Baselines, 'keyedHash' | 'aead'>): Record<number, number> {
  const combined: Record<number, number> = {}
  for (const chunkBytes of chunkSizes) combined[chunkBytes] = 1 / (1 / baselines.keyedHash[chunkBytes]! + 1 / baselines.aead[chunkBytes]!)
  return combined
}

// ---- main ---------------------------------------------------------------------------------

async function main(): Promise<void> {
  const options = parseOptions()
  const root = await mkdtemp(join(options.parent, 'cairn-bench-chunk-'))
  const removeRoot = (): void => {
    void rm(root, { recursive: true, force: true }).finally(() => process.exit(130))
  }
  process.once('SIGINT', removeRoot)
  process.once('SIGTERM', removeRoot)
  const log = (line: string): void => {
    if (!options.json) console.log(line)
  }
  try {
    log(`node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), data under ${root}, ${options.seconds} s per phase`)
    const probe = await openStore(join(root, 'probe'))
    const hashAlgorithm = probe.store.hashAlgorithm
    await probe.store.close()
    await probe.meta.close()
    log('measuring hash, AES and disk baselines ...')
    const hashes = measureBaselineHashes(hashAlgorithm, Math.min(options.seconds, 1.5))
    const diskBefore = await measureDisk(root, options.seconds, 'before')
    const combined = hashPlusCipher(hashes)
    const results: CaseResult[] = []
    for (const benchCase of selectedCases(options.filters, options.concurrency)) {
      log(`running ${benchCase.name} (${benchCase.concurrency} writers) ...`)
      const measured = await runCase(benchCase, join(root, benchCase.name.replace(/[^a-z0-9]+/gi, '-')), options.seconds)
      const encrypted = benchCase.mode === 'encrypted'
      results.push({
        ...measured,
        referenceBytesPerSecond: encrypted ? combined[benchCase.chunkBytes]! : hashes.hash[benchCase.chunkBytes]!,
        referenceName: encrypted ? `${hashAlgorithm} keyed+AES` : hashAlgorithm,
      })
    }
    log('measuring the disk again ...')
    const baselines: Baselines = { ...hashes, ...diskBaselines([diskBefore, await measureDisk(root, options.seconds, 'after')]) }
    if (options.json) {
      console.log(JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: cpus().length, seconds: options.seconds, baselines, results }, null, 2))
    } else {
      printBaselines(baselines)
      printTable(baselines, results)
    }
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

function selectedCases(filters: readonly string[], concurrency: number | undefined): Case[] {
  const all: Case[] = []
  for (const chunkBytes of chunkSizes) {
    for (const mode of modes) {
      all.push({ name: `${formatSize(chunkBytes)} ${mode}`, chunkBytes, mode, concurrency: concurrency ?? concurrencyFor(chunkBytes) })
    }
  }
  const normalized = (text: string): string => text.toLowerCase().replace(/\s+/g, '')
  return all.filter((benchCase) => filters.every((filter) => normalized(benchCase.name).includes(normalized(filter))))
}

await main()
