// Report of the nfs benchmark (helper of bench/nfs.ts, not a benchmark on its own): one table of rates with ratios to ganesha, and the target
//
// Ratio = Cairn / ganesha; above 1 is better (every line is a rate). Target (issue 5): at least
// ganesha's rate on every line. CPU columns: seconds of CPU (user + system, all threads) the
// server process and the load client used during the line, per 1,000 operations of the line.
import type { Line, Measurement } from './nfs.ts'

const rateOf = (line: Line, result: Measurement): number => (line.unit === 'MB/s' ? result.bytes / 1e6 : result.operations) / result.seconds
const formatRate = (rate: number): string => (rate >= 100 ? Math.round(rate).toLocaleString('en-US') : rate.toFixed(1))
const cpuPerThousand = (seconds: number, result: Measurement): string => ((seconds * 1000) / Math.max(1, result.operations)).toFixed(2)

export function printTable(lines: readonly Line[]): void {
  console.log('\nCairn vs nfs-ganesha VFS (ratio = Cairn / ganesha, higher is better; CPU s per 1,000 ops: server process, and the load client)\n')
  console.log('| line | unit | Cairn | ganesha | ratio | CPU Cairn | CPU ganesha | client CPU (C / g) | client |')
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---|')
  for (const line of lines) {
    const { cairn, ganesha } = line.results
    const ratio = rateOf(line, cairn) / rateOf(line, ganesha)
    console.log(
      `| ${line.name} | ${line.unit} | ${formatRate(rateOf(line, cairn))} | ${formatRate(rateOf(line, ganesha))} | ${ratio.toFixed(2)}x | ` +
        `${cpuPerThousand(cairn.serverCpuSeconds, cairn)} | ${cpuPerThousand(ganesha.serverCpuSeconds, ganesha)} | ` +
        `${cpuPerThousand(cairn.clientCpuSeconds, cairn)} / ${cpuPerThousand(ganesha.clientCpuSeconds, ganesha)} | ${line.client} |`,
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
