// `cairn`: the command-line entry. `node src/main/cli.ts <command>` (npm start, the systemd unit,
// the Docker image) and bin/cairn.js (after its Node version check) both end up in runMain().
//
// Exit codes: 0 success; 1 operational failure (server unreachable or refusing, data dir in
// use, disk errors); 2 usage (bad flag, bad value, bad config file); 70 a bug (an
// AssertionError/TypeError reached the top: logged with its stack, never survived).
import { readFileSync } from 'node:fs'
import { isBug } from '../admin/index.ts'
import { runClientCommand, clientCommands, clientOptionsHelp, type CommandContext } from './client-commands.ts'
import { parseServerConfig, serverFlagsHelp } from './config.ts'
import { rebuildIndexOffline, systemWorld } from './engine.ts'
import { rotateMasterKeyOffline } from './keys-command.ts'
import { createLogger, serializeError, type Logger } from './logger.ts'
import { reexecServerIfNeeded } from './node-flags.ts'
import { bugExitCode, shutdownHardLimitMs, startServer, type RunningServer } from './server.ts'
import { isUsageError } from './usage-error.ts'
import { runVolumeCommand, snapshotHelp, volumeHelp } from './volume-commands.ts'
import { runUserCommand, userHelp } from './user-commands.ts'
import { kmsHelp, runKmsCommand } from './kms-commands.ts'
import { fsHelp, runFsCommand } from './fs-commands.ts'
import { cairnVersion } from './version.ts'

export interface CliContext extends CommandContext {
  readTextFile: (path: string) => string
  /** Leave the process now (bugs, a second signal, a hung shutdown). */
  exit: (code: number) => void
  /** Called once the server has a logger, so crashes are logged in the same format. */
  useCrashLogger: (logger: Logger) => void
}

const usage = `Usage: cairn <command> [options]

Commands:
  server                       start the server (\`cairn help server\` lists its flags)
  health                       check that a running server is healthy
  info                         show server and store information
  scrub                        verify every stored chunk now
  gc                           collect unreferenced chunks now
  compact                      rewrite packs that hold mostly dead data now
  repair --rebuild-index       rebuild the metadata index from the packs (server stopped)
  volume <action>              block volumes: create, list, describe, modify, delete, clone, hydrate
  snapshot <action>            volume snapshots: create, list, describe, delete, diff
  user <action>                S3 users: create NAME, list, delete NAME
  kms <action>                 SSE-KMS keys: create-key, list-keys, describe-key, disable-key, enable-key, rotate
  fs <action>                  file systems (NFS): create, list, describe, modify, delete, lifecycle
  keys rotate                  rotate the master key of a data dir (server stopped)
  version                      print the version
  help [command]               show help

Options of health, info, scrub, gc, compact:
${clientOptionsHelp}

Exit codes: 0 ok, 1 failed, 2 usage error.
`

function commandHelp(command: string | undefined): string {
  if (command === 'server') return `Usage: cairn server [flags]\n\nFlags (precedence: flag > env > config file > default):\n${serverFlagsHelp()}\n\nRoot credentials: CAIRN_ROOT_ACCESS_KEY and CAIRN_ROOT_SECRET_KEY (both or neither);\nwithout them they are generated on first start and kept in <data-dir>/root-credentials.json.\n`
  if (command === 'repair') return `Usage: cairn repair --rebuild-index [--data-dir DIR] [--config PATH]\n\nRebuild the metadata index from the pack files. The server must be stopped.\n`
  if (command === 'keys') return `Usage: cairn keys rotate [--data-dir DIR] [--config PATH] [--json]\n\nRotate the master key: the old key file is kept as keys/master.key.previous, a new random\nkey becomes keys/master.key, every key domain's data key is re-wrapped with it (chunks are\nnever rewritten), then the old key file is removed. The server must be stopped. Run it again\nif it was interrupted. With CAIRN_MASTER_KEY in the environment, set the new key there and\nthe old one in CAIRN_PREVIOUS_MASTER_KEY and start the server instead.\n`
  if (command === 'volume') return volumeHelp
  if (command === 'snapshot') return snapshotHelp
  if (command === 'user') return userHelp
  if (command === 'kms') return kmsHelp
  if (command === 'fs') return fsHelp
  if (command !== undefined && command in clientCommands) return `Usage: cairn ${command} [options]\n\n${clientOptionsHelp}\n`
  return usage
}

