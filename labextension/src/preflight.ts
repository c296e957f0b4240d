/**
 * Pre-flight logic apart from React: the estimate's numbers as a learner reads
 * them, how a run is split over GPUs (pre-flight state, not part of the
 * RunConfig), and the debounce + latest-reply-wins rule that keeps the
 * estimate in step with the form while values change.
 */

import { ConfigValues } from './form';

/** One GPU of `RunEstimate.gpu_fit`. */
export interface IGpuFit {
  name: string;
  memory_gib: number;
  fits: boolean;
  headroom_gib: number;
  /** Fits, but with so little headroom that a long batch may still run out. */
  tight?: boolean;
}

/** One term of the memory breakdown, with the arithmetic behind it. */
export interface IMemoryTerm {
  name: string;
  bytes: number;
  formula: string;
  note: string;
}

/** `MemoryBreakdown.to_json()`. */
export interface IMemory {
  device: string;
  precision: string;
  batch_size: number;
  seq_len: number;
  terms: IMemoryTerm[];
  total_bytes: number;
}

/** What each GPU sends per optimizer step (`Communication.to_json()`). */
export interface ICommunication {
  bytes_per_step: number;
  formula: string;
  sentence: string;
}

/** `ShardedMemory.to_json()`: present when the estimate is for more than one GPU. */
export interface ISharding {
  strategy: Strategy;
  /** "ZeRO-3 + CPU offload" and the like. */
  label: string;
  gpus: number;
  offload: boolean;
  per_gpu_total_bytes: number;
  single_gpu_total_bytes: number;
  cpu_bytes_all_processes: number;
  communication: ICommunication | null;
  notes: string[];
}

/** `Forecast.to_json()`: time and cost on the smallest listed GPU the run fits. */
export interface IForecast {
  headline: string;
  gpu: string;
  gpus: number;
  wall_s: number;
  gpu_hours: number;
  cost: number | null;
  /** How the token count was reached. */
  tokens_text: string;
  how: string[];
  notes: string[];
}

/**
 * `RunEstimate.to_json()` as `POST /ft-jupyter/estimate` returns it; with
 * more than one GPU, `memory` and `gpu_fit` are per GPU.
 */
export interface IEstimate {
  model: string;
  license: string | null;
  params_total: number;
  params_trainable: number;
  trainable_percent: number;
  memory: IMemory;
  gpu_fit: IGpuFit[];
  warnings: string[];
  seq_len_note: string;
  sharding?: ISharding | null;
  forecast?: IForecast | null;
  /** Why there is no forecast (the data file is not on this machine, say). */
  forecast_error?: string | null;
}

export interface IMemoryRow {
  label: string;
  bytes: number;
  /** Share of the total, 0..1, for the bar. */
  share: number;
  /** How the number was reached, shown on hover. */
  detail: string;
}

const GIB = 1024 ** 3;

/** 134515008 → "134.5 M", 1235814400 → "1.24 B". */
export function formatCount(n: number): string {
  const units: [number, string][] = [
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'k']
  ];
  for (const [size, unit] of units) {
    if (Math.abs(n) >= size) {
      const value = n / size;
      return `${value.toFixed(value >= 100 ? 1 : 2)} ${unit}`;
    }
  }
  return String(n);
}

