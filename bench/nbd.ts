// NBD volumes vs nbdkit's file plugin (fio --ioengine=nbd, TCP and Unix socket), plus snapshot and restore of a volume
//
// What it measures, in one run on the same disk:
// - the real Cairn server (`node src/main/cli.ts server`, temp data dir, 127.0.0.1 ports and a
//   Unix socket) serving an io2 volume at 256,000 IOPS (so its token buckets do not limit), and
//   nbdkit's file plugin serving a file in the same temp dir (one nbdkit per transport: it
//   cannot listen on TCP and a Unix socket at once);
// - fio --ioengine=nbd against both, each case back to back (alternating which goes first, so
//   drift on a shared machine hits both alike): 4 KiB randread and randwrite at QD32 with 1 and
//   2 jobs (2 jobs = 2 NBD connections), 1 MiB sequential read and write at QD16, over TCP and
//   the Unix socket, all inside one region (--region) written once beforehand (that first write
//   is reported too). Columns: IOPS, MB/s, p99 completion latency, and server CPU per I/O (utime
//   + stime of the server process from /proc/PID/stat around the fio run), each also as a
//   ratio Cairn / nbdkit;
// - snapshot and restore (bench/nbd-snapshot.ts): time and bytes stored for the incremental
//   snapshot of a --volume-size volume with 1% changed, and sequential read throughput of a
//   volume restored from it, lazy and after eager hydration.
// Both servers read and write through the page cache (neither uses O_DIRECT), and fio runs on
// the same 2 cores as the server: the numbers are protocol + server CPU cost, not the disk's.
//
// Run: npm run bench -- nbd [--quick] [--seconds 6] [--region 1GiB] [--volume-size 10GiB]
//      [--small-writes] [--only io|snapshot] [--transports tcp,unix] [--dir /path] [--json]
// Takes 8-10 minutes with the defaults on the 2-core project machine, ~3 with --quick.
// Needs fio (with the nbd engine), nbdkit and nbdinfo. Never: a test (timings depend on the
// machine); leaves a server or its temp directory behind on success, failure or Ctrl-C.
import { cleanUpOnInterrupt } from './interrupt.ts'
import { mkdtemp, open, rm } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { GiB, KiB, MiB, parseSize } from '../src/lib/index.ts'
import { runFio, type FioJob, type FioResult } from './nbd-fio.ts'
import { runSnapshotPhase, type SnapshotPhaseResult } from './nbd-snapshot.ts'
import { startCairn, startNbdkit, type CairnServer, type NbdkitServer, type ServerProcess, type Transport } from './nbd-servers.ts'
import { printIoTable, printSnapshotPhase, printTargets } from './nbd-report.ts'

interface Options {
  seconds: number
  regionBytes: number
  volumeSizeBytes: number
  smallWrites: boolean
  phases: { io: boolean; snapshot: boolean }
  transports: Transport[]
  parent: string
  json: boolean
}

interface Case {
  name: string
  rw: FioJob['rw']
  blockBytes: number
  iodepth: number
  jobs: number
  /** What the target compares: IOPS (random) or MB/s (sequential). */
  target: 'iops' | 'throughput'
}

const cases: Case[] = [
  { name: '4 KiB randread QD32 x1', rw: 'randread', blockBytes: 4 * KiB, iodepth: 32, jobs: 1, target: 'iops' },
  { name: '4 KiB randread QD32 x2', rw: 'randread', blockBytes: 4 * KiB, iodepth: 32, jobs: 2, target: 'iops' },
  { name: '4 KiB randwrite QD32 x1', rw: 'randwrite', blockBytes: 4 * KiB, iodepth: 32, jobs: 1, target: 'iops' },
  { name: '4 KiB randwrite QD32 x2', rw: 'randwrite', blockBytes: 4 * KiB, iodepth: 32, jobs: 2, target: 'iops' },
  { name: '1 MiB read QD16', rw: 'read', blockBytes: MiB, iodepth: 16, jobs: 1, target: 'throughput' },
  { name: '1 MiB write QD16', rw: 'write', blockBytes: MiB, iodepth: 16, jobs: 1, target: 'throughput' },
]

