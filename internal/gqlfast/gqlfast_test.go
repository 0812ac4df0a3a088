package gqlfast

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

func gqlgen(t *testing.T, m graphql.Marshaler) string {
	t.Helper()
	var b bytes.Buffer
	m.MarshalGQL(&b)
	return b.String()
}

func gqlgenCtx(t *testing.T, m graphql.ContextMarshaler) string {
	t.Helper()
	var b bytes.Buffer
	if err := m.MarshalGQLContext(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func written(write func(l *List) bool) (string, bool) {
	l := &List{}
	ok := write(l)
	return string(l.buf), ok
}

// Every scalar is written byte for byte as gqlgen's own marshaler writes it.
func TestScalarsMatchGqlgen(t *testing.T) {
	ist := time.FixedZone("IST", 5*3600+1800)
	for _, v := range []time.Time{
		time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 25, 14, 0, 0, 123456789, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 600, ist),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.Local),
	} {
		got, ok := written(func(l *List) bool { return l.Time(v) })
		if want := gqlgen(t, graphql.MarshalTime(v)); !ok || got != want {
			t.Errorf("Time(%v) = %s, %v; gqlgen writes %s", v, got, ok, want)
		}
	}
	for _, v := range []float64{0, math.Copysign(0, -1), 1, -2.5, 0.1, 1.0 / 3, 1e20, 1e21, 1e-7, 123456789, 5e-324, math.MaxFloat64, 99.99999} {
		got, ok := written(func(l *List) bool { return l.Float(v) })
		if want := gqlgenCtx(t, graphql.MarshalFloatContext(v)); !ok || got != want {
			t.Errorf("Float(%v) = %s, %v; gqlgen writes %s", v, got, ok, want)
		}
	}
	for _, v := range []int{0, -1, 42, math.MaxInt64, math.MinInt64} {
		got, _ := written(func(l *List) bool { return l.Int(v) })
		if want := gqlgen(t, graphql.MarshalInt(v)); got != want {
			t.Errorf("Int(%v) = %s; gqlgen writes %s", v, got, want)
		}
	}
	for _, v := range []bool{true, false} {
		got, _ := written(func(l *List) bool { return l.Bool(v) })
		if want := gqlgen(t, graphql.MarshalBoolean(v)); got != want {
			t.Errorf("Bool(%v) = %s; gqlgen writes %s", v, got, want)
		}
	}
	for _, v := range []string{"", "a100-80gb", `quote " back \ slash`, "tab\tnl\nnul\x00", "é 😀 </script>"} {
		got, _ := written(func(l *List) bool { return l.String(v) })
		if want := gqlgen(t, graphql.MarshalString(v)); got != want {
			t.Errorf("String(%q) = %s; gqlgen writes %s", v, got, want)
		}
	}
}

// What gqlgen answers with an error makes the fast path step aside.
func TestValuesGqlgenRefusesFallBack(t *testing.T) {
	for name, write := range map[string]func(l *List) bool{
		"zero time": func(l *List) bool { return l.Time(time.Time{}) },
		"NaN":       func(l *List) bool { return l.Float(math.NaN()) },
		"+Inf":      func(l *List) bool { return l.Float(math.Inf(1)) },
		"-Inf":      func(l *List) bool { return l.Float(math.Inf(-1)) },
	} {
		if _, ok := written(write); ok {
			t.Errorf("%s: written; want false (gqlgen's code must answer it)", name)
		}
	}
	// A list's check refuses what the writers refuse, and only that.
	if TimeOK(time.Time{}) || !TimeOK(time.Unix(0, 0)) {
		t.Error("TimeOK disagrees with Time")
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if FloatOK(f) {
			t.Errorf("FloatOK(%v) = true", f)
		}
	}
	if !FloatOK(0) || !FloatOK(-math.MaxFloat64) {
		t.Error("FloatOK refuses a finite number")
	}
}

