package web

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/meshlock/meshlock/internal/k8s"
)

// Actor is who a request acts as, and the Kubernetes clients that carry
// that identity, so Kubernetes RBAC decides what it may change.
type Actor struct {
	Who     string
	Clients k8s.Clients
}

// Authenticator decides the actor of an /api/ request. An error wrapping
// k8s.ErrUnauthenticated answers 401.
type Authenticator interface {
	Authenticate(r *http.Request) (Actor, error)
}

// ServerIdentity is --auth=none: whoever reaches the port acts with the
// server's own Kubernetes identity.
type ServerIdentity struct{ Actor Actor }

// Authenticate always answers the server's identity.
func (s ServerIdentity) Authenticate(*http.Request) (Actor, error) { return s.Actor, nil }

// TokenAuth is --auth=token: the bearer token is checked with a TokenReview
// and the request acts with that token.
type TokenAuth struct {
	// Review answers the token's user name, or an error wrapping k8s.ErrUnauthenticated.
	Review func(ctx context.Context, token string) (string, error)
	// ClientsFor builds clients that authenticate with the token.
	ClientsFor func(token string) (k8s.Clients, error)
}

// Authenticate checks the Authorization header.
func (a TokenAuth) Authenticate(r *http.Request) (Actor, error) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(token) == "" {
		return Actor{}, errors.Join(k8s.ErrUnauthenticated, errors.New("send Authorization: Bearer <Kubernetes token>"))
	}
	token = strings.TrimSpace(token)
	who, err := a.Review(r.Context(), token)
	if err != nil {
		return Actor{}, err
	}
	clients, err := a.ClientsFor(token)
	if err != nil {
		return Actor{}, err
	}
	return Actor{Who: who, Clients: clients}, nil
}

type actorKey struct{}

// authenticate puts the request's actor in its context, or answers 401.
func (h *handlers) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, err := h.opts.Auth.Authenticate(r)
		switch {
		case errors.Is(err, k8s.ErrUnauthenticated):
			w.Header().Set("WWW-Authenticate", `Bearer realm="meshlock"`)
			writeError(w, http.StatusUnauthorized, err.Error())
			return
		case err != nil:
			h.opts.Logger.Error("authenticating a request", "error", err)
			writeError(w, http.StatusServiceUnavailable, "could not check the token with Kubernetes: "+err.Error())
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), actorKey{}, actor)))
	})
}

func actorOf(r *http.Request) Actor {
	actor, _ := r.Context().Value(actorKey{}).(Actor)
	return actor
}
