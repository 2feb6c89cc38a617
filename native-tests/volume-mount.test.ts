// Black-box test of a real Linux filesystem on a Cairn volume, snapshotted while in use and
// restored (issue 4, ../shared/recipes/nbd-mount). The real `cairn server` serves the volumes;
// the kernel's ext4 runs on a loop device over nbdfuse (no nbd kernel module needed):
//   NBD URI --nbdfuse--> file --losetup--> /dev/loopN --mkfs.ext4/mount--> files
// Steps: mkfs + mount + write files (large random, many small), fsfreeze around starting a
// snapshot, keep writing (modify, append, delete, add, rename) while it completes, restore the
// snapshot into a new volume, attach + fsck + mount it read-only: it must hold exactly the files
// and contents at snapshot time. Then the original volume, fully detached (no client cache
// left), re-attached, fsck'ed and remounted, must hold the post-snapshot state.
//
// Needs root, /dev/fuse, loop devices, nbdfuse (libnbd-bin), fusermount3 (fuse3), e2fsprogs,
// util-linux; skips with the reason otherwise. Every mount, loop device and nbdfuse process is
// torn down in reverse order at teardown, even when the test fails; teardown never throws (tap
// would drop the remaining teardowns, including the server's).
import t from 'tap'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { appendFile, mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { SeededRandom, seedFrom } from '../src/lib/index.ts'
import { skipUnless } from '../src/nbd/testing/tools.ts'
import { runCli, startCairn, type CairnServer } from './helpers/server.ts'

const env = { CAIRN_ROOT_ACCESS_KEY: 'VOLUMEMOUNTACCESSKEY', CAIRN_ROOT_SECRET_KEY: 'volume-mount-secret-key' }
const KiB = 1024
const MiB = 1024 * KiB

function skipReason(): string | false {
  if (process.platform !== 'linux') return 'Linux only (loop devices, FUSE, ext4)'
  if (process.getuid?.() !== 0) return 'needs root (losetup, mount, fsfreeze)'
  const tools = skipUnless('nbdfuse', 'fusermount3', 'losetup', 'mkfs.ext4', 'fsck.ext4', 'fsfreeze', 'mount', 'umount', 'mountpoint')
  if (tools !== false) return tools
  if (!existsSync('/dev/fuse')) return 'no /dev/fuse (FUSE not available in this environment)'
  if (!existsSync('/dev/loop-control') || spawnSync('losetup', ['-f'], { stdio: 'ignore' }).status !== 0) return 'no free loop device (losetup -f failed)'
  return false
}

/** One volume attached as a block device: nbdfuse process, loop device, optional ext4 mount. */
interface Attachment {
  readonly name: string
  readonly fuseDir: string
  readonly mountDir: string
  nbdfuse?: ChildProcess
  nbdfuseExit?: Promise<void>
  loop?: string
  mounted: boolean
}

interface ToolResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a tool with no stdin (tools that exit at once must not get EPIPE on a stdin write). */
function runTool(command: string, args: readonly string[], options: { timeoutMs?: number } = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text))
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

async function run(command: string, args: string[], timeoutMs = 60_000): Promise<string> {
  const result = await runTool(command, args, { timeoutMs })
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.code}:\n${result.stdout}${result.stderr}`)
  return result.stdout
}

/** nbdfuse -> loop device, added to `track` at once. Read-only attaches the restored volume with nbdfuse -r and losetup -r. */
async function attach(workDir: string, name: string, nbdUri: string, options: { readOnly: boolean; track: Attachment[] }): Promise<Attachment> {
  const fuseDir = join(workDir, `${name}-fuse`)
  const mountDir = join(workDir, `${name}-mnt`)
  mkdirSync(fuseDir, { recursive: true })
  mkdirSync(mountDir, { recursive: true })
  const pidFile = join(workDir, `${name}.pid`)
  rmSync(pidFile, { force: true })
  const attachment: Attachment = { name, fuseDir, mountDir, mounted: false }
  const child = spawn('nbdfuse', [...(options.readOnly ? ['-r'] : []), '-P', pidFile, join(fuseDir, 'disk'), nbdUri], { stdio: ['ignore', 'ignore', 'pipe'] })
  attachment.nbdfuse = child
  options.track.push(attachment) // before anything can fail: teardown detaches it
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text))
  let exited = false
  attachment.nbdfuseExit = new Promise((resolve) => child.once('close', () => ((exited = true), resolve())))
  const deadline = Date.now() + 15_000
  while (!(existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '')) {
    if (exited || Date.now() > deadline) throw new Error(`nbdfuse ${nbdUri} did not come up:\n${stderr}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  attachment.loop = (await run('losetup', [...(options.readOnly ? ['-r'] : []), '-f', '--show', join(fuseDir, 'disk')])).trim()
  return attachment
}

