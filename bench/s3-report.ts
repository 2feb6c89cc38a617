// Report of the s3 benchmark (helper of bench/s3.ts, not a benchmark on its own): tables with ratios and the issue's targets
//
// printReport() prints Markdown tables (ready to paste into docs/benchmarks.md): small-object
// ops/s per connection count, large-object MB/s, the memory run, then one line per target of the
// S3 issue saying what was reached. A ratio whose denominator is missing (RGW not started, fio
// unavailable) prints as '-'; nothing is invented.
import { formatSize, MiB } from '../src/lib/index.ts'
import type { DiskRates, StreamResult, WrkResult } from './s3-load.ts'
import type { HeapSplit, TargetName } from './s3-servers.ts'

export interface SmallPoint {
  method: 'PUT' | 'GET'
  connections: number
  results: Partial<Record<TargetName, WrkResult>>
}

export interface BigResult {
  put: StreamResult
  get: StreamResult
  droppedFiles: number
}

export interface Report {
  date: string
  node: string
  cpus: number
  cpuModel: string
  loadAverage: { before: string; after: string }
  options: object
  smallBytes: number
  rgw: { available: true; startSeconds: number } | { available: false; reason: string }
  disk: { writeBytesPerSecond: number; readBytesPerSecond: number; samples: DiskRates[] } | { unavailable: string }
  small: SmallPoint[]
  big: Partial<Record<TargetName, BigResult>>
  rss: {
    uploads: number
    bytesEach: number
    capped: boolean
    processes: number
    peakReset: boolean
    /** Cairn's RSS just before the uploads (after the earlier phases). */
    rssBeforeBytes: number
    /** Cairn's own memory split at the largest RSS its /metrics showed. */
    atPeak?: HeapSplit
    result: StreamResult
  }
}

export const targets = {
  smallVersusRgw: 5,
  smallVersusNull: 0.3,
  bigVersusDisk: 0.8,
  rssBytesMax: 512 * MiB,
}

const ratio = (numerator: number | undefined, denominator: number | undefined, digits = 2): string =>
  numerator === undefined || denominator === undefined || denominator === 0 ? '-' : (numerator / denominator).toFixed(digits)
const percent = (numerator: number | undefined, denominator: number | undefined): string =>
  numerator === undefined || denominator === undefined || denominator === 0 ? '-' : `${((numerator / denominator) * 100).toFixed(0)}%`
const megabytes = (bytesPerSecond: number | undefined): string => (bytesPerSecond === undefined ? '-' : (bytesPerSecond / 1e6).toFixed(0))
const opsText = (result: WrkResult | undefined): string =>
  result === undefined ? '-' : `${result.opsPerSecond.toFixed(0)}${result.errors > 0 ? ` (${result.errors} errors)` : ''}`
const cpuText = (result: WrkResult | undefined, mainThread = false): string =>
  result === undefined ? '-' : `${result.serverCpuMsPerOp.toFixed(2)}${mainThread ? ` (${result.mainThreadCpuMsPerOp.toFixed(2)})` : ''}`
const latencyText = (result: WrkResult | undefined): string => (result === undefined ? '-' : `${result.p50Ms.toFixed(1)} / ${result.p99Ms.toFixed(1)}`)
const mib = (bytes: number): string => `${(bytes / MiB).toFixed(0)} MiB`

function printSmall(report: Report): void {
  console.log(`\n### ${formatSize(report.smallBytes)} objects, presigned URLs driven by wrk\n`)
  console.log('| op | conns | Cairn ops/s | RGW ops/s | null ops/s | Cairn/RGW | Cairn/null | server CPU ms/op: Cairn (its main thread), RGW, null | p50 / p99 ms: Cairn | RGW | null | machine busy (during Cairn) |')
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
  for (const point of report.small) {
    const { cairn, rgw, null: nullServer } = point.results
    console.log(
      `| ${point.method} | ${point.connections} | ${opsText(cairn)} | ${opsText(rgw)} | ${opsText(nullServer)} | ` +
        `${ratio(cairn?.opsPerSecond, rgw?.opsPerSecond)} | ${ratio(cairn?.opsPerSecond, nullServer?.opsPerSecond)} | ` +
        `${cpuText(cairn, true)}, ${cpuText(rgw)}, ${cpuText(nullServer)} | ${latencyText(cairn)} | ${latencyText(rgw)} | ${latencyText(nullServer)} | ` +
        `${cairn === undefined ? '-' : `${(cairn.machineBusy * 100).toFixed(0)}%`} |`,
    )
  }
}

