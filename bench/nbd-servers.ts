// Servers of the nbd and nfs benchmarks (helper of bench/nbd.ts and bench/nfs.ts, not a benchmark on its own): the real Cairn server, nbdkit, the admin API, process CPU
//
// - startCairn: `node src/main/cli.ts server` on a temp data dir, every TCP listener on
//   127.0.0.1 port 0 (the bound URLs come from its JSON log) and NBD also on a Unix socket; root
//   credentials generated here and passed through the environment; resolves when /health is 200.
// - startNbdkit: `nbdkit -f file FILE` on one transport. nbdkit refuses -p together with
//   --unix, so the benchmark runs one instance per transport on the same file.
// - cpuSeconds(pid): utime + stime of a whole process (all threads) from /proc/PID/stat.
// Contract: every process started here is stopped by its stop() (SIGTERM, SIGKILL after a
// timeout); a process that exits early rejects the start with its stderr.
// Never: listen on anything but 127.0.0.1 and the temp dir's sockets; inherit CAIRN_* variables.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)))
const cliPath = join(repoRoot, 'src', 'main', 'cli.ts')
const clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())

/** CPU seconds (user + system, every thread) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // Fields 14 (utime) and 15 (stime) of proc(5); fields[0] is field 3.
  return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond
}

export interface ServerProcess {
  readonly pid: number
  stderr(): string
  stop(): Promise<void>
}

export function watch(child: ChildProcess): { exited: Promise<void>; stderr: () => string; isRunning: () => boolean } {
  let stderr = ''
  let running = true
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text))
  const exited = new Promise<void>((resolveExit) =>
    child.once('exit', () => {
      running = false
      resolveExit()
    }),
  )
  return { exited, stderr: () => stderr, isRunning: () => running }
}

export function stopper(child: ChildProcess, exited: Promise<void>, isRunning: () => boolean): () => Promise<void> {
  return async () => {
    if (!isRunning()) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    try {
      await exited
    } finally {
      clearTimeout(timer)
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolveSleep) => setTimeout(resolveSleep, ms))

// ---- Cairn ----------------------------------------------------------------------------------

export interface CairnServer extends ServerProcess {
  readonly admin: AdminClient
  /** Bound listener URLs by name (admin, s3, nbd, nfs, ...), from the server's JSON log. */
  readonly urls: Readonly<Record<string, string>>
  /** host:port of the NBD TCP listener. */
  readonly nbdAddress: string
  readonly nbdSocketPath: string
  readonly dataDir: string
}

