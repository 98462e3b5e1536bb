/* global document */
// Small DOM helpers shared by the views: elements, fixed-decimal numbers, tables.

export const h = (tag, attrs = {}, ...kids) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k.startsWith('data-')) el.setAttribute(k, v);
    else el[k] = v;
  }
  for (const kid of kids.flat()) if (kid !== null && kid !== undefined) el.append(kid);
  return el;
};
export const fmt = (v, dp) => (v === null || v === undefined ? '–' : Number(v).toFixed(dp));
export const kpi = (key, label, value, dp, unit) =>
  h(
    'div',
    { className: 'kpi' },
    h('small', {}, label),
    h('b', { 'data-kpi': key }, fmt(value, dp)),
    h('small', {}, unit),
  );
export const table = (heads, rows) =>
  h(
    'div',
    { className: 'scroll' },
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, ...heads.map(([t, num]) => h('th', { className: num ? 'num' : '' }, t)))),
      h('tbody', {}, ...rows),
    ),
  );
export const cell = (v, num) => h('td', { className: num ? 'num' : '' }, v);
