// Kill -9 test of the chunk store (issue 2, "Durability and faults"): a child process
// (fixtures/chunk-writer.ts) runs 32 concurrent writers against a durable store on LevelDB and
// prints an ack per chunk once its put AND a transaction referencing it committed. The parent
// SIGKILLs it at a seeded random moment, reopens the store on the same data dir, and checks:
// every acknowledged chunk reads back byte-identical (plain and encrypted domain), its refcount
// is at least the number of acks and its record exists, recovery sealed every pack (torn tails
// cut off, an injected torn tail included), scrub finds no corruption, and new writes work.
// Several rounds on the same data dir, so each recovery also recovers the previous ones.
//
// Seed: CAIRN_CRASH_SEED=<n> to replay; printed at the start and on failure.
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { appendFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chunkIdHex, plainDomain, type ChunkId, type KeyDomainId } from '../src/lib/index.ts'
import { ackRecordKey, contentOf, isSealedPackFile, openDiskStore, packIdOfFileName, parseAck, prng, tierPathsOf, type Ack, type DiskStore } from './fixtures/chunk-common.ts'

const writerPath = fileURLToPath(new URL('./fixtures/chunk-writer.ts', import.meta.url))
const seed = Number(process.env.CAIRN_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31))
const writerCount = 32

interface Acknowledged {
  id: ChunkId
  domain: KeyDomainId
  seed: string
  acks: Ack[]
}

interface RoundResult {
  acks: Ack[]
  ready: string
  exit: { code: number | null; signal: NodeJS.Signals | null }
  stderr: string
}

/** Run the writer child, kill it with SIGKILL killAfterMs after it is ready, collect complete ack lines. */
function runWriter(dataDir: string, round: number, killAfterMs: number): Promise<RoundResult> {
  const child = spawn(process.execPath, [writerPath, '--dir', dataDir, '--round', String(round), '--seed', String(seed), '--writers', String(writerCount)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const acks: Ack[] = []
  let ready = ''
  let pending = ''
  let stderr = ''
  let killTimer: NodeJS.Timeout | undefined
  const readyTimer = setTimeout(() => child.kill('SIGKILL'), 30_000) // never ready: fail, do not hang
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text))
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    const lines = (pending + text).split('\n')
    pending = lines.pop() ?? '' // an incomplete last line was cut by the kill: not an ack
    for (const line of lines) {
      if (line.startsWith('ready ')) {
        ready = line.slice('ready '.length)
        clearTimeout(readyTimer)
        killTimer = setTimeout(() => child.kill('SIGKILL'), killAfterMs)
        continue
      }
      const ack = parseAck(line)
      if (ack === undefined) throw new Error(`chunk-writer printed an unexpected line: ${JSON.stringify(line)}`)
      acks.push(ack)
    }
  })
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => {
      clearTimeout(readyTimer)
      clearTimeout(killTimer)
      resolve({ acks, ready, exit: { code, signal }, stderr })
    })
  })
}

/**
 * Append a torn frame (valid magic, then garbage) to the newest pack if it is not sealed: what a
 * crash in the middle of a frame write leaves. Returns the pack id and bytes appended.
 */
async function injectTornTail(dataDir: string, random: () => number): Promise<{ packId: number; bytes: number } | undefined> {
  const hot = tierPathsOf(dataDir).hot
  const packs = (await readdir(hot)).map((name) => ({ name, packId: packIdOfFileName(name) })).filter((pack) => pack.packId !== undefined)
  const newest = packs.sort((a, b) => b.packId! - a.packId!)[0]
  if (newest === undefined || (await isSealedPackFile(join(hot, newest.name)))) return undefined
  const torn = Buffer.alloc(60 + Math.floor(random() * 4000), 0xa5)
  torn.write('CFRM', 0, 'latin1')
  torn[4] = 1
  await appendFile(join(hot, newest.name), torn)
  return { packId: newest.packId!, bytes: torn.length }
}

async function checkAllPacksSealed(t: Test, dataDir: string): Promise<void> {
  for (const directory of Object.values(tierPathsOf(dataDir))) {
    for (const name of await readdir(directory)) {
      if (packIdOfFileName(name) === undefined) continue
      if (!(await isSealedPackFile(join(directory, name)))) t.fail(`pack ${name} is not sealed after recovery`)
    }
  }
}

async function verifyAcknowledged(t: Test, opened: DiskStore, acknowledged: Map<string, Acknowledged>): Promise<void> {
  const { store, meta } = opened
  let bad = 0
  for (const chunk of acknowledged.values()) {
    const expected = contentOf(chunk.seed)
    const read = await store.get(chunk.id).catch((error: unknown) => error)
    if (!(read instanceof Buffer) || !read.equals(expected)) {
      bad += 1
      if (bad <= 5) t.fail(`acknowledged chunk ${chunkIdHex(chunk.id)} (seed ${chunk.seed}, domain ${chunk.domain}) reads back wrong: ${read instanceof Buffer ? `${read.length} bytes differ` : String(read)}`)
    }
  }
  const problems = await meta.read(async (tx) => {
    const found: string[] = []
    for (const chunk of acknowledged.values()) {
      const count = await store.refCount(tx, chunk.id)
      if (count < chunk.acks.length) found.push(`${chunkIdHex(chunk.id)} has ${count} refs, acked ${chunk.acks.length} times`)
      for (const ack of chunk.acks) {
        const record = await tx.get(ackRecordKey(ack.recordKey))
        if (record === undefined || !record.equals(chunk.id)) found.push(`record ${ack.recordKey.join('.')} of ${chunkIdHex(chunk.id)} is ${record === undefined ? 'missing' : 'wrong'}`)
      }
    }
    return found
  })
  t.same(problems.slice(0, 5), [], `refcounts >= acks and records present (${problems.length} problems)`)
  t.equal(bad, 0, `all ${acknowledged.size} acknowledged chunks read back identical`)
}

