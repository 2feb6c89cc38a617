// The NBD server over the real volume service (src/volumes: sparse heads, XTS encryption,
// snapshots in the chunk store), driven by real clients: the integration the in-memory tests
// cannot show. Each test skips when its tool is missing.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startNbdServer } from '../src/nbd/index.ts'
import { captureLogger, type LogRecord, type Teardown } from '../src/nbd/testing/harness.ts'
import { runTool, skipUnless } from '../src/nbd/testing/tools.ts'
import { volumeTestSetup } from '../src/volumes/testing.ts'

const MiB = 1024 * 1024
const GiB = 1024 * MiB

async function setup(t: Teardown) {
  const volumes = await volumeTestSetup()
  const logs: LogRecord[] = []
  const bugs: Error[] = []
  const socketPath = join(volumes.directory, 'nbd.sock')
  const server = await startNbdServer({
    provider: volumes.service,
    tcpAddress: { host: '127.0.0.1', port: 0 },
    socketPath,
    logger: captureLogger(logs),
    onBug: (error) => bugs.push(error),
  })
  t.teardown(async () => {
    await server.close({ graceMs: 2000 })
    await volumes.cleanup()
  })
  const port = server.addresses.tcp?.port ?? 0
  return {
    volumes,
    bugs,
    logs,
    tcp: (name: string) => `nbd://127.0.0.1:${port}/${name}`,
    unix: (name: string) => `nbd+unix:///${name}?socket=${socketPath}`,
  }
}

/** 64 MiB: data at 8-12 MiB and 40-41 MiB, zeroes elsewhere. */
function image(directory: string): string {
  const bytes = Buffer.alloc(64 * MiB)
  for (let index = 0; index < 4 * MiB; index += 1) bytes[8 * MiB + index] = (index * 7 + 1) & 0xff
  bytes.fill(0x77, 40 * MiB, 41 * MiB)
  const path = join(directory, 'image.raw')
  writeFileSync(path, bytes)
  return path
}

t.test('a volume: flags, copy in and out, compare; a snapshot exported read-only', { skip: skipUnless('nbdinfo', 'nbdcopy', 'qemu-img') }, async (t) => {
  const { volumes, bugs, tcp, unix } = await setup(t)
  const volume = await volumes.service.createVolume({ sizeBytes: 1 * GiB, type: 'gp3', description: 'nbd test' })
  const info = JSON.parse((await runTool('nbdinfo', ['--json', tcp(volume.exportName)])).stdout)
  t.match(info.exports[0], { 'export-size': 1 * GiB, is_read_only: false, can_trim: true, can_zero: true, can_multi_conn: true, can_fua: true })

  const directory = t.testdir({})
  const source = image(directory)
  const copyIn = await runTool('nbdcopy', ['--connections=2', source, tcp(volume.exportName)])
  t.equal(copyIn.code, 0, copyIn.stderr)
  // The volume is 1 GiB; compare checks the extra part reads as zeroes.
  const compare = await runTool('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', source, unix(volume.exportName)])
  t.equal(compare.code, 0, compare.stdout + compare.stderr)

  const snapshot = await volumes.service.createSnapshot(volume.volumeId, { description: 'after copy' })
  await volumes.service.waitForSnapshot(snapshot.snapshotId)
  t.equal((await runTool('nbdinfo', ['--is', 'readonly', tcp(snapshot.snapshotId)])).code, 0, 'snapshot exports are read-only')
  // Overwrite the volume; the snapshot keeps the old bytes.
  const overwrite = await runTool('qemu-io', ['-f', 'raw', '-c', 'write -P 0x99 8M 4M', tcp(volume.exportName)])
  t.equal(overwrite.code, 0, overwrite.stderr)
  const fromSnapshot = await runTool('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', source, tcp(snapshot.snapshotId)])
  t.equal(fromSnapshot.code, 0, fromSnapshot.stdout + fromSnapshot.stderr)
  const list = JSON.parse((await runTool('nbdinfo', ['--list', '--json', `nbd+unix:///?socket=${unix('').split('socket=')[1]}`])).stdout)
  const names = list.exports.map((entry: { 'export-name': string }) => entry['export-name'])
  t.ok(names.includes(volume.exportName) && names.includes(snapshot.snapshotId), 'LIST shows volumes and snapshots')
  t.same(bugs.map((bug) => bug.stack), [])
})

t.test('fio verify=crc32c on an encrypted volume, two connections', { skip: skipUnless('fio') }, async (t) => {
  const { volumes, bugs, tcp } = await setup(t)
  const volume = await volumes.service.createVolume({ sizeBytes: 1 * GiB, encrypted: true })
  const result = await runTool('fio', [
    '--name=verify', '--ioengine=nbd', `--uri=${tcp(volume.exportName)}`, '--rw=randwrite', '--bs=4k', '--iodepth=32',
    '--size=16M', '--numjobs=2', '--offset_increment=64M', '--verify=crc32c', '--do_verify=1', '--verify_fatal=1',
    '--verify_state_save=0', // fio would leave *-verify.state files in the working directory
  ], { timeoutMs: 120_000 })
  t.equal(result.code, 0, result.stdout + result.stderr)
  t.match(result.stdout, /err= 0/)
  t.notMatch(result.stdout, /verify: bad/)
  t.same(bugs, [])
})

t.test('one client per volume: another client is refused with a reason', { skip: skipUnless('nbdsh', 'nbdinfo') }, async (t) => {
  const { volumes, tcp, unix } = await setup(t)
  const volume = await volumes.service.createVolume({ sizeBytes: 1 * GiB })
  // nbdsh holds a TCP connection (client tcp:127.0.0.1) while nbdinfo tries over the Unix socket.
  const holder = runTool('nbdsh', ['-u', tcp(volume.exportName), '-c', 'import time; h.pread(4096, 0); time.sleep(1.5)'])
  await new Promise((resolve) => setTimeout(resolve, 700))
  // libnbd shows NBD_REP_ERR_POLICY as "Operation not supported"; the server's reason is in its debug log.
  const other = await runTool('nbdinfo', [unix(volume.exportName)], { env: { LIBNBD_DEBUG: '1' } })
  t.not(other.code, 0, 'second client refused')
  t.match(other.stderr, /attached/, 'the reason reaches the client')
  t.equal((await holder).code, 0)
  const after = await runTool('nbdinfo', [unix(volume.exportName)])
  t.equal(after.code, 0, 'free again once the first client left')
})
