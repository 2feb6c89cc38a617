// The real server with the chunk store wired in: the maintenance commands answer through the
// admin API and the CLI, /metrics carries the chunk-store gauges, and offline repair rebuilds
// the index of a stopped server's data dir.
import t from 'tap'
import { runCli, startCairn } from './helpers/server.ts'

const env = { CAIRN_ROOT_ACCESS_KEY: 'TESTROOTACCESSKEY', CAIRN_ROOT_SECRET_KEY: 'test-root-secret-key' }

t.test('scrub, gc, compact and info reach the chunk store', async (t) => {
  const server = await startCairn(t, { env })
  const endpoint = ['--endpoint', server.adminUrl]
  for (const command of ['scrub', 'gc', 'compact']) {
    const result = await runCli([command, '--json', ...endpoint], { env })
    t.equal(result.code, 0, `${command}: ${result.stderr}`)
    t.type(JSON.parse(result.stdout), 'object', `${command} prints a JSON report`)
  }
  const scrub = JSON.parse((await runCli(['scrub', '--json', ...endpoint], { env })).stdout) as Record<string, unknown>
  t.match(scrub, { checkedChunks: 0, corrupt: [] })
  const info = JSON.parse((await runCli(['info', '--json', ...endpoint], { env })).stdout) as Record<string, unknown>
  t.match(info, { chunkStore: { hashAlgorithm: 'blake3', puts: 0 } })

  const metrics = await (await fetch(`${server.adminUrl}/metrics`)).text()
  t.match(metrics, /^cairn_chunk_puts 0$/m)
  t.match(metrics, /^cairn_packs_hot \d+$/m)
  t.match(metrics, /^cairn_scrub_last_corrupt_chunks 0$/m)
  t.same(await server.stop(), { code: 0, signal: null })

  const repair = await runCli(['repair', '--rebuild-index', '--data-dir', server.dataDir], { env })
  t.equal(repair.code, 0, repair.stderr)
  t.match(repair.stdout, /"packs":/)
  // The data dir still serves after a rebuild.
  const again = await startCairn(t, { env, dataDir: server.dataDir })
  t.same(await again.stop(), { code: 0, signal: null })
})
