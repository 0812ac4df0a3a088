// Package gqlfast is the runtime of the changes fleetgraph's generator
// (internal/cmd/gqlgen) makes to gqlgen's generated executor. Two are for
// lists of objects whose fields cannot block or fail:
//
//   - A list of "plain" objects (every field a non-null built-in scalar read
//     from a struct field: no resolver, no arguments, no directives), such as
//     MetricPoint, is written in one pass into one buffer, instead of one
//     goroutine, one field set and one field context per element and per
//     field. Anything the fast path cannot write byte for byte as gqlgen
//     would (a @defer, a nil element, a NaN, a zero time) makes it return
//     nil, and gqlgen's own code runs instead, with its errors and paths.
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
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// List is the JSON text of one list of plain objects, written in one pass.
type List struct {
	buf []byte
}

// NewList starts a list of n objects of the given fields. It returns nil,
// for the caller to fall back to gqlgen's code, when a field is deferred.
// keys receives each field's `"alias":` prefix.
func NewList(n int, fields []graphql.CollectedField) (*List, [][]byte) {
	keys := make([][]byte, len(fields))
	size := 2
	for i, f := range fields {
		if f.IsDeferred() {
			return nil, nil
		}
		l := &List{}
		graphql.MarshalString(f.Alias).MarshalGQL(l)
		keys[i] = append(l.buf, ':')
		size += len(keys[i]) + 24
	}
	return &List{buf: append(make([]byte, 0, n*size), '[')}, keys
}

// Write appends p: the io.Writer gqlgen's scalar marshalers write to.
func (l *List) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	return len(p), nil
}

// Object opens the i-th object.
func (l *List) Object(i int) {
	if i > 0 {
		l.buf = append(l.buf, ',')
	}
	l.buf = append(l.buf, '{')
}

// Key writes the j-th field's key.
func (l *List) Key(j int, key []byte) {
	if j > 0 {
		l.buf = append(l.buf, ',')
	}
	l.buf = append(l.buf, key...)
}

// End closes an object.
func (l *List) End() { l.buf = append(l.buf, '}') }

// Done closes the list and returns it as one Marshaler.
func (l *List) Done() graphql.Marshaler {
	return raw(append(l.buf, ']'))
}

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

type raw []byte

func (r raw) MarshalGQL(w io.Writer) { _, _ = w.Write(r) }

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
