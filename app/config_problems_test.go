package app

import (
	"errors"
	"strings"
	"testing"
)

// A file with several broken fields reports every one of them in one run,
// each with its path and line; none quotes a value.
func TestConfigReportsEveryProblem(t *testing.T) {
	raw := `runai:
  - name: runai prod
    baseURL: https://a.example
    clientID: ${RUNAI_ID}
    clientSecret: ${RUNAI_SECRET}
    timeOut: 5s
limits:
  maxDepth: deep-secret-value
  maxAliases: [1, 2]
  maxDepht: 3
requestTimeout: soon-secret
server:
  idleTimeout: 10
`
	_, err := ParseConfigEnv([]byte(raw), []string{"FLEETGRAPH_LIMITS_MAXDEPTH_TYPO=1"})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		"config: 10 problems:",
		"runai[0].clientID: environment variable RUNAI_ID is not set (line 4)",
		"runai[0].clientSecret: environment variable RUNAI_SECRET is not set (line 5)",
		"environment variable FLEETGRAPH_LIMITS_MAXDEPTH_TYPO names no configuration field",
		"runai[0].timeOut: unknown key (line 6)",
		"limits.maxDepht: unknown key (line 10)",
		"limits.maxDepth: wants an integer, got text (line 8)",
		"limits.maxAliases: wants an integer, got a list (line 9)",
		`runai[0].name "runai prod": a backend name is 1-63 of a-z, 0-9 and '-'`,
		"requestTimeout: wants a duration (write e.g. 10s or 500ms), got text (line 11)",
		"server.idleTimeout: wants a duration (write e.g. 10s or 500ms), got a number without a unit (line 13)",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	for _, never := range []string{"deep-secret-value", "soon-secret", "cannot unmarshal", "!!str"} {
		if strings.Contains(msg, never) {
			t.Errorf("error shows %q:\n%s", never, msg)
		}
	}
	var many *configErrors
	if !errors.As(err, &many) || len(many.errs) != 10 {
		t.Errorf("want 10 errors one can unwrap, got %v", err)
	}
}

// A mis-indented line is reported at its own line, not at the line where
// its block starts (yaml.v3 said line 1 and line 2 for these).
func TestConfigMisindentedLine(t *testing.T) {
	for _, tt := range []struct{ raw, want string }{
		{"runai:\n  - name: a\n    baseURL: https://a\n   passThrough: true\n", `line 4: key "passThrough" is indented by 3 spaces, want 4`},
		{"limits:\n  maxDepth: 3\n maxAliases: 2\n", `line 3: key "maxAliases" is indented by 1 spaces, want 2`},
		{"listen: 127.0.0.1:8080\n  limits: 3\n", `line 2: key "limits" is indented by 2 spaces, want at most 0`},
	} {
		_, err := ParseConfigEnv([]byte(tt.raw), nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %q", tt.raw, err, tt.want)
		}
	}
}

func TestBackendNamePattern(t *testing.T) {
	for name, ok := range map[string]bool{
		"runai-prod": true, "a": true, "modelarts-cn-north-4": true, "r2": true,
		"runai prod": false, "Runai": false, "-a": false, "a-": false, "runai_prod": false, "4runai": false,
		strings.Repeat("a", 63): true, strings.Repeat("a", 64): false,
	} {
		if BackendNamePattern.MatchString(name) != ok {
			t.Errorf("%q: valid %v, want %v", name, !ok, ok)
		}
	}
}

// Validation checks every section and every backend in one run: a file
// with two broken backends and a broken limit reports all three.
func TestValidateReportsEachBackendAndSection(t *testing.T) {
	raw := `runai:
  - name: a
    baseURL: ftp://a.example
    passThrough: true
modelarts:
  - name: m
    endpoint: https://m.example
    passThrough: true
  - name: m
    endpoint: https://m2.example
    projectID: p
    passThrough: true
limits:
  maxDepth: -3
`
	_, err := ParseConfigEnv([]byte(raw), nil)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"runai[0].baseURL: is not an absolute http(s) URL",
		"modelarts[0].projectID is required",
		`modelarts[1].name "m" is already used by modelarts[0]`,
		"limits.maxDepth must not be negative",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
