package specfuzz

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
)

// Gen draws random JSON values (as encoding/json would decode them: map,
// []any, string, float64, bool, nil) from kin-openapi schemas. They are
// valid against the schema, with everything the schema allows and our
// simulators never send: optional members left out, nulls where nullable,
// members the schema does not name, empty and huge lists. Hostile mode adds
// what the vendors were seen to send outside the letter of their documents:
// null list items, unknown enum strings, "NaN"-like strings where a number
// travels as a string.
type Gen struct {
	r       *rand.Rand
	hostile bool
	// budget bounds the number of values of one document, so that a huge
	// list of deep objects stays a few MB.
	budget int
	// HugeLists draws a list of 500..2000 items now and then (default
	// true): paging and limits must cope. Off for many-call tests.
	HugeLists bool
}

const maxDepth = 10

// New returns a Gen drawing from seed; hostile adds what the vendors send
// outside the letter of their documents (see Gen).
func New(seed uint64, hostile bool) *Gen {
	return &Gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), hostile: hostile, budget: 200000, HugeLists: true}
}

func (g *Gen) chance(p float64) bool { return g.r.Float64() < p }

// Value draws one value of ref.
func (g *Gen) Value(ref *openapi3.SchemaRef) any { return g.value(ref, 0) }

func (g *Gen) value(ref *openapi3.SchemaRef, depth int) any {
	g.budget--
	if ref == nil || ref.Value == nil {
		return g.anyValue(depth)
	}
	s := ref.Value
	if s.Nullable && g.chance(0.15) {
		return nil
	}
	switch {
	case len(s.AllOf) > 0:
		out := map[string]any{}
		for _, part := range s.AllOf {
			if m, ok := g.value(part, depth).(map[string]any); ok {
				for k, v := range m {
					out[k] = v
				}
			}
		}
		g.fillObject(s, out, depth)
		return out
	case len(s.OneOf) > 0:
		return g.value(s.OneOf[g.r.IntN(len(s.OneOf))], depth)
	case len(s.AnyOf) > 0:
		return g.value(s.AnyOf[g.r.IntN(len(s.AnyOf))], depth)
	}
	if len(s.Enum) > 0 {
		if g.hostile && g.chance(0.1) {
			if _, isString := s.Enum[0].(string); isString {
				return "FUTURE_VALUE_" + strconv.Itoa(g.r.IntN(100)) // a newer vendor version's value
			}
		}
		return s.Enum[g.r.IntN(len(s.Enum))]
	}
	switch {
	case s.Type.Is(openapi3.TypeObject) || (s.Type == nil && len(s.Properties) > 0):
		out := map[string]any{}
		g.fillObject(s, out, depth)
		return out
	case s.Type.Is(openapi3.TypeArray):
		return g.array(s, depth)
	case s.Type.Is(openapi3.TypeString):
		return g.str(s)
	case s.Type.Is(openapi3.TypeInteger):
		return float64(g.integer(s))
	case s.Type.Is(openapi3.TypeNumber):
		return g.number(s)
	case s.Type.Is(openapi3.TypeBoolean):
		return g.chance(0.5)
	}
	return g.anyValue(depth)
}

// fillObject adds the properties of s to out: every required one, each
// optional one half of the time, plus members the schema does not name
// (additionalProperties is not false in these documents).
func (g *Gen) fillObject(s *openapi3.Schema, out map[string]any, depth int) {
	names := make([]string, 0, len(s.Properties))
	for name := range s.Properties {
		names = append(names, name)
	}
	slices.Sort(names) // map order must not break determinism
	for _, name := range names {
		required := slices.Contains(s.Required, name)
		if !required && (depth >= maxDepth || g.budget <= 0 || g.chance(0.5)) {
			continue
		}
		if v := s.Properties[name].Value; name == "id" && v != nil && v.Type.Is(openapi3.TypeNumber) {
			// Run:ai's legacy NodePool1.id is typed "number"; an id is
			// integral, and the client refuses a fractional one on purpose.
			out[name] = float64(g.r.IntN(1 << 20))
			continue
		}
		out[name] = g.value(s.Properties[name], depth+1)
	}
	if ap := s.AdditionalProperties.Schema; ap != nil {
		if depth < maxDepth {
			for i := range g.r.IntN(3) {
				out["key-"+strconv.Itoa(i)] = g.value(ap, depth+1)
			}
		}
	} else if (s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has) && g.chance(0.3) {
		out["x-unknown-"+strconv.Itoa(g.r.IntN(10))] = g.anyValue(depth + 1)
	}
}

