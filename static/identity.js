// meshlock's identity panel (issue 22): the mesh's trust domain and its
// aliases, every root certificate Istio distributes (its subject, short
// fingerprint, validity with the days left, key, whether self-signed, the
// namespaces that hold it), istiod's CA figures, the workloads' proxy
// certificates and the findings of identity and trust. Opened from the
// header's Identity button, whose badge says how long the soonest root has
// left (or, before the panel was first opened, the worst root finding).
// GET api/identity is asked for when the panel opens and again, at most once
// per refresh, when a snapshot comes while it is open (trust.mjs's loader).

import { $, h, keepFocus } from './dom.js';
import { findingButton } from './findings.js';
import { formatWhen, isTime } from './format.mjs';
import { withNamespaces } from './model.mjs';
import {
  IDENTITY_KINDS,
  LEVEL_ICON,
  ROOT_KINDS,
  certLeftView,
  principalMarks,
  rootLimits,
  workloadLimits,
  createIdentityLoader,
  expiryView,
  keyText,
  namespacesView,
  shortFingerprint,
  soonestRoot,
  soonestWorkloadCert,
  worstSeverity,
} from './trust.mjs';

const LEVEL_RANK = { '': 0, info: 0, ok: 1, warning: 2, critical: 3 };

// when is a moment with its year ("Dec 27, 2026, 10:00"), the exact one in its title.
export function when(iso, testid) {
  if (!isTime(iso)) return h('span', { class: 'muted', dataset: testid ? { testid } : undefined, text: 'unknown' });
  return h('time', { datetime: iso, title: iso, dataset: testid ? { testid } : undefined, text: formatWhen(iso, { year: 'numeric' }) });
}

// expiryTag: the time left in words, coloured by its level, an icon beside
// it for a warning or worse (the words say it too).
export function expiryTag(v, testid) {
  const level = v.level || 'unknown';
  return h(
    'span',
    { class: `expiry level-${level}`, dataset: { testid, level: v.level || '' } },
    LEVEL_ICON[v.level] ? h('span', { 'aria-hidden': 'true', text: `${LEVEL_ICON[v.level]} ` }) : '',
    v.text,
  );
}

// MATCH_TAGS: how an observed principal compares with the expected ones.
const MATCH_TAGS = {
  mismatch: ['tag tag-mismatch', '≠ not expected', 'Not the SPIFFE id of its workloads’ ServiceAccount (a principal-mismatch finding says more)'],
  alias: ['tag', 'trust domain alias', 'Its ServiceAccount’s id under one of the mesh’s trust domain aliases'],
  expected: ['tag tag-expected', '✓ expected', 'The SPIFFE id of its workloads’ ServiceAccount'],
};

// nodeIdentityRows: the side panel's rows (row(label, ...value) makes one)
// of a node's expected principals, those it was seen as (the unexpected
// ones marked) and its proxy certificate's time left; identity is the
// inventory when loaded (its trust domain aliases are no mismatch).
export function nodeIdentityRows(row, n, identity) {
  const marks = principalMarks(n, { trustDomain: identity?.trustDomain, aliases: identity?.trustDomainAliases });
  const cert = certLeftView(n.certExpiry, Date.now(), workloadLimits(identity));
  const principals = (testid, list, item) => h('ul', { class: 'plain-list principals', dataset: { testid } }, list.map(item));
  return [
    row(
      'Expected identity',
      marks.expected.length
        ? principals('node-expected-principals', marks.expected, (p) => h('li', {}, h('code', { text: p })))
        : h('span', { class: 'muted', dataset: { testid: 'node-expected-principals' }, text: 'not known' }),
    ),
    row(
      'Seen as',
      marks.observed.length
        ? principals('node-observed-principals', marks.observed, (o) => {
            const [cls, text, title] = MATCH_TAGS[o.match] || [];
            return h('li', { dataset: { testid: 'node-observed-principal', match: o.match } }, h('code', { text: o.principal }), cls ? [' ', h('span', { class: cls, title, text })] : '');
          })
        : h('span', { class: 'muted', dataset: { testid: 'node-observed-principals' }, text: 'no principal seen in mTLS traffic' }),
    ),
    row(
      'Certificate',
      cert.known
        ? h('span', { title: `The soonest of its proxies’ certificates expires ${formatWhen(n.certExpiry, { year: 'numeric' })}` }, expiryTag(cert, 'node-cert-expiry'))
        : h('span', {
            class: 'expiry level-unknown',
            dataset: { testid: 'node-cert-expiry', level: '' },
            title: 'Prometheus has no istio_agent_cert_expiry_seconds for its pods (ztunnel reports none for ambient workloads)',
            text: 'unknown',
          }),
    ),
  ];
}

