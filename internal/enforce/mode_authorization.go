// Mode authorization: an ALLOW AuthorizationPolicy that lets in only the callers the graph has seen
// calling the target over the look-back (by principal, or by namespace where every workload of a
// namespace calls it), for a Service's pods or a whole namespace; as breaks every caller it would
// deny, judged by Istio's rules (internal/istio/authz_eval.go).

package enforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	securityapi "istio.io/api/security/v1beta1"
	typeapi "istio.io/api/type/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/istio"
	"github.com/meshlock/meshlock/internal/k8s"
)

// DryRunAnnotation is Istio's: an AuthorizationPolicy carrying it "true" is
// evaluated and logged but does not decide (istio/istio
// pilot/pkg/security/authz/builder/builder.go isDryRun, shadow rules).
const DryRunAnnotation = "istio.io/dry-run"

// hiddenNode is the node web's restricted graph puts in place of what a
// viewer may not see (web/visibility.go, Hidden).
const hiddenNode = "hidden"

// authorizationMode lets in only the callers seen: an ALLOW policy whose
// one rule lists their principals (from.source.principals) and the
// namespaces every workload of which calls the target
// (from.source.namespaces). An ALLOW policy that applies to a workload
// denies every request no ALLOW policy matches (Istio's order: CUSTOM, DENY,
// then ALLOW; pilot/pkg/security/authz/builder/builder.go), and a plaintext
// caller has no principal and no namespace, so it matches neither.
type authorizationMode struct{}

func (authorizationMode) Name() string { return ModeAuthorization }

func (authorizationMode) effect() string {
	return "an ALLOW AuthorizationPolicy of the callers seen"
}

// validate refuses scope mesh: one ALLOW policy in the root namespace
// would bind every workload of the mesh to the callers of all of them.
func (authorizationMode) validate(r Request) error {
	if r.Scope == ScopeMesh {
		return newError(ErrInvalid, "mode %s takes scope %s or %s: an ALLOW policy for the whole mesh would let every caller seen anywhere reach every workload, and deny the rest", ModeAuthorization, ScopeService, ScopeNamespace)
	}
	return nil
}

func (authorizationMode) warnings(_ context.Context, _ *Enforcer, _ k8s.Clients, req Request) ([]string, error) {
	if !req.PolicyDryRun {
		return nil, nil
	}
	return []string{fmt.Sprintf("policyDryRun: the policy carries %s: \"true\", so Istio only logs what it would deny (istio/istio pilot/pkg/security/authz/builder/builder.go, shadow rules) and denies nothing; enforce again without policyDryRun to make it bite", DryRunAnnotation)}, nil
}

// authzPlan is what the plan judged the callers with: the breaks, from the
// whole graph of the request's cluster (a policy computed from what one
// person may see would deny the callers they may not see).
type authzPlan struct {
	breaks []Break
}

// preview: the breaks the plan found, as the viewer may see them: those
// into nodes they may not see left out, a caller they may not see named
// "hidden".
func (authorizationMode) preview(s graph.Snapshot, _ Request, plan Result) ([]Break, []string) {
	out := []Break{}
	if plan.authz == nil {
		return out, nil
	}
	visible := map[string]bool{}
	for _, n := range s.Nodes {
		visible[n.ID] = true
	}
	hidden := map[string]int{} // the hidden callers of one target and protocol are one edge, as web draws them
	for _, b := range plan.authz.breaks {
		if !visible[b.Target] {
			continue
		}
		if !visible[b.Source] {
			b.Source = hiddenNode
			key := b.Target + " " + b.Protocol
			if i, ok := hidden[key]; ok {
				if out[i].Idle && !b.Idle {
					out[i] = b // the live one says more
				}
				continue
			}
			hidden[key] = len(out)
		}
		out = append(out, b)
	}
	return out, nil
}

// authzScope is what the policy is for.
type authzScope struct {
	namespace, name string
	service         string            // scope service: the Service
	selector        map[string]string // nil: every workload of the namespace
}

