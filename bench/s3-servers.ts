// Servers of the s3 benchmark (helper of bench/s3.ts, not a benchmark on its own): Cairn, Ceph RGW, the null server
//
// Each start function brings one S3 server up on 127.0.0.1 with the benchmark's credentials and
// returns a Target: its URL, the pids whose CPU time is the server's cost (Cairn: its one
// process; RGW: radosgw plus mon, mgr and the BlueStore OSD that stores the data; null: its
// process), the pid whose memory is sampled, and stop().
// - Cairn: the real `cairn server` (native-tests/helpers/server.ts starts it) on a data dir
//   under the benchmark's temp dir, maintenance and scrub off so no background pass lands in a
//   measurement.
// - RGW: ../shared/recipes/ceph-rgw-peer/ceph-mini.sh, copied at run time into the temp dir
//   with free ports for the monitor and RGW (so a cluster someone else runs is never touched),
//   BlueStore on a file in the temp dir (the same disk). It uses the recipe's main user.
// - null: bench/null-s3.ts in its own process.
// Also: process CPU seconds and memory from /proc, and machine-wide busy CPU from /proc/stat.
// Never: kill a process it did not start; leave a server running after stop() (stopAll runs
// every stop even when one fails).
import { freePort } from './nbd-servers.ts'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { childEnv, startCairn as startCairnServer } from '../native-tests/helpers/server.ts'

export const benchDirectory = fileURLToPath(new URL('.', import.meta.url))
export const repoRoot = resolve(benchDirectory, '..')
export const defaultCephScript = resolve(repoRoot, '..', 'shared', 'recipes', 'ceph-rgw-peer', 'ceph-mini.sh')

export interface Credentials {
  readonly accessKey: string
  readonly secretKey: string
}

export type TargetName = 'cairn' | 'rgw' | 'null'

export interface Target {
  readonly name: TargetName
  /** http://127.0.0.1:PORT */
  readonly url: string
  readonly credentials: Credentials
  /** Processes whose CPU time counts as the server's. */
  readonly cpuPids: () => number[]
  /** The process whose RSS is sampled. */
  readonly memoryPid: number
  /** Files holding the server's data: their page cache is dropped before a cold read. */
  readonly dataDir: string
  /** Cairn only: the admin API (its /metrics splits memory into V8 heap and Buffers). */
  readonly adminUrl?: string
  stop(): Promise<void>
}

export const cairnCredentials: Credentials = { accessKey: 'CAIRNBENCHACCESSKEY1', secretKey: 'cairn-bench-secret-0123456789abcdefghijk' }
/** The recipe's main user (ceph-mini.sh creates it). */
export const rgwCredentials: Credentials = { accessKey: '0555b35654ad1656d804', secretKey: 'h7GhxuBLTrlhVUyxSPUKUV8r/2EI4ngqJxD7iBdBYLhwluN30JaT3Q==' }

/** Cairn on a data dir under root; `checkout`: the server of another checkout (s3-small's --baseline). */
export async function startCairn(root: string, env: Record<string, string> = {}, checkout?: string): Promise<Target> {
  const cleanups: Array<() => unknown> = []
  const dataDir = join(root, checkout === undefined ? 'cairn' : 'cairn-baseline')
  const server = await startCairnServer(
    { teardown: (fn) => cleanups.push(fn) },
    {
      dataDir,
      args: ['--maintenance-interval-seconds', '0', '--scrub-interval-seconds', '0'],
      env: { ...env, CAIRN_ROOT_ACCESS_KEY: cairnCredentials.accessKey, CAIRN_ROOT_SECRET_KEY: cairnCredentials.secretKey },
      startTimeoutMs: 60_000,
      ...(checkout === undefined ? {} : { checkout }),
    },
  ).catch(async (error: unknown) => {
    for (const cleanup of cleanups) await cleanup()
    throw error
  })
  const pid = server.child.pid ?? 0
  const url = await waitFor(() => server.urls.s3, 10_000, () => `cairn logged no S3 URL:\n${server.stderr()}`)
  return {
    name: 'cairn',
    url,
    credentials: cairnCredentials,
    cpuPids: () => [pid],
    memoryPid: pid,
    dataDir,
    adminUrl: server.adminUrl,
    stop: async () => {
      const exit = await server.stop('SIGTERM', 30_000)
      if (exit.code !== 0) console.error(`cairn server exited with ${JSON.stringify(exit)}:\n${server.stderr().slice(-4000)}`)
    },
  }
}

