// AuthorizationPolicy evaluation for one edge of the graph: what a server's proxy decides for a
// caller known only by its peer principal and the port it reaches, as istiod's RBAC config makes
// Envoy decide (istio/istio pilot/pkg/security/authz/).

package istio

import (
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	securityapi "istio.io/api/security/v1beta1"
	typeapi "istio.io/api/type/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
)

// Decisions of EvaluateAuthorization.
const (
	AuthzAllow       = "allow"
	AuthzDeny        = "deny"
	AuthzConditional = "conditional" // depends on what meshlock cannot see (HTTP request, IPs, JWT, ext authz)
)

// Protocols of the server's inbound filter chain (AuthzTarget.Protocol).
const (
	AuthzProtocolUnknown = ""     // sniffed: HTTP or TCP chain, decided per connection
	AuthzProtocolHTTP    = "http" // HTTP RBAC filter
	AuthzProtocolTCP     = "tcp"  // network RBAC filter
)

// AuthzTarget is the server workload a caller reaches.
type AuthzTarget struct {
	Namespace string
	Labels    map[string]string
	// Protocol is the inbound chain's protocol: on a TCP chain istiod drops
	// HTTP-only fields (pilot/pkg/security/authz/model/generator.go "HTTP
	// only" errors), so they no longer make a decision conditional.
	Protocol string
	// Ambient: served by ztunnel with no waypoint. Sidecar semantics
	// otherwise (including Gateway API gateway pods).
	Ambient bool
	// TrustDomain (default "cluster.local") and TrustDomainAliases are the
	// mesh config's, which istiod rewrites principals with
	// (pilot/pkg/security/trustdomain/bundle.go).
	TrustDomain        string
	TrustDomainAliases []string
}

// AuthzRequest is what meshlock knows of a caller on an edge.
type AuthzRequest struct {
	// Principal is the caller's peer identity, "td/ns/<ns>/sa/<sa>" (a
	// "spiffe://" prefix is accepted); "" for plaintext. Istio derives
	// source.namespace from it, so the namespace is not a separate field.
	Principal string
	// Port is the server's container port (destination.port inbound).
	Port int32
}

// AuthzDecision is the outcome for one caller.
type AuthzDecision struct {
	Decision string
	// Policies are the deciding policies, "<ns>/<name>", sorted: the DENY
	// that matched, the ALLOW that matched, every ALLOW when none matched,
	// the policies whose match is conditional. Empty when nothing applies.
	Policies []string
	// DryRun lists the istio.io/dry-run policies that, enforced, would change Decision.
	DryRun []string
}

// EvaluateAuthorization decides whether the target's proxy lets req through,
// following istiod's selection (pilot/pkg/model/authorization.go
// ListAuthorizationPolicies, policyattachment.go ShouldAttachPolicy) and
// Envoy RBAC order (pilot/pkg/security/authz/builder/builder.go): CUSTOM,
// then DENY, then ALLOW; AUDIT never decides.
func EvaluateAuthorization(policies []*securityv1.AuthorizationPolicy, target AuthzTarget, root string, req AuthzRequest) AuthzDecision {
	if root == "" {
		root = DefaultRootNamespace
	}
	td := target.TrustDomain
	if td == "" {
		td = clusterDomain
	}
	e := &authzEval{req: req, trustDomains: append([]string{td}, target.TrustDomainAliases...), ambient: target.Ambient}
	if p := strings.TrimPrefix(req.Principal, "spiffe://"); p != "" {
		e.uri = "spiffe://" + p
	}
	var applied []*securityv1.AuthorizationPolicy
	for _, p := range policies {
		if authzApplies(p, target, root) {
			applied = append(applied, p)
		}
	}
	// An unknown protocol is sniffed per connection: the decision holds only if both chains agree.
	chains := []bool{false, true}
	switch {
	case target.Ambient || target.Protocol == AuthzProtocolTCP:
		chains = []bool{true}
	case target.Protocol == AuthzProtocolHTTP:
		chains = []bool{false}
	}
	var out AuthzDecision
	for i, forTCP := range chains {
		d := e.decideChain(applied, forTCP)
		if i == 0 {
			out = d
			continue
		}
		if d.Decision != out.Decision {
			out.Decision = AuthzConditional
		}
		out.Policies = mergeSorted(out.Policies, d.Policies)
		out.DryRun = mergeSorted(out.DryRun, d.DryRun)
	}
	return out
}