func (authorizationMode) plan(ctx context.Context, e *Enforcer, c k8s.Clients, req Request) (planned, error) {
	if e.opts.Graph == nil {
		return planned{}, errors.New("enforce: mode authorization needs the graph (Options.Graph), which this Enforcer was not given")
	}
	scope := authzScope{namespace: req.Namespace, name: "default"}
	if req.Scope == ScopeService {
		services, err := getServices(ctx, c, req)
		if err != nil {
			return planned{}, err
		}
		svc := services[0]
		if len(svc.selector) == 0 {
			return planned{}, newError(ErrInvalid, "Service %s/%s has no selector, so no AuthorizationPolicy can select its pods", svc.namespace, svc.name)
		}
		scope.name, scope.service, scope.selector = svc.name, svc.name, svc.selector
	} else if _, err := c.Kube.CoreV1().Namespaces().Get(ctx, req.Namespace, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		return planned{}, &enforceError{kind: ErrNotFound, cause: err, msg: fmt.Sprintf("namespace %s does not exist", req.Namespace)}
	}
	snap := e.opts.Graph()
	targets := authzTargets(snap, req, scope)
	allowed := foldNamespaces(seenPrincipals(snap, targets), snap, req.Cluster)

	list, err := c.Istio.SecurityV1().AuthorizationPolicies(scope.namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return planned{}, err
	}
	policies := slices.Clone(list.Items)
	slices.SortFunc(policies, func(a, b *securityv1.AuthorizationPolicy) int { return strings.Compare(a.Name, b.Name) })
	existing := managedPolicy(policies, scope)

	var step planStep
	var after *securityv1.AuthorizationPolicy
	if existing == nil {
		taken := map[string]bool{}
		for _, p := range policies {
			taken[p.Name] = true
		}
		after = &securityv1.AuthorizationPolicy{ObjectMeta: metav1.ObjectMeta{
			Name: freeName(scope.name, "allow", taken), Namespace: scope.namespace,
			Labels: map[string]string{ManagedByLabel: ManagedByValue}}}
		if req.PolicyDryRun {
			after.Annotations = map[string]string{DryRunAnnotation: "true"}
		}
		if len(scope.selector) > 0 {
			after.Spec.Selector = &typeapi.WorkloadSelector{MatchLabels: maps.Clone(scope.selector)}
		}
		after.Spec.Action = securityapi.AuthorizationPolicy_ALLOW
		after.Spec.Rules = allowed.rules()
		if step, err = createStep(KindAuthorizationPolicy, after); err != nil {
			return planned{}, err
		}
	} else {
		if step, after, err = mergePolicy(existing, allowed, req.PolicyDryRun); err != nil {
			return planned{}, err
		}
	}
	if step.change.Conflict == "" && len(after.Spec.GetRules()) == 0 {
		step.change.Conflict = "no caller with an identity was seen calling it, live or in the look-back, so an ALLOW policy would deny every request; meshlock does not write that"
	}

	// The policies Istio would weigh, before and after: the namespace's and
	// the root namespace's (pilot/pkg/model/authorization.go).
	before := slices.Clone(policies)
	if root := e.opts.RootNamespace; root != scope.namespace {
		rootList, err := c.Istio.SecurityV1().AuthorizationPolicies(root).List(ctx, metav1.ListOptions{})
		switch {
		case err == nil:
			before = append(before, rootList.Items...)
		case !apierrors.IsForbidden(err):
			return planned{}, err
		}
	}
	enforced := after.DeepCopy()
	delete(enforced.Annotations, DryRunAnnotation) // the breaks are what it denies once it bites
	afterAll := []*securityv1.AuthorizationPolicy{enforced}
	for _, p := range before {
		if existing == nil || p.Namespace != existing.Namespace || p.Name != existing.Name {
			afterAll = append(afterAll, p)
		}
	}
	labels := targetLabels(ctx, c, scope)
	breaks := authzBreaks(snap, req, scope, targets, labels, before, afterAll, e.opts.RootNamespace)
	return planned{steps: []planStep{step}, authz: &authzPlan{breaks: breaks}}, nil
}

// authzTargets are the nodes whose callers the policy is made from: the
// Service (scope service) or every node of the namespace, in the request's
// cluster.
func authzTargets(s graph.Snapshot, req Request, scope authzScope) map[string]graph.Node {
	out := map[string]graph.Node{}
	for _, n := range s.Nodes {
		if n.Cluster != req.Cluster || n.Namespace != scope.namespace {
			continue
		}
		switch {
		case scope.service != "":
			if n.Kind == graph.KindService && n.Name == scope.service {
				out[n.ID] = n
			}
		case n.Kind == graph.KindService || n.Kind == graph.KindWorkload || n.Kind == graph.KindGateway:
			out[n.ID] = n
		}
	}
	return out
}

