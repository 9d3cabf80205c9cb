// Tests of applying plans: an apply needs the planId it was shown, a no-op apply records nothing,
// and failed applies and incomplete rollbacks are recorded and undoable as far as they need.

package enforce

import (
	"context"
	"errors"
	"strings"
	"testing"

	networkingapi "istio.io/api/networking/v1alpha3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

// An apply writes exactly the plan that was shown: the same live state
// gives the same planId, an apply without one or with a stale one writes
// nothing, and the stale one answers the new plan.
func TestApplyNeedsThePlanItWasShown(t *testing.T) {
	w := enfNewWorld(t, enfSvc("default", "reviews", map[string]string{"app": "reviews"}, 9080), enfSvc("default", "ratings", map[string]string{"app": "ratings"}, 9080),
		enfDR("default", "reviews", "reviews", 1))
	ctx := context.Background()
	dry := enfReq(ScopeNamespace, "default", "", ModeDestinationRule, true)
	first, err := w.enforcer.Enforce(ctx, w.clients, "me", dry)
	if err != nil {
		t.Fatal(err)
	}
	second, err := w.enforcer.Enforce(ctx, w.clients, "me", dry)
	if err != nil {
		t.Fatal(err)
	}
	if first.PlanID == "" || first.PlanID != second.PlanID {
		t.Fatalf("planIds of the same state: %q and %q, want equal and non-empty", first.PlanID, second.PlanID)
	}
	other, err := w.enforcer.Enforce(ctx, w.clients, "me", enfReq(ScopeService, "default", "ratings", ModeDestinationRule, true))
	if err != nil || other.PlanID == first.PlanID {
		t.Fatalf("another scope's plan has the same planId %q (%v)", other.PlanID, err)
	}

	apply := enfReq(ScopeNamespace, "default", "", ModeDestinationRule, false)
	if _, err := w.enforcer.Enforce(ctx, w.clients, "me", apply); !errors.Is(err, ErrInvalid) {
		t.Errorf("an apply without a planId: %v, want ErrInvalid", err)
	}
	if writes := enfWrites(&w.istio.Fake); len(writes) != 0 {
		t.Fatalf("refused applies wrote %v", writes)
	}

	// Someone changes reviews after the plan was shown.
	dr := enfGetDR(t, w, "default", "reviews")
	dr.Spec.ExportTo = []string{"."}
	if _, err := w.istio.NetworkingV1().DestinationRules("default").Update(ctx, dr, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	w.istio.ClearActions()
	apply.PlanID = first.PlanID
	res, err := w.enforcer.Enforce(ctx, w.clients, "me", apply)
	if !errors.Is(err, ErrPlanChanged) || !errors.Is(err, ErrConflict) {
		t.Fatalf("an apply of a stale plan: %v, want ErrPlanChanged (an ErrConflict)", err)
	}
	if writes := enfWrites(&w.istio.Fake); len(writes) != 0 {
		t.Errorf("an apply of a stale plan wrote %v", writes)
	}
	if !res.DryRun || res.ActionID != "" || res.PlanID == "" || res.PlanID == first.PlanID || len(res.Changes) != 2 ||
		!strings.Contains(res.Changes[1].Previous, "exportTo") {
		t.Fatalf("the new plan: %+v", res)
	}
	if actions, _ := w.enforcer.Actions(ctx, w.clients); len(actions) != 0 {
		t.Errorf("a refused apply was recorded: %+v", actions)
	}
	apply.PlanID = res.PlanID
	done, err := w.enforcer.Enforce(ctx, w.clients, "me", apply)
	if err != nil || done.ActionID == "" || done.PlanID != res.PlanID {
		t.Fatalf("the apply of the new plan: %+v %v", done, err)
	}
	if got := enfGetDR(t, w, "default", "reviews").Spec.GetTrafficPolicy().GetTls().GetMode(); got != networkingapi.ClientTLSSettings_ISTIO_MUTUAL {
		t.Errorf("reviews' tls mode after the apply: %v", got)
	}
}

// An apply whose every change is "unchanged" writes nothing and records
// nothing: no audit record, no Event, no action id.
func TestNoOpApplyRecordsNothing(t *testing.T) {
	dr := enfDR("default", "reviews", "reviews", 1)
	dr.Spec.TrafficPolicy = &networkingapi.TrafficPolicy{Tls: enfTLS(networkingapi.ClientTLSSettings_ISTIO_MUTUAL)}
	w := enfNewWorld(t, enfSvc("default", "reviews", map[string]string{"app": "reviews"}, 9080), dr)
	ctx := context.Background()
	w.kube.ClearActions()
	res, err := enfApply(ctx, w.enforcer, w.clients, "me", enfReq(ScopeNamespace, "default", "", ModeDestinationRule, false))
	if err != nil {
		t.Fatal(err)
	}
	if res.ActionID != "" || res.DryRun || len(res.Changes) != 1 || res.Changes[0].Action != ActionUnchanged {
		t.Fatalf("a no-op apply: %+v", res)
	}
	if writes := append(enfWrites(&w.istio.Fake), enfWrites(&w.kube.Fake)...); len(writes) != 0 {
		t.Errorf("a no-op apply wrote %v", writes)
	}
}

// When the third of four writes is refused, the two before it are rolled
// back and the audit trail keeps a record that says so, which Undo refuses.
func TestFailedApplyIsRolledBackAndRecorded(t *testing.T) {
	var objects []runtime.Object
	for _, name := range []string{"details", "productpage", "ratings", "reviews"} {
		objects = append(objects, enfSvc("default", name, map[string]string{"app": name}, 9080), enfDR("default", name, name, 1))
	}
	w := enfNewWorld(t, objects...)
	ctx := context.Background()
	w.istio.PrependReactor("patch", "destinationrules", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.PatchAction).GetName() == "ratings" {
			return true, nil, errors.New("admission webhook denied the request: not ratings")
		}
		return false, nil, nil
	})
	_, err := enfApply(ctx, w.enforcer, w.clients, "alice", enfReq(ScopeNamespace, "default", "", ModeDestinationRule, false))
	if err == nil || !strings.Contains(err.Error(), "DestinationRule default/ratings") {
		t.Fatalf("err = %v, want the refusal of DestinationRule default/ratings", err)
	}
	for _, name := range []string{"details", "productpage", "ratings", "reviews"} {
		if tp := enfGetDR(t, w, "default", name).Spec.GetTrafficPolicy(); tp != nil {
			t.Errorf("%s after the failed apply: %v, want it as before", name, tp)
		}
	}
	actions, err := w.enforcer.Actions(ctx, w.clients)
	if err != nil || len(actions) != 1 {
		t.Fatalf("actions: %+v %v", actions, err)
	}
	a := actions[0]
	if !strings.Contains(a.Error, "not ratings") || !a.RolledBack || a.RollbackError != "" || a.UndoneAt == nil || a.UndoneBy != rollbackActor || a.Who != "alice" {
		t.Errorf("the record of the failed action: %+v", a)
	}
	if len(a.Objects) != 2 || a.Objects[0].Name != "details" || a.Objects[1].Name != "productpage" || !a.Objects[0].RolledBack || !a.Objects[1].RolledBack {
		t.Errorf("the record's objects: %+v", a.Objects)
	}
	if _, err := w.enforcer.Undo(ctx, w.clients, "bob", a.ID); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "rolled back") {
		t.Errorf("undo of a rolled-back action: %v, want ErrConflict saying it was rolled back", err)
	}
}

