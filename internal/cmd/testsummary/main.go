// Command testsummary runs `go test -json` with the given arguments, prints
// what plain `go test` prints (each package's ok/FAIL line, the output of
// failed tests, build errors), then a short list of the tests that were
// skipped and why, and exits with go test's status. `make test` uses it:
// a skipped real-Redis or browser test is visible instead of silent.
//
//	go run ./internal/cmd/testsummary [-go go] -- -race -count=1 ./...
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run runs go test -json with args (after the flags) and returns the exit
// status: go test's, or 2 when it could not run.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("testsummary", flag.ContinueOnError)
	fs.SetOutput(stderr)
	goBin := fs.String("go", "go", "the go command")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cmd := exec.Command(*goBin, append([]string{"test", "-json"}, fs.Args()...)...)
	cmd.Stdin, cmd.Stderr = os.Stdin, stderr
	out, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		fmt.Fprintln(stderr, "testsummary:", err)
		return 2
	}
	skips := relay(out, stdout)
	err = cmd.Wait()
	printSkips(stdout, skips)
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode()
	case err != nil:
		fmt.Fprintln(stderr, "testsummary:", err)
		return 2
	}
	return 0
}

// event is one line of `go test -json` (test2json).
type event struct {
	Action     string
	Package    string
	ImportPath string // build-output, build-fail
	Test       string
	Output     string
}

// skip is one skipped test and the last line it logged (t.Skip's reason).
type skip struct{ pkg, test, reason string }

// relay prints what plain go test would from the JSON events on r: package
// lines and build output as they come, a test's output only when it fails.
// It returns the skipped tests. A line that is not JSON (go test's own
// errors) is printed as it is.
func relay(r io.Reader, w io.Writer) []skip {
	var skips []skip
	buf := map[string][]string{} // package + test -> output lines so far
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Action == "" {
			fmt.Fprintln(w, sc.Text())
			continue
		}
		key := e.Package + "\x00" + e.Test
		switch {
		case e.Action == "build-output":
			fmt.Fprint(w, e.Output)
		case e.Action == "output" && e.Test == "":
			// Package lines: "ok", "FAIL", "?", panics; plain go test
			// prints no bare "PASS".
			if e.Output != "PASS\n" {
				fmt.Fprint(w, e.Output)
			}
		case e.Action == "output":
			buf[key] = append(buf[key], e.Output)
		case e.Action == "fail" && e.Test != "":
			fmt.Fprint(w, strings.Join(buf[key], ""))
			delete(buf, key)
		case e.Action == "skip" && e.Test != "":
			skips = append(skips, skip{pkg: e.Package, test: e.Test, reason: reason(buf[key])})
			delete(buf, key)
		case e.Action == "pass" && e.Test != "":
			delete(buf, key)
		}
	}
	return skips
}

// testLog is a line of t.Log or t.Skip: "    file_test.go:12: message".
var testLog = regexp.MustCompile(`^\s+[\w.-]+\.go:\d+: `)

// reason is the last line the test logged itself before "--- SKIP" (t.Skip's
// message), trimmed: a line of the test's own log (file.go:N: ...) before
// any other output attributed to it (a shared logger's lines).
func reason(lines []string) string {
	pick := ""
	for _, l := range lines {
		if testLog.MatchString(l) {
			pick = l
		}
	}
	if pick == "" {
		for i := len(lines) - 1; i >= 0 && pick == ""; i-- {
			if l := strings.TrimSpace(lines[i]); l != "" && !strings.HasPrefix(l, "=== ") && !strings.HasPrefix(l, "--- ") {
				pick = l
			}
		}
	}
	pick = strings.TrimSpace(pick)
	if pick == "" {
		return "(no reason given)"
	}
	if len(pick) > 200 {
		pick = pick[:200] + "…"
	}
	return pick
}

// printSkips lists the skipped tests, top-level tests first, by package.
func printSkips(w io.Writer, skips []skip) {
	if len(skips) == 0 {
		return
	}
	sort.SliceStable(skips, func(i, j int) bool {
		if skips[i].pkg != skips[j].pkg {
			return skips[i].pkg < skips[j].pkg
		}
		return skips[i].test < skips[j].test
	})
	fmt.Fprintf(w, "\n%d skipped:\n", len(skips))
	for _, s := range skips {
		fmt.Fprintf(w, "  %s %s: %s\n", s.pkg, s.test, s.reason)
	}
}
