// Token mode with several clusters (issue 24): each cluster reviews the token itself (TokenReview
// and SubjectAccessReview); a cluster that does not accept it is hidden from its user.

package web

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	authenticationv1 "k8s.io/api/authentication/v1"

	"github.com/meshlock/meshlock/internal/k8s"
)

// errClusterRefusedToken: a write names a cluster that did not accept the
// viewer's token (403, not 400: the cluster exists).
var errClusterRefusedToken = errors.New("did not accept your token")

// clusterAnswer is one cluster's part of a question asked in every cluster.
type clusterAnswer[T any] struct {
	cluster string
	value   T
	err     error
}

// askClusters asks every cluster of names at once, so that a slow or
// unreachable cluster costs its own time only; answers are in names' order.
func askClusters[T any](names []string, ask func(cluster string) (T, error)) []clusterAnswer[T] {
	out := make([]clusterAnswer[T], len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			v, err := ask(name)
			out[i] = clusterAnswer[T]{cluster: name, value: v, err: err}
		})
	}
	wg.Wait()
	return out
}

// authenticateClusters reviews token in every cluster. The clusters that
// accept it are the actor's; one that cannot be asked counts as not
// accepting for this request. None accepting: 429 if a cluster held the
// review back (it might accept: try again), else 401 if one rejected it,
// else the error of a Kubernetes that could not be asked (503).
func (a TokenAuth) authenticateClusters(ctx context.Context, token, source string) (Actor, error) {
	answers := askClusters(slices.Sorted(maps.Keys(a.Clusters)), func(cluster string) (authenticationv1.UserInfo, error) {
		c := a.Clusters[cluster]
		if c.Reviewer == nil {
			return authenticationv1.UserInfo{}, errors.New("no reviewer for this cluster")
		}
		return c.Reviewer.ReviewTokenFrom(ctx, token, source)
	})
	actor := Actor{token: token}
	var rejected, limited bool
	var firstRejection, firstErr error
	for _, ans := range answers {
		switch {
		case ans.err == nil:
			clients, err := a.Clusters[ans.cluster].ClientsFor(token)
			if err != nil {
				return Actor{}, fmt.Errorf("cluster %s: %w", ans.cluster, err)
			}
			if actor.ClusterUsers == nil {
				actor.Who, actor.User = ans.value.Username, ans.value
				actor.ClusterUsers = map[string]authenticationv1.UserInfo{}
				actor.ClusterClients = map[string]k8s.Clients{}
			}
			actor.ClusterUsers[ans.cluster], actor.ClusterClients[ans.cluster] = ans.value, clients
		case errors.Is(ans.err, k8s.ErrUnauthenticated):
			// Kubernetes' reason, without the cluster's name: an
			// unauthenticated caller learns no cluster names.
			rejected = true
			if firstRejection == nil {
				firstRejection = ans.err
			}
		case errors.Is(ans.err, ErrTooManyReviews):
			limited = true
		default:
			if firstErr == nil {
				firstErr = fmt.Errorf("cluster %s: %w", ans.cluster, ans.err)
			}
		}
	}
	switch {
	case actor.ClusterUsers != nil:
		actor.expires, _ = tokenExpiry(token)
		return actor, nil
	case limited:
		return Actor{}, ErrTooManyReviews
	case rejected:
		return Actor{}, firstRejection
	}
	return Actor{}, firstErr
}

