// Several clusters on the write side (issue 24): which cluster's Enforcer and clients a request
// writes with, and the audit trails of every cluster read as one.

package web

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/meshlock/meshlock/internal/enforce"
	"github.com/meshlock/meshlock/internal/k8s"
)

// target is the write side and the actor's clients of the cluster a
// request names: with several clusters it must name one of them; with one,
// none.
func (h *handlers) target(actor Actor, cluster string) (Enforcer, k8s.Clients, error) {
	if len(h.opts.Enforcers) == 0 {
		if cluster != "" {
			return nil, k8s.Clients{}, fmt.Errorf("cluster %s: meshlock watches one cluster here, so a request names none", clip(cluster))
		}
		return h.opts.Enforcer, actor.Clients, nil
	}
	names := strings.Join(slices.Sorted(maps.Keys(h.opts.Enforcers)), ", ")
	if cluster == "" {
		return nil, k8s.Clients{}, fmt.Errorf("cluster is required: meshlock watches the clusters %s, and a change is made in one at a time", names)
	}
	enforcer, ok := h.opts.Enforcers[cluster]
	clients, haveClients := actor.ClusterClients[cluster]
	if !ok {
		return nil, k8s.Clients{}, fmt.Errorf("unknown cluster %s: the clusters are %s", clip(cluster), names)
	}
	if !haveClients {
		// Token mode: this cluster reviewed the token and said no (or
		// could not be asked), so nothing may be written there as them.
		return nil, k8s.Clients{}, fmt.Errorf("cluster %s %w: Kubernetes there does not know you, so meshlock cannot write there as you", clip(cluster), errClusterRefusedToken)
	}
	return enforcer, clients, nil
}

// clusterAction is an action of the audit trail and the cluster that
// keeps it ("" with one cluster).
type clusterAction struct {
	enforce.Action
	cluster string
}

// actions are the audit trails of every cluster, newest first within each
// cluster, the clusters in name order. A cluster whose trail cannot be read
// fails the whole answer: a list without it would hide its changes.
func (h *handlers) actions(r *http.Request) ([]clusterAction, error) {
	actor := actorOf(r)
	if len(h.opts.Enforcers) == 0 {
		list, err := h.opts.Enforcer.Actions(r.Context(), actor.Clients)
		out := make([]clusterAction, len(list))
		for i, a := range list {
			out[i] = clusterAction{Action: a}
		}
		return out, err
	}
	// Side by side: a slow API server delays the answer by its own time only.
	names := slices.Sorted(maps.Keys(h.opts.Enforcers))
	lists := make([][]enforce.Action, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		if _, ok := actor.ClusterClients[name]; !ok {
			continue // token mode: a cluster that did not accept the token is hidden, its trail too
		}
		wg.Go(func() {
			lists[i], errs[i] = h.opts.Enforcers[name].Actions(r.Context(), actor.ClusterClients[name])
		})
	}
	wg.Wait()
	var out []clusterAction
	for i, name := range names {
		if errs[i] != nil {
			return nil, fmt.Errorf("cluster %s: %w", name, errs[i])
		}
		for _, a := range lists[i] {
			a.Cluster = name // its namespaces are this cluster's (actionVisible)
			out = append(out, clusterAction{Action: a, cluster: name})
		}
	}
	return out, nil
}

// findAction reads the audit trails once for action id, with the cluster
// whose trail holds it ("" with one cluster); false when none does.
func (h *handlers) findAction(r *http.Request, id string) (clusterAction, bool, error) {
	actions, err := h.actions(r)
	if err != nil {
		return clusterAction{}, false, err
	}
	for _, a := range actions {
		if a.ID == id {
			return a, true, nil
		}
	}
	return clusterAction{}, false, nil
}

// clustersParam reads ?cluster=a,b: names of clusters (Istio cluster IDs,
// which a node id holds before its namespace, so never a "/"). A name no
// cluster has selects nothing, as a namespace no node is in does.
func clustersParam(r *http.Request) ([]string, error) {
	var out []string
	for _, value := range r.URL.Query()["cluster"] {
		for name := range strings.SplitSeq(value, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if len(out) == maxNamespacesParam {
				return nil, fmt.Errorf("at most %d clusters in cluster= (leave it out for all)", maxNamespacesParam)
			}
			if len(name) > 63 || strings.ContainsAny(name, "/ \t") || !utf8.ValidString(name) {
				return nil, fmt.Errorf("invalid cluster %s: a cluster ID has no / or spaces and at most 63 characters", quoteInput(name))
			}
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// clusterKey is the part of a view's cache key that ?cluster= selects.
func clusterKey(clusters []string) string {
	if len(clusters) == 0 {
		return ""
	}
	return "|cl=" + strings.Join(clusters, ",")
}