func TestListShape(t *testing.T) {
	fields := []graphql.CollectedField{
		{Field: &ast.Field{Alias: "t", Name: "timestamp"}},
		{Field: &ast.Field{Alias: `we"ird`, Name: "value"}},
	}
	p := NewPlan(fields)
	if p == nil {
		t.Fatal("NewPlan refused fields without @defer")
	}
	m := Lazy(func(l *List) {
		l.Open()
		for i, v := range []float64{1.5, 2} {
			l.Object(i)
			l.Key(p, 0)
			l.Typename("MetricPoint")
			l.Key(p, 1)
			l.Float(v)
			l.End()
		}
		l.Close()
	})
	want := `[{"t":"MetricPoint","we\"ird":1.5},{"t":"MetricPoint","we\"ird":2}]`
	for range 2 { // written when the response is, as often as it is; its buffer reused
		if got := gqlgen(t, m); got != want {
			t.Fatalf("list = %s; want %s", got, want)
		}
	}
	empty := Lazy(func(l *List) { l.Open(); l.Close() })
	if gqlgen(t, empty) != "[]" {
		t.Fatal("empty list is not []")
	}
}

// A nested list's plan is collected once, from the field's selections.
func TestPlanSub(t *testing.T) {
	points := &ast.Field{Alias: "points", Name: "points", SelectionSet: ast.SelectionSet{
		&ast.Field{Alias: "v", Name: "value", ObjectDefinition: &ast.Definition{Name: "MetricPoint"}},
	}}
	p := NewPlan([]graphql.CollectedField{{Field: points, Selections: points.SelectionSet}})
	oc := &graphql.OperationContext{Doc: &ast.QueryDocument{}}
	sub := p.Sub(0, oc, []string{"MetricPoint"})
	if sub == nil || len(sub.Fields) != 1 || sub.Fields[0].Alias != "v" {
		t.Fatalf("sub plan = %+v", sub)
	}
	if again := p.Sub(0, oc, []string{"MetricPoint"}); again != sub {
		t.Fatal("the sub plan was collected again")
	}
}

// The fast path can be turned off (tests compare it with gqlgen's code).
func TestSetOff(t *testing.T) {
	SetOff(true)
	defer SetOff(false)
	if NewPlan(nil) != nil {
		t.Fatal("NewPlan returned a plan while off")
	}
}

func TestNewListStepsAsideForDefer(t *testing.T) {
	fields := []graphql.CollectedField{
		{Field: &ast.Field{Alias: "value", Name: "value"}, Deferrables: []*graphql.Deferrable{{Label: "later"}}},
	}
	if p := NewPlan(fields); p != nil {
		t.Fatal("NewPlan accepted a deferred field")
	}
}

func TestMarshalSliceSequential(t *testing.T) {
	ctx := graphql.WithFieldContext(context.Background(), &graphql.FieldContext{Field: graphql.CollectedField{Field: &ast.Field{Alias: "points"}}})
	var order []int
	ret := MarshalSliceSequential(ctx, 3, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		order = append(order, i)
		fc := graphql.GetFieldContext(ctx)
		if fc.Index == nil || *fc.Index != i {
			t.Errorf("element %d: field context index %v", i, fc.Index)
		}
		if got := graphql.GetPath(ctx).String(); got != "points["+string(rune('0'+i))+"]" {
			t.Errorf("element %d: path %s", i, got)
		}
		return graphql.MarshalInt(i)
	})
	if len(ret) != 3 || len(order) != 3 || order[0] != 0 || order[2] != 2 {
		t.Fatalf("ret %v, order %v", ret, order)
	}
	if got := gqlgen(t, ret); got != "[0,1,2]" {
		t.Fatalf("array = %s", got)
	}
	if got := MarshalSliceSequential(ctx, 0, 0, false, nil); got == nil || len(got) != 0 {
		t.Fatalf("empty: %v", got)
	}
}

// A panicking element makes the list null and adds the error, as
// graphql.MarshalSliceConcurrently does.
func TestMarshalSliceSequentialRecoversPanics(t *testing.T) {
	ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter, graphql.DefaultRecover)
	ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Field: graphql.CollectedField{Field: &ast.Field{Alias: "points"}}})
	ret := MarshalSliceSequential(ctx, 2, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		if i == 1 {
			panic("boom")
		}
		return graphql.MarshalInt(i)
	})
	if ret != nil {
		t.Fatalf("ret = %v; want nil after a panic", ret)
	}
	errs := graphql.GetErrors(ctx)
	if len(errs) != 1 || !strings.Contains(errs[0].Path.String(), "points[1]") {
		t.Fatalf("errors = %v; want one at points[1]", errs)
	}
}
