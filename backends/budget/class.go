package budget

import (
	"context"
	"math"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
)

// Class is a call's priority: the lower the value, the sooner it is served
// when the budget is short.
type Class int

const (
	// Critical: mutations. Never waits behind another class.
	Critical Class = iota
	// Interactive: GraphiQL and single-object lookups.
	Interactive
	// Dashboard: list queries.
	Dashboard
	// Background: subscription polls and refreshes.
	Background
)

// Classes lists every class, in priority order.
var Classes = []Class{Critical, Interactive, Dashboard, Background}

func (c Class) String() string {
	switch c {
	case Critical:
		return "mutation"
	case Interactive:
		return "interactive"
	case Dashboard:
		return "dashboard"
	case Background:
		return "background"
	}
	return "unknown"
}

// DefaultWaits bound how long a call of each class waits for room: a
// mutation may wait for the next free call, a dashboard briefly (its
// answer is better stale than late), a subscription poll not at all (the
// next poll comes anyway).
var DefaultWaits = map[Class]time.Duration{
	Critical:    10 * time.Second,
	Interactive: 5 * time.Second,
	Dashboard:   time.Second,
	Background:  0,
}

// reserves are the shares of the burst each class leaves to the classes
// above it: a dashboard call is let through only while more than 30% of
// the burst is left, so that mutations and lookups find room at once.
var reserves = map[Class]float64{Critical: 0, Interactive: 0.1, Dashboard: 0.3, Background: 0.5}

// reserve is class's reserve in calls, always below burst (so that a class
// is never shut out for good).
func reserve(c Class, burst int) int {
	return min(int(math.Ceil(reserves[c]*float64(burst))), max(0, burst-1))
}

type classKey struct{}

// WithClass returns ctx whose upstream calls are billed as class.
func WithClass(ctx context.Context, c Class) context.Context {
	return context.WithValue(ctx, classKey{}, c)
}

// ClassOf is ctx's class: Critical for a call others wait for (a token
// fetch, backends.WithUrgent), Interactive when none was set.
func ClassOf(ctx context.Context) Class {
	if backends.Urgent(ctx) {
		return Critical
	}
	if c, ok := ctx.Value(classKey{}).(Class); ok {
		return c
	}
	return Interactive
}