// authzApplies: policies of the root namespace and of the workload's
// (authorization.go ListAuthorizationPolicies), a targetRef ignored by a
// non-gateway workload, a Gateway API pod taking targetRefs to its Gateway
// and, with ENABLE_SELECTOR_BASED_K8S_GATEWAY_POLICY (default on), selector
// policies (policyattachment.go ShouldAttachPolicy). ztunnel drops targetRef
// policies and the CUSTOM and AUDIT actions
// (pilot/pkg/serviceregistry/ambient/authorization.go convertAuthorizationPolicy).
func authzApplies(p *securityv1.AuthorizationPolicy, t AuthzTarget, root string) bool {
	if p.Namespace != root && p.Namespace != t.Namespace {
		return false
	}
	refs := targetRefs(p)
	selected := p.Spec.GetSelector() == nil || SelectorMatches(p.Spec.GetSelector().GetMatchLabels(), t.Labels)
	if t.Ambient {
		a := p.Spec.GetAction()
		return len(refs) == 0 && (a == securityapi.AuthorizationPolicy_ALLOW || a == securityapi.AuthorizationPolicy_DENY) && selected
	}
	gateway, isGateway := t.Labels["gateway.networking.k8s.io/gateway-name"]
	if len(refs) == 0 {
		return selected
	}
	if !isGateway || p.Namespace != t.Namespace {
		return false
	}
	return slices.ContainsFunc(refs, func(r *typeapi.PolicyTargetReference) bool {
		return r.GetGroup() == "gateway.networking.k8s.io" && r.GetKind() == "Gateway" && r.GetName() == gateway &&
			(r.GetNamespace() == "" || r.GetNamespace() == t.Namespace)
	})
}

// tri is a three-valued match: no, maybe (depends on what meshlock cannot see), yes.
type tri int8

const (
	triNo tri = iota
	triMaybe
	triYes
)

func (a tri) and(b tri) tri { return min(a, b) }
func (a tri) or(b tri) tri  { return max(a, b) }
func (a tri) not() tri      { return triYes - a }

type authzEval struct {
	req          AuthzRequest
	uri          string // the peer certificate's URI SAN; "" for plaintext
	trustDomains []string
	ambient      bool
}

type policyMatch struct {
	name   string
	action securityapi.AuthorizationPolicy_Action
	dryRun bool
	match  tri
}

// decideChain evaluates every applying policy on one filter chain, then the
// decision as enforced and, for each dry-run policy, as if it were enforced.
func (e *authzEval) decideChain(applied []*securityv1.AuthorizationPolicy, forTCP bool) AuthzDecision {
	var ms []policyMatch
	for _, p := range applied {
		m := policyMatch{name: p.Namespace + "/" + p.Name, action: p.Spec.GetAction(), match: triNo}
		// builder.go isDryRun: strconv.ParseBool, an unparsable value enforcing.
		m.dryRun, _ = strconv.ParseBool(p.Annotations["istio.io/dry-run"])
		// builder.go build: a policy without rules matches nothing (rbacPolicyMatchNever).
		for _, r := range p.Spec.GetRules() {
			if r != nil {
				m.match = m.match.or(e.rule(r, p.Namespace, m.action, forTCP))
			}
		}
		ms = append(ms, m)
	}
	out := combine(ms, func(m policyMatch) bool { return !m.dryRun })
	for _, m := range ms {
		if !m.dryRun || m.action == securityapi.AuthorizationPolicy_AUDIT {
			continue
		}
		if combine(ms, func(o policyMatch) bool { return !o.dryRun || o.name == m.name }).Decision != out.Decision {
			out.DryRun = append(out.DryRun, m.name)
		}
	}
	slices.Sort(out.DryRun)
	return out
}

