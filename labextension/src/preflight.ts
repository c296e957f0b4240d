/**
 * Pre-flight logic apart from React: the estimate's numbers as a learner reads
 * them, and the debounce + latest-reply-wins rule that keeps the estimate in
 * step with the form while values change.
 */

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

/** `RunEstimate.to_json()` as `POST /ft-jupyter/estimate` returns it. */
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
