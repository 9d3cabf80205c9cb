// Tests of the audit trail on fake clients: actions recorded and undone, undo refused after a
// foreign edit, listing order, the audit identity, patch inverses, and an undo failing midway taken back.

package enforce

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	networkingapi "istio.io/api/networking/v1alpha3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestAuditRecordsAndUndoesOnFake(t *testing.T) {
	reviews := enfDR("default", "reviews", "reviews", 1)
	reviews.Labels = map[string]string{"team": "reviews"}
	reviews.Spec.Subsets = []*networkingapi.Subset{{Name: "v1", Labels: map[string]string{"version": "v1"}}}
	w := enfNewWorld(t, enfSvc("default", "reviews", map[string]string{"app": "reviews"}, 9080), enfSvc("default", "ratings", map[string]string{"app": "ratings"}, 9080), reviews)
	ctx := context.Background()
	before := enfJSON(t, &enfGetDR(t, w, "default", "reviews").Spec)

	res, err := enfApply(ctx, w.enforcer, w.clients, "alice", enfReq(ScopeNamespace, "default", "", ModeDestinationRule, false))
	if err != nil {
		t.Fatal(err)
	}
	if !actionIDPattern.MatchString(res.ActionID) {
		t.Fatalf("action id %q", res.ActionID)
	}
	actions, err := w.enforcer.Actions(ctx, w.clients)
	if err != nil || len(actions) != 1 {
		t.Fatalf("actions: %+v %v", actions, err)
	}
	a := actions[0]
	if a.ID != res.ActionID || a.Who != "alice" || a.Scope != ScopeNamespace || a.Mode != ModeDestinationRule || a.Namespace != "default" || len(a.Objects) != 2 {
		t.Fatalf("recorded: %+v", a)
	}
	byName := map[string]ActionObject{}
	for _, o := range a.Objects {
		byName[o.Name] = o
	}
	if o := byName["ratings"]; o.Action != ActionCreate || o.Previous != absent {
		t.Errorf("ratings: %+v", o)
	}
	if o := byName["reviews"]; o.Action != ActionUpdate || !strings.Contains(o.Previous, "team: reviews") || strings.Contains(o.Previous, "ISTIO_MUTUAL") || !strings.Contains(o.After, "ISTIO_MUTUAL") || len(o.Undo) == 0 {
		t.Errorf("reviews: %+v", o)
	}
	cm, err := w.kube.CoreV1().ConfigMaps("meshlock").Get(ctx, auditNamePrefix+res.ActionID, metav1.GetOptions{})
	if err != nil || cm.Labels[ManagedByLabel] != ManagedByValue {
		t.Fatalf("audit ConfigMap: %v %v", cm, err)
	}

	// A new instance (a restart, another replica) undoes it.
	other := enfNewEnforcer(t, Options{})
	undone, err := other.Undo(ctx, w.clients, "bob", res.ActionID)
	if err != nil {
		t.Fatal(err)
	}
	if undone.UndoneBy != "bob" || undone.UndoneAt == nil {
		t.Errorf("undone: %+v", undone)
	}
	if got := enfJSON(t, &enfGetDR(t, w, "default", "reviews").Spec); got != before {
		t.Errorf("reviews after undo %s, want %s", got, before)
	}
	if _, err := w.istio.NetworkingV1().DestinationRules("default").Get(ctx, "ratings", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ratings not deleted: %v", err)
	}
	if _, err := w.enforcer.Undo(ctx, w.clients, "bob", res.ActionID); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "already undone") {
		t.Errorf("second undo: %v", err)
	}

	// Events on each object, for enforce and for undo.
	events, err := w.kube.EventsV1().Events("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]int{}
	for _, ev := range events.Items {
		if !strings.Contains(ev.Note, res.ActionID) || ev.Regarding.Kind != KindDestinationRule {
			t.Errorf("event: %+v", ev)
		}
		reasons[ev.Reason+" "+ev.Regarding.Name]++
	}
	for _, want := range []string{"MeshlockEnforced reviews", "MeshlockEnforced ratings", "MeshlockUndone reviews", "MeshlockUndone ratings"} {
		if reasons[want] != 1 {
			t.Errorf("events: %v, want one %q", reasons, want)
		}
	}
}

func TestUndoRefusesAfterForeignEditOnFake(t *testing.T) {
	w := enfNewWorld(t, enfSvc("default", "reviews", map[string]string{"app": "reviews"}, 9080), enfDR("default", "reviews", "reviews", 1))
	ctx := context.Background()
	res, err := enfApply(ctx, w.enforcer, w.clients, "alice", enfReq(ScopeService, "default", "reviews", ModeDestinationRule, false))
	if err != nil {
		t.Fatal(err)
	}
	dr := enfGetDR(t, w, "default", "reviews")
	dr.Annotations = map[string]string{"by": "someone"}
	if _, err := w.istio.NetworkingV1().DestinationRules("default").Update(ctx, dr, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	w.istio.ClearActions()
	_, err = w.enforcer.Undo(ctx, w.clients, "bob", res.ActionID)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "DestinationRule default/reviews") {
		t.Fatalf("err = %v, want ErrConflict naming DestinationRule default/reviews", err)
	}
	if writes := enfWrites(&w.istio.Fake); len(writes) != 0 {
		t.Errorf("a refused undo wrote %v", writes)
	}
	if m := enfGetDR(t, w, "default", "reviews").Spec.GetTrafficPolicy().GetTls().GetMode(); m != networkingapi.ClientTLSSettings_ISTIO_MUTUAL {
		t.Errorf("tls %v", m)
	}
	actions, _ := w.enforcer.Actions(ctx, w.clients)
	if len(actions) != 1 || actions[0].UndoneAt != nil {
		t.Errorf("actions: %+v", actions)
	}
}

