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

// tabbables: the elements of root that Tab stops at, in document order
// (a radio group once: its checked radio, else its first), leaving out
// what is disabled, out of the Tab order, or not rendered (a closed
// <details>' content, [hidden]).
const TABBABLE = 'a[href], button, input:not([type="hidden"]), select, textarea, summary, [tabindex]';
export function tabbables(root) {
  return [...root.querySelectorAll(TABBABLE)].filter((el) => {
    if (el.disabled || el.tabIndex < 0 || el.closest('[inert]') || el.getClientRects().length === 0) return false;
    if (el.type === 'radio' && el.name) {
      const group = [...root.querySelectorAll(`input[type="radio"][name="${CSS.escape(el.name)}"]`)].filter((r) => !r.disabled);
      return el === (group.find((r) => r.checked) || group[0]);
    }
    return true;
  });
}
