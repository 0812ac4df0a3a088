package aom

import (
	"math"
	"testing"
)

// FuzzDecodeQueryRange: whatever AOM (or a proxy in front of it) answers,
// decoding neither panics nor keeps a sample that is not a finite number.
// go test runs the seeds; go test -fuzz explores.
func FuzzDecodeQueryRange(f *testing.F) {
	for _, seed := range []string{
		`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"b"},"values":[[1,"1"],[2,"NaN"],[3,"+Inf"]]}]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"2"]}]}}`,
		`{"status":"success","data":{"resultType":"matrix","result":[{"values":[[1e300,"1"],[-1,"1"],["x","1"],[1,1e400],[1,"1e400"],[]]}]}}`,
		`{"status":"error","errorType":"bad_data","error":"x"}`,
		`{"data":{"result":[{"metric":{"n":1,"o":[1],"z":null}}]}}`,
		`{"data":null}`, `null`, `[]`, `{"data":{"resultType":"scalar","result":[1,"1"]}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, dropped, err := decodeQueryRange(data)
		if err != nil {
			return
		}
		if dropped < 0 || res == nil || res.Series == nil {
			t.Fatalf("res %v, dropped %d", res, dropped)
		}
		for _, s := range res.Series {
			if s.Metric == nil {
				t.Fatal("nil label set")
			}
			for _, p := range s.Points {
				if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) || p.Time.IsZero() {
					t.Fatalf("point %+v kept", p)
				}
			}
		}
	})
}