func TestActionsNewestFirstAndUnknownIDs(t *testing.T) {
	w := enfNewWorld(t, enfSvc("default", "reviews", map[string]string{"app": "reviews"}, 9080))
	ctx := context.Background()
	var ids []string
	for _, mode := range []string{ModeDestinationRule, ModePeerAuthentication, ModePeerAuthentication} {
		res, err := enfApply(ctx, w.enforcer, w.clients, "alice", enfReq(ScopeService, "default", "reviews", mode, false))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.ActionID)
	}
	// An unreadable record is skipped, not fatal.
	junk := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: auditNamePrefix + "junk", Namespace: "meshlock",
		Labels: map[string]string{ManagedByLabel: ManagedByValue, auditComponentLabel: auditComponentValue}}, Data: map[string]string{auditDataKey: "{"}}
	if _, err := w.kube.CoreV1().ConfigMaps("meshlock").Create(ctx, junk, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The last one changed nothing (already STRICT): it wrote and recorded nothing.
	if ids[2] != "" {
		t.Errorf("a no-op apply answers action id %q, want none", ids[2])
	}
	ids = ids[:2]
	actions, err := w.enforcer.Actions(ctx, w.clients)
	if err != nil || len(actions) != 2 {
		t.Fatalf("actions: %+v %v", actions, err)
	}
	for i, a := range actions {
		if a.ID != ids[len(ids)-1-i] {
			t.Errorf("actions[%d] = %s, want newest first %v", i, a.ID, ids)
		}
	}
	for _, id := range []string{"", "nope", "../x", "20260101-000000-00000000"} {
		if _, err := w.enforcer.Undo(ctx, w.clients, "bob", id); !errors.Is(err, ErrNotFound) {
			t.Errorf("undo %q: %v, want ErrNotFound", id, err)
		}
	}
}

