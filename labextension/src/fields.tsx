import React, { useEffect, useState } from 'react';

import { ConfigValues, FieldValue, formatValue, getValue, IField, ISection, parseInput } from './form';
import { ISemantics, methodKey, methodMenuField, optionSetting, relevance } from './semantics';

export interface IFieldProps {
  field: IField;
  value: FieldValue;
  /** Why this field does nothing with the current config (or what sets it), or null. */
  unused: string | null;
  onChange: (path: string, value: FieldValue) => void;
  onError: (path: string, error: string | null) => void;
}

/** A text box that keeps what is typed, even when it does not parse yet; with suggestions, a wide combobox. */
function TextInput(props: IFieldProps): JSX.Element {
  const { field, value } = props;
  const [text, setText] = useState(formatValue(value));
  const [error, setError] = useState<string | null>(null);

  // A change from elsewhere (a linked edit, a reset) replaces the text, unless the text already means it.
  useEffect(() => {
    const parsed = parseInput(field, text);
    if (!parsed.ok || JSON.stringify(parsed.value) !== JSON.stringify(value)) {
      setText(formatValue(value));
      setError(null);
      props.onError(field.path, null);
    }
  }, [JSON.stringify(value)]);

  const suggests = field.suggestions.length > 0;
  const listId = suggests ? `jp-ft-suggest-${field.path.replace('.', '-')}` : undefined;
  const classes = ['jp-ft-Field-input', suggests ? 'jp-ft-mod-wide' : '', error ? 'jp-ft-mod-invalid' : ''];
  return (
    <>
      <input
        className={classes.filter(c => c !== '').join(' ')}
        type="text"
        spellCheck={false}
        value={text}
        list={listId}
        inputMode={field.kind === 'integer' || field.kind === 'number' ? 'decimal' : 'text'}
        disabled={props.unused !== null}
        aria-invalid={error !== null}
        onChange={event => {
          const next = event.target.value;
          setText(next);
          const parsed = parseInput(field, next);
          setError(parsed.ok ? null : parsed.error);
          props.onError(field.path, parsed.ok ? null : parsed.error);
          if (parsed.ok) {
            props.onChange(field.path, parsed.value);
          }
        }}
      />
      {listId && (
        <datalist id={listId}>
          {field.suggestions.map(s => (
            <option key={s.value} value={s.value} label={s.label} />
          ))}
        </datalist>
      )}
      {error && <div className="jp-ft-Field-error">{error}</div>}
    </>
  );
}

function Control(props: IFieldProps): JSX.Element {
  const { field, value } = props;
  if (field.kind === 'boolean') {
    return (
      <input
        className="jp-ft-Field-check"
        type="checkbox"
        checked={value === true}
        disabled={props.unused !== null}
        onChange={event => props.onChange(field.path, event.target.checked)}
      />
    );
  }
  if (field.kind === 'choice') {
    return (
      <select
        className="jp-ft-Field-select"
        value={String(value)}
        disabled={props.unused !== null}
        onChange={event => props.onChange(field.path, event.target.value)}
      >
        {field.choices.map(choice => (
          <option key={choice} value={choice}>
            {choice}
          </option>
        ))}
      </select>
    );
  }
  return <TextInput {...props} />;
}

/** One setting: its name, its control (or `control`, when the form supplies its own), and its help text. */
export function FieldRow(props: IFieldProps & { control?: JSX.Element; extra?: JSX.Element | null }): JSX.Element {
  const { field } = props;
  const inline = field.kind === 'boolean';
  const control = props.control ?? <Control {...props} />;
  return (
    <div className={`jp-ft-Field${props.unused ? ' jp-ft-mod-unused' : ''}`} data-ft-path={field.path}>
      <label className={inline ? 'jp-ft-Field-label jp-ft-mod-inline' : 'jp-ft-Field-label'}>
        {inline && control}
        <code className="jp-ft-Field-name">{field.name}</code>
        {!inline && control}
      </label>
      {props.extra}
      <div className="jp-ft-Field-help">
        {field.help}
        {props.unused && <em className="jp-ft-Field-unused"> ({props.unused})</em>}
      </div>
    </div>
  );
}