function printBig(report: Report): void {
  const disk = 'unavailable' in report.disk ? undefined : report.disk
  const size = formatSize(report.big.cairn?.put.bytes ?? 0)
  console.log(`\n### ${size} objects, one stream (GET after dropping the server's page cache)\n`)
  console.log('| op | Cairn MB/s | RGW MB/s | null MB/s | disk MB/s (fio) | Cairn/RGW | Cairn/null | Cairn/disk | server CPU s/GB: Cairn (its main thread), RGW, null |')
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
  for (const op of ['put', 'get'] as const) {
    const rate = (name: TargetName): number | undefined => report.big[name]?.[op].bytesPerSecond
    const cpu = (name: TargetName): string => {
      const result = report.big[name]?.[op]
      if (result === undefined || result.bytes === 0) return '-'
      const total = (result.serverCpuSeconds / (result.bytes / 1e9)).toFixed(2)
      return name === 'cairn' ? `${total} (${(result.mainThreadCpuSeconds / (result.bytes / 1e9)).toFixed(2)})` : total
    }
    const diskRate = op === 'put' ? disk?.writeBytesPerSecond : disk?.readBytesPerSecond
    const failures = (['cairn', 'rgw', 'null'] as const).map((name) => report.big[name]?.[op]).filter((result) => result !== undefined && result.failed > 0)
    console.log(
      `| ${op.toUpperCase()} | ${megabytes(rate('cairn'))} | ${megabytes(rate('rgw'))} | ${megabytes(rate('null'))} | ${megabytes(diskRate)} | ` +
        `${ratio(rate('cairn'), rate('rgw'))} | ${ratio(rate('cairn'), rate('null'))} | ${ratio(rate('cairn'), diskRate)} | ${cpu('cairn')}, ${cpu('rgw')}, ${cpu('null')} |`,
    )
    for (const failed of failures) console.log(`|   failed: ${failed!.failure ?? ''} | | | | | | | | |`)
  }
  if (disk !== undefined) {
    const samples = disk.samples.map((sample) => `write ${megabytes(sample.writeBytesPerSecond)} / read ${megabytes(sample.readBytesPerSecond)}`).join('; ')
    console.log(`\ndisk (fio, O_DIRECT, 1 MiB, sequential; write with an fsync per block): ${samples} MB/s; the better sample counts`)
  } else if ('unavailable' in report.disk) {
    console.log(`\ndisk baseline unavailable: ${report.disk.unavailable}`)
  }
}

function printRss(report: Report): void {
  const { rss } = report
  const result = rss.result
  console.log(`\n### Cairn memory: ${rss.uploads} concurrent uploads of ${formatSize(rss.bytesEach)}${rss.capped ? ' (capped to 40% of the free disk)' : ''} from ${rss.processes} processes\n`)
  const split = rss.atPeak === undefined ? '-' : `${mib(rss.atPeak.rssBytes)}: heap ${mib(rss.atPeak.heapUsedBytes)} used of ${mib(rss.atPeak.heapTotalBytes)}, Buffers ${mib(rss.atPeak.externalBytes)}`
  console.log('| uploads ok | total | seconds | MB/s | RSS before | peak RSS (VmHWM) | max sampled VmRSS | at the largest /metrics sample | server CPU s/GB (main thread) |')
  console.log('|---:|---:|---:|---:|---:|---:|---:|---|---:|')
  console.log(
    `| ${result.transfers - result.failed} of ${result.transfers} | ${formatSize(result.bytes)} | ${result.seconds.toFixed(1)} | ${megabytes(result.bytesPerSecond)} | ${mib(rss.rssBeforeBytes)} | ` +
      `${mib(result.rssPeakBytes)}${rss.peakReset ? '' : ' (not reset: includes earlier phases)'} | ${mib(result.rssMaxSampledBytes)} | ${split} | ${(result.serverCpuSeconds / (result.bytes / 1e9)).toFixed(2)} (${(result.mainThreadCpuSeconds / (result.bytes / 1e9)).toFixed(2)}) |`,
  )
  if (result.failed > 0) console.log(`first failure: ${result.failure ?? ''}`)
}

