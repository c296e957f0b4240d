/**
 * The Runs list's logic apart from React: what each run's events add up to
 * (loss series, progress, ETA, cost), the sparkline geometry, and a poller that
 * only works while the panel is shown.
 */

/** A run's export (`ft-jupyter export` started from the sidebar or anywhere else). */
export interface IExportSummary {
  state: 'running' | 'finished' | 'failed';
  message: string;
  /** REPORT.md as the file browser names it, once written. */
  report: string | null;
}

/** What the sidebar's Export asks for: merge + verify, a q8_0 GGUF with its Modelfile, every copy re-measured. */
export const DEFAULT_EXPORT = {
  gguf: ['q8_0'],
  ollama: true,
  quantized: ['merged', '8bit', '4bit', 'q8_0']
};

/** One run of `GET /ft-jupyter/runs`. */
export interface IRunSummary {
  id: string;
  name?: string | null;
  model?: string | null;
  method?: string | null;
  max_steps?: number | null;
  config_error?: string;
  state: string;
  message: string;
  updated: number | null;
  stale: boolean;
  stop_requested: boolean;
  /** The result folder inside the run folder (adapter or model), once saved. */
  artifact: string | null;
  /** The run folder as the file browser names it, or null outside the server root. */
  browser_path: string | null;
  /** The run's export, null before the first one. */
  export?: IExportSummary | null;
}

/** Whether the sidebar offers Export: the run ended with something saved and no export is under way. */
export function canExport(run: IRunSummary): boolean {
  return !LIVE_STATES.includes(run.state) && run.artifact !== null && run.export?.state !== 'running';
}

export interface IRunList {
  root: string;
  browser_root: string | null;
  runs: IRunSummary[];
}

/** An event line of events.jsonl; only the fields the list reads are typed. */
export interface IRunEvent {
  type: string;
  step?: number;
  max_steps?: number;
  loss?: number | null;
  eval_loss?: number | null;
  eta_s?: number | null;
  cost_so_far?: number;
  cost?: number;
  elapsed_s?: number;
  message?: string;
  reason?: string;
}

export interface IEventPage {
  events: IRunEvent[];
  next: number;
  state: string;
}

/** What a run's events so far add up to. */
export interface IRunTrace {
  /** Byte offset to ask for next (`since`). */
  offset: number;
  /** [step, loss] of every step that logged a finite loss. */
  loss: [number, number][];
  step: number | null;
  maxSteps: number | null;
  etaS: number | null;
  cost: number | null;
  /** The last event's type once the run has ended (finished, stopped, failed). */
  end: string | null;
  /** State the server reported with the last page read. */
  state: string | null;
}

export const LIVE_STATES = ['queued', 'running'];
const END_TYPES = ['finished', 'stopped', 'failed'];

export function emptyTrace(): IRunTrace {
  return {
    offset: 0,
    loss: [],
    step: null,
    maxSteps: null,
    etaS: null,
    cost: null,
    end: null,
    state: null
  };
}

/** The trace after one page of events (a new object; `trace` is unchanged). */
export function applyPage(trace: IRunTrace, page: IEventPage): IRunTrace {
  const next: IRunTrace = {
    ...trace,
    loss: [...trace.loss],
    offset: page.next,
    state: page.state
  };
  for (const event of page.events) {
    if (event.type === 'run_started') {
      next.maxSteps = event.max_steps ?? next.maxSteps;
    } else if (event.type === 'step') {
      next.step = event.step ?? next.step;
      next.maxSteps = event.max_steps ?? next.maxSteps;
      next.etaS = event.eta_s ?? null;
      next.cost = event.cost_so_far ?? next.cost;
      if (typeof event.loss === 'number' && Number.isFinite(event.loss) && event.step !== undefined) {
        next.loss.push([event.step, event.loss]);
      }
    } else if (END_TYPES.includes(event.type)) {
      next.end = event.type;
      next.etaS = null;
      next.cost = event.cost ?? next.cost;
      next.step = event.step ?? next.step;
    }
  }
  return next;
}

/**
 * Whether to ask for this run's events now: always while it is live, once
 * more after it ends (to read its last events), never again after that.
 */
