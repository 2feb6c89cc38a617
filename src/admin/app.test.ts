import t from 'tap'
import { AssertionError } from 'node:assert'
import Fastify from 'fastify'
import { ManualClock, StoreError } from '../lib/index.ts'
import { adminPlugin, basicAuthorization, createMetricsRegistry, addStatsGauges, type AdminEngine, type AdminOptions } from './index.ts'

const credentials = { accessKey: 'ROOTACCESSKEY0000001', secretKey: 'secret-secret-secret' }
const auth = { authorization: basicAuthorization(credentials) }

async function build(engine: AdminEngine, overrides: Partial<AdminOptions> = {}) {
  const clock = new ManualClock(1_000_000)
  const bugs: Error[] = []
  let shuttingDown = false
  const app = Fastify()
  await app.register(adminPlugin, {
    engine,
    credentials,
    registry: createMetricsRegistry({ version: '9.9.9' }),
    version: '9.9.9',
    clock,
    startedAtMs: clock.nowMs(),
    isShuttingDown: () => shuttingDown,
    listeners: () => ({ admin: 'http://127.0.0.1:9001' }),
    shutdownSignal: new AbortController().signal,
    onBug: (error) => bugs.push(error),
    ...overrides,
  })
  return { app, clock, bugs, stop: () => { shuttingDown = true } }
}

const idleEngine: AdminEngine = { info: async () => ({ dataDir: '/tmp/x' }) }

t.test('health answers 503 starting until every listener is bound', async (t) => {
  let starting = true
  const { app } = await build(idleEngine, { isStarting: () => starting })
  t.teardown(() => app.close())
  const early = await app.inject({ method: 'GET', url: '/health' })
  t.equal(early.statusCode, 503)
  t.match(early.json(), { status: 'starting' })
  starting = false
  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200)
})

t.test('health answers ok, then 503 while shutting down', async (t) => {
  const { app, clock, stop } = await build(idleEngine)
  t.teardown(() => app.close())
  clock.advance(5_500)
  const ok = await app.inject({ method: 'GET', url: '/health' })
  t.equal(ok.statusCode, 200)
  t.same(ok.json(), { status: 'ok', version: '9.9.9', uptimeSeconds: 5 })
  stop()
  const stopping = await app.inject({ method: 'GET', url: '/health' })
  t.equal(stopping.statusCode, 503)
  t.equal(stopping.json().status, 'shutting-down')
})

