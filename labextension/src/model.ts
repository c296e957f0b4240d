import { ISignal, Signal } from '@lumino/signaling';

/** User settings of the sidebar (schema/plugin.json). */
export interface ISidebarSettings {
  /** Seconds between two looks at the runs while the Runs list is shown. */
  pollInterval: number;
  /** Show the server folder the runs are read from above the list. */
  showRunsRoot: boolean;
}

export const DEFAULT_SETTINGS: ISidebarSettings = { pollInterval: 2, showRunsRoot: true };

/** What the widget knows and React does not: the settings and whether the panel is on screen. */
export class SidebarModel {
  private _settings: ISidebarSettings = DEFAULT_SETTINGS;
  private _visible = false;
  private readonly _changed = new Signal<this, void>(this);

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get settings(): ISidebarSettings {
    return this._settings;
  }

  get visible(): boolean {
    return this._visible;
  }

  setSettings(settings: ISidebarSettings): void {
    this._settings = settings;
    this._changed.emit();
  }

  setVisible(visible: boolean): void {
    if (visible !== this._visible) {
      this._visible = visible;
      this._changed.emit();
    }
  }
}