// combine applies builder.go's order to the enforced policies. CUSTOM
// hands a matching request to an external authorizer meshlock cannot know:
// conditional unless DENY or ALLOW refuse it anyway. A dry-run CUSTOM is
// taken as enforced: ext_authz is still called for it (builder.go buildHTTP).
func combine(ms []policyMatch, enforced func(policyMatch) bool) AuthzDecision {
	custom, deny, allow, haveAllow := triNo, triNo, triNo, false
	for _, m := range ms {
		switch {
		case m.action == securityapi.AuthorizationPolicy_CUSTOM:
			custom = custom.or(m.match)
		case !enforced(m):
		case m.action == securityapi.AuthorizationPolicy_DENY:
			deny = deny.or(m.match)
		case m.action == securityapi.AuthorizationPolicy_ALLOW:
			allow, haveAllow = allow.or(m.match), true
		}
	}
	if !haveAllow {
		allow = triYes // no ALLOW policy: the ALLOW filter is not built
	}
	if custom != triNo {
		custom = triMaybe
	}
	result := deny.not().and(allow).and(custom.not())
	names := func(keep func(policyMatch) bool) []string {
		var out []string
		for _, m := range ms {
			if (enforced(m) || m.action == securityapi.AuthorizationPolicy_CUSTOM) && keep(m) {
				out = append(out, m.name)
			}
		}
		slices.Sort(out)
		return out
	}
	is := func(a securityapi.AuthorizationPolicy_Action, t tri) func(policyMatch) bool {
		return func(m policyMatch) bool { return m.action == a && m.match == t }
	}
	switch {
	case deny == triYes:
		return AuthzDecision{Decision: AuthzDeny, Policies: names(is(securityapi.AuthorizationPolicy_DENY, triYes))}
	case result == triNo: // every ALLOW failed to match
		return AuthzDecision{Decision: AuthzDeny, Policies: names(func(m policyMatch) bool { return m.action == securityapi.AuthorizationPolicy_ALLOW })}
	case result == triYes:
		return AuthzDecision{Decision: AuthzAllow, Policies: names(is(securityapi.AuthorizationPolicy_ALLOW, triYes))}
	}
	return AuthzDecision{Decision: AuthzConditional, Policies: names(func(m policyMatch) bool {
		switch m.action {
		case securityapi.AuthorizationPolicy_CUSTOM:
			return m.match != triNo
		case securityapi.AuthorizationPolicy_DENY:
			return m.match == triMaybe
		case securityapi.AuthorizationPolicy_ALLOW:
			return allow == triMaybe && m.match == triMaybe
		}
		return false
	})}
}

// authzCond is one attribute of a rule with its values and notValues, as
// pilot/pkg/security/authz/model/model.go New consolidates them.
type authzCond struct {
	key               string
	values, notValues []string
}

// Attribute keys (model.go); the first group are `when` keys too.
const (
	keySrcPrincipal   = "source.principal"
	keySrcNamespace   = "source.namespace"
	keySrcSA          = "source.serviceAccount"
	keySrcTrustDomain = "source.trustDomain"
	keySrcIP          = "source.ip"
	keyRemoteIP       = "remote.ip"
	keyDestIP         = "destination.ip"
	keyDestPort       = "destination.port"
	keyConnSNI        = "connection.sni"
	keyReqPrincipal   = "request.auth.principal"
	keyReqAudiences   = "request.auth.audiences"
	keyReqPresenter   = "request.auth.presenter"
	keyReqHeaders     = "request.headers"
	keyReqClaims      = "request.auth.claims"
	keyEnvoyFilter    = "experimental.envoy.filters."
	keyHosts          = "hosts"
	keyMethods        = "methods"
	keyPaths          = "paths"
)

