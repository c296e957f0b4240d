import './base.css';
import './preflight.css';