t.test(`SIGKILL during concurrent writes loses no acknowledged chunk (seed ${seed})`, async (t) => {
  t.comment(`seed ${seed} (replay with CAIRN_CRASH_SEED=${seed})`)
  const random = prng(seed)
  const rounds = 3 + Math.floor(random() * 3)
  const tornRound = Math.floor(random() * rounds)
  const dataDir = await mkdtemp(join(tmpdir(), 'cairn-crash-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const acknowledged = new Map<string, Acknowledged>()
  const remember = (ack: Ack): void => {
    const hex = chunkIdHex(ack.id)
    const known = acknowledged.get(hex)
    if (known === undefined) acknowledged.set(hex, { id: ack.id, domain: ack.domain, seed: ack.seed, acks: [ack] })
    else known.acks.push(ack)
  }
  let totalAcks = 0
  let truncatedTotal = 0
  let tornInjected = false
  for (let round = 0; round < rounds; round++) {
    const killAfterMs = Math.floor(150 + random() * 1800)
    const result = await runWriter(dataDir, round, killAfterMs)
    if (result.exit.signal !== 'SIGKILL' || result.ready === '') {
      t.fail(`round ${round}: the writer exited on its own (${JSON.stringify(result.exit)}), seed ${seed}:\n${result.stderr}`)
      return
    }
    for (const ack of result.acks) remember(ack)
    totalAcks += result.acks.length
    // From the chosen round on, until one round's newest pack is unsealed (it may just have sealed).
    const torn: { packId: number; bytes: number } | undefined = round >= tornRound && !tornInjected ? await injectTornTail(dataDir, random) : undefined
    tornInjected ||= torn !== undefined

    const opened = await openDiskStore(dataDir)
    try {
      const recovery = opened.store.recovery
      const truncated = recovery.packs.reduce((sum, pack) => sum + pack.truncatedBytes, 0)
      truncatedTotal += truncated
      t.comment(
        `round ${round}: killed after ${killAfterMs} ms, ${result.acks.length} acks (${acknowledged.size} distinct chunks so far); ` +
          `child saw ${result.ready}; recovery: ${recovery.packs.length} packs, ${truncated} bytes truncated, ` +
          `${recovery.packs.reduce((sum, pack) => sum + pack.framesIndexed, 0)} unacknowledged frames indexed${torn ? `, injected ${torn.bytes} torn bytes into pack ${torn.packId}` : ''}`,
      )
      t.same(recovery.damaged, [], `round ${round}: no damaged packs (seed ${seed})`)
      if (torn !== undefined) {
        const recovered = recovery.packs.find((pack) => pack.packId === torn.packId)
        t.ok(recovered !== undefined && recovered.truncatedBytes >= torn.bytes && recovered.tornReason !== undefined, `round ${round}: the injected torn tail was cut off`, { recovered, seed })
      }
      await checkAllPacksSealed(t, dataDir)
      await verifyAcknowledged(t, opened, acknowledged)
      const scrub = await opened.store.scrub()
      t.same({ corrupt: scrub.corrupt, missingPacks: scrub.missingPacks }, { corrupt: [], missingPacks: [] }, `round ${round}: scrub is clean (${scrub.checkedChunks} chunks)`)
      t.ok(scrub.checkedChunks >= acknowledged.size, 'scrub checked at least every acknowledged chunk')
      await writeAfterRestart(t, opened, round, remember)
    } finally {
      await opened.close()
    }
    if (t.passing() === false) {
      t.comment(`failing seed ${seed}`)
      return
    }
  }
  t.ok(totalAcks > 0, `the writers acknowledged ${totalAcks} chunks over ${rounds} rounds (${truncatedTotal} torn bytes truncated)`)
  if (!tornInjected) t.comment('no round ended with an unsealed newest pack: no torn tail injected this time')
})

/** The restarted store takes new writes (plain and encrypted), referenced like the child does. */
async function writeAfterRestart(t: Test, opened: DiskStore, round: number, remember: (ack: Ack) => void): Promise<void> {
  for (const [sequence, domain] of [plainDomain, opened.domain].entries()) {
    const chunkSeed = `after.${round}.${sequence}`
    const { id } = await opened.store.put(contentOf(chunkSeed), { domain })
    const ack: Ack = { id, domain, seed: chunkSeed, recordKey: [1000 + round, 0, sequence] }
    await opened.meta.transact(async (tx) => {
      tx.put(ackRecordKey(ack.recordKey), id)
      await opened.store.addRefs(tx, [id])
    })
    t.same(await opened.store.get(id), contentOf(chunkSeed), `round ${round}: a write after restart reads back (domain ${domain})`)
    remember(ack)
  }
}
