package fasttransport_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fleetgraph/fleetgraph/backends/fasttransport"
)

var answer = strings.Repeat(`{"type":"CPU_UTILIZATION","values":[{"value":"12.5","timestamp":"2026-12-02T10:00:00Z"}]}`, 20)

func benchServer(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, answer)
	}))
	b.Cleanup(srv.Close)
	return srv
}

func BenchmarkRoundTrip(b *testing.B) {
	srv := benchServer(b)
	url := srv.URL + "/api/v1/nodes/node-1/metrics?metricType=CPU_UTILIZATION&start=2026-12-02T10%3A00%3A00Z&end=2026-12-02T11%3A00%3A00Z&numberOfSamples=20"
	for _, name := range []string{"net/http", "fasttransport", "fasthttp-raw"} {
		b.Run(strings.ReplaceAll(name, "/", "-"), func(b *testing.B) {
			var c *http.Client
			switch name {
			case "net/http":
				c = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
			case "fasttransport":
				c = &http.Client{Transport: fasttransport.New(fasttransport.Options{})}
			}
			raw := &fasthttp.Client{}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if c == nil {
						req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
						req.SetRequestURI(url)
						req.Header.Set("Authorization", "Bearer tok")
						if err := raw.DoDeadline(req, resp, time.Now().Add(10*time.Second)); err != nil {
							b.Fatal(err)
						}
						_ = append([]byte(nil), resp.Body()...)
						fasthttp.ReleaseRequest(req)
						fasthttp.ReleaseResponse(resp)
						continue
					}
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
					req.Header.Set("Authorization", "Bearer tok")
					req.Header.Set("Accept", "application/json")
					resp, err := c.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.ReadAll(resp.Body)
					_ = resp.Body.Close()
					cancel()
				}
			})
		})
	}
}
