import { LabIcon } from '@jupyterlab/ui-components';

// Three sliders: "tuning". `jp-icon3` lets the theme recolour it.
const svgstr = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <rect x="4" y="3" width="2" height="18" rx="1"/>
    <rect x="11" y="3" width="2" height="18" rx="1"/>
    <rect x="18" y="3" width="2" height="18" rx="1"/>
    <circle cx="5" cy="15" r="3"/>
    <circle cx="12" cy="8" r="3"/>
    <circle cx="19" cy="13" r="3"/>
  </g>
</svg>`;

export const ftIcon = new LabIcon({ name: 'ft-jupyter:icon', svgstr });
