// Test helper enfApply: a dry run, then an apply carrying its planId, as the page does.

package integration

import (
	"context"

	"github.com/meshlock/meshlock/internal/enforce"
	"github.com/meshlock/meshlock/internal/k8s"
)

// enfApply does what the page does: a dry run, then an apply carrying the
// dry run's planId (an apply without one is refused). A dry run, or a
// request that has its planId, goes as is.
func enfApply(ctx context.Context, e *enforce.Enforcer, c k8s.Clients, who string, req enforce.Request) (enforce.Result, error) {
	if req.DryRun || req.PlanID != "" {
		return e.Enforce(ctx, c, who, req)
	}
	dry := req
	dry.DryRun = true
	plan, err := e.Enforce(ctx, c, who, dry)
	if err != nil {
		return plan, err
	}
	req.PlanID = plan.PlanID
	return e.Enforce(ctx, c, who, req)
}
