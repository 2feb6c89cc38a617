// Report of the nbd benchmark (helper of bench/nbd.ts, not a benchmark on its own): tables with ratios to nbdkit and the issue's targets
//
// Ratios are Cairn / nbdkit: above 1 is better for IOPS and MB/s, worse for p99 and CPU per I/O.
// Targets (issue 4): Cairn reaches >= 80% of nbdkit's IOPS on the 4 KiB random cases and >= 90%
// of its MB/s on the 1 MiB sequential cases.
import type { FioResult } from './nbd-fio.ts'
import type { SnapshotPhaseResult } from './nbd-snapshot.ts'
import type { Comparison } from './nbd.ts'

const iopsTarget = 0.8
const throughputTarget = 0.9

const whole = (value: number): string => Math.round(value).toLocaleString('en-US')
const megabytes = (bytesPerSecond: number): string => whole(bytesPerSecond / 1e6)
const ratio = (cairn: number, nbdkit: number): string => (nbdkit > 0 ? `${(cairn / nbdkit).toFixed(2)}x` : 'n/a')
/** Server CPU per I/O in microseconds (1 MiB I/Os included: it is per request). */
const cpuMicrosPerIo = (result: FioResult): number => (result.serverCpuSeconds * 1e6) / Math.max(1, result.ios)
const mebibytes = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`

export function printIoTable(comparisons: readonly Comparison[]): void {
  console.log('\nCairn vs nbdkit file plugin (ratio = Cairn / nbdkit; p99 = completion latency; CPU = server process, user + system, per I/O)\n')
  console.log('| case | transport | IOPS Cairn | IOPS nbdkit | IOPS ratio | MB/s Cairn | MB/s nbdkit | p99 us Cairn | p99 us nbdkit | p99 ratio | CPU us/IO Cairn | CPU us/IO nbdkit | CPU ratio |')
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
  for (const { name, transport, cairn, nbdkit } of comparisons) {
    console.log(
      `| ${name} | ${transport} | ${whole(cairn.iops)} | ${whole(nbdkit.iops)} | ${ratio(cairn.iops, nbdkit.iops)} | ` +
        `${megabytes(cairn.bytesPerSecond)} | ${megabytes(nbdkit.bytesPerSecond)} | ` +
        `${whole(cairn.p99Micros)} | ${whole(nbdkit.p99Micros)} | ${ratio(cairn.p99Micros, nbdkit.p99Micros)} | ` +
        `${cpuMicrosPerIo(cairn).toFixed(1)} | ${cpuMicrosPerIo(nbdkit).toFixed(1)} | ${ratio(cpuMicrosPerIo(cairn), cpuMicrosPerIo(nbdkit))} |`,
    )
  }
}

export function printTargets(comparisons: readonly Comparison[]): void {
  const check = (kind: 'iops' | 'throughput', wanted: number, value: (result: FioResult) => number, unit: string): void => {
    const relevant = comparisons.filter((comparison) => comparison.target === kind)
    if (relevant.length === 0) return
    const ratios = relevant.map((comparison) => ({ comparison, ratio: value(comparison.cairn) / value(comparison.nbdkit) }))
    const worst = ratios.reduce((low, next) => (next.ratio < low.ratio ? next : low))
    const met = ratios.filter((entry) => entry.ratio >= wanted).length
    console.log(
      `target (issue 4): ${unit} >= ${wanted * 100}% of nbdkit: ${met} of ${ratios.length} cases met; ` +
        `lowest ${(worst.ratio * 100).toFixed(0)}% (${worst.comparison.transport} ${worst.comparison.name}), ` +
        `range ${ratios.map((entry) => `${(entry.ratio * 100).toFixed(0)}%`).join(' ')}`,
    )
  }
  console.log('')
  check('iops', iopsTarget, (result) => result.iops, '4 KiB random IOPS')
  check('throughput', throughputTarget, (result) => result.bytesPerSecond, '1 MiB sequential MB/s')
}

export function printSnapshotPhase(result: SnapshotPhaseResult): void {
  const sizeGiB = result.volumeSizeBytes / 2 ** 30
  console.log(`\nSnapshot and restore: a ${sizeGiB} GiB io2 volume (its own limit ${megabytes(result.throttleBytesPerSecond)} MB/s), filled with random data at ${megabytes(result.fill.bytesPerSecond)} MB/s\n`)
  console.log('| snapshot | seconds | changed (extents hashed) | stored (snapshot storedBytes) | data dir growth (packs + metadata) | changed MB/s |')
  console.log('|---|---:|---:|---:|---:|---:|')
  for (const snapshot of result.snapshots) {
    console.log(
      `| ${snapshot.name} | ${snapshot.seconds.toFixed(2)} | ${mebibytes(snapshot.changedBytes)} | ${mebibytes(snapshot.storedBytes)} | ` +
        `${mebibytes(snapshot.dataDirGrowthBytes)} | ${megabytes(snapshot.changedBytes / snapshot.seconds)} |`,
    )
  }
  console.log(`\nchanges written: ${result.changes.map((change) => `${change.job.name}: ${mebibytes(change.bytes)} in ${change.seconds.toFixed(1)} s`).join('; ')}`)
  console.log('\n| sequential 1 MiB read, QD16, whole volume once | MB/s | seconds | server CPU s/GB |')
  console.log('|---|---:|---:|---:|')
  for (const { name, result: read } of result.reads) {
    console.log(`| ${name} | ${megabytes(read.bytesPerSecond)} | ${read.seconds.toFixed(1)} | ${(read.serverCpuSeconds / (read.bytes / 1e9)).toFixed(2)} |`)
  }
  console.log(`\neager hydration of the restored volume: ${result.hydration.seconds.toFixed(1)} s from create to hydrated, ${megabytes(result.hydration.bytesPerSecond)} MB/s of volume`)
}
