// The Linux kernel NFS client in a qemu guest (native-tests/nfs-vm/run-guest.sh): whether it can
// run here, the static lock helper, and one boot that mounts an export on a host port, runs a
// workload script and reports its CHECK lines. Used by native-tests/nfs-kernel*.test.ts.
import type { Test } from 'tap'
import { execFile, spawn } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { repoRoot } from './server.ts'

export const vmDir = join(repoRoot, 'native-tests', 'nfs-vm')

/** Why the guest cannot run here, or undefined when it can. */
export async function vmUnavailable(): Promise<string | undefined> {
  const haveCommands = await promisify(execFile)('sh', ['-c', 'command -v qemu-system-x86_64 && command -v socat && command -v modprobe && test -x /bin/busybox'])
    .then(() => true, () => false)
  const kernels = existsSync('/boot') ? readdirSync('/boot').filter((name) => name.startsWith('vmlinuz-')) : []
  const modules = existsSync('/lib/modules') ? readdirSync('/lib/modules') : []
  if (!haveCommands || kernels.length === 0 || modules.length === 0 || !existsSync('/usr/share/qemu/qboot.rom')) {
    return 'needs qemu-system-x86, linux-image-amd64, busybox-static and socat (see native-tests/nfs-vm)'
  }
  return undefined
}

/**
 * TCG unless NFSVM_ACCEL=kvm: this machine has a /dev/kvm, but qemu's KVM vCPU setup fails on it
 * ("failed to set MSR 0x10a"), so KVM is opt-in where it is known to work.
 */
export function vmAccel(): 'kvm' | 'tcg' {
  return process.env.NFSVM_ACCEL === 'kvm' ? 'kvm' : 'tcg'
}

/** A static helper for fcntl/flock checks, when a C compiler is at hand (else those checks are skipped). */
export async function buildLockHelper(t: Test): Promise<string | undefined> {
  const output = join(t.testdir(), 'lockfile')
  return promisify(execFile)('cc', ['-static', '-O2', '-o', output, join(vmDir, 'lockfile.c')]).then(() => output, () => undefined)
}

export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise((resolve) => server.close(resolve))
  return port
}

export interface GuestRun {
  readonly code: number | null
  readonly output: string
  /** "CHECK <name> ok|FAIL ..." lines. */
  readonly checks: string[]
}

export interface GuestOptions {
  /** Host port of the NFS server. */
  readonly port: number
  readonly version: '4.0' | '4.1'
  /** "/default" */
  readonly exportPath: string
  readonly workload: string
  /** Files copied into the guest as /extra/<name>. */
  readonly extras?: readonly string[]
  readonly timeoutMs: number
  /** Called with everything the guest printed so far, each time it prints more. */
  readonly onOutput?: (output: string) => void
}

/** Boot once: mount, run the workload, unmount, power off. */
export async function runGuest(options: GuestOptions): Promise<GuestRun> {
  const callbackPort = await freePort()
  const timeoutSeconds = Math.ceil(options.timeoutMs / 1000)
  const args = ['-p', String(options.port), '-v', options.version, '-e', options.exportPath, '-w', options.workload, '-c', String(callbackPort), '-t', String(timeoutSeconds), '-a', vmAccel()]
  for (const extra of options.extras ?? []) args.push('-x', extra)
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(join(vmDir, 'run-guest.sh'), args, { env: { ...process.env, NFSVM_CACHE: process.env.NFSVM_CACHE ?? '/tmp/cairn-nfs-vm-cache' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let text = ''
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString()
      options.onOutput?.(text)
    })
    child.stderr.on('data', (chunk: Buffer) => { text += chunk.toString() })
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs + 20_000)
    child.on('close', (exitCode) => {
      clearTimeout(timer)
      resolve({ code: exitCode, output: text })
    })
  })
  const checks = output.replaceAll('\r', '').split('\n').filter((line) => line.startsWith('CHECK '))
  return { code, output, checks }
}
