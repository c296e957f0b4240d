import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { ConfigValues, IConfigSchema } from './form';
import { estimateBody, IEstimate, ISplit, ONE_GPU } from './preflight';
import { ILeaderboard } from './leaderboard';
import { IRunList, RunScope } from './runs';

/** Reply of `GET /ft-jupyter/version`. */
export interface IVersionInfo {
  version: string;
  frontend_expected: string;
}

/** One entry of `GET /ft-jupyter/lessons`. */
export interface ILesson {
  file: string;
  number: number;
  title: string;
  /** Path of a copy under the server root, or null if there is none yet. */
  in_root: string | null;
}

/** Reply of `POST /ft-jupyter/lessons/copy`. */
export interface ICopyResult {
  path: string;
}

/**
 * Call the ft-jupyter server extension; throws a ResponseError carrying the
 * server's JSON `message` when the reply is not 2xx.
 */
export async function requestAPI<T>(endPoint: string, init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'ft-jupyter', endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const text = await response.text();
  let data: unknown = text;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      // Not JSON (a proxy's error page, say): keep the raw text for the message.
    }
  }
  if (!response.ok) {
    throw new ServerConnection.ResponseError(response, messageOf(data));
  }
  return data as T;
}

function messageOf(data: unknown): string {
  if (typeof data === 'object' && data !== null && 'message' in data) {
    return String((data as { message: unknown }).message);
  }
  return String(data);
}

export function fetchVersion(): Promise<IVersionInfo> {
  return requestAPI<IVersionInfo>('version');
}

export function fetchLessons(): Promise<ILesson[]> {
  return requestAPI<ILesson[]>('lessons');
}

export function copyLesson(file: string): Promise<ICopyResult> {
  return requestAPI<ICopyResult>('lessons/copy', {
    method: 'POST',
    body: JSON.stringify({ file })
  });
}

/** Reply of `POST /ft-jupyter/render`. */
export interface IRendered {
  code: string;
  yaml: string;
  runs_dir: string;
}

function postJSON(body: unknown): RequestInit {
  return { method: 'POST', body: JSON.stringify(body) };
}

/** The RunConfig schema with the form's `x-ft-` keywords (couplings, method menu, presets, model suggestions). */
export function fetchSchema(): Promise<IConfigSchema> {
  return requestAPI<IConfigSchema>('schema');
}

/** The estimate for `config`; split over several GPUs, its memory is per GPU. */
export function estimate(config: ConfigValues, split: ISplit = ONE_GPU): Promise<IEstimate> {
  return requestAPI<IEstimate>('estimate', postJSON(estimateBody(config, split)));
}

/**
 * The notebook cell and YAML for `config`; with `notebook`, runs_dir points
 * from that notebook's folder at the runs root the sidebar watches.
 */
export function render(config: ConfigValues, options: { notebook?: string; train?: boolean } = {}): Promise<IRendered> {
  return requestAPI<IRendered>('render', postJSON({ config, ...options }));
}

/** The user's own runs, or the whole class's; each with the server's summary of its events. */
export function fetchRuns(scope: RunScope = 'mine'): Promise<IRunList> {
  return requestAPI<IRunList>(`runs?scope=${scope}`);
}

/** The class's finished runs, ranked within groups scored on the same rows. */
export function fetchLeaderboard(): Promise<ILeaderboard> {
  return requestAPI<ILeaderboard>('leaderboard');
}

export function stopRun(runId: string): Promise<{ stop_requested: boolean }> {
  return requestAPI<{ stop_requested: boolean }>(`runs/${encodeURIComponent(runId)}/stop`, { method: 'POST' });
}

export function startExport(runId: string, request: Record<string, unknown>): Promise<{ pid: number; state: string }> {
  return requestAPI<{ pid: number; state: string }>(`runs/${encodeURIComponent(runId)}/export`, postJSON(request));
}