// With AuditClient set, records and Events are written with that identity.
func TestAuditClientIdentity(t *testing.T) {
	w := enfNewWorld(t, enfSvc("default", "reviews", map[string]string{"app": "reviews"}, 9080))
	server := kubefake.NewClientset()
	e := enfNewEnforcer(t, Options{AuditClient: server})
	ctx := context.Background()
	res, err := enfApply(ctx, e, w.clients, "alice", enfReq(ScopeService, "default", "reviews", ModeDestinationRule, false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.CoreV1().ConfigMaps("meshlock").Get(ctx, auditNamePrefix+res.ActionID, metav1.GetOptions{}); err != nil {
		t.Errorf("record not written with the audit client: %v", err)
	}
	if list, _ := w.kube.CoreV1().ConfigMaps("meshlock").List(ctx, metav1.ListOptions{}); len(list.Items) != 0 {
		t.Errorf("record written with the user's client")
	}
	if list, _ := server.EventsV1().Events("default").List(ctx, metav1.ListOptions{}); len(list.Items) != 1 {
		t.Errorf("events with the audit client: %v", list)
	}
}

func TestPatchBuilderInverse(t *testing.T) {
	doc := map[string]any{"spec": map[string]any{"host": "x", "trafficPolicy": map[string]any{"tls": map[string]any{"mode": "DISABLE", "sni": "s"}}}}
	b := &patchBuilder{doc: doc}
	b.set("ISTIO_MUTUAL", "spec", "trafficPolicy", "tls", "mode")
	b.set(map[string]any{"a/b": 1}, "spec", "extra")
	if got := jsonPointer([]any{"spec", "a/b~c", 2}); got != "/spec/a~1b~0c/2" {
		t.Errorf("pointer %s", got)
	}
	if len(b.ops) != 2 || b.inverse[0].Op != "remove" || b.inverse[0].Path != "/spec/extra" || b.inverse[1].Value != "DISABLE" {
		t.Errorf("ops %+v inverse %+v", b.ops, b.inverse)
	}
	if b.set("x", "spec", "missing", "deeper") || b.set("x", "spec", "host", "deeper") {
		t.Error("set under a missing or non-object parent succeeded")
	}
	path, err := splitPointer("/spec/subsets/1/trafficPolicy")
	if err != nil || len(path) != 4 || path[2] != 1 {
		t.Errorf("splitPointer: %v %v", path, err)
	}
}

// An undo that fails midway puts back what it had restored and leaves the
// action undoable.
func TestUndoFailingMidwayIsTakenBack(t *testing.T) {
	w := enfNewWorld(t, enfSvc("default", "reviews", map[string]string{"app": "reviews"}, 9080), enfSvc("default", "ratings", map[string]string{"app": "ratings"}, 9080),
		enfDR("default", "reviews", "reviews", 1))
	ctx := context.Background()
	res, err := enfApply(ctx, w.enforcer, w.clients, "alice", enfReq(ScopeNamespace, "default", "", ModeDestinationRule, false))
	if err != nil {
		t.Fatal(err)
	}
	after := enfJSON(t, &enfGetDR(t, w, "default", "reviews").Spec)
	// reviews (updated) is restored first, then testutil.Deleting ratings (created) fails.
	w.istio.PrependReactor("delete", "destinationrules", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("etcd is having a bad day")
	})
	_, err = w.enforcer.Undo(ctx, w.clients, "bob", res.ActionID)
	if err == nil || !strings.Contains(err.Error(), "DestinationRule default/ratings") {
		t.Fatalf("err = %v, want an error naming DestinationRule default/ratings", err)
	}
	if got := enfJSON(t, &enfGetDR(t, w, "default", "reviews").Spec); got != after {
		t.Errorf("reviews was left restored: %s, want %s", got, after)
	}
	actions, err := w.enforcer.Actions(ctx, w.clients)
	if err != nil || len(actions) != 1 || actions[0].UndoneAt != nil {
		t.Fatalf("actions: %+v %v", actions, err)
	}
	w.istio.ReactionChain = w.istio.ReactionChain[1:]
	if _, err := w.enforcer.Undo(ctx, w.clients, "bob", res.ActionID); err != nil {
		t.Errorf("undo once the failure is gone: %v", err)
	}
	if enfGetDR(t, w, "default", "reviews").Spec.GetTrafficPolicy() != nil {
		t.Error("reviews not restored")
	}
}

// A record written by meshlock before enforce had its own package (the
// ConfigMap as internal/k8s wrote it, byte for byte) still lists and undoes.
func TestAuditRecordOfEarlierVersionsUndoes(t *testing.T) {
	const after = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  labels:\n    app.kubernetes.io/managed-by: meshlock\n  name: ratings\n  namespace: default\nspec:\n  host: ratings\n  trafficPolicy:\n    tls:\n      mode: ISTIO_MUTUAL\n"
	const reviewsAfter = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: reviews\n  namespace: default\nspec:\n  host: reviews\n  trafficPolicy:\n    tls:\n      mode: ISTIO_MUTUAL\n"
	record := `{"id":"20261126-210001-0a1b2c3d","who":"alice","at":"2026-11-26T21:00:01Z","scope":"namespace","mode":"destinationrule","namespace":"default","service":"",` +
		`"objects":[{"kind":"DestinationRule","namespace":"default","name":"ratings","action":"create","previous":"absent","after":` + strconvQuote(after) + `,"resourceVersion":""},` +
		`{"kind":"DestinationRule","namespace":"default","name":"reviews","action":"update","previous":"x","after":` + strconvQuote(reviewsAfter) + `,"resourceVersion":"","undo":[{"op":"remove","path":"/spec/trafficPolicy"}]}]}`
	ratings := enfDR("default", "ratings", "ratings", 0)
	ratings.CreationTimestamp = metav1.Time{}
	ratings.Labels = map[string]string{ManagedByLabel: ManagedByValue}
	ratings.Spec.TrafficPolicy = &networkingapi.TrafficPolicy{Tls: enfTLS(networkingapi.ClientTLSSettings_ISTIO_MUTUAL)}
	reviews := enfDR("default", "reviews", "reviews", 0)
	reviews.CreationTimestamp = metav1.Time{}
	reviews.Spec.TrafficPolicy = &networkingapi.TrafficPolicy{Tls: enfTLS(networkingapi.ClientTLSSettings_ISTIO_MUTUAL)}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "meshlock-action-20261126-210001-0a1b2c3d", Namespace: "meshlock",
		Labels: map[string]string{"app.kubernetes.io/managed-by": "meshlock", "app.kubernetes.io/component": "audit-record"}},
		Data: map[string]string{"action.json": record}}
	w := enfNewWorld(t, ratings, reviews, cm)
	ctx := context.Background()
	actions, err := w.enforcer.Actions(ctx, w.clients)
	if err != nil || len(actions) != 1 || actions[0].Who != "alice" || len(actions[0].Objects) != 2 || len(actions[0].Objects[1].Undo) != 1 {
		t.Fatalf("actions: %+v %v", actions, err)
	}
	if _, err := w.enforcer.Undo(ctx, w.clients, "bob", "20261126-210001-0a1b2c3d"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.istio.NetworkingV1().DestinationRules("default").Get(ctx, "ratings", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ratings after the undo: %v, want it deleted", err)
	}
	if tp := enfGetDR(t, w, "default", "reviews").Spec.GetTrafficPolicy(); tp != nil {
		t.Errorf("reviews after the undo: %v", tp)
	}
}

func strconvQuote(s string) string {
	data, _ := json.Marshal(s)
	return string(data)
}
