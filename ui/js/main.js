// Entry point of the Slipway UI: the navigation between views and the hand-offs between them
// (an image opened in the workshop, a committed image sent to the push view).
import * as engine from './views/engine.js';
import * as images from './views/images.js';
import * as workshop from './views/workshop.js';
import * as registries from './views/registries.js';
import * as browser from './views/browser.js';

const views = { engine, images, workshop, registries, browser };

/** The navigation buttons; each names its view in data-view. */
const navItems = () => /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('.nav-item'));

/** Shows one view and tells it which object to open, if any. */
export function navigate(name, params = {}) {
  for (const btn of navItems()) {
    btn.classList.toggle('active', btn.dataset.view === name);
  }
  for (const sec of document.querySelectorAll('.view')) {
    sec.classList.toggle('active', sec.id === `view-${name}`);
  }
  document.body.dataset.view = name;
  views[name].show(params);
}

function start() {
  for (const btn of navItems()) {
    btn.addEventListener('click', () => navigate(btn.dataset.view));
  }
  for (const v of Object.values(views)) v.init({ navigate });
  navigate('engine');
  document.body.dataset.ready = 'true';
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
