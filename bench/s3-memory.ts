// S3 server memory: peak RSS of Cairn under N concurrent streamed uploads, optionally against a baseline checkout
//
// The memory phase of bench/s3.ts alone, on a fresh server, for work on what holds memory during
// uploads: `--uploads` (64) concurrent PUTs of `--bytes` (128 MiB) unique incompressible data from
// `--processes` (4) client processes into a fresh `cairn server`; prints its RSS before, the
// largest VmRSS sampled every 100 ms, VmHWM at the end, where the memory was at the largest
// /metrics sample (every 100 ms) (V8 heap or Buffers), and the upload rate. `--baseline DIR` runs the same
// uploads into the server of another checkout right after (each on its own fresh server), so a
// change is compared under the same load. `--env NAME=VALUE` (repeatable) sets a variable for
// the Cairn servers (e.g. glibc's MALLOC_ARENA_MAX) to try allocator settings.
//
// Run: npm run bench -- s3-memory [--uploads 64] [--bytes 128MiB] [--processes 4] [--rounds 1]
//      [--baseline DIR] [--env NAME=VALUE ...] [--same-server]
// `--same-server` runs the rounds back to back on one server (with --baseline: that checkout's
// only), VmHWM reset before each, to see whether the peak creeps up from round to round.
// Never: a test; leaves a server or its temp directory behind.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { formatSize, parseSize } from '../src/lib/index.ts'
import { createBucket, loadAverage, presigner, runStreams } from './s3-load.ts'
import { heapSplit, memoryOf, resetPeakMemory, startCairn, stopAll, type HeapSplit, type Target } from './s3-servers.ts'

const MiBFloat = 1024 * 1024

async function measure(target: Target, uploads: number, bytes: number, processes: number, scratch: string, round = 1): Promise<string> {
  const presign = presigner(target)
  const transfers = await Promise.all(Array.from({ length: uploads }, async (_, index) => ({ method: 'PUT' as const, url: await presign('PUT', `rss/${round}/${bytes}/${index}`), bytes, seed: round * 1000 + index })))
  const before = memoryOf(target.memoryPid).rssBytes
  const peakReset = await resetPeakMemory(target.memoryPid)
  let atPeak: HeapSplit | undefined
  let pending = false
  const sampler = setInterval(() => {
    if (target.adminUrl === undefined || pending) return
    pending = true
    heapSplit(target.adminUrl).then(
      (split) => {
        if (atPeak === undefined || split.rssBytes > atPeak.rssBytes) atPeak = split
      },
      () => undefined,
    ).finally(() => (pending = false))
  }, 100)
  try {
    const result = await runStreams(target, transfers, processes, scratch)
    const mib = (value: number): string => `${(value / MiBFloat).toFixed(0)} MiB`
    const split = atPeak === undefined ? '' : `; at the largest /metrics sample heap ${mib(atPeak.heapUsedBytes)} used of ${mib(atPeak.heapTotalBytes)}, Buffers ${mib(atPeak.externalBytes)}`
    return `${(result.bytesPerSecond / 1e6).toFixed(0)} MB/s${result.failed > 0 ? ` (${result.failed} failed: ${result.failure})` : ''}, RSS before ${mib(before)}, max sampled ${mib(result.rssMaxSampledBytes)}, peak (VmHWM${peakReset ? '' : ', not reset'}) ${mib(result.rssPeakBytes)}${split}`
  } finally {
    clearInterval(sampler)
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      uploads: { type: 'string', default: '64' },
      bytes: { type: 'string', default: '128MiB' },
      processes: { type: 'string', default: '4' },
      rounds: { type: 'string', default: '1' },
      baseline: { type: 'string' },
      env: { type: 'string', multiple: true, default: [] },
      'same-server': { type: 'boolean', default: false },
    },
  })
  const uploads = Number(values.uploads)
  const processes = Number(values.processes)
  const rounds = Number(values.rounds)
  const bytes = parseSize(values.bytes)
  if (![uploads, processes, rounds].every((value) => Number.isInteger(value) && value > 0)) throw new TypeError('--uploads, --processes and --rounds are positive integers')
  const env: Record<string, string> = {}
  for (const pair of values.env) {
    const at = pair.indexOf('=')
    if (at <= 0) throw new TypeError(`--env takes NAME=VALUE, not ${pair}`)
    env[pair.slice(0, at)] = pair.slice(at + 1)
  }
  console.log(`load average ${await loadAverage()}; ${uploads} uploads of ${formatSize(bytes)} from ${processes} processes${Object.keys(env).length > 0 ? `, env ${JSON.stringify(env)}` : ''}`)
  const checkouts: Array<[string, string | undefined]> = [['cairn', undefined], ...(values.baseline === undefined ? [] : [['baseline', resolve(values.baseline)] as [string, string]])]
  if (values['same-server']) {
    // Rounds back to back on one server: does the peak creep up (memory kept between rounds)?
    const root = await mkdtemp(join(tmpdir(), 'cairn-bench-s3-memory-'))
    const running = new Set<Target>()
    try {
      const target = await startCairn(root, env, values.baseline === undefined ? undefined : resolve(values.baseline))
      running.add(target)
      await createBucket(target)
      for (let round = 1; round <= rounds; round += 1) console.log(`round ${round} on one server: ${await measure(target, uploads, bytes, processes, root, round)}`)
    } finally {
      await stopAll(running)
      await rm(root, { recursive: true, force: true })
    }
    return
  }
  for (let round = 1; round <= rounds; round += 1) {
    for (const [name, checkout] of round % 2 === 1 ? checkouts : [...checkouts].reverse()) {
      const root = await mkdtemp(join(tmpdir(), 'cairn-bench-s3-memory-'))
      const running = new Set<Target>()
      try {
        const target = await startCairn(root, env, checkout)
        running.add(target)
        await createBucket(target)
        console.log(`round ${round} ${name}: ${await measure(target, uploads, bytes, processes, root)}`)
      } finally {
        await stopAll(running)
        await rm(root, { recursive: true, force: true })
      }
    }
  }
}

if (import.meta.main) await main()
