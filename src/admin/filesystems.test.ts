import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { ManualClock } from '../lib/index.ts'
import { filesTestSetup } from '../files/testing.ts'
import { adminPlugin, basicAuthorization, createMetricsRegistry, type AdminEngine } from './index.ts'

const credentials = { accessKey: 'ROOTACCESSKEY0000001', secretKey: 'secret-secret-secret' }
const headers = { authorization: basicAuthorization(credentials) }

async function build(t: Test) {
  const setup = await filesTestSetup()
  const clock = new ManualClock()
  const engine: AdminEngine = { info: async () => ({}), files: setup.files, nfsTarget: () => ({ host: '127.0.0.1', port: 2049 }) }
  const app = Fastify()
  const bugs: Error[] = []
  await app.register(adminPlugin, {
    engine, credentials, registry: createMetricsRegistry({ version: '0' }), version: '0', clock, startedAtMs: clock.nowMs(),
    isShuttingDown: () => false, listeners: () => ({}), shutdownSignal: new AbortController().signal, onBug: (error) => bugs.push(error),
  })
  t.teardown(async () => {
    await app.close()
    await setup.cleanup()
    if (bugs.length > 0) throw bugs[0]
  })
  return { app, setup }
}

t.test('file system routes: create with a policy, describe with mount hints, list, modify, lifecycle, delete', async (t) => {
  const { app } = await build(t)
  t.equal((await app.inject({ method: 'GET', url: '/admin/v1/filesystems' })).statusCode, 401, 'authenticated like the rest')
  const listed = (await app.inject({ method: 'GET', url: '/admin/v1/filesystems', headers })).json()
  t.match(listed, { fileSystems: [{ name: 'default', number: 1, exportPaths: ['/default', /^\/fs-[0-9a-f]{17}$/] }] })

  const created = await app.inject({
    method: 'POST', url: '/admin/v1/filesystems', headers,
    payload: { name: 'shared', exportPolicy: { rootSquash: true, anonymousUid: 1000, allowedClients: ['10.0.0.0/8', '127.0.0.1'] }, lifecycle: { transitionToIaAfterDays: 30 }, rootDirectory: { mode: 0o1777 } },
  })
  t.equal(created.statusCode, 201)
  const fs = created.json()
  t.match(fs, {
    id: /^fs-[0-9a-f]{17}$/, name: 'shared', number: 2,
    exportPolicy: { readOnly: false, rootSquash: true, anonymousUid: 1000, anonymousGid: 65534, allowedClients: ['10.0.0.0/8', '127.0.0.1'] },
    lifecycle: { transitionToIaAfterDays: 30, transitionToStandardOnAccess: false },
    usage: { files: 0, directories: 1, storedBytes: 0, standard: { logicalBytes: 0 } },
    mount: { mountCommand: 'sudo mount -t nfs4 -o vers=4.1,port=2049 127.0.0.1:/shared /mnt/shared' },
  })
  t.match((await app.inject({ method: 'GET', url: `/admin/v1/filesystems/${fs.id}`, headers })).json(), { name: 'shared' })
  t.match((await app.inject({ method: 'GET', url: '/admin/v1/filesystems/shared', headers })).json(), { id: fs.id })

  const duplicate = await app.inject({ method: 'POST', url: '/admin/v1/filesystems', headers, payload: { name: 'shared' } })
  t.equal(duplicate.statusCode, 409)
  const typo = await app.inject({ method: 'POST', url: '/admin/v1/filesystems', headers, payload: { name: 'x', exportPolicy: { readonly: true } } })
  t.match(typo.json(), { code: 'INVALID_ARGUMENT', error: /unknown field readonly/ })
  const badCidr = await app.inject({ method: 'POST', url: '/admin/v1/filesystems', headers, payload: { name: 'x', exportPolicy: { allowedClients: ['10.0.0.0/33'] } } })
  t.match(badCidr.json(), { code: 'INVALID_ARGUMENT', error: /not an IPv4\/IPv6 address or CIDR block/ })
  const badName = await app.inject({ method: 'POST', url: '/admin/v1/filesystems', headers, payload: { name: 'a/b' } })
  t.equal(badName.statusCode, 400)

  const modified = await app.inject({ method: 'PATCH', url: '/admin/v1/filesystems/shared', headers, payload: { name: 'team', exportPolicy: { readOnly: true }, lifecycle: { transitionToIaAfterDays: null } } })
  t.match(modified.json(), { name: 'team', exportPolicy: { readOnly: true, rootSquash: true }, lifecycle: { transitionToIaAfterDays: null } })
  t.equal((await app.inject({ method: 'GET', url: '/admin/v1/filesystems/shared', headers })).statusCode, 404)
  t.match((await app.inject({ method: 'POST', url: '/admin/v1/filesystems/team/lifecycle', headers })).json(), { scannedFiles: 0, toInfrequentAccess: 0 })

  t.equal((await app.inject({ method: 'DELETE', url: '/admin/v1/filesystems/team', headers })).statusCode, 204)
  t.equal((await app.inject({ method: 'GET', url: `/admin/v1/filesystems/${fs.id}`, headers })).statusCode, 404)
  t.equal((await app.inject({ method: 'DELETE', url: '/admin/v1/filesystems/team', headers })).statusCode, 404)
  t.match((await app.inject({ method: 'GET', url: '/admin/v1/filesystems', headers })).json(), { fileSystems: [{ name: 'default' }] })
})
