// Package gqlfast is the runtime of the changes fleetgraph's generator
// (internal/cmd/gqlgen) makes to gqlgen's generated executor. Two are for
// lists of objects whose fields cannot block or fail:
//
//   - A list of "plain" objects (every field read from a struct field, with
//     no resolver, no arguments, no directives, and either a non-null
//     built-in scalar or a non-null list of non-null plain objects), such
//     as MetricPoint, or MetricSeries with its labels and points, is
//     checked, then written in one pass when the response is written,
//     straight into it (Lazy), instead of one goroutine, one field set and
//     one field context per element and per field. Anything the fast path
//     cannot write byte for byte as gqlgen would (a @defer, a nil element,
//     a NaN, a zero time), at any depth, makes the check fail, and gqlgen's
//     own code runs instead for the whole list, with its errors and paths.
//   - A list of objects with no concurrent field (no resolver, no method
//     taking a context) is marshalled in order on the calling goroutine
//     (MarshalSliceSequential) instead of one goroutine per element: such
//     elements never wait on anything, so the goroutines only cost.
//
// The others, for every operation: a field's arguments computed once per
// operation (Args, args.go), a query's payload written into a buffer sized
// by its operation's last one (MarshalResponse, response.go), and, in the
// generated code alone (gen), no path built for an object with nothing
// deferred and one error value per scalar type in field contexts.
//
// gqlgen v0.17.95 marshals every element of every list of objects in a
// goroutine of its own (graphql.MarshalSliceConcurrently); on a 100-node
// dashboard that was 4 200 goroutines and about a third of the CPU.
package gqlfast

import (
	"context"
	"io"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// Plan is what a list of plain objects writes for every element: the
// fields collected from its selection set, each one's `"alias":` prefix,
// and the plans of the lists of plain objects under it, collected on the
// first element that needs them (every element has the same selections).
type Plan struct {
	Fields []graphql.CollectedField
	keys   [][]byte
	subs   []*Plan
}

// NewPlan returns the plan of fields, or nil, for the caller to fall back
// to gqlgen's code, when a field is deferred (or the fast path is off).
func NewPlan(fields []graphql.CollectedField) *Plan {
	if off.Load() {
		return nil
	}
	p := &Plan{Fields: fields, keys: make([][]byte, len(fields))}
	for i, f := range fields {
		if f.IsDeferred() {
			return nil
		}
		l := &List{}
		graphql.MarshalString(f.Alias).MarshalGQL(l)
		p.keys[i] = append(l.buf, ':')
	}
	return p
}

// Sub returns the plan of the j-th field's list of plain objects (of the
// given implementors), collected once; nil when a field under it is
// deferred.
func (p *Plan) Sub(j int, oc *graphql.OperationContext, implementors []string) *Plan {
	if p.subs == nil {
		p.subs = make([]*Plan, len(p.Fields))
	}
	if p.subs[j] == nil {
		p.subs[j] = NewPlan(graphql.CollectFields(oc, p.Fields[j].Selections, implementors))
	}
	return p.subs[j]
}

// List is the JSON text of lists of plain objects, written in one pass.
type List struct {
	buf []byte
}

// Lazy returns a Marshaler that writes a checked list when the response
// is written, straight into it: write fills a List from a pool, whose text
// then goes to the response's writer in one Write. The values written must
// not change in between (resolved values are only read).
func Lazy(write func(l *List)) graphql.Marshaler {
	lists.Add(1)
	return lazy(write)
}

type lazy func(l *List)

func (f lazy) MarshalGQL(w io.Writer) {
	l := listPool.Get().(*List)
	f(l)
	_, _ = w.Write(l.buf)
	if cap(l.buf) <= maxPooled {
		l.buf = l.buf[:0]
		listPool.Put(l)
	}
}

// maxPooled is the largest buffer kept for the next list: a node's metric
// series are about 1 KB each.
const maxPooled = 64 << 10

var listPool = sync.Pool{New: func() any { return &List{buf: make([]byte, 0, 4096)} }}

// Write appends p: the io.Writer gqlgen's scalar marshalers write to.
func (l *List) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	return len(p), nil
}

