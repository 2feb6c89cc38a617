// S3 4 KiB PUT/GET ops/s, Cairn vs the null server, alternating rounds (quick, for before/after work on the small-object path)
//
// The small-object part of bench/s3.ts alone, for measuring a change to the metadata, objects or
// S3 paths in a few minutes on a shared machine: the real `cairn server` and bench/null-s3.ts
// side by side, wrk cycling presigned URLs (4,096 PUT keys with unique bodies, 1,024 preloaded
// GET keys), each point run for Cairn then null, `--rounds` times, so every Cairn number has a
// null number taken seconds apart and the ratio survives the machine's load changing. Prints
// ops/s, the ratio to null per round and their median, and Cairn's CPU ms per op (all threads,
// and its main thread in parentheses).
// `--baseline DIR` adds a second Cairn run from another checkout of this repository (e.g.
// `git archive main | tar -x -C /tmp/base` with node_modules linked in), measured in the same
// rounds: the before/after of a change under the same load.
// `--cpu-prof DIR` starts Cairn with --cpu-prof (profile written to DIR when it stops), for
// seeing where main-thread time goes; the profile covers the whole run, so pick one
// --methods/--connections point to profile it alone.
//
// Run: npm run bench -- s3-small [--seconds 5] [--rounds 3] [--connections 16,64] [--methods PUT,GET]
//      [--baseline DIR] [--cpu-prof DIR] [--json]
// Needs wrk (Debian package).
// Never: a test; leaves a server or its temp directory behind.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { KiB } from '../src/lib/index.ts'
import { createBucket, haveTool, loadAverage, preload, presigner, runWrk, smallKey, type WrkResult } from './s3-load.ts'
import { startCairn, startNull, stopAll, type Target } from './s3-servers.ts'

const smallBytes = 4 * KiB
const putKeyCount = 4096
const getKeyCount = 1024

type Column = 'cairn' | 'baseline' | 'null'

