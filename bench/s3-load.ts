// Load generators of the s3 benchmark (helper of bench/s3.ts, not a benchmark on its own): presigned URLs, wrk, streams, fio
//
// - presign(): SigV4 presigned URLs from the AWS SDK's own presigner (@aws-sdk/s3-request-presigner),
//   an implementation independent of the servers' verifiers; UNSIGNED-PAYLOAD, path-style.
// - runWrk(): wrk with a Lua script that cycles over a file of presigned request targets (PUT
//   bodies get a per-request unique prefix, so no two bodies are equal); the script's done()
//   prints one JSON line with the counts. wrk is much cheaper per request than a Node client,
//   which matters with client and servers on the same 2 cores.
// - preload(): small objects PUT once each through Node's fetch, for the GET runs.
// - runStreams(): large PUTs and GETs from child processes (bench/s3-stream.ts), bodies
//   generated on the fly (unique data: no server can deduplicate them), with the server's memory
//   sampled meanwhile.
// - measureDisk(): fio, O_DIRECT, 1 MiB blocks: sequential write with an fsync after every
//   block, then sequential reads of what was written: the physical limit for large objects.
// - dropPageCache(): drops the page cache of a server's data files (dd iflag=nocache), so a read
//   after a write comes from the disk, as the disk baseline's O_DIRECT reads do.
// Never: count a request the server refused as done (non-2xx are errors in every result).
import { spawn } from 'node:child_process'
import { createHash, createHmac, randomBytes } from 'node:crypto'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { S3RequestPresigner } from '@aws-sdk/s3-request-presigner'
import { benchDirectory, busyShare, cpuSeconds, machineCpu, mainThreadCpuSeconds, memoryOf, repoRoot, type Target } from './s3-servers.ts'

export const benchBucket = 'cairn-bench'

// ---- presigning ---------------------------------------------------------------------------

type SourceData = string | ArrayBuffer | ArrayBufferView

function bytesOf(data: SourceData): Buffer | string {
  if (typeof data === 'string') return data
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  return Buffer.from(data)
}

/** SHA-256 / HMAC-SHA256 from node:crypto in the shape the SDK's signer takes. */
class NodeSha256 {
  readonly #hash
  constructor(secret?: SourceData) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(secret))
  }
  update(data: SourceData): void {
    this.#hash.update(bytesOf(data))
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest())
  }
}

const encodeQueryPart = (text: string): string => encodeURIComponent(text).replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`)

export type Presign = (method: 'GET' | 'PUT' | 'HEAD' | 'DELETE', key: string | undefined) => Promise<string>

/** Presigned URLs (path-style, valid for an hour) for a target's bucket; key undefined: the bucket itself. */
export function presigner(target: Target): Presign {
  const presigner = new S3RequestPresigner({
    credentials: { accessKeyId: target.credentials.accessKey, secretAccessKey: target.credentials.secretKey },
    region: 'us-east-1',
    sha256: NodeSha256,
  })
  const url = new URL(target.url)
  return async (method, key) => {
    const path = key === undefined ? `/${benchBucket}` : `/${benchBucket}/${key.split('/').map(encodeQueryPart).join('/')}`
    const signed = await presigner.presign(
      { method, protocol: 'http:', hostname: url.hostname, port: Number(url.port), path, query: {}, headers: {} },
      { expiresIn: 3600 },
    )
    const query = Object.entries(signed.query ?? {}).map(([name, value]) => `${encodeQueryPart(name)}=${encodeQueryPart(String(value))}`)
    return `${target.url}${path}?${query.join('&')}`
  }
}

export async function createBucket(target: Target): Promise<void> {
  const response = await fetch(await presigner(target)('PUT', undefined), { method: 'PUT' })
  const text = await response.text()
  // RGW answers 409 BucketAlreadyOwnedByYou... only outside us-east-1; 200 is the normal answer.
  if (!response.ok) throw new Error(`CreateBucket on ${target.name} answered ${response.status}: ${text.slice(0, 300)}`)
}

// ---- small objects ------------------------------------------------------------------------

export const smallKey = (kind: 'put' | 'get', sizeBytes: number, index: number): string => `small/${sizeBytes}/${kind}-${index}`

/** PUT each key once (concurrency 16) with random bytes, so GETs find them. */
export async function preload(target: Target, keys: readonly string[], sizeBytes: number): Promise<void> {
  const presign = presigner(target)
  let next = 0
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < keys.length) {
        const key = keys[next++]!
        const response = await fetch(await presign('PUT', key), { method: 'PUT', body: randomBytes(sizeBytes) })
        const text = await response.text()
        if (!response.ok) throw new Error(`preload PUT ${key} on ${target.name} answered ${response.status}: ${text.slice(0, 300)}`)
      }
    }),
  )
}

const wrkScript = String.raw`
-- Cycles over request targets read from args[1] (one path?query per line); method args[2];
-- PUT bodies of args[3] bytes, each with a unique 16-hex-digit prefix. done() prints one JSON line.
local targets, method, bodyBytes, base = {}, 'GET', 0, ''
local counter = 0
local threadCount = 0
function setup(thread)
  thread:set('threadIndex', threadCount)
  threadCount = threadCount + 1
