// Export policies end to end: set with `cairn fs create` / `cairn fs modify` on the real
// `cairn server`, enforced on NFS clients at once (no restart, no remount), seen by Debian's
// libnfs-utils (as root and as uid 1000) and by the protocol test client, which checks the exact
// NFS4ERR_* codes: read-only -> NFS4ERR_ROFS, root squash -> the anonymous uid/gid owns what root
// makes, NFS4ERR_ACCESS where the anonymous user may not write and NFS4ERR_PERM where it does not
// own; allowed clients -> other addresses do not see the export and its handles answer
// NFS4ERR_ACCESS. Skips cleanly when libnfs-utils is missing (.ci/run installs it).
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ops } from '../src/nfs/testing/nfs-client.ts'
import { access4, attr, status } from '../src/nfs/v4/constants.ts'
import { haveLibnfs, libnfs, libnfsUrl, NfsWriter, nfsPortOf } from './helpers/nfs.ts'
import { runCli, startCairn, tempDir } from './helpers/server.ts'

if (!(await haveLibnfs())) t.plan(0, 'libnfs-utils (nfs-ls, nfs-cat, nfs-cp) not installed')

const env = { CAIRN_ROOT_ACCESS_KEY: 'NFSPOLICYACCESSKEY01', CAIRN_ROOT_SECRET_KEY: 'nfs-policy-secret-key' }
const asUser = (uid: number, gid: number) => ({ flavor: 'sys' as const, stamp: 1, machineName: 'policy-test', uid, gid, gids: [] })