// principalRow: an edge's client or server principal (row as above),
// marked when a principal-mismatch finding says it is not the workload's
// of node (its end), with the principals expected of it.
export function principalRow(row, label, principal, wrong, node) {
  const expected = node?.expectedPrincipals || [];
  return row(
    label,
    h('code', { text: principal || 'no identity (plaintext or unknown)' }),
    wrong
      ? [
          ' ',
          h('span', { class: 'tag tag-mismatch', dataset: { testid: 'principal-mismatch', end: label.toLowerCase() }, text: '≠ not its workload’s' }),
          expected.length ? h('span', { class: 'muted', text: ` expected ${expected.join(' or ')}` }) : '',
        ]
      : '',
  );
}

export function createIdentity(store, { request }) {
  const { state } = store;
  const button = $('#identity-open');
  const badge = $('#trust-badge');
  const panel = $('#identity-panel');
  const status = $('#identity-status');
  const body = $('#identity-body');
  if (!panel || !body) return;
  // Filtered as the graph is (?namespace=): a refresh is a snapshot's time under a filter.
  const loader = createIdentityLoader({
    request,
    path: () => `api/identity${withNamespaces('', state.namespaces)}`,
    onChange: (patch) => store.setIdentity(patch),
  });
  const refreshOf = () => `${state.snapshot?.generatedAt ?? ''}|${state.namespaces.join(',')}`;
  let drawn = ''; // what the body shows, to skip a redraw that changes nothing

  function row(label, ...value) {
    return [h('dt', {}, label), h('dd', {}, ...value)];
  }

  // renderBadge: the soonest root's time left once the inventory is known,
  // the worst root finding of the snapshot otherwise (and the worse of both).
  function renderBadge() {
    if (!badge) return;
    const root = soonestRoot(state.identity.data);
    const v = root ? expiryView(root.notAfter, Date.now(), rootLimits(state.identity.data)) : null;
    const finding = worstSeverity(state.snapshot?.findings, ROOT_KINDS);
    const level = LEVEL_RANK[finding] > LEVEL_RANK[v?.level || ''] ? finding : v?.level || '';
    const words = [];
    if (v) words.push(`the soonest root certificate ${v.text}`);
    if (finding && finding !== 'info') words.push(`a root certificate finding is ${finding}`);
    const key = `${level}|${v?.short || ''}|${words.join('|')}`;
    if (badge.dataset.key === key) return;
    badge.dataset.key = key;
    badge.hidden = !v && !words.length;
    badge.dataset.level = level;
    badge.dataset.daysLeft = v?.days ?? '';
    badge.className = `trust-badge level-${level || 'unknown'}`;
    badge.replaceChildren(
      LEVEL_ICON[level] ? h('span', { 'aria-hidden': 'true', text: LEVEL_ICON[level] }) : '',
      h('span', { 'aria-hidden': 'true', text: v ? ` root ${v.short}` : ' root' }),
      h('span', { class: 'sr-only', text: `: ${words.join('; ')}` }),
    );
    if (button) button.title = `Identity and trust: the trust domain and root certificates${words.length ? `. Now ${words.join('; ')}.` : ''}`;
  }

  function rootItem(r, now) {
    const v = expiryView(r.notAfter, now, rootLimits(state.identity.data));
    const ns = namespacesView(r.namespaces);
    const notYet = isTime(r.notBefore) && Date.parse(r.notBefore) > now;
    return h(
      'li',
      { class: `root level-${v.level || 'unknown'}`, dataset: { testid: 'identity-root', fingerprint: r.fingerprint, level: v.level, daysLeft: v.days ?? '' } },
      h('p', { class: 'root-subject', dataset: { testid: 'root-subject' } }, h('strong', { text: r.subject || '(no subject)' })),
      h(
        'dl',
        { class: 'facts' },
        row('Expires', when(r.notAfter, 'root-not-after'), ' ', expiryTag(v, 'root-days-left')),
        row('Valid from', when(r.notBefore), notYet ? [' ', h('span', { class: 'expiry level-warning', text: '⚠ not valid yet' })] : ''),
        row('SHA-256', h('code', { title: r.fingerprint, dataset: { testid: 'root-fingerprint', fingerprint: r.fingerprint }, text: shortFingerprint(r.fingerprint) })),
        row(
          'Issuer',
          h('span', { dataset: { testid: 'root-self-signed', selfSigned: String(r.selfSigned) } }, r.selfSigned ? 'self-signed' : ['not self-signed: issued by ', h('code', { text: r.issuer || '?' })]),
        ),
        row('Key', h('span', { dataset: { testid: 'root-key' }, text: keyText(r) })),
        r.serial ? row('Serial', h('code', { text: r.serial })) : '',
        row(
          'Held by',
          ns.collapsed
            ? h(
                'details',
                { class: 'root-namespaces', dataset: { testid: 'root-namespaces', count: ns.count, key: `ns:${r.fingerprint}` } },
                h('summary', { text: ns.text }),
                h('ul', { class: 'plain-list ns-list' }, ns.names.map((n) => h('li', { text: n }))),
              )
            : h('span', { dataset: { testid: 'root-namespaces', count: ns.count }, text: ns.text }),
        ),
      ),
    );
  }

  // caBlock: istiod's own root and signing chain expiry, where Prometheus has them.
  function caBlock(ca, now) {
    if (!ca.rootExpiry && !ca.chainExpiry) {
      return [
        h('h3', { text: 'istiod’s CA' }),
        h('p', { class: 'none', dataset: { testid: 'identity-ca', known: 'false' }, text: 'Prometheus has no figure of istiod’s CA (citadel_server_root_cert_expiry_timestamp).' }),
      ];
    }
    const line = (iso, testid) => (iso ? [when(iso), ' ', expiryTag(expiryView(iso, now, rootLimits(state.identity.data)), testid)] : h('span', { class: 'muted', text: 'unknown' }));
    return [
      h('h3', { text: 'istiod’s CA' }),
      h(
        'dl',
        { class: 'facts', dataset: { testid: 'identity-ca', known: 'true' } },
        row('Root certificate', line(ca.rootExpiry, 'ca-root-expiry')),
        row('Signing chain', line(ca.chainExpiry, 'ca-chain-expiry')),
      ),
    ];
  }

  // workloadsBlock: how many workloads there are, how many proxies report
  // their certificate's expiry, and the soonest of those.
  function workloadsBlock(workloads, data, now) {
    const known = workloads.filter((w) => isTime(w.certExpiry)).length;
    const soonest = soonestWorkloadCert(data);
    const left = soonest ? certLeftView(soonest.certExpiry, now, workloadLimits(data)) : null;
    return [
      h('h3', { text: 'Workload certificates' }),
      h(
        'p',
        { class: 'identity-workloads', dataset: { testid: 'identity-workloads', count: workloads.length, known } },
        `${workloads.length} workload${workloads.length === 1 ? '' : 's'}; the proxy certificate’s expiry is known for ${known}.`,
        soonest
          ? [' Soonest: ', h('button', { type: 'button', class: 'link', text: soonest.id || soonest.name, onclick: () => store.select({ kind: 'node', id: soonest.id }, { center: true }) }), ', ', expiryTag(left, 'identity-soonest-cert')]
          : '',
      ),
    ];
  }

  function inventory(data, now) {
    const aliases = data.trustDomainAliases;
    const findings = (state.snapshot?.findings || []).filter((f) => IDENTITY_KINDS.includes(f.kind));
    return [
      h(
        'dl',
        { class: 'facts' },
        row('Trust domain', h('code', { dataset: { testid: 'identity-trust-domain' }, text: data.trustDomain || 'unknown' })),
        row(
          'Aliases',
          aliases.length
            ? h('ul', { class: 'plain-list', dataset: { testid: 'identity-aliases', count: aliases.length } }, aliases.map((a) => h('li', {}, h('code', { text: a }))))
            : h('span', { class: 'muted', dataset: { testid: 'identity-aliases', count: 0 }, text: 'none' }),
        ),
      ),
      h('h3', { id: 'identity-roots-title', text: `Root certificates (${data.roots.length})` }),
      data.roots.length
        ? h('ul', { class: 'roots', 'aria-labelledby': 'identity-roots-title', dataset: { testid: 'identity-roots' } }, data.roots.map((r) => rootItem(r, now)))
        : h('p', { class: 'none', dataset: { testid: 'identity-roots' }, text: 'No root certificate: no istio-ca-root-cert ConfigMap the dashboard can read holds one.' }),
      caBlock(data.ca, now),
      workloadsBlock(data.workloads, data, now),
      h('h3', { text: 'Findings' }),
      findings.length
        ? h('ul', { class: 'findings findings-inline', dataset: { testid: 'identity-findings' } }, findings.map((f) => h('li', {}, findingButton(store, f))))
        : h('p', { class: 'none', dataset: { testid: 'identity-findings' }, text: 'No finding of identity or trust.' }),
    ];
  }

  function renderPanel() {
    const id = state.identity;
    panel.hidden = !id.open;
    button?.setAttribute('aria-expanded', String(id.open));
    panel.dataset.state = id.status;
    if (!id.open) return;
    const now = Date.now();
    const findingsKey = (state.snapshot?.findings || []).filter((f) => IDENTITY_KINDS.includes(f.kind)).map((f) => `${f.id}|${f.severity}|${f.message}`).join('\n');
    // The days left change by the minute at most: redrawn then, or when the answer or the findings change.
    const key = [id.status, id.error, id.at, Math.floor(now / 60000), findingsKey].join('\n');
    if (key === drawn) return;
    drawn = key;
    if (status) {
      const scope = state.namespaces.length ? ` Of the namespaces shown: ${state.namespaces.join(', ')}.` : '';
      status.textContent =
        id.status === 'loading'
          ? id.data
            ? 'Refreshing the trust inventory…'
            : 'Loading the trust inventory…'
          : id.data && id.at
            ? `As of ${formatWhen(new Date(id.at).toISOString(), { second: '2-digit' })}.${scope}`
            : '';
    }
    // Disclosures the person opened stay open across redraws.
    const open = new Set([...body.querySelectorAll('details[open]')].map((d) => d.dataset.key));
    const parts = [];
    if (id.status === 'error') {
      parts.push(
        h(
          'div',
          { class: 'identity-error' },
          h('p', { role: 'alert', dataset: { testid: 'identity-error' } }, `Could not load the trust inventory: ${id.error}`, id.data ? ' Showing the one loaded before.' : ''),
          h('button', { type: 'button', class: 'tool', dataset: { testid: 'identity-retry', focusKey: 'identity-retry' }, text: 'Try again', onclick: () => loader.retry(refreshOf()) }),
        ),
      );
    }
    if (id.data) parts.push(...inventory(id.data, now).flat(Infinity));
    keepFocus(body, () => body.replaceChildren(...parts));
    for (const d of body.querySelectorAll('details[data-key]')) if (open.has(d.dataset.key)) d.open = true;
  }

  function close() {
    const inside = panel.contains(document.activeElement);
    store.setIdentityOpen(false);
    if (inside) button?.focus();
  }

  button?.addEventListener('click', () => (state.identity.open ? close() : store.setIdentityOpen(true)));
  $('#identity-close')?.addEventListener('click', close);
  panel.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') {
      ev.preventDefault();
      close();
    }
  });

  store.subscribe('identity', (_, detail) => {
    if (detail.opened) loader.open(refreshOf());
    if (detail.closed) {
      loader.close();
      drawn = '';
    }
    renderPanel();
    renderBadge();
    if (detail.opened) {
      panel.scrollIntoView({ block: 'nearest' });
      panel.focus({ preventScroll: true });
    }
  });
  store.subscribe('snapshot', () => {
    if (state.identity.open) loader.refreshed(refreshOf());
    renderPanel();
    renderBadge();
  });
}
