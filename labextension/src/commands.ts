/** Every command of the extension, in the one `ft-jupyter:` namespace. */
export namespace CommandIDs {
  export const openSidebar = 'ft-jupyter:open-sidebar';
  export const openLesson = 'ft-jupyter:open-lesson';
  export const showInBrowser = 'ft-jupyter:show-in-browser';
}