async function mountpoint(path: string): Promise<boolean> {
  return (await runTool('mountpoint', ['-q', path])).code === 0
}

/** Reverse of attach (umount, losetup -d, fusermount3 -u, wait for nbdfuse); idempotent. */
async function detach(attachment: Attachment): Promise<void> {
  if (attachment.mounted || (await mountpoint(attachment.mountDir))) {
    await run('umount', [attachment.mountDir])
    attachment.mounted = false
  }
  if (attachment.loop !== undefined) {
    await run('losetup', ['-d', attachment.loop])
    attachment.loop = undefined
  }
  const child = attachment.nbdfuse
  if (child === undefined) return
  // The loop device lets go of the FUSE file asynchronously: retry while the mount is busy.
  for (let attempt = 0; await mountpoint(attachment.fuseDir); attempt += 1) {
    const result = await runTool('fusermount3', ['-u', attachment.fuseDir])
    if (result.code === 0) break
    if (attempt >= 50) throw new Error(`fusermount3 -u ${attachment.fuseDir}: ${result.stderr}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  // nbdfuse exits by itself once unmounted.
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await attachment.nbdfuseExit
  clearTimeout(timer)
  attachment.nbdfuse = undefined
}

/** Best-effort detach for teardown: falls back to lazy unmounts, never throws. */
async function forceDetach(attachment: Attachment, log: (text: string) => void): Promise<void> {
  try {
    await detach(attachment)
    return
  } catch (error) {
    log(`detach ${attachment.name} failed, forcing: ${String(error)}`)
  }
  if (await mountpoint(attachment.mountDir)) await runTool('umount', ['-l', attachment.mountDir])
  if (attachment.loop !== undefined) await runTool('losetup', ['-d', attachment.loop])
  if (await mountpoint(attachment.fuseDir)) await runTool('fusermount3', ['-uz', attachment.fuseDir])
  attachment.nbdfuse?.kill('SIGKILL')
  await attachment.nbdfuseExit
}

/** The server's nbd://HOST:PORT (from its "listening" log line). */
async function nbdListenerUrl(server: CairnServer): Promise<string> {
  const deadline = Date.now() + 10_000
  while (server.urls.nbd === undefined) {
    if (Date.now() > deadline) throw new Error(`no NBD listener in the server's log:\n${server.stderr()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return server.urls.nbd.replace(/\/$/, '')
}

/** Relative path -> sha256 of every regular file, and every directory, under root (no lost+found). */
async function tree(root: string): Promise<{ files: Record<string, string>; directories: string[] }> {
  const files: Record<string, string> = {}
  const directories: string[] = []
  const walk = async (directory: string): Promise<void> => {
    for (const entry of await readdir(directory, { withFileTypes: true })) {
      const path = join(directory, entry.name)
      const name = relative(root, path)
      if (name === 'lost+found') continue
      if (entry.isDirectory()) {
        directories.push(name)
        await walk(path)
      } else if (entry.isFile()) {
        files[name] = createHash('sha256').update(await readFile(path)).digest('hex')
      } else {
        throw new Error(`unexpected entry type: ${name}`)
      }
    }
  }
  await walk(root)
  directories.sort()
  return { files: Object.fromEntries(Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1))), directories }
}

