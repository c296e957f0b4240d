import React, { useEffect, useState } from 'react';

import {
  fitClass,
  forecastLine,
  formatCount,
  formatGiB,
  formatPercent,
  IEstimate,
  ISplit,
  MAX_GPUS,
  memoryRows,
  memoryWhere,
  offloadLine,
  parseGpus,
  shardingLine,
  splitControls,
  STRATEGIES,
  Strategy
} from './preflight';

const STRATEGY_TITLES: Record<Strategy, string> = {
  ddp: 'DDP: every GPU holds everything and averages gradients',
  zero1: 'DeepSpeed ZeRO-1: optimizer states split across GPUs',
  zero2: 'DeepSpeed ZeRO-2: optimizer states and gradients split',
  zero3: 'DeepSpeed ZeRO-3: parameters split too, gathered when used',
  fsdp: 'PyTorch FSDP full shard: parameters, gradients and optimizer split per decoder block'
};

/**
 * How many GPUs the run is split over, and how: pre-flight state sent with each estimate, not part of the
 * RunConfig (the launcher takes it). Shown above the estimate so it stays usable when an estimate fails.
 */
export function SplitControls(props: { split: ISplit; onChange: (split: ISplit) => void }): JSX.Element {
  const { split } = props;
  const [text, setText] = useState(String(split.gpus));
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const parsed = parseGpus(text);
    if (!parsed.ok || parsed.value !== split.gpus) {
      setText(String(split.gpus));
      setError(null);
    }
  }, [split.gpus]);
  const shown = splitControls(split);
  return (
    <div className="jp-ft-Split" data-ft-split={split.gpus > 1 ? split.strategy : 'single'}>
      <label className="jp-ft-Split-item" title={`Processes, one per GPU (1–${MAX_GPUS})`}>
        GPUs
        <input
          className={`jp-ft-Field-input jp-ft-Split-gpus${error ? ' jp-ft-mod-invalid' : ''}`}
          type="number"
          min={1}
          max={MAX_GPUS}
          step={1}
          value={text}
          aria-invalid={error !== null}
          data-ft-split-gpus=""
          onChange={event => {
            setText(event.target.value);
            const parsed = parseGpus(event.target.value);
            setError(parsed.ok ? null : parsed.error);
            if (parsed.ok) {
              props.onChange({ ...split, gpus: parsed.value });
            }
          }}
        />
      </label>
      {shown.strategy && (
        <label className="jp-ft-Split-item">
          split
          <select
            className="jp-ft-Field-select jp-ft-Split-strategy"
            value={split.strategy}
            title={STRATEGY_TITLES[split.strategy]}
            data-ft-split-strategy=""
            onChange={event => props.onChange({ ...split, strategy: event.target.value as Strategy })}
          >
            {STRATEGIES.map(s => (
              <option key={s} value={s} title={STRATEGY_TITLES[s]}>
                {s}
              </option>
            ))}
          </select>
        </label>
      )}
      {shown.offload && (
        <label className="jp-ft-Split-item" title="Keep optimizer states (ZeRO-3: weights too) in CPU RAM">
          <input
            type="checkbox"
            checked={split.offload}
            data-ft-split-offload=""
            onChange={event => props.onChange({ ...split, offload: event.target.checked })}
          />
          CPU offload
        </label>
      )}
      {error && <div className="jp-ft-Field-error">{error}</div>}
    </div>
  );
}

