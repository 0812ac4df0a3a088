package backends

import (
	"bytes"
	"strings"
)

// Observer hears about the parts of a vendor answer that a client skipped
// instead of failing the whole answer on them. *metrics.Metrics implements
// it; a nil Observer in a client's Config means nobody listens.
type Observer interface {
	// NullItems counts null elements of vendor lists (at any depth) that
	// were dropped rather than decoded into empty objects. kind names the
	// answer (RouteKind of its route: "nodes", "nodepools", "metrics").
	NullItems(backend, kind string, n int)
	// DroppedSamples counts metric or telemetry values that were dropped
	// from their series because they were not finite numbers ("NaN",
	// "+Inf", "-Inf", a string that is no number, null). kind as above.
	DroppedSamples(backend, kind string, n int)
}

// NopObserver is an Observer that records nothing.
type NopObserver struct{}

func (NopObserver) NullItems(string, string, int)      {}
func (NopObserver) DroppedSamples(string, string, int) {}

// RouteKind is the last literal segment of a route template: "nodes" for
// /api/v1/clusters/{clusterUuid}/nodes, "metrics" for
// /api/v1/nodes/{nodeId}/metrics. It labels Observer counts: a fixed set,
// whatever the vendor sends.
func RouteKind(route string) string {
	for route != "" {
		i := strings.LastIndexByte(route, '/')
		seg := route[i+1:]
		if seg != "" && seg[0] != '{' {
			return seg
		}
		if i < 0 {
			break
		}
		route = route[:i]
	}
	return "root"
}

// maxNullScrubDepth matches encoding/json's nesting limit; deeper documents
// are left to the decoder to refuse.
const maxNullScrubDepth = 10000

// DropNullItems returns data without the null elements of its arrays, at any
// depth, and how many it dropped. null as an object member's value is kept
// (it means "no value" there); null as a list element is no object at all,
// and decoding it would make a phantom item (an empty name, a zero sample).
// An answer without such elements is returned as is, without a copy; one
// with them comes back compacted. Input that is not valid JSON is returned
// unchanged, for the decoder to report.
func DropNullItems(data []byte) ([]byte, int) {
	if !bytes.Contains(data, []byte("null")) {
		return data, 0
	}
	s := nullScrubber{in: data}
	if end, ok := s.value(s.ws(0), 0); !ok || s.ws(end) != len(data) || s.n == 0 {
		return data, 0
	}
	n := s.n
	s = nullScrubber{in: data, out: make([]byte, 0, len(data)), write: true}
	if _, ok := s.value(s.ws(0), 0); !ok {
		return data, 0
	}
	return s.out, n
}

// nullScrubber is a small recursive-descent JSON scanner. With write unset it
// only counts null array elements; with write set it copies the document to
// out without them (and without insignificant whitespace).
type nullScrubber struct {
	in    []byte
	out   []byte
	write bool
	n     int
}

func (s *nullScrubber) ws(i int) int {
	for i < len(s.in) {
		switch s.in[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func (s *nullScrubber) emit(b ...byte) {
	if s.write {
		s.out = append(s.out, b...)
	}
}

// value scans the value starting at i and returns the index after it.
func (s *nullScrubber) value(i, depth int) (int, bool) {
	if i >= len(s.in) || depth > maxNullScrubDepth {
		return 0, false
	}
	switch c := s.in[i]; c {
	case '{':
		return s.object(i, depth)
	case '[':
		return s.array(i, depth)
	case '"':
		end, ok := s.str(i)
		if ok {
			s.emit(s.in[i:end]...)
		}
		return end, ok
	default:
		// A literal or a number: up to the next delimiter.
		j := i
		for j < len(s.in) {
			switch s.in[j] {
			case ',', ']', '}', ' ', '\t', '\n', '\r', ':', '[', '{', '"':
				goto done
			}
			j++
		}
	done:
		if j == i {
			return 0, false
		}
		s.emit(s.in[i:j]...)
		return j, true
	}
}

// str returns the index after the string starting at i.
func (s *nullScrubber) str(i int) (int, bool) {
	for j := i + 1; j < len(s.in); j++ {
		switch s.in[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return 0, false
}

func (s *nullScrubber) object(i, depth int) (int, bool) {
	s.emit('{')
	i = s.ws(i + 1)
	if i < len(s.in) && s.in[i] == '}' {
		s.emit('}')
		return i + 1, true
	}
	for {
		if i >= len(s.in) || s.in[i] != '"' {
			return 0, false
		}
		end, ok := s.str(i)
		if !ok {
			return 0, false
		}
		s.emit(s.in[i:end]...)
		i = s.ws(end)
		if i >= len(s.in) || s.in[i] != ':' {
			return 0, false
		}
		s.emit(':')
		if i, ok = s.value(s.ws(i+1), depth+1); !ok {
			return 0, false
		}
		i = s.ws(i)
		if i >= len(s.in) {
			return 0, false
		}
		switch s.in[i] {
		case ',':
			s.emit(',')
			i = s.ws(i + 1)
		case '}':
			s.emit('}')
			return i + 1, true
		default:
			return 0, false
		}
	}
}

func (s *nullScrubber) array(i, depth int) (int, bool) {
	s.emit('[')
	i = s.ws(i + 1)
	if i < len(s.in) && s.in[i] == ']' {
		s.emit(']')
		return i + 1, true
	}
	kept := 0
	for {
		if s.isNull(i) {
			s.n++
			i += len("null")
		} else {
			if kept > 0 {
				s.emit(',')
			}
			var ok bool
			if i, ok = s.value(i, depth+1); !ok {
				return 0, false
			}
			kept++
		}
		i = s.ws(i)
		if i >= len(s.in) {
			return 0, false
		}
		switch s.in[i] {
		case ',':
			i = s.ws(i + 1)
		case ']':
			s.emit(']')
			return i + 1, true
		default:
			return 0, false
		}
	}
}

// isNull reports whether the literal null starts at i.
func (s *nullScrubber) isNull(i int) bool {
	if !bytes.HasPrefix(s.in[i:], []byte("null")) {
		return false
	}
	j := i + len("null")
	if j == len(s.in) {
		return true
	}
	switch s.in[j] {
	case ',', ']', '}', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}
