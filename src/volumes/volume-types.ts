// EBS volume types: the published size, IOPS and throughput ranges per type, validation with
// AWS-like messages (StoreError INVALID_ARGUMENT, subject 'volume'), and the performance model
// the token buckets enforce (throttle.ts). This is the edge for volume specs: everything below
// receives a VolumeSpec that passed validateVolumeSpec.
//
// Model (AWS's, simplified; docs/volumes.md "Volume types" spells it out):
// - gp3: baseline 3,000 IOPS and 125 MiB/s at any size; provision up to 16,000 IOPS (500 per
//   GiB) and 1,000 MiB/s (0.25 MiB/s per IOPS). No bursts.
// - gp2: 3 IOPS per GiB (100..16,000); below 3,000 it bursts to 3,000 IOPS from a bucket of
//   5.4 million I/O credits; 128 MiB/s up to 170 GiB, 250 MiB/s above.
// - io1 / io2: IOPS as provisioned (100..64,000 at most 50 per GiB / 100..256,000 at most 1,000
//   per GiB); throughput 0.25 MiB/s per IOPS up to 1,000 / 4,000 MiB/s. Multi-attach allowed.
// - st1 / sc1 (HDD): throughput per TiB of size, baseline 40 / 12 MiB/s, burst 250 / 80 MiB/s
//   (at most 500 / 250 MiB/s) from a bucket of 1 TiB of credit per TiB; 500 / 250 IOPS of 1 MiB.
// I/O is counted in units of 256 KiB (SSD) or 1 MiB (HDD): a larger request costs several.
import { GiB, KiB, MiB, StoreError, TiB, volumeLimits } from '../lib/index.ts'

export const volumeTypes = ['gp3', 'gp2', 'io1', 'io2', 'st1', 'sc1'] as const
export type VolumeType = (typeof volumeTypes)[number]

interface TypeRule {
  sizeGiBMin: number
  sizeGiBMax: number
  /** Provisioned IOPS: absent when the type derives IOPS from size. */
  iops?: { min: number; max: number; perGiBMax: number; default?: number }
  /** Provisioned throughput (gp3 only). */
  throughput?: { min: number; max: number; perIopsMax: number; default: number }
  multiAttach: boolean
  media: 'ssd' | 'hdd'
}

const rules: Record<VolumeType, TypeRule> = {
  gp3: {
    sizeGiBMin: 1, sizeGiBMax: 16_384, media: 'ssd', multiAttach: false,
    iops: { min: 3000, max: 16_000, perGiBMax: 500, default: 3000 },
    throughput: { min: 125, max: 1000, perIopsMax: 0.25, default: 125 },
  },
  gp2: { sizeGiBMin: 1, sizeGiBMax: 16_384, media: 'ssd', multiAttach: false },
  io1: { sizeGiBMin: 4, sizeGiBMax: 16_384, media: 'ssd', multiAttach: true, iops: { min: 100, max: 64_000, perGiBMax: 50 } },
  io2: { sizeGiBMin: 4, sizeGiBMax: 65_536, media: 'ssd', multiAttach: true, iops: { min: 100, max: 256_000, perGiBMax: 1000 } },
  st1: { sizeGiBMin: 125, sizeGiBMax: 16_384, media: 'hdd', multiAttach: false },
  sc1: { sizeGiBMin: 125, sizeGiBMax: 16_384, media: 'hdd', multiAttach: false },
}

/** What a caller asks for (create or modify); absent fields take the type's defaults. */
export interface VolumeSpecInput {
  sizeBytes: number
  type?: string
  iops?: number
  throughputMiBps?: number
  multiAttach?: boolean
}

/** A validated spec. iops/throughputMiBps are the provisioned values, null where size decides. */
export interface VolumeSpec {
  sizeBytes: number
  type: VolumeType
  iops: number | null
  throughputMiBps: number | null
  multiAttach: boolean
}

function invalid(message: string): StoreError {
  return new StoreError('INVALID_ARGUMENT', message, { subject: 'volume' })
}

export function parseVolumeType(text: string): VolumeType {
  if ((volumeTypes as readonly string[]).includes(text)) return text as VolumeType
  throw invalid(`Value (${text}) for parameter volumeType is invalid. Valid volume types: ${volumeTypes.join(', ')}`)
}