export async function startNull(root: string): Promise<Target> {
  const child = spawn(process.execPath, [join(benchDirectory, 'null-s3.ts'), '--address', '127.0.0.1:0', '--access-key', cairnCredentials.accessKey, '--secret-key', cairnCredentials.secretKey], {
    cwd: repoRoot,
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let output = ''
  child.stdout?.setEncoding('utf8').on('data', (text: string) => (output += text))
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()))
  const url = await waitFor(() => /"url":"([^"]+)"/.exec(output)?.[1], 20_000, () => `the null server printed no URL: ${output}`).catch((error: unknown) => {
    child.kill('SIGKILL')
    throw error
  })
  return { name: 'null', url, credentials: cairnCredentials, cpuPids: () => [child.pid ?? 0], memoryPid: child.pid ?? 0, dataDir: root, stop: () => stopChild(child, exited) }
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}

export interface RgwStart {
  target?: Target
  /** Why RGW is missing from the run, when it is. */
  unavailable?: string
  startSeconds: number
}

/** Start Ceph + RGW from the recipe under root/ceph; never throws: a failure is reported as unavailable. */
export async function startRgw(root: string, recipeScript: string, log: (line: string) => void): Promise<RgwStart> {
  const startMs = performance.now()
  const seconds = (): number => (performance.now() - startMs) / 1000
  for (const tool of ['ceph-mon', 'ceph-osd', 'ceph-mgr', 'radosgw', 'ceph']) {
    if (!existsSync(`/usr/bin/${tool}`)) {
      return { unavailable: `${tool} is not installed (apt-get install -y --no-install-recommends ceph-mon ceph-osd ceph-mgr radosgw ceph-common)`, startSeconds: 0 }
    }
  }
  if (!existsSync(recipeScript)) return { unavailable: `the Ceph recipe ${recipeScript} is missing`, startSeconds: 0 }
  const directory = join(root, 'ceph')
  const script = join(root, 'ceph-mini.sh')
  const [monV1, monV2, rgwPort] = [await freePort(), await freePort(), await freePort()]
  // Fresh ports for the monitor (fixed in the recipe) so another engineer's cluster is never in the way.
  const text = readFileSync(recipeScript, 'utf8').replace(/^MON_V1=\d+; MON_V2=\d+$/m, `MON_V1=${monV1}; MON_V2=${monV2}`)
  await writeFile(script, text, { mode: 0o755 })
  const env = { ...childEnv(), D: directory, RGW_PORT: String(rgwPort), RGW_TLS_PORT: '' }
  const stop = async (): Promise<void> => {
    const pids = await cephPids(directory)
    await runScript(script, 'stop', env, join(root, 'ceph-stop.log'), 60_000)
    await waitForExitOrKill(pids)
  }
  log(`starting Ceph RGW (BlueStore under ${directory}) from ${recipeScript} ...`)
  const code = await runScript(script, 'start', env, join(root, 'ceph-start.log'), 300_000)
  const pids = await cephPids(directory)
  const radosgw = await radosgwPid(pids)
  if (code !== 0 || radosgw === undefined) {
    const tail = (await readFile(join(root, 'ceph-start.log'), 'utf8').catch(() => '')).split('\n').slice(-8).join('\n')
    await stop().catch(() => undefined)
    return { unavailable: `ceph-mini.sh start failed (exit ${code}, ${pids.length} daemons up): ${tail}`, startSeconds: seconds() }
  }
  return {
    target: { name: 'rgw', url: `http://127.0.0.1:${rgwPort}`, credentials: rgwCredentials, cpuPids: () => pids, memoryPid: radosgw, dataDir: directory, stop },
    startSeconds: seconds(),
  }
}

/** ceph-mini.sh runs in progress (killed first by stopCephDaemons, so no daemon starts after it). */
const scriptRuns = new Set<ChildProcess>()

/** Stop a ceph-mini.sh still running, then SIGTERM the Ceph daemons whose pid files are under root/ceph (only ours). */
export async function stopCephDaemons(root: string): Promise<void> {
  for (const child of scriptRuns) child.kill('SIGKILL')
  const pids = await cephPids(join(root, 'ceph'))
  signal(pids, 'SIGTERM')
  await waitForExitOrKill(pids)
}

function signal(pids: readonly number[], name: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, name)
    } catch {
      // Already gone.
    }
  }
}

/** radosgw can take long to exit once its monitor is gone: SIGKILL whatever is left after 15 s. */
async function waitForExitOrKill(pids: readonly number[]): Promise<void> {
  await waitForExit(pids, 15_000)
  signal(pids.filter((pid) => existsSync(`/proc/${pid}`)), 'SIGKILL')
  await waitForExit(pids, 5_000)
}

