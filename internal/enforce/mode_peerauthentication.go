// Mode peerauthentication: mTLS by PeerAuthentication. STRICT for the mesh, a namespace or a
// Service's pods, merged into the policy of that name or created, checked to be the one Istio picks;
// as breaks the plaintext callers STRICT would refuse.

package enforce

import (
	"context"
	"fmt"
	"maps"
	"slices"

	securityapi "istio.io/api/security/v1beta1"
	typeapi "istio.io/api/type/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/istio"
	"github.com/meshlock/meshlock/internal/k8s"
)

// peerAuthenticationMode makes servers refuse plaintext: mtls STRICT.
type peerAuthenticationMode struct{}

func (peerAuthenticationMode) Name() string { return ModePeerAuthentication }

func (peerAuthenticationMode) effect() string { return "STRICT mTLS" }

func (peerAuthenticationMode) validate(Request) error { return nil }

func (peerAuthenticationMode) plan(ctx context.Context, e *Enforcer, c k8s.Clients, req Request) (planned, error) {
	steps, err := e.planPeerAuthentication(ctx, c, req)
	return planned{steps: steps}, err
}

func (peerAuthenticationMode) warnings(context.Context, *Enforcer, k8s.Clients, Request) ([]string, error) {
	return nil, nil
}

// preview: plaintext callers into servers turning STRICT. With several
// clusters, a PeerAuthentication binds the servers of its own cluster,
// whoever calls them.
func (peerAuthenticationMode) preview(s graph.Snapshot, req Request, _ Result) ([]Break, []string) {
	out := []Break{}
	for _, n := range servicesInScope(s, req, true) {
		if !n.InMesh {
			continue // no sidecar enforces STRICT there
		}
		for _, e := range graph.CallersCutByStrict(s, n.ID) {
			out = append(out, newBreak(e, graph.LastPlaintext(e, s.GeneratedAt), "plaintext caller: STRICT refuses it"))
		}
	}
	return out, nil
}

func (e *Enforcer) planPeerAuthentication(ctx context.Context, c k8s.Clients, req Request) ([]planStep, error) {
	var ns, name, decideNS string
	var selector map[string]string
	switch req.Scope {
	case ScopeMesh:
		ns, name = e.opts.RootNamespace, "default"
	case ScopeNamespace:
		ns, name, decideNS = req.Namespace, "default", req.Namespace
		if _, err := c.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			return nil, &enforceError{kind: ErrNotFound, cause: err, msg: fmt.Sprintf("namespace %s does not exist", ns)}
		}
	case ScopeService:
		services, err := getServices(ctx, c, req)
		if err != nil {
			return nil, err
		}
		svc := services[0]
		if len(svc.selector) == 0 {
			return nil, newError(ErrInvalid, "Service %s/%s has no selector, so no PeerAuthentication can select its pods", svc.namespace, svc.name)
		}
		ns, name, decideNS, selector = svc.namespace, svc.name, svc.namespace, svc.selector
	}
	list, err := c.Istio.SecurityV1().PeerAuthentications(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var existing *securityv1.PeerAuthentication
	for _, pa := range list.Items {
		if pa.Name == name {
			existing = pa
		}
	}

	var step planStep
	var planned *securityv1.PeerAuthentication
	if existing == nil {
		planned = &securityv1.PeerAuthentication{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{ManagedByLabel: ManagedByValue}},
		}
		if len(selector) > 0 {
			planned.Spec.Selector = &typeapi.WorkloadSelector{MatchLabels: maps.Clone(selector)}
		}
		planned.Spec.Mtls = &securityapi.PeerAuthentication_MutualTLS{Mode: securityapi.PeerAuthentication_MutualTLS_STRICT}
		if step, err = createStep(KindPeerAuthentication, planned); err != nil {
			return nil, err
		}
	} else {
		doc, err := toDoc(existing)
		if err != nil {
			return nil, err
		}
		b := &patchBuilder{doc: doc}
		var conflicts []string
		if have := existing.Spec.GetSelector().GetMatchLabels(); !maps.Equal(have, selector) {
			conflicts = append(conflicts, fmt.Sprintf("it selects %s, not %s", describeSelector(have), describeSelector(selector)))
		}
		strict := securityapi.PeerAuthentication_MutualTLS_STRICT.String()
		switch {
		case existing.Spec.GetMtls() == nil:
			b.set(map[string]any{"mode": strict}, "spec", "mtls")
		case existing.Spec.GetMtls().GetMode() != securityapi.PeerAuthentication_MutualTLS_STRICT:
			b.set(strict, "spec", "mtls", "mode")
		}
		ports := slices.Sorted(maps.Keys(existing.Spec.GetPortLevelMtls()))
		for _, port := range ports {
			switch mode := existing.Spec.GetPortLevelMtls()[port].GetMode(); mode {
			case securityapi.PeerAuthentication_MutualTLS_DISABLE, securityapi.PeerAuthentication_MutualTLS_PERMISSIVE:
				conflicts = append(conflicts, fmt.Sprintf("port %d is set to %s", port, mode))
			}
		}
		planned = &securityv1.PeerAuthentication{}
		if err := fromDoc(b.doc, planned); err != nil {
			return nil, err
		}
		if step, err = updateStep(KindPeerAuthentication, existing, planned, b, conflicts); err != nil {
			return nil, err
		}
	}

	// Within a level the oldest policy wins: make sure the planned one decides.
	if step.change.Conflict == "" {
		decider := planned.DeepCopy()
		if existing == nil {
			decider.CreationTimestamp = metav1.NewTime(e.opts.Now())
		}
		policies := []*securityv1.PeerAuthentication{decider}
		for _, pa := range list.Items {
			if pa.Name != name {
				policies = append(policies, pa)
			}
		}
		mode, source := istio.EffectivePeerAuthentication(policies, e.opts.RootNamespace, decideNS, selector, 0)
		if source == nil || source.Name != name || mode != istio.PeerModeStrict {
			who := "no policy"
			if source != nil {
				who = fmt.Sprintf("PeerAuthentication %s/%s", source.Namespace, source.Name)
			}
			step.change.Conflict = fmt.Sprintf("%s is older at the same level and decides the mode (%s), so %s/%s would have no effect", who, mode, ns, name)
		}
	}
	return []planStep{step}, nil
}