function checkInteger(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value <= 0) throw invalid(`Value (${value}) for parameter ${name} is invalid: expecting a positive integer`)
}

function checkSize(sizeBytes: number, type: VolumeType, rule: TypeRule): number {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) throw invalid(`Value (${sizeBytes}) for parameter size is invalid: expecting a positive number of bytes`)
  if (sizeBytes % volumeLimits.sizeGranularityBytes !== 0) {
    throw invalid(`Volume size must be a whole number of GiB; got ${(sizeBytes / GiB).toFixed(3)} GiB (${sizeBytes} bytes)`)
  }
  const sizeGiB = sizeBytes / GiB
  if (sizeGiB < rule.sizeGiBMin) throw invalid(`Volume of ${sizeGiB}GiB is too small for volume type ${type}; minimum is ${rule.sizeGiBMin}GiB`)
  if (sizeGiB > rule.sizeGiBMax) throw invalid(`Volume of ${sizeGiB}GiB is too large for volume type ${type}; maximum is ${rule.sizeGiBMax}GiB`)
  return sizeGiB
}

function resolveIops(input: VolumeSpecInput, type: VolumeType, rule: TypeRule, sizeGiB: number): number | null {
  if (rule.iops === undefined) {
    if (input.iops !== undefined) throw invalid(`The parameter iops is not supported for ${type} volumes.`)
    return null
  }
  const iops = input.iops ?? rule.iops.default
  if (iops === undefined) throw invalid(`The parameter iops must be specified for ${type} volumes.`)
  checkInteger(iops, 'iops')
  if (iops < rule.iops.min) throw invalid(`Volume iops of ${iops} is too low for volume type ${type}; minimum is ${rule.iops.min}.`)
  if (iops > rule.iops.max) throw invalid(`Volume iops of ${iops} is too high for volume type ${type}; maximum is ${rule.iops.max}.`)
  // gp3's 3,000 baseline is free at any size; only provisioning above it is bound to size.
  const ratio = iops / sizeGiB
  if (iops > (rule.iops.default ?? 0) && ratio > rule.iops.perGiBMax) {
    throw invalid(`Iops to volume size ratio of ${ratio.toFixed(6)} is too high; maximum is ${rule.iops.perGiBMax.toFixed(6)}`)
  }
  return iops
}

function resolveThroughput(input: VolumeSpecInput, type: VolumeType, rule: TypeRule, iops: number | null): number | null {
  if (rule.throughput === undefined) {
    if (input.throughputMiBps !== undefined) throw invalid(`The parameter throughput is not supported for ${type} volumes; only gp3 volumes take it.`)
    return null
  }
  const throughput = input.throughputMiBps ?? rule.throughput.default
  checkInteger(throughput, 'throughput')
  if (throughput < rule.throughput.min) throw invalid(`Volume throughput of ${throughput} MiB/s is too low for volume type ${type}; minimum is ${rule.throughput.min}.`)
  if (throughput > rule.throughput.max) throw invalid(`Volume throughput of ${throughput} MiB/s is too high for volume type ${type}; maximum is ${rule.throughput.max}.`)
  const ratio = throughput / (iops ?? 1)
  if (throughput > rule.throughput.default && ratio > rule.throughput.perIopsMax) {
    throw invalid(`Throughput (MiBps) to iops ratio of ${ratio.toFixed(6)} is too high; maximum is ${rule.throughput.perIopsMax.toFixed(6)} MiBps per iops.`)
  }
  return throughput
}

/** Validate a create or modify request; INVALID_ARGUMENT with an AWS-like message on any violation. */
export function validateVolumeSpec(input: VolumeSpecInput): VolumeSpec {
  const type = parseVolumeType(input.type ?? 'gp3')
  const rule = rules[type]
  const sizeGiB = checkSize(input.sizeBytes, type, rule)
  const iops = resolveIops(input, type, rule, sizeGiB)
  const throughputMiBps = resolveThroughput(input, type, rule, iops)
  const multiAttach = input.multiAttach ?? false
  if (multiAttach && !rule.multiAttach) throw invalid(`Multi-Attach is supported only for io1 and io2 volumes, not ${type}.`)
  return { sizeBytes: input.sizeBytes, type, iops, throughputMiBps, multiAttach }
}

