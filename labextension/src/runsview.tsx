import React, { useEffect, useRef, useState } from 'react';

import { fetchRuns, startExport, stopRun } from './api';
import { errorText } from './configure';
import { SidebarModel } from './model';
import {
  canExport,
  DEFAULT_EXPORT,
  IRunList,
  IRunSummary,
  IRunTrace,
  mayChange,
  Poller,
  progressText,
  RunScope,
  sparklinePoints
} from './runs';
import { LIVE_STATES } from './runstates';

const SPARK_WIDTH = 120;
const SPARK_HEIGHT = 28;

/** What the Runs list asks of JupyterLab (implemented in index.ts). */
export interface IRunsHost {
  /** Show a folder (path relative to the server root) in the file browser. */
  openFolder(path: string): Promise<void>;
  /** Open a file (path relative to the server root) in the main area. */
  openFile(path: string): Promise<void>;
}

function Sparkline(props: { trace: IRunTrace | undefined }): JSX.Element {
  const series = props.trace?.loss ?? [];
  return (
    <svg
      className="jp-ft-Sparkline"
      width={SPARK_WIDTH}
      height={SPARK_HEIGHT}
      viewBox={`0 0 ${SPARK_WIDTH} ${SPARK_HEIGHT}`}
      data-ft-points={series.length}
      role="img"
      aria-label={`training loss over ${series.length} steps`}
    >
      <polyline className="jp-ft-Sparkline-line" points={sparklinePoints(series, SPARK_WIDTH, SPARK_HEIGHT)} />
    </svg>
  );
}

function RunRow(props: {
  run: IRunSummary;
  /** Whether this user may stop or export it (its owner, or an instructor). */
  changeable: boolean;
  onStop: (run: IRunSummary) => void;
  onOpen: (path: string) => void;
  onExport: (run: IRunSummary) => void;
  onOpenFile: (path: string) => void;
}): JSX.Element {
  const { run } = props;
  const trace = run.trace;
  const live = LIVE_STATES.includes(run.state);
  const title = [run.model, run.method].filter(Boolean).join(' · ');
  return (
    <li
      className="jp-ft-Run"
      data-ft-run={run.id}
      data-ft-state={run.state}
      data-ft-artifact={run.artifact ?? ''}
      data-ft-owner={run.owner}
    >
      <div className="jp-ft-Run-head">
        <span className={`jp-ft-State jp-ft-mod-${run.state}`}>
          {run.stop_requested && live ? 'stopping' : run.state}
        </span>
        <span className="jp-ft-Run-id" title={run.id}>
          {run.id}
        </span>
        {run.artifact && (
          <span className="jp-ft-Run-artifact" title={`The result is saved in ${run.artifact}/ of the run folder`}>
            {run.artifact}/
          </span>
        )}
      </div>
      {title && <div className="jp-ft-Run-what">{title}</div>}
      {!run.mine && (
        <div className="jp-ft-Run-owner" title="Started by another participant: you can read it, not change it">
          by {run.owner}
        </div>
      )}
      <div className="jp-ft-Run-body">
        <Sparkline trace={trace} />
        <div className="jp-ft-Run-actions">
          {live && props.changeable && (
            <button
              className="jp-ft-Button jp-ft-mod-warn"
              disabled={run.stop_requested}
              title="Write the run's STOP flag: it stops after the current step and saves what it learned"
              onClick={() => props.onStop(run)}
            >
              Stop
            </button>
          )}
          {run.browser_path !== null && (
            <button
              className="jp-ft-Button jp-ft-mod-link"
              title={`Show ${run.browser_path} in the file browser`}
              onClick={() => props.onOpen(run.browser_path ?? '')}
            >
              Folder
            </button>
          )}
          {canExport(run) && props.changeable && (
            <button
              className="jp-ft-Button"
              title="Merge the adapter and check it answers like the adapter, write a q8_0 GGUF and an Ollama Modelfile, and score each smaller copy on the test split (runs in its own process; results in export/)"
              onClick={() => props.onExport(run)}
            >
              Export
            </button>
          )}
          {run.export?.report && (
            <button
              className="jp-ft-Button jp-ft-mod-link"
              title={`Open ${run.export.report}`}
              onClick={() => props.onOpenFile(run.export?.report ?? '')}
            >
              Report
            </button>
          )}
        </div>
      </div>
      <div className="jp-ft-Run-progress">{progressText(trace)}</div>
      {!live && run.message && <div className="jp-ft-Run-message">{run.message}</div>}
      {run.export && (
        <div className={`jp-ft-Run-export jp-ft-mod-${run.export.state}`} data-ft-export={run.export.state}>
          export {run.export.state}
          {run.export.message && `: ${run.export.message}`}
        </div>
      )}
    </li>
  );
}