// When the rollback itself fails, the record says what it could not
// restore, and Undo restores exactly that.
func TestIncompleteRollbackIsRecordedAndUndoable(t *testing.T) {
	var objects []runtime.Object
	for _, name := range []string{"details", "productpage", "ratings"} {
		objects = append(objects, enfSvc("default", name, map[string]string{"app": name}, 9080), enfDR("default", name, name, 1))
	}
	w := enfNewWorld(t, objects...)
	ctx := context.Background()
	patches := map[string]int{}
	w.istio.PrependReactor("patch", "destinationrules", func(a k8stesting.Action) (bool, runtime.Object, error) {
		name := a.(k8stesting.PatchAction).GetName()
		patches[name]++
		// ratings is refused; the rollback of details (its second patch) too.
		if name == "ratings" || (name == "details" && patches[name] == 2) {
			return true, nil, errors.New("the API server refused the patch")
		}
		return false, nil, nil
	})
	if _, err := enfApply(ctx, w.enforcer, w.clients, "alice", enfReq(ScopeNamespace, "default", "", ModeDestinationRule, false)); err == nil ||
		!strings.Contains(err.Error(), "rolling back failed") {
		t.Fatalf("err = %v, want one that says the rollback failed", err)
	}
	actions, err := w.enforcer.Actions(ctx, w.clients)
	if err != nil || len(actions) != 1 {
		t.Fatalf("actions: %+v %v", actions, err)
	}
	a := actions[0]
	if a.RolledBack || a.UndoneAt != nil || !strings.Contains(a.RollbackError, "DestinationRule default/details") || len(a.Objects) != 2 ||
		a.Objects[0].RolledBack || !a.Objects[1].RolledBack {
		t.Fatalf("the record of an incomplete rollback: %+v", a)
	}
	if enfGetDR(t, w, "default", "details").Spec.GetTrafficPolicy() == nil {
		t.Fatal("details was restored although its rollback was refused")
	}
	if _, err := w.enforcer.Undo(ctx, w.clients, "bob", a.ID); err != nil {
		t.Fatalf("undo of what the rollback left: %v", err)
	}
	for _, name := range []string{"details", "productpage", "ratings"} {
		if tp := enfGetDR(t, w, "default", name).Spec.GetTrafficPolicy(); tp != nil {
			t.Errorf("%s after the undo: %v", name, tp)
		}
	}
}
