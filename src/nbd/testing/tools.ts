// Running real NBD clients (nbdinfo, nbdcopy, nbdsh, qemu-img, qemu-io, fio) from tests whose
// server runs in the same process: always asynchronously (a synchronous spawn would block the
// event loop the server needs), with a timeout, and with a "skip unless installed" check.
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'

export interface ToolResult {
  code: number | null
  stdout: string
  stderr: string
}

/** False when `tool` is not on PATH (checked once, before any server starts). */
export function installed(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0
}

/** A tap `skip` value: a message when a tool is missing, false otherwise. */
export function skipUnless(...tools: string[]): string | false {
  const missing = tools.filter((tool) => !installed(tool))
  return missing.length === 0 ? false : `not installed: ${missing.join(', ')} (CI installs them via .ci/run)`
}

/**
 * Debian's nbdsh runs `python3 -m nbd`; the python3 first on PATH may be another install
 * without the libnbd module, so /usr/bin goes first for child tools.
 */
const toolPath = `/usr/bin:${process.env.PATH ?? ''}`

export function runTool(command: string, args: readonly string[], options: { timeoutMs?: number; input?: string; env?: Record<string, string> } = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, PATH: toolPath, LIBNBD_DEBUG: '0', ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text))
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    // A tool that exits without reading its input (e.g. `mountpoint -q`) closes the pipe: the
    // EPIPE that follows says nothing about the tool's result, which 'close' reports.
    child.stdin.on('error', () => undefined)
    child.stdin.end(options.input ?? '')
  })
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}
