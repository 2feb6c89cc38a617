// qemu-img, qemu-io and fio (--ioengine=nbd, verify=crc32c) against the NBD server over TCP
// and a Unix socket, serving in-memory exports (src/nbd/testing). Each test skips when its tool
// is missing; CI installs qemu-utils and fio (.ci/run).
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startTestServer, type TestServer } from '../src/nbd/testing/harness.ts'
import type { MemoryExportOptions } from '../src/nbd/testing/memory-provider.ts'
import { runTool, skipUnless } from '../src/nbd/testing/tools.ts'

const MiB = 1024 * 1024
const exports: MemoryExportOptions[] = [
  { name: 'vol', sizeBytes: 64 * MiB, description: 'cairn test volume', blockSizes: { minimumBytes: 512, preferredBytes: 4096 } },
  { name: 'snap', sizeBytes: 4 * MiB, readOnly: true, contents: Buffer.alloc(1 * MiB, 0x42) },
]

function uris(harness: TestServer, name: string): Record<'tcp' | 'unix', string> {
  return { tcp: `nbd://127.0.0.1:${harness.port}/${name}`, unix: `nbd+unix:///${name}?socket=${harness.socketPath}` }
}

t.test('qemu-img: info, convert in and out, compare, map', { skip: skipUnless('qemu-img') }, async (t) => {
  const harness = await startTestServer(t, { exports })
  const directory = t.testdir({})
  const image = join(directory, 'image.raw')
  const bytes = Buffer.alloc(64 * MiB)
  for (let index = 0; index < 8 * MiB; index += 1) bytes[16 * MiB + index] = (index * 11) & 0xff
  writeFileSync(image, bytes)
  const uri = uris(harness, 'vol')

  const info = await runTool('qemu-img', ['info', '--output=json', uri.tcp])
  t.equal(info.code, 0, info.stderr)
  t.match(JSON.parse(info.stdout), { 'virtual-size': 64 * MiB, format: 'raw' })

  const convertIn = await runTool('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', image, uri.tcp])
  t.equal(convertIn.code, 0, convertIn.stderr)
  const compare = await runTool('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', image, uri.unix])
  t.equal(compare.code, 0, `${compare.stdout} ${compare.stderr}`)

  const qcow2 = join(directory, 'out.qcow2')
  const convertOut = await runTool('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', uri.unix, qcow2])
  t.equal(convertOut.code, 0, convertOut.stderr)
  t.equal((await runTool('qemu-img', ['compare', '-f', 'qcow2', '-F', 'raw', qcow2, image])).code, 0, 'qcow2 copy matches')

  const map = await runTool('qemu-img', ['map', '--output=json', '-f', 'raw', uri.tcp])
  const extents = JSON.parse(map.stdout) as Array<{ start: number; length: number; data: boolean; zero: boolean }>
  t.same(extents.map((extent) => [extent.start, extent.length, extent.data]), [[0, 16 * MiB, false], [16 * MiB, 8 * MiB, true], [24 * MiB, 40 * MiB, false]], 'zero areas stayed sparse')
  t.same(harness.bugs, [])
})

t.test('qemu-io: read/write/zero/discard/FUA/aio patterns verified with -P', { skip: skipUnless('qemu-io') }, async (t) => {
  const harness = await startTestServer(t, { exports })
  for (const [via, uri] of Object.entries(uris(harness, 'vol'))) {
    const commands = [
      'write -P 0xab 0 1M', 'read -P 0xab 0 1M',
      'write -z 256k 256k', 'read -P 0 256k 256k', 'read -P 0xab 512k 512k',
      'discard 1M 1M', 'write -z -u 2M 1M', 'read -P 0 2M 1M',
      'write -f -P 0xcd 3M 64k', 'read -P 0xcd 3M 64k',
      'write -P 0x33 4194404 1000', 'read -P 0x33 4194404 1000', 'read -P 0 4M 100',
      'aio_write -P 0x11 5M 4k', 'aio_write -P 0x22 6M 4k', 'aio_flush', 'read -P 0x11 5M 4k', 'read -P 0x22 6M 4k',
      'flush',
    ]
    const result = await runTool('qemu-io', ['-f', 'raw', ...commands.flatMap((command) => ['-c', command]), uri])
    t.equal(result.code, 0, `${via}: ${result.stdout} ${result.stderr}`)
    t.notMatch(result.stdout, /verification failed|error/i, `${via}: every pattern matched`)
  }
  const volume = harness.provider.volume('vol')
  t.ok(volume.counters.fuaWrites >= 2, 'write -f sent FUA')
  t.ok(volume.counters.flushes >= 2 && volume.counters.trims >= 2 && volume.counters.zeroes >= 2)

  const snap = uris(harness, 'snap').tcp
  const readOnly = await runTool('qemu-io', ['-r', '-f', 'raw', '-c', 'read -P 0x42 0 1M', '-c', 'read -P 0 1M 3M', snap])
  t.equal(readOnly.code, 0, readOnly.stdout + readOnly.stderr)
  const refused = await runTool('qemu-io', ['-f', 'raw', '-c', 'write 0 4k', snap])
  t.not(refused.code, 0, 'qemu refuses to open a read-only export for writing')
  t.same(harness.bugs, [])
})

interface FioJob {
  jobname: string
  error: number
  read: { io_bytes: number }
  write: { io_bytes: number }
}

async function fio(args: string[]): Promise<{ code: number | null; jobs: FioJob[]; output: string }> {
  const result = await runTool('fio', [...args, '--output-format=json', '--verify_state_save=0'], { timeoutMs: 120_000 })
  const start = result.stdout.indexOf('{')
  const parsed = start < 0 ? { jobs: [] } : JSON.parse(result.stdout.slice(start))
  return { code: result.code, jobs: parsed.jobs as FioJob[], output: result.stdout + result.stderr }
}

t.test('fio --ioengine=nbd with verify=crc32c over TCP and a Unix socket, two connections', { skip: skipUnless('fio') }, async (t) => {
  const harness = await startTestServer(t, { exports })
  for (const [via, uri] of Object.entries(uris(harness, 'vol'))) {
    const result = await fio([
      `--name=verify-${via}`, '--ioengine=nbd', `--uri=${uri}`, '--rw=randwrite', '--bs=4k', '--iodepth=32',
      '--size=16M', '--numjobs=2', '--offset_increment=16M', '--verify=crc32c', '--do_verify=1', '--verify_fatal=1',
    ])
    t.equal(result.code, 0, result.output)
    t.equal(result.jobs.length, 2, `${via}: two jobs (two connections, multi-conn)`)
    for (const job of result.jobs) {
      t.equal(job.error, 0, `${via}: no error`)
      t.equal(job.write.io_bytes, 16 * MiB, `${via}: wrote its region`)
      t.equal(job.read.io_bytes, 16 * MiB, `${via}: verified its region`)
    }
  }
  const mixed = await fio([
    '--name=mixed', '--ioengine=nbd', `--uri=${uris(harness, 'vol').tcp}`, '--rw=randrw', '--bsrange=512-256k', '--bs_unaligned=0',
    '--iodepth=16', '--size=32M', '--io_size=32M', '--verify=crc32c', '--do_verify=1', '--verify_fatal=1', '--fsync=64',
  ])
  t.equal(mixed.code, 0, mixed.output)
  t.equal(mixed.jobs[0]?.error, 0, 'mixed sizes, reads and writes with flushes')
  t.same(harness.bugs, [])
  t.equal(harness.provider.releases.length, harness.provider.volume('vol').counters.opens)
})
