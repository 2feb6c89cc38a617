import t from 'tap'
import { serverEnvironment, serverNodeFlags, serverReexec, type NodeProcess } from './node-flags.ts'

const node = (overrides: Partial<NodeProcess> = {}): NodeProcess => ({ execPath: '/usr/bin/node', execArgv: [], argv: ['/usr/bin/node', '/opt/cairn/src/main/cli.ts', 'server', '--data-dir', 'd'], env: {}, ...overrides })

t.test('the server re-executes itself once with its V8 flags and allocator settings, other commands never', async (t) => {
  const first = serverReexec('server', node({ execArgv: ['--enable-source-maps'], env: { HOME: '/h' } }))
  t.same(first?.args, ['/usr/bin/node', ...serverNodeFlags, '--enable-source-maps', '/opt/cairn/src/main/cli.ts', 'server', '--data-dir', 'd'])
  t.same(first?.env, { HOME: '/h', ...serverEnvironment })
  t.equal(serverReexec('info', node()), undefined)
  t.equal(serverReexec(undefined, node()), undefined)
  t.equal(serverReexec('server', node({ execArgv: [...serverNodeFlags], env: { ...serverEnvironment } })), undefined, 'no loop')
  t.equal(serverReexec('server', node({ env: { NODE_OPTIONS: '--max-semi-space-size=8', ...serverEnvironment } })), undefined, "the operator's choice wins")
  t.same(serverReexec('server', node({ env: { NODE_OPTIONS: '--max-semi-space-size=8' } }))?.args, ['/usr/bin/node', '/opt/cairn/src/main/cli.ts', 'server', '--data-dir', 'd'], 'only the missing part is added')
  t.same(serverReexec('server', node({ env: { MALLOC_MMAP_THRESHOLD_: '65536' } }))?.env, { MALLOC_MMAP_THRESHOLD_: '65536' }, "the operator's allocator setting stays")
  t.equal(serverReexec('server', node({ env: { CAIRN_NODE_FLAGS: 'off' } })), undefined, 'opt-out')
})