// acceptsNow answers actor's user in cluster when the cluster accepted the
// token at authentication and still accepts it for the same user (a
// cached review, never rate-limited), so that an open stream loses a
// cluster that stops accepting. ok false with a nil error is a verdict.
func (a TokenAuth) acceptsNow(ctx context.Context, actor Actor, cluster string) (user authenticationv1.UserInfo, ok bool, err error) {
	first, accepted := actor.ClusterUsers[cluster]
	c, known := a.Clusters[cluster]
	if !accepted || !known || c.Reviewer == nil {
		return authenticationv1.UserInfo{}, false, nil
	}
	user, err = c.Reviewer.ReviewToken(ctx, actor.token)
	switch {
	case errors.Is(err, k8s.ErrUnauthenticated):
		return authenticationv1.UserInfo{}, false, nil
	case err != nil:
		return authenticationv1.UserInfo{}, false, fmt.Errorf("cluster %s: %w", cluster, err)
	case user.Username != first.Username || user.UID != first.UID:
		return authenticationv1.UserInfo{}, false, nil
	}
	return user, true, nil
}

// canReadClusters: key "" is every cluster accepting the token and
// letting its user list Services cluster-wide; "<cluster>/<namespace>"
// is that cluster accepting it and letting them list Services there. A
// namespace without a cluster (an object no cluster qualifies) could be in
// any cluster, so every cluster must let them read it.
func (a TokenAuth) canReadClusters(ctx context.Context, actor Actor, key string) (bool, error) {
	cluster, namespace, qualified := strings.Cut(key, "/")
	if !qualified {
		namespace = key
	}
	var clusters []string
	switch {
	case qualified:
		clusters = []string{cluster}
	case len(actor.ClusterUsers) < len(a.Clusters):
		return false, nil // a cluster that did not accept the token shows nothing
	default:
		clusters = slices.Sorted(maps.Keys(a.Clusters))
	}
	ask := func(cluster string) (bool, error) {
		user, ok, err := a.acceptsNow(ctx, actor, cluster)
		if !ok || err != nil {
			return false, err
		}
		return a.Clusters[cluster].Reviewer.CanListServices(ctx, user, namespace)
	}
	if len(clusters) == 1 {
		return ask(clusters[0]) // no goroutine per key: visible asks many
	}
	return allOf(askClusters(clusters, ask))
}

// allOf: a no from any cluster is the answer; else an error if one could
// not say; else yes.
func allOf(answers []clusterAnswer[bool]) (bool, error) {
	var firstErr error
	for _, ans := range answers {
		if ans.err == nil && !ans.value {
			return false, nil
		}
		if ans.err != nil && firstErr == nil {
			firstErr = ans.err
		}
	}
	if firstErr != nil {
		return false, firstErr
	}
	return true, nil
}

// canGetMetricsClusters: /metrics are meshlock's own, about every cluster,
// so a right in any accepting cluster is enough.
func (a TokenAuth) canGetMetricsClusters(ctx context.Context, actor Actor) (bool, error) {
	answers := askClusters(slices.Sorted(maps.Keys(actor.ClusterUsers)), func(cluster string) (bool, error) {
		user, ok, err := a.acceptsNow(ctx, actor, cluster)
		if !ok || err != nil {
			return false, err
		}
		return a.Clusters[cluster].Reviewer.CanGet(ctx, user, "/metrics")
	})
	var firstErr error
	for _, ans := range answers {
		if ans.value {
			return true, nil
		}
		if ans.err != nil && firstErr == nil {
			firstErr = ans.err
		}
	}
	return false, firstErr
}

// recheckClusters reviews the token again in the clusters that accepted
// it: unauthenticated once none does; a cluster that could not be asked
// is no verdict. A cluster that stopped accepting leaves the view through
// canRead at the next snapshot.
func (a TokenAuth) recheckClusters(ctx context.Context, actor Actor) error {
	answers := askClusters(slices.Sorted(maps.Keys(actor.ClusterUsers)), func(cluster string) (bool, error) {
		_, ok, err := a.acceptsNow(ctx, actor, cluster)
		return ok, err
	})
	var firstErr error
	for _, ans := range answers {
		if ans.value {
			return nil
		}
		if ans.err != nil && firstErr == nil {
			firstErr = ans.err
		}
	}
	if firstErr != nil {
		return firstErr
	}
	return errors.Join(k8s.ErrUnauthenticated, errors.New("no cluster accepts the token any more"))
}
