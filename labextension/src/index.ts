import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Clipboard, ICommandPalette, InputDialog } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import packageJson from '../../package.json';
import { copyLesson, fetchLessons, ILesson } from './api';
import { CommandIDs } from './commands';
import { ftIcon } from './icon';
import { DEFAULT_SETTINGS } from './model';
import { currentNotebook, insertCodeCell, newNotebook } from './notebook';
import { FineTuneSidebar, ISidebarHost } from './sidebar';

const PLUGIN_ID = 'ft-jupyter:plugin';
const PALETTE_CATEGORY = 'Fine-tune';

/** The sidebar's requests to JupyterLab, each through a command or the shell. */
function makeHost(app: JupyterFrontEnd): ISidebarHost {
  const { commands } = app;
  const openLesson = async (lesson: ILesson) => {
    await commands.execute(CommandIDs.openLesson, { file: lesson.file, inRoot: lesson.in_root });
  };
  return {
    openLesson,
    async insertIntoNotebook(makeCode) {
      const target = currentNotebook(app.shell) ?? (await newNotebook(app));
      const code = await makeCode(target.path);
      insertCodeCell(target, code);
      app.shell.activateById(target.widget.id);
      return target.path;
    },
    copyText: text => Clipboard.copyToSystem(text),
    async newNotebookFromLesson() {
      const lessons = await fetchLessons();
      const labels = lessons.map(l => `${String(l.number).padStart(2, '0')} ${l.title}`);
      const choice = await InputDialog.getItem({ title: 'New notebook from lesson', items: labels });
      const index = choice.button.accept && choice.value !== null ? labels.indexOf(choice.value) : -1;
      if (index >= 0) {
        await openLesson(lessons[index]);
      }
    },
    openFolder: async path => {
      await commands.execute(CommandIDs.showInBrowser, { path });
    },
    openFile: async path => {
      await commands.execute('docmanager:open', { path });
    }
  };
}

function addCommands(app: JupyterFrontEnd, sidebar: FineTuneSidebar): void {
  const { commands, shell } = app;
  commands.addCommand(CommandIDs.openSidebar, {
    label: 'Open the Fine-tune Sidebar',
    caption: 'Configure a fine-tune, watch and stop runs, open lessons',
    icon: ftIcon,
    execute: () => shell.activateById(sidebar.id)
  });
  commands.addCommand(CommandIDs.openLesson, {
    label: args => `Open Lesson ${String(args.file ?? '')}`,
    caption: 'Open a lesson notebook, copying it into the server root first',
    execute: async args => {
      const file = String(args.file);
      const inRoot = typeof args.inRoot === 'string' ? args.inRoot : null;
      const path = inRoot ?? (await copyLesson(file)).path;
      return commands.execute('docmanager:open', { path });
    }
  });
  commands.addCommand(CommandIDs.showInBrowser, {
    label: 'Show a Run Folder in the File Browser',
    execute: args => commands.execute('filebrowser:go-to-path', { path: String(args.path ?? '') })
  });
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Fine-tune sidebar: configure a run, pre-flight it, insert it into a notebook, watch and stop runs.',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    settingRegistry: ISettingRegistry | null
  ) => {
    const sidebar = new FineTuneSidebar({ host: makeHost(app), frontendVersion: packageJson.version });
    app.shell.add(sidebar, 'left', { rank: 900 });
    restorer?.add(sidebar, sidebar.id);
    addCommands(app, sidebar);
    palette?.addItem({ command: CommandIDs.openSidebar, category: PALETTE_CATEGORY });

    if (settingRegistry) {
      void Promise.all([settingRegistry.load(PLUGIN_ID), app.restored])
        .then(([settings]) => {
          const apply = () =>
            sidebar.model.setSettings({
              pollInterval: Number(settings.get('pollInterval').composite ?? DEFAULT_SETTINGS.pollInterval),
              showRunsRoot: settings.get('showRunsRoot').composite !== false
            });
          apply();
          settings.changed.connect(apply);
          if (settings.get('openOnStartup').composite === true) {
            app.shell.activateById(sidebar.id);
          }
        })
        .catch((reason: unknown) => {
          console.error(`${PLUGIN_ID}: could not load settings`, reason);
        });
    }
  }
};

export default plugin;
