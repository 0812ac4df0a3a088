package tests

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fleetgraph/fleetgraph/app"
)

// TestStaticBinary builds the gateway the way the Dockerfile does
// (CGO_ENABLED=0), checks that it is statically linked, and drives the
// binary: --check-config on the shipped example and on broken files, then
// demo mode end to end with a SIGTERM, and with a SIGINT (Ctrl-C on make
// run), that must drain and exit 0.
func TestStaticBinary(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the whole gateway: skipped with -short")
	}
	if runtime.GOOS != "linux" {
		t.Skip("ELF and SIGTERM checks are Linux-only")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "fleetgraph")
	build := exec.CommandContext(t.Context(), goBin, "build", "-trimpath", "-o", bin, ".")
	build.Dir = ".."
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Fatalf("not static: program header %v", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Fatalf("links %v", libs)
	}
	f.Close()

	t.Run("check-config", func(t *testing.T) { checkConfigCLI(t, bin) })
	t.Run("demo mode and SIGTERM", func(t *testing.T) { demoAndSignal(t, bin, syscall.SIGTERM) })
	t.Run("demo mode and SIGINT", func(t *testing.T) { demoAndSignal(t, bin, syscall.SIGINT) })
}

func run(t *testing.T, bin string, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Env = append(cleanEnv(), env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// cleanEnv is the environment without FLEETGRAPH_* overrides.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, app.EnvPrefix) {
			out = append(out, kv)
		}
	}
	return out
}