end
function init(args)
  for line in io.lines(args[1]) do targets[#targets + 1] = line end
  method = args[2]
  bodyBytes = tonumber(args[3])
  local index = threadIndex or 0
  counter = index * 100003
  if bodyBytes > 16 then
    math.randomseed(1234 + index)
    local pieces = {}
    for i = 1, bodyBytes - 16 do pieces[i] = string.char(math.random(97, 122)) end
    base = table.concat(pieces)
  end
end
function request()
  counter = counter + 1
  local target = targets[(counter % #targets) + 1]
  if bodyBytes > 0 then
    return wrk.format(method, target, nil, string.format('%016x', counter) .. base)
  end
  return wrk.format(method, target)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50Us":%d,"p99Us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout, latency:percentile(50), latency:percentile(99)))
end
`

export interface WrkResult {
  requests: number
  seconds: number
  opsPerSecond: number
  /** Non-2xx answers, socket errors and timeouts. */
  errors: number
  p50Ms: number
  p99Ms: number
  /** Server CPU milliseconds per operation (all the target's processes). */
  serverCpuMsPerOp: number
  /** The same for the main thread of the target's memory pid (Node's event loop; meaningless for RGW). */
  mainThreadCpuMsPerOp: number
  /** Share of the whole machine's CPU that was busy (client, server and everyone else). */
  machineBusy: number
}

export interface WrkRun {
  target: Target
  method: 'GET' | 'PUT'
  /** Presigned URLs to cycle over. */
  urls: readonly string[]
  bodyBytes: number
  connections: number
  seconds: number
  scratch: string
}

export async function runWrk(run: WrkRun): Promise<WrkResult> {
  const scriptPath = join(run.scratch, 'cycle.lua')
  const targetsPath = join(run.scratch, `targets-${run.target.name}-${run.method}.txt`)
  await writeFile(scriptPath, wrkScript)
  await writeFile(targetsPath, run.urls.map((url) => url.slice(run.target.url.length)).join('\n') + '\n')
  const threads = run.connections >= 16 ? 2 : 1
  const args = ['-t', String(threads), '-c', String(run.connections), '-d', `${Math.max(1, Math.round(run.seconds))}s`, '--timeout', '20s', '-s', scriptPath, run.target.url, '--', targetsPath, run.method, String(run.bodyBytes)]
  const cpuBefore = cpuSeconds(run.target.cpuPids())
  const mainBefore = mainThreadCpuSeconds(run.target.memoryPid)
  const machineBefore = machineCpu()
  const { code, stdout, stderr } = await runTool('wrk', args, (run.seconds + 60) * 1000)
  const serverCpu = cpuSeconds(run.target.cpuPids()) - cpuBefore
  const mainCpu = mainThreadCpuSeconds(run.target.memoryPid) - mainBefore
  const machineBusy = busyShare(machineBefore, machineCpu())
  const line = stdout.split('\n').reverse().find((text) => text.startsWith('{"requests"'))
  if (code !== 0 || line === undefined) throw new Error(`wrk failed (exit ${code}): ${stderr}${stdout}`)
  const parsed = JSON.parse(line) as Record<string, number>
  const requests = parsed.requests ?? 0
  const seconds = (parsed.durationUs ?? 1) / 1e6
  const errors = (parsed.connect ?? 0) + (parsed.read ?? 0) + (parsed.write ?? 0) + (parsed.status ?? 0) + (parsed.timeout ?? 0)
  const good = Math.max(0, requests - errors)
  return {
    requests,
    seconds,
    opsPerSecond: good / seconds,
    errors,
    p50Ms: (parsed.p50Us ?? 0) / 1000,
    p99Ms: (parsed.p99Us ?? 0) / 1000,
    serverCpuMsPerOp: good > 0 ? (serverCpu * 1000) / good : 0,
    mainThreadCpuMsPerOp: good > 0 ? (mainCpu * 1000) / good : 0,
    machineBusy,
  }
}

// ---- large objects ------------------------------------------------------------------------

export interface StreamTransfer {
  method: 'PUT' | 'GET'
  url: string
  /** PUT: bytes to send. */
  bytes?: number
  /** PUT: makes the generated data unique to this transfer. */
  seed?: number
}

export interface StreamResult {
  transfers: number
  failed: number
  /** First failure's status and message, when any failed. */
  failure?: string
  bytes: number
  seconds: number
  bytesPerSecond: number
  serverCpuSeconds: number
  /** CPU seconds of the main thread of the target's memory pid (Node's event loop). */
  mainThreadCpuSeconds: number
  machineBusy: number
  /** Largest VmRSS seen in 100 ms samples, and VmHWM at the end, of the target's memory pid. */
  rssMaxSampledBytes: number
  rssPeakBytes: number
}

interface ChildReport {
  results: Array<{ status: number; bytes: number; startMs: number; endMs: number; error?: string }>
}

/** Run the transfers at once, split over `processes` children; sample the server's memory meanwhile. */
export async function runStreams(target: Target, transfers: readonly StreamTransfer[], processes: number, scratch: string): Promise<StreamResult> {
  const shares: StreamTransfer[][] = Array.from({ length: Math.min(processes, transfers.length) }, () => [])
  transfers.forEach((transfer, index) => shares[index % shares.length]!.push(transfer))
  let rssMaxSampledBytes = 0
  const sample = (): void => {
    try {
      rssMaxSampledBytes = Math.max(rssMaxSampledBytes, memoryOf(target.memoryPid).rssBytes)
    } catch {
      // The server is gone; the transfers fail and say so.
    }
  }
  const sampler = setInterval(sample, 100)
  const cpuBefore = cpuSeconds(target.cpuPids())
  const mainBefore = mainThreadCpuSeconds(target.memoryPid)
  const machineBefore = machineCpu()
  try {
    const reports = await Promise.all(
      shares.map(async (share, index) => {
        const inputPath = join(scratch, `streams-${target.name}-${index}.json`)
        await writeFile(inputPath, JSON.stringify({ transfers: share }))
        const { code, stdout, stderr } = await runTool(process.execPath, [join(benchDirectory, 's3-stream.ts'), inputPath], 3_600_000)
        if (code !== 0) throw new Error(`s3-stream.ts failed (exit ${code}): ${stderr}`)
        return JSON.parse(stdout) as ChildReport
      }),
    )
    sample()
    const results = reports.flatMap((report) => report.results)
    const failures = results.filter((result) => result.status < 200 || result.status > 299)
    const good = results.filter((result) => result.status >= 200 && result.status <= 299)
    const startMs = Math.min(...results.map((result) => result.startMs))
    const endMs = Math.max(...results.map((result) => result.endMs))
    const bytes = good.reduce((sum, result) => sum + result.bytes, 0)
    const seconds = (endMs - startMs) / 1000
    const first = failures[0]
    return {
      transfers: results.length,
      failed: failures.length,
      ...(first === undefined ? {} : { failure: `${first.status} ${first.error ?? ''}`.trim() }),
      bytes,
      seconds,
      bytesPerSecond: bytes / seconds,
      serverCpuSeconds: cpuSeconds(target.cpuPids()) - cpuBefore,
      mainThreadCpuSeconds: mainThreadCpuSeconds(target.memoryPid) - mainBefore,
      machineBusy: busyShare(machineBefore, machineCpu()),
      rssMaxSampledBytes,
      rssPeakBytes: memoryOf(target.memoryPid).peakBytes,
    }
  } finally {
    clearInterval(sampler)
  }
}

/** Drop the page cache of every file under the directory (clean pages only: data already synced). */
export async function dropPageCache(directory: string): Promise<number> {
  const files = (await readdir(directory, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile())
  for (const file of files) await runTool('dd', [`if=${join(file.parentPath, file.name)}`, 'iflag=nocache', 'count=0', 'status=none'], 30_000)
  return files.length
}

// ---- the disk -----------------------------------------------------------------------------

export interface DiskRates {
  /** fio, O_DIRECT, 1 MiB sequential writes, fsync after each. */
  writeBytesPerSecond: number
  /** fio, O_DIRECT, 1 MiB sequential reads of what the write phase wrote. */
  readBytesPerSecond: number
}

export async function measureDisk(directory: string, seconds: number): Promise<DiskRates | { unavailable: string }> {
  const file = join(directory, 'fio-sequential.bin')
  const common = ['--name=seq', `--filename=${file}`, '--bs=1M', '--direct=1', '--ioengine=psync', '--size=2G', `--runtime=${Math.max(1, Math.round(seconds))}`, '--output-format=json']
  try {
    const write = await runTool('fio', [...common, '--rw=write', '--fsync=1', '--time_based'], (seconds + 120) * 1000)
    if (write.code !== 0) return { unavailable: `fio failed: ${write.stderr.slice(0, 300)}` }
    const written = fioJob(write.stdout, 'write')
    // Read only what was really written (an unwritten extent reads as zeros without touching the disk).
    const readSize = Math.max(1, Math.floor(Math.min(written.ioBytes, 2 * 1024 ** 3) / 1024 ** 2))
    const read = await runTool('fio', [...common.filter((option) => !option.startsWith('--size=')), `--size=${readSize}M`, '--rw=read', '--time_based'], (seconds + 120) * 1000)
    if (read.code !== 0) return { unavailable: `fio failed: ${read.stderr.slice(0, 300)}` }
    return { writeBytesPerSecond: written.bytesPerSecond, readBytesPerSecond: fioJob(read.stdout, 'read').bytesPerSecond }
  } catch (error) {
    return { unavailable: `fio could not run: ${(error as Error).message}` }
  } finally {
    await runTool('rm', ['-f', file], 30_000)
  }
}

function fioJob(output: string, kind: 'read' | 'write'): { bytesPerSecond: number; ioBytes: number } {
  const parsed = JSON.parse(output.slice(output.indexOf('{'))) as { jobs: Array<Record<string, { bw_bytes: number; io_bytes: number }>> }
  const job = parsed.jobs[0]?.[kind]
  if (job === undefined) throw new Error(`fio printed no ${kind} job`)
  return { bytesPerSecond: job.bw_bytes, ioBytes: job.io_bytes }
}

// ---- processes ----------------------------------------------------------------------------

export interface ToolRun {
  code: number
  stdout: string
  stderr: string
}

/** Run a command to completion (killed after timeoutMs); a missing command rejects. */
export function runTool(command: string, args: readonly string[], timeoutMs: number): Promise<ToolRun> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text))
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      resolveRun({ code: code ?? (signal === null ? 1 : 128), stdout, stderr })
    })
  })
}

export async function haveTool(command: string): Promise<boolean> {
  return runTool('sh', ['-c', `command -v ${command}`], 10_000).then((run) => run.code === 0, () => false)
}

export async function loadAverage(): Promise<string> {
  return (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')
}
