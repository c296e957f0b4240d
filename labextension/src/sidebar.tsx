import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import React, { useEffect, useState } from 'react';

import { fetchVersion, ILesson, IVersionInfo } from './api';
import { ConfigureSection, errorText, IConfigureHost } from './configure';
import { ftIcon } from './icon';
import { LeaderboardSection } from './leaderboard';
import { LessonsSection } from './lessons';
import { SidebarModel } from './model';
import { IRunsHost, RunsSection } from './runsview';

/** Everything the sidebar asks of JupyterLab; index.ts implements it with commands and the shell. */
export interface ISidebarHost extends IConfigureHost, IRunsHost {
  openLesson(lesson: ILesson): Promise<void>;
}

export interface ISidebarProps {
  host: ISidebarHost;
  model: SidebarModel;
  /** Version of this frontend bundle, compared with the server's. */
  frontendVersion: string;
}

function VersionLine(props: { info: IVersionInfo | null; error: string | null; frontendVersion: string }): JSX.Element {
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
      <div className="jp-ft-Sidebar-version">ft-jupyter v{props.info.version}</div>
      {mismatch && (
        <div className="jp-ft-Sidebar-warning" role="alert">
          The server runs ft-jupyter {props.info.version} but this page has the {props.frontendVersion} extension:
          reinstall ft-jupyter and restart JupyterLab.
        </div>
      )}
    </>
  );
}

/** A section that folds; `onToggle` reports whether it is open. */
function Section(props: {
  name: string;
  title: string;
  children: React.ReactNode;
  onToggle?: (open: boolean) => void;
  /** Start folded (the section reads nothing until opened). */
  folded?: boolean;
}): JSX.Element {
  return (
    <details
      className="jp-ft-Section"
      data-ft-section={props.name}
      open={!props.folded}
      onToggle={event => props.onToggle?.((event.target as HTMLDetailsElement).open)}
    >
      <summary className="jp-ft-Sidebar-section">{props.title}</summary>
      {props.children}
    </details>
  );
}

export function SidebarPanel(props: ISidebarProps): JSX.Element {
  const [info, setInfo] = useState<IVersionInfo | null>(null);
  const [versionError, setVersionError] = useState<string | null>(null);
  const [configureOpen, setConfigureOpen] = useState(true);
  const [runsOpen, setRunsOpen] = useState(true);
  const [boardOpen, setBoardOpen] = useState(false);

  useEffect(() => {
    fetchVersion()
      .then(setInfo)
      .catch(e => setVersionError(errorText(e)));
  }, []);

  return (
    <div className="jp-ft-Sidebar-content">
      <header className="jp-ft-Sidebar-header">
        <ftIcon.react tag="span" className="jp-ft-Sidebar-icon" />
        <h2 className="jp-ft-Sidebar-title">Fine-tune</h2>
      </header>
      <VersionLine info={info} error={versionError} frontendVersion={props.frontendVersion} />
      <Section name="configure" title="Configure" onToggle={setConfigureOpen}>
        <ConfigureSection host={props.host} active={props.model.visible && configureOpen} />
      </Section>
      <Section name="runs" title="Runs" onToggle={setRunsOpen}>
        <RunsSection model={props.model} host={props.host} open={runsOpen} />
      </Section>
      <Section name="leaderboard" title="Leaderboard" onToggle={setBoardOpen} folded>
        <LeaderboardSection host={props.host} open={props.model.visible && boardOpen} />
      </Section>
      <Section name="lessons" title="Lessons">
        <LessonsSection openLesson={lesson => props.host.openLesson(lesson)} />
      </Section>
    </div>
  );
}

/** The left-area panel: configure a run, watch and stop runs, open lessons. */
export class FineTuneSidebar extends ReactWidget {
  readonly model = new SidebarModel();

  constructor(private readonly _props: Omit<ISidebarProps, 'model'>) {
    super();
    this.id = 'ft-jupyter-sidebar';
    this.addClass('jp-ft-Sidebar');
    this.title.icon = ftIcon;
    this.title.caption = 'Fine-tune';
  }

  // The Runs list polls the server only while this panel is on screen.
  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.setVisible(true);
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.model.setVisible(false);
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this.model.setVisible(this.isVisible);
  }

  protected render(): JSX.Element {
    return (
      <UseSignal signal={this.model.changed}>{() => <SidebarPanel {...this._props} model={this.model} />}</UseSignal>
    );
  }
}
