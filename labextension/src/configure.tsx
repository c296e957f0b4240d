import React, { useCallback, useEffect, useRef, useState } from 'react';

import { estimate, fetchCatalogue, fetchSchema, render } from './api';
import { ConfigForm } from './fields';
import { applyEdit, ConfigValues, defaultConfig, FieldValue, fieldsFromSchema, groupFields, ISection } from './form';
import { IEstimate, ISplit, LatestDebouncer, ONE_GPU } from './preflight';
import { Preflight, SplitControls } from './preflightview';

/** What the Configure section asks of JupyterLab (implemented in index.ts). */
export interface IConfigureHost {
  /** Put the cell `makeCode(notebookPath)` returns into the current (or a new) notebook; returns its path. */
  insertIntoNotebook(makeCode: (notebookPath: string) => Promise<string>): Promise<string>;
  copyText(text: string): void;
  newNotebookFromLesson(): Promise<void>;
}

const ESTIMATE_DELAY_MS = 400;

/** What the pre-flight asks about: the config, and how the run is split over GPUs. */
interface IQuestion {
  config: ConfigValues;
  split: ISplit;
}

/** The estimate for a question, or why there is none (a ConfigError's message from the server). */
interface IAnswer {
  asked: IQuestion | null;
  result: IEstimate | null;
  error: string | null;
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
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
 * The estimate of `config` split as `split`, asked for once values settle. Each reply remembers what it answers,
 * so `pending` is known at once when either changes (and a test can wait for it to clear).
 */
function useEstimate(
  config: ConfigValues | null,
  split: ISplit,
  invalid: boolean,
  active: boolean
): { answer: IAnswer | null; pending: boolean } {
  const [answer, setAnswer] = useState<IAnswer | null>(null);
  const debouncer = useRef(
    new LatestDebouncer<IQuestion, IAnswer>(
      async asked => {
        try {
          return { asked, result: await estimate(asked.config, asked.split), error: null };
        } catch (e) {
          return { asked, result: null, error: errorText(e) };
        }
      },
      ESTIMATE_DELAY_MS,
      setAnswer,
      e => setAnswer({ asked: null, result: null, error: errorText(e) })
    )
  );
  useEffect(() => () => debouncer.current.cancel(), []);
  const answered = answer?.asked?.config === config && answer?.asked?.split === split;
  useEffect(() => {
    if (config === null || invalid || !active) {
      debouncer.current.cancel();
    } else if (!answered) {
      debouncer.current.request({ config, split });
    }
  }, [config, split, invalid, active]);
  return { answer, pending: config !== null && !invalid && !answered };
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
  const [split, setSplit] = useState<ISplit>(ONE_GPU);
  const { answer, pending } = useEstimate(config, split, invalid, props.active);
  const [note, setNote] = useState<string | null>(null);

  if (schema.error !== null) {
    return (
      <div className="jp-ft-Sidebar-warning" role="alert">
        {schema.error}
      </div>
    );
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
        <SplitControls split={split} onChange={setSplit} />
        <Preflight
          estimate={answer?.result ?? null}
          error={invalid ? Object.values(fieldErrors)[0] : (answer?.error ?? null)}
          pending={pending}
        />
      </div>
      <Actions
        disabled={invalid}
        onInsert={train => void insert(train)}
        onLesson={() => void lesson()}
        onCopy={() => void copy()}
      />
      {note && (
        <div className="jp-ft-Note" role="status">
          {note}
        </div>
      )}
    </div>
  );
}
