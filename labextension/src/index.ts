import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import packageJson from '../../package.json';
import { copyLesson } from './api';
import { CommandIDs } from './commands';
import { ftIcon } from './icon';
import { FineTuneSidebar } from './sidebar';

const PLUGIN_ID = 'ft-jupyter:plugin';
const PALETTE_CATEGORY = 'Fine-tune';

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Fine-tune sidebar: lesson notebooks and server status.',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    settingRegistry: ISettingRegistry | null
  ) => {
    const { commands, shell } = app;
    const sidebar = new FineTuneSidebar({
      commands,
      frontendVersion: packageJson.version
    });
    shell.add(sidebar, 'left', { rank: 900 });
    restorer?.add(sidebar, sidebar.id);

    commands.addCommand(CommandIDs.openSidebar, {
      label: 'Open the Fine-tune Sidebar',
      caption: 'Show ft-jupyter lessons and server status',
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

    palette?.addItem({
      command: CommandIDs.openSidebar,
      category: PALETTE_CATEGORY
    });

    if (settingRegistry) {
      void Promise.all([settingRegistry.load(PLUGIN_ID), app.restored]).then(
        ([settings]) => {
          if (settings.get('openOnStartup').composite === true) {
            shell.activateById(sidebar.id);
          }
        }
      ).catch((reason: unknown) => {
        console.error(`${PLUGIN_ID}: could not load settings`, reason);
      });
    }
  }
};

export default plugin;
