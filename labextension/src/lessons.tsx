import React, { useCallback, useEffect, useState } from 'react';

import { fetchLessons, ILesson } from './api';
import { errorText } from './configure';

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
            title={lesson.in_root ? `Open ${lesson.in_root}` : `Copy ${lesson.file} to your folder and open it`}
            onClick={() => props.onOpen(lesson)}
          >
            <span className="jp-ft-LessonButton-number">{String(lesson.number).padStart(2, '0')}</span>
            <span className="jp-ft-LessonButton-title">{lesson.title}</span>
            {props.busy === lesson.file && <span className="jp-ft-LessonButton-busy">…</span>}
          </button>
        </li>
      ))}
    </ul>
  );
}

/** The template notebooks: each opens as a copy in the workspace (never overwriting one). */
export function LessonsSection(props: { openLesson: (lesson: ILesson) => Promise<void> }): JSX.Element {
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
    void refresh();
  }, [refresh]);

  const open = async (lesson: ILesson) => {
    setBusy(lesson.file);
    try {
      await props.openLesson(lesson);
      setError(null);
    } catch (e) {
      setError(`Could not open ${lesson.file}: ${errorText(e)}`);
    } finally {
      setBusy(null);
    }
    await refresh();
  };

  return (
    <>
      {error !== null && (
        <div className="jp-ft-Sidebar-warning" role="alert">
          {error}
        </div>
      )}
      {lessons === null && error === null && <p className="jp-ft-Sidebar-empty">Loading…</p>}
      {lessons !== null && <LessonList lessons={lessons} busy={busy} onOpen={lesson => void open(lesson)} />}
    </>
  );
}
