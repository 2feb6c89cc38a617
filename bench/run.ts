// Benchmark launcher: `npm run bench` lists the benchmarks, `npm run bench -- <name> [options]`
// runs bench/<name>.ts in a child process of the same node with the remaining arguments.
//
// Contract: every bench/<name>.ts (except this file) is a standalone script that runs when it is
// the main module; its first comment line says what it measures (shown in the list). A child
// process per benchmark keeps one benchmark's heap, threads and open files out of the next one.
// Never: run benchmarks as tests (they are slow and machine-dependent); swallow a child's exit
// status (the launcher exits with it).
import { spawn } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { constants } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const benchDirectory = dirname(fileURLToPath(import.meta.url))
const launcherName = 'run'
/** Benchmarks planned but not written yet, so the list says where they will appear. */
const planned: Record<string, string> = {
  s3: 'S3 PUT/GET throughput and small-object ops/s (not written yet)',
  nbd: 'NBD volume random and sequential I/O (not written yet)',
}

interface Bench {
  name: string
  summary: string
}

async function listBenches(): Promise<Bench[]> {
  const names = (await readdir(benchDirectory))
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'))
    .map((file) => file.slice(0, -'.ts'.length))
    .filter((name) => name !== launcherName)
    .sort()
  return Promise.all(names.map(async (name) => ({ name, summary: await summaryOf(join(benchDirectory, `${name}.ts`)) })))
}

/** The first line of the file's leading comment. */
async function summaryOf(path: string): Promise<string> {
  const firstLine = (await readFile(path, 'utf8')).split('\n', 1)[0] ?? ''
  return firstLine.startsWith('//') ? firstLine.replace(/^\/\/\s*/, '') : ''
}

function printList(benches: readonly Bench[]): void {
  console.log('usage: npm run bench -- <name> [options]   (options: see each benchmark, e.g. --help)\n')
  const width = Math.max(...benches.map((bench) => bench.name.length), ...Object.keys(planned).map((name) => name.length))
  for (const bench of benches) console.log(`  ${bench.name.padEnd(width)}  ${bench.summary}`)
  for (const [name, summary] of Object.entries(planned)) {
    if (!benches.some((bench) => bench.name === name)) console.log(`  ${name.padEnd(width)}  ${summary}`)
  }
}

function runBench(name: string, args: readonly string[]): Promise<number> {
  const child = spawn(process.execPath, [join(benchDirectory, `${name}.ts`), ...args], { stdio: 'inherit' })
  // Forward Ctrl-C and kill so the benchmark can clean up its temp directory.
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal)
  }
  process.on('SIGINT', forward)
  process.on('SIGTERM', forward)
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal === null ? 0 : constants.signals[signal])))
  })
}

async function main(argv: readonly string[]): Promise<number> {
  const benches = await listBenches()
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'list') {
    printList(benches)
    return 0
  }
  if (!benches.some((bench) => bench.name === name)) {
    console.error(`unknown benchmark "${name}"${name in planned ? ' (planned, not written yet)' : ''}\n`)
    printList(benches)
    return 2
  }
  return runBench(name, rest)
}

process.exitCode = await main(process.argv.slice(2))
