// meshlock's side panel for several clusters (issue 24): the note on what
// a cluster whose Kubernetes API is not answering still shows (the last
// good state), a button that shows a cluster, and a cluster's own panel:
// its API's state, its namespaces, the mTLS share of the traffic into it
// and its edges to other clusters. panel.js draws them in its panel.

import { h } from './dom.js';
import { clusterStaleText } from './cluster-words.mjs';
import { postureView } from './format.mjs';
import { clusterSource, namespaceKey, parseNamespaceKey, postureOf, staleClusters } from './model.mjs';

// createClusterPanel: row(label, ...value) is the panel's fact row.
export function createClusterPanel(store, { row }) {
  const { state } = store;

  // staleNote says that what is shown is the last good graph of a cluster
  // whose Kubernetes API is not answering (texts from cluster-words.mjs's staleTexts).
  function staleNote(texts) {
    if (!texts.length) return '';
    return h(
      'p',
      { class: 'stale-note', dataset: { testid: 'stale-note' } },
      h('span', { 'aria-hidden': 'true', text: '⏸ ' }),
      `${texts.join('; ')}: this is its last good state.`,
    );
  }

  // clusterLink shows a cluster in the panel.
  function clusterLink(cluster) {
    return h('button', {
      type: 'button',
      class: 'link',
      text: cluster,
      dataset: { testid: 'cluster-link', cluster },
      onclick: () => store.select({ kind: 'cluster', id: cluster }),
    });
  }

  // clusterParts: a cluster's panel (several clusters): its Kubernetes
  // API's state, its namespaces (each shown by a click) and the mTLS share
  // of the traffic into it.
  function clusterParts(title, cluster) {
    const s = state.snapshot;
    title.append(`${cluster} `, h('span', { class: 'tag', text: 'cluster' }));
    const nodes = s.nodes.filter((n) => n.cluster === cluster && n.kind !== 'unknown' && n.kind !== 'hidden');
    const src = clusterSource(s, cluster);
    const down = staleClusters(s).includes(cluster);
    const keys = [...new Set(nodes.map(namespaceKey))].sort();
    const ids = new Set(nodes.map((n) => n.id));
    const inbound = postureView(postureOf(s.edges.filter((e) => ids.has(e.target))));
    const crossing = s.edges.filter((e) => e.crossCluster === true && (ids.has(e.source) || ids.has(e.target))).length;
    return [
      down ? staleNote([clusterStaleText(cluster, s)]) : '',
      h(
        'dl',
        { class: 'facts', dataset: { testid: 'cluster-facts', cluster } },
        row(
          'Kubernetes API',
          h('span', {
            dataset: { testid: 'cluster-api', state: down ? 'down' : 'ok' },
            text: down ? `not answering${src?.error ? ` (${src.error})` : ''}` : 'answering',
          }),
        ),
        row(
          'Namespaces',
          keys.length
            ? keys.map((k, i) => [
                i ? ', ' : '',
                h('button', { type: 'button', class: 'link', text: parseNamespaceKey(k).namespace, onclick: () => store.select({ kind: 'namespace', id: k }) }),
              ])
            : 'none in the graph',
        ),
        row('Services and workloads', String(nodes.length)),
        row('Inbound mTLS', inbound.parts.length ? inbound.text : 'no traffic of known security'),
        row('Edges to other clusters', String(crossing)),
      ),
    ];
  }

  return { staleNote, clusterLink, clusterParts };
}
