"""The sidebar's run states (labextension/src/runstates.ts) are generated from the one definition in train/store.py."""

from __future__ import annotations

from ft_jupyter.export.folder import EXPORT_STATES
from ft_jupyter.server.runstates import REPO, TYPESCRIPT_PATH, runstates_typescript, write_typescript
from ft_jupyter.train.events import Failed, Finished, Stopped
from ft_jupyter.train.store import END_STATES, LIVE_STATES, SAVED_END_STATES, STATES


def test_the_committed_typescript_is_what_the_generator_writes_now():
    committed = (REPO / TYPESCRIPT_PATH).read_text(encoding="utf-8")
    assert committed == runstates_typescript(), (
        f"{TYPESCRIPT_PATH} is out of date with the states in ft_jupyter/train/store.py or export/folder.py: "
        "regenerate it with `.venv/bin/python -m ft_jupyter.server.runstates`"
    )


def test_the_generated_file_names_every_state_and_is_written_where_the_sidebar_imports_it(tmp_path):
    (tmp_path / TYPESCRIPT_PATH.parent).mkdir(parents=True)
    text = write_typescript(tmp_path).read_text(encoding="utf-8")
    assert "export const LIVE_STATES: readonly string[] = ['queued', 'running'];" in text
    assert "export type ExportState = " + " | ".join(f"'{s}'" for s in EXPORT_STATES) + ";" in text
    for state in STATES:
        assert f"'{state}'" in text


def test_the_state_groups_are_states_and_the_end_states_are_the_events_that_end_a_run():
    assert set(LIVE_STATES) | set(END_STATES) == set(STATES) and not set(LIVE_STATES) & set(END_STATES)
    assert set(SAVED_END_STATES) < set(END_STATES)
    assert (Finished.type, Stopped.type, Failed.type) == END_STATES
