// Real libnbd clients (nbdinfo, nbdcopy, nbdsh) against the NBD server over TCP, a Unix socket
// and STARTTLS, serving in-memory exports (src/nbd/testing). Each test skips when its tool is
// missing; CI installs libnbd-bin and python3-libnbd (.ci/run).
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generate } from 'selfsigned'
import { startTestServer, type TestServer } from '../src/nbd/testing/harness.ts'
import type { MemoryExportOptions } from '../src/nbd/testing/memory-provider.ts'
import { runTool, sha256File, skipUnless } from '../src/nbd/testing/tools.ts'

const MiB = 1024 * 1024
const exports: MemoryExportOptions[] = [
  { name: 'vol', sizeBytes: 64 * MiB, description: 'cairn test volume', blockSizes: { minimumBytes: 512, preferredBytes: 4096 } },
  { name: 'snap', sizeBytes: 4 * MiB, readOnly: true, contents: Buffer.alloc(1 * MiB, 0x42) },
]

function uris(harness: TestServer, name: string): Record<'tcp' | 'unix', string> {
  return { tcp: `nbd://127.0.0.1:${harness.port}/${name}`, unix: `nbd+unix:///${name}?socket=${harness.socketPath}` }
}

/** A file with data at 0-4 MiB and 40-44 MiB and holes elsewhere, like a sparse disk image. */
function sparseImage(directory: string, seed: number): string {
  const path = join(directory, `image-${seed}.raw`)
  const image = Buffer.alloc(64 * MiB)
  for (let index = 0; index < 4 * MiB; index += 1) {
    image[index] = (index * 7 + seed) & 0xff
    image[40 * MiB + index] = (index * 13 + seed) & 0xff
  }
  writeFileSync(path, image)
  return path
}

t.test('nbdinfo: flags, size, list, json, map, read-only', { skip: skipUnless('nbdinfo') }, async (t) => {
  const harness = await startTestServer(t, { exports })
  for (const [via, uri] of Object.entries(uris(harness, 'vol'))) {
    const result = await runTool('nbdinfo', ['--json', uri])
    t.equal(result.code, 0, `${via}: ${result.stderr}`)
    const info = JSON.parse(result.stdout)
    t.equal(info.protocol, 'newstyle-fixed')
    t.equal(info.structured, true)
    const [vol] = info.exports
    t.match(vol, {
      'export-name': 'vol', description: 'cairn test volume', 'export-size': 64 * MiB, contexts: ['base:allocation'],
      is_read_only: false, can_flush: true, can_fua: true, can_trim: true, can_zero: true, can_fast_zero: true,
      can_multi_conn: true, can_cache: true, can_df: true, block_size_minimum: 512, block_size_preferred: 4096,
    }, `${via}: flags and sizes`)
  }
  const size = await runTool('nbdinfo', ['--size', uris(harness, 'vol').tcp])
  t.equal(size.stdout.trim(), String(64 * MiB))
  t.equal((await runTool('nbdinfo', ['--is', 'readonly', uris(harness, 'snap').tcp])).code, 0, 'snap is read-only')
  t.equal((await runTool('nbdinfo', ['--is', 'readonly', uris(harness, 'vol').tcp])).code, 2, 'vol is not')
  t.equal((await runTool('nbdinfo', ['--can', 'trim', uris(harness, 'snap').tcp])).code, 2, 'no trim on a read-only export')

  const list = await runTool('nbdinfo', ['--list', '--json', `nbd://127.0.0.1:${harness.port}`])
  t.equal(list.code, 0, list.stderr)
  t.same(JSON.parse(list.stdout).exports.map((entry: { 'export-name': string }) => entry['export-name']), ['vol', 'snap'])

  const map = await runTool('nbdinfo', ['--map', '--json', uris(harness, 'snap').unix])
  t.same(JSON.parse(map.stdout).map((entry: { offset: number; length: number; type: number }) => [entry.offset, entry.length, entry.type]), [
    [0, 1 * MiB, 0], [1 * MiB, 3 * MiB, 3],
  ], '--map: data then hole,zero')
  const missing = await runTool('nbdinfo', [uris(harness, 'nope').tcp])
  t.not(missing.code, 0, 'an unknown export fails')
  t.same(harness.bugs, [])
})