/** Bytes as GiB, with enough digits that small adapters do not read as 0. */
export function formatGiB(bytes: number): string {
  const gib = bytes / GIB;
  if (gib >= 10) {
    return `${gib.toFixed(1)} GiB`;
  }
  if (gib >= 0.1) {
    return `${gib.toFixed(2)} GiB`;
  }
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

/** The trainable share, never shown as 0.00% when something trains. */
export function formatPercent(percent: number): string {
  if (percent > 0 && percent < 0.01) {
    return '< 0.01%';
  }
  return `${percent.toFixed(percent < 1 ? 2 : 1)}%`;
}

/** Memory terms, largest first, with their share of the total; empty terms left out. */
export function memoryRows(memory: IMemory): IMemoryRow[] {
  const total = memory.total_bytes;
  return memory.terms
    .filter(term => term.bytes > 0)
    .map(term => ({
      label: term.name,
      bytes: term.bytes,
      share: total > 0 ? Math.min(1, term.bytes / total) : 0,
      detail: [term.formula, term.note].filter(Boolean).join(' — ')
    }))
    .sort((a, b) => b.bytes - a.bytes);
}

/** A GPU chip's look: fits, fits with little headroom, or does not fit. */
export function fitClass(gpu: IGpuFit): 'fits' | 'tight' | 'nofit' {
  if (!gpu.fits) {
    return 'nofit';
  }
  return gpu.tight ? 'tight' : 'fits';
}

// ---- Splitting a run over GPUs -------------------------------------------------------------------------------

export const STRATEGIES = ['ddp', 'zero1', 'zero2', 'zero3', 'fsdp'] as const;
export type Strategy = (typeof STRATEGIES)[number];
export const MAX_GPUS = 64;

/** How the pre-flight asks the run to be split; sent next to the config. */
export interface ISplit {
  gpus: number;
  strategy: Strategy;
  offload: boolean;
}

export const ONE_GPU: ISplit = { gpus: 1, strategy: 'ddp', offload: false };

/** The split fields of an estimate request body: none for one GPU, offload only where ZeRO can launch it. */
export function splitRequest(split: ISplit): Partial<ISplit> {
  if (split.gpus <= 1) {
    return {};
  }
  return { gpus: split.gpus, strategy: split.strategy, offload: split.offload && offloadApplies(split) };
}

/** The JSON body of `POST /ft-jupyter/estimate`. */
export function estimateBody(config: ConfigValues, split: ISplit): { config: ConfigValues } & Partial<ISplit> {
  return { config, ...splitRequest(split) };
}

/** ZeRO stages can move state to CPU RAM (what the launcher supports); DDP and FSDP here cannot. */
function offloadApplies(split: ISplit): boolean {
  return split.strategy.startsWith('zero');
}

/** Which split controls to show: the strategy only for several GPUs, offload only for ZeRO then. */
export function splitControls(split: ISplit): { strategy: boolean; offload: boolean } {
  const several = split.gpus > 1;
  return { strategy: several, offload: several && offloadApplies(split) };
}

/** The GPU count typed in the box, or why it is not one. */
export function parseGpus(text: string): { ok: true; value: number } | { ok: false; error: string } {
  const trimmed = text.trim();
  const value = Number(trimmed);
  if (!/^\d+$/.test(trimmed) || value < 1 || value > MAX_GPUS) {
    return { ok: false, error: `GPUs: give a whole number from 1 to ${MAX_GPUS}, not "${text}".` };
  }
  return { ok: true, value };
}

/** Where the memory total applies: "per GPU" when split, else the device. */
export function memoryWhere(e: IEstimate): string {
  if (e.sharding) {
    return 'per GPU';
  }
  return e.memory.device === 'cuda' ? 'on a GPU' : `on ${e.memory.device}`;
}

export interface ILine {
  text: string;
  /** The arithmetic or the reasoning, shown on hover. */
  title: string;
}

/** "4 GPUs × ZeRO-3: 1.58 GiB per GPU (one GPU alone 0.66 GiB)", titled with what the GPUs send each other. */
export function shardingLine(e: IEstimate): ILine | null {
  const s = e.sharding;
  if (!s) {
    return null;
  }
  const comm = s.communication;
  const title = comm
    ? [comm.sentence, `${formatGiB(comm.bytes_per_step)} sent per GPU per optimizer step = ${comm.formula}`]
    : [];
  return {
    text:
      `${s.gpus} GPUs × ${s.label}: ${formatGiB(s.per_gpu_total_bytes)} per GPU ` +
      `(one GPU alone ${formatGiB(s.single_gpu_total_bytes)})`,
    title: [...title, ...s.notes].join('\n')
  };
}

/** CPU RAM the offloaded state takes on one machine, or null when nothing is offloaded. */
export function offloadLine(e: IEstimate): string | null {
  const s = e.sharding;
  if (!s || s.cpu_bytes_all_processes <= 0) {
    return null;
  }
  return `CPU RAM for offloaded state: ${formatGiB(s.cpu_bytes_all_processes)} for all ${s.gpus} processes`;
}

/** "Time and cost: ≈ 1.9 s on 4 × T4 …", or why there is no forecast; null from a server without forecasts. */
export function forecastLine(e: IEstimate): (ILine & { error: boolean }) | null {
  if (e.forecast) {
    const f = e.forecast;
    return {
      text: `Time and cost: ${f.headline}`,
      title: [f.tokens_text, ...f.how, ...f.notes].join('\n'),
      error: false
    };
  }
  if (e.forecast_error) {
    return { text: `Time and cost: ${e.forecast_error}`, title: '', error: true };
  }
  return null;
}

/**
 * Calls `run` once values stop changing for `delayMs`, and hands on only the
 * reply to the newest call: an older, slower reply never overwrites a newer one.
 */
export class LatestDebouncer<A, R> {
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _sequence = 0;

  constructor(
    private readonly _run: (args: A) => Promise<R>,
    private readonly _delayMs: number,
    private readonly _onResult: (result: R) => void,
    private readonly _onError: (error: unknown) => void
  ) {}

  /** Schedule a call with `args`, replacing any call still waiting. */
  request(args: A): void {
    this.cancel();
    const sequence = ++this._sequence;
    this._timer = setTimeout(() => {
      this._timer = null;
      this._run(args).then(
        result => {
          if (sequence === this._sequence) {
            this._onResult(result);
          }
        },
        error => {
          if (sequence === this._sequence) {
            this._onError(error);
          }
        }
      );
    }, this._delayMs);
  }

  /** Drop the waiting call and any reply still on its way. */
  cancel(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
    this._sequence++;
  }
}
