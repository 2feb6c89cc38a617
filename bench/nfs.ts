// NFSv4.1 file throughput and metadata rates: Cairn vs nfs-ganesha (VFS), same load client, ratios to ganesha
//
// What it measures, in one run on the same disk:
// - the real Cairn server (`node src/main/cli.ts server`, temp data dir, 127.0.0.1 port 0,
//   --nfs-grace-seconds 0) serving its `default` file system, and nfs-ganesha with the VFS
//   backend exporting a directory in the same temp dir (bench/nfs-servers.ts), both at /default;
// - the same load client against both (bench/nfs-client.ts: NFSv4.1 over TCP, one session,
//   --depth compounds in flight; bench/nfs-load.ts says what each line sends): a --size
//   sequential write (1 MiB UNSTABLE WRITEs + COMMIT) and read (1 MiB READs), --files small-file
//   creates (OPEN create + WRITE --file-size FILE_SYNC + CLOSE), then --seconds each of GETATTR
//   on those files and READDIR listings of their directory. Each line runs back to back on both
//   servers, alternating which goes first (drift on a shared machine hits both alike).
// Columns: the rate of each server, Cairn / ganesha (the target: >= 1 on every line), and
// CPU seconds of each server process and of the client during the line.
// The kernel client under emulation is too slow for throughput, so no line uses it.
//
// Run: npm run bench -- nfs [--quick] [--size 1GiB] [--files 10000] [--file-size 4KiB]
//      [--seconds 5] [--depth 16] [--dir /path] [--json]
// Needs nfs-ganesha and nfs-ganesha-vfs (Debian; see docs/benchmarks.md) and root (ganesha's
// VFS backend opens files by handle). Never: a test (timings depend on the machine); leaves a
// server or its temp directory behind on success, failure or Ctrl-C.
import { cleanUpOnInterrupt } from './interrupt.ts'
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { KiB, MiB, parseSize } from '../src/lib/index.ts'
import { cpuSeconds, type ServerProcess } from './nbd-servers.ts'
import { NfsSession } from './nfs-client.ts'
import { createFiles, exportRoot, listDirectory, sequentialRead, sequentialWrite, statFiles, type CreatedFiles, type PhaseCount } from './nfs-load.ts'
import { printTable, printTargets } from './nfs-report.ts'
import { ganeshaMissing, startCairnNfs, startGanesha, type NfsServerUnderTest } from './nfs-servers.ts'

export interface Options {
  sizeBytes: number
  files: number
  fileBytes: number
  seconds: number
  depth: number
  parent: string
  json: boolean
}

export type ServerName = NfsServerUnderTest['name']

export interface Measurement extends PhaseCount {
  serverCpuSeconds: number
  clientCpuSeconds: number
}

export interface Line {
  name: string
  /** What the rate counts, per second. */
  unit: 'MB/s' | 'files/s' | 'GETATTR/s' | 'entries/s'
  client: string
  results: Record<ServerName, Measurement>
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      size: { type: 'string' },
      files: { type: 'string' },
      'file-size': { type: 'string', default: '4KiB' },
      seconds: { type: 'string' },
      depth: { type: 'string', default: '16' },
      dir: { type: 'string', default: tmpdir() },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    console.log('npm run bench -- nfs [--quick] [--size sequential file, default 1GiB (quick 256MiB)] [--files small files, default 10000 (quick 2000)]')
    console.log('                     [--file-size bytes written per small file, default 4KiB, 0 for empty] [--seconds per stat/readdir line, default 5 (quick 2)]')
    console.log('                     [--depth compounds in flight, default 16] [--dir parent of the temp dir] [--json]')
    process.exit(0)
  }
  const sizeBytes = parseSize(values.size ?? (values.quick ? '256MiB' : '1GiB'))
  if (!(sizeBytes >= MiB && sizeBytes % MiB === 0)) throw new TypeError('--size must be whole MiB')
  const files = Number(values.files ?? (values.quick ? 2000 : 10_000))
  if (!(Number.isSafeInteger(files) && files >= 1)) throw new TypeError('--files must be a positive integer')
  const fileBytes = values['file-size'] === '0' ? 0 : parseSize(values['file-size'])
  if (!(fileBytes >= 0 && fileBytes <= MiB)) throw new TypeError('--file-size must be 0..1MiB')
  const seconds = Number(values.seconds ?? (values.quick ? 2 : 5))
  if (!(seconds > 0)) throw new TypeError('--seconds must be positive')
  const depth = Number(values.depth)
  if (!(Number.isSafeInteger(depth) && depth >= 1 && depth <= 64)) throw new TypeError('--depth must be 1..64')
  return { sizeBytes, files, fileBytes, seconds, depth, parent: values.dir, json: values.json }
}

interface Subject {
  server: NfsServerUnderTest
  session: NfsSession
  root: Buffer
  created?: CreatedFiles
}

