// Two clients at once on `cairn server`: the kernel client (qemu guest, native-tests/nfs-vm/
// cto.sh) and, on the host, Debian's libnfs-utils (reads; nfs-cp creates only new files, with
// EXCLUSIVE4) and the 4.1 protocol test client (overwrites). Close-to-open consistency both ways:
// a file the guest wrote and closed is read whole by libnfs; a file the guest had read (and
// cached) and that the host then overwrote in place, same size, reads back new on the guest's
// next open (the `change` attribute moved). One boot, ~20-30 s under TCG. Skips cleanly without qemu, a
// kernel, busybox, socat or libnfs-utils.
import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { haveLibnfs, libnfs, libnfsUrl, NfsWriter, nfsPortOf } from './helpers/nfs.ts'
import { runGuest, vmDir, vmUnavailable } from './helpers/nfs-vm.ts'
import { startCairn, tempDir } from './helpers/server.ts'

const unavailable = (await vmUnavailable()) ?? ((await haveLibnfs()) ? undefined : 'libnfs-utils (nfs-cp, nfs-cat) not installed')
if (unavailable !== undefined) t.plan(0, unavailable)

const env = { CAIRN_ROOT_ACCESS_KEY: 'NFSCTOACCESSKEY00001', CAIRN_ROOT_SECRET_KEY: 'nfs-cto-secret-key-01' }
const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex')

t.test('close-to-open between the kernel client and libnfs', { timeout: 300_000 }, async (t) => {
  const dir = tempDir(t, 'cairn-nfs-cto-')
  const server = await startCairn(t, { env, args: ['--nfs-grace-seconds', '0'] })
  const port = nfsPortOf(server)
  const url = (name: string) => libnfsUrl(port, `/default/${name}`)
  // libnfs 4.0 WRITEs at most ~3.9 KB per request: its upload stays under that.
  const upload = async (name: string, data: Buffer | string) => {
    const local = join(dir, name)
    writeFileSync(local, data)
    await libnfs('nfs-cp', local, url(name))
  }
  const v1 = randomBytes(3000)
  const v2 = randomBytes(3000)
  const writer = await NfsWriter.connect(port, 'cto-host')
  t.teardown(() => writer.close())
  const root = await writer.handle('/default')
  const put = (name: string, data: Buffer | string) => writer.writeFile(root, name, Buffer.from(data), { stability: 'unstable' })
  await upload('h2g.bin', v1)
  await put('h2g.md5', md5(v1))
  await put('signal', 'v1')

  let guestWrote: string | undefined
  let hostRead: Promise<Buffer> | undefined
  let overwritten: Promise<void> | undefined
  const run = await runGuest({
    port, version: '4.1', exportPath: '/default', workload: join(vmDir, 'cto.sh'), timeoutMs: 120_000,
    onOutput: (output) => {
      const written = /CTO-G2H ([0-9a-f]{32})/.exec(output)
      if (hostRead === undefined && written !== null) {
        guestWrote = written[1]
        hostRead = libnfs('nfs-cat', url('g2h.bin'))
        hostRead.catch(() => {}) // awaited after the run
      }
      if (overwritten === undefined && output.includes('CTO-READ-V1')) {
        overwritten = (async () => {
          await put('h2g.bin', v2)
          await put('h2g.md5', md5(v2))
          await put('signal', 'v2')
        })()
        overwritten.catch(() => {}) // awaited after the run; the guest times out meanwhile
      }
    },
  })
  const read = await hostRead
  await overwritten
  t.ok(read !== undefined && guestWrote !== undefined, 'the guest wrote g2h.bin')
  t.equal(read?.length, 32 * 64 * 1024, 'libnfs reads all 2 MiB the guest wrote and closed')
  t.equal(md5(read ?? Buffer.alloc(0)), guestWrote, 'byte-identical')
  t.ok(run.output.includes('WORKLOAD: done'), 'the workload ran to the end')
  t.equal(run.checks.length, 3, 'three checks reported')
  for (const line of run.checks) t.match(line, / ok$/, line)
  if (!run.output.includes('WORKLOAD: done')) t.comment(run.output.slice(-4000))
})
