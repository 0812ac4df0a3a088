package resolvers

import (
	"context"
	"errors"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/fleetgraph/fleetgraph/fleet"
)

// CodeSubscriptionLimit is the extensions.code of a subscription refused
// because its connection (extensions.limit "perConnection",
// subscriptions.maxPerConnection) or the whole gateway (extensions.limit
// "total", subscriptions.maxTotal) has as many open as allowed;
// extensions.max is the limit. Nothing was called upstream.
const CodeSubscriptionLimit = "SUBSCRIPTION_LIMIT"

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
		Extensions: map[string]any{"code": CodeSubscriptionLimit, "limit": tm.Scope, "max": tm.Limit},
	}
}
