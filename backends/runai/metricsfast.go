package runai

import (
	"bytes"
	"math"
	"strconv"
	"time"
)

// decodeFast reads a metrics answer of the shape the vendor sends for node
// metrics, {"measurements":[{"type":"..","labels":null,"values":[{"value":
// "..","timestamp":".."},..]},..]}, members in any order, without
// reflection and without an allocation per sample: a cold dashboard decodes
// one per node. Anything else (labels, escapes in a string, a null list
// item, an unknown or repeated member, a timestamp not of the form
// 2006-01-02T15:04:05.000Z) returns false with w reset, and the answer
// takes the general path, which decides what it means.
func (w *wireMetrics) decodeFast(data []byte) bool {
	d := fastScanner{b: data}
	if d.readMeasurements(w) && d.end() {
		return true
	}
	*w = wireMetrics{}
	return false
}

// fastScanner walks one JSON document; every method reports false on what
// it does not expect.
type fastScanner struct {
	b []byte
	i int
}

func (d *fastScanner) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// byte consumes c after whitespace.
func (d *fastScanner) byte(c byte) bool {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// peek is the next byte after whitespace (0 at the end).
func (d *fastScanner) peek() byte {
	d.ws()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *fastScanner) end() bool {
	d.ws()
	return d.i == len(d.b)
}

// str reads a string without escapes and returns its contents (a view of
// the input, not a copy).
func (d *fastScanner) str() ([]byte, bool) {
	if !d.byte('"') {
		return nil, false
	}
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return d.b[start : d.i-1], true
		case c == '\\' || c < 0x20:
			return nil, false
		}
		d.i++
	}
	return nil, false
}

// null consumes a null literal.
func (d *fastScanner) null() bool {
	d.ws()
	if bytes.HasPrefix(d.b[d.i:], []byte("null")) {
		d.i += 4
		return true
	}
	return false
}

// key reads the next member's key of an object whose '{' was read (first:
// none read yet); done at its '}'.
func (d *fastScanner) key(first *bool) (key []byte, done, ok bool) {
	if d.byte('}') {
		return nil, true, true
	}
	if !*first && !d.byte(',') {
		return nil, false, false
	}
	*first = false
	key, ok = d.str()
	return key, false, ok && d.byte(':')
}

// item says whether another item follows in an array whose '[' was read
// (first: none read yet); done at its ']'. A null item is refused (the
// general path drops and counts it).
func (d *fastScanner) item(first *bool) (done, ok bool) {
	if d.byte(']') {
		return true, true
	}
	if !*first && !d.byte(',') {
		return false, false
	}
	*first = false
	return false, d.peek() != 'n'
}

// once marks bit in seen and says whether it was clear: a member twice is
// the general path's.
func once(seen *uint8, bit uint8) bool {
	if *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return true
}

func (d *fastScanner) readMeasurements(w *wireMetrics) bool {
	var seen uint8
	return d.readObject(func(key []byte) bool {
		return string(key) == "measurements" && once(&seen, 1) && readList(d, &w.Measurements, 2, (*fastScanner).readMeasurement)
	})
}

// readList reads [item, ...] into *out, each item by read (null leaves
// *out nil). read is a method expression, not a closure: nothing escapes.
func readList[T any](d *fastScanner, out *[]T, capHint int, read func(*fastScanner, *T) bool) bool {
	if d.null() {
		return true
	}
	if !d.byte('[') {
		return false
	}
	*out = make([]T, 0, capHint)
	for first := true; ; {
		done, ok := d.item(&first)
		if !ok {
			return false
		}
		if done {
			return true
		}
		*out = append(*out, *new(T))
		if !read(d, &(*out)[len(*out)-1]) {
			return false
		}
	}
}

// readObject reads {"key": value, ...}, member reading each value (false:
// not this scanner's). member is not kept: it and what it captures stay on
// the stack.
func (d *fastScanner) readObject(member func(key []byte) bool) bool {
	if !d.byte('{') {
		return false
	}
	for first := true; ; {
		key, done, ok := d.key(&first)
		if !ok || !done && !member(key) {
			return false
		}
		if done {
			return true
		}
	}
}

func (d *fastScanner) readMeasurement(m *wireMeasurement) bool {
	var seen uint8
	return d.readObject(func(key []byte) bool {
		switch string(key) {
		case "type":
			t, ok := d.str()
			m.Type = string(t)
			return ok && once(&seen, 1)
		case "labels":
			return d.null() && once(&seen, 2) // labels: the general path's
		case "values":
			return once(&seen, 4) && readList(d, &m.Values, 20, (*fastScanner).readSample)
		}
		return false
	})
}

func (d *fastScanner) readSample(s *wireSample) bool {
	var seen uint8
	return d.readObject(func(key []byte) bool {
		switch string(key) {
		case "value":
			return once(&seen, 1) && d.readValue(&s.Value)
		case "timestamp":
			if !once(&seen, 2) {
				return false
			}
			if d.null() {
				return true
			}
			t, ok := d.str()
			if !ok {
				return false
			}
			if len(t) == 0 {
				return true // as null: no place in time
			}
			s.at, s.set = fixedTime(t)
			return s.set
		}
		return false
	})
}

// readValue reads what sampleValue.UnmarshalJSON reads: a string holding a
// number, a JSON number, or null (not ok).
func (d *fastScanner) readValue(v *sampleValue) bool {
	switch d.peek() {
	case 'n':
		*v = sampleValue{}
		return d.null()
	case '"':
		s, ok := d.str()
		*v = parseSample(s)
		return ok
	}
	start := d.i
	if !d.number() {
		return false
	}
	*v = parseSample(d.b[start:d.i])
	return true
}

// parseSample is sampleValue.UnmarshalJSON of a bare number or of a
// string's contents without escapes, without copying them to the heap.
func parseSample(b []byte) sampleValue {
	f, err := strconv.ParseFloat(string(bytes.TrimSpace(b)), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return sampleValue{}
	}
	return sampleValue{v: f, ok: true}
}

// number consumes a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *fastScanner) number() bool {
	b, i := d.b, d.i
	digits := func() bool {
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i > j
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	d.i = i
	return true
}

// fixedTime parses 2006-01-02T15:04:05Z with 0 to 9 fraction digits in
// UTC, as time.Parse(time.RFC3339Nano) would; ok is false for anything else
// (other offsets, the space-separated form, out-of-range fields), which
// the general path parses.
func fixedTime(b []byte) (t time.Time, ok bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[len(b)-1] != 'Z' {
		return t, false
	}
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(b[0:4])
	month, ok2 := num(b[5:7])
	day, ok3 := num(b[8:10])
	hour, ok4 := num(b[11:13])
	minute, ok5 := num(b[14:16])
	sec, ok6 := num(b[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return t, false
	}
	nsec := 0
	if frac := b[19 : len(b)-1]; len(frac) > 0 {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return t, false
		}
		n, ok := num(frac[1:])
		if !ok {
			return t, false
		}
		for range 10 - len(frac) {
			n *= 10
		}
		nsec = n
	}
	t = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // February 30th and the like: time.Parse refuses them
		return time.Time{}, false
	}
	return t, true
}
