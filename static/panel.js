// meshlock's side panel: the details of what is selected (an edge, a
// service or workload, a namespace, a finding) in words, with the findings
// that name it and, with --allow-enforce, the buttons that open the enforce
// dialog for its service and namespace; for an edge, what the look-back
// saw of it and its history chart (history.js); for a workload or a service,
// who its workloads should be (their SPIFFE ids), who they were seen as and
// their proxy certificate's time left. With several clusters: each one's
// cluster, an edge between clusters ("crosses clusters west → east"), a
// cluster's part whose Kubernetes API is not answering (stale), and a
// cluster itself (its namespaces, its API's state). Redrawn with every snapshot.

import { $, h, icon, keepFocus, page } from './dom.js';
import { findingButton, SEV_ICON } from './findings.js';
import { nodeIdentityRows, principalRow } from './identity.js';
import { ROOT_KINDS, mismatchEnds } from './trust.mjs';
import {
  GATEWAY_PEER_AUTH_TEXT,
  badgeFor,
  callerTLSText,
  destinationRuleText,
  displayName,
  formatPercent,
  formatRate,
  historyView,
  lookbackSpan,
  mtlsText,
  nodeName,
  peerAuthText,
  portText,
  postureView,
  statusPhrase,
  tlsFailureText,
  refusedText,
} from './format.mjs';
import { authzText, deniedText } from './access.mjs';
import { clusterStaleText, staleTexts } from './cluster-words.mjs';
import { createClusterPanel } from './cluster-panel.js';
import { createHistory } from './history.js';
import {
  STATUSES,
  clusterOf,
  crossClusterText,
  findingsForEdge,
  findingsForNode,
  idleCount,
  isIdle,
  namespaceKey,
  parseNamespaceKey,
  postureOf,
  staleClusters,
  traffic,
} from './model.mjs';
import { NS_PREFIX, linkEdges, namespaceName, parseLinkID, summary } from './overview.mjs';

// DATA_PLANE_FACTS says how a node's pods meet the mesh.
const DATA_PLANE_FACTS = {
  sidecar: "sidecar: every pod has Istio's proxy beside it",
  ambient: "ambient: its node's ztunnel carries every pod's traffic (mTLS between ambient workloads, no sidecar)",
  waypoint: 'waypoint: the L7 proxy in front of ambient workloads',
  none: 'none: not every pod is in the mesh',
};

