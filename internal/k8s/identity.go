// Identities from Kubernetes: whose bearer token this is (TokenReview) and which user the server
// itself acts as (SelfSubjectReview), for the audit trail.

package k8s

import (
	"context"
	"errors"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ErrUnauthenticated means a bearer token was missing or Kubernetes rejected it.
var ErrUnauthenticated = errors.New("unauthenticated")

// ReviewToken asks Kubernetes (a TokenReview) whose token this is, so that
// meshlock can act as that user and let RBAC decide.
func ReviewToken(ctx context.Context, kube kubernetes.Interface, token string) (string, error) {
	if token == "" {
		return "", fmt.Errorf("%w: no bearer token", ErrUnauthenticated)
	}
	review, err := kube.AuthenticationV1().TokenReviews().Create(ctx,
		&authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token review: %w", err)
	}
	if !review.Status.Authenticated {
		reason := review.Status.Error
		if reason == "" {
			reason = "the token was not accepted"
		}
		return "", fmt.Errorf("%w: %s", ErrUnauthenticated, reason)
	}
	return review.Status.User.Username, nil
}

// WhoAmI asks Kubernetes (a SelfSubjectReview) which user the client acts
// as, for the audit trail of actions taken with the server's own identity.
func WhoAmI(ctx context.Context, kube kubernetes.Interface) (string, error) {
	review, err := kube.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("self subject review: %w", err)
	}
	return review.Status.UserInfo.Username, nil
}