export function needsEvents(summary: IRunSummary, trace: IRunTrace | undefined): boolean {
  if (trace === undefined) {
    return true;
  }
  if (LIVE_STATES.includes(summary.state)) {
    return true;
  }
  return trace.state !== summary.state;
}

/** At most `max` points, evenly spread, always keeping the first and the last. */
export function downsample<T>(points: T[], max: number): T[] {
  if (points.length <= max || max < 2) {
    return points;
  }
  const out: T[] = [];
  const stride = (points.length - 1) / (max - 1);
  for (let i = 0; i < max; i++) {
    out.push(points[Math.round(i * stride)]);
  }
  return out;
}

/** SVG polyline `points` for the series in a width×height box (y grows downward). */
export function sparklinePoints(
  series: [number, number][],
  width: number,
  height: number,
  max = 80
): string {
  const points = downsample(series, max);
  if (points.length === 0) {
    return '';
  }
  const xs = points.map(p => p[0]);
  const ys = points.map(p => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const pad = 1;
  const sx = (x: number) => (x1 > x0 ? ((x - x0) / (x1 - x0)) * (width - 2 * pad) + pad : width / 2);
  const sy = (y: number) =>
    y1 > y0 ? pad + (1 - (y - y0) / (y1 - y0)) * (height - 2 * pad) : height / 2;
  return points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
}

/** 42 → "42 s", 185 → "3 min 05 s", 7260 → "2 h 01 min". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) {
    return `${s} s`;
  }
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 3600) {
    return `${Math.floor(s / 60)} min ${pad(s % 60)} s`;
  }
  return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min`;
}

/** Cost in the unit of training.price_per_hour; small sums keep their digits. */
export function formatCost(cost: number): string {
  return cost >= 1 ? cost.toFixed(2) : cost.toPrecision(2);
}

/** The run's progress line: "step 12/50 · loss 1.23 · ETA 1 min 05 s · cost 0.012". */
export function progressText(trace: IRunTrace | undefined): string {
  if (trace === undefined || trace.step === null) {
    return '';
  }
  const parts = [`step ${trace.step}${trace.maxSteps ? `/${trace.maxSteps}` : ''}`];
  const last = trace.loss[trace.loss.length - 1];
  if (last !== undefined) {
    parts.push(`loss ${last[1].toFixed(3)}`);
  }
  if (trace.etaS !== null && trace.end === null) {
    parts.push(`ETA ${formatDuration(trace.etaS)}`);
  }
  if (trace.cost !== null && trace.cost > 0) {
    parts.push(`cost ${formatCost(trace.cost)}`);
  }
  return parts.join(' · ');
}

/**
 * Runs `task` every `intervalMs` while visible, never two at once; hidden,
 * it stops asking the server anything until shown again (then runs at once).
 */
export class Poller {
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _visible = false;
  private _running = false;
  private _disposed = false;

  constructor(
    private readonly _task: () => Promise<void>,
    private _intervalMs: number,
    private readonly _onError: (error: unknown) => void
  ) {}

  get visible(): boolean {
    return this._visible;
  }

  setVisible(visible: boolean): void {
    if (visible === this._visible || this._disposed) {
      return;
    }
    this._visible = visible;
    if (visible) {
      void this.tick();
    } else {
      this._clear();
    }
  }

  setInterval(intervalMs: number): void {
    this._intervalMs = intervalMs;
    if (this._visible && !this._running) {
      this._schedule();
    }
  }

  /** Run the task now (e.g. after a Stop click), then keep the rhythm. */
  async tick(): Promise<void> {
    if (this._running || this._disposed) {
      return;
    }
    this._clear();
    this._running = true;
    try {
      await this._task();
    } catch (error) {
      this._onError(error);
    } finally {
      this._running = false;
      if (this._visible) {
        this._schedule();
      }
    }
  }

  dispose(): void {
    this._disposed = true;
    this._visible = false;
    this._clear();
  }

  private _schedule(): void {
    this._clear();
    if (!this._disposed) {
      this._timer = setTimeout(() => void this.tick(), this._intervalMs);
    }
  }

  private _clear(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }
}
