package runaisim

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// badRequest is a parameter error; handlers answer 400 with its text.
type badRequest string

func (e badRequest) Error() string { return string(e) }

func badf(format string, args ...any) error { return badRequest(fmt.Sprintf(format, args...)) }

// listParam reads an explode:false array parameter (filterBy=a,b). Repeated
// parameters are accepted too and concatenated.
func listParam(q url.Values, name string) ([]string, error) {
	var out []string
	for _, v := range q[name] {
		for item := range strings.SplitSeq(v, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				return nil, badf("Bad request - %s has an empty item", name)
			}
			out = append(out, item)
		}
	}
	return out, nil
}

// intParam reads an integer parameter within [lo, hi], def when absent.
func intParam(q url.Values, name string, def, lo, hi int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, badf("Bad request - %s must be an integer within %d..%d", name, lo, hi)
	}
	return n, nil
}

// enumParam reads a parameter that must be one of allowed; "" when absent.
func enumParam(q url.Values, name string, allowed ...string) (string, error) {
	v := q.Get(name)
	if v != "" && !slices.Contains(allowed, v) {
		return "", badf("Bad request - %s must be one of %s", name, strings.Join(allowed, ", "))
	}
	return v, nil
}

// timeParam reads a required ISO 8601 timestamp.
func timeParam(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, badf("Required parameter is missing: %s", name)
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, badf("Bad request - %s must be an ISO 8601 timestamp", name)
	}
	return t, nil
}

const (
	defaultLimit = 50
	maxLimit     = 500
)

// page applies offset and limit (default 50, 1..500) to items.
func page[T any](q url.Values, items []T) ([]T, error) {
	offset, err := intParam(q, "offset", 0, 0, 1<<31-1)
	if err != nil {
		return nil, err
	}
	limit, err := intParam(q, "limit", defaultLimit, 1, maxLimit)
	if err != nil {
		return nil, err
	}
	if offset >= len(items) {
		return []T{}, nil
	}
	return items[offset:min(offset+limit, len(items))], nil
}

// field is one filterBy/sortBy field of a listing.
type field[T any] struct {
	get    func(T) string // "" for null
	isTime bool           // value is RFC 3339; only ==, !=, <=, >= apply
}

// operators of filterBy, two characters each.
var operators = []string{"==", "!=", "<=", ">=", "=@", "!@", "=^", "=$"}

type filter[T any] struct {
	field field[T]
	op    string
	value string
	t     time.Time // value, for time fields
}

// parseFilters reads filterBy items "field operator value" against fields.
func parseFilters[T any](items []string, fields map[string]field[T]) ([]filter[T], error) {
	out := make([]filter[T], 0, len(items))
	for _, item := range items {
		f, ok := parseFilter(item, fields)
		if !ok {
			return nil, badf("Bad request - invalid filterBy %q", item)
		}
		out = append(out, f)
	}
	return out, nil
}

func parseFilter[T any](item string, fields map[string]field[T]) (filter[T], bool) {
	for name, fd := range fields {
		rest, ok := strings.CutPrefix(item, name)
		if !ok || len(rest) < 3 || !slices.Contains(operators, rest[:2]) {
			continue
		}
		f := filter[T]{field: fd, op: rest[:2], value: rest[2:]}
		if fd.isTime {
			t, err := time.Parse(time.RFC3339Nano, f.value)
			if err != nil || !slices.Contains(operators[:4], f.op) {
				return f, false
			}
			f.t = t
		}
		return f, true
	}
	return filter[T]{}, false
}

func (f filter[T]) match(v T) bool {
	s := f.field.get(v)
	if f.field.isTime {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return f.op == "!="
		}
		switch f.op {
		case "==":
			return t.Equal(f.t)
		case "!=":
			return !t.Equal(f.t)
		case "<=":
			return !t.After(f.t)
		default: // ">="
			return !t.Before(f.t)
		}
	}
	switch f.op {
	case "==":
		return s == f.value
	case "!=":
		return s != f.value
	case "<=":
		return s <= f.value
	case ">=":
		return s >= f.value
	case "=@":
		return strings.Contains(s, f.value)
	case "!@":
		return !strings.Contains(s, f.value)
	case "=^":
		return strings.HasPrefix(s, f.value)
	default: // "=$"
		return strings.HasSuffix(s, f.value)
	}
}

// query is what a listing's filterBy, sortBy and sortOrder ask for.
type query[T any] struct {
	filters []filter[T]
	sortBy  *field[T]
	desc    bool
}

// parseQuery reads filterBy, sortBy and sortOrder against fields.
func parseQuery[T any](q url.Values, fields map[string]field[T]) (query[T], error) {
	var out query[T]
	items, err := listParam(q, "filterBy")
	if err != nil {
		return out, err
	}
	if out.filters, err = parseFilters(items, fields); err != nil {
		return out, err
	}
	if by := q.Get("sortBy"); by != "" {
		fd, ok := fields[by]
		if !ok {
			return out, badf("Bad request - invalid sortBy %q", by)
		}
		out.sortBy = &fd
	}
	order, err := enumParam(q, "sortOrder", "asc", "desc")
	out.desc = order == "desc"
	return out, err
}

// apply filters and sorts items (stable: ties keep creation order).
func (qu query[T]) apply(items []T) []T {
	out := make([]T, 0, len(items))
	for _, it := range items {
		if qu.matches(it) {
			out = append(out, it)
		}
	}
	if qu.sortBy != nil {
		fd := *qu.sortBy
		slices.SortStableFunc(out, func(a, b T) int {
			c := compareField(fd, a, b)
			if qu.desc {
				return -c
			}
			return c
		})
	}
	return out
}

func (qu query[T]) matches(it T) bool {
	for _, f := range qu.filters {
		if !f.match(it) {
			return false
		}
	}
	return true
}

func compareField[T any](fd field[T], a, b T) int {
	sa, sb := fd.get(a), fd.get(b)
	if fd.isTime {
		ta, _ := time.Parse(time.RFC3339Nano, sa)
		tb, _ := time.Parse(time.RFC3339Nano, sb)
		return ta.Compare(tb)
	}
	return strings.Compare(sa, sb)
}

// deref returns *p, or the zero value for nil (JSON null).
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
