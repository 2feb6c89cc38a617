// Servers of the nfs benchmark (helper of bench/nfs.ts, not a benchmark on its own): the real Cairn server with NFS, and nfs-ganesha with the VFS backend
//
// - startCairnNfs: `node src/main/cli.ts server` (through bench/nbd-servers.ts startCairn) with
//   --nfs-address 127.0.0.1:0 and no grace period; exports the `default` file system at /default.
// - startGanesha: `ganesha.nfsd -F` (foreground child) with a config written to the temp dir:
//   NFSv4 only (minor versions 0 and 1), VFS FSAL exporting <temp>/ganesha-export at /default
//   (the same path as Cairn's), 127.0.0.1 on a free port, no NLM, RQUOTA, UDP or rpcbind
//   registration needed, no grace period, recovery state under the temp dir, numeric owners,
//   no root squash (the load client is AUTH_SYS root, as on Cairn's default export). The RPC
//   receive buffer is raised to 2 MiB so a 1 MiB WRITE compound fits (its default is 1 MiB,
//   and the Linux client would get a smaller wsize). Ready when an NFSv4.1 session opens.
// Contract: stop() ends each server (SIGTERM, SIGKILL after 20 s) and waits for its exit; a
// server that exits during start rejects with its log.
// Never: listen on anything but 127.0.0.1; touch /etc/ganesha or the system recovery directory.
import { spawn, spawnSync } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { freePort, startCairn, stopper, watch, type ServerProcess } from './nbd-servers.ts'
import { NfsSession } from './nfs-client.ts'

export interface NfsServerUnderTest extends ServerProcess {
  readonly name: 'cairn' | 'ganesha'
  readonly host: string
  readonly port: number
  /** The export's name under the pseudo root. */
  readonly exportName: string
  readonly version: string
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export async function startCairnNfs(root: string): Promise<NfsServerUnderTest> {
  const cairn = await startCairn(join(root, 'cairn'), { listeners: ['nfs'], extraArgs: ['--nfs-grace-seconds', '0'] })
  const url = new URL(cairn.urls.nfs!)
  return { name: 'cairn', host: url.hostname, port: Number(url.port), exportName: 'default', version: 'cairn server', pid: cairn.pid, stderr: cairn.stderr, stop: cairn.stop }
}

/** Whether ganesha.nfsd and its VFS backend are installed (Debian: nfs-ganesha, nfs-ganesha-vfs). */
export function ganeshaMissing(): string | undefined {
  const probe = spawnSync('ganesha.nfsd', ['-v'], { encoding: 'utf8' })
  if (probe.error !== undefined) return 'ganesha.nfsd not found: apt-get install nfs-ganesha nfs-ganesha-vfs'
  if (findVfsPluginDir() === undefined) return 'the ganesha VFS backend (libfsalvfs.so) not found: apt-get install nfs-ganesha-vfs'
  return undefined
}

function ganeshaVersion(): string {
  const output = spawnSync('ganesha.nfsd', ['-v'], { encoding: 'utf8' }).stdout ?? ''
  return /Release = (\S+)/.exec(output)?.[1] ?? 'unknown version'
}

function findVfsPluginDir(): string | undefined {
  const candidates = ['/usr/lib/x86_64-linux-gnu/ganesha', '/usr/lib/aarch64-linux-gnu/ganesha', '/usr/lib64/ganesha', '/usr/lib/ganesha']
  return candidates.find((dir) => spawnSync('test', ['-e', join(dir, 'libfsalvfs.so')]).status === 0)
}

function ganeshaConfig(port: number, exportDir: string, recoveryDir: string, pluginDir: string): string {
  return `# written by bench/nfs-servers.ts
NFS_Core_Param {
  Protocols = 4;
  NFS_Port = ${port};
  Bind_addr = 127.0.0.1;
  Enable_NLM = false;
  Enable_RQUOTA = false;
  Enable_UDP = false;
  Plugins_Dir = "${pluginDir}";
  MaxRPCRecvBufferSize = 2097152;
  MaxRPCSendBufferSize = 2097152;
}
NFSV4 {
  Graceless = true;
  Minor_Versions = 0, 1;
  RecoveryRoot = "${recoveryDir}";
  Only_Numeric_Owners = true;
}
EXPORT {
  Export_Id = 1;
  Path = "${exportDir}";
  Pseudo = /default;
  Access_Type = RW;
  Squash = No_Root_Squash;
  SecType = sys;
  Protocols = 4;
  FSAL { Name = VFS; }
}
LOG { Default_Log_Level = EVENT; }
`
}

export async function startGanesha(root: string): Promise<NfsServerUnderTest> {
  const pluginDir = findVfsPluginDir()
  if (pluginDir === undefined) throw new Error(ganeshaMissing())
  const directory = join(root, 'ganesha')
  const exportDir = join(directory, 'export')
  const recoveryDir = join(directory, 'recovery')
  await mkdir(exportDir, { recursive: true })
  await mkdir(recoveryDir, { recursive: true })
  const port = await freePort()
  const configPath = join(directory, 'ganesha.conf')
  await writeFile(configPath, ganeshaConfig(port, exportDir, recoveryDir, pluginDir))
  const child = spawn('ganesha.nfsd', ['-F', '-f', configPath, '-L', '/dev/stderr', '-p', join(directory, 'ganesha.pid'), '-N', 'NIV_EVENT'], {
    cwd: directory,
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  const { exited, stderr, isRunning } = watch(child)
  const stop = stopper(child, exited, isRunning)
  try {
    await waitForSession('127.0.0.1', port, stderr, isRunning)
    return { name: 'ganesha', host: '127.0.0.1', port, exportName: 'default', version: `nfs-ganesha ${ganeshaVersion()} (VFS)`, pid: child.pid!, stderr, stop }
  } catch (error) {
    await stop()
    throw error
  }
}

async function waitForSession(host: string, port: number, stderr: () => string, isRunning: () => boolean): Promise<void> {
  const deadlineMs = Date.now() + 30_000
  let lastError: unknown
  while (Date.now() < deadlineMs) {
    if (!isRunning()) throw new Error(`ganesha.nfsd exited before serving:\n${stderr()}`)
    try {
      const session = await NfsSession.open(host, port, 1, `cairn-bench-probe-${process.pid}`)
      await session.close()
      return
    } catch (error) {
      lastError = error
      await sleep(200) // not listening (or not ready) yet
    }
  }
  throw new Error(`ganesha.nfsd did not open an NFSv4.1 session in time (${String(lastError)}):\n${stderr()}`)
}