function runScript(script: string, command: string, env: Record<string, string>, logPath: string, timeoutMs: number): Promise<number> {
  return new Promise((resolveRun) => {
    const child = spawn('bash', [script, command], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    scriptRuns.add(child)
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text))
    child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('error', () => undefined)
    child.once('close', (code) => {
      clearTimeout(timer)
      scriptRuns.delete(child)
      void writeFile(logPath, output).finally(() => resolveRun(code ?? 1))
    })
  })
}

async function cephPids(directory: string): Promise<number[]> {
  const run = join(directory, 'run')
  const files = (await readdir(run).catch(() => [])).filter((file) => file.endsWith('.pid'))
  const pids = await Promise.all(files.map(async (file) => Number((await readFile(join(run, file), 'utf8')).trim())))
  return pids.filter((pid) => Number.isInteger(pid) && pid > 0 && existsSync(`/proc/${pid}`))
}

async function radosgwPid(pids: number[]): Promise<number | undefined> {
  for (const pid of pids) {
    const command = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')
    if (command.trim() === 'radosgw') return pid
  }
  return undefined
}

async function waitForExit(pids: readonly number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (pids.some((pid) => existsSync(`/proc/${pid}`)) && Date.now() < deadline) await sleep(100)
}

export async function stopAll(targets: Iterable<Target>): Promise<void> {
  const failures: unknown[] = []
  for (const target of targets) await target.stop().catch((error: unknown) => failures.push(error))
  if (failures.length > 0) throw new AggregateError(failures, 'stopping the benchmark servers failed')
}

// ---- /proc --------------------------------------------------------------------------------

const clockTicksPerSecond = 100

/** user + system CPU seconds of the processes (all their threads); gone processes count 0. */
export function cpuSeconds(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + statCpuSeconds(`/proc/${pid}/stat`), 0)
}

/**
 * CPU seconds of a process's main thread only (its thread id is its pid): for Node, the event
 * loop, which a single stream cannot spread over cores; its cost per GB or per op is what limits
 * one server process once a core is free.
 */
export function mainThreadCpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/task/${pid}/stat`)
}

function statCpuSeconds(path: string): number {
  try {
    // Fields after the command (which may contain spaces) start at ')'; utime and stime are 14 and 15.
    const stat = readFileSync(path, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond
  } catch {
    return 0 // the process is gone: it costs nothing more
  }
}

export interface MachineCpu {
  busy: number
  total: number
}

/** Machine-wide CPU ticks from /proc/stat: busy (not idle or iowait) and total. */
export function machineCpu(): MachineCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? ''
  const values = line.trim().split(/\s+/).slice(1, 9).map(Number)
  const total = values.reduce((sum, value) => sum + value, 0)
  const idle = (values[3] ?? 0) + (values[4] ?? 0)
  return { busy: total - idle, total }
}

/** Share of the machine's CPU that was busy between two samples (0..1). */
export function busyShare(before: MachineCpu, after: MachineCpu): number {
  const total = after.total - before.total
  return total > 0 ? (after.busy - before.busy) / total : 0
}

export interface Memory {
  rssBytes: number
  /** Peak RSS since start or since the last resetPeakMemory(). */
  peakBytes: number
}

export function memoryOf(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024
  return { rssBytes: kib('VmRSS'), peakBytes: kib('VmHWM') }
}

/** Resets VmHWM (Linux: clear_refs 5); false when the kernel refuses (then the peak includes earlier phases). */
export async function resetPeakMemory(pid: number): Promise<boolean> {
  try {
    await writeFile(`/proc/${pid}/clear_refs`, '5')
    return true
  } catch {
    return false
  }
}

export interface HeapSplit {
  rssBytes: number
  heapUsedBytes: number
  heapTotalBytes: number
  /** Memory of Buffers and other ArrayBuffers outside the V8 heap. */
  externalBytes: number
}

/** Node's own memory split from a prom-client /metrics page (default metrics). */
export async function heapSplit(adminUrl: string): Promise<HeapSplit> {
  const text = await (await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(5_000) })).text()
  const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? Number.NaN)
  return {
    rssBytes: value('process_resident_memory_bytes'),
    heapUsedBytes: value('nodejs_heap_size_used_bytes'),
    heapTotalBytes: value('nodejs_heap_size_total_bytes'),
    externalBytes: value('nodejs_external_memory_bytes'),
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms))
}

async function waitFor<T>(probe: () => T | undefined, timeoutMs: number, message: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(message())
    await sleep(20)
  }
}