t.test('metrics: process metrics, build info and stats gauges read once per scrape', async (t) => {
  const registry = createMetricsRegistry({ version: '9.9.9' })
  let reads = 0
  addStatsGauges(registry, async () => ({ chunks: 7, liveBytes: 4096, reads: ++reads }), [
    { name: 'cairn_test_chunks', help: 'chunks', pick: (stats) => stats.chunks },
    { name: 'cairn_test_live_bytes', help: 'live bytes', pick: (stats) => stats.liveBytes },
  ])
  const errors: unknown[] = []
  addStatsGauges(registry, async (): Promise<{ n: number }> => { throw new StoreError('IO_ERROR', 'disk gone') }, [
    { name: 'cairn_test_broken', help: 'broken source', pick: (stats) => stats.n },
  ], (error) => errors.push(error))
  const { app } = await build(idleEngine, { registry })
  t.teardown(() => app.close())
  const response = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(response.statusCode, 200)
  t.match(response.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  t.match(response.body, /^process_cpu_user_seconds_total \d/m)
  t.match(response.body, /^cairn_build_info\{version="9\.9\.9",node_version="[\d.]+"\} 1$/m)
  t.match(response.body, /^cairn_test_chunks 7$/m)
  t.match(response.body, /^cairn_test_live_bytes 4096$/m)
  t.match(response.body, /^cairn_test_broken nan$/im)
  t.equal(reads, 1, 'one stats read serves every gauge of the scrape')
  t.equal(errors.length, 1)
})

t.test('admin routes need the root credentials', async (t) => {
  const { app } = await build(idleEngine)
  t.teardown(() => app.close())
  const missing = await app.inject({ method: 'GET', url: '/admin/v1/info' })
  t.equal(missing.statusCode, 401)
  t.match(missing.headers['www-authenticate'], /^Basic realm=/)
  t.match(missing.json(), { error: /authentication required/ })
  const wrongSecret = basicAuthorization({ ...credentials, secretKey: 'secret-secret-secreT' })
  t.equal((await app.inject({ method: 'GET', url: '/admin/v1/info', headers: { authorization: wrongSecret } })).statusCode, 401)
  const wrongUser = basicAuthorization({ ...credentials, accessKey: 'ROOTACCESSKEY0000002' })
  t.equal((await app.inject({ method: 'GET', url: '/admin/v1/info', headers: { authorization: wrongUser } })).statusCode, 401)
  t.equal((await app.inject({ method: 'GET', url: '/admin/v1/info', headers: { authorization: 'Basic !!!' } })).statusCode, 401)
  t.equal((await app.inject({ method: 'POST', url: '/admin/v1/scrub' })).statusCode, 401)
  const info = await app.inject({ method: 'GET', url: '/admin/v1/info', headers: auth })
  t.equal(info.statusCode, 200)
  t.same(info.json(), { version: '9.9.9', uptimeSeconds: 0, listeners: { admin: 'http://127.0.0.1:9001' }, dataDir: '/tmp/x' })
})

t.test('maintenance routes: 503 until the engine offers them, then their result', async (t) => {
  const { app } = await build(idleEngine)
  t.teardown(() => app.close())
  for (const url of ['/admin/v1/scrub', '/admin/v1/gc', '/admin/v1/compact']) {
    const response = await app.inject({ method: 'POST', url, headers: auth })
    t.equal(response.statusCode, 503, url)
    t.same(response.json(), { error: 'not available yet' })
  }
  const calls: string[] = []
  const engine: AdminEngine = {
    ...idleEngine,
    scrub: async () => { calls.push('scrub'); return { chunksVerified: 3, corrupt: 0 } },
    collectGarbage: async () => { calls.push('gc'); return { chunksCollected: 1 } },
    compact: async () => { calls.push('compact'); return { packsCompacted: 0 } },
  }
  const { app: wired } = await build(engine)
  t.teardown(() => wired.close())
  t.same((await wired.inject({ method: 'POST', url: '/admin/v1/scrub', headers: auth })).json(), { chunksVerified: 3, corrupt: 0 })
  t.same((await wired.inject({ method: 'POST', url: '/admin/v1/gc', headers: auth })).json(), { chunksCollected: 1 })
  t.same((await wired.inject({ method: 'POST', url: '/admin/v1/compact', headers: auth })).json(), { packsCompacted: 0 })
  t.same(calls, ['scrub', 'gc', 'compact'])
})

t.test('a second run of the same operation while one runs answers 409', async (t) => {
  let release = (): void => {}
  const engine: AdminEngine = {
    ...idleEngine,
    scrub: () => new Promise((resolve) => { release = () => resolve({ done: true }) }),
  }
  const { app } = await build(engine)
  t.teardown(() => app.close())
  const first = app.inject({ method: 'POST', url: '/admin/v1/scrub', headers: auth })
  await new Promise((resolve) => setTimeout(resolve, 20))
  const second = await app.inject({ method: 'POST', url: '/admin/v1/scrub', headers: auth })
  t.equal(second.statusCode, 409)
  release()
  t.equal((await first).statusCode, 200)
})

t.test('errors: StoreError codes map to statuses; bugs answer 500 and are reported', async (t) => {
  let failure: Error = new StoreError('NO_SPACE', 'disk full')
  const engine: AdminEngine = { ...idleEngine, compact: async () => { throw failure } }
  const { app, bugs } = await build(engine)
  t.teardown(() => app.close())
  const full = await app.inject({ method: 'POST', url: '/admin/v1/compact', headers: auth })
  t.equal(full.statusCode, 507)
  t.same(full.json(), { error: 'disk full', code: 'NO_SPACE' })
  failure = new AssertionError({ message: 'refcount went negative' })
  const bug = await app.inject({ method: 'POST', url: '/admin/v1/compact', headers: auth })
  t.equal(bug.statusCode, 500)
  t.notMatch(bug.body, /refcount/, 'bug details stay in the log')
  t.equal(bugs.length, 1)
  t.equal(bugs[0]?.message, 'refcount went negative')
  const unknown = await app.inject({ method: 'GET', url: '/nope' })
  t.equal(unknown.statusCode, 404)
  t.same(unknown.json(), { error: 'no such route' })
})
