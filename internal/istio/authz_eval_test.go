// Tests of EvaluateAuthorization, one group per rule of Istio's AuthorizationPolicy evaluation,
// each naming the istio/istio file it follows.

package istio

import (
	"slices"
	"strconv"
	"testing"

	securityv1 "istio.io/client-go/pkg/apis/security/v1"
)

const (
	bob   = "cluster.local/ns/frontend/sa/bob"
	alice = "cluster.local/ns/backend/sa/alice"
)

// authzPolicy builds a policy from its spec in JSON; annotations come in key, value pairs.
func authzPolicy(t *testing.T, ns, name, spec string, annotations ...string) *securityv1.AuthorizationPolicy {
	t.Helper()
	p := &securityv1.AuthorizationPolicy{}
	p.Namespace, p.Name = ns, name
	if err := p.Spec.UnmarshalJSON([]byte(spec)); err != nil {
		t.Fatalf("%s/%s: %v", ns, name, err)
	}
	for i := 0; i+1 < len(annotations); i += 2 {
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations[annotations[i]] = annotations[i+1]
	}
	return p
}

type authzCase struct {
	name     string
	policies func(t *testing.T) []*securityv1.AuthorizationPolicy
	target   *AuthzTarget // nil: default/reviews, protocol unknown
	req      AuthzRequest
	want     AuthzDecision
}

