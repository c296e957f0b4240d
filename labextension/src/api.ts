import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

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
export async function requestAPI<T>(
  endPoint: string,
  init: RequestInit = {}
): Promise<T> {
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
