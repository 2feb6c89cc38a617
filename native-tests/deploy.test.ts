// deploy/: the systemd unit passes `systemd-analyze verify` (skipped when systemd-analyze is
// missing) and the Dockerfile has the basics. No Docker engine runs here, so the image is
// never built in tests; its HEALTHCHECK command is run against a real server instead.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { childEnv, repoRoot, startCairn, tempDir } from './helpers/server.ts'

const unitPath = join(repoRoot, 'deploy', 'cairn.service')
const dockerfilePath = join(repoRoot, 'deploy', 'Dockerfile')
const installDir = '/opt/cairn'

function hasSystemdAnalyze(): boolean {
  return spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).status === 0
}

/** [key, value] pairs of a unit section, in order. */
function unitSettings(text: string, section: string): Array<[string, string]> {
  const settings: Array<[string, string]> = []
  let current = ''
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue
    const header = /^\[(.+)\]$/.exec(line)
    if (header) {
      current = header[1] ?? ''
      continue
    }
    const equals = line.indexOf('=')
    if (current === section && equals > 0) settings.push([line.slice(0, equals), line.slice(equals + 1)])
  }
  return settings
}

t.test('the systemd unit passes systemd-analyze verify', { skip: hasSystemdAnalyze() ? false : 'systemd-analyze is not installed' }, async (t) => {
  // verify checks that ExecStart's program exists: point the install dir at this checkout.
  const unitText = readFileSync(unitPath, 'utf8')
  t.match(unitText, `ExecStart=${installDir}/bin/cairn.js server`)
  const copy = join(tempDir(t), 'cairn.service')
  writeFileSync(copy, unitText.replaceAll(installDir, repoRoot))
  const result = spawnSync('systemd-analyze', ['verify', '--man=no', copy], { encoding: 'utf8', env: childEnv({ SYSTEMD_LOG_COLOR: '0' }) })
  t.equal(result.status, 0, result.stderr)
  // verify only warns about unknown keys and bad values; any line about our unit is a failure.
  const complaints = `${result.stdout}\n${result.stderr}`.split('\n').filter((line) => line.includes('cairn.service'))
  t.same(complaints, [], 'no warnings about cairn.service')
})

t.test('the systemd unit runs unprivileged with its state directory and hardening', async (t) => {
  const settings = new Map(unitSettings(readFileSync(unitPath, 'utf8'), 'Service'))
  t.equal(settings.get('User'), 'cairn')
  t.equal(settings.get('StateDirectory'), 'cairn')
  t.match(settings.get('ExecStart'), /^\/opt\/cairn\/bin\/cairn\.js server --data-dir \/var\/lib\/cairn$/)
  for (const [key, value] of [
    ['NoNewPrivileges', 'yes'],
    ['ProtectSystem', 'strict'],
    ['ReadWritePaths', '/var/lib/cairn'],
    ['PrivateTmp', 'yes'],
    ['LimitNOFILE', '65536'],
    ['KillSignal', 'SIGTERM'],
    ['RestartPreventExitStatus', '2'],
  ] as const) {
    t.equal(settings.get(key), value, key)
  }
  t.ok(existsSync(join(repoRoot, 'bin', 'cairn.js')), 'ExecStart names the launcher in this repository')
})

t.test('the Dockerfile has the basics', async (t) => {
  const text = readFileSync(dockerfilePath, 'utf8')
  const instructions = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
  const all = (keyword: string) => instructions.filter((line) => line.toUpperCase().startsWith(`${keyword} `))
  t.match(all('FROM')[0], /^FROM node:24(\.\d+)*-slim$/, 'current Node LTS, slim')
  t.match(all('RUN').join('\n'), /npm ci --omit=dev/, 'production dependencies only')
  const users = all('USER')
  t.ok(users.length > 0 && !/^USER (root|0)$/.test(users.at(-1) ?? ''), 'runs as a non-root user')
  t.match(all('VOLUME').join('\n'), '/var/lib/cairn')
  const exposed = all('EXPOSE').join(' ')
  for (const port of ['9000', '9443', '9001', '10809', '2049']) t.match(exposed, port, `EXPOSE ${port}`)
  t.match(all('HEALTHCHECK')[0], /\/health/)
  t.match(all('ENTRYPOINT')[0], /"node", "src\/main\/cli\.ts"/)
  for (const copy of all('COPY')) {
    const sources = copy.split(/\s+/).slice(1, -1)
    for (const source of sources) t.ok(existsSync(join(repoRoot, source)), `COPY source ${source} exists`)
  }
  t.ok(existsSync(join(repoRoot, 'deploy', 'Dockerfile.dockerignore')), 'the build context leaves node_modules and data out')
})

t.test("the Dockerfile's HEALTHCHECK command works against a real server", async (t) => {
  const text = readFileSync(dockerfilePath, 'utf8').replace(/\\\n/g, ' ')
  const script = /HEALTHCHECK[^\n]*CMD \["node", "-e", "(.*)"\]/.exec(text)?.[1]
  if (script === undefined) return t.fail('HEALTHCHECK runs node -e "<script>"')
  const server = await startCairn(t)
  const pointed = script.replace('http://127.0.0.1:9001', server.adminUrl)
  t.equal(spawnSync(process.execPath, ['-e', pointed], { timeout: 10_000 }).status, 0, 'healthy server: exit 0')
  await server.stop()
  t.equal(spawnSync(process.execPath, ['-e', pointed], { timeout: 10_000 }).status, 1, 'no server: exit 1')
})