interface IPolledRuns {
  list: IRunList | null;
  error: string | null;
  setError: (error: string | null) => void;
  /** Look now (after a Stop click or a scope change) rather than at the next tick. */
  pollNow: () => Promise<void>;
}

/**
 * The run list, polled while `model.visible && open`. One request per tick:
 * the server sends each run's progress and thinned loss series with the list.
 */
function usePolledRuns(model: SidebarModel, open: boolean, scope: RunScope): IPolledRuns {
  const [list, setList] = useState<IRunList | null>(null);
  const [error, setError] = useState<string | null>(null);
  const openRef = useRef(open);
  openRef.current = open;
  const scopeRef = useRef(scope);
  scopeRef.current = scope;
  const poller = useRef<Poller | null>(null);

  useEffect(() => {
    const poll = async () => {
      setList(await fetchRuns(scopeRef.current));
      setError(null);
    };
    const current = new Poller(poll, model.settings.pollInterval * 1000, e =>
      setError(`Could not read the runs: ${errorText(e)}`)
    );
    poller.current = current;
    const sync = () => {
      current.setInterval(model.settings.pollInterval * 1000);
      current.setVisible(model.visible && openRef.current);
    };
    sync();
    model.changed.connect(sync);
    return () => {
      model.changed.disconnect(sync);
      current.dispose();
    };
  }, [model]);
  useEffect(() => poller.current?.setVisible(model.visible && open), [open]);
  useEffect(() => void poller.current?.tick(), [scope]);

  return { list, error, setError, pollNow: async () => poller.current?.tick() };
}

function rootText(list: IRunList): string {
  return list.browser_root === null ? list.root : `/${list.browser_root}`;
}

/** Every run under the server's runs root, polled only while the panel and this section are open. */
export function RunsSection(props: { model: SidebarModel; host: IRunsHost; open: boolean }): JSX.Element {
  const [scope, setScope] = useState<RunScope>('mine');
  const { list, error, setError, pollNow } = usePolledRuns(props.model, props.open, scope);
  const stop = async (run: IRunSummary) => {
    try {
      await stopRun(run.id);
    } catch (e) {
      setError(`Could not stop ${run.id}: ${errorText(e)}`);
    }
    await pollNow();
  };
  const exportRun = async (run: IRunSummary) => {
    try {
      await startExport(run.id, DEFAULT_EXPORT);
    } catch (e) {
      setError(`Could not export ${run.id}: ${errorText(e)}`);
    }
    await pollNow();
  };

  return (
    <div className="jp-ft-Runs">
      {list && props.model.settings.showRunsRoot && (
        <div className="jp-ft-Runs-root" title="Set with c.FtJupyter.runs_dir in the server's configuration">
          Runs in <code>{rootText(list)}</code>
        </div>
      )}
      {list && list.counts.class > list.counts.mine && (
        <div className="jp-ft-Runs-scope" role="group" aria-label="Whose runs to show">
          <button
            className={`jp-ft-Button jp-ft-mod-link${scope === 'mine' ? ' jp-ft-mod-active' : ''}`}
            aria-pressed={scope === 'mine'}
            data-ft-scope="mine"
            onClick={() => setScope('mine')}
          >
            Mine ({list.counts.mine})
          </button>
          <button
            className={`jp-ft-Button jp-ft-mod-link${scope === 'class' ? ' jp-ft-mod-active' : ''}`}
            aria-pressed={scope === 'class'}
            data-ft-scope="class"
            title="Every run under the shared runs root: read them all; only yours (or all, for an instructor) can be stopped"
            onClick={() => setScope('class')}
          >
            Class ({list.counts.class})
          </button>
        </div>
      )}
      {error && (
        <div className="jp-ft-Sidebar-warning" role="alert">
          {error}
        </div>
      )}
      {list === null && error === null && <p className="jp-ft-Sidebar-empty">Loading runs…</p>}
      {list !== null && list.runs.length === 0 && (
        <p className="jp-ft-Sidebar-empty">No runs yet: insert a config into a notebook and run it.</p>
      )}
      {list !== null && list.runs.length > 0 && (
        <ul className="jp-ft-RunList">
          {list.runs.map(run => (
            <RunRow
              key={run.id}
              run={run}
              changeable={mayChange(run, list)}
              onStop={r => void stop(r)}
              onOpen={path => void props.host.openFolder(path)}
              onExport={r => void exportRun(r)}
              onOpenFile={path => void props.host.openFile(path)}
            />
          ))}
        </ul>
      )}
    </div>
  );
}