func knownWhenKey(k string) bool {
	switch k {
	case keySrcPrincipal, keySrcNamespace, keySrcSA, keySrcTrustDomain, keySrcIP, keyRemoteIP, keyDestIP,
		keyDestPort, keyConnSNI, keyReqPrincipal, keyReqAudiences, keyReqPresenter:
		return true
	}
	return strings.HasPrefix(k, keyReqHeaders) || strings.HasPrefix(k, keyReqClaims) || strings.HasPrefix(k, keyEnvoyFilter)
}

// rule is one rule's match: AND of its when conditions, of any of its
// `from` entries and of any of its `to` entries (model.go New: each entry
// is the AND of its fields; Generate ORs the entries). A `when` key istiod
// does not know makes it skip the rule (builder.go build: "skipped invalid
// rule"), for every action (ztunnel's conversion takes it as L7 instead).
func (e *authzEval) rule(r *securityapi.Rule, policyNS string, action securityapi.AuthorizationPolicy_Action, forTCP bool) tri {
	allowAction := action == securityapi.AuthorizationPolicy_ALLOW
	if e.ambient {
		// handleRule: an ALLOW rule with a part ztunnel cannot enforce is
		// dropped; a DENY rule loses those parts and ztunnel skips the matches
		// left empty, which is not modelled here: conditional.
		if l7 := ztunnelL7(r); l7 && allowAction {
			return triNo
		} else if l7 {
			return triMaybe
		}
		// handleRule drops from.trustDomains without a warning; what
		// ztunnel then does is not modelled: conditional.
		if slices.ContainsFunc(r.GetFrom(), func(f *securityapi.Rule_From) bool {
			return len(f.GetSource().GetTrustDomains())+len(f.GetSource().GetNotTrustDomains()) > 0
		}) {
			return triMaybe
		}
	}
	var when []authzCond
	for _, w := range r.GetWhen() {
		if !knownWhenKey(w.GetKey()) {
			return triNo
		}
		when = append(when, authzCond{w.GetKey(), w.GetValues(), w.GetNotValues()})
	}
	out, err := e.conds(when, policyNS, allowAction, forTCP)
	if err != nil {
		return triNo
	}
	if from := r.GetFrom(); len(from) > 0 {
		anyOf := triNo
		for _, f := range from {
			s := f.GetSource()
			t, err := e.conds([]authzCond{
				{keySrcIP, s.GetIpBlocks(), s.GetNotIpBlocks()},
				{keyRemoteIP, s.GetRemoteIpBlocks(), s.GetNotRemoteIpBlocks()},
				{keySrcNamespace, s.GetNamespaces(), s.GetNotNamespaces()},
				{keySrcTrustDomain, s.GetTrustDomains(), s.GetNotTrustDomains()},
				{keySrcSA, s.GetServiceAccounts(), s.GetNotServiceAccounts()},
				{keyReqPrincipal, s.GetRequestPrincipals(), s.GetNotRequestPrincipals()},
				{keySrcPrincipal, s.GetPrincipals(), s.GetNotPrincipals()},
			}, policyNS, allowAction, forTCP)
			if err != nil {
				return triNo
			}
			anyOf = anyOf.or(t)
		}
		out = out.and(anyOf)
	}
	if to := r.GetTo(); len(to) > 0 {
		anyOf := triNo
		for _, o := range to {
			op := o.GetOperation()
			t, err := e.conds([]authzCond{
				{keyDestPort, op.GetPorts(), op.GetNotPorts()},
				{keyPaths, op.GetPaths(), op.GetNotPaths()},
				{keyMethods, op.GetMethods(), op.GetNotMethods()},
				{keyHosts, op.GetHosts(), op.GetNotHosts()},
			}, policyNS, allowAction, forTCP)
			if err != nil {
				return triNo
			}
			anyOf = anyOf.or(t)
		}
		out = out.and(anyOf)
	}
	return out
}