// createPanel draws #side-panel; request is the API client (the history).
export function createPanel(store, { request }) {
  const { state } = store;
  const history = createHistory({ request });

  function row(label, ...value) {
    return [h('dt', {}, label), h('dd', {}, ...value)];
  }
  const { staleNote, clusterLink, clusterParts } = createClusterPanel(store, { row });

  function nodeLink(id) {
    return h('button', {
      type: 'button',
      class: 'link',
      text: nodeName(id, state.nodesById),
      title: id,
      onclick: () => store.select({ kind: 'node', id }, { center: true }),
    });
  }

  function findingsBlock(list) {
    if (!list.length) return h('p', { class: 'none', text: 'No findings name it.' });
    return h('ul', { class: 'findings findings-inline' }, list.map((f) => h('li', {}, findingButton(store, f))));
  }

  function shareText(share) {
    return share === null ? 'security not known' : `${formatPercent(share)} mTLS`;
  }

  // enforceButton opens the enforce dialog for a namespace or a service
  // (of a cluster, with several: the enforce request names it).
  function enforceButton(scope, namespace, service, text, cluster = '') {
    const dataset = { testid: `enforce-${scope}`, enforce: scope, namespace, focusKey: `enforce:${scope}:${cluster ? `${cluster}/` : ''}${namespace}/${service || ''}` };
    if (service) dataset.service = service;
    if (cluster) dataset.cluster = cluster;
    return h('button', { type: 'button', class: 'enforce-btn', 'aria-haspopup': 'dialog', dataset }, icon('locked'), text);
  }

  // enforceBlock offers enforcing mTLS on a node's service and namespace
  // (nothing without --allow-enforce, for the unknown caller, or outside a namespace).
  function enforceBlock(n, { service = true } = {}) {
    if (!page.allowEnforce || !n || n.kind === 'unknown' || !n.namespace) return '';
    return h(
      'div',
      { class: 'enforce-actions' },
      service && n.kind === 'service' ? enforceButton('service', n.namespace, n.name, `Enforce mTLS on ${n.name}${n.cluster ? ` in cluster ${n.cluster}` : ''}`, n.cluster || '') : '',
      enforceButton('namespace', n.namespace, '', `Enforce mTLS on ${namespaceName(namespaceKey(n))}`, n.cluster || ''),
    );
  }

  // edgeClientTLS is what the edge's caller sends: the target's mode, or, when
  // its callers differ (VARIES), this caller's entry.
  // accessBlock: the target's AuthorizationPolicies' decision for this
  // caller, the deciding policies, and the dry-run ones that would change it.
  function accessBlock(e) {
    const a = e.authorization;
    if (!a) return h('span', { class: 'muted', dataset: { testid: 'edge-access' }, text: 'allowed: no AuthorizationPolicy in its cluster (or not judged)' });
    const cls = a.decision === 'deny' ? 'status status-open' : a.decision === 'conditional' ? 'status status-mixed' : 'status status-locked';
    return h(
      'span',
      { dataset: { testid: 'edge-access', decision: a.decision } },
      h('span', { class: cls, text: authzText(e) }),
      a.dryRun?.length ? h('span', { class: 'muted', text: ` — in dry run, would change it: ${a.dryRun.join(', ')}` }) : '',
    );
  }

  function edgeClientTLS(e, dst) {
    if (dst?.destinationRuleTLS !== 'VARIES') return destinationRuleText(dst?.destinationRuleTLS);
    const c = (dst.callerTLS || []).find((x) => x.caller === e.source);
    if (!c) return 'varies by caller (see the target)';
    return c.rule ? `${destinationRuleText(c.tls)} (${c.rule})` : destinationRuleText(c.tls);
  }

  // lookbackRows: when the look-back last saw the edge, when traffic not
  // proven mTLS last was, and its volume; or why it knows nothing of it.
  function lookbackRows(e, lb) {
    if (!lb || lb.state === 'off') return [];
    const v = historyView(e, lb, Date.now());
    if (!v) {
      // A live edge can be newer than the look-back's last read.
      const none = lb.state === 'loading' ? 'still loading: nothing known of this edge yet' : 'nothing recorded of this edge yet';
      return row('Look-back', h('span', { class: 'muted', dataset: { testid: 'edge-no-history' }, text: none }));
    }
    const when = (x, testid) => (x.datetime ? h('time', { datetime: x.datetime, title: x.title, dataset: { testid }, text: x.text }) : h('span', { dataset: { testid }, text: x.text }));
    return [
      ...row('Last seen', when(v.lastSeen, 'edge-last-seen')),
      ...row(h('span', { title: 'Traffic not proven mutual TLS: plaintext, or of unknown security' }, 'Plaintext last seen'), when(v.plaintext, 'edge-plaintext-last-seen')),
      ...row('Volume', h('span', { dataset: { testid: 'edge-volume' }, text: v.volume })),
    ];
  }

  // namespaceToggle expands or collapses a namespace (by its key) of a collapsed graph.
  function namespaceToggle(ns) {
    const open = state.expanded?.has(ns);
    const { cluster, namespace } = parseNamespaceKey(ns);
    const name = cluster ? `${namespace} (cluster ${cluster})` : namespace;
    return h('button', {
      type: 'button',
      class: 'tool',
      'aria-expanded': String(!!open),
      dataset: { testid: 'namespace-toggle', namespace, ...(cluster ? { cluster } : {}), focusKey: `ns-toggle:${ns}` },
      text: open ? `Collapse ${name} in the graph` : `Expand ${name} in the graph`,
      onclick: () => store.toggleNamespace(ns, !open),
    });
  }

  function render() {
    const panel = $('#side-panel');
    if (!panel) return;
    const s = state.snapshot;
    const sel = state.selected;
    const title = h('h2', { id: 'side-title' });
    const parts = [title];
    panel.dataset.kind = sel?.kind || '';
    panel.dataset.id = sel?.id || '';
    if (!sel || !s) {
      title.textContent = 'Details';
      parts.push(h('p', { class: 'hint', text: 'Select an edge or a service in the graph, the table or the findings to see how its traffic is secured.' }));
    } else if (sel.kind === 'edge') {
      const e = state.edgesById.get(sel.id);
      if (!e) {
        title.textContent = 'Details';
        parts.push(h('p', { class: 'hint', text: `${sel.id} is no longer in the graph.` }));
      } else {
        const b = badgeFor(e, state.nodesById);
        title.append(`${nodeName(e.source, state.nodesById)} → ${nodeName(e.target, state.nodesById)} `, h('span', { class: 'tag', text: e.protocol.toUpperCase() }));
        const dst = state.nodesById.get(e.target);
        const failing = tlsFailureText(e);
        const refused = refusedText(e);
        const idle = isIdle(e);
        const lb = s.lookback;
        const ends = mismatchEnds(e, s.findings);
        const cross = crossClusterText(e, state.nodesById);
        const fromCluster = clusterOf(e.source, state.nodesById);
        const toCluster = clusterOf(e.target, state.nodesById);
        parts.push(
          staleNote(staleTexts(e, s, state.nodesById)),
          failing
            ? h('p', { class: 'tls-failure', role: 'alert', dataset: { testid: 'edge-tls-failure' } }, h('span', { 'aria-hidden': 'true', text: '⚠ ' }), failing)
            : '',
          refused
            ? h('p', { class: 'tls-failure', role: 'alert', dataset: { testid: 'edge-refused' } }, h('span', { 'aria-hidden': 'true', text: '⛔ ' }),
                `${refused}: the destination's policy (STRICT in ambient mode) turns these connections away; nothing of them reaches it`)
            : '',
          deniedText(e)
            ? h('p', { class: 'tls-failure', role: 'alert', dataset: { testid: 'edge-denied' } }, h('span', { 'aria-hidden': 'true', text: '⊘ ' }),
                `${deniedText(e)}: the destination's AuthorizationPolicies turn these callers away`)
            : '',
          h(
            'dl',
            { class: 'facts' },
            row(
              'Status',
              h('span', { class: `status status-${b.status}` }, icon(b.status), ` ${statusPhrase(e)}`),
              idle ? h('span', { class: 'muted', text: ' (its traffic in the look-back)' }) : '',
            ),
            idle
              ? row('Rate', h('span', { class: 'tag tag-idle', dataset: { testid: 'edge-idle' }, text: 'idle' }), ` no traffic in the last ${s.window || '?'}`)
              : row('Rate', `${formatRate(e.rate, e.protocol)} (window ${s.window || '?'})`, e.protocol === 'tcp' ? h('span', { class: 'muted', text: ' bytes sent and received' }) : ''),
            row('mTLS share', mtlsText(e)),
            lookbackRows(e, lb),
            row('Protocol', e.protocol),
            row('From', nodeLink(e.source)),
            row('To', nodeLink(e.target)),
            cross
              ? row('Clusters', h('span', { class: 'tag tag-cross', dataset: { testid: 'edge-cross-cluster' }, text: cross }))
              : fromCluster || toCluster
                ? row('Cluster', h('span', { dataset: { testid: 'edge-cluster' } }, clusterLink(toCluster || fromCluster)))
                : '',
            principalRow(row, 'Client', e.sourcePrincipal, ends.has('client'), state.nodesById.get(e.source)),
            principalRow(row, 'Server', e.destinationPrincipal, ends.has('server'), state.nodesById.get(e.target)),
            row('Client TLS', edgeClientTLS(e, dst)),
            row('Server PeerAuth', !dst ? '—' : dst.kind === 'gateway' ? GATEWAY_PEER_AUTH_TEXT : peerAuthText(dst.peerAuthentication)),
            row('Access', accessBlock(e)),
          ),
          // The chart is asked for once per edge opened, not per snapshot.
          lb && lb.state !== 'off' ? history.element(e.id, { heading: `Over the look-back (${lookbackSpan(lb) || lb.window})` }) : '',
          h('h3', { text: 'Findings' }),
          findingsBlock(findingsForEdge(s, e.id)),
          enforceBlock(dst),
        );
      }
    } else if (sel.kind === 'node') {
      const n = state.nodesById.get(sel.id);
      if (!n) {
        title.textContent = 'Details';
        parts.push(h('p', { class: 'hint', text: `${sel.id} is no longer in the graph.` }));
      } else {
        title.append(`${displayName(n)} `, h('span', { class: 'tag', text: n.kind }));
        const facts = [];
        parts.push(staleNote(staleTexts(n, s, state.nodesById)));
        if (n.kind === 'unknown') {
          facts.push(row('What', 'Callers Istio could not identify: from outside the mesh, or without a sidecar.'));
        } else {
          const gateway = n.kind === 'gateway';
          const callers = n.destinationRuleTLS === 'VARIES' ? n.callerTLS || [] : [];
          if (n.cluster) facts.push(row('Cluster', h('span', { dataset: { testid: 'node-cluster' } }, clusterLink(n.cluster))));
          facts.push(
            row('Namespace', n.namespace),
            row('PeerAuthentication', h('span', { dataset: { testid: 'node-peerauth' }, text: gateway ? GATEWAY_PEER_AUTH_TEXT : peerAuthText(n.peerAuthentication) })),
            row('Data plane', h('span', { dataset: { testid: 'node-dataplane' }, text: DATA_PLANE_FACTS[n.dataPlane] || (n.inMesh ? 'every pod is in the mesh' : 'none: not every pod is in the mesh') })),
            row(
              'DestinationRule TLS',
              destinationRuleText(n.destinationRuleTLS),
              callers.length ? h('ul', { class: 'plain-list', dataset: { testid: 'caller-tls' } }, callers.map((c) => h('li', { text: callerTLSText(c) }))) : '',
            ),
          );
          // The snapshot names the trust domain and its aliases; the inventory, when loaded, too.
          facts.push(...nodeIdentityRows(row, n, state.identity.data || state.snapshot));
          if (n.kind === 'service' || n.kind === 'gateway') {
            const aps = n.authorizationPolicies || [];
            facts.push(
              row(
                'AuthorizationPolicies',
                h('span', { dataset: { testid: 'node-authz' }, text: aps.length ? aps.join(', ') : 'none applies: every caller is allowed' }),
              ),
            );
          }
          if ((n.ports || []).length) {
            facts.push(
              row('Ports', h('ul', { class: 'plain-list', dataset: { testid: 'node-ports' } }, n.ports.map((p) => h('li', { dataset: { testid: 'node-port' }, text: portText(p, gateway) })))),
            );
          }
        }
        for (const [dir, label] of [
          ['in', 'Inbound'],
          ['out', 'Outbound'],
        ]) {
          const t = traffic(s, n.id, dir);
          const idleN = idleCount(s, n.id, dir);
          facts.push(
            row(
              label,
              t.length ? t.map((x, i) => [i ? '; ' : '', `${formatRate(x.rate, x.protocol)}, ${shareText(x.share)} (${x.edges} edge${x.edges === 1 ? '' : 's'})`]) : 'none',
              // Idle edges carry nothing now; they matter to what enforcing would cut.
              idleN ? h('span', { class: 'muted', text: `; ${idleN} idle (seen in the look-back only)` }) : '',
            ),
          );
        }
        parts.push(h('dl', { class: 'facts' }, facts), h('h3', { text: 'Findings' }), findingsBlock(findingsForNode(s, n.id)), enforceBlock(n));
      }
    } else if (sel.kind === 'namespace') {
      // Its id is its key: "<cluster>/<namespace>" with several clusters.
      const key = sel.id;
      const { cluster, namespace: ns } = parseNamespaceKey(key);
      const nodes = s.nodes.filter((n) => namespaceKey(n) === key);
      title.append(`${ns} `, h('span', { class: 'tag', text: 'namespace' }));
      if (cluster) {
        parts.push(
          staleClusters(s).includes(cluster) ? staleNote([clusterStaleText(cluster, s)]) : '',
          h('p', { class: 'ns-in-cluster' }, 'In cluster ', h('span', { dataset: { testid: 'namespace-cluster' } }, clusterLink(cluster))),
        );
      }
      if (!nodes.length) {
        parts.push(h('p', { class: 'hint', text: `No service of ${namespaceName(key)} is in the graph.` }));
      } else {
        const ids = new Set(nodes.map((n) => n.id));
        const inbound = postureView(postureOf(s.edges.filter((e) => ids.has(e.target))));
        parts.push(
          h(
            'dl',
            { class: 'facts' },
            row('Services', nodes.map((n, i) => [i ? ', ' : '', nodeLink(n.id)])),
            row('Inbound mTLS', inbound.parts.length ? inbound.text : 'no traffic of known security'),
          ),
        );
      }
      // A collapsed graph (a big mesh): the namespace opens and closes here too.
      if (state.expanded && nodes.length) parts.push(namespaceToggle(key));
      if (page.allowEnforce) parts.push(h('div', { class: 'enforce-actions' }, enforceButton('namespace', ns, '', `Enforce mTLS on ${namespaceName(key)}`, cluster)));
    } else if (sel.kind === 'cluster') {
      parts.push(...clusterParts(title, sel.id));
    } else if (sel.kind === 'link') {
      // The edges between two ends of which one at least is a collapsed namespace.
      const ends = parseLinkID(sel.id);
      const list = linkEdges(s, sel.id, state.expanded, state.nodesById);
      const endName = (id) => (id.startsWith(NS_PREFIX) ? namespaceName(id.slice(NS_PREFIX.length)) : nodeName(id, state.nodesById));
      title.append(ends ? `${endName(ends.source)} → ${endName(ends.target)} ` : 'Edges ', h('span', { class: 'tag', text: 'edges' }));
      if (!list.length) parts.push(h('p', { class: 'hint', text: 'These edges are no longer in the graph.' }));
      else {
        const sum = summary(list);
        const share = postureView(sum.posture);
        parts.push(
          h(
            'dl',
            { class: 'facts' },
            row(
              'Status',
              h('span', { class: `status status-${sum.status}`, dataset: { testid: 'link-status' } }, icon(sum.status), ` ${sum.status}`),
            ),
            row('Edges', h('span', { dataset: { testid: 'link-edges' }, text: `${list.length}: ${STATUSES.map((st) => `${sum.counts[st]} ${st}`).join(', ')}` })),
            row('mTLS share', share.parts.length ? share.text : 'no traffic of known security'),
          ),
          h(
            'div',
            { class: 'enforce-actions' },
            [ends?.source, ends?.target].filter((id) => id?.startsWith(NS_PREFIX)).map((id) => namespaceToggle(id.slice(NS_PREFIX.length))),
          ),
        );
      }
    } else if (sel.kind === 'finding') {
      const f = s.findings.find((x) => x.id === sel.id);
      title.textContent = 'Finding';
      if (!f) parts.push(h('p', { class: 'hint', text: 'This finding no longer applies.' }));
      else {
        parts.push(
          h('p', { class: `sev-line sev-${f.severity}` }, h('span', { class: 'sev', text: `${SEV_ICON[f.severity] || 'ℹ'} ${f.severity}` }), ' ', f.message),
          (f.objects || []).length ? h('dl', { class: 'facts' }, row('Objects', (f.objects || []).join(', '))) : '',
          // A root certificate's finding names ConfigMaps only: the identity panel shows the roots.
          ROOT_KINDS.includes(f.kind)
            ? h('button', {
                type: 'button',
                class: 'tool',
                'aria-controls': 'identity-panel',
                dataset: { testid: 'finding-open-identity', focusKey: 'finding-open-identity' },
                text: 'Show the root certificates',
                onclick: () => {
                  if (!state.identity.open) store.setIdentityOpen(true);
                  const p = $('#identity-panel');
                  p?.scrollIntoView({ block: 'nearest' });
                  p?.focus({ preventScroll: true });
                },
              })
            : '',
        );
      }
    }
    // The panel is redrawn with every snapshot: the focus stays on the same button.
    keepFocus(panel, () => panel.replaceChildren(...parts));
  }


  store.subscribe('snapshot', render);
  store.subscribe('grouping', render);
  // The trust domain's aliases (the identity panel's answer) tell an alias from a mismatch.
  let aliasesOf = null;
  store.subscribe('identity', () => {
    if (state.identity.data === aliasesOf) return;
    aliasesOf = state.identity.data;
    if (state.selected?.kind === 'node') render();
  });
  store.subscribe('selection', () => {
    render();
    if (state.selected && window.matchMedia('(max-width: 899px)').matches) {
      $('#side-panel')?.scrollIntoView({ block: 'nearest' });
    }
  });
}
