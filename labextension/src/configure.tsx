import React, { useCallback, useEffect, useRef, useState } from 'react';

import { estimate, fetchSchema, render } from './api';
import { ConfigForm } from './fields';
import { ConfigValues, defaultConfig, fieldsFromSchema, groupFields, ISection } from './form';
import {
  applyEdit,
  applyOption,
  chooseMethod,
  IEdit,
  ISemantics,
  optionsInForce,
  semanticsFromSchema,
  startFrom
} from './semantics';
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
  semantics: ISemantics | null;
  defaults: ConfigValues | null;
  error: string | null;
}

/** The form's sections, defaults and semantics (couplings, menus, presets, model suggestions) from `GET schema`. */
function useSchema(): ISchemaState {
  const [state, setState] = useState<ISchemaState>({ sections: null, semantics: null, defaults: null, error: null });
  useEffect(() => {
    fetchSchema()
      .then(schema => {
        const fields = fieldsFromSchema(schema);
        setState({
          sections: groupFields(fields, schema['x-ft-sections'] ?? []),
          semantics: semanticsFromSchema(schema),
          defaults: defaultConfig(fields),
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
 * The form with the config package's rules applied to every edit (couplings, the method menu, options, presets);
 * `onEdit` gets each edit with what it changed besides the field edited.
 */
function ConfigEditor(props: {
  sections: ISection[];
  semantics: ISemantics;
  config: ConfigValues;
  onEdit: (edit: IEdit) => void;
  onError: (path: string, error: string | null) => void;
}): JSX.Element {
  const { semantics, config, onEdit } = props;
  // Options switched on: at first, and after a preset, those the config already follows (alpha = 2 × r); then only
  // the person's ticks change them, so typing alpha = 2 × r by hand never locks the field.
  const [options, setOptions] = useState<string[]>(() => optionsInForce(semantics, config));
  const onOption = (name: string, on: boolean) => {
    setOptions(on ? [...options, name] : options.filter(o => o !== name));
    onEdit(on ? applyOption(semantics, config, name) : { config, changes: [], note: null });
  };
  const onStartFrom = (name: string) => {
    const edit = startFrom(semantics, config, name);
    setOptions(optionsInForce(semantics, edit.config));
    onEdit(edit);
  };
  return (
    <ConfigForm
      sections={props.sections}
      semantics={semantics}
      config={config}
      options={options}
      onChange={(path, value) => onEdit(applyEdit(semantics, config, path, value, options))}
      onError={props.onError}
      onChooseMethod={key => onEdit(chooseMethod(semantics, config, key, options))}
      onOption={onOption}
      onStartFrom={onStartFrom}
    />
  );
}

/** The actions on the current config; each says how it went in the note. */
function useActions(host: IConfigureHost, config: ConfigValues | null, setNote: (note: string) => void) {
  const act = async (what: string, action: (config: ConfigValues) => Promise<string>) => {
    if (config === null) {
      setNote(`${what}: the config schema has not loaded yet.`);
      return;
    }
    try {
      setNote(await action(config));
    } catch (e) {
      setNote(`${what} failed: ${errorText(e)}`);
    }
  };
  return {
    insert: (train: boolean) =>
      act('Insert into notebook', async current => {
        const path = await host.insertIntoNotebook(async notebook => (await render(current, { notebook, train })).code);
        return `Inserted into ${path}${train ? ': run the cell to start training.' : '.'}`;
      }),
    copy: () =>
      act('Copy YAML', async current => {
        host.copyText((await render(current)).yaml);
        return 'YAML copied to the clipboard.';
      }),
    lesson: () =>
      act('New notebook from lesson', async () => {
        await host.newNotebookFromLesson();
        return '';
      })
  };
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
  const actions = useActions(props.host, config, setNote);

  if (schema.error !== null) {
    return (
      <div className="jp-ft-Sidebar-warning" role="alert">
        {schema.error}
      </div>
    );
  }
  if (schema.sections === null || schema.semantics === null || config === null) {
    return <p className="jp-ft-Sidebar-empty">Loading the config schema…</p>;
  }
  const show = (edit: IEdit) => {
    setEdited(edit.config);
    setNote(edit.note);
  };

  return (
    <div className="jp-ft-Configure">
      <ConfigEditor
        sections={schema.sections}
        semantics={schema.semantics}
        config={config}
        onEdit={show}
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
        onInsert={train => void actions.insert(train)}
        onLesson={() => void actions.lesson()}
        onCopy={() => void actions.copy()}
      />
      {note && (
        <div className="jp-ft-Note" role="status">
          {note}
        </div>
      )}
    </div>
  );
}