async function writeInitialFiles(root: string, random: SeededRandom): Promise<void> {
  await writeFile(join(root, 'large1.bin'), random.bytes(3 * MiB))
  await writeFile(join(root, 'large2.bin'), random.bytes(2 * MiB + 12_345))
  await writeFile(join(root, 'large3.bin'), random.bytes(1 * MiB))
  for (let directory = 0; directory < 8; directory += 1) {
    await mkdir(join(root, 'small', `d${directory}`), { recursive: true })
    for (let file = 0; file < 50; file += 1) {
      await writeFile(join(root, 'small', `d${directory}`, `f${file}`), random.bytes(1 + random.int(16 * KiB)))
    }
  }
  await mkdir(join(root, 'empty-dir'))
  await writeFile(join(root, 'empty-file'), '')
}

/** Changes after the snapshot: overwrite, append, delete, rewrite, add, rename. */
async function writeLaterChanges(root: string, random: SeededRandom): Promise<void> {
  const large1 = await open(join(root, 'large1.bin'), 'r+')
  try {
    await large1.write(random.bytes(1 * MiB), 0, 1 * MiB, 1 * MiB + 4096)
  } finally {
    await large1.close()
  }
  await appendFile(join(root, 'large2.bin'), random.bytes(512 * KiB))
  await rm(join(root, 'large3.bin'))
  for (let file = 0; file < 50; file += 1) await rm(join(root, 'small', 'd1', `f${file}`))
  await rm(join(root, 'small', 'd1'), { recursive: true })
  for (let file = 0; file < 50; file += 1) await writeFile(join(root, 'small', 'd2', `f${file}`), random.bytes(1 + random.int(16 * KiB)))
  await mkdir(join(root, 'after'))
  for (let file = 0; file < 100; file += 1) await writeFile(join(root, 'after', `new${file}`), random.bytes(1 + random.int(8 * KiB)))
  await writeFile(join(root, 'large4.bin'), random.bytes(2 * MiB))
  await rename(join(root, 'small', 'd3'), join(root, 'renamed-d3'))
  await writeFile(join(root, 'empty-file'), 'not empty any more\n')
}