/** `listeners`: the ones to wait for (admin is always waited for); `extraArgs` go after the defaults. */
export async function startCairn(directory: string, options: { listeners?: readonly string[]; extraArgs?: readonly string[] } = {}): Promise<CairnServer> {
  const dataDir = join(directory, 'data')
  const nbdSocketPath = join(directory, 'cairn-nbd.sock')
  const accessKey = `BENCH${randomBytes(8).toString('hex').toUpperCase()}`.slice(0, 20)
  const secretKey = randomBytes(30).toString('base64url').slice(0, 40)
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined && !name.startsWith('CAIRN_')) env[name] = value
  const listeners = ['--admin-address', '--s3-address', '--s3-tls-address', '--nbd-address', '--nfs-address'].flatMap((flag) => [flag, '127.0.0.1:0'])
  const child = spawn(process.execPath, [cliPath, 'server', '--data-dir', dataDir, ...listeners, '--nbd-socket', nbdSocketPath, ...(options.extraArgs ?? [])], {
    cwd: repoRoot,
    env: { ...env, CAIRN_ROOT_ACCESS_KEY: accessKey, CAIRN_ROOT_SECRET_KEY: secretKey, CAIRN_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  const { exited, stderr, isRunning } = watch(child)
  const stop = stopper(child, exited, isRunning)
  try {
    const urls = await waitForListeners(stderr, isRunning, ['admin', ...(options.listeners ?? ['nbd'])])
    const admin = new AdminClient(urls.admin!, accessKey, secretKey)
    await waitForHealth(admin, stderr, isRunning)
    return { pid: child.pid!, admin, urls, nbdAddress: new URL(urls.nbd!).host, nbdSocketPath, dataDir, stderr, stop }
  } catch (error) {
    await stop()
    throw error
  }
}

async function waitForListeners(stderr: () => string, isRunning: () => boolean, names: string[]): Promise<Record<string, string>> {
  const deadlineMs = Date.now() + 30_000
  while (Date.now() < deadlineMs) {
    if (!isRunning()) throw new Error(`cairn server exited before listening:\n${stderr()}`)
    const urls: Record<string, string> = {}
    for (const line of stderr().split('\n')) {
      if (!line.startsWith('{')) continue
      const record = JSON.parse(line) as { listener?: unknown; url?: unknown }
      if (typeof record.listener === 'string' && typeof record.url === 'string') urls[record.listener] = record.url
    }
    if (names.every((name) => urls[name] !== undefined)) return urls
    await sleep(50)
  }
  throw new Error(`cairn server did not log its listeners in time:\n${stderr()}`)
}

async function waitForHealth(admin: AdminClient, stderr: () => string, isRunning: () => boolean): Promise<void> {
  const deadlineMs = Date.now() + 30_000
  while (Date.now() < deadlineMs) {
    if (!isRunning()) throw new Error(`cairn server exited before it was healthy:\n${stderr()}`)
    if ((await admin.healthStatus()) === 200) return
    await sleep(50)
  }
  throw new Error(`cairn server did not become healthy in time:\n${stderr()}`)
}

/** The few admin API calls the benchmark needs (docs/volumes.md "Admin API"). */
export class AdminClient {
  readonly #url: string
  readonly #authorization: string

  constructor(url: string, accessKey: string, secretKey: string) {
    this.#url = url
    this.#authorization = `Basic ${Buffer.from(`${accessKey}:${secretKey}`).toString('base64')}`
  }

  async healthStatus(): Promise<number | undefined> {
    try {
      const response = await fetch(`${this.#url}/health`, { signal: AbortSignal.timeout(2_000) })
      await response.arrayBuffer()
      return response.status
    } catch {
      return undefined // not listening yet
    }
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.#url}${path}`, {
      method,
      headers: { authorization: this.#authorization, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await response.text()
    if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${text}`)
    return (text === '' ? undefined : JSON.parse(text)) as T
  }
}

// ---- nbdkit ---------------------------------------------------------------------------------

export type Transport = 'tcp' | 'unix'

export interface NbdkitServer extends ServerProcess {
  /** The NBD URI of its (only, unnamed) export. */
  readonly uri: string
}

/** nbdkit's file plugin serving `file` on one transport, in the foreground. */
export async function startNbdkit(file: string, transport: Transport, socketPath: string): Promise<NbdkitServer> {
  const port = transport === 'tcp' ? await freePort() : 0
  const listen = transport === 'tcp' ? ['-i', '127.0.0.1', '-p', String(port)] : ['--unix', socketPath]
  const child = spawn('nbdkit', ['-f', ...listen, 'file', file], { stdio: ['ignore', 'ignore', 'pipe'] })
  const { exited, stderr, isRunning } = watch(child)
  const stop = stopper(child, exited, isRunning)
  const uri = transport === 'tcp' ? `nbd://127.0.0.1:${port}/` : `nbd+unix:///?socket=${socketPath}`
  try {
    await waitForNbd(uri, stderr, isRunning)
    return { pid: child.pid!, uri, stderr, stop }
  } catch (error) {
    await stop()
    throw error
  }
}

/** Wait until an NBD server answers nbdinfo (libnbd-bin) at uri. */
async function waitForNbd(uri: string, stderr: () => string, isRunning: () => boolean): Promise<void> {
  const deadlineMs = Date.now() + 15_000
  while (Date.now() < deadlineMs) {
    if (!isRunning()) throw new Error(`nbdkit exited before serving ${uri}:\n${stderr()}`)
    try {
      execFileSync('nbdinfo', ['--size', uri], { stdio: 'ignore' })
      return
    } catch {
      await sleep(50) // not listening yet
    }
  }
  throw new Error(`nbdkit did not serve ${uri} in time:\n${stderr()}`)
}

/** A TCP port free right now on 127.0.0.1, for servers with no "port 0, tell me" (nbdkit, ceph, ganesha); a race with another binder only makes the start fail. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolvePort(port))
    })
  })
}