// seenPrincipals are the principals (without "spiffe://", as a policy
// names them) of the edges into the targets, live and idle: each edge's
// principal, and those its caller's workloads presented (an edge keeps the
// busiest of them only).
func seenPrincipals(s graph.Snapshot, targets map[string]graph.Node) map[string]bool {
	nodes := map[string]graph.Node{}
	for _, n := range s.Nodes {
		nodes[n.ID] = n
	}
	seen := map[string]bool{}
	add := func(p string) {
		if p = strings.TrimPrefix(p, "spiffe://"); p != "" {
			seen[p] = true
		}
	}
	for _, e := range s.Edges {
		if _, ok := targets[e.Target]; !ok {
			continue
		}
		add(e.SourcePrincipal)
		if e.SourcePrincipal != "" {
			for _, p := range nodes[e.Source].ObservedPrincipals {
				add(p)
			}
		}
	}
	return seen
}

// allowSet is what the policy lets in.
type allowSet struct {
	principals []string // sorted
	namespaces []string // sorted
}

func (a allowSet) rules() []*securityapi.Rule {
	var from []*securityapi.Rule_From
	if len(a.principals) > 0 {
		from = append(from, &securityapi.Rule_From{Source: &securityapi.Source{Principals: slices.Clone(a.principals)}})
	}
	if len(a.namespaces) > 0 {
		from = append(from, &securityapi.Rule_From{Source: &securityapi.Source{Namespaces: slices.Clone(a.namespaces)}})
	}
	if len(from) == 0 {
		return nil
	}
	return []*securityapi.Rule{{From: from}}
}

// principalNamespace is the namespace of a principal "<td>/ns/<ns>/sa/<sa>",
// as Istio derives source.namespace from it; "" for another form.
func principalNamespace(p string) string {
	parts := strings.Split(p, "/")
	if len(parts) != 5 || parts[1] != "ns" || parts[3] != "sa" {
		return ""
	}
	return parts[2]
}

// foldNamespaces decides the rule: a namespace of the cluster with at
// least two workloads with an identity, every one of whose principals was
// seen calling, is allowed whole (from.source.namespaces: its next workload
// is let in too, as its neighbours are); any other caller by its principal.
// Principals of other namespaces (or forms) stay principals.
func foldNamespaces(seen map[string]bool, s graph.Snapshot, cluster string) allowSet {
	workloads, all := map[string]int{}, map[string]bool{}
	for _, w := range s.Identity.Workloads {
		if w.Cluster != cluster || w.ExpectedPrincipal == "" {
			continue
		}
		workloads[w.Namespace]++
		p := strings.TrimPrefix(w.ExpectedPrincipal, "spiffe://")
		if _, ok := all[w.Namespace]; !ok {
			all[w.Namespace] = true
		}
		if !seen[p] || principalNamespace(p) != w.Namespace {
			all[w.Namespace] = false
		}
	}
	var out allowSet
	folded := map[string]bool{}
	for ns, every := range all {
		if every && workloads[ns] >= 2 {
			folded[ns] = true
			out.namespaces = append(out.namespaces, ns)
		}
	}
	for p := range seen {
		if !folded[principalNamespace(p)] {
			out.principals = append(out.principals, p)
		}
	}
	slices.Sort(out.namespaces)
	slices.Sort(out.principals)
	return out
}

// managedPolicy is the policy meshlock wrote for this scope before, merged
// in place: labelled as meshlock's, named as it names them (the scope's
// name, or name-allow, name-allow-2, … when that was taken), an ALLOW
// selecting the same workloads. Any other policy is left alone.
func managedPolicy(policies []*securityv1.AuthorizationPolicy, scope authzScope) *securityv1.AuthorizationPolicy {
	ours := func(name string) bool {
		if name == scope.name || name == scope.name+"-allow" {
			return true
		}
		n, ok := strings.CutPrefix(name, scope.name+"-allow-")
		i, err := strconv.Atoi(n)
		return ok && err == nil && i >= 2
	}
	for _, p := range policies {
		if p.Labels[ManagedByLabel] == ManagedByValue && ours(p.Name) && p.Spec.GetAction() == securityapi.AuthorizationPolicy_ALLOW &&
			p.Spec.GetTargetRef() == nil && len(p.Spec.GetTargetRefs()) == 0 && p.Spec.GetProvider() == nil &&
			maps.Equal(p.Spec.GetSelector().GetMatchLabels(), scope.selector) {
			return p
		}
	}
	return nil
}

