package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// runMicro runs the micro-benchmarks of bench/ and keeps their output for
// the report (bench/results/micro.txt).
func runMicro(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fgbench micro", flag.ContinueOnError)
	var c common
	c.register(fs)
	benchtime := fs.String("benchtime", "1s", "go test -benchtime")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logf("micro-benchmarks (go test -bench . -benchmem ./bench/)")
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, c.goBin, "test", "-run", "^$", "-bench", ".", "-benchmem", "-benchtime", *benchtime, "./bench/")
	cmd.Dir = c.root
	cmd.Stdout = io.MultiWriter(os.Stdout, &out)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return err
	}
	if err := os.MkdirAll(c.results(), 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(c.results(), "micro.txt"), out.Bytes(), 0o644)
}
