import React, { useEffect, useState } from 'react';

import { ConfigValues, FieldValue, formatValue, getValue, IField, ISection, parseInput, relevance } from './form';

export interface IFieldProps {
  field: IField;
  value: FieldValue;
  /** Why this field does nothing with the current config, or null. */
  unused: string | null;
  /** Values to suggest (model names) in a text field. */
  suggestions?: string[];
  onChange: (path: string, value: FieldValue) => void;
  onError: (path: string, error: string | null) => void;
}

/** A text box that keeps what is typed, even when it does not parse yet. */
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

  const listId = props.suggestions ? `jp-ft-suggest-${field.path.replace('.', '-')}` : undefined;
  return (
    <>
      <input
        className={`jp-ft-Field-input${error ? ' jp-ft-mod-invalid' : ''}`}
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
          {props.suggestions?.map(name => (
            <option key={name} value={name} />
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

/** One setting: its name, its control, and the why of it (the field's help text). */
export function FieldRow(props: IFieldProps): JSX.Element {
  const { field } = props;
  const inline = field.kind === 'boolean';
  return (
    <div className={`jp-ft-Field${props.unused ? ' jp-ft-mod-unused' : ''}`} data-ft-path={field.path}>
      <label className={inline ? 'jp-ft-Field-label jp-ft-mod-inline' : 'jp-ft-Field-label'}>
        {inline && <Control {...props} />}
        <code className="jp-ft-Field-name">{field.name}</code>
        {!inline && <Control {...props} />}
      </label>
      <div className="jp-ft-Field-help">
        {field.help}
        {props.unused && <em className="jp-ft-Field-unused"> ({props.unused})</em>}
      </div>
    </div>
  );
}

export interface IFormProps {
  sections: ISection[];
  config: ConfigValues;
  modelNames: string[];
  onChange: (path: string, value: FieldValue) => void;
  onError: (path: string, error: string | null) => void;
}

/** Every section of the schema: key settings up front, the rest folded under "More settings". */
export function ConfigForm(props: IFormProps): JSX.Element {
  const row = (field: IField) => (
    <FieldRow
      key={field.path}
      field={field}
      value={getValue(props.config, field.path)}
      unused={relevance(props.config, field.path)}
      suggestions={field.path === 'model.name' ? props.modelNames : undefined}
      onChange={props.onChange}
      onError={props.onError}
    />
  );
  return (
    <div className="jp-ft-Form">
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
