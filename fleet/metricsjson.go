package fleet

import (
	"github.com/fleetgraph/fleetgraph/graph/model"
	"github.com/fleetgraph/fleetgraph/internal/jsonx"
)

// AppendJSON writes what jsonx.Marshal writes for r, without reflection:
// the cache encodes one per node of a cold dashboard (jsonx.Marshal was 7%
// of a cold 1000-node dashboard's CPU). ok is false when r holds what only
// Marshal knows how to refuse or write (a non-finite value, a time outside
// UTC or years 0-9999); TestMetricsResultAppendJSON keeps it to
// Marshal's bytes.
func (r MetricsResult) AppendJSON(b []byte) ([]byte, bool) {
	if b == nil {
		n := 16
		for _, s := range r.Series {
			if s != nil {
				n += 64 + 64*len(s.Points)
			}
		}
		b = make([]byte, 0, n)
	}
	b = append(b, `{"s":`...)
	if r.Series == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, s := range r.Series {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = appendSeries(b, s); !ok {
				return b, false
			}
		}
		b = append(b, ']')
	}
	if r.Partial != nil {
		p, err := jsonx.Marshal(r.Partial)
		if err != nil {
			return b, false
		}
		b = append(b, `,"p":`...)
		b = append(b, p...)
	}
	return append(b, '}'), true
}

func appendSeries(b []byte, s *model.MetricSeries) ([]byte, bool) {
	if s == nil {
		return append(b, "null"...), true
	}
	b = append(b, `{"type":`...)
	b = jsonx.AppendString(b, s.Type)
	b = append(b, `,"labels":`...)
	if s.Labels == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, l := range s.Labels {
			if i > 0 {
				b = append(b, ',')
			}
			if l == nil {
				b = append(b, "null"...)
				continue
			}
			b = append(b, `{"key":`...)
			b = jsonx.AppendString(b, l.Key)
			b = append(b, `,"value":`...)
			b = jsonx.AppendString(b, l.Value)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"points":`...)
	if s.Points == nil {
		return append(b, "null}"...), true
	}
	b = append(b, '[')
	for i, p := range s.Points {
		if i > 0 {
			b = append(b, ',')
		}
		if p == nil {
			b = append(b, "null"...)
			continue
		}
		var ok bool
		b = append(b, `{"timestamp":`...)
		if b, ok = jsonx.AppendTime(b, p.Timestamp); !ok {
			return b, false
		}
		b = append(b, `,"value":`...)
		if b, ok = jsonx.AppendFloat(b, p.Value); !ok {
			return b, false
		}
		b = append(b, '}')
	}
	return append(b, "]}"...), true
}