/** Whether the type takes provisioned IOPS / throughput (for modify defaults). */
export function typeTakes(type: VolumeType): { iops: boolean; throughput: boolean; multiAttach: boolean } {
  const rule = rules[type]
  return { iops: rule.iops !== undefined, throughput: rule.throughput !== undefined, multiAttach: rule.multiAttach }
}

/** One token bucket: refills at ratePerSecond up to capacity tokens. */
export interface BucketSpec {
  ratePerSecond: number
  capacity: number
}

export interface VolumePerformance {
  /** Buckets every I/O takes from (one token per I/O unit); all must allow it. */
  ioBuckets: BucketSpec[]
  /** Buckets every I/O takes its bytes from. */
  byteBuckets: BucketSpec[]
  /** An I/O costs ceil(bytes / ioUnitBytes) I/O tokens (at least 1). */
  ioUnitBytes: number
  baselineIops: number
  burstIops: number
  baselineThroughputMiBps: number
  burstThroughputMiBps: number
}

const gp2BurstCredits = 5_400_000
const gp2BurstIops = 3000

/** A bucket that allows only the rate (plus a burst of volumeLimits.throttleBurstSeconds). */
function steady(ratePerSecond: number): BucketSpec {
  return { ratePerSecond, capacity: Math.max(1, ratePerSecond * volumeLimits.throttleBurstSeconds) }
}

function hddPerformance(spec: VolumeSpec, perTiB: { baseline: number; burst: number; max: number; iops: number }): VolumePerformance {
  const sizeTiB = spec.sizeBytes / TiB
  const baseline = Math.min(perTiB.max, perTiB.baseline * sizeTiB)
  const burst = Math.min(perTiB.max, Math.max(baseline, perTiB.burst * sizeTiB))
  return {
    ioBuckets: [steady(perTiB.iops)],
    // Credits accrue at the baseline into a bucket of 1 TiB per TiB; spending is capped at the burst rate.
    byteBuckets: [{ ratePerSecond: baseline * MiB, capacity: sizeTiB * TiB }, steady(burst * MiB)],
    ioUnitBytes: 1 * MiB,
    baselineIops: perTiB.iops,
    burstIops: perTiB.iops,
    baselineThroughputMiBps: baseline,
    burstThroughputMiBps: burst,
  }
}

function ssd(iops: number, throughputMiBps: number, extra?: { burstIops: number; credits: number }): VolumePerformance {
  const ioBuckets = extra === undefined ? [steady(iops)] : [{ ratePerSecond: iops, capacity: extra.credits }, steady(extra.burstIops)]
  return {
    ioBuckets,
    byteBuckets: [steady(throughputMiBps * MiB)],
    ioUnitBytes: 256 * KiB,
    baselineIops: iops,
    burstIops: extra?.burstIops ?? iops,
    baselineThroughputMiBps: throughputMiBps,
    burstThroughputMiBps: throughputMiBps,
  }
}

export function performanceOf(spec: VolumeSpec): VolumePerformance {
  const sizeGiB = spec.sizeBytes / GiB
  switch (spec.type) {
    case 'gp3':
      return ssd(spec.iops ?? 3000, spec.throughputMiBps ?? 125)
    case 'gp2': {
      const baseline = Math.min(16_000, Math.max(100, 3 * sizeGiB))
      const throughput = sizeGiB <= 170 ? 128 : 250
      return baseline < gp2BurstIops ? ssd(baseline, throughput, { burstIops: gp2BurstIops, credits: gp2BurstCredits }) : ssd(baseline, throughput)
    }
    case 'io1':
      return ssd(spec.iops ?? 100, Math.min(1000, (spec.iops ?? 100) / 4))
    case 'io2':
      return ssd(spec.iops ?? 100, Math.min(4000, (spec.iops ?? 100) / 4))
    case 'st1':
      return hddPerformance(spec, { baseline: 40, burst: 250, max: 500, iops: 500 })
    case 'sc1':
      return hddPerformance(spec, { baseline: 12, burst: 80, max: 250, iops: 250 })
  }
}
