// fio runner of the nbd benchmark (helper of bench/nbd.ts, not a benchmark on its own): one fio --ioengine=nbd job and the server's CPU around it
//
// Contract: runFio resolves with fio's merged result (group_reporting) for the job and the
// server process's CPU seconds spent between fio's start and its exit; it rejects when fio
// fails or reports an error. fio writes its JSON to a file in the given directory (on stdout
// libnbd prints "fio: connected to NBD server" first), and the file is removed afterwards.
// Never: leave a fio process running (a rejected run has already exited).
import { spawn } from 'node:child_process'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { cpuSeconds } from './nbd-servers.ts'

export interface FioJob {
  name: string
  uri: string
  rw: 'randread' | 'randwrite' | 'read' | 'write'
  blockBytes: number
  iodepth: number
  jobs: number
  /** The byte range fio works in, from offset 0. */
  regionBytes: number
  /** Run for this long (looping over the region), or, when absent, until ioBytes are done. */
  seconds?: number
  /** Bytes to transfer per job when not time-based (default: the region once). */
  ioBytes?: number
  /** Each block at most once per pass (fio's random map) instead of independent random offsets. */
  randomMap?: boolean
  /** Fresh random data in every write buffer (defeats dedup; costs fio CPU). */
  refillBuffers?: boolean
}

export interface FioResult {
  job: FioJob
  ios: number
  bytes: number
  seconds: number
  iops: number
  bytesPerSecond: number
  /** 99th percentile completion latency, microseconds. */
  p99Micros: number
  /** Server CPU seconds (user + system) while fio ran. */
  serverCpuSeconds: number
  /** fio's own CPU, percent of one core summed over its jobs (it shares the 2 cores). */
  clientCpuPercent: number
}

interface FioDirection {
  io_bytes: number
  total_ios: number
  runtime: number
  clat_ns: { percentile?: Record<string, number> }
}

interface FioOutput {
  jobs: Array<{ error: number; read: FioDirection; write: FioDirection; usr_cpu: number; sys_cpu: number; job_runtime: number }>
}

function fioArguments(job: FioJob, outputPath: string): string[] {
  const args = [
    `--name=${job.name}`,
    '--ioengine=nbd',
    `--uri=${job.uri}`,
    `--rw=${job.rw}`,
    `--bs=${job.blockBytes}`,
    `--iodepth=${job.iodepth}`,
    `--numjobs=${job.jobs}`,
    '--group_reporting=1',
    `--size=${job.regionBytes}`,
    // Random offsets from a fresh seed each run.
    '--randrepeat=0',
    '--output-format=json',
    `--output=${outputPath}`,
  ]
  if (job.seconds !== undefined) args.push('--time_based=1', `--runtime=${job.seconds}`, '--ramp_time=0')
  if (job.ioBytes !== undefined) args.push(`--io_size=${job.ioBytes}`)
  // Without the map (the usual for benchmarks) offsets are independent draws, and cheaper.
  if (job.randomMap !== true) args.push('--norandommap=1')
  if (job.refillBuffers === true) args.push('--refill_buffers=1')
  return args
}

/** Run fio once; `serverPid` is the process whose CPU is counted. */
export async function runFio(job: FioJob, serverPid: number, directory: string): Promise<FioResult> {
  const outputPath = join(directory, `fio-${process.pid}-${Date.now()}.json`)
  const cpuBefore = cpuSeconds(serverPid)
  try {
    const { code, stderr } = await spawnFio(fioArguments(job, outputPath))
    const serverCpuSeconds = cpuSeconds(serverPid) - cpuBefore
    if (code !== 0) throw new Error(`fio ${job.name} exited with ${code}:\n${stderr}`)
    const output = JSON.parse(await readFile(outputPath, 'utf8')) as FioOutput
    const merged = output.jobs[0]
    if (merged === undefined || merged.error !== 0) throw new Error(`fio ${job.name} reported an error:\n${stderr}`)
    return summarize(job, merged, serverCpuSeconds)
  } finally {
    await rm(outputPath, { force: true })
  }
}

function summarize(job: FioJob, merged: FioOutput['jobs'][number], serverCpuSeconds: number): FioResult {
  const reading = job.rw === 'read' || job.rw === 'randread'
  const direction = reading ? merged.read : merged.write
  // runtime is per direction in ms; with group_reporting it is the group's wall time.
  const seconds = direction.runtime / 1000
  const p99Nanos = direction.clat_ns.percentile?.['99.000000'] ?? Number.NaN
  return {
    job,
    ios: direction.total_ios,
    bytes: direction.io_bytes,
    seconds,
    iops: direction.total_ios / seconds,
    bytesPerSecond: direction.io_bytes / seconds,
    p99Micros: p99Nanos / 1000,
    serverCpuSeconds,
    clientCpuPercent: merged.usr_cpu + merged.sys_cpu,
  }
}

function spawnFio(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn('fio', args, { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text))
    child.once('error', reject)
    child.once('exit', (code) => resolveRun({ code, stderr }))
  })
}
