import React, { useCallback, useEffect, useState } from 'react';

import { fetchLeaderboard } from './api';
import { errorText, IConfigureHost } from './configure';
import { formatCost, formatDuration } from './runs';

/** One ranked run of `GET /ft-jupyter/leaderboard`. */
export interface ILeaderboardEntry {
  rank: number;
  run_id: string;
  owner: string;
  mine: boolean;
  name: string;
  score: number;
  secondary: Record<string, number>;
  /** Settings that differ from the group's usual ones (section.field → value). */
  changed: Record<string, unknown>;
  elapsed_s: number | null;
  device: string;
  cost: number | null;
  /** The notebook cell that draws this run's dashboard. */
  code: string;
  browser_path: string | null;
}

/** Runs scored on exactly the same rows with the same metric; never mixed with another group. */
export interface ILeaderboardGroup {
  title: string;
  metric: string;
  higher_is_better: boolean;
  entries: ILeaderboardEntry[];
}

export interface ILeaderboard {
  root: string;
  groups: ILeaderboardGroup[];
  left_out: { run_id: string; reason: string }[];
}

/** "82.5%" for a share, "1.2345" for a loss. */
export function scoreText(group: Pick<ILeaderboardGroup, 'higher_is_better'>, score: number): string {
  return group.higher_is_better ? `${(score * 100).toFixed(1)}%` : score.toFixed(4);
}

/** "learning_rate=0.001, r=16", or what to say when the run kept the group's usual settings. */
export function changedText(changed: Record<string, unknown>): string {
  const parts = Object.keys(changed)
    .sort()
    .map(key => `${key.split('.').slice(1).join('.') || key}=${String(changed[key])}`);
  return parts.length > 0 ? parts.join(', ') : 'usual settings';
}

function Entry(props: { entry: ILeaderboardEntry; group: ILeaderboardGroup; onCurves: () => void }): JSX.Element {
  const { entry, group } = props;
  const facts = [
    entry.owner,
    entry.elapsed_s !== null ? formatDuration(entry.elapsed_s) : null,
    entry.device || null,
    entry.cost ? `cost ${formatCost(entry.cost)}` : null
  ].filter(Boolean);
  return (
    <li className="jp-ft-Board-entry" data-ft-board-run={entry.run_id} data-ft-rank={entry.rank}>
      <span className="jp-ft-Board-rank">{entry.rank}</span>
      <span className="jp-ft-Board-score">{scoreText(group, entry.score)}</span>
      <span className="jp-ft-Board-run" title={entry.run_id}>
        {entry.name}
      </span>
      <button
        className="jp-ft-Button jp-ft-mod-link"
        title="Insert a cell that draws this run's curves into the current notebook"
        onClick={props.onCurves}
      >
        Curves
      </button>
      <div className="jp-ft-Board-what">{changedText(entry.changed)}</div>
      <div className="jp-ft-Board-facts">{facts.join(' · ')}</div>
    </li>
  );
}

/** The class's finished runs ranked on the same held-out rows; read when opened and on Refresh. */
export function LeaderboardSection(props: { host: IConfigureHost; open: boolean }): JSX.Element {
  const [board, setBoard] = useState<ILeaderboard | null>(null);
  const [error, setError] = useState<string | null>(null);

  const refresh = useCallback(async () => {
    try {
      setBoard(await fetchLeaderboard());
      setError(null);
    } catch (e) {
      setError(`Could not read the leaderboard: ${errorText(e)}`);
    }
  }, []);

  useEffect(() => {
    if (props.open) {
      void refresh();
    }
  }, [props.open, refresh]);

  const curves = async (entry: ILeaderboardEntry) => {
    try {
      await props.host.insertIntoNotebook(async () => entry.code);
    } catch (e) {
      setError(`Could not insert the cell: ${errorText(e)}`);
    }
  };

  return (
    <div className="jp-ft-Board">
      <button className="jp-ft-Button" onClick={() => void refresh()}>
        Refresh
      </button>
      {error !== null && (
        <div className="jp-ft-Sidebar-warning" role="alert">
          {error}
        </div>
      )}
      {board !== null && board.groups.length === 0 && (
        <p className="jp-ft-Sidebar-empty">
          No ranked runs yet: a finished run appears here once compare() has scored it (or it logged a validation loss).
        </p>
      )}
      {board?.groups.map(group => (
        <section className="jp-ft-Board-group" key={group.title} data-ft-metric={group.metric}>
          <h3 className="jp-ft-Board-title">{group.title}</h3>
          <ol className="jp-ft-Board-list">
            {group.entries.map(entry => (
              <Entry key={entry.run_id} entry={entry} group={group} onCurves={() => void curves(entry)} />
            ))}
          </ol>
        </section>
      ))}
      {board !== null && board.groups.length > 1 && (
        <p className="jp-ft-Board-note">
          Each group was scored on different rows or with another metric; runs are only ranked within a group.
        </p>
      )}
      {board !== null && board.left_out.length > 0 && (
        <details className="jp-ft-Board-left">
          <summary>Not ranked ({board.left_out.length})</summary>
          <ul>
            {board.left_out.map(item => (
              <li key={item.run_id}>
                <code>{item.run_id}</code>: {item.reason}
              </li>
            ))}
          </ul>
        </details>
      )}
    </div>
  );
}
