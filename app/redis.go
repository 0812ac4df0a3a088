package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis modes (redis.mode).
const (
	RedisCluster    = "cluster"
	RedisSentinel   = "sentinel"
	RedisStandalone = "standalone"
)

// EffectiveMode is redis.mode, or when unset the mode inferred from the
// other keys: masterName is Sentinel, several addrs a Cluster, else
// standalone. "" when no Redis is configured.
func (r RedisConfig) EffectiveMode() string {
	switch {
	case r.URL == "" && len(r.Addrs) == 0:
		return ""
	case r.Mode != "":
		return r.Mode
	case r.MasterName != "":
		return RedisSentinel
	case len(r.Addrs) > 1:
		return RedisCluster
	}
	return RedisStandalone
}

// Failover: a Cluster's slot map is reloaded every clusterReload (go-redis
// reloads it on MOVED, or every minute by default, and a master whose
// breaker is open sends no MOVED: its keys stayed misses for up to a minute
// after its replica was promoted). One dial attempt of dialTimeout: the
// default five attempts 100ms apart outlast the operation timeout many
// times over, on every request, while a master is down.
const (
	clusterReload = 2 * time.Second
	dialTimeout   = 500 * time.Millisecond
)

// newRedisClient builds the client of c in its effective mode; timeout
// bounds each operation.
func newRedisClient(c RedisConfig, timeout time.Duration) (redis.UniversalClient, error) {
	addrs, user, password := c.Addrs, "", c.Password
	var urlOpts *redis.Options
	if c.URL != "" {
		u, err := redis.ParseURL(c.URL)
		if err != nil {
			return nil, fmt.Errorf("config: redis.url: %w", err)
		}
		urlOpts, addrs, user, password = u, []string{u.Addr}, u.Username, u.Password
	}
	switch c.EffectiveMode() {
	case RedisCluster:
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: addrs, Username: user, Password: password,
			// Abandoned operations stop at the deadline too (see cache.RedisOptions.Timeout).
			ContextTimeoutEnabled: true,
			DialTimeout:           dialTimeout, DialerRetries: 1,
			ReadTimeout: timeout, WriteTimeout: timeout,
			ClusterStateReloadInterval: clusterReload,
		}), nil
	case RedisSentinel:
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: c.MasterName, SentinelAddrs: addrs, Username: user, Password: password,
			ContextTimeoutEnabled: true,
			DialTimeout:           dialTimeout, DialerRetries: 1,
			ReadTimeout: timeout, WriteTimeout: timeout,
			MaxRetries: -1, // a cache miss is cheaper than a Redis retry storm
		}), nil
	}
	o := &redis.Options{Addr: addrs[0], Username: user, Password: password}
	if urlOpts != nil {
		o = urlOpts
	}
	o.ContextTimeoutEnabled = true
	o.DialTimeout, o.DialerRetries = dialTimeout, 1
	o.ReadTimeout, o.WriteTimeout = timeout, timeout
	o.MaxRetries = -1
	return redis.NewClient(o), nil
}

// RedisNode is one master's line in /readyz.
type RedisNode struct {
	Addr      string `json:"addr"`
	Reachable bool   `json:"reachable"`
	Error     string `json:"error,omitempty"`
}

// RedisState is what /readyz says about Redis.
type RedisState struct {
	Configured bool        `json:"configured"`
	Mode       string      `json:"mode,omitempty"`
	Reachable  bool        `json:"reachable"`
	Error      string      `json:"error,omitempty"`
	Nodes      []RedisNode `json:"nodes,omitempty"` // a Cluster's masters
}

// checkRedis pings what the cache depends on: every master of a Cluster,
// the master a Sentinel client names, or the one server; and asks the
// server which mode it runs in, so that a Cluster endpoint configured as
// standalone says so instead of "reachable" with a cache that never hits.
func checkRedis(ctx context.Context, client redis.UniversalClient, mode string) RedisState {
	st := RedisState{Configured: true, Mode: mode}
	if cc, ok := client.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			n := RedisNode{Addr: c.Options().Addr}
			err := c.Ping(ctx).Err()
			if err != nil {
				n.Error = err.Error()
			}
			n.Reachable = err == nil
			mu.Lock()
			st.Nodes = append(st.Nodes, n)
			mu.Unlock()
			return err
		})
		slices.SortFunc(st.Nodes, func(a, b RedisNode) int { return strings.Compare(a.Addr, b.Addr) })
		st.Reachable = err == nil && len(st.Nodes) > 0
		switch {
		case err != nil && strings.Contains(err.Error(), "cluster support disabled"):
			st.Error = "the server is not a Cluster but redis.mode is cluster: set redis.mode: standalone (or sentinel, with masterName)"
		case err != nil:
			st.Error = "not every master answers: " + err.Error()
		}
		return st
	}
	if err := client.Ping(ctx).Err(); err != nil {
		st.Error = err.Error()
		return st
	}
	st.Reachable = true
	info, err := client.Info(ctx, "server").Result()
	if err != nil {
		return st // a server without INFO server (miniredis) tells no mode
	}
	// A Sentinel client talks to its master, a standalone server.
	if served := infoField(info, "redis_mode"); served != "" && served != mode && (mode != RedisSentinel || served != RedisStandalone) {
		st.Reachable = false
		st.Error = fmt.Sprintf("the server runs in %s mode but redis.mode is %s: set redis.mode: %s", served, mode, served)
	}
	return st
}

func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

// CheckRedis connects to cfg's Redis as the gateway would and says what
// /readyz would (--check-config): a wrong mode is an error, an unreachable
// Redis only a note, since the gateway runs without its cache.
func CheckRedis(ctx context.Context, cfg *Config) (string, error) {
	mode := cfg.Redis.EffectiveMode()
	if mode == "" || cfg.Cache.Disabled {
		return "no shared cache", nil
	}
	client, err := newRedisClient(cfg.Redis, time.Second)
	if err != nil {
		return "", err
	}
	defer client.Close()
	st := checkRedis(ctx, client, mode)
	switch {
	case st.Reachable && len(st.Nodes) > 0:
		return fmt.Sprintf("redis %s, %d masters reachable", mode, len(st.Nodes)), nil
	case st.Reachable:
		return "redis " + mode + " reachable", nil
	case strings.Contains(st.Error, "redis.mode"):
		return "", errors.New("config: redis.mode: " + st.Error)
	}
	return fmt.Sprintf("redis %s not reachable now (%s): the gateway would run without its cache", mode, st.Error), nil
}

// redisLogger routes go-redis's own log lines (dial failures, pool
// trouble) through slog at warn, rate-limited like the cache's failures,
// instead of plain text on stderr in the middle of the JSON log.
type redisLogger struct {
	mu    sync.Mutex
	last  time.Time
	quiet int
}

func (l *redisLogger) Printf(ctx context.Context, format string, v ...any) {
	now := time.Now()
	l.mu.Lock()
	if now.Sub(l.last) < 10*time.Second {
		l.quiet++
		l.mu.Unlock()
		return
	}
	left := l.quiet
	l.last, l.quiet = now, 0
	l.mu.Unlock()
	slog.WarnContext(ctx, "redis client", "msg", fmt.Sprintf(format, v...), "leftOut", left)
}

var (
	goRedisLog     redisLogger
	setRedisLogger sync.Once
)
