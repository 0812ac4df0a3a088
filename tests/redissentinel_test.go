package tests

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fleetgraph/fleetgraph/app"
)

// redisSentinelSet is a master, its replica and three sentinels (quorum 2)
// that declare the master down after 500ms.
type redisSentinelSet struct {
	master, replica *redisProc
	sentinels       []*redisProc
}

const sentinelMaster = "fleetgraph"

func startRedisSentinel(t *testing.T) *redisSentinelSet {
	t.Helper()
	needRedisTools(t, "redis-server")
	s := &redisSentinelSet{master: startRedisProc(t, "")}
	s.replica = startRedisProc(t, "", "--replicaof", "127.0.0.1", fmt.Sprint(s.master.port))
	conf := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2\nsentinel down-after-milliseconds %s 500\nsentinel failover-timeout %s 2000\n",
		sentinelMaster, s.master.port, sentinelMaster, sentinelMaster)
	for range 3 {
		s.sentinels = append(s.sentinels, startRedisProc(t, conf, "--sentinel"))
	}
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.sentinels[0].addr()})
	defer sc.Close()
	waitUntil(t, 10*time.Second, "the sentinels know the replica and each other", func() bool {
		replicas, err1 := sc.Replicas(context.Background(), sentinelMaster).Result()
		peers, err2 := sc.Sentinels(context.Background(), sentinelMaster).Result()
		return err1 == nil && err2 == nil && len(replicas) == 1 && len(peers) == 2
	})
	return s
}

func (s *redisSentinelSet) addrs() []string {
	var out []string
	for _, p := range s.sentinels {
		out = append(out, p.addr())
	}
	return out
}

// Two gateway replicas over a real Sentinel set: warm on one is warm on the
// other, a write is fenced on both, and when the master is killed the
// queries go on (from the vendor) until the sentinels promote the replica,
// and the cache is back within seconds of that.
func TestRedisSentinelReplicas(t *testing.T) {
	t.Parallel()
	s := startRedisSentinel(t)
	cfg := func(c *app.Config) {
		withRedis(s.sentinels[0].addr(), nil)(c)
		c.Redis.Mode, c.Redis.MasterName, c.Redis.Addrs = app.RedisSentinel, sentinelMaster, s.addrs()
		c.Cache.Local.Disabled = true // what Redis answers (see clusterMode)
	}
	o := frozenGPUOnly()
	o.PhaseDelay = settleAtOnce
	a := newEnv(t, envOptions{runai: o, configure: cfg})
	b := replica(t, a, cfg)
	if st := readyRedisOf(t, a); !st.Reachable || st.Mode != "sentinel" {
		t.Fatalf("/readyz redis: %+v", st)
	}

	var want map[string]any
	cold := a.query(t, dashboard, nil)
	cold.mustData(t, &want)
	a.resetCounters()
	b.query(t, dashboard, nil).mustData(t, &want)
	if n := a.upstreamCalls(); n != 0 {
		t.Fatalf("replica B made %d upstream calls after A warmed the cache, want 0", n)
	}

	victim := deletablePool(t, a)
	a.query(t, `mutation($id: ID!) { patchNodePool(id: $id, input: {labelValue: "x"}) { phase } }`, map[string]any{"id": victim}).mustData(t, &struct{}{})
	raceReadAgainstDelete(t, b, a, victim)
	assertFenced(t, victim, a, b)

	s.master.kill()
	killedAt := time.Now()
	for i := range 3 {
		// Errors only: the pool metrics cached before the delete are not
		// what the vendor answers after it (metrics are not invalidated by
		// writes), and with the master down they come from the vendor.
		if r := a.query(t, dashboard, nil); len(r.Errors) > 0 {
			t.Fatalf("query %d with the master down: %+v", i, r.Errors)
		}
	}
	waitForWarmCache(t, a, 20*time.Second)
	t.Logf("cache back %v after the master was killed (sentinels: down after 500ms, then a failover)", time.Since(killedAt).Round(time.Millisecond))
	// Replica B was idle through the failover: its first Redis call may
	// still go to a connection of the dead master and miss (slower, not
	// wrong; seen once in CI: 35 calls). Its cache is back within the same
	// bound as A's.
	b.query(t, dashboard, nil).mustData(t, &want)
	waitForWarmCache(t, b, 10*time.Second)
	t.Logf("replica B warm %v after the master was killed", time.Since(killedAt).Round(time.Millisecond))
	if st := readyRedisOf(t, b); !st.Reachable {
		t.Fatalf("/readyz after the failover: %+v", st)
	}
}

// A mode that is not the server's is reported by /readyz and refused by
// --check-config, whichever way round.
func TestRedisWrongModeIsReported(t *testing.T) {
	t.Parallel()
	s := startRedisSentinel(t)
	e := newEnv(t, envOptions{})
	for name, tc := range map[string]struct {
		configure func(*app.Config)
		want      string
	}{
		"standalone server as cluster": {withRedis(s.master.addr(), func(c *app.Config) { c.Redis.Mode = app.RedisCluster }), "set redis.mode: standalone"},
		"sentinel as standalone":       {withRedis(s.sentinels[0].addr(), nil), "the server runs in sentinel mode but redis.mode is standalone: set redis.mode: sentinel"},
	} {
		t.Run(name, func(t *testing.T) {
			if st := readyRedisOf(t, replica(t, e, tc.configure)); st.Reachable || !strings.Contains(st.Error, tc.want) {
				t.Fatalf("/readyz redis: %+v, want an error saying %q", st, tc.want)
			}
			cfg := simConfig(e.raURL, e.maURL)
			tc.configure(cfg)
			if _, err := app.CheckRedis(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("--check-config: %v, want %q", err, tc.want)
			}
		})
	}
}