// mergePolicy plans the update of meshlock's own policy: its rule gains
// the callers seen now (it never loses one: a narrower policy is an undo
// and a new enforce away), and the dry-run annotation follows the request.
// A rule meshlock did not write (to, when, notPrincipals, …) is a conflict.
func mergePolicy(existing *securityv1.AuthorizationPolicy, seen allowSet, dryRun bool) (planStep, *securityv1.AuthorizationPolicy, error) {
	var conflicts []string
	principals, namespaces := map[string]bool{}, map[string]bool{}
	for _, p := range seen.principals {
		principals[p] = true
	}
	for _, ns := range seen.namespaces {
		namespaces[ns] = true
	}
	for _, r := range existing.Spec.GetRules() {
		if len(r.GetTo()) > 0 || len(r.GetWhen()) > 0 {
			conflicts = append(conflicts, "it has a rule with to or when, which meshlock does not write")
		}
		for _, f := range r.GetFrom() {
			src := f.GetSource()
			probe := &securityapi.Source{Principals: src.GetPrincipals(), Namespaces: src.GetNamespaces()}
			if data, _ := json.Marshal(src); string(data) != mustJSON(probe) {
				conflicts = append(conflicts, "it has a source with more than principals and namespaces, which meshlock does not write")
			}
			for _, p := range src.GetPrincipals() {
				principals[p] = true
			}
			for _, ns := range src.GetNamespaces() {
				namespaces[ns] = true
			}
		}
	}
	var merged allowSet
	for ns := range namespaces {
		merged.namespaces = append(merged.namespaces, ns)
	}
	for p := range principals {
		if !namespaces[principalNamespace(p)] {
			merged.principals = append(merged.principals, p)
		}
	}
	slices.Sort(merged.namespaces)
	slices.Sort(merged.principals)

	doc, err := toDoc(existing)
	if err != nil {
		return planStep{}, nil, err
	}
	b := &patchBuilder{doc: doc}
	probe := &securityv1.AuthorizationPolicy{}
	probe.Spec.Rules = merged.rules()
	want, err := toDoc(probe)
	if err != nil {
		return planStep{}, nil, err
	}
	spec, _ := doc["spec"].(map[string]any)
	wantSpec, _ := want["spec"].(map[string]any)
	if mustJSON(spec["rules"]) != mustJSON(wantSpec["rules"]) && len(conflicts) == 0 {
		if spec == nil {
			b.set(map[string]any{"rules": wantSpec["rules"]}, "spec")
		} else {
			b.set(wantSpec["rules"], "spec", "rules")
		}
	}
	value, annotated := existing.Annotations[DryRunAnnotation]
	switch {
	case dryRun && value != "true" && existing.Annotations == nil:
		b.set(map[string]any{DryRunAnnotation: "true"}, "metadata", "annotations")
	case dryRun && value != "true":
		b.set("true", "metadata", "annotations", DryRunAnnotation)
	case !dryRun && annotated && len(existing.Annotations) == 1:
		b.remove("metadata", "annotations") // an empty map left behind would differ from the YAML recorded
	case !dryRun && annotated:
		b.remove("metadata", "annotations", DryRunAnnotation)
	}
	after := &securityv1.AuthorizationPolicy{}
	if err := fromDoc(b.doc, after); err != nil {
		return planStep{}, nil, err
	}
	slices.Sort(conflicts)
	step, err := updateStep(KindAuthorizationPolicy, existing, after, b, slices.Compact(conflicts))
	return step, after, err
}

func mustJSON(v any) string {
	data, _ := json.Marshal(v)
	return string(data)
}

