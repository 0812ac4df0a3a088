package resolvers

import (
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/resilience"
	"github.com/fleetgraph/fleetgraph/fleet"
)

// Client-visible messages of backend failures carry no upstream URL,
// address, path or query string.
func TestClientMessagesHideUpstreamDetail(t *testing.T) {
	t.Parallel()
	refused := &url.Error{Op: "Get", URL: "http://10.1.2.3:8443/base/api/v1/nodes?secret=1", Err: &net.OpError{
		Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 8443},
		Err: os.NewSyscallError("connect", syscall.ECONNREFUSED),
	}}
	transport := func(err error, timeout bool) error {
		return &fleet.BackendError{Provider: backends.RunAI, Backend: "ra", Err: &backends.TransportError{
			Backend: "ra", Provider: backends.RunAI, Route: "/api/v1/clusters/{clusterUuid}/nodes", Timeout: timeout, Err: err}}
	}
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"connection refused", transport(refused, false), "Run:ai backend ra could not be reached: connection refused"},
		{"timeout", transport(context.DeadlineExceeded, true), "Run:ai backend ra did not answer in time"},
		{"breaker open", transport(resilience.ErrBreakerOpen, false), "Run:ai backend ra is unavailable: its circuit breaker is open after repeated failures"},
		{"DNS", transport(&net.DNSError{Name: "runai.internal.example", Err: "no such host"}, false), "Run:ai backend ra could not be reached: name not resolved"},
		{"vendor message with a URL", &backends.APIError{Provider: backends.ModelArts, Backend: "ma", Status: 502, Code: "APIGW.0101",
			Method: "GET", Route: "/v2/{project_id}/pools", Message: "upstream http://10.0.0.7:9000/internal?x=1 failed at 10.0.0.7:9000 (see /var/log/x)"},
			"ModelArts backend ma answered 502 APIGW.0101: upstream [redacted] failed at [redacted] (see [path])"},
		{"Run:ai code repeating the status", &backends.APIError{Provider: backends.RunAI, Backend: "ra", Status: 404, Code: "404",
			Method: "GET", Route: "/api/v1/node-pools/{nodepoolId}", Message: "node pool not found"},
			"Run:ai backend ra answered 404: node pool not found"},
		{"wrapped", &fleet.BackendError{Provider: backends.ModelArts, Backend: "ma", Err: errors.New(`Get "https://ma.example:443/v2/p/pools?limit=5": EOF`)},
			`Get "[redacted]": EOF`},
	} {
		got := ErrorPresenter(context.Background(), tt.err)
		if got.Message != tt.want {
			t.Errorf("%s: message %q, want %q", tt.name, got.Message, tt.want)
		}
		for _, leak := range []string{"10.1.2.3", "8443", "10.0.0.7", "/v2/", "/api/", "?", "https://", "ma.example"} {
			if strings.Contains(got.Message, leak) {
				t.Errorf("%s: message %q gives away %q", tt.name, got.Message, leak)
			}
		}
	}
}
