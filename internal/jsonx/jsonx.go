// Package jsonx is json.Marshal and json.Unmarshal for the hot paths:
// vendor answers (one per node on a cold dashboard) and cache values. It is
// github.com/goccy/go-json, a drop-in for encoding/json that decodes a
// Run:ai metrics answer about twice as fast (backends/runai
// BenchmarkDecodeNodeMetrics: ~40 -> 19 µs). Everything else keeps
// encoding/json.
package jsonx

import (
	"math"
	"strconv"
	"time"

	gojson "github.com/goccy/go-json"
)

// Marshal is json.Marshal.
func Marshal(v any) ([]byte, error) { return gojson.Marshal(v) }

// Unmarshal is json.Unmarshal.
func Unmarshal(data []byte, v any) error { return gojson.Unmarshal(data, v) }

// Appender is a value that writes its own JSON: the bytes Marshal would
// write (ok), for the hot paths where reflection costs (a metrics value per
// node of a cold dashboard, cached). ok false: use Marshal.
type Appender interface {
	AppendJSON(b []byte) (out []byte, ok bool)
}

// MarshalFast is Marshal, through v's AppendJSON when it has one.
func MarshalFast(v any) ([]byte, error) {
	if a, ok := v.(Appender); ok {
		if b, ok := a.AppendJSON(nil); ok {
			return b, nil
		}
	}
	return Marshal(v)
}

// AppendString appends s as Marshal writes a string: quoted as is when it
// is printable ASCII that needs no escape, else by Marshal.
func AppendString(b []byte, s string) []byte {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// AppendFloat appends a finite f as Marshal writes a float64 (go-json:
// encoding/json's choice of 'f' or 'e', without its e-09 to e-9 clean-up);
// ok is false for NaN and infinities, which Marshal refuses.
func AppendFloat(b []byte, f float64) ([]byte, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(b, f, format, -1, 64), true
}

// AppendTime appends a UTC t as Marshal writes a time.Time (RFC 3339 with
// nanoseconds, quoted); ok is false for another location (Marshal's rules
// for offsets are its own) and for a year outside 0-9999, which Marshal
// refuses.
func AppendTime(b []byte, t time.Time) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 || t.Location() != time.UTC {
		return b, false
	}
	// t.AppendFormat(b, time.RFC3339Nano), digit by digit: the layout
	// interpreter was most of a cached metrics value's encoding.
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	b = append(b, '"')
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	if ns := t.Nanosecond(); ns != 0 {
		digits := 9
		for ns%10 == 0 {
			ns /= 10
			digits--
		}
		b = append(b, '.')
		b = appendDigits(b, ns, digits)
	}
	return append(b, `Z"`...), true
}

// appendDigits appends n (>= 0) zero-padded to width digits.
func appendDigits(b []byte, n, width int) []byte {
	var buf [9]byte
	for i := width - 1; i >= 0; i-- {
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, buf[:width]...)
}
