import t from 'tap'
import { parseServerConfig, parseAddress, formatAddress, sizeOption, serverFlagsHelp, type ConfigSource } from './config.ts'
import { UsageError } from './usage-error.ts'

function source(args: string[], env: Record<string, string> = {}, files: Record<string, string> = {}): ConfigSource {
  return {
    args,
    env,
    cwd: '/work/here',
    readTextFile: (path) => {
      const text = files[path]
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' })
      return text
    },
  }
}

t.test('defaults', async (t) => {
  const { config, help } = parseServerConfig(source([]))
  t.equal(help, false)
  t.equal(config.dataDir, '/work/here/data')
  t.equal(config.coldDir, '/work/here/data/cold')
  t.same(config.s3Address, { host: '127.0.0.1', port: 9000 })
  t.same(config.s3TlsAddress, { host: '127.0.0.1', port: 9443 })
  t.same(config.adminAddress, { host: '127.0.0.1', port: 9001 })
  t.same(config.nbdAddress, { host: '127.0.0.1', port: 10809 })
  t.same(config.nfsAddress, { host: '127.0.0.1', port: 2049 })
  t.equal(config.nfsLeaseMs, 60_000)
  t.equal(config.nfsGraceMs, 60_000, 'the NFS grace period defaults to the lease')
  t.equal(config.nbdSocket, undefined)
  t.equal(config.gcGraceMs, 3600 * 1000)
  t.equal(config.logLevel, 'info')
  t.equal(config.configFile, undefined)
  t.equal(config.rootAccessKeyText, undefined)
})

t.test('precedence: flag > env > file > default; file paths resolve against the file', async (t) => {
  const file = JSON.stringify({ 'data-dir': 'from-file', 'admin-address': '127.0.0.1:7001', 'nbd-socket': 'nbd.sock', 'gc-grace-seconds': 60, 'log-level': 'warn' })
  const files = { '/etc/cairn/cairn.json': file }
  const env = { CAIRN_CONFIG: '/etc/cairn/cairn.json', CAIRN_ADMIN_ADDRESS: '127.0.0.1:8001', CAIRN_LOG_LEVEL: 'debug' }
  const { config } = parseServerConfig(source(['--log-level', 'error', '--s3-address=0.0.0.0:9100'], env, files))
  t.equal(config.configFile, '/etc/cairn/cairn.json')
  t.equal(config.dataDir, '/etc/cairn/from-file', 'file value, relative to the file')
  t.equal(config.coldDir, '/etc/cairn/from-file/cold', 'cold dir follows the data dir')
  t.equal(config.nbdSocket, '/etc/cairn/nbd.sock')
  t.same(config.adminAddress, { host: '127.0.0.1', port: 8001 }, 'env beats file')
  t.equal(config.logLevel, 'error', 'flag beats env')
  t.same(config.s3Address, { host: '0.0.0.0', port: 9100 })
  t.equal(config.gcGraceMs, 60_000, 'numbers are allowed in the file')
  const flagFile = parseServerConfig(source(['--config', 'local.json'], {}, { '/work/here/local.json': '{"data-dir": "/srv/cairn"}' }))
  t.equal(flagFile.config.dataDir, '/srv/cairn')
  t.equal(flagFile.config.configFile, '/work/here/local.json')
})

t.test('secrets come from the environment only; empty env vars count as unset', async (t) => {
  const { config } = parseServerConfig(source([], { CAIRN_ROOT_ACCESS_KEY: 'AKEY', CAIRN_ROOT_SECRET_KEY: 'SECRETSECRET', CAIRN_MASTER_KEY: 'k', CAIRN_DATA_DIR: '' }))
  t.equal(config.rootAccessKeyText, 'AKEY')
  t.equal(config.rootSecretKeyText, 'SECRETSECRET')
  t.equal(config.masterKeyText, 'k')
  t.equal(config.dataDir, '/work/here/data')
  t.throws(() => parseServerConfig(source(['--root-secret-key', 'x'])), UsageError, 'no secret flags')
})

t.test('NFS lease and grace', async (t) => {
  t.match(parseServerConfig(source(['--nfs-lease-seconds', '5'])).config, { nfsLeaseMs: 5000, nfsGraceMs: 5000 })
  t.match(parseServerConfig(source(['--nfs-lease-seconds', '5', '--nfs-grace-seconds', '0'])).config, { nfsLeaseMs: 5000, nfsGraceMs: 0 })
  t.match(parseServerConfig(source([], { CAIRN_NFS_GRACE_SECONDS: '2' })).config, { nfsLeaseMs: 60_000, nfsGraceMs: 2000 })
})