func (g *Gen) array(s *openapi3.Schema, depth int) []any {
	n := int(s.MinItems)
	switch {
	case depth >= maxDepth || g.budget <= 0:
	case g.HugeLists && g.chance(0.05) && depth <= 2:
		n = 500 + g.r.IntN(1500) // huge: pages and limits must cope
	case g.chance(0.2):
		// empty (or the minimum)
	default:
		n += 1 + g.r.IntN(4)
	}
	if s.MaxItems != nil && uint64(n) > *s.MaxItems {
		n = int(*s.MaxItems)
	}
	out := make([]any, n)
	for i := range out {
		if g.hostile && g.chance(0.05) {
			continue // a null item
		}
		out[i] = g.value(s.Items, depth+1)
	}
	return out
}

var nonFinite = []string{"NaN", "+Inf", "-Inf", "nan", "1e400", "", "n/a"}

func (g *Gen) str(s *openapi3.Schema) string {
	switch s.Format {
	case "date-time":
		t := time.Date(2020+g.r.IntN(8), time.Month(1+g.r.IntN(12)), 1+g.r.IntN(28), g.r.IntN(24), g.r.IntN(60), g.r.IntN(60), g.r.IntN(1e9), time.UTC)
		if g.hostile && g.chance(0.1) {
			// The form of the vendor's own examples (upstreams-2.md d.6).
			return t.Format("2006-01-02 15:04:05.000")
		}
		if g.chance(0.5) {
			t = t.In(time.FixedZone("", (g.r.IntN(27)-12)*3600))
		}
		return t.Format(time.RFC3339Nano)
	case "date":
		return fmt.Sprintf("20%02d-%02d-%02d", g.r.IntN(30), 1+g.r.IntN(12), 1+g.r.IntN(28))
	case "uuid":
		b := make([]byte, 16)
		for i := range b {
			b[i] = byte(g.r.IntN(256))
		}
		return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
	case "byte":
		return "aGVsbG8="
	}
	if g.hostile && g.chance(0.15) {
		// Where a number travels as a string (metric values, quantities).
		return nonFinite[g.r.IntN(len(nonFinite))]
	}
	if g.chance(0.3) {
		return strconv.FormatFloat(g.r.NormFloat64()*100, 'f', -1, 64)
	}
	n := int(s.MinLength) + g.r.IntN(12)
	if s.MaxLength != nil && uint64(n) > *s.MaxLength {
		n = int(*s.MaxLength)
	}
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-_. é\"\\/\u202e"
	runes := []rune(alphabet)
	out := make([]rune, n)
	for i := range out {
		out[i] = runes[g.r.IntN(len(runes))]
	}
	return string(out)
}

func (g *Gen) integer(s *openapi3.Schema) int64 {
	lo, hi := int64(-1000), int64(1<<40)
	switch s.Format {
	case "int32":
		lo, hi = math.MinInt32, math.MaxInt32
	case "int64":
		lo, hi = -(1 << 53), 1<<53
	}
	if s.Min != nil {
		lo = max(lo, int64(math.Ceil(*s.Min)))
	}
	if s.Max != nil {
		hi = min(hi, int64(math.Floor(*s.Max)))
	}
	if hi < lo {
		return lo
	}
	switch {
	case g.chance(0.2):
		return lo
	case g.chance(0.2):
		return hi
	case g.chance(0.3):
		return min(max(0, lo), hi)
	}
	return lo + g.r.Int64N(hi-lo+1)
}

func (g *Gen) number(s *openapi3.Schema) float64 {
	lo, hi := -1e6, 1e12
	if s.Min != nil {
		lo = *s.Min
	}
	if s.Max != nil {
		hi = *s.Max
	}
	if g.chance(0.2) {
		return lo
	}
	return lo + g.r.Float64()*(hi-lo)
}

// anyValue is a value of no declared type.
func (g *Gen) anyValue(depth int) any {
	switch g.r.IntN(6) {
	case 0:
		return nil
	case 1:
		return g.r.Float64() * 1e6
	case 2:
		return "free text"
	case 3:
		return g.chance(0.5)
	case 4:
		if depth < maxDepth {
			return []any{g.anyValue(depth + 1), nil}
		}
		return []any{}
	}
	if depth < maxDepth {
		return map[string]any{"nested": g.anyValue(depth + 1)}
	}
	return map[string]any{}
}