func runAuthz(t *testing.T, cases []authzCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target := AuthzTarget{Namespace: "default", Labels: map[string]string{"app": "reviews"}}
			if tc.target != nil {
				target = *tc.target
			}
			var policies []*securityv1.AuthorizationPolicy
			if tc.policies != nil {
				policies = tc.policies(t)
			}
			got := EvaluateAuthorization(policies, target, "", tc.req)
			if got.Decision != tc.want.Decision || !slices.Equal(got.Policies, tc.want.Policies) || !slices.Equal(got.DryRun, tc.want.DryRun) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// pols turns (ns, name, spec) triples into a policies func.
func pols(triples ...string) func(t *testing.T) []*securityv1.AuthorizationPolicy {
	return func(t *testing.T) []*securityv1.AuthorizationPolicy {
		var out []*securityv1.AuthorizationPolicy
		for i := 0; i+2 < len(triples); i += 3 {
			out = append(out, authzPolicy(t, triples[i], triples[i+1], triples[i+2]))
		}
		return out
	}
}

const (
	denyAll  = `{"action":"DENY","rules":[{}]}`
	allowAll = `{"rules":[{}]}`
)

func decision(d string, policies ...string) AuthzDecision {
	return AuthzDecision{Decision: d, Policies: policies}
}

// pilot/pkg/model/authorization.go ListAuthorizationPolicies (root and
// workload namespace) and policyattachment.go ShouldAttachPolicy (selector;
// targetRefs ignored by sidecars; Gateway targetRefs for gateway pods).
func TestAuthzPolicySelection_authorization_policyattachment(t *testing.T) {
	gw := &AuthzTarget{Namespace: "default", Labels: map[string]string{"gateway.networking.k8s.io/gateway-name": "gw"}}
	runAuthz(t, []authzCase{
		{name: "no policy: allow", req: AuthzRequest{Principal: bob}, want: decision(AuthzAllow)},
		{name: "root namespace policy applies mesh-wide", policies: pols("istio-system", "d", denyAll), req: AuthzRequest{Principal: bob}, want: decision(AuthzDeny, "istio-system/d")},
		{name: "root namespace selector applies in other namespaces", policies: pols("istio-system", "d", `{"action":"DENY","selector":{"matchLabels":{"app":"reviews"}},"rules":[{}]}`), want: decision(AuthzDeny, "istio-system/d")},
		{name: "namespace policy applies", policies: pols("default", "d", denyAll), want: decision(AuthzDeny, "default/d")},
		{name: "other namespace's policy does not", policies: pols("other", "d", denyAll), want: decision(AuthzAllow)},
		{name: "selector not matching", policies: pols("default", "d", `{"action":"DENY","selector":{"matchLabels":{"app":"ratings"}},"rules":[{}]}`), want: decision(AuthzAllow)},
		{name: "empty selector selects all", policies: pols("default", "d", `{"action":"DENY","selector":{},"rules":[{}]}`), want: decision(AuthzDeny, "default/d")},
		{name: "targetRef to a Service ignored by a sidecar", policies: pols("default", "d", `{"action":"DENY","targetRefs":[{"kind":"Service","group":"","name":"reviews"}],"rules":[{}]}`), want: decision(AuthzAllow)},
		{name: "legacy targetRef ignored by a sidecar", policies: pols("default", "d", `{"action":"DENY","targetRef":{"kind":"Service","group":"","name":"reviews"},"rules":[{}]}`), want: decision(AuthzAllow)},
		{name: "selector and targetRef: ignored", policies: pols("default", "d", `{"action":"DENY","selector":{"matchLabels":{"app":"reviews"}},"targetRefs":[{"kind":"Service","group":"","name":"reviews"}],"rules":[{}]}`), want: decision(AuthzAllow)},
		{name: "gateway pod: targetRef to its Gateway", target: gw, policies: pols("default", "d", `{"action":"DENY","targetRefs":[{"kind":"Gateway","group":"gateway.networking.k8s.io","name":"gw"}],"rules":[{}]}`), want: decision(AuthzDeny, "default/d")},
		{name: "gateway pod: targetRef to another Gateway", target: gw, policies: pols("default", "d", `{"action":"DENY","targetRefs":[{"kind":"Gateway","group":"gateway.networking.k8s.io","name":"other"}],"rules":[{}]}`), want: decision(AuthzAllow)},
		{name: "gateway pod: root namespace targetRef not applied", target: gw, policies: pols("istio-system", "d", `{"action":"DENY","targetRefs":[{"kind":"Gateway","group":"gateway.networking.k8s.io","name":"gw"}],"rules":[{}]}`), want: decision(AuthzAllow)},
		{name: "gateway pod: selector policy (ENABLE_SELECTOR_BASED_K8S_GATEWAY_POLICY)", target: gw, policies: pols("default", "d", denyAll), want: decision(AuthzDeny, "default/d")},
	})
}

// pilot/pkg/security/authz/builder/builder.go build: AUDIT, DENY and ALLOW
// filters; any matching DENY denies; no ALLOW policy allows; ALLOW
// policies none of which matches deny.
func TestAuthzDenyBeforeAllow_builder(t *testing.T) {
	runAuthz(t, []authzCase{
		{name: "DENY and ALLOW both match: deny", policies: pols("default", "a", allowAll, "default", "d", denyAll), want: decision(AuthzDeny, "default/d")},
		{name: "DENY not matching, ALLOW matching", req: AuthzRequest{Principal: bob},
			policies: pols("default", "a", allowAll, "default", "d", `{"action":"DENY","rules":[{"from":[{"source":{"principals":["`+alice+`"]}}]}]}`), want: decision(AuthzAllow, "default/a")},
		{name: "ALLOW policies, none matching: deny naming them all", req: AuthzRequest{Principal: bob},
			policies: pols("default", "a1", `{"rules":[{"from":[{"source":{"principals":["`+alice+`"]}}]}]}`, "istio-system", "a2", `{"rules":[{"to":[{"operation":{"ports":["1"]}}]}]}`),
			want:     decision(AuthzDeny, "default/a1", "istio-system/a2")},
		{name: "one of two ALLOW matching", req: AuthzRequest{Principal: bob},
			policies: pols("default", "a1", `{"rules":[{"from":[{"source":{"principals":["`+alice+`"]}}]}]}`, "default", "a2", `{"rules":[{"from":[{"source":{"principals":["`+bob+`"]}}]}]}`),
			want:     decision(AuthzAllow, "default/a2")},
		{name: "AUDIT never decides", policies: pols("default", "audit", `{"action":"AUDIT","rules":[{}]}`), want: decision(AuthzAllow)},
		{name: "AUDIT beside an ALLOW not matching", policies: pols("default", "audit", `{"action":"AUDIT","rules":[{}]}`, "default", "a", `{}`), want: decision(AuthzDeny, "default/a")},
	})
}

// builder.go build: a policy without rules is rbacPolicyMatchNever; an
// empty rule is model.go New's any principal and any permission.
func TestAuthzEmptyPolicy_builder(t *testing.T) {
	runAuthz(t, []authzCase{
		{name: "ALLOW spec {}: deny-all", policies: pols("default", "a", `{}`), req: AuthzRequest{Principal: bob}, want: decision(AuthzDeny, "default/a")},
		{name: "ALLOW rules [{}]: allow-all, mTLS", policies: pols("default", "a", allowAll), req: AuthzRequest{Principal: bob}, want: decision(AuthzAllow, "default/a")},
		{name: "ALLOW rules [{}]: allow-all, plaintext", policies: pols("default", "a", allowAll), want: decision(AuthzAllow, "default/a")},
		{name: "DENY without rules: matches nothing", policies: pols("default", "d", `{"action":"DENY"}`), want: decision(AuthzAllow)},
		{name: "ALLOW with an empty from entry: any source", policies: pols("default", "a", `{"rules":[{"from":[{"source":{}}]}]}`), want: decision(AuthzAllow, "default/a")},
	})
}

// builder.go (IsCustomBuilder, extauthz.go): a matching CUSTOM policy
// hands the request to an external authorizer meshlock cannot know.
func TestAuthzCustom_builder(t *testing.T) {
	customBob := `{"action":"CUSTOM","provider":{"name":"opa"},"rules":[{"from":[{"source":{"principals":["` + bob + `"]}}]}]}`
	runAuthz(t, []authzCase{
		{name: "CUSTOM matching: conditional", policies: pols("default", "c", customBob), req: AuthzRequest{Principal: bob}, want: decision(AuthzConditional, "default/c")},
		{name: "CUSTOM not matching: no effect", policies: pols("default", "c", customBob), req: AuthzRequest{Principal: alice}, want: decision(AuthzAllow)},
		{name: "CUSTOM by principal, plaintext caller: no effect", policies: pols("default", "c", customBob), want: decision(AuthzAllow)},
		{name: "CUSTOM matching, DENY matching: deny", policies: pols("default", "c", customBob, "default", "d", denyAll), req: AuthzRequest{Principal: bob}, want: decision(AuthzDeny, "default/d")},
		{name: "CUSTOM matching, no ALLOW matching: deny", policies: pols("default", "c", customBob, "default", "a", `{}`), req: AuthzRequest{Principal: bob}, want: decision(AuthzDeny, "default/a")},
		{name: "CUSTOM on an HTTP path: conditional", policies: pols("default", "c", `{"action":"CUSTOM","provider":{"name":"opa"},"rules":[{"to":[{"operation":{"paths":["/admin"]}}]}]}`), want: decision(AuthzConditional, "default/c")},
	})
}

// model.go New and generator.go srcPrincipalGenerator/srcNamespaceGenerator:
// peer attributes are Envoy's "authenticated" matcher, false without TLS
// (envoy source/extensions/filters/common/rbac/matchers.cc
// AuthenticatedMatcher::matches), and notValues are principalNot of it, so
// a "not" matches a plaintext caller.
func TestAuthzNotPrincipalsMatchesPlaintext_matcher(t *testing.T) {
	from := func(action, source string) string {
		return `{"action":"` + action + `","rules":[{"from":[{"source":` + source + `}]}]}`
	}
	runAuthz(t, []authzCase{
		{name: "ALLOW by principal, plaintext: deny", policies: pols("default", "p", from("ALLOW", `{"principals":["`+bob+`"]}`)), want: decision(AuthzDeny, "default/p")},
		{name: "ALLOW by principal, mTLS: allow", policies: pols("default", "p", from("ALLOW", `{"principals":["`+bob+`"]}`)), req: AuthzRequest{Principal: bob}, want: decision(AuthzAllow, "default/p")},
		{name: "DENY by principal, plaintext: allow", policies: pols("default", "p", from("DENY", `{"principals":["`+bob+`"]}`)), want: decision(AuthzAllow)},
		{name: "ALLOW by namespace, plaintext: deny", policies: pols("default", "p", from("ALLOW", `{"namespaces":["frontend"]}`)), want: decision(AuthzDeny, "default/p")},
		{name: "DENY by namespace, plaintext: allow", policies: pols("default", "p", from("DENY", `{"namespaces":["frontend"]}`)), want: decision(AuthzAllow)},
		{name: "DENY notPrincipals, plaintext: deny", policies: pols("default", "p", from("DENY", `{"notPrincipals":["`+bob+`"]}`)), want: decision(AuthzDeny, "default/p")},
		{name: "DENY notPrincipals, the named caller: allow", policies: pols("default", "p", from("DENY", `{"notPrincipals":["`+bob+`"]}`)), req: AuthzRequest{Principal: bob}, want: decision(AuthzAllow)},
		{name: "DENY notNamespaces, plaintext: deny", policies: pols("default", "p", from("DENY", `{"notNamespaces":["frontend"]}`)), want: decision(AuthzDeny, "default/p")},
		{name: "DENY notPrincipals [*] (require mTLS), plaintext: deny", policies: pols("default", "p", from("DENY", `{"notPrincipals":["*"]}`)), want: decision(AuthzDeny, "default/p")},
		{name: "DENY notPrincipals [*], mTLS: allow", policies: pols("default", "p", from("DENY", `{"notPrincipals":["*"]}`)), req: AuthzRequest{Principal: alice}, want: decision(AuthzAllow)},
		{name: "ALLOW notPrincipals, plaintext: allow", policies: pols("default", "p", from("ALLOW", `{"notPrincipals":["`+bob+`"]}`)), want: decision(AuthzAllow, "default/p")},
		{name: "ALLOW principals [*], plaintext: deny", policies: pols("default", "p", from("ALLOW", `{"principals":["*"]}`)), want: decision(AuthzDeny, "default/p")},
		{name: "ALLOW principals [*], mTLS: allow", policies: pols("default", "p", from("ALLOW", `{"principals":["*"]}`)), req: AuthzRequest{Principal: alice}, want: decision(AuthzAllow, "default/p")},
		{name: "ALLOW serviceAccounts, plaintext: deny", policies: pols("default", "p", from("ALLOW", `{"serviceAccounts":["frontend/bob"]}`)), want: decision(AuthzDeny, "default/p")},
		{name: "DENY notTrustDomains, plaintext: deny", policies: pols("default", "p", from("DENY", `{"notTrustDomains":["cluster.local"]}`)), want: decision(AuthzDeny, "default/p")},
	})
}

// pilot/pkg/security/authz/matcher/string.go StringMatcherWithPrefix with
// "spiffe://" (generator.go srcPrincipalGenerator), and generator.go's
// namespace and service account regexes.
func TestAuthzPrincipalMatching_string(t *testing.T) {
	allowFrom := func(source string) func(t *testing.T) []*securityv1.AuthorizationPolicy {
		return pols("default", "p", `{"rules":[{"from":[{"source":`+source+`}]}]}`)
	}
	yes, no := decision(AuthzAllow, "default/p"), decision(AuthzDeny, "default/p")
	runAuthz(t, []authzCase{
		{name: "exact", policies: allowFrom(`{"principals":["` + bob + `"]}`), req: AuthzRequest{Principal: bob}, want: yes},
		{name: "exact, spiffe:// in the request", policies: allowFrom(`{"principals":["` + bob + `"]}`), req: AuthzRequest{Principal: "spiffe://" + bob}, want: yes},
		{name: "exact, other", policies: allowFrom(`{"principals":["` + bob + `"]}`), req: AuthzRequest{Principal: alice}, want: no},
		{name: "prefix*", policies: allowFrom(`{"principals":["cluster.local/ns/frontend/*"]}`), req: AuthzRequest{Principal: bob}, want: yes},
		{name: "prefix*, other", policies: allowFrom(`{"principals":["cluster.local/ns/frontend/*"]}`), req: AuthzRequest{Principal: alice}, want: no},
		{name: "*suffix", policies: allowFrom(`{"principals":["*/sa/bob"]}`), req: AuthzRequest{Principal: bob}, want: yes},
		{name: "*suffix, other", policies: allowFrom(`{"principals":["*/sa/bob"]}`), req: AuthzRequest{Principal: alice}, want: no},
		{name: "OR inside principals", policies: allowFrom(`{"principals":["x","` + alice + `"]}`), req: AuthzRequest{Principal: alice}, want: yes},
		{name: "namespaces exact", policies: allowFrom(`{"namespaces":["frontend"]}`), req: AuthzRequest{Principal: bob}, want: yes},
		{name: "namespaces exact, other", policies: allowFrom(`{"namespaces":["frontend"]}`), req: AuthzRequest{Principal: alice}, want: no},
		{name: "namespaces glob", policies: allowFrom(`{"namespaces":["front*"]}`), req: AuthzRequest{Principal: bob}, want: yes},
		{name: "notNamespaces", policies: allowFrom(`{"notNamespaces":["frontend"]}`), req: AuthzRequest{Principal: bob}, want: no},
		{name: "serviceAccounts ns/sa", policies: allowFrom(`{"serviceAccounts":["frontend/bob"]}`), req: AuthzRequest{Principal: bob}, want: yes},
		{name: "serviceAccounts sa: the policy's namespace", policies: allowFrom(`{"serviceAccounts":["bob"]}`), req: AuthzRequest{Principal: bob}, want: no},
		{name: "serviceAccounts sa: same namespace", policies: allowFrom(`{"serviceAccounts":["bob"]}`), req: AuthzRequest{Principal: "cluster.local/ns/default/sa/bob"}, want: yes},
		{name: "serviceAccounts is not a prefix", policies: allowFrom(`{"serviceAccounts":["frontend/bo"]}`), req: AuthzRequest{Principal: bob}, want: no},
		{name: "principals and namespaces AND", policies: allowFrom(`{"principals":["` + bob + `"],"namespaces":["backend"]}`), req: AuthzRequest{Principal: bob}, want: no},
	})
}

// pilot/pkg/security/trustdomain/bundle.go ReplaceTrustDomainAliases and
// ExpandTrustDomainAliases, applied by model.go MigrateTrustDomain.
func TestAuthzTrustDomainAliases_bundle(t *testing.T) {
	td := &AuthzTarget{Namespace: "default", TrustDomain: "td2", TrustDomainAliases: []string{"td1"}}
	allowFrom := func(source string) func(t *testing.T) []*securityv1.AuthorizationPolicy {
		return pols("default", "p", `{"rules":[{"from":[{"source":`+source+`}]}]}`)
	}
	yes, no := decision(AuthzAllow, "default/p"), decision(AuthzDeny, "default/p")
	runAuthz(t, []authzCase{
		{name: "cluster.local in a policy stands for the bundle: alias caller", target: td, policies: allowFrom(`{"principals":["cluster.local/ns/a/sa/b"]}`), req: AuthzRequest{Principal: "td1/ns/a/sa/b"}, want: yes},
		{name: "cluster.local in a policy stands for the bundle: mesh caller", target: td, policies: allowFrom(`{"principals":["cluster.local/ns/a/sa/b"]}`), req: AuthzRequest{Principal: "td2/ns/a/sa/b"}, want: yes},
		{name: "cluster.local is rewritten away", target: td, policies: allowFrom(`{"principals":["cluster.local/ns/a/sa/b"]}`), req: AuthzRequest{Principal: "cluster.local/ns/a/sa/b"}, want: no},
		{name: "alias in a policy matches the mesh trust domain", target: td, policies: allowFrom(`{"principals":["td1/ns/a/sa/b"]}`), req: AuthzRequest{Principal: "td2/ns/a/sa/b"}, want: yes},
		{name: "foreign trust domain kept", target: td, policies: allowFrom(`{"principals":["other/ns/a/sa/b"]}`), req: AuthzRequest{Principal: "td2/ns/a/sa/b"}, want: no},
		{name: "*/ns/.. any trust domain", target: td, policies: allowFrom(`{"principals":["*/ns/a/sa/b"]}`), req: AuthzRequest{Principal: "other/ns/a/sa/b"}, want: yes},
		{name: "notPrincipals migrated too", target: td, policies: pols("default", "p", `{"action":"DENY","rules":[{"from":[{"source":{"principals":["cluster.local/ns/a/sa/b"]}}]}]}`), req: AuthzRequest{Principal: "td1/ns/a/sa/b"}, want: decision(AuthzDeny, "default/p")},
		{name: "when source.principal migrated", target: td, policies: pols("default", "p", `{"rules":[{"when":[{"key":"source.principal","values":["cluster.local/ns/a/sa/b"]}]}]}`), req: AuthzRequest{Principal: "td1/ns/a/sa/b"}, want: yes},
		{name: "trustDomains expanded to aliases", target: td, policies: allowFrom(`{"trustDomains":["td2"]}`), req: AuthzRequest{Principal: "td1/ns/a/sa/b"}, want: yes},
		{name: "trustDomains other", target: td, policies: allowFrom(`{"trustDomains":["td2"]}`), req: AuthzRequest{Principal: "td3/ns/a/sa/b"}, want: no},
		{name: "default trust domain cluster.local", policies: allowFrom(`{"principals":["cluster.local/ns/a/sa/b"]}`), req: AuthzRequest{Principal: "cluster.local/ns/a/sa/b"}, want: yes},
	})
}

// model.go New and generator.go: ipBlocks, remoteIpBlocks are unknown to
// meshlock; requestPrincipals are HTTP only (an error on a TCP chain that
// skips an ALLOW rule and drops the field from a DENY rule: model.go
// checkError).
func TestAuthzUnknownSources_generator(t *testing.T) {
	httpT := &AuthzTarget{Namespace: "default", Protocol: AuthzProtocolHTTP}
	tcpT := &AuthzTarget{Namespace: "default", Protocol: AuthzProtocolTCP}
	from := func(action, source string) func(t *testing.T) []*securityv1.AuthorizationPolicy {
		return pols("default", "p", `{"action":"`+action+`","rules":[{"from":[{"source":`+source+`}]}]}`)
	}
	runAuthz(t, []authzCase{
		{name: "ALLOW ipBlocks: conditional", policies: from("ALLOW", `{"ipBlocks":["10.0.0.0/8"]}`), want: decision(AuthzConditional, "default/p")},
		{name: "DENY notIpBlocks: conditional", policies: from("DENY", `{"notIpBlocks":["10.0.0.1"]}`), want: decision(AuthzConditional, "default/p")},
		{name: "ALLOW ipBlocks and a principal the caller lacks: deny", policies: from("ALLOW", `{"ipBlocks":["10.0.0.0/8"],"principals":["`+bob+`"]}`), req: AuthzRequest{Principal: alice}, want: decision(AuthzDeny, "default/p")},
		{name: "ALLOW invalid ipBlock: rule skipped", policies: from("ALLOW", `{"ipBlocks":["nope"]}`), want: decision(AuthzDeny, "default/p")},
		{name: "DENY only an invalid ipBlock: field dropped, deny", policies: from("DENY", `{"ipBlocks":["nope"]}`), want: decision(AuthzDeny, "default/p")},
		{name: "ALLOW requestPrincipals on HTTP: conditional", target: httpT, policies: from("ALLOW", `{"requestPrincipals":["*"]}`), want: decision(AuthzConditional, "default/p")},
		{name: "ALLOW requestPrincipals on TCP: rule skipped", target: tcpT, policies: from("ALLOW", `{"requestPrincipals":["*"]}`), want: decision(AuthzDeny, "default/p")},
		{name: "DENY requestPrincipals on TCP: dropped, deny", target: tcpT, policies: from("DENY", `{"requestPrincipals":["*"]}`), want: decision(AuthzDeny, "default/p")},
		{name: "DENY notRequestPrincipals on HTTP: conditional", target: httpT, policies: from("DENY", `{"notRequestPrincipals":["*"]}`), want: decision(AuthzConditional, "default/p")},
		{name: "ALLOW remoteIpBlocks on TCP: conditional (not HTTP only)", target: tcpT, policies: from("ALLOW", `{"remoteIpBlocks":["10.0.0.0/8"]}`), want: decision(AuthzConditional, "default/p")},
	})
}

// model.go New (to.operation) and generator.go destPortGenerator (ports,
// L4) and host/method/path generators (HTTP only).
func TestAuthzOperation_generator(t *testing.T) {
	httpT := &AuthzTarget{Namespace: "default", Protocol: AuthzProtocolHTTP}
	tcpT := &AuthzTarget{Namespace: "default", Protocol: AuthzProtocolTCP}
	to := func(action, op string) func(t *testing.T) []*securityv1.AuthorizationPolicy {
		return pols("default", "p", `{"action":"`+action+`","rules":[{"to":[{"operation":`+op+`}]}]}`)
	}
	port := AuthzRequest{Principal: bob, Port: 8080}
	runAuthz(t, []authzCase{
		{name: "ports match", policies: to("ALLOW", `{"ports":["8080"]}`), req: port, want: decision(AuthzAllow, "default/p")},
		{name: "ports other", policies: to("ALLOW", `{"ports":["9090"]}`), req: port, want: decision(AuthzDeny, "default/p")},
		{name: "notPorts", policies: to("DENY", `{"notPorts":["9090"]}`), req: port, want: decision(AuthzDeny, "default/p")},
		{name: "ALLOW invalid port: rule skipped", policies: to("ALLOW", `{"ports":["8080","http"]}`), req: port, want: decision(AuthzDeny, "default/p")},
		{name: "DENY invalid port dropped, valid kept", policies: to("DENY", `{"ports":["9090","http"]}`), req: port, want: decision(AuthzAllow)},
		{name: "ALLOW paths on HTTP: conditional", target: httpT, policies: to("ALLOW", `{"paths":["/api/*"]}`), req: port, want: decision(AuthzConditional, "default/p")},
		{name: "ALLOW paths on TCP: rule skipped, deny", target: tcpT, policies: to("ALLOW", `{"paths":["/api/*"]}`), req: port, want: decision(AuthzDeny, "default/p")},
		{name: "ALLOW paths, protocol unknown: conditional", policies: to("ALLOW", `{"paths":["/api/*"]}`), req: port, want: decision(AuthzConditional, "default/p")},
		{name: "DENY methods on HTTP: conditional", target: httpT, policies: to("DENY", `{"methods":["POST"]}`), req: port, want: decision(AuthzConditional, "default/p")},
		{name: "DENY methods on TCP: dropped, deny", target: tcpT, policies: to("DENY", `{"methods":["POST"]}`), req: port, want: decision(AuthzDeny, "default/p")},
		{name: "DENY notHosts, protocol unknown: conditional", policies: to("DENY", `{"notHosts":["a.example"]}`), req: port, want: decision(AuthzConditional, "default/p")},
		{name: "the port decides before paths", target: httpT, policies: to("DENY", `{"ports":["9090"],"paths":["/admin"]}`), req: port, want: decision(AuthzAllow)},
		{name: "OR across to entries", policies: to("ALLOW", `{"ports":["9090"]}},{"operation":{"ports":["8080"]}`), req: port, want: decision(AuthzAllow, "default/p")},
	})
}

// model.go New: when keys (source.principal/namespace and destination.port
// are knowable; connection.sni, IPs and request.* are not; an unknown key
// makes builder.go skip the rule).
func TestAuthzWhen_model(t *testing.T) {
	httpT := &AuthzTarget{Namespace: "default", Protocol: AuthzProtocolHTTP}
	when := func(action, conds string) func(t *testing.T) []*securityv1.AuthorizationPolicy {
		return pols("default", "p", `{"action":"`+action+`","rules":[{"when":[`+conds+`]}]}`)
	}
	req := AuthzRequest{Principal: bob, Port: 8080}
	runAuthz(t, []authzCase{
		{name: "source.principal", policies: when("ALLOW", `{"key":"source.principal","values":["`+bob+`"]}`), req: req, want: decision(AuthzAllow, "default/p")},
		{name: "source.namespace notValues, plaintext: DENY matches", policies: when("DENY", `{"key":"source.namespace","notValues":["frontend"]}`), want: decision(AuthzDeny, "default/p")},
		{name: "source.namespace, plaintext: ALLOW does not", policies: when("ALLOW", `{"key":"source.namespace","values":["frontend"]}`), want: decision(AuthzDeny, "default/p")},
		{name: "destination.port", policies: when("ALLOW", `{"key":"destination.port","values":["8080"]}`), req: req, want: decision(AuthzAllow, "default/p")},
		{name: "AND across conditions", policies: when("ALLOW", `{"key":"destination.port","values":["8080"]},{"key":"source.namespace","values":["backend"]}`), req: req, want: decision(AuthzDeny, "default/p")},
		{name: "connection.sni: conditional", policies: when("ALLOW", `{"key":"connection.sni","values":["x"]}`), req: req, want: decision(AuthzConditional, "default/p")},
		{name: "request.headers on HTTP: conditional", target: httpT, policies: when("DENY", `{"key":"request.headers[x-user]","values":["x"]}`), req: req, want: decision(AuthzConditional, "default/p")},
		{name: "unknown key: ALLOW rule skipped", policies: when("ALLOW", `{"key":"source.color","values":["x"]}`), req: req, want: decision(AuthzDeny, "default/p")},
		{name: "unknown key: DENY rule skipped", policies: when("DENY", `{"key":"source.color","values":["x"]}`), req: req, want: decision(AuthzAllow)},
	})
}

// builder.go: DENY filter before ALLOW, RBAC policies ORed; model.go:
// rules ORed, a rule's parts ANDed. How "conditional" composes.
func TestAuthzConditionalComposition_builder(t *testing.T) {
	httpT := &AuthzTarget{Namespace: "default", Protocol: AuthzProtocolHTTP}
	maybeDeny := `{"action":"DENY","rules":[{"to":[{"operation":{"paths":["/admin"]}}]}]}`
	maybeAllow := `{"rules":[{"to":[{"operation":{"paths":["/api"]}}]}]}`
	runAuthz(t, []authzCase{
		{name: "DENY conditional, ALLOW allow: conditional", target: httpT, policies: pols("default", "d", maybeDeny, "default", "a", allowAll), want: decision(AuthzConditional, "default/d")},
		{name: "DENY conditional, DENY deny: deny", target: httpT, policies: pols("default", "d", maybeDeny, "default", "d2", denyAll), want: decision(AuthzDeny, "default/d2")},
		{name: "DENY conditional, ALLOW deny: deny", target: httpT, policies: pols("default", "d", maybeDeny, "default", "a", `{}`), want: decision(AuthzDeny, "default/a")},
		{name: "ALLOW one allows, one may: allow", target: httpT, policies: pols("default", "a1", maybeAllow, "default", "a2", allowAll), want: decision(AuthzAllow, "default/a2")},
		{name: "ALLOW only may: conditional", target: httpT, policies: pols("default", "a1", maybeAllow, "default", "a2", `{}`), want: decision(AuthzConditional, "default/a1")},
		{name: "rules ORed: one definite rule allows", target: httpT, policies: pols("default", "a", `{"rules":[{"to":[{"operation":{"paths":["/api"]}}]},{}]}`), want: decision(AuthzAllow, "default/a")},
		{name: "a definite no in a rule beats its conditional part", target: httpT, policies: pols("default", "a", `{"rules":[{"from":[{"source":{"principals":["`+bob+`"]}}],"to":[{"operation":{"paths":["/api"]}}]}]}`), want: decision(AuthzDeny, "default/a")},
		{name: "OR inside from", req: AuthzRequest{Principal: bob}, policies: pols("default", "a", `{"rules":[{"from":[{"source":{"principals":["`+alice+`"]}},{"source":{"namespaces":["frontend"]}}]}]}`), want: decision(AuthzAllow, "default/a")},
	})
}

// builder.go isDryRun / build: an istio.io/dry-run policy goes to the
// shadow rules, never enforced.
func TestAuthzDryRun_builder(t *testing.T) {
	dry := func(ns, name, spec, value string) func(t *testing.T) []*securityv1.AuthorizationPolicy {
		return func(t *testing.T) []*securityv1.AuthorizationPolicy {
			return []*securityv1.AuthorizationPolicy{authzPolicy(t, ns, name, spec, "istio.io/dry-run", value)}
		}
	}
	both := func(a, b func(t *testing.T) []*securityv1.AuthorizationPolicy) func(t *testing.T) []*securityv1.AuthorizationPolicy {
		return func(t *testing.T) []*securityv1.AuthorizationPolicy { return append(a(t), b(t)...) }
	}
	runAuthz(t, []authzCase{
		{name: "dry-run DENY matching: allow, listed", policies: dry("default", "d", denyAll, "true"), want: AuthzDecision{Decision: AuthzAllow, DryRun: []string{"default/d"}}},
		{name: "dry-run DENY not matching: not listed", policies: dry("default", "d", `{"action":"DENY","rules":[{"from":[{"source":{"principals":["x"]}}]}]}`, "true"), want: decision(AuthzAllow)},
		{name: "dry-run ALLOW not matching, alone: allow, listed", policies: dry("default", "a", `{}`, "true"), want: AuthzDecision{Decision: AuthzAllow, DryRun: []string{"default/a"}}},
		{name: "dry-run ALLOW beside an enforced matching ALLOW: not listed", policies: both(dry("default", "a", `{}`, "true"), pols("default", "b", allowAll)), want: decision(AuthzAllow, "default/b")},
		{name: "dry-run DENY beside an enforced DENY: not listed", policies: both(dry("default", "d", denyAll, "true"), pols("default", "e", denyAll)), want: decision(AuthzDeny, "default/e")},
		{name: "ParseBool: 1", policies: dry("default", "d", denyAll, "1"), want: AuthzDecision{Decision: AuthzAllow, DryRun: []string{"default/d"}}},
		{name: "ParseBool: yes is invalid, enforced", policies: dry("default", "d", denyAll, "yes"), want: decision(AuthzDeny, "default/d")},
		{name: "dry-run false: enforced", policies: dry("default", "d", denyAll, strconv.FormatBool(false)), want: decision(AuthzDeny, "default/d")},
	})
}

// pilot/pkg/serviceregistry/ambient/authorization.go
// convertAuthorizationPolicy and handleRule: what ztunnel (no waypoint) gets.
func TestAuthzAmbient_ztunnel(t *testing.T) {
	amb := &AuthzTarget{Namespace: "default", Labels: map[string]string{"app": "reviews"}, Ambient: true}
	runAuthz(t, []authzCase{
		{name: "L4 ALLOW by principal", target: amb, policies: pols("default", "a", `{"rules":[{"from":[{"source":{"principals":["`+bob+`"]}}]}]}`), req: AuthzRequest{Principal: bob}, want: decision(AuthzAllow, "default/a")},
		{name: "ALLOW rule with paths dropped: deny", target: amb, policies: pols("default", "a", `{"rules":[{"to":[{"operation":{"paths":["/api"]}}]}]}`), req: AuthzRequest{Principal: bob}, want: decision(AuthzDeny, "default/a")},
		{name: "DENY rule with paths: conditional", target: amb, policies: pols("default", "d", `{"action":"DENY","rules":[{"to":[{"operation":{"paths":["/admin"]}}]}]}`), want: decision(AuthzConditional, "default/d")},
		{name: "ALLOW with connection.sni (not L4 for ztunnel): deny", target: amb, policies: pols("default", "a", `{"rules":[{"when":[{"key":"connection.sni","values":["x"]}]}]}`), want: decision(AuthzDeny, "default/a")},
		{name: "CUSTOM not sent to ztunnel", target: amb, policies: pols("default", "c", `{"action":"CUSTOM","provider":{"name":"opa"},"rules":[{}]}`), want: decision(AuthzAllow)},
		{name: "targetRef not for ztunnel", target: amb, policies: pols("default", "d", `{"action":"DENY","targetRefs":[{"kind":"Service","group":"","name":"reviews"}],"rules":[{}]}`), want: decision(AuthzAllow)},
	})
}
