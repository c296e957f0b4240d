import React, { useCallback, useEffect, useRef, useState } from 'react';

import { estimate, fetchCatalogue, fetchSchema, render } from './api';
import { ConfigForm } from './fields';
import {
  applyEdit,
  ConfigValues,
  defaultConfig,
  FieldValue,
  fieldsFromSchema,
  groupFields,
  ISection
} from './form';
import {
  fitClass,
  formatCount,
  formatGiB,
  formatPercent,
  IEstimate,
  LatestDebouncer,
  memoryRows
} from './preflight';

/** What the Configure section asks of JupyterLab (implemented in index.ts). */
export interface IConfigureHost {
  /** Put the cell `makeCode(notebookPath)` returns into the current (or a new) notebook; returns its path. */
  insertIntoNotebook(makeCode: (notebookPath: string) => Promise<string>): Promise<string>;
  copyText(text: string): void;
  newNotebookFromLesson(): Promise<void>;
}

const ESTIMATE_DELAY_MS = 400;

/** The estimate for `config`, or why there is none (a ConfigError's message from the server). */
interface IAnswer {
  config: ConfigValues | null;
  result: IEstimate | null;
  error: string | null;
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function Preflight(props: {
  estimate: IEstimate | null;
  error: string | null;
  pending: boolean;
}): JSX.Element {
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
  const total = e.memory.total_bytes;
  return (
    <div
      className={`jp-ft-Preflight${props.pending ? ' jp-ft-mod-pending' : ''}`}
      data-ft-preflight="ok"
      data-ft-model={e.model}
    >
      <div className="jp-ft-Preflight-trainable" data-ft-trainable={e.params_trainable}>
        <strong>{formatCount(e.params_trainable)}</strong> of {formatCount(e.params_total)} parameters
        train ({formatPercent(e.trainable_percent)})
      </div>
      {/* Folded so the docked pre-flight stays short; the open/closed state survives re-estimates. */}
      <details className="jp-ft-Preflight-memory">
        <summary className="jp-ft-Preflight-summary">
          Memory ≈ <strong data-ft-memory={total}>{formatGiB(total)}</strong> on{' '}
          {e.memory.device === 'cuda' ? 'a GPU' : e.memory.device} ({e.memory.precision},
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

function Actions(props: {
  disabled: boolean;
  onInsert: (train: boolean) => void;
  onLesson: () => void;
  onCopy: () => void;
}): JSX.Element {
  const [train, setTrain] = useState(true);
  return (
    <div className="jp-ft-Actions">
      <button
        className="jp-ft-Button jp-ft-mod-accept"
        disabled={props.disabled}
        title="Add a cell that builds this RunConfig to the active notebook (or a new one)"
        onClick={() => props.onInsert(train)}
      >
        Insert into notebook
      </button>
      <label className="jp-ft-Actions-train">
        <input type="checkbox" checked={train} onChange={event => setTrain(event.target.checked)} />
        with a line that starts training
      </label>
      <button className="jp-ft-Button" onClick={props.onLesson}>
        New notebook from lesson…
      </button>
      <button className="jp-ft-Button" disabled={props.disabled} onClick={props.onCopy}>
        Copy YAML
      </button>
    </div>
  );
}

interface ISchemaState {
  sections: ISection[] | null;
  defaults: ConfigValues | null;
  modelNames: string[];
  error: string | null;
}

/** The form's sections and defaults from `GET schema`, and model names to suggest from `GET catalogue`. */
function useSchema(): ISchemaState {
  const [state, setState] = useState<ISchemaState>({ sections: null, defaults: null, modelNames: [], error: null });
  useEffect(() => {
    Promise.all([fetchSchema(), fetchCatalogue()])
      .then(([schema, catalogue]) => {
        const fields = fieldsFromSchema(schema);
        setState({
          sections: groupFields(fields),
          defaults: defaultConfig(fields),
          modelNames: [...catalogue.offline.map(m => m.name), ...catalogue.shapes.map(s => s.name)],
          error: null
        });
      })
      .catch(e => setState(current => ({ ...current, error: `Could not load the config schema: ${errorText(e)}` })));
  }, []);
  return state;
}

/**
 * The estimate of `config`, asked for once values settle. Each reply remembers the config it answers, so
 * `pending` is known at once when the config changes (and a test can wait for it to clear).
 */
function useEstimate(
  config: ConfigValues | null,
  invalid: boolean,
  active: boolean
): { answer: IAnswer | null; pending: boolean } {
  const [answer, setAnswer] = useState<IAnswer | null>(null);
  const debouncer = useRef(
    new LatestDebouncer<ConfigValues, IAnswer>(
      async asked => {
        try {
          return { config: asked, result: await estimate(asked), error: null };
        } catch (e) {
          return { config: asked, result: null, error: errorText(e) };
        }
      },
      ESTIMATE_DELAY_MS,
      setAnswer,
      e => setAnswer({ config: null, result: null, error: errorText(e) })
    )
  );
  useEffect(() => () => debouncer.current.cancel(), []);
  useEffect(() => {
    if (config === null || invalid || !active) {
      debouncer.current.cancel();
    } else if (answer?.config !== config) {
      debouncer.current.request(config);
    }
  }, [config, invalid, active]);
  return { answer, pending: config !== null && !invalid && answer?.config !== config };
}

/** Errors of fields whose text does not parse, by path; the estimate waits while there are any. */
function useFieldErrors(): [Record<string, string>, (path: string, error: string | null) => void] {
  const [errors, setErrors] = useState<Record<string, string>>({});
  const report = useCallback((path: string, error: string | null) => {
    setErrors(current => {
      const next = { ...current };
      if (error === null) {
        delete next[path];
      } else {
        next[path] = error;
      }
      return next;
    });
  }, []);
  return [errors, report];
}

/**
 * Configure: the form from the schema, the pre-flight estimate and the actions. Estimates are asked for only
 * while `active` (sidebar shown, section open): the first one imports transformers on the server.
 */
export function ConfigureSection(props: { host: IConfigureHost; active: boolean }): JSX.Element {
  const schema = useSchema();
  const [edited, setEdited] = useState<ConfigValues | null>(null);
  const config = edited ?? schema.defaults;
  const [fieldErrors, onError] = useFieldErrors();
  const invalid = Object.keys(fieldErrors).length > 0;
  const { answer, pending } = useEstimate(config, invalid, props.active);
  const [note, setNote] = useState<string | null>(null);

  if (schema.error !== null) {
    return <div className="jp-ft-Sidebar-warning" role="alert">{schema.error}</div>;
  }
  if (schema.sections === null || config === null) {
    return <p className="jp-ft-Sidebar-empty">Loading the config schema…</p>;
  }
  const onChange = (path: string, value: FieldValue) => {
    const edit = applyEdit(config, path, value);
    setEdited(edit.config);
    setNote(edit.note);
  };
  const act = async (what: string, action: () => Promise<string>) => {
    try {
      setNote(await action());
    } catch (e) {
      setNote(`${what} failed: ${errorText(e)}`);
    }
  };
  const insert = (train: boolean) =>
    act('Insert into notebook', async () => {
      const path = await props.host.insertIntoNotebook(
        async notebook => (await render(config, { notebook, train })).code
      );
      return `Inserted into ${path}${train ? ': run the cell to start training.' : '.'}`;
    });
  const copy = () =>
    act('Copy YAML', async () => {
      props.host.copyText((await render(config)).yaml);
      return 'YAML copied to the clipboard.';
    });
  const lesson = () =>
    act('New notebook from lesson', async () => {
      await props.host.newNotebookFromLesson();
      return '';
    });

  return (
    <div className="jp-ft-Configure">
      <ConfigForm
        sections={schema.sections}
        config={config}
        modelNames={schema.modelNames}
        onChange={onChange}
        onError={onError}
      />
      {/* Sticky: while scrolling through the form, the estimate stays in view and follows every change. */}
      <div className="jp-ft-Preflight-dock">
        <h4 className="jp-ft-Sidebar-subsection">Pre-flight</h4>
        <Preflight
          estimate={answer?.result ?? null}
          error={invalid ? Object.values(fieldErrors)[0] : answer?.error ?? null}
          pending={pending}
        />
      </div>
      <Actions
        disabled={invalid}
        onInsert={train => void insert(train)}
        onLesson={() => void lesson()}
        onCopy={() => void copy()}
      />
      {note && <div className="jp-ft-Note" role="status">{note}</div>}
    </div>
  );
}
