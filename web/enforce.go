// The write API: POST /api/enforce (strict JSON decoding; the plan and the callers it would cut are
// internal/enforce's), GET /api/actions and POST /api/actions/{id}/undo, with the write side's
// errors mapped to statuses.

package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/go-chi/chi/v5"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/meshlock/meshlock/internal/enforce"
	"github.com/meshlock/meshlock/internal/k8s"
)

// Enforcer is the write side (internal/enforce.Enforcer).
type Enforcer interface {
	Enforce(ctx context.Context, c k8s.Clients, who string, req enforce.Request) (enforce.Result, error)
	Actions(ctx context.Context, c k8s.Clients) ([]enforce.Action, error)
	Undo(ctx context.Context, c k8s.Clients, who, actionID string) (enforce.Action, error)
}

// maxRequestBody caps what a write request may send.
const maxRequestBody = 64 << 10

func (h *handlers) handleEnforce(w http.ResponseWriter, r *http.Request) {
	if err := requireJSON(r); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	req, err := decodeEnforceRequest(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("the request body is larger than %d bytes", maxRequestBody))
			return
		}
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := req.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	actor := actorOf(r)
	enforcer, clients, err := h.target(actor, req.Cluster)
	if errors.Is(err, errClusterRefusedToken) {
		writeError(w, http.StatusForbidden, err.Error())
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	// Each cluster's audit trail names the user that cluster knows.
	result, err := enforcer.Enforce(r.Context(), clients, actor.WhoIn(req.Cluster), req)
	if err != nil && !errors.Is(err, enforce.ErrPlanChanged) {
		h.writeEnforceError(w, err)
		return
	}
	changes := changeViews(result.Changes)
	// The callers a change would cut, from what the actor may see: a
	// caller in a namespace hidden to them is the node hidden.
	shown, _, err2 := h.view(r, nil)
	if err2 != nil {
		writeError(w, http.StatusServiceUnavailable, "could not check your read rights with Kubernetes: try again")
		return
	}
	breaks, warnings := enforce.Preview(shown, req, result)
	answer := enforceResponse{
		DryRun: result.DryRun, ActionID: result.ActionID, PlanID: result.PlanID, Changes: changes,
		Breaks: breakViews(breaks), Lookback: shown.Lookback, ServerValidated: result.ServerValidated,
		Warnings: append(result.Warnings, warnings...),
	}
	if err != nil {
		writeJSON(w, http.StatusConflict, planChangedResponse{Error: err.Error(), enforceResponse: answer})
		return
	}
	writeJSON(w, http.StatusOK, answer)
}

// requireJSON refuses a body that does not say it is JSON: a form or a
// text/plain body is what a cross-site page can send without a preflight.
func requireJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return errors.New("the request needs Content-Type: application/json")
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil || mediaType != "application/json" {
		return fmt.Errorf("the request body must be JSON (Content-Type: application/json), not %s", clip(ct))
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return fmt.Errorf("the request body must be UTF-8 JSON, not charset %s", clip(cs))
	}
	return nil
}

// enforceFields are the request's keys, spelled exactly so.
var enforceFields = []string{"cluster", "scope", "namespace", "service", "mode", "dryRun", "planId", "policyDryRun"}

// decodeEnforceRequest reads one JSON object, strictly. encoding/json
// matches keys case-insensitively and lets a later duplicate win, so
// {"dryRun":true,"DRYRUN":false} would apply: the keys are read one by one
// and must be spelled exactly, once each. dryRun must be present and a
// boolean, so that nothing is applied by accident; nothing may follow the
// object.
func decodeEnforceRequest(body io.Reader) (enforce.Request, error) {
	var req enforce.Request
	dec := json.NewDecoder(body)
	if tok, err := dec.Token(); err != nil {
		return req, malformed(err)
	} else if tok != json.Delim('{') {
		return req, errors.New("malformed JSON: the request must be a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return req, malformed(err)
		}
		key, _ := tok.(string)
		if !slices.Contains(enforceFields, key) {
			for _, f := range enforceFields {
				if strings.EqualFold(f, key) {
					return req, fmt.Errorf("unknown field %s: keys are case-sensitive, the field is %q", clip(strconv.Quote(key)), f)
				}
			}
			return req, fmt.Errorf("unknown field %s: the fields are %s", clip(strconv.Quote(key)), strings.Join(enforceFields, ", "))
		}
		if seen[key] {
			return req, fmt.Errorf("field %q is given twice", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return req, malformed(err)
		}
		if key == "dryRun" {
			switch string(raw) {
			case "true":
				req.DryRun = true
			case "false":
				req.DryRun = false
			default:
				return req, errors.New("dryRun must be a boolean: true to see the plan, false to apply it")
			}
			continue
		}
		if key == "policyDryRun" {
			switch string(raw) {
			case "true":
				req.PolicyDryRun = true
			case "false":
				req.PolicyDryRun = false
			default:
				return req, errors.New("policyDryRun must be a boolean: true to write the policy with istio.io/dry-run")
			}
			continue
		}
		var value string
		if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &value) != nil {
			return req, fmt.Errorf("%s must be a string", key)
		}
		switch key {
		case "cluster":
			req.Cluster = value
		case "scope":
			req.Scope = value
		case "namespace":
			req.Namespace = value
		case "service":
			req.Service = value
		case "mode":
			req.Mode = value
		case "planId":
			req.PlanID = value
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return req, malformed(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return req, err
		}
		return req, errors.New("malformed JSON: the request must be one JSON object with nothing after it")
	}
	if !seen["dryRun"] {
		return req, errors.New("dryRun is required: true to see the plan, false to apply it")
	}
	if !req.DryRun && req.PlanID == "" {
		return req, errors.New("an apply (dryRun false) needs the planId of the dry run whose plan it applies")
	}
	return req, nil
}

// malformed is a decoding error as one sentence; a body over the size cap
// stays a *http.MaxBytesError for the caller.
func malformed(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return err
	}
	if errors.Is(err, io.EOF) {
		return errors.New("malformed JSON: the body ends before the JSON object does")
	}
	return errors.New("malformed JSON: " + clip(err.Error()))
}

