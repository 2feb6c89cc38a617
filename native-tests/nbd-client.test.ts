// nbd-client (the kernel NBD client's userspace half) against the NBD server: export listing
// and the handshake up to the point where it hands the socket to the kernel. Attaching
// /dev/nbdX needs the nbd module, which test machines may lack; then the test stops at the
// negotiated size. Skips when nbd-client is not installed.
import t from 'tap'
import { startTestServer } from '../src/nbd/testing/harness.ts'
import { runTool, skipUnless } from '../src/nbd/testing/tools.ts'

const MiB = 1024 * 1024

t.test('nbd-client: list exports, negotiate an export', { skip: skipUnless('nbd-client') }, async (t) => {
  const harness = await startTestServer(t, {
    exports: [
      { name: 'vol-a', sizeBytes: 64 * MiB, description: 'first volume' },
      { name: 'snap-b', sizeBytes: 8 * MiB, readOnly: true },
    ],
  })
  const list = await runTool('nbd-client', ['-l', '127.0.0.1', String(harness.port)])
  t.equal(list.code, 0, list.stderr)
  t.match(list.stdout, /vol-a: first volume/)
  t.match(list.stdout, /snap-b/)
  // Without the kernel module nbd-client fails after the handshake; with it, it attaches.
  const attach = await runTool('nbd-client', ['-N', 'vol-a', '127.0.0.1', String(harness.port), '/dev/nbd15'], { timeoutMs: 20_000 })
  t.match(attach.stdout + attach.stderr, /size = 64MB/, 'negotiated the export size')
  if (attach.code === 0) await runTool('nbd-client', ['-d', '/dev/nbd15'])
  const unknown = await runTool('nbd-client', ['-N', 'nope', '127.0.0.1', String(harness.port), '/dev/nbd15'])
  t.not(unknown.code, 0, 'an unknown export is refused')
  t.same(harness.bugs, [])
  t.equal(harness.provider.releases.length, harness.provider.volume('vol-a').counters.opens, 'the attachment was released')
})
