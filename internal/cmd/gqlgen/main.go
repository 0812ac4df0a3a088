// Command gqlgen is `gqlgen generate` with fleetgraph's gqlfast plugin
// (internal/gqlfast): run it as `make generate` from the repository root,
// where gqlgen.yml is.
package main

import (
	"fmt"
	"os"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen/config"

	"github.com/fleetgraph/fleetgraph/internal/gqlfast/gen"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gqlgen:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := config.LoadConfigFromDefaultLocations()
	if err != nil {
		return fmt.Errorf("load gqlgen.yml: %w", err)
	}
	p := gen.New()
	if err := api.Generate(cfg, api.AddPlugin(p)); err != nil {
		return err
	}
	return p.Rewrite()
}
