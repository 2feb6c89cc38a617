// Seeded model-based test of the volume layer: random writes, reads, trims, zeroes, flushes,
// snapshots (with writes continuing while they are taken), restores, grows and reopens,
// against a sparse Buffer model. Plain and encrypted volumes.
// Replay a failure with CAIRN_VOLUME_SEED=<seed> (printed at the start and on failure).
import t, { type Test } from 'tap'
import { GiB, KiB, MiB, volumeLimits } from '../lib/index.ts'
import type { BlockExport } from './api.ts'
import { volumeTestSetup, type VolumeTestSetup } from './testing.ts'

const extentBytes = volumeLimits.extentBytes
const baseSeed = Number(process.env.CAIRN_VOLUME_SEED ?? Math.floor(Math.random() * 2 ** 31))
const signal = new AbortController().signal

/** mulberry32 */
function prng(state: number): () => number {
  return () => {
    state = (state + 0x6d2b79f5) | 0
    let value = Math.imul(state ^ (state >>> 15), 1 | state)
    value = (value + Math.imul(value ^ (value >>> 7), 61 | value)) ^ value
    return ((value ^ (value >>> 14)) >>> 0) / 2 ** 32
  }
}

/** A sparse volume image: extent index -> bytes (absent: zeroes). */
class Model {
  sizeBytes: number
  extents = new Map<number, Buffer>()
  constructor(sizeBytes: number) {
    this.sizeBytes = sizeBytes
  }
  clone(): Model {
    const copy = new Model(this.sizeBytes)
    for (const [index, bytes] of this.extents) copy.extents.set(index, Buffer.from(bytes))
    return copy
  }
  write(offset: number, data: Buffer): void {
    let done = 0
    while (done < data.length) {
      const at = offset + done
      const index = Math.floor(at / extentBytes)
      const start = at - index * extentBytes
      const length = Math.min(extentBytes - start, data.length - done)
      let extent = this.extents.get(index)
      if (extent === undefined) {
        extent = Buffer.alloc(extentBytes)
        this.extents.set(index, extent)
      }
      data.copy(extent, start, done, done + length)
      done += length
    }
  }
  zero(offset: number, length: number): void {
    this.write(offset, Buffer.alloc(length))
  }
  read(offset: number, length: number): Buffer {
    const out = Buffer.alloc(length)
    let done = 0
    while (done < length) {
      const at = offset + done
      const index = Math.floor(at / extentBytes)
      const start = at - index * extentBytes
      const step = Math.min(extentBytes - start, length - done)
      this.extents.get(index)?.copy(out, done, start, start + step)
      done += step
    }
    return out
  }
  /** Byte ranges worth comparing: every extent ever touched. */
  touched(): number[] {
    return [...this.extents.keys()].sort((a, b) => a - b)
  }
}

interface Active {
  volumeId: string
  exported: BlockExport
  model: Model
}

