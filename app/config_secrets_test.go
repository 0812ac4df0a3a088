package app

import (
	"io"
	"log/slog"
	"strings"
	"testing"
)

const secret = "s3cr3t-VALUE"

func baseYAML(runaiURL, maEndpoint, extra string) string {
	return `runai:
  - name: ra
    baseURL: "` + runaiURL + `"
    clientID: id
    clientSecret: cs
modelarts:
  - name: ma
    endpoint: "` + maEndpoint + `"
    projectID: 0a1b2c3d
    accessKey: ak
    secretKey: sk
` + extra
}

// TestCheckConfigRejectsWhatStartUpRejects: every configuration that
// --check-config (ParseConfigEnv: parse and Validate) accepts also builds;
// the ones below used to pass the check and fail at start-up (a baseURL
// with a query string, an IAM endpoint with user info, an IAM section
// without its project).
func TestCheckConfigRejectsWhatStartUpRejects(t *testing.T) {
	t.Parallel()
	iam := func(endpoint, project string) string {
		return strings.Replace(baseYAML("https://ra.example", "https://ma.example", ""), "    accessKey: ak\n    secretKey: sk\n",
			"    iam:\n      endpoint: \""+endpoint+"\"\n      username: u\n      password: p\n      domain: d\n"+project, 1)
	}
	for name, raw := range map[string]string{
		"runai baseURL with a query":        baseYAML("https://ra.example/?tenant=x", "https://ma.example", ""),
		"runai baseURL with a fragment":     baseYAML("https://ra.example/#x", "https://ma.example", ""),
		"runai baseURL with user info":      baseYAML("https://u:p@ra.example", "https://ma.example", ""),
		"modelarts endpoint with a query":   baseYAML("https://ra.example", "https://ma.example/?x=1", ""),
		"modelarts endpoint with user info": baseYAML("https://ra.example", "https://u:p@ma.example", ""),
		"iam endpoint not a URL":            iam("iam.example", "      project: pr\n"),
		"iam endpoint with user info":       iam("https://u:p@iam.example", "      project: pr\n"),
		"iam without project":               iam("https://iam.example", ""),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := ParseConfigEnv([]byte(raw), nil)
			if err == nil {
				_, buildErr := BuildWith(c, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
				t.Fatalf("--check-config accepts it; start-up says %v", buildErr)
			}
			if !strings.HasPrefix(err.Error(), "config: ") {
				t.Fatalf("error %q does not name the field", err)
			}
		})
	}
}

// TestConfigErrorsPrintNoSecret: an error about a value that carries a
// secret (URL user info or query, a Redis password, a secret substituted
// into the wrong field) names the field, never the value.
func TestConfigErrorsPrintNoSecret(t *testing.T) {
	t.Parallel()
	for name, raw := range map[string]string{
		"baseURL user info":       baseYAML("https://admin:"+secret+"@ra.example", "https://ma.example", ""),
		"baseURL query":           baseYAML("https://ra.example/?token="+secret, "https://ma.example", ""),
		"endpoint not parseable":  baseYAML("https://ra.example", "https://ma.example/%zz"+secret, ""),
		"endpoint without scheme": baseYAML("https://ra.example", "ma.example:"+secret, ""),
		"redis url bad escape":    baseYAML("https://ra.example", "https://ma.example", "redis:\n  url: \"redis://:"+secret+"%zz@h:6379\"\n"),
		"redis url bad database":  baseYAML("https://ra.example", "https://ma.example", "redis:\n  url: \"redis://:"+secret+"@h:6379/"+secret+"\"\n"),
		"tracing endpoint":        baseYAML("https://ra.example", "https://ma.example", "tracing:\n  endpoint: \"otel:"+secret+"@x\"\n"),
		"secret in an int field":  baseYAML("https://ra.example", "https://ma.example", "limits:\n  maxDepth: "+secret+"\n"),
		"secret in a bool field":  baseYAML("https://ra.example", "https://ma.example", "mutations:\n  disabled: "+secret+"\n"),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseConfigEnv([]byte(raw), nil)
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Fatalf("error prints the secret: %v", err)
			}
		})
	}
}

// The document limits refuse negative values like the other limits.
func TestDocumentLimitsMustNotBeNegative(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"maxSelections", "maxDirectives", "maxOperations", "maxFragments", "maxVariables", "maxFieldComparisons", "maxErrors"} {
		_, err := ParseConfigEnv([]byte(baseYAML("https://ra.example", "https://ma.example", "limits:\n  "+key+": -1\n")), nil)
		if err == nil || !strings.Contains(err.Error(), "limits."+key+" must not be negative") {
			t.Errorf("%s: -1: %v", key, err)
		}
	}
}