export async function runCli(args: readonly string[], context: CliContext): Promise<number> {
  const [command, ...rest] = args
  try {
    switch (command) {
      case undefined:
        context.stderr.write(usage)
        return 2
      case 'help':
      case '--help':
      case '-h':
        context.stdout.write(commandHelp(rest[0]))
        return 0
      case 'version':
      case '--version':
        context.stdout.write(rest.includes('--json') ? `${JSON.stringify({ version: cairnVersion, node: process.versions.node })}\n` : `cairn ${cairnVersion} (node ${process.versions.node})\n`)
        return 0
      case 'server':
        return await serverCommand(rest, context)
      case 'repair':
        return await repairCommand(rest, context)
      case 'volume':
      case 'snapshot':
        return await runVolumeCommand(command, rest, context)
      case 'user':
        if (rest.includes('--help') || rest.includes('-h')) {
          context.stdout.write(userHelp)
          return 0
        }
        return await runUserCommand(rest, context)
      case 'kms':
        if (rest.includes('--help') || rest.includes('-h')) {
          context.stdout.write(kmsHelp)
          return 0
        }
        return await runKmsCommand(rest, context)
      case 'fs':
        if (rest.includes('--help') || rest.includes('-h')) {
          context.stdout.write(fsHelp)
          return 0
        }
        return await runFsCommand(rest, context)
      case 'keys':
        return await keysCommand(rest, context)
      default:
        if (command in clientCommands) {
          if (rest.includes('--help') || rest.includes('-h')) {
            context.stdout.write(commandHelp(command))
            return 0
          }
          return await runClientCommand(command, rest, context)
        }
        context.stderr.write(`cairn: unknown command "${command}"\nrun \`cairn help\` for the list of commands\n`)
        return 2
    }
  } catch (error) {
    if (isUsageError(error)) {
      const hint = error.hint ?? (command !== undefined && command !== 'help' ? `run \`cairn help ${command}\`` : 'run `cairn help`')
      context.stderr.write(`cairn${command === undefined ? '' : ` ${command}`}: ${error.message}\n${hint}\n`)
      return 2
    }
    if (isBug(error)) throw error
    context.stderr.write(`cairn${command === undefined ? '' : ` ${command}`}: ${(error as Error).message}\n`)
    return 1
  }
}

async function serverCommand(args: readonly string[], context: CliContext): Promise<number> {
  const { config, help } = parseServerConfig({ args, env: context.env, cwd: context.cwd, readTextFile: context.readTextFile })
  if (help) {
    context.stdout.write(commandHelp('server'))
    return 0
  }
  const logger = createLogger({ level: config.logLevel, sink: context.stderr })
  context.useCrashLogger(logger)
  // Handlers go in before anything listens: a SIGTERM that arrives while the server is still
  // starting (a client saw /health, the S3 listener is not up yet) must stop it cleanly, not
  // kill it with the default action.
  const signals = watchSignals(logger, context)
  let server: RunningServer
  try {
    server = await startServer({
      config,
      logger,
      announce: (text) => context.stderr.write(text),
      // The admin plugin already logged the bug with its stack.
      onBug: () => context.exit(bugExitCode),
    })
  } catch (error) {
    if (isUsageError(error) || isBug(error)) throw error
    // An operational failure (data dir in use, address taken, disk error): the message says it
    // all; the cause chain goes to the debug log.
    logger.fatal({ code: (error as { code?: unknown }).code }, `cannot start: ${(error as Error).message}`)
    logger.debug({ err: error }, 'start failure details')
    signals.dispose()
    return 1
  }
  return await untilSignal(server, logger, context, signals)
}

interface SignalWatch {
  /** The first SIGTERM/SIGINT. */
  first: Promise<NodeJS.Signals>
  dispose(): void
}

