/**
 * The Runs list's logic apart from React: who may change a run, the progress
 * line and sparkline geometry of the server's per-run summary, and a poller
 * that only works while the panel is shown.
 */

import { ExportState, LIVE_STATES } from './runstates';

/** A run's export (`ft-jupyter export` started from the sidebar or anywhere else). */
export interface IExportSummary {
  state: ExportState;
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

/**
 * What a run's events add up to, summarised once by the server for every
 * poller: progress, ETA, cost, how it ended, and a loss series thinned to a
 * bounded number of points (`[step, loss]`, finite losses only).
 */
export interface IRunTrace {
  step: number | null;
  max_steps: number | null;
  eta_s: number | null;
  cost: number | null;
  /** How the run ended (finished, stopped, failed), once it has. */
  end: string | null;
  loss: [number, number][];
}

/** One run of `GET /ft-jupyter/runs`. */
export interface IRunSummary {
  id: string;
  name?: string | null;
  model?: string | null;
  method?: string | null;
  max_steps?: number | null;
  config_error?: string;
  /** Who started the run, and whether that is the user asking. */
  owner: string;
  mine: boolean;
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
  trace: IRunTrace;
}

/** Whose runs the list shows: the user's own, or the whole class's. */
export type RunScope = 'mine' | 'class';

export interface IRunList {
  root: string;
  browser_root: string | null;
  /** The user the server answers for, and whether they may change anyone's run. */
  user: string;
  instructor: boolean;
  scope: RunScope;
  counts: { mine: number; class: number };
  runs: IRunSummary[];
}

/** Whether this user may stop or export the run: its owner, or an instructor. */
export function mayChange(run: IRunSummary, list: Pick<IRunList, 'instructor'>): boolean {
  return run.mine || list.instructor;
}

/** Whether the sidebar offers Export: the run ended with something saved and no export is under way. */
export function canExport(run: IRunSummary): boolean {
  return !LIVE_STATES.includes(run.state) && run.artifact !== null && run.export?.state !== 'running';
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
export function sparklinePoints(series: [number, number][], width: number, height: number, max = 80): string {
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
  const sy = (y: number) => (y1 > y0 ? pad + (1 - (y - y0) / (y1 - y0)) * (height - 2 * pad) : height / 2);
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
  const parts = [`step ${trace.step}${trace.max_steps ? `/${trace.max_steps}` : ''}`];
  const last = trace.loss[trace.loss.length - 1];
  if (last !== undefined) {
    parts.push(`loss ${last[1].toFixed(3)}`);
  }
  if (trace.eta_s !== null && trace.end === null) {
    parts.push(`ETA ${formatDuration(trace.eta_s)}`);
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
