// Black-box test helpers: run the real `cairn server` (node src/main/cli.ts server) on a temp
// data dir with every listener on port 0, learn the bound URLs from its JSON log, wait for
// /health, and stop it at teardown. Also runs one-shot CLI commands.
//
// Contract: startCairn resolves once /health answers 200, or rejects with the server's stderr
// when it exits or does not become healthy in time. Every server started is killed at the
// test's teardown, even when the test fails. Tests never see the host's CAIRN_* variables.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)))
export const cliPath = join(repoRoot, 'src', 'main', 'cli.ts')

/** The part of tap's Test the helpers use (teardown registration). */
export interface Teardown {
  teardown(fn: () => unknown): void
}

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface CairnServer {
  readonly child: ChildProcess
  readonly dataDir: string
  /** Listener name -> URL, from the "listening" log lines (admin now; s3, nbd, nfs later). */
  readonly urls: Record<string, string>
  readonly adminUrl: string
  readonly exited: Promise<Exit>
  stderr(): string
  stdout(): string
  /** Parsed JSON log lines so far (non-JSON lines such as the credentials banner are skipped). */
  logLines(): Array<Record<string, unknown>>
  /** Send a signal and wait for the exit; kills with SIGKILL after timeoutMs. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<Exit>
}

export interface StartOptions {
  /** Reuse a data dir (e.g. for restart tests); default a fresh temp dir removed at teardown. */
  dataDir?: string
  /** Extra flags after `server`. */
  args?: string[]
  env?: Record<string, string>
  startTimeoutMs?: number
  /** Run the server of another checkout (benchmarks comparing two versions); default this one. */
  checkout?: string
}

const zeroPortFlags = ['--admin-address', '127.0.0.1:0', '--s3-address', '127.0.0.1:0', '--s3-tls-address', '127.0.0.1:0', '--nbd-address', '127.0.0.1:0', '--nfs-address', '127.0.0.1:0']

/** Environment for child processes: the host's, minus any CAIRN_* settings, plus extra. */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith('CAIRN_')) env[name] = value
  }
  return { ...env, ...extra }
}

/** A fresh temp dir removed at teardown. */
export function tempDir(t: Teardown, prefix = 'cairn-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Spawn the server without waiting for it: for tests of start failures. */
export function spawnCairn(t: Teardown, options: StartOptions = {}): CairnServer {
  const dataDir = options.dataDir ?? join(tempDir(t), 'data')
  const root = options.checkout ?? repoRoot
  const child = spawn(process.execPath, [join(root, 'src', 'main', 'cli.ts'), 'server', '--data-dir', dataDir, ...zeroPortFlags, ...(options.args ?? [])], {
    cwd: root,
    env: childEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  const urls: Record<string, string> = {}
  child.stdout?.setEncoding('utf8').on('data', (text: string) => (stdout += text))
  let partialLine = ''
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr += text
    const complete = partialLine + text
    const end = complete.lastIndexOf('\n') + 1
    partialLine = complete.slice(end)
    for (const line of parseLines(complete.slice(0, end))) {
      if (typeof line.listener === 'string' && typeof line.url === 'string') urls[line.listener] = line.url
    }
  })
  const exited = new Promise<Exit>((resolveExit) => child.on('exit', (code, signal) => resolveExit({ code, signal })))
  const server: CairnServer = {
    child,
    dataDir,
    urls,
    get adminUrl() {
      const url = urls.admin
      if (url === undefined) throw new Error(`the server has not logged its admin URL yet:\n${stderr}`)
      return url
    },
    exited,
    stderr: () => stderr,
    stdout: () => stdout,
    logLines: () => parseLines(stderr),
    stop: async (signal = 'SIGTERM', timeoutMs = 15_000) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
      try {
        return await exited
      } finally {
        clearTimeout(timer)
      }
    },
  }
  t.teardown(() => server.stop('SIGKILL', 5_000))
  return server
}

/** Start the server and wait until /health answers 200. */
export async function startCairn(t: Teardown, options: StartOptions = {}): Promise<CairnServer> {
  const server = spawnCairn(t, options)
  // A ceiling, not a pace: a loaded CI machine can take many seconds (TLS key generation, Node start).
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000)
  let exit: Exit | undefined
  void server.exited.then((value) => (exit = value))
  while (Date.now() < deadline) {
    if (exit !== undefined) throw new Error(`cairn server exited (${JSON.stringify(exit)}) before it was healthy:\n${server.stderr()}`)
    const url = server.urls.admin
    if (url !== undefined && (await healthStatus(url)) === 200) return server
    await new Promise((resolveSleep) => setTimeout(resolveSleep, 50))
  }
  throw new Error(`cairn server did not become healthy in time:\n${server.stderr()}`)
}

async function healthStatus(adminUrl: string): Promise<number | undefined> {
  try {
    const response = await fetch(`${adminUrl}/health`, { signal: AbortSignal.timeout(2_000) })
    await response.arrayBuffer()
    return response.status
  } catch {
    return undefined
  }
}

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Run `node src/main/cli.ts ...args` to completion. */
export function runCli(args: string[], options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { cwd: options.cwd ?? repoRoot, env: childEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text))
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000)
    child.on('error', reject)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolveRun({ code, stdout, stderr })
    })
  })
}

function parseLines(text: string): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = []
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>)
    } catch {
      // Not a log record (e.g. a JSON-looking line of the credentials banner): skip it.
    }
  }
  return lines
}

export function basicAuth(accessKey: string, secretKey: string): string {
  return `Basic ${Buffer.from(`${accessKey}:${secretKey}`).toString('base64')}`
}
