// Report of the nfs benchmark (helper of bench/nfs.ts, not a benchmark on its own): one table of rates with ratios to ganesha, and the target
//
// Ratio = Cairn / ganesha; above 1 is better (every line is a rate). Target (issue 5): at least
// ganesha's rate on every line. CPU columns: microseconds of CPU (user + system, all threads)
// the server process and the load client used during the line, per operation of the line (per
// MiB on the sequential lines, whose operations are 1 MiB READs/WRITEs).
import type { Line, Measurement } from './nfs.ts'

const rateOf = (line: Line, result: Measurement): number => (line.unit === 'MB/s' ? result.bytes / 1e6 : result.operations) / result.seconds
const formatRate = (rate: number): string => (rate >= 100 ? Math.round(rate).toLocaleString('en-US') : rate.toFixed(1))
const cpuMicrosPerOperation = (seconds: number, result: Measurement): string => {
  const micros = (seconds * 1e6) / Math.max(1, result.operations)
  return micros >= 100 ? Math.round(micros).toLocaleString('en-US') : micros.toFixed(1)
}

export function printTable(lines: readonly Line[]): void {
  console.log('\nCairn vs nfs-ganesha VFS (ratio = Cairn / ganesha, higher is better; CPU us per operation (per MiB on the sequential lines): server process, and the load client)\n')
  console.log('| line | unit | Cairn | ganesha | ratio | CPU us/op Cairn | CPU us/op ganesha | client CPU us/op (C / g) | client |')
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---|')
  for (const line of lines) {
    const { cairn, ganesha } = line.results
    const ratio = rateOf(line, cairn) / rateOf(line, ganesha)
    console.log(
      `| ${line.name} | ${line.unit} | ${formatRate(rateOf(line, cairn))} | ${formatRate(rateOf(line, ganesha))} | ${ratio.toFixed(2)}x | ` +
        `${cpuMicrosPerOperation(cairn.serverCpuSeconds, cairn)} | ${cpuMicrosPerOperation(ganesha.serverCpuSeconds, ganesha)} | ` +
        `${cpuMicrosPerOperation(cairn.clientCpuSeconds, cairn)} / ${cpuMicrosPerOperation(ganesha.clientCpuSeconds, ganesha)} | ${line.client} |`,
    )
  }
}

export function printTargets(lines: readonly Line[]): void {
  const ratios = lines.map((line) => ({ line, ratio: rateOf(line, line.results.cairn) / rateOf(line, line.results.ganesha) }))
  const met = ratios.filter((entry) => entry.ratio >= 1)
  const worst = ratios.reduce((low, next) => (next.ratio < low.ratio ? next : low))
  console.log(
    `\ntarget (issue 5): at least ganesha's rate on every line: ${met.length} of ${ratios.length} met; ` +
      `lowest ${(worst.ratio * 100).toFixed(0)}% (${worst.line.name})`,
  )
}