// targetLabels are the labels a Service's pods carry, per Service of the
// namespace with a selector: those of the first pod (by name) that the
// policy's selector also selects, else its first pod's, else the
// selector itself (no pod, or pods the request's identity may not list).
func targetLabels(ctx context.Context, c k8s.Clients, scope authzScope) map[string]map[string]string {
	out := map[string]map[string]string{}
	services, err := c.Kube.CoreV1().Services(scope.namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return out
	}
	var pods []corev1.Pod
	if list, err := c.Kube.CoreV1().Pods(scope.namespace).List(ctx, metav1.ListOptions{}); err == nil {
		pods = list.Items
		slices.SortFunc(pods, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	}
	for _, svc := range services.Items {
		selector := svc.Spec.Selector
		if len(selector) == 0 {
			continue
		}
		var first, shared map[string]string
		for _, p := range pods {
			if !istio.SelectorMatches(selector, p.Labels) {
				continue
			}
			if first == nil {
				first = p.Labels
			}
			if scope.selector != nil && istio.SelectorMatches(scope.selector, p.Labels) {
				shared = p.Labels
				break
			}
		}
		switch {
		case shared != nil:
			out[svc.Name] = shared
		case first != nil:
			out[svc.Name] = first
		default:
			out[svc.Name] = selector
		}
	}
	return out
}

// authzBreaks are the callers into the namespace's nodes that the policies
// let in before the change and deny after (istio.EvaluateAuthorization, as
// the server's proxy decides), with why; a decision that depends on what
// meshlock cannot see is a break too, said so. Every edge into the
// namespace is judged, not only the targets': other Services may select the
// same workloads, whose callers the policy does not list.
func authzBreaks(s graph.Snapshot, req Request, scope authzScope, targets map[string]graph.Node, labels map[string]map[string]string,
	before, after []*securityv1.AuthorizationPolicy, root string) []Break {
	nodes := map[string]graph.Node{}
	for _, n := range s.Nodes {
		nodes[n.ID] = n
	}
	out := []Break{}
	for _, e := range s.Edges {
		n, ok := nodes[e.Target]
		if !ok || n.Cluster != req.Cluster || n.Namespace != scope.namespace || n.Kind == graph.KindUnknown {
			continue
		}
		target := istio.AuthzTarget{Namespace: n.Namespace, Labels: labels[n.Name], Ambient: n.DataPlane == graph.DataPlaneAmbient,
			TrustDomain: s.TrustDomain, TrustDomainAliases: s.TrustDomainAliases}
		if n.Kind != graph.KindService {
			target.Labels = nil // a workload without a Service: its pods' labels are not known here
		}
		switch e.Protocol {
		case graph.ProtocolHTTP, graph.ProtocolGRPC:
			target.Protocol = istio.AuthzProtocolHTTP
		case graph.ProtocolTCP:
			target.Protocol = istio.AuthzProtocolTCP
		}
		caller := istio.AuthzRequest{Principal: e.SourcePrincipal}
		was := istio.EvaluateAuthorization(before, target, root, caller)
		now := istio.EvaluateAuthorization(after, target, root, caller)
		if now.Decision == istio.AuthzAllow || was.Decision == istio.AuthzDeny {
			continue
		}
		var reason string
		_, isTarget := targets[n.ID]
		switch {
		case e.SourcePrincipal == "":
			reason = "plaintext caller (no principal): an ALLOW policy by principals and namespaces denies it"
		case !isTarget && n.Kind == graph.KindService:
			reason = fmt.Sprintf("caller of Service %s, which selects the same workloads: the policy lists the callers of %s/%s only", n.Name, scope.namespace, scope.service)
		default:
			reason = fmt.Sprintf("principal %s was not seen calling it, so the policy does not list it", strings.TrimPrefix(e.SourcePrincipal, "spiffe://"))
		}
		if now.Decision == istio.AuthzConditional {
			reason = "may be denied, depending on what meshlock cannot see (" + strings.Join(now.Policies, ", ") + "): " + reason
		}
		out = append(out, newBreak(e, graph.LastSeen(e, s.GeneratedAt), reason))
	}
	slices.SortStableFunc(out, func(a, b Break) int {
		if c := strings.Compare(a.Target, b.Target); c != 0 {
			return c
		}
		return strings.Compare(a.Source, b.Source)
	})
	return out
}
