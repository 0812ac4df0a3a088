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

// With returns the union of t and o.
func (t MetricTypes) With(o MetricTypes) MetricTypes {
	switch {
	case o.joined == "" || o.joined == t.joined:
		return t
	case t.joined == "":
		return o
	}
	return fromList(append(t.List(), o.List()...))
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
	list := t.List()
	i := sort.SearchStrings(list, typ)
	return i < len(list) && list[i] == typ
}

// Empty says whether the set has no type.
func (t MetricTypes) Empty() bool { return t.joined == "" }

// String returns the types comma-joined: the form in loader and cache keys.
func (t MetricTypes) String() string { return t.joined }
