// The real `cairn server` process and the `cairn` CLI against it.
import t from 'tap'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { basicAuth, childEnv, cliPath, repoRoot, runCli, spawnCairn, startCairn, tempDir } from './helpers/server.ts'

const bannerTitle = 'Cairn root credentials (shown once)'

t.test('first start: health, metrics, credentials shown once and stored 0600; SIGTERM exits 0', async (t) => {
  const server = await startCairn(t)
  const health = await fetch(`${server.adminUrl}/health`)
  t.equal(health.status, 200)
  t.match(await health.json(), { status: 'ok', version: /^\d+\.\d+\.\d+/, uptimeSeconds: Number })

  const metrics = await fetch(`${server.adminUrl}/metrics`)
  t.equal(metrics.status, 200)
  t.match(metrics.headers.get('content-type'), /^text\/plain/)
  const metricsText = await metrics.text()
  t.match(metricsText, /^process_resident_memory_bytes \d+/m)
  t.match(metricsText, /^cairn_build_info\{.*\} 1$/m)
  t.match(metricsText, /^cairn_data_dir_free_bytes \d+/m)

  const credentialsPath = join(server.dataDir, 'root-credentials.json')
  t.equal(statSync(credentialsPath).mode & 0o777, 0o600)
  t.equal(statSync(server.dataDir).mode & 0o777, 0o700, 'the data dir is private')
  const { accessKey, secretKey } = JSON.parse(readFileSync(credentialsPath, 'utf8')) as { accessKey: string; secretKey: string }
  t.equal(server.stderr().split(bannerTitle).length - 1, 1, 'the banner is printed once')
  t.equal(server.stderr().split(secretKey).length - 1, 2, 'the secret appears only in the banner (key line and export line)')
  t.notOk(server.logLines().some((line) => JSON.stringify(line).includes(secretKey)), 'the secret is never logged')
  t.ok(existsSync(join(server.dataDir, 'cairn.pid')))

  const info = await fetch(`${server.adminUrl}/admin/v1/info`, { headers: { authorization: basicAuth(accessKey, secretKey) } })
  t.equal(info.status, 200)
  t.match(await info.json(), { dataDir: server.dataDir, listeners: { admin: server.adminUrl } })
  t.equal((await fetch(`${server.adminUrl}/admin/v1/info`)).status, 401)

  const started = Date.now()
  t.same(await server.stop('SIGTERM'), { code: 0, signal: null })
  t.ok(Date.now() - started < 5_000, 'SIGTERM exits promptly')
  t.match(server.stderr(), /"msg":"stopped"/)
  t.notOk(existsSync(join(server.dataDir, 'cairn.pid')), 'the pid file is removed on a clean stop')
})

t.test('restart reuses the credentials silently; a concurrent second start fails with exit 1', async (t) => {
  const first = await startCairn(t)
  const stored = readFileSync(join(first.dataDir, 'root-credentials.json'), 'utf8')
  t.same(await first.stop(), { code: 0, signal: null })

  const second = await startCairn(t, { dataDir: first.dataDir })
  t.notMatch(second.stderr(), bannerTitle, 'no banner on a later start')
  t.equal(readFileSync(join(first.dataDir, 'root-credentials.json'), 'utf8'), stored)

  const third = spawnCairn(t, { dataDir: first.dataDir })
  const exit = await third.exited
  t.same(exit, { code: 1, signal: null })
  const pid = second.child.pid
  t.match(third.stderr(), `data dir ${first.dataDir} is in use by another Cairn process (pid ${pid})`)
  t.equal(third.urls.admin, undefined, 'the second start binds nothing')
  t.equal((await fetch(`${second.adminUrl}/health`)).status, 200, 'the first server is unharmed')

  const repair = await runCli(['repair', '--rebuild-index', '--data-dir', first.dataDir])
  t.equal(repair.code, 1)
  t.match(repair.stderr, /in use by another Cairn process \(pid \d+\); stop the server before running `cairn repair`/)
  t.same(await second.stop('SIGINT'), { code: 0, signal: null })
})

