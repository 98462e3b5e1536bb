/* global document, location, sessionStorage, addEventListener, EventSource */
// The dashboard's shell: hash routes (#fleet, #events, #events/<transaction>, #audit, #schedule),
// the live stream (server-sent events from /dashboard/api/events: the current view is drawn again
// when market time, the plan or the audit head moves) and the operator token (kept for the tab only).
import { clearCharts } from './charts.js';
import { VIEWS } from './views.js';

const $ = (id) => document.getElementById(id);
const NAMES = {
  fleet: 'Fleet now',
  events: 'Flexibility events',
  audit: 'Audit',
  schedule: 'Schedule',
  settlement: 'Settlement',
  backtests: 'Backtests',
};

/** GET a JSON API route; problem JSON becomes an Error carrying its FLX code. */
export const api = async (path, init) => {
  const res = await fetch(`/dashboard/api/${path}`, init);
  const body = await res.json();
  if (!res.ok)
    throw Object.assign(new Error(`${body.title}: ${body.detail}`), { code: body.title, status: res.status });
  return body;
};

/** A state-changing action, with the operator token when one was typed in. */
export const act = (path, body) => {
  const token = $('token').value.trim();
  return api(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
};

export const say = (text) => {
  $('message').textContent = text;
};

let meta;
let drawing = Promise.resolve();

const route = () => {
  const [view, ...rest] = location.hash.replace(/^#/, '').split('/');
  const views = meta.views;
  return {
    view: views.includes(view) ? view : views[0],
    arg: rest.join('/') ? decodeURIComponent(rest.join('/')) : '',
  };
};

const draw = () => {
  drawing = drawing.then(async () => {
    const { view, arg } = route();
    for (const a of $('nav').querySelectorAll('a')) a.classList.toggle('on', a.dataset.view === view);
    const el = $('view');
    try {
      const fresh = document.createElement('div');
      const after = await VIEWS[view](fresh, arg, { api, act, say, meta, redraw: draw });
      clearCharts();
      el.replaceChildren(fresh);
      after?.();
      el.dataset.view = view;
      el.dataset.drawn = String(Number(el.dataset.drawn ?? 0) + 1);
    } catch (e) {
      say(e.message);
    }
  });
  return drawing;
};

const start = async () => {
  meta = await api('meta');
  $('who').textContent = `${meta.role.toUpperCase()} ${meta.id}`;
  $('nav').replaceChildren(
    ...meta.views.map((v) => {
      const a = document.createElement('a');
      a.href = `#${v}`;
      a.textContent = NAMES[v];
      a.dataset.view = v;
      return a;
    }),
  );
  $('token').value = sessionStorage.getItem('flexlon-token') ?? '';
  $('token').addEventListener('change', () => sessionStorage.setItem('flexlon-token', $('token').value));
  addEventListener('hashchange', draw);
  await draw();
  const live = new EventSource('/dashboard/api/events');
  live.addEventListener('open', () => {
    $('live').textContent = 'live';
    $('live').className = 'badge ok';
  });
  live.addEventListener('error', () => {
    $('live').textContent = 'reconnecting';
    $('live').className = 'badge bad';
  });
  let first = true;
  live.addEventListener('tick', (e) => {
    const { now } = JSON.parse(e.data);
    $('now').textContent = `${now.utc} UTC · ${now.sp} · ${now.local}`;
    if (first) first = false;
    else void draw();
  });
};

void start();