// clip keeps what a client sent short in an answer: bad input is never
// echoed back in full.
func clip(s string) string {
	const limit = 80
	if len(s) <= limit {
		return s
	}
	return strings.ToValidUTF8(s[:limit], "") + "…"
}

// writeEnforceError maps the write side's errors to statuses.
func (h *handlers) writeEnforceError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, enforce.ErrInvalid):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, enforce.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, enforce.ErrConflict), apierrors.IsConflict(err), apierrors.IsAlreadyExists(err):
		writeError(w, http.StatusConflict, err.Error())
	case apierrors.IsForbidden(err):
		writeError(w, http.StatusForbidden, err.Error())
	case apierrors.IsUnauthorized(err):
		writeError(w, http.StatusUnauthorized, err.Error())
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		writeError(w, http.StatusBadRequest, err.Error())
	case unreachable(err):
		h.opts.Logger.Warn("enforce: the Kubernetes API is unavailable", "error", err)
		writeError(w, http.StatusServiceUnavailable, "the Kubernetes API cannot be reached right now, try again: "+err.Error())
	default:
		h.opts.Logger.Error("enforce", "error", err)
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

// unreachable reports an error that says the Kubernetes API could not be
// reached or could not answer now (a connection refused or reset, a
// timeout, a 503 or 429), as opposed to one that says no.
func unreachable(err error) bool {
	if apierrors.IsServiceUnavailable(err) || apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) || apierrors.IsTooManyRequests(err) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded)
}

func (h *handlers) handleActions(w http.ResponseWriter, r *http.Request) {
	actions, err := h.actions(r)
	if err != nil {
		h.writeEnforceError(w, err)
		return
	}
	// A user sees an action when they may see every namespace it touched:
	// its objects tell who changed what where.
	all, visible := h.visibleNamespaces(r)
	shown := []actionView{}
	for _, a := range actions {
		if all || actionVisible(r, a.Action, visible, h.namespaceVisible) {
			v := newActionView(a.Action)
			v.Cluster = a.cluster
			shown = append(shown, v)
		}
	}
	writeJSON(w, http.StatusOK, shown)
}

// actionVisible: every namespace of the action and its objects is one the
// user may see (asked for those the current graph does not show); they are
// namespaces of the action's cluster (a.Cluster, set by actions).
func actionVisible(r *http.Request, a enforce.Action, visible map[string]bool, ask func(*http.Request, string) bool) bool {
	namespaces := []string{namespaceKey(a.Cluster, a.Namespace)}
	for _, o := range a.Objects {
		namespaces = append(namespaces, namespaceKey(a.Cluster, o.Namespace))
	}
	for _, ns := range namespaces {
		if ns != "" && !visible[ns] && !ask(r, ns) {
			return false
		}
	}
	return true
}

func (h *handlers) handleUndo(w http.ResponseWriter, r *http.Request) {
	actor, id := actorOf(r), chi.URLParam(r, "id")
	// The audit trails are read once, for whether the user may see the
	// action (token mode) and for the cluster that holds it (several), whose
	// Enforcer undoes it there.
	tokenMode := accessOf(r.Context()).auth != nil
	cluster := ""
	if tokenMode || len(h.opts.Enforcers) > 0 {
		a, ok, err := h.findAction(r, id)
		switch {
		case tokenMode && (err != nil || !ok || !h.actionShown(r, a.Action)):
			// An action the user may not see is, to them, no action: its
			// objects' names (in RBAC's refusal, say) are not theirs to learn.
			writeError(w, http.StatusNotFound, "no action "+clip(id)+" that you can see")
			return
		case err != nil:
			h.writeEnforceError(w, err)
			return
		case !ok:
			h.writeEnforceError(w, fmt.Errorf("%w: no action %s in any cluster's audit trail", enforce.ErrNotFound, clip(id)))
			return
		}
		cluster = a.cluster
	}
	enforcer, clients, err := h.target(actor, cluster)
	if err != nil {
		writeError(w, http.StatusNotFound, "no action "+clip(id)+" that you can see")
		return
	}
	action, err := enforcer.Undo(r.Context(), clients, actor.WhoIn(cluster), id)
	if err != nil {
		h.writeEnforceError(w, err)
		return
	}
	v := newActionView(action)
	v.Cluster = cluster
	writeJSON(w, http.StatusOK, v)
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

// actionShown says whether the request's actor may see the action: one of
// its namespaces is theirs to read.
func (h *handlers) actionShown(r *http.Request, a enforce.Action) bool {
	all, visible := h.visibleNamespaces(r)
	return all || actionVisible(r, a, visible, h.namespaceVisible)
}
