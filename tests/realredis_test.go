package tests

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisServer is a real redis-server started by the test on its own port.
type redisServer struct {
	t    *testing.T
	port int
	cmd  *exec.Cmd
}

// startRedisServer starts redis-server on a free loopback port. CI installs
// redis-server (.ci/run); there the test fails rather than skip when it is
// missing, so the integration is always proven where it counts.
func startRedisServer(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server is not installed (.ci/run should have installed it)")
		}
		t.Skip("redis-server not installed: apt-get install -y redis-server")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &redisServer{t: t, port: port}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *redisServer) start() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "yes")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.addr()})
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s did not come up", s.addr())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *redisServer) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

func TestRealRedis(t *testing.T) {
	t.Parallel()
	rs := startRedisServer(t)
	e := newEnv(t, envOptions{runai: frozenGPUOnly(), configure: withRedis(rs.addr(), nil)})
	var want map[string]any
	cold := e.query(t, dashboard, nil)
	cold.mustData(t, &want)

	e.resetCounters()
	e.query(t, dashboard, nil).mustData(t, &want)
	if n := e.upstreamCalls(); n != 0 {
		t.Fatalf("warm query over real Redis made %d upstream calls", n)
	}

	// A second gateway process sharing the same Redis is warm at once.
	e2 := &env{ra: e.ra, ma: e.ma, gw: newServerFor(t, e, rs.addr())}
	e.resetCounters()
	r := e2.query(t, dashboard, nil)
	r.mustData(t, &want)
	if n := e.upstreamCalls(); n != 0 {
		t.Fatalf("a second gateway on the same Redis made %d upstream calls", n)
	}

	// Redis stopped mid-run: every query is still answered, from upstream.
	rs.stop()
	e.resetCounters()
	r = e.query(t, dashboard, nil)
	if len(r.Errors) != 0 || string(r.Data) != string(cold.Data) {
		t.Fatalf("with Redis stopped: errors %+v", r.Errors)
	}
	if e.upstreamCalls() == 0 {
		t.Fatal("with Redis stopped the data must come from upstream")
	}

	// Restarted on the same port: the cache resumes by itself.
	rs.start()
	waitForWarmCache(t, e, 5*time.Second)
}
