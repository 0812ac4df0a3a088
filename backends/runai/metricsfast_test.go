package runai

import (
	"reflect"
	"testing"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/internal/jsonx"
)

// The metrics answer's own decoder (decodeFast) gives what the general path
// gives (null items dropped, jsonx, convert) for every body it takes, and
// leaves every body it does not know to that path.
func TestMetricsDecodeFastIsGeneral(t *testing.T) {
	t.Parallel()
	c := &Client{name: "t", observer: backends.NopObserver{}}
	req := request{method: "GET", route: routeNodeMetrics}
	const ts = `"2026-11-25T10:00:00.000Z"`
	for _, tc := range []struct {
		body string
		fast bool // decodeFast must take it
	}{
		{string(metricsBody()), true},
		{`{"measurements":[]}`, true},
		{`{"measurements":null}`, true},
		{` { "measurements" : [ { "values" : [ { "timestamp" : ` + ts + ` , "value" : "1.5" } ] , "labels" : null , "type" : "CPU_UTILIZATION" } ] } ` + "\n", true},
		{`{"measurements":[{"type":"GPU_UTILIZATION","labels":null,"values":null},{"type":"CPU_UTILIZATION","labels":null,"values":[]}]}`, true},
		{`{"measurements":[{"type":"A","labels":null,"values":[{"value":"NaN","timestamp":` + ts + `},{"value":"+Inf","timestamp":` + ts + `},{"value":" 7 ","timestamp":` + ts + `},{"value":"x","timestamp":` + ts + `}]}]}`, true},
		{`{"measurements":[{"type":"A","labels":null,"values":[{"value":12.5,"timestamp":` + ts + `},{"value":-0.5e2,"timestamp":null},{"value":1e400,"timestamp":""},{"value":null},{}]}]}`, true},
		{`{"measurements":[{"type":"A","values":[{"value":"3","timestamp":"2026-11-25T10:00:00Z"},{"value":"4","timestamp":"2026-11-25T10:00:00.123456789Z"}]}]}`, true},
		// The general path's: labels, other timestamp forms, escapes,
		// null items, members it does not know, invalid numbers.
		{`{"measurements":[{"type":"GPU_UTILIZATION_PER_GPU","labels":{"gpu":"3"},"values":[{"value":"1","timestamp":` + ts + `}]}]}`, false},
		{`{"measurements":[{"type":"GPU_UTILIZATION_PER_GPU","labels":"{'gpu': '3'}","values":[]}]}`, false},
		{`{"measurements":[{"type":"A","labels":null,"values":[{"value":"1","timestamp":"2023-06-06 12:09:18.211"}]}]}`, false},
		{`{"measurements":[{"type":"A","labels":null,"values":[{"value":"1","timestamp":"2023-06-06T14:09:18.211+02:00"}]}]}`, false},
		{`{"measurements":[{"type":"A","labels":null,"values":[{"value":"1","timestamp":"2023-02-30T14:09:18.211Z"}]}]}`, false},
		{`{"measurements":[{"type":"A\u0042","labels":null,"values":[]}]}`, false},
		{`{"measurements":[null,{"type":"A","labels":null,"values":[null,{"value":"1","timestamp":` + ts + `}]}]}`, false},
		{`{"measurements":[{"type":"A","labels":null,"values":[],"unit":"%"}]}`, false},
		{`{"measurements":[],"next":null}`, false},
		{`{"measurements":[{"type":"A","type":"B","values":[]}]}`, false},
		{`{"measurements":[{"type":"A","values":[{"value":+1,"timestamp":` + ts + `}]}]}`, false},
		{`{"measurements":[{"type":"A","values":[{"value":01,"timestamp":` + ts + `}]}]}`, false},
		{`{"measurements":[{"type":"A","values":[]}]} trailing`, false},
	} {
		var fast wireMetrics
		took := fast.decodeFast([]byte(tc.body))
		if took != tc.fast {
			t.Errorf("decodeFast took %v, want %v: %s", took, tc.fast, tc.body)
		}
		if !took {
			if !reflect.DeepEqual(fast, wireMetrics{}) {
				t.Errorf("decodeFast left a value behind: %s", tc.body)
			}
			continue
		}
		var general wireMetrics
		if err := jsonx.Unmarshal(c.dropNullItems(req, []byte(tc.body)), &general); err != nil {
			t.Fatalf("general path: %v: %s", err, tc.body)
		}
		want, wantDropped, _ := general.convert()
		got, gotDropped, _ := fast.convert()
		if !reflect.DeepEqual(got, want) || gotDropped != wantDropped {
			t.Errorf("%s:\n fast    %+v (%d dropped)\n general %+v (%d dropped)", tc.body, got, gotDropped, want, wantDropped)
		}
	}
}