interface Point {
  method: 'PUT' | 'GET'
  connections: number
  results: Record<Column, WrkResult[]>
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

async function urlsFor(target: Target): Promise<{ PUT: string[]; GET: string[] }> {
  await createBucket(target)
  const presign = presigner(target)
  const getKeys = Array.from({ length: getKeyCount }, (_, index) => smallKey('get', smallBytes, index))
  await preload(target, getKeys, smallBytes)
  return {
    PUT: await Promise.all(Array.from({ length: putKeyCount }, (_, index) => presign('PUT', smallKey('put', smallBytes, index)))),
    GET: await Promise.all(getKeys.map((key) => presign('GET', key))),
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '3' },
      connections: { type: 'string', default: '16,64' },
      methods: { type: 'string', default: 'PUT,GET' },
      'cpu-prof': { type: 'string' },
      baseline: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  })
  const seconds = Number(values.seconds)
  const rounds = Number(values.rounds)
  const connections = values.connections.split(',').map(Number)
  const methods = values.methods.split(',') as Array<'PUT' | 'GET'>
  if (!(seconds >= 1 && Number.isInteger(rounds) && rounds >= 1 && connections.every((count) => Number.isInteger(count) && count > 0))) {
    throw new TypeError('--seconds >= 1, --rounds and --connections positive integers')
  }
  if (!methods.every((method) => method === 'PUT' || method === 'GET')) throw new TypeError('--methods is a list of PUT and GET')
  if (!(await haveTool('wrk'))) throw new Error('wrk is not installed (apt-get install -y wrk)')
  const log = (line: string): void => {
    if (!values.json) console.log(line)
  }
  const root = await mkdtemp(join(tmpdir(), 'cairn-bench-s3-small-'))
  const running = new Set<Target>()
  const profileDir = values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof'])
  try {
    log(`load average ${await loadAverage()}`)
    const cairn = await startCairn(root, profileDir === undefined ? {} : { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profileDir}` })
    running.add(cairn)
    const baseline = values.baseline === undefined ? undefined : await startCairn(root, {}, resolve(values.baseline))
    if (baseline !== undefined) running.add(baseline)
    const nullServer = await startNull(root)
    running.add(nullServer)
    const servers: Array<[Column, Target]> = [['cairn', cairn], ...(baseline === undefined ? [] : [['baseline', baseline] as [Column, Target]]), ['null', nullServer]]
    const urls = new Map<Column, { PUT: string[]; GET: string[] }>()
    for (const [column, target] of servers) urls.set(column, await urlsFor(target))
    const points: Point[] = []
    for (const method of methods) {
      for (const count of connections) points.push({ method, connections: count, results: { cairn: [], baseline: [], null: [] } })
    }
    const describe = (result: WrkResult): string =>
      `${result.opsPerSecond.toFixed(0)} ops/s${result.errors > 0 ? ` (${result.errors} errors)` : ''} (${result.serverCpuMsPerOp.toFixed(2)} ms CPU/op, main ${result.mainThreadCpuMsPerOp.toFixed(2)})`
    for (let round = 1; round <= rounds; round += 1) {
      for (const point of points) {
        // Alternate which server goes first, so neither always follows the other's load.
        const order = round % 2 === 1 ? servers : [...servers].reverse()
        for (const [column, target] of order) {
          const result = await runWrk({ target, method: point.method, urls: urls.get(column)![point.method], bodyBytes: point.method === 'PUT' ? smallBytes : 0, connections: point.connections, seconds, scratch: root })
          point.results[column].push(result)
        }
        const nullResult = point.results.null.at(-1) as WrkResult
        const parts = servers.filter(([column]) => column !== 'null').map(([column]) => {
          const result = point.results[column].at(-1) as WrkResult
          return `${column} ${describe(result)} = ${(result.opsPerSecond / nullResult.opsPerSecond).toFixed(3)} of null`
        })
        log(`round ${round} ${point.method} x${point.connections}: ${parts.join('; ')}; null ${nullResult.opsPerSecond.toFixed(0)}`)
      }
    }
    const columnSummary = (point: Point, column: Column) => {
      const results = point.results[column]
      if (results.length === 0) return undefined
      return {
        opsPerSecond: median(results.map((result) => result.opsPerSecond)),
        ratioToNull: median(results.map((result, index) => result.opsPerSecond / (point.results.null[index] as WrkResult).opsPerSecond)),
        cpuMsPerOp: median(results.map((result) => result.serverCpuMsPerOp)),
        mainThreadCpuMsPerOp: median(results.map((result) => result.mainThreadCpuMsPerOp)),
        errors: results.reduce((sum, result) => sum + result.errors, 0),
      }
    }
    const summary = points.map((point) => ({
      method: point.method,
      connections: point.connections,
      nullOpsPerSecond: median(point.results.null.map((result) => result.opsPerSecond)),
      cairn: columnSummary(point, 'cairn'),
      baseline: columnSummary(point, 'baseline'),
    }))
    await stopAll(running)
    running.clear()
    if (values.json) {
      console.log(JSON.stringify({ date: new Date().toISOString(), seconds, rounds, summary }, null, 2))
      return
    }
    log(`\nmedians over ${rounds} rounds (load average now ${await loadAverage()}):`)
    log('op  conns  server    ops/s  of null  CPU ms/op (main)')
    for (const row of summary) {
      log(`${row.method.padEnd(3)} ${String(row.connections).padStart(5)}  null ${row.nullOpsPerSecond.toFixed(0).padStart(12)}`)
      for (const column of ['cairn', 'baseline'] as const) {
        const cell = row[column]
        if (cell === undefined) continue
        log(
          `${' '.repeat(11)}${column.padEnd(8)} ${cell.opsPerSecond.toFixed(0).padStart(7)} ${cell.ratioToNull.toFixed(3).padStart(8)}  ${cell.cpuMsPerOp.toFixed(2)} (${cell.mainThreadCpuMsPerOp.toFixed(2)})` +
            `${cell.errors > 0 ? `  ${cell.errors} errors` : ''}`,
        )
      }
    }
    if (profileDir !== undefined) log(`cairn's CPU profile is in ${profileDir}`)
  } finally {
    await stopAll(running)
    await rm(root, { recursive: true, force: true })
  }
}

if (import.meta.main) await main()
