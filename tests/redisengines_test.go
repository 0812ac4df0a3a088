package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The real engines behind the Cluster and Sentinel suites: Debian's
// redis-server in cluster or sentinel mode, on free loopback ports, each
// process stopped by its PID in t.Cleanup.

// redisProc is one redis-server process (a node, a replica or a sentinel).
type redisProc struct {
	port int
	cmd  *exec.Cmd
}

func (p *redisProc) addr() string { return "127.0.0.1:" + strconv.Itoa(p.port) }

// kill stops the process (SIGKILL: a crash, not a shutdown) and waits.
func (p *redisProc) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		p.cmd = nil
	}
}

func needRedisTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed (.ci/run installs redis-server, which brings redis-cli)", tool)
			}
			t.Skipf("%s not installed: apt-get install -y redis-server", tool)
		}
	}
}

// startRedisProc starts redis-server with args on a free port (--port is
// added, or written into conf when conf is not empty: a sentinel reads its
// port from its file) and waits until it answers PING.
func startRedisProc(t *testing.T, conf string, args ...string) *redisProc {
	t.Helper()
	p := &redisProc{port: freePort(t)}
	var argv []string
	if conf != "" {
		path := filepath.Join(t.TempDir(), "redis.conf")
		if err := os.WriteFile(path, []byte(fmt.Sprintf("port %d\nbind 127.0.0.1\n%s", p.port, conf)), 0o600); err != nil {
			t.Fatal(err)
		}
		argv = append([]string{path}, args...)
	} else {
		argv = append([]string{"--port", strconv.Itoa(p.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}, args...)
	}
	p.cmd = exec.Command("redis-server", argv...)
	p.cmd.Dir = t.TempDir()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.kill)
	c := redis.NewClient(&redis.Options{Addr: p.addr()})
	defer c.Close()
	waitUntil(t, 5*time.Second, "redis-server on "+p.addr()+" answers", func() bool { return c.Ping(context.Background()).Err() == nil })
	return p
}

// waitUntil polls cond every 20ms until it holds, failing after within.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// redisCluster is a Redis Cluster of masters, each with one replica.
type redisCluster struct {
	masters, replicas []*redisProc
}

// startRedisCluster starts 2*masters nodes and joins them with
// redis-cli --cluster create (one replica per master). A node is declared
// failed after 1s (cluster-node-timeout), so a replica takes over within a
// few seconds of its master's death.
func startRedisCluster(t *testing.T, masters int) *redisCluster {
	t.Helper()
	needRedisTools(t, "redis-server", "redis-cli")
	rc := &redisCluster{}
	var addrs []string
	for i := range 2 * masters {
		p := startRedisProc(t, "", "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "1000", "--cluster-replica-validity-factor", "0")
		if i < masters {
			rc.masters = append(rc.masters, p)
		} else {
			rc.replicas = append(rc.replicas, p)
		}
		addrs = append(addrs, p.addr())
	}
	out, err := exec.Command("redis-cli", append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "1", "--cluster-yes")...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs[:1]})
	defer c.Close()
	waitUntil(t, 10*time.Second, "the cluster is ok on every node with every replica attached", func() bool {
		for _, a := range addrs {
			n := redis.NewClient(&redis.Options{Addr: a})
			info, err := n.ClusterInfo(context.Background()).Result()
			n.Close()
			if err != nil || !strings.Contains(info, "cluster_state:ok") {
				return false
			}
		}
		var replicas atomic.Int32 // ForEachSlave calls on every replica at once
		err := c.ForEachSlave(context.Background(), func(context.Context, *redis.Client) error { replicas.Add(1); return nil })
		return err == nil && int(replicas.Load()) == masters
	})
	return rc
}

// masterOf is the address of the master holding key.
func (rc *redisCluster) masterOf(t *testing.T, key string) string {
	t.Helper()
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{rc.masters[0].addr()}})
	defer c.Close()
	m, err := c.MasterForKey(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return m.Options().Addr
}

// readyRedis is /readyz's redis object.
type readyRedis struct {
	Mode      string
	Reachable bool
	Error     string
	Nodes     []struct {
		Addr      string
		Reachable bool
		Error     string
	}
}

func readyRedisOf(t *testing.T, e *env) readyRedis {
	t.Helper()
	resp, err := http.Get(e.gw.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Redis readyRedis }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Redis
}

// cacheHits is the gateway's counted cache hits (Redis and local layer).
func cacheHits(t *testing.T, e *env) float64 {
	t.Helper()
	return metricValue(t, e, `fleetgraph_cache_operations_total{op="get",result="hit"}`)
}
