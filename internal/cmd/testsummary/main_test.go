package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A go test -json stream of one package: a passing test that logged, a
// failing test, a skipped test and a skipped subtest.
const stream = `{"Action":"start","Package":"p"}
{"Action":"run","Package":"p","Test":"TestPass"}
{"Action":"output","Package":"p","Test":"TestPass","Output":"=== RUN   TestPass\n"}
{"Action":"output","Package":"p","Test":"TestPass","Output":"    p_test.go:5: chatter\n"}
{"Action":"output","Package":"p","Test":"TestPass","Output":"--- PASS: TestPass (0.00s)\n"}
{"Action":"pass","Package":"p","Test":"TestPass"}
{"Action":"output","Package":"p","Test":"TestFail","Output":"=== RUN   TestFail\n"}
{"Action":"output","Package":"p","Test":"TestFail","Output":"    p_test.go:9: got 1, want 2\n"}
{"Action":"output","Package":"p","Test":"TestFail","Output":"--- FAIL: TestFail (0.00s)\n"}
{"Action":"fail","Package":"p","Test":"TestFail"}
{"Action":"output","Package":"p","Test":"TestBrowser","Output":"=== RUN   TestBrowser\n"}
{"Action":"output","Package":"p","Test":"TestBrowser","Output":"    b_test.go:44: chromium not found: apt-get install chromium\n"}
{"Action":"output","Package":"p","Test":"TestBrowser","Output":"2026/12/02 01:46:16 INFO request from a parallel test's logger\n"}
{"Action":"output","Package":"p","Test":"TestBrowser","Output":"--- SKIP: TestBrowser (0.00s)\n"}
{"Action":"skip","Package":"p","Test":"TestBrowser"}
{"Action":"output","Package":"p","Test":"TestT/redis","Output":"    r_test.go:3: redis-server not found\n"}
{"Action":"output","Package":"p","Test":"TestT/redis","Output":"    --- SKIP: TestT/redis (0.00s)\n"}
{"Action":"skip","Package":"p","Test":"TestT/redis"}
{"Action":"output","Package":"p","Output":"PASS\n"}
{"Action":"output","Package":"p","Output":"FAIL\tp\t0.01s\n"}
{"Action":"fail","Package":"p"}
`

func TestRelay(t *testing.T) {
	var out bytes.Buffer
	skips := relay(strings.NewReader(stream), &out)
	got := out.String()
	if want := "=== RUN   TestFail\n    p_test.go:9: got 1, want 2\n--- FAIL: TestFail (0.00s)\nFAIL\tp\t0.01s\n"; got != want {
		t.Errorf("printed\n%s\nwant only the failed test and the package line\n%s", got, want)
	}
	printSkips(&out, skips)
	for _, want := range []string{"2 skipped:", "p TestBrowser: b_test.go:44: chromium not found: apt-get install chromium", "p TestT/redis: r_test.go:3: redis-server not found"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}

// run keeps go test's exit status and passes its arguments after -json.
func TestRunKeepsTheExitStatus(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "go")
	script := "#!/bin/sh\necho \"$@\" > " + filepath.Join(dir, "args") + "\ncat <<'EOF'\n" + stream + "EOF\nexit 3\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"-go", fake, "--", "-race", "./..."}, &out, &errOut); code != 3 {
		t.Errorf("exit %d, want go test's 3 (stderr %q)", code, errOut.String())
	}
	args, _ := os.ReadFile(filepath.Join(dir, "args"))
	if got := strings.TrimSpace(string(args)); got != "test -json -race ./..." {
		t.Errorf("go called with %q", got)
	}
	if !strings.Contains(out.String(), "2 skipped:") {
		t.Errorf("no skip summary:\n%s", out.String())
	}
}
