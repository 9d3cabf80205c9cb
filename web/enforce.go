package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/k8s"
)

// Enforcer is the write side (internal/k8s.Enforcer).
type Enforcer interface {
	Enforce(ctx context.Context, c k8s.Clients, who string, req k8s.EnforceRequest) (k8s.Result, error)
	Actions(ctx context.Context, c k8s.Clients) ([]k8s.Action, error)
	Undo(ctx context.Context, c k8s.Clients, who, actionID string) (k8s.Action, error)
}

// maxRequestBody caps what a write request may send.
const maxRequestBody = 64 << 10

// enforceResponse is the contract's answer to POST /api/enforce.
type enforceResponse struct {
	DryRun   bool         `json:"dryRun"`
	ActionID string       `json:"actionId"`
	Changes  []k8s.Change `json:"changes"`
	Breaks   []breakView  `json:"breaks"`
	// ServerValidated says whether Kubernetes ran admission and validation
	// on the plan (false in the demo, whose fake API cannot dry-run).
	ServerValidated bool `json:"serverValidated"`
	// Warnings say where the change will not have the effect one may expect.
	Warnings []string `json:"warnings,omitempty"`
}

// breakView is a live edge the change would cut.
type breakView struct {
	Source   string  `json:"source"`
	Target   string  `json:"target"`
	Protocol string  `json:"protocol"`
	Rate     float64 `json:"rate"`
	Reason   string  `json:"reason"`
}

func (h *handlers) handleEnforce(w http.ResponseWriter, r *http.Request) {
	var req k8s.EnforceRequest
	decoder := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&req); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("the request body is larger than %d bytes", maxRequestBody))
			return
		}
		writeError(w, http.StatusBadRequest, "malformed JSON: "+err.Error())
		return
	}
	if err := req.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	actor := actorOf(r)
	result, err := h.opts.Enforcer.Enforce(r.Context(), actor.Clients, actor.Who, req)
	if err != nil {
		h.writeEnforceError(w, err)
		return
	}
	changes := result.Changes
	if changes == nil {
		changes = []k8s.Change{}
	}
	writeJSON(w, http.StatusOK, enforceResponse{
		DryRun: result.DryRun, ActionID: result.ActionID, Changes: changes,
		Breaks: breaksOf(h.opts.Graph.Snapshot(), req), ServerValidated: result.ServerValidated,
		Warnings: result.Warnings,
	})
}

// writeEnforceError maps the write side's errors to statuses.
func (h *handlers) writeEnforceError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, k8s.ErrInvalid):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, k8s.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, k8s.ErrConflict), apierrors.IsConflict(err), apierrors.IsAlreadyExists(err):
		writeError(w, http.StatusConflict, err.Error())
	case apierrors.IsForbidden(err):
		writeError(w, http.StatusForbidden, err.Error())
	case apierrors.IsUnauthorized(err):
		writeError(w, http.StatusUnauthorized, err.Error())
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		h.opts.Logger.Error("enforce", "error", err)
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

// breaksOf lists the live edges the change would cut, from the current
// graph: plaintext callers into servers turning STRICT, and callers with a
// sidecar (which ISTIO_MUTUAL makes send mTLS) into servers without one.
func breaksOf(s graph.Snapshot, req k8s.EnforceRequest) []breakView {
	nodes := map[string]graph.Node{}
	for _, n := range s.Nodes {
		nodes[n.ID] = n
	}
	inScope := func(n graph.Node) bool {
		if n.Kind != graph.KindService {
			return false
		}
		switch req.Scope {
		case k8s.ScopeNamespace:
			return n.Namespace == req.Namespace
		case k8s.ScopeService:
			return n.Namespace == req.Namespace && n.Name == req.Service
		default:
			return true
		}
	}
	out := []breakView{}
	for _, n := range s.Nodes {
		if !inScope(n) {
			continue
		}
		if req.Mode == k8s.ModePeerAuthentication {
			if !n.InMesh {
				continue // no sidecar enforces STRICT there
			}
			for _, e := range graph.CallersCutByStrict(s, n.ID) {
				out = append(out, breakView{Source: e.Source, Target: e.Target, Protocol: e.Protocol, Rate: e.Rate,
					Reason: "plaintext caller: STRICT refuses it"})
			}
			continue
		}
		if n.InMesh {
			continue
		}
		for _, e := range s.Edges {
			if e.Target != n.ID || e.Source == graph.Unknown {
				continue
			}
			out = append(out, breakView{Source: e.Source, Target: e.Target, Protocol: e.Protocol, Rate: e.Rate,
				Reason: "ISTIO_MUTUAL towards a server without a sidecar"})
		}
	}
	return out
}

func (h *handlers) handleActions(w http.ResponseWriter, r *http.Request) {
	actions, err := h.opts.Enforcer.Actions(r.Context(), actorOf(r).Clients)
	if err != nil {
		h.writeEnforceError(w, err)
		return
	}
	if actions == nil {
		actions = []k8s.Action{}
	}
	writeJSON(w, http.StatusOK, actions)
}

func (h *handlers) handleUndo(w http.ResponseWriter, r *http.Request) {
	actor := actorOf(r)
	action, err := h.opts.Enforcer.Undo(r.Context(), actor.Clients, actor.Who, chi.URLParam(r, "id"))
	if err != nil {
		h.writeEnforceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, action)
}

// requireEnforce answers 403 to writes unless --allow-enforce is on.
func (h *handlers) requireEnforce(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.opts.AllowEnforce {
			writeError(w, http.StatusForbidden, "this dashboard is read-only: start meshlock with --allow-enforce to enforce mTLS")
			return
		}
		next.ServeHTTP(w, r)
	})
}