// conds ANDs conditions, each "any of values and none of notValues". A
// value istiod cannot generate (HTTP-only on a TCP chain, a bad port or
// CIDR) makes an ALLOW rule skipped (model.go checkError: a smaller allow);
// a DENY/AUDIT/CUSTOM rule just loses that value, and the values or
// notValues lose their condition when none is left (a wider deny).
func (e *authzEval) conds(cs []authzCond, policyNS string, strict, forTCP bool) (tri, error) {
	out := triYes
	for _, c := range cs {
		values, notValues := c.values, c.notValues
		if c.key == keySrcPrincipal {
			values, notValues = e.migratePrincipals(values), e.migratePrincipals(notValues)
		} else if c.key == keySrcTrustDomain {
			values, notValues = e.expandTrustDomains(values), e.expandTrustDomains(notValues)
		}
		for i, list := range [][]string{values, notValues} {
			part, kept := triNo, false
			for _, v := range list {
				t, err := e.value(c.key, v, policyNS, forTCP)
				if err != nil {
					if strict {
						return triNo, err
					}
					continue
				}
				part, kept = part.or(t), true
			}
			if !kept {
				continue
			}
			if i == 1 {
				part = part.not()
			}
			out = out.and(part)
		}
	}
	return out, nil
}

type authzGenError string

func (e authzGenError) Error() string { return string(e) }

// value matches one value of an attribute. Peer attributes are Envoy's
// "authenticated" matcher on the certificate's URI SAN, false without TLS
// (envoy source/extensions/filters/common/rbac/matchers.cc
// AuthenticatedMatcher::matches), so a "not" on them matches plaintext.
// The regexes and prefixes are those of model/generator.go and
// matcher/string.go StringMatcherWithPrefix ("*" is ".+": any mTLS peer).
func (e *authzEval) value(key, v, policyNS string, forTCP bool) (tri, error) {
	httpOnly := func() (tri, error) {
		if forTCP {
			return triNo, authzGenError(key + " is HTTP only")
		}
		return triMaybe, nil
	}
	switch {
	case key == keySrcPrincipal:
		return e.peer(func(uri string) bool { return principalMatches(v, uri) }), nil
	case key == keySrcNamespace:
		re := ".*/ns/" + globRegex(v) + "/.*"
		return e.peer(func(uri string) bool { return fullMatch(re, uri) }), nil
	case key == keySrcSA:
		ns, sa, ok := strings.Cut(v, "/")
		if !ok {
			ns, sa = policyNS, v
		}
		re := "spiffe://.+/ns/" + regexp.QuoteMeta(ns) + "/(.+/|)sa/" + regexp.QuoteMeta(sa) + "(/.+)?"
		return e.peer(func(uri string) bool { return fullMatch(re, uri) }), nil
	case key == keySrcTrustDomain:
		return e.peer(func(uri string) bool { return trustDomainMatches(v, uri) }), nil
	case key == keySrcIP || key == keyRemoteIP || key == keyDestIP:
		if _, err := netip.ParsePrefix(v); err != nil {
			if _, err := netip.ParseAddr(v); err != nil {
				return triNo, err
			}
		}
		return triMaybe, nil // meshlock knows no addresses
	case key == keyDestPort:
		p, err := strconv.ParseUint(v, 10, 32)
		if err != nil || p > 65535 {
			return triNo, authzGenError("invalid port " + v)
		}
		if p == uint64(e.req.Port) {
			return triYes, nil
		}
		return triNo, nil
	case key == keyConnSNI:
		return triMaybe, nil
	case strings.HasPrefix(key, keyEnvoyFilter):
		if !strings.Contains(key, "[") {
			return triNo, authzGenError("invalid key " + key)
		}
		return triMaybe, nil
	case strings.HasPrefix(key, keyReqHeaders) || strings.HasPrefix(key, keyReqClaims):
		name := strings.TrimPrefix(strings.TrimPrefix(key, keyReqHeaders), keyReqClaims)
		if !strings.HasPrefix(name, "[") || !strings.HasSuffix(name, "]") {
			return triNo, authzGenError("invalid key " + key)
		}
		return httpOnly()
	}
	// hosts, methods, paths, request principals, audiences, presenters
	return httpOnly()
}

// peer is an "authenticated" match: no for plaintext.
func (e *authzEval) peer(match func(uri string) bool) tri {
	if e.uri != "" && match(e.uri) {
		return triYes
	}
	return triNo
}