async function runModel(t: Test, encrypted: boolean, seed: number, operations: number): Promise<void> {
  const random = prng(seed)
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!
  const setup: VolumeTestSetup = await volumeTestSetup()
  t.teardown(() => setup.cleanup())
  const created = await setup.service.createVolume({ sizeBytes: 1 * GiB, encrypted })
  let active: Active = { volumeId: created.volumeId, exported: await setup.service.open(created.volumeId, 'model'), model: new Model(GiB) }
  const snapshots: Array<{ id: string; model: Model }> = []
  const hotBytes = 16 * MiB

  const offsetFor = (length: number): number => {
    const far = random() < 0.1
    const limit = far ? active.model.sizeBytes : Math.min(hotBytes, active.model.sizeBytes)
    const aligned = random() < 0.8
    const raw = Math.floor(random() * Math.max(1, limit - length))
    return aligned ? Math.floor(raw / 4096) * 4096 : raw
  }
  const lengthFor = (): number => {
    const roll = random()
    if (roll < 0.5) return 4 * KiB * (1 + Math.floor(random() * 4))
    if (roll < 0.8) return Math.floor(random() * 64 * KiB) + 1
    return extentBytes * (1 + Math.floor(random() * 3)) + (random() < 0.5 ? 0 : Math.floor(random() * 8192))
  }
  const content = (length: number): Buffer => {
    const out = Buffer.allocUnsafe(length)
    const byte = Math.floor(random() * 256)
    for (let i = 0; i < length; i += 1) out[i] = (byte + i * 13 + (i >> 8)) & 0xff
    return out
  }
  const verify = async (exported: BlockExport, model: Model, what: string): Promise<void> => {
    for (const index of model.touched()) {
      if (index * extentBytes >= exported.sizeBytes) continue
      const got = await exported.read(index * extentBytes, extentBytes, signal)
      if (!got.equals(model.read(index * extentBytes, extentBytes))) t.fail(`${what}: extent ${index} differs (seed ${seed})`)
    }
    // Untouched extents read as zeroes: spot-check a few.
    for (let probe = 0; probe < 4; probe += 1) {
      const index = Math.floor(random() * (model.sizeBytes / extentBytes))
      if (model.extents.has(index) || index * extentBytes >= exported.sizeBytes) continue
      if (!(await exported.read(index * extentBytes, extentBytes, signal)).equals(Buffer.alloc(extentBytes))) t.fail(`${what}: untouched extent ${index} is not zero (seed ${seed})`)
    }
  }

  for (let step = 0; step < operations; step += 1) {
    const roll = random()
    const { exported, model } = active
    if (roll < 0.3) {
      const length = lengthFor()
      const offset = offsetFor(length)
      const data = content(length)
      await exported.write(offset, data, { fua: random() < 0.05, signal })
      model.write(offset, data)
    } else if (roll < 0.52) {
      const length = lengthFor()
      const offset = offsetFor(length)
      const got = await exported.read(offset, length, signal)
      if (!got.equals(model.read(offset, length))) {
        t.fail(`step ${step}: read ${offset}+${length} differs (seed ${seed})`)
        return
      }
    } else if (roll < 0.6) {
      const length = random() < 0.5 ? lengthFor() : extentBytes * (1 + Math.floor(random() * 8))
      const offset = random() < 0.5 ? Math.floor(offsetFor(length) / extentBytes) * extentBytes : offsetFor(length)
      const noHole = random() < 0.3
      if (random() < 0.5) await exported.trim(offset, length, { fua: false, signal })
      else await exported.writeZeroes(offset, length, { fua: false, noHole, fastZero: false, signal })
      model.zero(offset, length)
    } else if (roll < 0.65) {
      await exported.flush(signal)
    } else if (roll < 0.71) {
      // A snapshot: the model as of now; writes continue while it is taken.
      const snapshot = await setup.service.createSnapshot(active.volumeId)
      snapshots.push({ id: snapshot.snapshotId, model: model.clone() })
      for (let burst = 0; burst < 4; burst += 1) {
        const length = lengthFor()
        const offset = offsetFor(length)
        const data = content(length)
        await exported.write(offset, data, { fua: false, signal })
        model.write(offset, data)
      }
      await setup.service.waitForSnapshot(snapshot.snapshotId)
    } else if (roll < 0.75 && snapshots.length > 0) {
      const chosen = pick(snapshots)
      const restored = await setup.service.createVolume({ snapshotId: chosen.id, eagerHydration: random() < 0.3 })
      const view = await setup.service.open(restored.volumeId, 'model')
      await verify(view, chosen.model, `restore of ${chosen.id}`)
      if (random() < 0.5) {
        await exported.release()
        active = { volumeId: restored.volumeId, exported: view, model: chosen.model.clone() }
      } else {
        await view.release()
      }
    } else if (roll < 0.78 && snapshots.length > 0) {
      const chosen = pick(snapshots)
      const view = await setup.service.open(chosen.id, 'model')
      await verify(view, chosen.model, `snapshot export ${chosen.id}`)
      await view.release()
    } else if (roll < 0.8 && model.sizeBytes < 3 * GiB) {
      await setup.service.modifyVolume(active.volumeId, { sizeBytes: model.sizeBytes + GiB })
      model.sizeBytes += GiB
      await exported.release()
      active = { ...active, exported: await setup.service.open(active.volumeId, 'model') }
      t.equal(active.exported.sizeBytes, model.sizeBytes, 'a new connection sees the new size')
    } else if (roll < 0.83) {
      await exported.flush(signal)
      await exported.release()
      await setup.reopen()
      active = { ...active, exported: await setup.service.open(active.volumeId, 'model') }
    } else if (roll < 0.88) {
      const length = lengthFor() * 4
      const offset = offsetFor(length)
      const runs = await exported.blockStatus(offset, length, signal)
      t.equal(runs.reduce((sum, run) => sum + run.lengthBytes, 0), length, 'block status covers the range')
      let at = offset
      for (const run of runs) {
        if (run.zero && !model.read(at, run.lengthBytes).equals(Buffer.alloc(run.lengthBytes))) t.fail(`block status says zero at ${at}+${run.lengthBytes} but data is there (seed ${seed})`)
        at += run.lengthBytes
      }
    } else {
      // Concurrent writes to disjoint extents plus reads.
      const base = Math.floor(offsetFor(8 * extentBytes) / extentBytes)
      const writes = Array.from({ length: 4 }, (_, index) => {
        const offset = (base + index * 2) * extentBytes + Math.floor(random() * extentBytes / 2)
        const data = content(Math.floor(random() * extentBytes / 2) + 1)
        model.write(offset, data)
        return exported.write(offset, data, { fua: false, signal })
      })
      await Promise.all(writes)
    }
  }
  await verify(active.exported, active.model, 'final')
  for (const { id, model } of snapshots) {
    const view = await setup.service.open(id, 'final')
    await verify(view, model, `final snapshot ${id}`)
    await view.release()
  }
  await active.exported.release()
  t.pass(`${operations} operations on ${encrypted ? 'an encrypted' : 'a plain'} volume (seed ${seed})`)
}

t.comment(`seed ${baseSeed}`)
t.test('plain volume vs model', async (t) => runModel(t, false, baseSeed, 600))
t.test('encrypted volume vs model', async (t) => runModel(t, true, baseSeed + 1, 400))