export interface Comparison {
  name: string
  transport: Transport
  target: Case['target'] | 'none'
  cairn: FioResult
  nbdkit: FioResult
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      seconds: { type: 'string' },
      region: { type: 'string' },
      'volume-size': { type: 'string' },
      'small-writes': { type: 'boolean', default: false },
      only: { type: 'string', default: '' },
      transports: { type: 'string', default: 'tcp,unix' },
      dir: { type: 'string', default: tmpdir() },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    console.log('npm run bench -- nbd [--quick] [--seconds N per fio run, default 6 (quick 3)] [--region fio working set, default 1GiB (quick 256MiB)]')
    console.log('                     [--volume-size snapshot test volume, whole GiB >= 4, default 10GiB (quick 4GiB)] [--only io|snapshot]')
    console.log('                     [--small-writes: also snapshot 1% of the bytes changed by 4 KiB writes (slow: ~27% of the extents)]')
    console.log('                     [--transports tcp,unix] [--dir parent of the temp dir] [--json]')
    process.exit(0)
  }
  const seconds = Number(values.seconds ?? (values.quick ? 3 : 6))
  if (!(seconds >= 1)) throw new TypeError('--seconds must be at least 1')
  const regionBytes = parseSize(values.region ?? (values.quick ? '256MiB' : '1GiB'))
  if (!(regionBytes >= 16 * MiB && regionBytes % MiB === 0)) throw new TypeError('--region must be whole MiB, at least 16 MiB')
  const volumeSizeBytes = parseSize(values['volume-size'] ?? (values.quick ? '4GiB' : '10GiB'))
  if (!(volumeSizeBytes >= 4 * GiB && volumeSizeBytes % GiB === 0)) throw new TypeError('--volume-size must be whole GiB, at least 4 GiB (the smallest io2 volume)')
  if (!['', 'io', 'snapshot'].includes(values.only)) throw new TypeError('--only must be io or snapshot')
  const transports = values.transports.split(',').filter((name) => name !== '')
  if (transports.length === 0 || !transports.every((name) => name === 'tcp' || name === 'unix')) throw new TypeError('--transports takes tcp, unix or both')
  return {
    seconds,
    regionBytes,
    volumeSizeBytes,
    smallWrites: values['small-writes'],
    phases: { io: values.only !== 'snapshot', snapshot: values.only !== 'io' },
    transports: transports as Transport[],
    parent: values.dir,
    json: values.json,
  }
}

// ---- I/O comparison ---------------------------------------------------------------------------

