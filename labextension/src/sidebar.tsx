import { ReactWidget } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import React, { useCallback, useEffect, useState } from 'react';

import { fetchLessons, fetchVersion, ILesson, IVersionInfo } from './api';
import { CommandIDs } from './commands';
import { ftIcon } from './icon';

export interface ISidebarProps {
  commands: CommandRegistry;
  /** Version of this frontend bundle, compared with the server's. */
  frontendVersion: string;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function VersionLine(props: {
  info: IVersionInfo | null;
  error: string | null;
  frontendVersion: string;
}): JSX.Element {
  if (props.error !== null) {
    return (
      <div className="jp-ft-Sidebar-warning" role="alert">
        Server extension not reachable: {props.error}
      </div>
    );
  }
  if (props.info === null) {
    return <div className="jp-ft-Sidebar-version">Connecting…</div>;
  }
  const mismatch = props.info.version !== props.frontendVersion;
  return (
    <>
      <div className="jp-ft-Sidebar-version">
        ft-jupyter v{props.info.version}
      </div>
      {mismatch && (
        <div className="jp-ft-Sidebar-warning" role="alert">
          The server runs ft-jupyter {props.info.version} but this page has
          the {props.frontendVersion} extension: reinstall ft-jupyter and
          restart JupyterLab.
        </div>
      )}
    </>
  );
}

function LessonList(props: {
  lessons: ILesson[];
  busy: string | null;
  onOpen: (lesson: ILesson) => void;
}): JSX.Element {
  if (props.lessons.length === 0) {
    return <p className="jp-ft-Sidebar-empty">No lessons found.</p>;
  }
  return (
    <ul className="jp-ft-LessonList">
      {props.lessons.map(lesson => (
        <li key={lesson.file}>
          <button
            className="jp-ft-LessonButton"
            disabled={props.busy !== null}
            title={
              lesson.in_root
                ? `Open ${lesson.in_root}`
                : `Copy ${lesson.file} to your folder and open it`
            }
            onClick={() => props.onOpen(lesson)}
          >
            <span className="jp-ft-LessonButton-number">
              {String(lesson.number).padStart(2, '0')}
            </span>
            <span className="jp-ft-LessonButton-title">{lesson.title}</span>
            {props.busy === lesson.file && (
              <span className="jp-ft-LessonButton-busy">…</span>
            )}
          </button>
        </li>
      ))}
    </ul>
  );
}

export function SidebarPanel(props: ISidebarProps): JSX.Element {
  const [info, setInfo] = useState<IVersionInfo | null>(null);
  const [versionError, setVersionError] = useState<string | null>(null);
  const [lessons, setLessons] = useState<ILesson[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const refresh = useCallback(async () => {
    try {
      setLessons(await fetchLessons());
      setError(null);
    } catch (e) {
      setError(errorText(e));
    }
  }, []);

  useEffect(() => {
    fetchVersion()
      .then(setInfo)
      .catch(e => setVersionError(errorText(e)));
    void refresh();
  }, [refresh]);

  const open = async (lesson: ILesson) => {
    setBusy(lesson.file);
    try {
      await props.commands.execute(CommandIDs.openLesson, {
        file: lesson.file,
        inRoot: lesson.in_root
      });
      setError(null);
    } catch (e) {
      setError(`Could not open ${lesson.file}: ${errorText(e)}`);
    } finally {
      setBusy(null);
    }
    await refresh();
  };

  return (
    <div className="jp-ft-Sidebar-content">
      <header className="jp-ft-Sidebar-header">
        <ftIcon.react tag="span" className="jp-ft-Sidebar-icon" />
        <h2 className="jp-ft-Sidebar-title">Fine-tune</h2>
        <button
          className="jp-ft-Sidebar-refresh"
          title="Reload the lesson list"
          onClick={() => void refresh()}
        >
          ↻
        </button>
      </header>
      <VersionLine
        info={info}
        error={versionError}
        frontendVersion={props.frontendVersion}
      />
      <h3 className="jp-ft-Sidebar-section">Lessons</h3>
      {error !== null && (
        <div className="jp-ft-Sidebar-warning" role="alert">
          {error}
        </div>
      )}
      {lessons === null && error === null && (
        <p className="jp-ft-Sidebar-empty">Loading…</p>
      )}
      {lessons !== null && (
        <LessonList lessons={lessons} busy={busy} onOpen={open} />
      )}
    </div>
  );
}

/** The left-area panel: server version and the lesson notebooks. */
export class FineTuneSidebar extends ReactWidget {
  constructor(private readonly _props: ISidebarProps) {
    super();
    this.id = 'ft-jupyter-sidebar';
    this.addClass('jp-ft-Sidebar');
    this.title.icon = ftIcon;
    this.title.caption = 'Fine-tune';
  }

  protected render(): JSX.Element {
    return <SidebarPanel {...this._props} />;
  }
}