function MemoryDetails(props: { estimate: IEstimate }): JSX.Element {
  const { estimate: e } = props;
  const total = e.memory.total_bytes;
  return (
    /* Folded so the docked pre-flight stays short; the open/closed state survives re-estimates. */
    <details className="jp-ft-Preflight-memory">
      <summary className="jp-ft-Preflight-summary">
        Memory ≈ <strong data-ft-memory={total}>{formatGiB(total)}</strong> {memoryWhere(e)} ({e.memory.precision},
        batch {e.memory.batch_size} × {e.memory.seq_len} tokens)
      </summary>
      <ul className="jp-ft-MemoryBars">
        {memoryRows(e.memory).map(row => (
          <li key={row.label} className="jp-ft-MemoryBars-row" title={row.detail}>
            <span className="jp-ft-MemoryBars-label">{row.label}</span>
            <span className="jp-ft-MemoryBars-track">
              <span className="jp-ft-MemoryBars-bar" style={{ width: `${Math.max(2, row.share * 100)}%` }} />
            </span>
            <span className="jp-ft-MemoryBars-value">{formatGiB(row.bytes)}</span>
          </li>
        ))}
      </ul>
    </details>
  );
}

/** Per-GPU memory against one GPU alone, the CPU RAM offload takes, and the time-and-cost forecast. */
function SplitAndForecast(props: { estimate: IEstimate }): JSX.Element {
  const { estimate: e } = props;
  const sharded = shardingLine(e);
  const cpu = offloadLine(e);
  const forecast = forecastLine(e);
  return (
    <>
      {sharded && e.sharding && (
        <div
          className="jp-ft-Preflight-line jp-ft-Preflight-sharding"
          title={sharded.title}
          data-ft-per-gpu-bytes={e.sharding.per_gpu_total_bytes}
          data-ft-single-gpu-bytes={e.sharding.single_gpu_total_bytes}
          data-ft-gpus={e.sharding.gpus}
          data-ft-strategy={e.sharding.strategy}
        >
          {sharded.text}
        </div>
      )}
      {cpu && e.sharding && (
        <div className="jp-ft-Preflight-line" data-ft-cpu-bytes={e.sharding.cpu_bytes_all_processes}>
          {cpu}
        </div>
      )}
      {forecast && (
        <div
          className={`jp-ft-Preflight-line jp-ft-Preflight-forecast${forecast.error ? ' jp-ft-mod-error' : ''}`}
          title={forecast.title}
          data-ft-forecast={forecast.error ? 'error' : 'ok'}
        >
          {forecast.text}
        </div>
      )}
    </>
  );
}

/** The estimate as a learner reads it: what trains, memory, which GPUs it fits, time and cost, warnings. */
export function Preflight(props: { estimate: IEstimate | null; error: string | null; pending: boolean }): JSX.Element {
  const { estimate: e } = props;
  if (props.error !== null) {
    return (
      <div className="jp-ft-Preflight jp-ft-Sidebar-warning" role="alert" data-ft-preflight="error">
        {props.error}
      </div>
    );
  }
  if (e === null) {
    return <div className="jp-ft-Preflight jp-ft-Sidebar-empty">Estimating…</div>;
  }
  return (
    <div
      className={`jp-ft-Preflight${props.pending ? ' jp-ft-mod-pending' : ''}`}
      data-ft-preflight="ok"
      data-ft-model={e.model}
    >
      <div className="jp-ft-Preflight-trainable" data-ft-trainable={e.params_trainable}>
        <strong>{formatCount(e.params_trainable)}</strong> of {formatCount(e.params_total)} parameters train (
        {formatPercent(e.trainable_percent)})
      </div>
      <MemoryDetails estimate={e} />
      <SplitAndForecast estimate={e} />
      <div className="jp-ft-Chips">
        {e.gpu_fit.map(gpu => (
          <span
            key={gpu.name}
            className={`jp-ft-Chip jp-ft-mod-${fitClass(gpu)}`}
            data-ft-fits={fitClass(gpu)}
            title={`${gpu.memory_gib} GiB usable; ${gpu.fits ? 'headroom' : 'short by'} ${Math.abs(gpu.headroom_gib).toFixed(1)} GiB`}
          >
            {gpu.fits ? '✓' : '✗'} {gpu.name}
          </span>
        ))}
      </div>
      {e.seq_len_note && <div className="jp-ft-Preflight-note">{e.seq_len_note}</div>}
      {e.warnings.length > 0 && (
        <ul className="jp-ft-Preflight-warnings">
          {e.warnings.map(w => (
            <li key={w}>{w}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
