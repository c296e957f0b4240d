import type { ISharedNotebook } from '@jupyter/ydoc';
import { JupyterFrontEnd } from '@jupyterlab/application';
import { DocumentWidget } from '@jupyterlab/docregistry';
import { Widget } from '@lumino/widgets';

/**
 * The notebook a cell goes into, found without depending on @jupyterlab/notebook
 * (whose 4.6 releases cannot all be installed from the registry here). Every
 * document widget whose shared model takes cells is one.
 */
export interface INotebookTarget {
  path: string;
  notebook: ISharedNotebook;
  widget: DocumentWidget;
}

function isSharedNotebook(model: unknown): model is ISharedNotebook {
  return typeof model === 'object' && model !== null && 'insertCell' in model && 'cells' in model;
}

/** The notebook open in the main area's current tab, if that tab is one. */
export function currentNotebook(shell: JupyterFrontEnd.IShell): INotebookTarget | null {
  const widget = shell.currentWidget;
  if (!(widget instanceof DocumentWidget)) {
    return null;
  }
  const shared: unknown = widget.context.model.sharedModel;
  if (!widget.context.path.endsWith('.ipynb') || !isSharedNotebook(shared)) {
    return null;
  }
  return { path: widget.context.path, notebook: shared, widget };
}

/** Where the notebook's active cell is, if its content widget says. */
function activeIndex(content: Widget): number | null {
  if ('activeCellIndex' in content && typeof content.activeCellIndex === 'number') {
    return content.activeCellIndex;
  }
  return null;
}

/**
 * Insert a code cell with `source` below the active cell (or at the end) and
 * make it the active cell, so Shift+Enter runs it. Returns its index.
 */
export function insertCodeCell(target: INotebookTarget, source: string): number {
  const cells = target.notebook.cells.length;
  const only = target.notebook.cells[0];
  if (cells === 1 && only.cell_type === 'code' && only.getSource().trim() === '') {
    only.setSource(source); // a fresh notebook's empty cell: fill it rather than leave it above
    return 0;
  }
  const active = activeIndex(target.widget.content);
  const index = active === null || active < 0 || active >= cells ? cells : active + 1;
  target.notebook.insertCell(index, { cell_type: 'code', source, metadata: {} });
  const content: Widget = target.widget.content;
  if ('activeCellIndex' in content) {
    content.activeCellIndex = index;
  }
  return index;
}

/** A new untitled notebook in the server root, opened and ready for cells. */
export async function newNotebook(app: JupyterFrontEnd): Promise<INotebookTarget> {
  // Naming the default kernel spares the learner JupyterLab's "Select Kernel" dialog.
  await app.serviceManager.kernelspecs.ready;
  const kernelName = app.serviceManager.kernelspecs.specs?.default ?? '';
  const created: unknown = await app.commands.execute('notebook:create-new', { cwd: '', kernelName });
  if (!(created instanceof DocumentWidget)) {
    throw new Error('JupyterLab did not open a new notebook (is the notebook extension disabled?)');
  }
  await created.context.ready;
  const target = currentNotebook(app.shell);
  if (target === null || target.widget !== created) {
    const shared: unknown = created.context.model.sharedModel;
    if (!isSharedNotebook(shared)) {
      throw new Error(`${created.context.path} is not a notebook`);
    }
    return { path: created.context.path, notebook: shared, widget: created };
  }
  return target;
}
