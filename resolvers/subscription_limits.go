package resolvers

import (
	"context"
	"errors"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/fleetgraph/fleetgraph/fleet"
	"github.com/fleetgraph/fleetgraph/internal/errcodes"
)

// subscriptionRefusal presents a subscription refused by a limit with its
// own code (it was INTERNAL); any other error passes through unchanged.
func subscriptionRefusal(ctx context.Context, err error) error {
	var tm *fleet.ErrTooManySubscriptions
	if !errors.As(err, &tm) {
		return err
	}
	return &gqlerror.Error{
		Message:    tm.Error(),
		Path:       graphql.GetPath(ctx),
		Extensions: map[string]any{"code": errcodes.SubscriptionLimit, "limit": tm.Scope, "max": tm.Limit},
	}
}