t.test('export policies through cairn server', async (t) => {
  const dir = tempDir(t, 'cairn-nfs-policy-')
  const server = await startCairn(t, { env, args: ['--nfs-grace-seconds', '0'] })
  const port = nfsPortOf(server)
  const url = (path: string, query = '') => `${libnfsUrl(port, path)}${query}`
  const fs = async (...words: string[]) => {
    const result = await runCli(['fs', ...words, '--json'], { env: { ...env, CAIRN_ADMIN_URL: server.adminUrl } })
    t.equal(result.code, 0, `cairn fs ${words.join(' ')}: ${result.stderr}`)
    return JSON.parse(result.stdout) as { id: string; exportPolicy: Record<string, unknown> }
  }
  const local = join(dir, 'upload.txt')
  writeFileSync(local, 'policy test\n')
  const client = await NfsWriter.connect(port, 'policy-client')
  t.teardown(() => client.close())
  const statusOf = async (...specs: Parameters<typeof client.client.compound>[0]) => (await client.client.compound(specs)).status

  t.test('read-only: NFS4ERR_ROFS for every change, reads still work, switched live', async (t) => {
    await fs('create', 'docs')
    await libnfs('nfs-cp', local, url('/docs/before.txt'))
    t.match(await fs('modify', 'docs', '--read-only'), { exportPolicy: { readOnly: true } })
    const root = await client.handle('/docs')
    t.equal(await statusOf(ops.putfh(root), ops.mkdir('d')), status.ROFS, 'mkdir: NFS4ERR_ROFS')
    t.equal(await statusOf(ops.putfh(root), ops.remove('before.txt')), status.ROFS, 'remove: NFS4ERR_ROFS')
    t.equal(await statusOf(ops.putfh(root), ops.open({ clientId: client.clientId, owner: Buffer.from('ro'), claim: { type: 'null', name: 'new.txt' }, create: { mode: 'unchecked' } })), status.ROFS, 'OPEN create: NFS4ERR_ROFS')
    const file = await client.handle('/docs/before.txt')
    t.equal(await statusOf(ops.putfh(file), ops.setattr({ seqid: 0, other: Buffer.alloc(12) }, { mode: 0o600 })), status.ROFS, 'chmod: NFS4ERR_ROFS')
    const [, granted] = await client.client.ok([ops.putfh(file), ops.access(access4.READ | access4.MODIFY | access4.EXTEND)]) as [unknown, { access: number }]
    t.equal(granted.access, access4.READ, 'ACCESS grants read only')
    await t.rejects(libnfs('nfs-cp', local, url('/docs/after.txt')), 'nfs-cp into a read-only export fails')
    t.equal((await libnfs('nfs-cat', url('/docs/before.txt'))).toString(), 'policy test\n', 'nfs-cat still reads')
    await fs('modify', 'docs', '--read-write')
    await libnfs('nfs-cp', local, url('/docs/after.txt'))
    t.match((await libnfs('nfs-ls', url('/docs/'))).toString(), /after\.txt/, 'writable again after --read-write')
  })

  t.test('root squash: root acts as the anonymous uid/gid; NFS4ERR_ACCESS and NFS4ERR_PERM', async (t) => {
    t.match(await fs('create', 'shared', '--root-squash', '--anonymous-uid', '4321', '--anonymous-gid', '4322', '--root-mode', '1777'), {
      exportPolicy: { rootSquash: true, anonymousUid: 4321, anonymousGid: 4322 },
    })
    await libnfs('nfs-cp', local, url('/shared/by-root.txt'))
    const owner = async (path: string) => (await client.client.ok([ops.putfh(await client.handle(path)), ops.getattr([attr.OWNER, attr.OWNER_GROUP])]))[1] as { owner: string; group: string }
    t.match(await owner('/shared/by-root.txt'), { owner: '4321', group: '4322' }, 'a file root uploaded with libnfs belongs to the anonymous uid/gid')
    await libnfs('nfs-cp', local, url('/shared/by-user.txt', '&uid=1000&gid=1000'))
    t.match(await owner('/shared/by-user.txt'), { owner: '1000', group: '1000' }, 'other users are not squashed')

    const root = await client.handle('/shared')
    client.client.rpc.credential = asUser(1000, 1000)
    await client.client.ok([ops.putfh(root), ops.mkdir('private', 0o700)])
    const privateHandle = await client.handle('/shared/private')
    client.client.rpc.credential = asUser(0, 0)
    t.equal(await statusOf(ops.putfh(privateHandle), ops.lookup('anything')), status.ACCESS, 'squashed root may not search a 0700 directory of uid 1000: NFS4ERR_ACCESS')
    t.equal(await statusOf(ops.putfh(privateHandle), ops.mkdir('x')), status.ACCESS, 'creating in it: NFS4ERR_ACCESS')
    t.equal(await statusOf(ops.putfh(privateHandle), ops.setattr({ seqid: 0, other: Buffer.alloc(12) }, { mode: 0o777 })), status.PERM, 'chmod of a directory it does not own: NFS4ERR_PERM')
    const userFile = await client.handle('/shared/by-user.txt')
    t.equal(await statusOf(ops.putfh(userFile), ops.setattr({ seqid: 0, other: Buffer.alloc(12) }, { owner: '0' })), status.PERM, 'chown: NFS4ERR_PERM (root is not root here)')
    await t.rejects(libnfs('nfs-cp', local, url('/shared/private/sneaky.txt')), 'libnfs as root cannot write there either')
    await libnfs('nfs-cp', local, url('/shared/private/mine.txt', '&uid=1000&gid=1000'))
    t.pass('the owner can')

    await fs('modify', 'shared', '--no-root-squash')
    await client.client.ok([ops.putfh(privateHandle), ops.mkdir('x')])
    t.pass('without root squash, root creates in the 0700 directory')
  })

  t.test('allowed clients: other addresses do not see the export; its handles answer NFS4ERR_ACCESS', async (t) => {
    const created = await fs('create', 'lab', '--allowed-clients', '127.0.0.1,10.0.0.0/8')
    await libnfs('nfs-cp', local, url('/lab/data.txt'))
    const labRoot = await client.handle('/lab')
    t.match((await libnfs('nfs-ls', url('/'))).toString(), /lab/, 'listed while 127.0.0.1 is allowed')
    await fs('modify', 'lab', '--allowed-clients', '10.0.0.0/8')
    t.notMatch((await libnfs('nfs-ls', url('/'))).toString(), /lab/, 'the pseudo root no longer lists it')
    await t.rejects(libnfs('nfs-cat', url('/lab/data.txt')), 'libnfs cannot read it by name')
    await t.rejects(libnfs('nfs-cat', url(`/${created.id}/data.txt`)), 'nor by id')
    t.equal(await statusOf(ops.putrootfh(), ops.lookup('lab')), status.NOENT, 'LOOKUP in the pseudo root: NFS4ERR_NOENT')
    t.equal(await statusOf(ops.putfh(labRoot), ops.getattr([attr.SIZE])), status.ACCESS, 'a handle obtained before: NFS4ERR_ACCESS')
    await fs('modify', 'lab', '--all-clients')
    t.equal((await libnfs('nfs-cat', url('/lab/data.txt'))).toString(), 'policy test\n', 'readable again with --all-clients')
  })
})
