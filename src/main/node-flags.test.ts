import t from 'tap'
import { serverNodeFlags, serverReexecArgs, type NodeProcess } from './node-flags.ts'

const node = (overrides: Partial<NodeProcess> = {}): NodeProcess => ({ execPath: '/usr/bin/node', execArgv: [], argv: ['/usr/bin/node', '/opt/cairn/src/main/cli.ts', 'server', '--data-dir', 'd'], env: {}, ...overrides })

t.test('the server re-executes itself once with its V8 flags, other commands never', async (t) => {
  t.same(serverReexecArgs('server', node({ execArgv: ['--enable-source-maps'] })), ['/usr/bin/node', ...serverNodeFlags, '--enable-source-maps', '/opt/cairn/src/main/cli.ts', 'server', '--data-dir', 'd'])
  t.equal(serverReexecArgs('info', node()), undefined)
  t.equal(serverReexecArgs(undefined, node()), undefined)
  t.equal(serverReexecArgs('server', node({ execArgv: [...serverNodeFlags] })), undefined, 'no loop')
  t.equal(serverReexecArgs('server', node({ env: { NODE_OPTIONS: '--max-semi-space-size=8' } })), undefined, "the operator's choice wins")
  t.equal(serverReexecArgs('server', node({ env: { CAIRN_NODE_FLAGS: 'off' } })), undefined, 'opt-out')
})