export interface IFormProps {
  sections: ISection[];
  semantics: ISemantics;
  config: ConfigValues;
  /** Options (rules such as alpha = 2 × r) switched on. */
  options: string[];
  onChange: (path: string, value: FieldValue) => void;
  onError: (path: string, error: string | null) => void;
  onChooseMethod: (key: string) => void;
  onOption: (name: string, on: boolean) => void;
  onStartFrom: (name: string) => void;
}

/** The method menu: method and quantization together, LoRA on an 8-bit base included. */
function MethodMenu(props: IFormProps): JSX.Element {
  return (
    <select
      className="jp-ft-Field-select jp-ft-mod-wide"
      data-ft-method-menu=""
      value={methodKey(props.semantics, props.config) ?? ''}
      onChange={event => props.onChooseMethod(event.target.value)}
    >
      {props.semantics.methods.map(choice => (
        <option key={choice.key} value={choice.key}>
          {choice.label}
        </option>
      ))}
    </select>
  );
}

/** The checkboxes of the options that belong beside `field` (keep alpha = 2 × r beside alpha). */
function OptionBoxes(props: IFormProps & { field: IField }): JSX.Element | null {
  const names = Object.keys(props.semantics.options).filter(n => props.semantics.options[n].field === props.field.path);
  if (names.length === 0 || relevance(props.field, props.config) !== null) {
    return null;
  }
  return (
    <>
      {names.map(name => (
        <label key={name} className="jp-ft-Field-option" title={props.semantics.options[name].help}>
          <input
            type="checkbox"
            data-ft-option={name}
            checked={props.options.includes(name)}
            onChange={event => props.onOption(name, event.target.checked)}
          />
          {props.semantics.options[name].label}
        </label>
      ))}
    </>
  );
}

/** "Start from": replace the settings with a preset's (an action, so the menu always reads "choose…"). */
function StartFrom(props: IFormProps): JSX.Element | null {
  if (props.semantics.presets.length === 0) {
    return null;
  }
  return (
    <label className="jp-ft-Form-start">
      <span className="jp-ft-Form-start-label">Start from</span>
      <select
        className="jp-ft-Field-select"
        data-ft-start-from=""
        value=""
        onChange={event => {
          if (event.target.value !== '') {
            props.onStartFrom(event.target.value);
          }
        }}
      >
        <option value="">choose a preset…</option>
        {props.semantics.presets.map(p => (
          <option key={p.name} value={p.name} title={p.help}>
            {p.name}: {p.help}
          </option>
        ))}
      </select>
    </label>
  );
}

/** Every section of the schema: key settings up front, the rest folded under "More settings". */
export function ConfigForm(props: IFormProps): JSX.Element {
  const menuField = methodMenuField(props.semantics);
  const row = (field: IField) => {
    const setBy = optionSetting(props.semantics, field.path, props.options);
    const unused =
      relevance(field, props.config) ?? (setBy ? `set by “${props.semantics.options[setBy].label}”` : null);
    return (
      <FieldRow
        key={field.path}
        field={field}
        value={getValue(props.config, field.path)}
        unused={unused}
        control={field.path === menuField ? <MethodMenu {...props} /> : undefined}
        extra={<OptionBoxes {...props} field={field} />}
        onChange={props.onChange}
        onError={props.onError}
      />
    );
  };
  return (
    <div className="jp-ft-Form">
      <StartFrom {...props} />
      {props.sections.map(section => (
        <fieldset key={section.name} className="jp-ft-Form-section" data-ft-section={section.name}>
          <legend className="jp-ft-Form-legend">{section.name}</legend>
          {section.key.map(row)}
          {section.more.length > 0 && (
            <details className="jp-ft-Form-more">
              <summary className="jp-ft-Form-summary">
                More {section.name} settings ({section.more.length})
              </summary>
              {section.more.map(row)}
            </details>
          )}
        </fieldset>
      ))}
    </div>
  );
}