t.test('nbdcopy: a sparse image in over TCP and out over a Unix socket, sha256 equal', { skip: skipUnless('nbdcopy', 'nbdinfo') }, async (t) => {
  const harness = await startTestServer(t, { exports })
  const directory = t.testdir({})
  const image = sparseImage(directory, 5)
  const copyIn = await runTool('nbdcopy', ['--connections=4', '--requests=16', image, uris(harness, 'vol').tcp])
  t.equal(copyIn.code, 0, copyIn.stderr)
  const out = join(directory, 'out.raw')
  const copyOut = await runTool('nbdcopy', [uris(harness, 'vol').unix, out])
  t.equal(copyOut.code, 0, copyOut.stderr)
  t.equal(await sha256File(out), await sha256File(image), 'same bytes back')
  const map = JSON.parse((await runTool('nbdinfo', ['--map', '--json', uris(harness, 'vol').tcp])).stdout) as Array<{ offset: number; type: number }>
  t.same(map.map((entry) => [entry.offset, entry.type]), [[0, 0], [4 * MiB, 3], [40 * MiB, 0], [44 * MiB, 3]], 'holes stayed holes')
  t.same(harness.bugs, [])
  t.equal(harness.provider.releases.length, harness.provider.volume('vol').counters.opens, 'every connection released its export')
})

t.test('nbdsh: commands, flags and server-side errors', { skip: skipUnless('nbdsh') }, async (t) => {
  const harness = await startTestServer(t, { exports })
  const script = `
import errno
assert h.get_size() == ${64 * MiB}
assert h.can_fua() and h.can_flush() and h.can_trim() and h.can_zero() and h.can_fast_zero() and h.can_cache() and h.can_multi_conn()
assert h.get_structured_replies_negotiated()
assert h.get_block_size(nbd.SIZE_MINIMUM) == 512
h.pwrite(b"\\x5a" * 65536, 1048576, nbd.CMD_FLAG_FUA)
assert h.pread(65536, 1048576) == b"\\x5a" * 65536
h.zero(65536, 1048576, nbd.CMD_FLAG_NO_HOLE)
assert h.pread(65536, 1048576) == bytes(65536)
entries = []
h.block_status(4194304, 0, lambda meta, offset, extents, err: entries.append(list(extents)))
assert entries == [[1048576, 3, 65536, 2, 3080192, 3]], entries
h.trim(2097152, 1048576)
h.flush()
h.cache(1048576, 0)
entries = []
h.block_status(4194304, 0, lambda meta, offset, extents, err: entries.append(list(extents)))
assert entries == [[4194304, 3]], entries
h.set_strict_mode(0)
def fails(fn, code):
    try:
        fn()
    except nbd.Error as e:
        assert e.errno == code, (e.errno, e.string)
        return
    raise AssertionError("no error")
fails(lambda: h.pread(4096, ${64 * MiB}), "EINVAL")
fails(lambda: h.pwrite(b"x" * 512, ${64 * MiB}), "ENOSPC")
fails(lambda: h.pwrite(b"x" * 100, 3), "EINVAL")
fails(lambda: h.pread(512, 0, nbd.CMD_FLAG_REQ_ONE), "EINVAL")
print("ok")
`
  const result = await runTool('nbdsh', ['--base-allocation', '-u', uris(harness, 'vol').tcp, '-c', script])
  t.equal(result.code, 0, result.stderr)
  t.equal(result.stdout.trim(), 'ok')
  const readOnly = await runTool('nbdsh', ['-u', uris(harness, 'snap').unix, '-c', `
h.set_strict_mode(0)
try:
    h.pwrite(b"x" * 512, 0)
    raise AssertionError("write allowed")
except nbd.Error as e:
    assert e.errno == "EPERM", e.errno
assert h.is_read_only()
print("ok")
`])
  t.equal(readOnly.code, 0, readOnly.stderr)
  t.same(harness.bugs, [])
})

t.test('STARTTLS: nbdinfo and nbdcopy with tls-certificates; plaintext refused', { skip: skipUnless('nbdinfo', 'nbdcopy') }, async (t) => {
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', keyCertSign: true, digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] },
    ],
  })
  const certificates = t.testdir({ 'ca-cert.pem': pems.cert })
  const harness = await startTestServer(t, { exports, tls: { cert: pems.cert, key: pems.private } })
  const tlsUri = `nbds://127.0.0.1:${harness.port}/vol?tls-certificates=${certificates}`
  const info = await runTool('nbdinfo', ['--json', tlsUri])
  t.equal(info.code, 0, info.stderr)
  t.equal(JSON.parse(info.stdout || '{}').TLS, true, 'the session is encrypted and the certificate verified')
  const directory = t.testdir({})
  const image = sparseImage(directory, 9)
  const copyIn = await runTool('nbdcopy', [image, tlsUri])
  t.equal(copyIn.code, 0, copyIn.stderr)
  const out = join(directory, 'out.raw')
  t.equal((await runTool('nbdcopy', [tlsUri, out])).code, 0)
  t.equal(await sha256File(out), await sha256File(image), 'same bytes through TLS')
  const plain = await runTool('nbdinfo', [uris(harness, 'vol').tcp])
  t.not(plain.code, 0, 'plaintext is refused when TLS is required')
  t.same(harness.bugs, [])
})