// Open opens a list.
func (l *List) Open() { l.buf = append(l.buf, '[') }

// Close closes a list.
func (l *List) Close() { l.buf = append(l.buf, ']') }

// Object opens the i-th object of a list.
func (l *List) Object(i int) {
	if i > 0 {
		l.buf = append(l.buf, ',')
	}
	l.buf = append(l.buf, '{')
}

// Key writes the j-th field's key of plan p.
func (l *List) Key(p *Plan, j int) {
	if j > 0 {
		l.buf = append(l.buf, ',')
	}
	l.buf = append(l.buf, p.keys[j]...)
}

// End closes an object.
func (l *List) End() { l.buf = append(l.buf, '}') }

// TimeOK and FloatOK say whether Time and Float can write a value (what a
// list's check asks before the list is written).
func TimeOK(t time.Time) bool { return !t.IsZero() }

// FloatOK: see TimeOK.
func FloatOK(f float64) bool { return !math.IsInf(f, 0) && !math.IsNaN(f) }

var (
	off   atomic.Bool  // SetOff
	lists atomic.Int64 // Lists
)

// SetOff turns the lists of plain objects' fast path off (true: gqlgen's
// own code writes them) or back on, for tests that compare the two.
func SetOff(v bool) { off.Store(v) }

// Lists is how many lists of plain objects the fast path has written.
func Lists() int64 { return lists.Load() }

// Time writes a DateTime as graphql.MarshalTime does; false for the zero
// time, which gqlgen answers with null and an error.
func (l *List) Time(t time.Time) bool {
	if t.IsZero() {
		return false
	}
	l.buf = append(l.buf, '"')
	l.buf = t.AppendFormat(l.buf, time.RFC3339Nano)
	l.buf = append(l.buf, '"')
	return true
}

// Float writes a Float as graphql.MarshalFloatContext does (%g); false for
// NaN and infinities, which gqlgen answers with an error.
func (l *List) Float(f float64) bool {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return false
	}
	l.buf = strconv.AppendFloat(l.buf, f, 'g', -1, 64)
	return true
}

// Int writes an Int as graphql.MarshalInt does.
func (l *List) Int(i int) bool {
	l.buf = strconv.AppendInt(l.buf, int64(i), 10)
	return true
}

// Bool writes a Boolean as graphql.MarshalBoolean does.
func (l *List) Bool(b bool) bool {
	l.buf = strconv.AppendBool(l.buf, b)
	return true
}

// String writes a String as graphql.MarshalString does.
func (l *List) String(s string) bool {
	graphql.MarshalString(s).MarshalGQL(l)
	return true
}

// Typename writes an object's __typename.
func (l *List) Typename(name string) { l.String(name) }

// MarshalSliceSequential has graphql.MarshalSliceConcurrently's signature
// and results, without the goroutines: elements are marshalled in order on
// the calling goroutine, each with the field context (path index) gqlgen
// would give it. A panic in an element is recovered the same way (the
// error is added, the list becomes null) unless omitPanicHandler.
func MarshalSliceSequential(ctx context.Context, length int, _ int64, omitPanicHandler bool,
	marshalElement func(ctx context.Context, i int) graphql.Marshaler,
) graphql.Array {
	ret := make(graphql.Array, length)
	if length == 0 {
		return ret
	}
	fcs := make([]graphql.FieldContext, length)
	idx := make([]int, length)
	for i := range length {
		idx[i] = i
		fcs[i].Index = &idx[i]
		childCtx := graphql.WithFieldContext(ctx, &fcs[i])
		if omitPanicHandler {
			ret[i] = marshalElement(childCtx, i)
			continue
		}
		if !marshalOne(childCtx, ret, i, marshalElement) {
			return nil
		}
	}
	return ret
}

func marshalOne(ctx context.Context, ret graphql.Array, i int, marshalElement func(ctx context.Context, i int) graphql.Marshaler) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			graphql.AddError(ctx, graphql.Recover(ctx, r))
			ok = false
		}
	}()
	ret[i] = marshalElement(ctx, i)
	return true
}