async function runIoPhase(cairn: CairnServer, options: Options, root: string, started: ServerProcess[], log: (line: string) => void): Promise<Comparison[]> {
  const volume = await cairn.admin.request<{ volumeId: string }>('POST', '/admin/v1/volumes', {
    size: 256 * GiB, // sparse; 1,000 IOPS per GiB makes 256 GiB the size with io2's maximum IOPS
    type: 'io2',
    iops: 256_000,
    description: 'bench nbd io',
  })
  const imagePath = join(root, 'nbdkit.img')
  const image = await open(imagePath, 'wx')
  await image.truncate(options.regionBytes)
  await image.close()
  const nbdkit: Partial<Record<Transport, NbdkitServer>> = {}
  for (const transport of options.transports) {
    const server = await startNbdkit(imagePath, transport, join(root, 'nbdkit.sock'))
    started.push(server)
    nbdkit[transport] = server
  }
  const cairnUri = (transport: Transport): string =>
    transport === 'tcp' ? `nbd://${cairn.nbdAddress}/${volume.volumeId}` : `nbd+unix:///${volume.volumeId}?socket=${cairn.nbdSocketPath}`
  const comparisons: Comparison[] = []
  let order = 0
  const compare = async (benchCase: Case, transport: Transport, seconds: number | undefined, target: Comparison['target']): Promise<void> => {
    log(`  ${transport} ${benchCase.name} ...`)
    const job = (uri: string): FioJob => ({ name: benchCase.name.replace(/\W+/g, '-'), uri, ...pick(benchCase), regionBytes: options.regionBytes, seconds })
    const runCairn = (): Promise<FioResult> => runFio(job(cairnUri(transport)), cairn.pid, root)
    const kit = nbdkit[transport]!
    const runNbdkit = (): Promise<FioResult> => runFio(job(kit.uri), kit.pid, root)
    // Alternate who goes first so slow drift (other users, writeback) does not favour one.
    const first = order++ % 2 === 0
    const a = await (first ? runCairn() : runNbdkit())
    const b = await (first ? runNbdkit() : runCairn())
    comparisons.push({ name: benchCase.name, transport, target, cairn: first ? a : b, nbdkit: first ? b : a })
  }
  // The region is written once first (fresh extents: Cairn allocates them); that is a result too.
  const fill: Case = { name: '1 MiB write QD16, first write', rw: 'write', blockBytes: MiB, iodepth: 16, jobs: 1, target: 'throughput' }
  await compare(fill, options.transports[0]!, undefined, 'none')
  for (const transport of options.transports) {
    for (const benchCase of cases) await compare(benchCase, transport, options.seconds, benchCase.target)
  }
  await cairn.admin.request('DELETE', `/admin/v1/volumes/${volume.volumeId}`)
  return comparisons
}

const pick = (benchCase: Case): Pick<FioJob, 'rw' | 'blockBytes' | 'iodepth' | 'jobs'> => ({
  rw: benchCase.rw,
  blockBytes: benchCase.blockBytes,
  iodepth: benchCase.iodepth,
  jobs: benchCase.jobs,
})

// ---- main ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const options = parseOptions()
  const root = await mkdtemp(join(options.parent, 'cairn-bench-nbd-'))
  const started: ServerProcess[] = []
  const interrupt = cleanUpOnInterrupt(async () => {
    await Promise.allSettled(started.map((server) => server.stop()))
    await rm(root, { recursive: true, force: true })
  })
  const log = (line: string): void => {
    if (!options.json) console.log(line)
  }
  const startMs = performance.now()
  const loadBefore = loadavg()
  try {
    log(`node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), load average ${loadBefore.map((load) => load.toFixed(2)).join(' ')}, data under ${root}`)
    log(`fio ${options.seconds} s per run, region ${options.regionBytes / MiB} MiB, snapshot volume ${options.volumeSizeBytes / GiB} GiB`)
    const cairn = await startCairn(root)
    started.push(cairn)
    let comparisons: Comparison[] = []
    let snapshot: SnapshotPhaseResult | undefined
    if (options.phases.io) {
      log('I/O: Cairn vs nbdkit file plugin ...')
      comparisons = await runIoPhase(cairn, options, root, started, log)
    }
    if (options.phases.snapshot) {
      log('snapshot and restore ...')
      snapshot = await runSnapshotPhase(cairn, options.volumeSizeBytes, options.smallWrites, root, log)
    }
    const loadAfter = loadavg()
    const totalSeconds = (performance.now() - startMs) / 1000
    if (options.json) {
      const date = new Date().toISOString()
      console.log(JSON.stringify({ date, node: process.version, cpus: cpus().length, loadBefore, loadAfter, totalSeconds, options, comparisons, snapshot }, null, 2))
      return
    }
    if (comparisons.length > 0) {
      printIoTable(comparisons)
      printTargets(comparisons)
    }
    if (snapshot !== undefined) printSnapshotPhase(snapshot)
    log(`\nload average before ${loadBefore.map((load) => load.toFixed(2)).join(' ')}, after ${loadAfter.map((load) => load.toFixed(2)).join(' ')}; total ${totalSeconds.toFixed(0)} s`)
  } catch (error) {
    // Interrupted: the servers were stopped under the running phase; the signal handler exits.
    return await interrupt.rethrow(error)
  } finally {
    await interrupt.cleanUp()
  }
}

await main()
