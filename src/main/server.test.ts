import t, { type Test } from 'tap'
import { mkdirSync, readFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { StoreError } from '../lib/index.ts'
import { basicAuthorization, type JsonObject, type MaintenanceOptions } from '../admin/index.ts'
import { parseServerConfig } from './config.ts'
import type { Engine } from './engine.ts'
import { createLogger } from './logger.ts'
import { startServer } from './server.ts'
import type { FileEngine } from '../files/index.ts'
import { MemoryFileService } from '../nfs/testing/memory-fs.ts'
import { NfsTestClient, ops } from '../nfs/testing/nfs-client.ts'
import { attr, status } from '../nfs/v4/constants.ts'

const credentials = { accessKey: 'SERVERTESTACCESSKEY', secretKey: 'server-test-secret-key' }

function setup(t: Test) {
  const dataDir = join(t.testdir({}), 'data')
  const zero = ['admin', 's3', 's3-tls', 'nbd', 'nfs'].flatMap((name) => [`--${name}-address`, '127.0.0.1:0'])
  const env = { CAIRN_ROOT_ACCESS_KEY: credentials.accessKey, CAIRN_ROOT_SECRET_KEY: credentials.secretKey }
  const { config } = parseServerConfig({ args: ['--data-dir', dataDir, ...zero], env, cwd: '/', readTextFile: () => '' })
  const lines: string[] = []
  const logger = createLogger({ level: 'info', sink: { write: (line: string) => lines.push(line) } })
  const events: string[] = []
  let releaseScrub: (() => void) | undefined
  const engine: Engine = {
    dataDir,
    info: async () => ({ fake: true }),
    scrub: ({ signal }: MaintenanceOptions) =>
      new Promise<JsonObject>((resolve, reject) => {
        events.push('scrub started')
        releaseScrub = () => resolve({ verified: 1 })
        signal.addEventListener('abort', () => reject(new StoreError('ABORTED', 'scrub cancelled')))
      }),
    registerMetrics: () => {},
    startBackground: () => {},
    close: async () => {
      events.push('engine closed')
    },
  }
  return { config, logger, lines, events, engine, release: () => releaseScrub?.() }
}

/** POST with node:http so the test sees the exact outcome (status or socket error). */
function post(url: string): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const outgoing = request(url, { method: 'POST', headers: { authorization: basicAuthorization(credentials) } }, (response) => {
      let body = ''
      response.setEncoding('utf8').on('data', (text: string) => (body += text))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }))
      response.on('error', (error) => resolve({ error: error.message }))
    })
    outgoing.on('error', (error) => resolve({ error: (error as NodeJS.ErrnoException).code ?? error.message }))
    outgoing.end()
  })
}

async function until(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > 5_000) throw new Error('condition not reached in 5 s')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

t.test('stop lets an in-flight request finish, then closes the engine', async (t) => {
  const { config, logger, events, engine, release, lines } = setup(t)
  const server = await startServer({ config, logger, announce: () => {}, onBug: () => t.fail('no bug'), openEngine: async () => engine })
  const scrub = post(`${server.adminUrl}/admin/v1/scrub`)
  await until(() => events.includes('scrub started'))
  const stopped = server.stop('test')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(events, ['scrub started'], 'the engine stays open while a request is in flight')
  t.equal((await post(`${server.adminUrl}/admin/v1/gc`) as { error?: string }).error, 'ECONNREFUSED', 'no new connections')
  const released = Date.now()
  release()
  t.same(await scrub, { status: 200, body: '{"verified":1}' })
  await stopped
  t.ok(Date.now() - released < 2_000, 'a keep-alive client does not hold the shutdown open')
  t.same(events, ['scrub started', 'engine closed'])
  t.match(lines.join(''), /"msg":"stopped"/)
  await server.stop('again')
  t.same(events, ['scrub started', 'engine closed'], 'stop is idempotent')
})

t.test('stop cancels what is still running after the grace period', async (t) => {
  const { config, logger, events, engine, lines } = setup(t)
  const server = await startServer({ config, logger, announce: () => {}, onBug: () => t.fail('no bug'), openEngine: async () => engine, shutdownGraceMs: 100 })
  const scrub = post(`${server.adminUrl}/admin/v1/scrub`)
  await until(() => events.includes('scrub started'))
  const started = Date.now()
  await server.stop('test')
  t.ok(Date.now() - started < 3_000, 'bounded wait')
  t.match(await scrub, { error: String }, 'the cut-off request sees its connection closed')
  t.same(events, ['scrub started', 'engine closed'])
  t.match(lines.join(''), /in-flight requests did not finish in time/)
})

t.test('a start that fails after opening the engine closes it', async (t) => {
  const first = setup(t)
  const server = await startServer({ config: first.config, logger: first.logger, announce: () => {}, onBug: () => {}, openEngine: async () => first.engine })
  t.teardown(() => server.stop('teardown'))
  const port = new URL(server.adminUrl).port
  const second = setup(t)
  const taken = { ...second.config, adminAddress: { host: '127.0.0.1', port: Number(port) } }
  await t.rejects(startServer({ config: taken, logger: second.logger, announce: () => {}, onBug: () => {}, openEngine: async () => second.engine }), {
    name: 'ListenError',
    message: `--admin-address 127.0.0.1:${port} is already in use`,
  })
  t.same(second.events, ['engine closed'])
})

