// meshlock's DOM helpers for the page's views: $ (querySelector), h (an
// element from tag, attributes and children), the padlock icon, and what
// the server told the page through the body's data- attributes.

export const $ = (sel, root = document) => root.querySelector(sel);

// page is what the server rendered into <body data-...>.
export const page = Object.freeze({
  icons: document.body.dataset.icons || 'static/icons/',
  // Enforcing is offered only when the server says so (--allow-enforce);
  // the server refuses writes otherwise anyway.
  allowEnforce: document.body.dataset.allowEnforce === 'true',
});

// h builds an element: h('button', {class: 'x', dataset: {id}}, 'text', child).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const icon = (status, size = 14) => h('img', { src: `${page.icons}lock-${status}.svg`, alt: '', width: size, height: size });

// keepFocus redraws root with draw() and gives the focus back to the
// element with the same data-focus-key (redraws follow the stream).
export function keepFocus(root, draw) {
  const key = root.contains(document.activeElement) ? document.activeElement.dataset?.focusKey : undefined;
  draw();
  if (key) root.querySelector(`[data-focus-key="${CSS.escape(key)}"]`)?.focus({ preventScroll: true });
}