t.test('errors name the option and where it came from', async (t) => {
  const cases: Array<[ConfigSource, RegExp]> = [
    [source(['--bogus']), /Unknown option '--bogus'/],
    [source(['positional']), /positional/],
    [source(['--data-dir']), /--data-dir/],
    [source(['--s3-address', '9000']), /--s3-address: "9000" has no port/],
    [source(['--s3-address', '::1:9000']), /put IPv6 addresses in brackets, e\.g\. \[::1\]:9000/],
    [source(['--s3-address', '[nope]:9000']), /not an IPv6 address/],
    [source(['--s3-address', 'host_name:9000']), /not an IP address or hostname/],
    [source(['--s3-address', '127.0.0.1:65536']), /port "65536" must be a number from 0 to 65535/],
    [source([], { CAIRN_NFS_ADDRESS: '127.0.0.1:x' }), /^CAIRN_NFS_ADDRESS: port "x"/],
    [source(['--gc-grace-seconds', '1.5']), /whole number of seconds/],
    [source(['--nfs-lease-seconds', '0']), /--nfs-lease-seconds: must be at least 1 second/],
    [source(['--log-level', 'loud']), /not a log level/],
    [source(['--admin-address', '127.0.0.1:9000']), /--admin-address and --s3-address both use 127\.0\.0\.1:9000/],
    [source(['--nfs-address', '0.0.0.0:10809']), /--nbd-address and --nfs-address both use/],
    [source(['--config', 'missing.json']), /config file \/work\/here\/missing\.json: cannot read it \(ENOENT\)/],
    [source(['--config', '/c.json'], {}, { '/c.json': '{nope' }), /not valid JSON/],
    [source(['--config', '/c.json'], {}, { '/c.json': '[]' }), /must hold one JSON object/],
    [source(['--config', '/c.json'], {}, { '/c.json': '{"dataDir": "x"}' }), /unknown key "dataDir"/],
    [source(['--config', '/c.json'], {}, { '/c.json': '{"data-dir": true}' }), /"data-dir" must be a string/],
    [source(['--config', '/c.json'], {}, { '/c.json': '{"log-level": "x"}' }), /^"log-level" in \/c\.json: "x" is not a log level/],
  ]
  for (const [input, pattern] of cases) {
    t.throws(() => parseServerConfig(input), pattern, input.args.join(' ') || JSON.stringify(input.env))
    t.throws(() => parseServerConfig(input), UsageError)
  }
})

t.test('help and extra switches', async (t) => {
  t.equal(parseServerConfig(source(['-h'])).help, true)
  const repair = parseServerConfig(source(['--rebuild-index', '--data-dir', '/d']), ['rebuild-index'])
  t.same(repair.switches, { 'rebuild-index': true })
  t.throws(() => parseServerConfig(source(['--rebuild-index'])), /Unknown option/)
  const help = serverFlagsHelp()
  for (const flag of ['--config PATH', '--data-dir DIR', '--s3-address HOST:PORT', '--nbd-socket PATH', 'CAIRN_GC_GRACE_SECONDS']) {
    t.match(help, flag)
  }
})

t.test('addresses', async (t) => {
  t.same(parseAddress('[::1]:9000', 'x'), { host: '::1', port: 9000 })
  t.same(parseAddress('localhost:0', 'x'), { host: 'localhost', port: 0 })
  t.equal(formatAddress({ host: '::1', port: 9000 }), '[::1]:9000')
  t.equal(formatAddress({ host: '10.0.0.1', port: 80 }), '10.0.0.1:80')
  t.same(parseServerConfig(source(['--admin-address', '127.0.0.1:0', '--s3-address', '127.0.0.1:0'])).config.adminAddress.port, 0, 'port 0 may repeat')
})

t.test('sizes with units', async (t) => {
  t.equal(sizeOption('10GiB', '--size'), 10 * 1024 ** 3)
  t.equal(sizeOption('64 KiB', '--size'), 64 * 1024)
  t.throws(() => sizeOption('ten', '--size'), /--size: not a size/)
  t.throws(() => sizeOption('ten', '--size'), UsageError)
})