/** The fake engine plus an in-memory file service whose GETATTRs can be held up. */
function withFiles(t: Test) {
  const parts = setup(t)
  const files = new MemoryFileService({ fileSystems: [{ name: 'default' }] })
  let gate: Promise<void> | undefined
  let held = 0
  const getAttributes = files.getAttributes.bind(files)
  files.getAttributes = async (handle) => {
    if (gate !== undefined) {
      held++
      await gate
    }
    return getAttributes(handle)
  }
  let release = (): void => {}
  const hold = () => {
    gate = new Promise<void>((resolve) => (release = resolve))
  }
  const engine: Engine = { ...parts.engine, files: files as unknown as FileEngine }
  mkdirSync(parts.config.dataDir, { recursive: true }) // the real engine makes it; NFS client records go there
  return { ...parts, engine, files, hold, release: () => release(), held: () => held }
}

function nfsUrlOf(lines: string[]): URL {
  const line = lines.map((text) => JSON.parse(text) as Record<string, unknown>).find((record) => record.listener === 'nfs')
  if (typeof line?.url !== 'string') throw new Error(`no NFS listener line in ${lines.join('')}`)
  return new URL(line.url)
}

const attributeCompound = [ops.putrootfh(), ops.lookup('default'), ops.getattr([attr.SIZE])]

t.test('NFS serves the engine file systems, is listed with the listeners, and stop waits for its compounds', async (t) => {
  const { config, logger, lines, events, engine, hold, release, held } = withFiles(t)
  const server = await startServer({ config, logger, announce: () => {}, onBug: (error) => t.fail(`bug: ${error.stack}`), openEngine: async () => engine })
  const url = nfsUrlOf(lines)
  t.equal(url.protocol, 'nfs:')
  t.equal(url.hostname, '127.0.0.1')
  t.not(url.port, '0', 'the bound port is published, not the configured 0')
  const info = await fetch(`${server.adminUrl}/admin/v1/info`, { headers: { authorization: basicAuthorization(credentials) } })
  t.equal(((await info.json()) as { listeners: Record<string, string> }).listeners.nfs, url.href.replace(/\/$/, ''), '/admin/v1/info lists the NFS URL')

  const client = await NfsTestClient.connect(Number(url.port))
  t.teardown(() => client.close())
  t.equal((await client.compound(attributeCompound)).status, status.OK, 'a COMPOUND reaches the engine file system /default')
  const metricsText = async () => (await fetch(`${server.adminUrl}/metrics`)).text()
  t.match(await metricsText(), /^cairn_nfs_clients 0$/m)
  const session = await NfsTestClient.connect(Number(url.port), 1)
  t.teardown(() => session.close())
  await session.establish('metrics-client')
  const metrics = await metricsText()
  for (const line of [/^cairn_nfs_clients 1$/m, /^cairn_nfs_sessions 1$/m, /^cairn_nfs_states 0$/m, /^cairn_nfs_grace_active 0$/m]) t.match(metrics, line)
  t.match(readFileSync(join(config.dataDir, 'nfs-clients.json'), 'utf8'), /"ownerId":"bWV0cmljcy1jbGllbnQ="/, 'the confirmed client is recorded in the data dir')
  hold()
  const inFlight = client.compound(attributeCompound)
  await until(() => held() === 1)
  const stopped = server.stop('test')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(events, [], 'the engine stays open while a compound is in flight')
  await t.rejects(NfsTestClient.connect(Number(url.port)), 'no new NFS connections')
  release()
  t.equal((await inFlight).status, status.OK, 'the in-flight compound is answered')
  await stopped
  t.same(events, ['engine closed'])
})

t.test('an NFS compound still running after the grace period is cut, then the engine closes', async (t) => {
  const { config, logger, events, engine, lines, hold, release, held } = withFiles(t)
  const server = await startServer({ config, logger, announce: () => {}, onBug: (error) => t.fail(`bug: ${error.stack}`), openEngine: async () => engine, shutdownGraceMs: 100 })
  const client = await NfsTestClient.connect(Number(nfsUrlOf(lines).port))
  t.teardown(() => client.close())
  hold()
  const inFlight = client.compound(attributeCompound)
  await until(() => held() === 1)
  const started = Date.now()
  await server.stop('test')
  t.ok(Date.now() - started < 3_000, 'bounded wait')
  await t.rejects(inFlight, /connection closed/, 'the cut-off compound sees its connection closed')
  t.same(events, ['engine closed'])
  release()
})

t.test('an NFS address in use fails the start with a clear message and closes the engine', async (t) => {
  const first = withFiles(t)
  const server = await startServer({ config: first.config, logger: first.logger, announce: () => {}, onBug: () => {}, openEngine: async () => first.engine })
  t.teardown(() => server.stop('teardown'))
  const port = Number(nfsUrlOf(first.lines).port)
  const second = withFiles(t)
  const taken = { ...second.config, nfsAddress: { host: '127.0.0.1', port } }
  await t.rejects(startServer({ config: taken, logger: second.logger, announce: () => {}, onBug: () => {}, openEngine: async () => second.engine }), {
    name: 'ListenError',
    message: `--nfs-address 127.0.0.1:${port} is already in use`,
  })
  t.same(second.events, ['engine closed'])
})