func checkConfigCLI(t *testing.T, bin string) {
	example, _ := filepath.Abs("../fleetgraph.example.yaml")
	secrets := []string{"RUNAI_CLIENT_SECRET=x", "HW_ACCESS_KEY=x", "HW_SECRET_KEY=x"}
	if code, out := run(t, bin, secrets, "--config", example, "--check-config"); code != 0 || !strings.Contains(out, "OK (2 Run:ai, 1 ModelArts backends; auth apiKey)") {
		t.Fatalf("example: exit %d: %s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	for _, tt := range []struct {
		name, file string
		env        []string
		want       string
	}{
		{"unset secret", example, nil, "runai[0].clientSecret: environment variable RUNAI_CLIENT_SECRET is not set"},
		{"override", example, append(secrets, "FLEETGRAPH_LIMITS_MAXDEPTH=-3"), "limits.maxDepth must not be negative"},
		{"unknown key", "runai:\n  - name: a\n    baseURL: https://a\n    passThrough: true\nlimits:\n  maxDepht: 3\n", nil, "limits.maxDepht: unknown key (line 6)"},
		{"missing file", "", nil, "read config"},
	} {
		path := tt.file
		if path != example {
			path = bad
			if tt.file != "" {
				if err := os.WriteFile(bad, []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			} else {
				path = bad + ".missing"
			}
		}
		code, out := run(t, bin, tt.env, "--config", path, "--check-config")
		if code != 1 || !strings.Contains(out, tt.want) {
			t.Fatalf("%s: exit %d, want 1 and %q: %s", tt.name, code, tt.want, out)
		}
	}
}

// demoAndSignal runs the demo, queries it, stops it with sig and expects
// exit 0 after a drain; its logs say "demo mode" (not the production
// warning about auth.mode none) and the address it really listens on.
func demoAndSignal(t *testing.T, bin string, sig syscall.Signal) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--addr", "127.0.0.1:0", "--runai-addr", "127.0.0.1:0", "--modelarts-addr", "127.0.0.1:0")
	cmd.Env = append(cleanEnv(), "FLEETGRAPH_SERVER_SHUTDOWNDELAY=200ms")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	var logs bytes.Buffer
	lines := bufio.NewScanner(io.TeeReader(stderr, &logs))
	var addr, configured string
	for addr == "" && lines.Scan() {
		var l map[string]any
		if err := json.Unmarshal(lines.Bytes(), &l); err != nil {
			t.Fatalf("log line is not JSON: %s", lines.Text())
		}
		switch l["msg"] {
		case "fleetgraph ready":
			addr, _ = l["addr"].(string)
		case "configuration":
			c, _ := l["config"].(map[string]any)
			configured, _ = c["listen"].(string)
		}
	}
	if addr == "" {
		t.Fatalf("never ready:\n%s", logs.String())
	}
	if configured != addr {
		t.Errorf("the configuration line says listen %q, the gateway listens on %q", configured, addr)
	}
	// The rest of the log, read to its end (the process closes stderr as it
	// exits) before Wait, which closes the pipe: read after it, the last
	// lines (the shutdown's) could be lost.
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, io.TeeReader(stderr, &logs)); close(copied) }()
	base := "http://" + addr
	resp, err := http.Post(base+"/graphql", "application/json", strings.NewReader(`{"query":"query Demo { clusters { name } }"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"clusters":[{`) {
		t.Fatalf("query: %d %s", resp.StatusCode, body)
	}
	if status, _ := readyz(t, base); status != 200 {
		t.Fatalf("readyz %d", status)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	<-copied
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after %v: %v\n%s", sig, err, logs.String())
	}
	out := logs.String()
	if strings.Contains(out, "auth.mode is none") || !strings.Contains(out, `"msg":"demo mode: no authentication`) {
		t.Errorf("demo mode logs the production auth warning, or not that it is a demo:\n%s", out)
	}
	for _, want := range []string{`"msg":"request"`, `"operation":"Demo"`, `"msg":"shutdown complete: in-flight requests drained"`} {
		if !strings.Contains(out, want) {
			t.Fatalf("log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "demo-secret-key") {
		t.Fatal("a secret was logged")
	}
}

// TestManifests parses every Kubernetes manifest under deploy/, checks the
// gateway's probes and grace period, that the Service reaches the
// Deployment, and validates the ConfigMap's configuration with the
// gateway's own loader.
func TestManifests(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("../deploy/*.yaml")
	if len(files) < 3 {
		t.Fatalf("manifests: %v", files)
	}
	type object = map[string]any
	byKind := map[string][]object{}
	for _, path := range files {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		for {
			var doc object
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if doc == nil {
				continue
			}
			kind, _ := doc["kind"].(string)
			if kind == "" || doc["apiVersion"] == nil {
				t.Fatalf("%s: a document without kind/apiVersion", path)
			}
			byKind[kind] = append(byKind[kind], doc)
		}
	}
	get := func(o any, path ...string) any {
		for _, p := range path {
			m, ok := o.(object)
			if !ok {
				return nil
			}
			o = m[p]
		}
		return o
	}
	name := func(o object) string { s, _ := get(o, "metadata", "name").(string); return s }
	find := func(kind, n string) object {
		for _, o := range byKind[kind] {
			if name(o) == n {
				return o
			}
		}
		t.Fatalf("no %s %s in deploy/", kind, n)
		return nil
	}

	gw := find("Deployment", "fleetgraph")
	c := get(gw, "spec", "template", "spec", "containers").([]any)[0]
	for probe, want := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz", "startupProbe": "/healthz"} {
		if got := get(c, probe, "httpGet", "path"); got != want {
			t.Errorf("%s path %v, want %s", probe, got, want)
		}
		if get(c, probe, "httpGet", "port") != "http" {
			t.Errorf("%s does not target the http port", probe)
		}
	}
	if get(c, "ports").([]any)[0].(object)["containerPort"] != 8080 {
		t.Error("container port is not 8080")
	}
	if get(c, "securityContext", "readOnlyRootFilesystem") != true || get(gw, "spec", "template", "spec", "securityContext", "runAsNonRoot") != true {
		t.Error("the gateway must run as non-root on a read-only root")
	}
	for _, svc := range []string{"fleetgraph", "fleetgraph-redis"} {
		s := find("Service", svc)
		sel := get(s, "spec", "selector").(object)
		dep := find("Deployment", svc)
		labels := get(dep, "spec", "template", "metadata", "labels").(object)
		for k, v := range sel {
			if labels[k] != v {
				t.Errorf("Service %s selects %s=%v, the pods have %v", svc, k, v, labels[k])
			}
		}
	}

	cm := find("ConfigMap", "fleetgraph-config")
	raw, _ := get(cm, "data", "fleetgraph.yaml").(string)
	cfg, err := app.ParseConfigEnv([]byte(strings.ReplaceAll(raw, "/var/run/secrets/fleetgraph", secretDir(t))), []string{"HW_ACCESS_KEY=AK"})
	if err != nil {
		t.Fatalf("the ConfigMap's configuration: %v", err)
	}
	if !strings.Contains(cfg.Redis.URL, "fleetgraph-redis:6379") {
		t.Errorf("redis url %q does not name the Redis Service", cfg.Redis.URL)
	}
	grace, _ := get(gw, "spec", "template", "spec", "terminationGracePeriodSeconds").(int)
	if need := time.Duration(cfg.Server.ShutdownDelay + cfg.Server.ShutdownTimeout); time.Duration(grace)*time.Second <= need {
		t.Errorf("terminationGracePeriodSeconds %d does not cover shutdownDelay + shutdownTimeout (%v)", grace, need)
	}
	if cfg.AuthMode() != app.AuthAPIKey || *cfg.GraphQL.Introspection || *cfg.GraphQL.GraphiQL {
		t.Error("the production example must require API keys and hide introspection and GraphiQL")
	}
}

// secretDir stands in for the mounted Secret.
func secretDir(t *testing.T) string {
	dir := t.TempDir()
	for _, f := range []string{"runai-client-secret", "hw-secret-key"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestDockerfile checks what can be checked without a container runtime: a
// multi-stage build of a static binary onto a base without libc.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	var froms []string
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "FROM ") {
			froms = append(froms, line)
		}
	}
	if len(froms) < 2 || !strings.Contains(froms[0], "golang:1.26") || !strings.Contains(froms[len(froms)-1], "distroless/static") {
		t.Fatalf("stages %v", froms)
	}
	for _, want := range []string{"CGO_ENABLED=0", "--check-config", "USER nonroot", "COPY --from=build"} {
		if !strings.Contains(s, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}
