import t from 'tap'
import { renderTable } from './output.ts'
import { toJson, toJsonObject } from './json.ts'
import { createLogger } from './logger.ts'
import { StoreError } from '../lib/index.ts'

t.test('tables flatten nested results and show byte counts with units', async (t) => {
  const text = renderTable({ status: 'ok', store: { liveBytes: 1536, packs: 2 }, corrupt: [], listeners: { admin: 'http://x' }, note: null })
  t.equal(
    text,
    [
      'status           ok',
      'store.liveBytes  1.5 KiB (1536)',
      'store.packs      2',
      'corrupt          (none)',
      'listeners.admin  http://x',
      'note             -',
      '',
    ].join('\n'),
  )
  t.equal(renderTable({}), '(none)\n')
  t.equal(renderTable([{ id: 'a' }, { id: 'b' }]), '[0].id  a\n[1].id  b\n')
})

t.test('toJson turns core results into plain JSON', async (t) => {
  const value = {
    count: 3n,
    huge: 2n ** 70n,
    id: Buffer.from([0xab, 0xcd]),
    at: new Date(0),
    byTier: new Map([['hot', 1]]),
    seen: new Set([1, 2]),
    skipped: undefined,
    ratio: Number.NaN,
  }
  t.same(toJsonObject(value), { count: 3, huge: '1180591620717411303424', id: 'abcd', at: '1970-01-01T00:00:00.000Z', byTier: { hot: 1 }, seen: [1, 2], ratio: null })
  t.throws(() => toJson(() => 1), TypeError)
  t.throws(() => toJsonObject([1]), TypeError)
})

t.test('logger: JSON lines, levels, children, errors with code and cause', async (t) => {
  const lines: string[] = []
  const logger = createLogger({ level: 'info', sink: { write: (line: string) => lines.push(line) }, bindings: { pid: 1, hostname: 'h' } })
  logger.debug('hidden')
  logger.info('plain')
  const child = logger.child({ component: 'admin' })
  child.warn({ err: new StoreError('NO_SPACE', 'disk full', { cause: new Error('ENOSPC') }), size: 5n }, 'failed')
  const circular: Record<string, unknown> = { name: 'loop' }
  circular.self = circular
  logger.error({ circular }, 'still written')
  t.equal(lines.length, 3)
  const [plain, failed, still] = lines.map((line) => JSON.parse(line) as Record<string, unknown>)
  t.match(plain, { level: 'info', msg: 'plain', pid: 1, hostname: 'h' })
  t.match(failed, { level: 'warn', component: 'admin', msg: 'failed', size: '5', err: { type: 'StoreError', code: 'NO_SPACE', message: 'disk full', cause: { message: 'ENOSPC' } } })
  t.match(still, { circular: { name: 'loop', self: '[circular]' } })
  const quiet = logger.child({}, { level: 'error' })
  quiet.warn('dropped')
  t.equal(lines.length, 3)
  t.ok(lines.every((line) => line.endsWith('\n') && !line.slice(0, -1).includes('\n')))
})