t.test('ext4 on a volume: snapshot while writing, restore into a new volume, both states exact', { skip: skipReason(), timeout: 120_000 }, async (t) => {
  const seed = seedFrom(process.env.VOLUME_MOUNT_SEED)
  t.comment(`seed ${seed} (replay with VOLUME_MOUNT_SEED=${seed})`)
  const random = new SeededRandom(seed)
  const server = await startCairn(t, { env })
  const cliEnv = { ...env, CAIRN_ADMIN_URL: server.adminUrl }
  const json = async (...args: string[]) => {
    const result = await runCli([...args, '--json'], { env: cliEnv, timeoutMs: 60_000 })
    if (result.code !== 0) throw new Error(`cairn ${args.join(' ')} exited ${result.code}: ${result.stderr}`)
    return JSON.parse(result.stdout)
  }
  const nbdUrl = await nbdListenerUrl(server)
  // Registered after the server: tap runs teardowns last-in first-out, so all of this is torn
  // down while the server still answers.
  const workDir = mkdtempSync(join(tmpdir(), 'cairn-volume-mount-'))
  const attachments: Attachment[] = []
  t.teardown(async () => {
    try {
      for (const attachment of [...attachments].reverse()) await forceDetach(attachment, (text) => t.comment(text))
      for (const attachment of attachments) {
        if (await mountpoint(attachment.mountDir)) return void t.comment(`still mounted: ${attachment.mountDir}; leaving ${workDir}`)
        if (await mountpoint(attachment.fuseDir)) return void t.comment(`still mounted: ${attachment.fuseDir}; leaving ${workDir}`)
      }
      rmSync(workDir, { recursive: true, force: true })
    } catch (error) {
      t.comment(`teardown: ${String(error)}`) // never throw: tap would skip the server's teardown
    }
  })
  const attachTracked = (name: string, nbdUri: string, readOnly: boolean) => attach(workDir, name, nbdUri, { readOnly, track: attachments })
  const mount = async (attachment: Attachment, options: string[] = []) => {
    await run('mount', [...options, attachment.loop!, attachment.mountDir])
    attachment.mounted = true
  }
  const fsck = async (attachment: Attachment) => {
    const result = await runTool('fsck.ext4', ['-fn', attachment.loop!], { timeoutMs: 60_000 })
    t.equal(result.code, 0, `fsck.ext4 -fn ${attachment.name} is clean`, { output: `${result.stdout}${result.stderr}` })
  }

  const volume = await json('volume', 'create', '--size', '1GiB', '--description', 'volume-mount test')
  const volumeId = volume.volumeId as string
  t.match(volume, { volumeId: /^vol-/, sizeBytes: 2 ** 30, state: 'available' })
  const original = await attachTracked('original', `${nbdUrl}/${volumeId}`, false)
  await run('mkfs.ext4', ['-q', '-F', original.loop!])
  await mount(original)
  const root = original.mountDir

  await writeInitialFiles(root, random)
  await run('sync', ['-f', root])
  const atSnapshot = await tree(root)
  t.equal(Object.keys(atSnapshot.files).length, 8 * 50 + 4, 'files written before the snapshot')

  // Application-consistent: the filesystem is frozen (journal flushed, writes blocked) while the
  // snapshot starts; the later writes race with the snapshot copying its extents.
  await run('fsfreeze', ['-f', root])
  let snapshot: { snapshotId: string; state: string }
  try {
    snapshot = await json('snapshot', 'create', volumeId, '--no-wait', '--description', 'frozen ext4')
  } finally {
    await run('fsfreeze', ['-u', root])
  }
  t.match(snapshot, { snapshotId: /^snap-/, state: /^(pending|completed)$/ })
  t.comment(`snapshot ${snapshot.state} when the later writes started`)
  await writeLaterChanges(root, random)
  await run('sync', ['-f', root])
  const afterSnapshot = await tree(root)
  t.notSame(afterSnapshot.files, atSnapshot.files, 'the later changes differ from the snapshot state')

  const deadline = Date.now() + 60_000
  while (snapshot.state === 'pending' && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200))
    snapshot = await json('snapshot', 'describe', snapshot.snapshotId)
  }
  t.equal(snapshot.state, 'completed', 'the snapshot completed')

  const restoredVolume = await json('volume', 'create', '--snapshot', snapshot.snapshotId)
  t.match(restoredVolume, { volumeId: /^vol-/, sourceSnapshotId: snapshot.snapshotId, sizeBytes: 2 ** 30 })
  const restored = await attachTracked('restored', `${nbdUrl}/${restoredVolume.volumeId}`, true)
  await fsck(restored)
  await mount(restored, ['-o', 'ro'])
  const restoredTree = await tree(restored.mountDir)
  t.same(restoredTree.directories, atSnapshot.directories, 'the restored volume has exactly the directories at snapshot time')
  t.same(restoredTree.files, atSnapshot.files, 'the restored volume has exactly the files and contents at snapshot time')
  await detach(restored)

  // The original: unmount, drop every client-side cache (nbdfuse and loop gone), re-attach.
  await detach(original)
  const reattached = await attachTracked('reattached', `${nbdUrl}/${volumeId}`, false)
  await fsck(reattached)
  await mount(reattached)
  const originalTree = await tree(reattached.mountDir)
  t.same(originalTree.directories, afterSnapshot.directories, 'the original volume has the post-snapshot directories')
  t.same(originalTree.files, afterSnapshot.files, 'the original volume has the post-snapshot files and contents')
  await detach(reattached)

  for (const id of [restoredVolume.volumeId as string, volumeId]) await json('volume', 'delete', id)
  await json('snapshot', 'delete', snapshot.snapshotId)
  t.same(await server.stop(), { code: 0, signal: null }, 'the server stops cleanly')
})