t.test('root credentials from the environment are honoured', async (t) => {
  const env = { CAIRN_ROOT_ACCESS_KEY: 'TESTROOTACCESSKEY', CAIRN_ROOT_SECRET_KEY: 'test-root-secret-key' }
  const server = await startCairn(t, { env })
  t.notMatch(server.stderr(), bannerTitle)
  t.notOk(existsSync(join(server.dataDir, 'root-credentials.json')), 'nothing generated')
  const good = await fetch(`${server.adminUrl}/admin/v1/info`, { headers: { authorization: basicAuth(env.CAIRN_ROOT_ACCESS_KEY, env.CAIRN_ROOT_SECRET_KEY) } })
  t.equal(good.status, 200)
  const bad = await fetch(`${server.adminUrl}/admin/v1/info`, { headers: { authorization: basicAuth(env.CAIRN_ROOT_ACCESS_KEY, 'wrong-root-secret-key') } })
  t.equal(bad.status, 401)

  const health = await runCli(['health', '--endpoint', server.adminUrl])
  t.equal(health.code, 0, health.stderr)
  t.match(health.stdout, /^status\s+ok$/m)

  const info = await runCli(['info', '--json'], { env: { ...env, CAIRN_ADMIN_URL: server.adminUrl } })
  t.equal(info.code, 0, info.stderr)
  t.match(JSON.parse(info.stdout), { dataDir: server.dataDir, listeners: { admin: server.adminUrl } })

  const table = await runCli(['info', '--endpoint', server.adminUrl], { env })
  t.match(table.stdout, /^listeners\.admin\s+http:\/\/127\.0\.0\.1:\d+$/m)

  const scrub = await runCli(['scrub', '--endpoint', server.adminUrl], { env })
  t.not(scrub.code, 2, 'scrub is a known command')

  const wrong = await runCli(['info', '--endpoint', server.adminUrl], { env: { ...env, CAIRN_ROOT_SECRET_KEY: 'wrong-root-secret-key' } })
  t.equal(wrong.code, 1)
  t.match(wrong.stderr, /rejected the root credentials/)

  const halfEnv = await runCli(['server', '--data-dir', tempDir(t)], { env: { CAIRN_ROOT_ACCESS_KEY: 'ONLYTHEKEY' } })
  t.equal(halfEnv.code, 2)
  t.match(halfEnv.stderr, /set both CAIRN_ROOT_ACCESS_KEY and CAIRN_ROOT_SECRET_KEY or neither/)
  t.same(await server.stop(), { code: 0, signal: null })
})

t.test('the CLI reads credentials from --data-dir', async (t) => {
  const server = await startCairn(t)
  const info = await runCli(['info', '--json', '--endpoint', server.adminUrl, '--data-dir', server.dataDir])
  t.equal(info.code, 0, info.stderr)
  t.match(JSON.parse(info.stdout), { dataDir: server.dataDir })
  const none = await runCli(['info', '--endpoint', server.adminUrl], { cwd: tempDir(t) })
  t.equal(none.code, 2)
  t.match(none.stderr, /no root credentials/)
})

t.test('usage errors exit 2; no server exits 1 with advice', async (t) => {
  const badFlag = await runCli(['server', '--no-such-flag'])
  t.equal(badFlag.code, 2)
  t.match(badFlag.stderr, /Unknown option '--no-such-flag'/)
  t.match(badFlag.stderr, /cairn help server/)
  const badAddress = await runCli(['server', '--admin-address', 'localhost'])
  t.equal(badAddress.code, 2)
  t.match(badAddress.stderr, /--admin-address: "localhost" has no port/)
  const unknown = await runCli(['frobnicate'])
  t.equal(unknown.code, 2)

  const port = await closedPort()
  const health = await runCli(['health', '--endpoint', `http://127.0.0.1:${port}`])
  t.equal(health.code, 1)
  t.match(health.stderr, `no Cairn server at http://127.0.0.1:${port}; start one with \`cairn server\``)

  const help = await runCli(['help', 'server'])
  t.equal(help.code, 0)
  t.match(help.stdout, /--nbd-socket PATH/)
  const version = await runCli(['version', '--json'])
  t.match(JSON.parse(version.stdout), { version: String, node: /^24\./ })
})

t.test('an uncaught TypeError in the running server is a bug: logged with its stack, exit 70', async (t) => {
  // The real entry (runMain) with a timer that throws once the server is up.
  const script = [
    'const cli = await import(process.argv[1])',
    "setTimeout(() => { throw new TypeError('deliberate bug for the test') }, 1500)",
    "await cli.runMain(['server', '--data-dir', process.argv[2], '--admin-address', '127.0.0.1:0', '--s3-address', '127.0.0.1:0', '--s3-tls-address', '127.0.0.1:0', '--nbd-address', '127.0.0.1:0', '--nfs-address', '127.0.0.1:0'])",
  ].join('\n')
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script, cliPath, join(tempDir(t), 'data')], { cwd: repoRoot, env: childEnv(), encoding: 'utf8', timeout: 20_000 })
  t.equal(result.status, 70, result.stderr)
  const fatal = result.stderr.split('\n').filter((line) => line.includes('"level":"fatal"'))
  t.equal(fatal.length, 1)
  t.match(fatal[0], /"msg":"bug: uncaught error; exiting"/)
  t.match(fatal[0], /"type":"TypeError","message":"deliberate bug for the test","stack":"TypeError: deliberate bug/)
})

/** A port with nothing listening on it (bound then released). */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}
