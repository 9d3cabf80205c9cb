// The JSON shapes of the enforce API (the contract's POST /api/enforce,
// GET /api/actions, POST /api/actions/{id}/undo), owned here, by the API:
// internal/enforce's types are its domain and its audit records' storage.

package web

import (
	"time"

	"github.com/meshlock/meshlock/internal/enforce"
	"github.com/meshlock/meshlock/internal/graph"
)

// enforceRequestBody is the body of POST /api/enforce as the contract
// spells it (decodeEnforceRequest reads it key by key, strictly, into a
// enforce.Request).
type enforceRequestBody struct {
	Scope     string `json:"scope"`
	Namespace string `json:"namespace"`
	Service   string `json:"service"`
	Mode      string `json:"mode"`
	DryRun    bool   `json:"dryRun"`
	PlanID    string `json:"planId,omitempty"`
	// PolicyDryRun (mode authorization): the policy is written with
	// istio.io/dry-run, logged and not enforced.
	PolicyDryRun bool `json:"policyDryRun,omitempty"`
}

func requestBody(r enforce.Request) enforceRequestBody {
	return enforceRequestBody{Scope: r.Scope, Namespace: r.Namespace, Service: r.Service, Mode: r.Mode, DryRun: r.DryRun, PlanID: r.PlanID,
		PolicyDryRun: r.PolicyDryRun}
}

// enforceResponse is the contract's answer to POST /api/enforce.
type enforceResponse struct {
	DryRun   bool   `json:"dryRun"`
	ActionID string `json:"actionId"`
	// PlanID identifies the plan: an apply must send back the one it saw.
	PlanID  string       `json:"planId"`
	Changes []changeView `json:"changes"`
	Breaks  []breakView  `json:"breaks"`
	// Lookback says how far back Breaks looked.
	Lookback graph.Lookback `json:"lookback"`
	// ServerValidated says whether Kubernetes ran admission and validation
	// on the plan (false in the demo, whose fake API cannot dry-run).
	ServerValidated bool `json:"serverValidated"`
	// Warnings say where the change will not have the effect one may expect.
	Warnings []string `json:"warnings,omitempty"`
}

// planChangedResponse is the 409 of an apply whose plan is no longer what
// the live state gives: the contract's error, with the new plan beside it.
type planChangedResponse struct {
	Error string `json:"error"`
	enforceResponse
}

// breakView is a caller the change would cut: one live now, or one seen in
// the look-back and idle now (enforce.Break).
type breakView struct {
	Source   string  `json:"source"`
	Target   string  `json:"target"`
	Protocol string  `json:"protocol"`
	Rate     float64 `json:"rate"` // now; 0 when idle
	Reason   string  `json:"reason"`
	// Idle: nothing in the rate window; the look-back saw it.
	Idle bool `json:"idle"`
	// LastSeen is when it last sent what the change would refuse (the
	// snapshot's time while it still does).
	LastSeen time.Time `json:"lastSeen"`
	// Volume is its traffic over the look-back, in History's unit; 0 when
	// the look-back knows nothing of it.
	Volume float64 `json:"volume"`
	Unit   string  `json:"unit,omitempty"`
}

func breakViews(breaks []enforce.Break) []breakView {
	out := make([]breakView, len(breaks))
	for i, b := range breaks {
		out[i] = breakView{Source: b.Source, Target: b.Target, Protocol: b.Protocol, Rate: b.Rate, Reason: b.Reason,
			Idle: b.Idle, LastSeen: b.LastSeen, Volume: b.Volume, Unit: b.Unit}
	}
	return out
}

// changeView is one object of a plan.
type changeView struct {
	Action    string `json:"action"` // create, update or unchanged
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	YAML      string `json:"yaml"`               // the object as it would be
	Previous  string `json:"previous,omitempty"` // the object now, for a diff
	Conflict  string `json:"conflict,omitempty"`
}

func changeViews(changes []enforce.Change) []changeView {
	out := make([]changeView, len(changes))
	for i, c := range changes {
		out[i] = changeView{Action: c.Action, Kind: c.Kind, Namespace: c.Namespace, Name: c.Name,
			YAML: c.YAML, Previous: c.Previous, Conflict: c.Conflict}
	}
	return out
}

// actionView is one applied action of the audit trail, as GET /api/actions
// lists it: who, when, what, and how it ended.
type actionView struct {
	ID string `json:"id"`
	// Cluster is the cluster it changed, with several.
	Cluster       string       `json:"cluster,omitempty"`
	Who           string       `json:"who"`
	At            time.Time    `json:"at"`
	Scope         string       `json:"scope"`
	Mode          string       `json:"mode"`
	Namespace     string       `json:"namespace"`
	Service       string       `json:"service"`
	Objects       []objectView `json:"objects"`
	UndoneAt      *time.Time   `json:"undoneAt,omitempty"`
	UndoneBy      string       `json:"undoneBy,omitempty"`
	Error         string       `json:"error,omitempty"`
	RolledBack    bool         `json:"rolledBack,omitempty"`
	RollbackError string       `json:"rollbackError,omitempty"`
}

// objectView is one object an action changed, with its state before and
// after (undo's own bookkeeping stays in the audit record).
type objectView struct {
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	Action     string `json:"action"`
	Previous   string `json:"previous"`
	After      string `json:"after"`
	RolledBack bool   `json:"rolledBack,omitempty"`
}

func newActionView(a enforce.Action) actionView {
	v := actionView{ID: a.ID, Who: a.Who, At: a.At, Scope: a.Scope, Mode: a.Mode, Namespace: a.Namespace,
		Service: a.Service, Objects: make([]objectView, len(a.Objects)), UndoneAt: a.UndoneAt, UndoneBy: a.UndoneBy,
		Error: a.Error, RolledBack: a.RolledBack, RollbackError: a.RollbackError}
	for i, o := range a.Objects {
		v.Objects[i] = objectView{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name, Action: o.Action,
			Previous: o.Previous, After: o.After, RolledBack: o.RolledBack}
	}
	return v
}