/** Catch SIGTERM/SIGINT from now on; a second signal exits at once. */
function watchSignals(logger: Logger, context: CliContext): SignalWatch {
  let count = 0
  let resolveFirst: (signal: NodeJS.Signals) => void = () => {}
  const first = new Promise<NodeJS.Signals>((resolve) => (resolveFirst = resolve))
  const onSignal = (signal: NodeJS.Signals): void => {
    count += 1
    if (count === 1) {
      resolveFirst(signal)
      return
    }
    logger.warn({ signal }, 'second signal during shutdown: exiting now')
    context.exit(1)
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  return {
    first,
    dispose: () => {
      process.off('SIGTERM', onSignal)
      process.off('SIGINT', onSignal)
    },
  }
}

/** Wait for the first SIGTERM/SIGINT, then stop cleanly; a hung stop exits after a limit. */
async function untilSignal(server: RunningServer, logger: Logger, context: CliContext, signals: SignalWatch): Promise<number> {
  const signal = await signals.first
  setTimeout(() => {
    logger.error({ limitMs: shutdownHardLimitMs }, 'shutdown did not finish in time: exiting')
    context.exit(1)
  }, shutdownHardLimitMs).unref()
  try {
    await server.stop(signal)
    return 0
  } catch (error) {
    if (isBug(error)) throw error
    logger.error({ err: error }, 'shutdown failed')
    return 1
  }
}

async function keysCommand(args: readonly string[], context: CliContext): Promise<number> {
  const [action, ...flags] = args
  const json = flags.includes('--json')
  const { config, help } = parseServerConfig({ args: flags.filter((flag) => flag !== '--json'), env: context.env, cwd: context.cwd, readTextFile: context.readTextFile })
  if (help || action === '--help' || action === '-h') {
    context.stdout.write(commandHelp('keys'))
    return 0
  }
  if (action !== 'rotate') {
    context.stderr.write(`cairn keys: unknown action "${action ?? ''}"\nrun \`cairn help keys\`\n`)
    return 2
  }
  const result = await rotateMasterKeyOffline(config, systemWorld)
  context.stdout.write(json ? `${JSON.stringify(result)}\n` : `master key rotated: ${result.previousMasterKeyId} -> ${result.masterKeyId} (${result.rewrappedDomains} key domains re-wrapped)\n`)
  return 0
}

async function repairCommand(args: readonly string[], context: CliContext): Promise<number> {
  const { config, help, switches } = parseServerConfig({ args, env: context.env, cwd: context.cwd, readTextFile: context.readTextFile }, ['rebuild-index'])
  if (help) {
    context.stdout.write(commandHelp('repair'))
    return 0
  }
  if (switches['rebuild-index'] !== true) {
    context.stderr.write('cairn repair: say what to repair: --rebuild-index\nrun `cairn help repair`\n')
    return 2
  }
  const logger = createLogger({ level: config.logLevel, sink: context.stderr })
  context.stdout.write(`rebuilding the metadata index of ${config.dataDir} from its packs\n`)
  const report = await rebuildIndexOffline(config, logger)
  context.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
  return 0
}

/** The process around runCli: real env, stdio, exit, and crash handlers. */
export async function runMain(args: readonly string[] = process.argv.slice(2)): Promise<void> {
  // Before anything opens a file or a socket: the server may re-execute itself with its V8 flags.
  if (args[0] === process.argv[2]) reexecServerIfNeeded(args[0])
  let crashLogger: Logger | undefined
  const crash = (error: unknown): void => {
    const bug = isBug(error)
    const message = bug ? 'bug: uncaught error; exiting' : 'uncaught error; exiting'
    if (crashLogger !== undefined) crashLogger.fatal({ err: error }, message)
    else process.stderr.write(`cairn: ${message}\n${JSON.stringify(error instanceof Error ? serializeError(error) : String(error), null, 2)}\n`)
    process.exit(bug ? bugExitCode : 1)
  }
  process.on('uncaughtException', crash)
  process.on('unhandledRejection', crash)
  const context: CliContext = {
    env: process.env,
    cwd: process.cwd(),
    stdout: process.stdout,
    stderr: process.stderr,
    readTextFile: (path) => readFileSync(path, 'utf8'),
    exit: (code) => process.exit(code),
    useCrashLogger: (logger) => {
      crashLogger = logger
    },
  }
  let code: number
  try {
    code = await runCli(args, context)
  } catch (error) {
    crash(error)
    return
  }
  // Exit explicitly: metrics observers or keep-alive sockets must not hold a stopped server open.
  process.exit(code)
}

if (import.meta.main) await runMain()
