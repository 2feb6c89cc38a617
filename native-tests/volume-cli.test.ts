// Black-box test of `cairn volume` and `cairn snapshot` against the real server: create (plain,
// io2 multi-attach encrypted), list, describe with the attach command, modify (grow, refuse to
// shrink), snapshot with wait, diff, restore with eager hydration, clone, delete; usage errors
// exit 2, refusals exit 1 with the server's message.
import t from 'tap'
import { runCli, startCairn } from './helpers/server.ts'

const env = { CAIRN_ROOT_ACCESS_KEY: 'VOLUMECLIACCESSKEY', CAIRN_ROOT_SECRET_KEY: 'volume-cli-secret-key' }

t.test('volume and snapshot commands', async (t) => {
  const server = await startCairn(t, { env })
  const cli = (...args: string[]) => runCli(args, { env: { ...env, CAIRN_ADMIN_URL: server.adminUrl } })
  const json = async (...args: string[]) => {
    const result = await cli(...args, '--json')
    t.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`)
    return JSON.parse(result.stdout)
  }

  const volume = await json('volume', 'create', '--size', '1GiB', '--description', 'cli test')
  t.match(volume, { volumeId: /^vol-[0-9a-f]{17}$/, sizeBytes: 2 ** 30, type: 'gp3', state: 'available', description: 'cli test' })
  const id = volume.volumeId as string
  const io2 = await json('volume', 'create', '--size', '10GiB', '--type', 'io2', '--iops', '500', '--multi-attach', '--encrypted')
  t.match(io2, { type: 'io2', iops: 500, multiAttach: true, encrypted: true })

  const list = await cli('volume', 'list')
  t.equal(list.code, 0, list.stderr)
  t.match(list.stdout, /^VOLUME ID\s+SIZE\s+TYPE/)
  t.match(list.stdout, new RegExp(`${id}\\s+1 GiB\\s+gp3\\s+3000\\s+125\\s+available`))

  const described = await cli('volume', 'describe', id)
  t.equal(described.code, 0, described.stderr)
  t.match(described.stdout, new RegExp(`sudo nbd-client \\S+ \\d+ /dev/nbd0 -N ${id} -b 4096`))
  t.match(described.stdout, new RegExp(`URI: nbd://\\S+:\\d+/${id}`))

  t.match(await json('volume', 'modify', id, '--size', '2GiB'), { sizeBytes: 2 * 2 ** 30 })
  // Refusals (exit 1, the server's message) and usage errors (exit 2), side by side.
  const [shrink, fractional, badSize, badAction] = await Promise.all([
    cli('volume', 'modify', id, '--size', '1GiB'),
    cli('volume', 'create', '--size', '1.5GiB'),
    cli('volume', 'create', '--size', 'lots'),
    cli('volume', 'explode'),
  ])
  t.equal(shrink.code, 1)
  t.match(shrink.stderr, /cairn volume modify: New size cannot be smaller than existing size \(2GiB\)/)
  t.equal(fractional.code, 1)
  t.match(fractional.stderr, /whole number of GiB/)
  t.equal(badSize.code, 2)
  t.match(badSize.stderr, /--size: not a size/)
  t.equal(badAction.code, 2)

  const first = await json('snapshot', 'create', id, '--description', 'first')
  t.match(first, { snapshotId: /^snap-[0-9a-f]{17}$/, state: 'completed', volumeId: id, description: 'first', progressPercent: 100 })
  const second = await json('snapshot', 'create', id)
  const [listed, describedSnapshot, diff, diffText] = await Promise.all([
    json('snapshot', 'list', '--volume', id),
    json('snapshot', 'describe', first.snapshotId),
    json('snapshot', 'diff', first.snapshotId, second.snapshotId),
    cli('snapshot', 'diff', first.snapshotId, second.snapshotId),
  ])
  t.match(listed, [{ snapshotId: first.snapshotId }, { snapshotId: second.snapshotId }])
  t.match(describedSnapshot, { snapshotId: first.snapshotId, uniqueBytes: 0, volumeSizeBytes: 2 * 2 ** 30 })
  t.match(diff, { changedBlocks: 0, ranges: [], blockSizeBytes: 131072 })
  t.match(diffText.stdout, /^0 changed blocks of 128 KiB between/)

  const restored = await json('volume', 'create', '--snapshot', first.snapshotId, '--hydrate', '--wait')
  t.match(restored, { sourceSnapshotId: first.snapshotId, sizeBytes: 2 * 2 ** 30, hydration: { state: 'hydrated' } })
  const clone = await json('volume', 'clone', id)
  t.match(clone, { type: 'gp3', sizeBytes: 2 * 2 ** 30, description: `clone of ${id}` })

  const deleted = await cli('snapshot', 'delete', first.snapshotId)
  t.equal(deleted.code, 0, deleted.stderr)
  t.match((await cli('snapshot', 'describe', first.snapshotId)).stderr, /does not exist/)
  const deletes = await Promise.all([id, io2.volumeId, restored.volumeId, clone.volumeId].map((volumeId) => cli('volume', 'delete', volumeId)))
  t.same(deletes.map((result) => result.code), [0, 0, 0, 0])
  t.same(await json('volume', 'list'), [])
  t.same(await server.stop(), { code: 0, signal: null })
})
