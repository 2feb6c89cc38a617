// Black-box test of `cairn fs` against the real server: `default` exists after the first start;
// create with an export policy and a lifecycle, list, describe with the mount command, modify,
// run a lifecycle pass, delete; usage errors exit 2, refusals exit 1 with the server's message;
// file systems survive a restart, and a deleted `default` is not recreated.
import t from 'tap'
import { runCli, startCairn } from './helpers/server.ts'

const env = { CAIRN_ROOT_ACCESS_KEY: 'FSCLIACCESSKEY000001', CAIRN_ROOT_SECRET_KEY: 'fs-cli-secret-key-000' }

t.test('cairn fs', async (t) => {
  let server = await startCairn(t, { env })
  const nfsPort = new URL(server.urls.nfs ?? 'nfs://missing').port
  const cli = (...args: string[]) => runCli(args, { env: { ...env, CAIRN_ADMIN_URL: server.adminUrl } })
  const json = async (...args: string[]) => {
    const result = await cli(...args, '--json')
    t.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`)
    return JSON.parse(result.stdout)
  }

  t.match(await json('fs', 'list'), { fileSystems: [{ name: 'default', number: 1, exportPaths: ['/default', /^\/fs-[0-9a-f]{17}$/] }] })
  const created = await json('fs', 'create', 'team', '--root-squash', '--anonymous-uid', '1000', '--allowed-clients', '10.0.0.0/8,127.0.0.1', '--ia-after-days', '30', '--root-mode', '1777')
  t.match(created, {
    id: /^fs-[0-9a-f]{17}$/, name: 'team', number: 2,
    exportPolicy: { readOnly: false, rootSquash: true, anonymousUid: 1000, anonymousGid: 65534, allowedClients: ['10.0.0.0/8', '127.0.0.1'] },
    lifecycle: { transitionToIaAfterDays: 30, transitionToStandardOnAccess: false },
    mount: { mountCommand: `sudo mount -t nfs4 -o vers=4.1,port=${nfsPort} 127.0.0.1:/team /mnt/team` },
  })

  const [described, listed] = await Promise.all([cli('fs', 'describe', created.id), cli('fs', 'list')])
  t.equal(described.code, 0, described.stderr)
  t.match(described.stdout, /exportPolicy\.rootSquash\s+true/)
  t.match(described.stdout, /usage\.storedBytes\s+0 B/)
  t.match(described.stdout, new RegExp(`Mount it \\(NFSv4\\.1\\):\n {2}sudo mount -t nfs4 -o vers=4\\.1,port=${nfsPort} 127\\.0\\.0\\.1:/team /mnt/team`), 'the mount command names the port the server bound')
  t.equal(listed.code, 0, listed.stderr)
  t.match(listed.stdout, /^NAME\s+ID\s+FSID\s+EXPORT/)
  t.match(listed.stdout, new RegExp(`team\\s+${created.id}\\s+2\\s+rw root-squash 10\\.0\\.0\\.0/8,127\\.0\\.0\\.1`))

  t.match(await json('fs', 'modify', 'team', '--name', 'crew', '--read-only', '--no-ia', '--all-clients'), {
    name: 'crew', exportPolicy: { readOnly: true, rootSquash: true, allowedClients: [] }, lifecycle: { transitionToIaAfterDays: null },
  })
  const [lifecycle, duplicate, missing, badCidr, badAction, noName, contradiction, badMode] = await Promise.all([
    cli('fs', 'lifecycle', 'crew', '--json'),
    cli('fs', 'create', 'crew'),
    cli('fs', 'describe', 'nope'),
    cli('fs', 'create', 'x', '--allowed-clients', '10.0.0.0/40'),
    cli('fs', 'explode'),
    cli('fs', 'create'),
    cli('fs', 'modify', 'crew', '--read-only', '--read-write'),
    cli('fs', 'create', 'y', '--root-mode', '999'),
  ])
  t.match(JSON.parse(lifecycle.stdout), { scannedFiles: 0, toInfrequentAccess: 0 })
  t.equal(duplicate.code, 1)
  t.match(duplicate.stderr, /cairn fs create: a file system named crew exists/)
  t.equal(missing.code, 1)
  t.match(missing.stderr, /no file system "nope"/)
  t.equal(badCidr.code, 1)
  t.match(badCidr.stderr, /not an IPv4\/IPv6 address or CIDR block/)
  for (const result of [badAction, noName, contradiction, badMode]) t.equal(result.code, 2, result.stderr)

  t.equal((await cli('fs', 'delete', 'default')).code, 0)
  t.equal((await server.stop('SIGTERM')).code, 0)
  server = await startCairn(t, { env, dataDir: server.dataDir })
  const after = await json('fs', 'list')
  t.same(after.fileSystems.map((fs: { name: string }) => fs.name), ['crew'], 'a deleted default is not recreated; the others survive')
  t.equal(after.fileSystems[0].id, created.id)
  t.equal((await cli('fs', 'delete', created.id)).code, 0)
  t.same((await json('fs', 'list')).fileSystems, [])
})
