package fleet

import (
	"sort"
	"strings"
)

// MetricTypes is a set of metric types in the one form it keeps from the
// resolver to the vendor call: distinct and sorted, built once by SortTypes.
// It is comparable, so that it can be a loader-key field: it holds the
// sorted list joined by commas (metric types are enum values, never commas),
// which is also its form in cache keys; List gives the list for the call.
type MetricTypes struct{ joined string }

// SortTypes returns the set of types.
func SortTypes[T ~string](types []T) MetricTypes {
	list := make([]string, 0, len(types))
	for _, t := range types {
		list = append(list, string(t))
	}
	return fromList(list)
}

func fromList(list []string) MetricTypes {
	sort.Strings(list)
	out := list[:0]
	for i, t := range list {
		if i == 0 || t != list[i-1] {
			out = append(out, t)
		}
	}
	return MetricTypes{joined: strings.Join(out, ",")}
}

// With returns the union of t and o: the two sorted lists merged, in one
// allocation (it runs for every node of a dashboard whose sibling metrics
// fields ask for different types).
func (t MetricTypes) With(o MetricTypes) MetricTypes {
	switch {
	case o.joined == "" || o.joined == t.joined:
		return t
	case t.joined == "":
		return o
	}
	var b strings.Builder
	b.Grow(len(t.joined) + len(o.joined) + 1)
	add := func(typ string) {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(typ)
	}
	x, xs, _ := strings.Cut(t.joined, ",")
	y, ys, _ := strings.Cut(o.joined, ",")
	for x != "" || y != "" {
		switch {
		case y == "" || x != "" && x < y:
			add(x)
			x, xs, _ = strings.Cut(xs, ",")
		case x == "" || y < x:
			add(y)
			y, ys, _ = strings.Cut(ys, ",")
		default: // in both
			add(x)
			x, xs, _ = strings.Cut(xs, ",")
			y, ys, _ = strings.Cut(ys, ",")
		}
	}
	return MetricTypes{joined: b.String()}
}

// List returns the types, sorted (nil for none).
func (t MetricTypes) List() []string {
	if t.joined == "" {
		return nil
	}
	return strings.Split(t.joined, ",")
}

// Has says whether typ is in the set.
func (t MetricTypes) Has(typ string) bool {
	for rest := t.joined; rest != ""; {
		var cur string
		cur, rest, _ = strings.Cut(rest, ",")
		if cur == typ {
			return true
		}
	}
	return false
}

// Empty says whether the set has no type.
func (t MetricTypes) Empty() bool { return t.joined == "" }

// String returns the types comma-joined: the form in loader and cache keys.
func (t MetricTypes) String() string { return t.joined }
