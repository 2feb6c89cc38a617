import t from 'tap'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { nodeIo } from '../io/index.ts'
import { fileClientStore, nfsClientsFileName } from './nfs-clients.ts'

t.test('NFS client records: missing is empty, round trip, 0600, corrupt files are errors', async (t) => {
  const dir = t.testdir({})
  const store = fileClientStore(nodeIo, dir)
  t.same(await store.load(), [], 'no file: nothing recorded (first start)')
  const clients = [{ minorVersion: 1, ownerId: Buffer.from('Linux NFSv4.1 guest') }, { minorVersion: 0, ownerId: Buffer.from([0, 1, 2, 255]) }]
  await store.save(clients)
  t.same(await store.load(), clients)
  const path = join(dir, nfsClientsFileName)
  t.equal(statSync(path).mode & 0o777, 0o600)
  t.match(JSON.parse(readFileSync(path, 'utf8')), { version: 1, clients: [{ minorVersion: 1, ownerId: Buffer.from('Linux NFSv4.1 guest').toString('base64') }, {}] })
  for (const [text, why] of [
    ['{nope', /not JSON/],
    ['{"version":2,"clients":[]}', /not a version 1/],
    ['{"version":1,"clients":{}}', /must be a list/],
    ['{"version":1,"clients":[{"minorVersion":2,"ownerId":"YQ=="}]}', /record 0/],
    ['{"version":1,"clients":[{"minorVersion":1,"ownerId":""}]}', /record 0/],
  ] as const) {
    writeFileSync(path, text)
    await t.rejects(store.load(), { code: 'INVALID_STATE', message: why }, text)
  }
  await store.save([])
  t.same(await store.load(), [], 'the next write replaces a corrupt file')
})