func principalMatches(v, uri string) bool {
	const prefix = "spiffe://"
	switch {
	case v == "*":
		return uri != ""
	case strings.HasPrefix(v, "*"):
		return strings.HasPrefix(uri, prefix) && strings.HasSuffix(uri[len(prefix):], v[1:])
	case strings.HasSuffix(v, "*"):
		return strings.HasPrefix(uri, prefix+strings.TrimSuffix(v, "*"))
	}
	return uri == prefix+v
}

func trustDomainMatches(v, uri string) bool {
	switch {
	case v == "*":
		return strings.HasPrefix(uri, "spiffe://")
	case !strings.Contains(v, "*"):
		return strings.HasPrefix(uri, "spiffe://"+v+"/")
	}
	before, after, _ := strings.Cut(v, "*")
	return fullMatch("spiffe://"+regexp.QuoteMeta(before)+"[^/]*"+regexp.QuoteMeta(after)+"/.*", uri)
}

// globRegex quotes v with each "*" standing for ".*".
func globRegex(v string) string {
	parts := strings.Split(v, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return strings.Join(parts, ".*")
}

// fullMatch is Envoy's safe_regex: RE2, the whole string.
func fullMatch(re, s string) bool {
	ok, err := regexp.MatchString("^(?:"+re+")$", s)
	return err == nil && ok
}

// migratePrincipals is istiod's trust domain migration of principal values
// (trustdomain/bundle.go ReplaceTrustDomainAliases): a "td/ns/x/sa/y" whose
// td is the mesh's, an alias, or "cluster.local" becomes one principal per
// trust domain of the bundle (kept as is where a "*td" suffix pattern
// covers it); others stay.
func (e *authzEval) migratePrincipals(values []string) []string {
	var out []string
	for _, v := range values {
		parts := strings.Split(v, "/")
		if len(parts) != 5 || parts[0] == "*" || (parts[0] != clusterDomain && !tdListMatch(parts[0], e.trustDomains)) {
			out = append(out, v)
			continue
		}
		var expanded []string
		for _, td := range e.trustDomains {
			p := v
			if !tdSuffixMatch(td, parts[0]) {
				p = td + "/" + strings.Join(parts[1:], "/")
			}
			if !slices.Contains(expanded, p) {
				expanded = append(expanded, p)
			}
		}
		out = append(out, expanded...)
	}
	return out
}

// expandTrustDomains: a value naming a trust domain of the bundle stands for all of them (bundle.go ExpandTrustDomainAliases).
func (e *authzEval) expandTrustDomains(values []string) []string {
	var out []string
	for _, v := range values {
		if slices.Contains(e.trustDomains, v) {
			out = append(out, e.trustDomains...)
		} else {
			out = append(out, v)
		}
	}
	return out
}

// tdListMatch is trustdomain/util.go stringMatch: equal, "*", or a prefix/suffix pattern either way.
func tdListMatch(a string, list []string) bool {
	return slices.ContainsFunc(list, func(s string) bool {
		return a == s || s == "*" || tdPrefixMatch(a, s) || tdPrefixMatch(s, a) || tdSuffixMatch(a, s) || tdSuffixMatch(s, a)
	})
}

func tdPrefixMatch(a, pattern string) bool {
	p, ok := strings.CutSuffix(pattern, "*")
	return ok && strings.HasPrefix(a, p)
}

func tdSuffixMatch(a, pattern string) bool {
	p, ok := strings.CutPrefix(pattern, "*")
	return ok && strings.HasSuffix(a, p)
}

// ztunnelL7 reports a part ztunnel cannot enforce
// (ambient/authorization.go handleRule: HTTP operations, remote IPs and
// request principals, `when` keys outside its L4 set).
func ztunnelL7(r *securityapi.Rule) bool {
	for _, w := range r.GetWhen() {
		switch w.GetKey() {
		case keySrcIP, keySrcNamespace, keySrcPrincipal, keyDestIP, keyDestPort:
		default:
			return true
		}
	}
	return ruleHasL7(r)
}

func mergeSorted(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}