function verdict(met: boolean | undefined): string {
  return met === undefined ? 'not measured' : met ? 'met' : 'NOT met'
}

function printTargets(report: Report): void {
  console.log('\ntargets (S3 issue):')
  for (const method of ['PUT', 'GET'] as const) {
    const points = report.small.filter((point) => point.method === method)
    const versus = (other: TargetName, wanted: number, format: (value: number) => string): string => {
      const parts = points.map((point) => {
        const cairn = point.results.cairn?.opsPerSecond
        const base = point.results[other]?.opsPerSecond
        return { connections: point.connections, value: cairn === undefined || base === undefined || base === 0 ? undefined : cairn / base }
      })
      const text = parts.map((part) => `${part.value === undefined ? '-' : format(part.value)} at ${part.connections}`).join(', ')
      const measured = parts.filter((part) => part.value !== undefined)
      const met = measured.length === 0 ? undefined : measured.every((part) => part.value! >= wanted)
      return `${text} -> ${verdict(met)}`
    }
    console.log(`  ${formatSize(report.smallBytes)} ${method} >= ${targets.smallVersusRgw}x RGW: ${versus('rgw', targets.smallVersusRgw, (value) => `${value.toFixed(1)}x`)}`)
    console.log(`  ${formatSize(report.smallBytes)} ${method} >= ${targets.smallVersusNull * 100}% of null: ${versus('null', targets.smallVersusNull, (value) => `${(value * 100).toFixed(0)}%`)}`)
  }
  const disk = 'unavailable' in report.disk ? undefined : report.disk
  const cairn = report.big.cairn
  for (const [op, diskRate] of [['PUT', disk?.writeBytesPerSecond], ['GET', disk?.readBytesPerSecond]] as const) {
    const rate = op === 'PUT' ? cairn?.put.bytesPerSecond : cairn?.get.bytesPerSecond
    const share = rate === undefined || diskRate === undefined ? undefined : rate / diskRate
    console.log(
      `  ${formatSize(cairn?.put.bytes ?? 0)} ${op} >= ${targets.bigVersusDisk * 100}% of disk ${op === 'PUT' ? 'write' : 'read'}: ` +
        `${percent(rate, diskRate)} (${megabytes(rate)} of ${megabytes(diskRate)} MB/s) -> ${verdict(share === undefined ? undefined : share >= targets.bigVersusDisk)}`,
    )
  }
  const peak = Math.max(report.rss.result.rssPeakBytes, report.rss.result.rssMaxSampledBytes)
  console.log(
    `  RSS < ${mib(targets.rssBytesMax)} with ${report.rss.uploads} concurrent uploads of ${formatSize(report.rss.bytesEach)}: ` +
      `peak ${mib(peak)} -> ${verdict(report.rss.result.failed === 0 && peak < targets.rssBytesMax)}`,
  )
}

export function printReport(report: Report): void {
  console.log(`\n## S3 benchmark, ${report.date}`)
  console.log(
    `node ${report.node}, ${report.cpus} CPUs (${report.cpuModel}), load average ${report.loadAverage.before} before, ${report.loadAverage.after} after; ` +
      'clients and servers share the machine\'s cores (and so does anyone else on it)',
  )
  console.log(report.rgw.available ? `Ceph RGW started in ${report.rgw.startSeconds.toFixed(0)} s` : `Ceph RGW not in this run: ${report.rgw.reason}`)
  printSmall(report)
  printBig(report)
  printRss(report)
  printTargets(report)
}
