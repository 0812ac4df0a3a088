package fleet

import (
	"context"
	"fmt"
	"time"

	"github.com/fleetgraph/fleetgraph/graph/model"
	"github.com/fleetgraph/fleetgraph/internal/ids"
)

// LiveRequest is a metrics subscription's arguments, validated by the
// resolvers (resolvers/args.go liveRequest).
type LiveRequest struct {
	Types           MetricTypes
	IntervalSeconds *int
	Window          time.Duration
	Samples         int
}

func (r LiveRequest) key(kind, backend, target string, interval time.Duration, scope string) string {
	return fmt.Sprintf("%s|%s|%s|%s|%d|%d|%d|%s", kind, backend, target, r.Types.String(), interval, r.Window, r.Samples, scope)
}

// metricsPoll is one poll of a metrics subscription: fresh loaders (so the
// shared cache, not a connection's memo, answers), the window ending now.
func (s *Service) metricsPoll(types MetricTypes, window time.Duration, samples int,
	fetch func(ctx context.Context, req MetricsRequest) ([]*model.MetricSeries, error)) func(context.Context) any {
	return func(ctx context.Context) any {
		now := time.Now().UTC()
		ctx = WithLoaders(ctx, NewLoaders(s.reg, s.cache))
		series, err := fetch(ctx, MetricsRequest{Want: types, All: types, Start: now.Add(-window), End: now, Samples: samples})
		u := &model.MetricsUpdate{At: now, Series: series}
		if err != nil {
			u.Errs = []error{err}
		}
		return u
	}
}

// SubscribeNodeMetrics streams a node's metrics, polled once per interval
// for all subscribers of the same key.
func (s *Service) SubscribeNodeMetrics(ctx context.Context, id ids.ID, r LiveRequest) (<-chan *model.MetricsUpdate, error) {
	release, err := s.admit(ctx)
	if err != nil {
		return nil, err
	}
	node, err := s.Node(ctx, id)
	if err == nil && node == nil {
		err = &NotFoundError{What: "node", Name: id.Last()}
	}
	if err != nil {
		release()
		return nil, err
	}
	interval := s.liveInterval(r.IntervalSeconds)
	key := r.key("node", node.Backend, node.ID, interval, credentialScope(ctx))
	poll := s.metricsPoll(r.Types, r.Window, r.Samples, func(ctx context.Context, req MetricsRequest) ([]*model.MetricSeries, error) {
		return s.NodeMetrics(ctx, node, req)
	})
	return forward[*model.MetricsUpdate](ctx, s.hub.Subscribe(ctx, key, interval, poll)), nil
}

// SubscribeNodePoolMetrics streams a node pool's metrics.
func (s *Service) SubscribeNodePoolMetrics(ctx context.Context, id ids.ID, r LiveRequest) (<-chan *model.MetricsUpdate, error) {
	release, err := s.admit(ctx)
	if err != nil {
		return nil, err
	}
	pool, err := s.NodePool(ctx, id)
	if err == nil && pool == nil {
		err = &NotFoundError{What: "node pool", Name: id.Last()}
	}
	if err != nil {
		release()
		return nil, err
	}
	interval := s.liveInterval(r.IntervalSeconds)
	key := r.key("pool", pool.Backend, pool.ID, interval, credentialScope(ctx))
	poll := s.metricsPoll(r.Types, r.Window, r.Samples, func(ctx context.Context, req MetricsRequest) ([]*model.MetricSeries, error) {
		return s.NodePoolMetrics(ctx, pool, req)
	})
	return forward[*model.MetricsUpdate](ctx, s.hub.Subscribe(ctx, key, interval, poll)), nil
}

// SubscribeFleetSummary streams the summary of the nodes matching q.
func (s *Service) SubscribeFleetSummary(ctx context.Context, q NodeQuery, filterKey string, intervalSeconds *int) (<-chan *model.FleetSummaryUpdate, error) {
	if _, err := s.admit(ctx); err != nil {
		return nil, err
	}
	interval := s.liveInterval(intervalSeconds)
	key := fmt.Sprintf("summary|%s|%d|%s", filterKey, interval, credentialScope(ctx))
	poll := func(ctx context.Context) any {
		now := time.Now().UTC()
		ctx = WithLoaders(ctx, NewLoaders(s.reg, s.cache))
		res := s.Nodes(ctx, q)
		allocated, errs := s.AllocatedGPUs(ctx, res.Items)
		u := &model.FleetSummaryUpdate{At: now, Errs: append(res.Errors, errs...)}
		if len(res.Items) > 0 || len(res.Errors) == 0 {
			u.Summary = Summarize(res.Items, allocated)
		}
		return u
	}
	return forward[*model.FleetSummaryUpdate](ctx, s.hub.Subscribe(ctx, key, interval, poll)), nil
}

// forward converts the hub's channel to the subscription's type, and closes
// it when ctx ends (gqlgen then completes the subscription). A panic in its
// goroutine ends the subscription, not the process.
func forward[T any](ctx context.Context, in <-chan any) <-chan T {
	out := make(chan T)
	go func() {
		defer close(out)
		defer RecoverInto(ctx, "subscription forward", nil)
		for {
			select {
			case <-ctx.Done():
				return
			case v := <-in:
				select {
				case out <- v.(T):
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}
