package cache

import (
	"encoding/json"
	"testing"
)

func TestEnvelopeEncodingMatchesJSON(t *testing.T) {
	for _, v := range []string{`{"s":[{"type":"CPU_UTILIZATION","points":[]}]}`, `[]`, `null`, `"x,\"v\":1}"`} {
		want, err := json.Marshal(envelope{FreshUntil: 1764072000123, Value: json.RawMessage(v)})
		if err != nil {
			t.Fatal(err)
		}
		got := encodeEnvelope(1764072000123, []byte(v))
		if string(got) != string(want) {
			t.Fatalf("encodeEnvelope = %s, json.Marshal writes %s", got, want)
		}
		env, ok := decodeEnvelope(got)
		if !ok || env.FreshUntil != 1764072000123 || string(env.Value) != v {
			t.Fatalf("decodeEnvelope(%s) = %+v, %v", got, env, ok)
		}
	}
	// Anything else written in the format (another field order, spaces)
	// still decodes; what is not an envelope does not.
	env, ok := decodeEnvelope([]byte(`{ "v": [1], "f": 5 }`))
	if !ok || env.FreshUntil != 5 || string(env.Value) != "[1]" {
		t.Fatalf("reordered envelope: %+v, %v", env, ok)
	}
	for _, bad := range []string{``, `{"f":`, `{"f":x,"v":1}`, `not json`} {
		if _, ok := decodeEnvelope([]byte(bad)); ok {
			t.Errorf("decodeEnvelope(%q) accepted it", bad)
		}
	}
}