/** One line: the phase on both servers back to back, who goes first alternating per line. */
async function measure(subjects: readonly Subject[], order: number, phase: (subject: Subject) => Promise<PhaseCount>): Promise<Record<ServerName, Measurement>> {
  const results = {} as Record<ServerName, Measurement>
  const sequence = order % 2 === 0 ? subjects : [...subjects].reverse()
  for (const subject of sequence) {
    const serverBefore = cpuSeconds(subject.server.pid)
    const clientBefore = process.cpuUsage()
    const count = await phase(subject)
    const client = process.cpuUsage(clientBefore)
    results[subject.server.name] = { ...count, serverCpuSeconds: cpuSeconds(subject.server.pid) - serverBefore, clientCpuSeconds: (client.user + client.system) / 1e6 }
  }
  return results
}

async function runLines(subjects: readonly Subject[], options: Options, log: (line: string) => void): Promise<Line[]> {
  const client = `bench/nfs-client.ts, NFSv4.1, ${options.depth} in flight`
  const lines: Line[] = []
  const size = options.sizeBytes >= 1024 * MiB ? `${options.sizeBytes / (1024 * MiB)} GiB` : `${options.sizeBytes / MiB} MiB`
  const run = async (name: string, unit: Line['unit'], phase: (subject: Subject) => Promise<PhaseCount>): Promise<void> => {
    log(`  ${name} ...`)
    lines.push({ name, unit, client, results: await measure(subjects, lines.length, phase) })
  }
  await run(`${size} sequential write (1 MiB UNSTABLE + COMMIT)`, 'MB/s', (s) => sequentialWrite(s.session, s.root, 'sequential', options.sizeBytes, options.depth))
  await run(`${size} sequential read (1 MiB READ)`, 'MB/s', (s) => sequentialRead(s.session, s.root, 'sequential', options.sizeBytes, options.depth))
  const fileSize = options.fileBytes === 0 ? 'empty' : options.fileBytes % KiB === 0 ? `${options.fileBytes / KiB} KiB` : `${options.fileBytes} B`
  await run(`${options.files.toLocaleString('en-US')} small-file creates (${fileSize}, open+write+close)`, 'files/s', async (s) => {
    const { count, created } = await createFiles(s.session, s.root, 'small', options.files, options.fileBytes, options.depth)
    s.created = created
    return count
  })
  await run(`stat (PUTFH+GETATTR) over those files, ${options.seconds} s`, 'GETATTR/s', (s) => statFiles(s.session, s.created!.handles, options.seconds, options.depth))
  await run(`readdir (${options.files.toLocaleString('en-US')}-entry directory, ls -l attributes), ${options.seconds} s`, 'entries/s', (s) =>
    listDirectory(s.session, s.created!.directory, options.files, options.seconds, options.depth))
  return lines
}

async function main(): Promise<void> {
  const options = parseOptions()
  const missing = ganeshaMissing()
  if (missing !== undefined) {
    console.error(`bench nfs: ${missing}`)
    process.exit(2)
  }
  const root = await mkdtemp(join(options.parent, 'cairn-bench-nfs-'))
  const started: ServerProcess[] = []
  const sessions: NfsSession[] = []
  const interrupt = cleanUpOnInterrupt(async () => {
    await Promise.allSettled(sessions.map((session) => session.close()))
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
    // One at a time, so a failed start leaves only what the cleanup stops.
    const servers: NfsServerUnderTest[] = []
    for (const start of [startCairnNfs, startGanesha]) {
      const server = await start(root)
      started.push(server)
      servers.push(server)
    }
    const subjects: Subject[] = []
    for (const server of servers) {
      const session = await NfsSession.open(server.host, server.port, options.depth, `cairn-bench-${server.name}-${process.pid}`)
      sessions.push(session)
      subjects.push({ server, session, root: await exportRoot(session, server.exportName) })
      log(`${server.version}: nfs://${server.host}:${server.port}/${server.exportName}, session of ${session.limits.slots} slots, requests up to ${session.limits.maxRequestBytes} bytes`)
    }
    const lines = await runLines(subjects, options, log)
    const loadAfter = loadavg()
    const totalSeconds = (performance.now() - startMs) / 1000
    if (options.json) {
      const versions = Object.fromEntries(servers.map((server) => [server.name, server.version]))
      console.log(JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: cpus().length, loadBefore, loadAfter, totalSeconds, options, versions, lines }, null, 2))
      return
    }
    printTable(lines)
    printTargets(lines)
    log(`\nload average before ${loadBefore.map((load) => load.toFixed(2)).join(' ')}, after ${loadAfter.map((load) => load.toFixed(2)).join(' ')}; total ${totalSeconds.toFixed(0)} s`)
  } catch (error) {
    // Interrupted: the servers were stopped under the running phase; the signal handler exits.
    return await interrupt.rethrow(error)
  } finally {
    await interrupt.cleanUp()
  }
}

await main()
